//! `--allow-path`, `--allow` and `--deny` in every mode and with `--frontier`: on the fixture's
//! `/library/` (three books, a blog, links out to the rest of the host), exactly the pages the
//! rules let in are requested, as the server's request log shows.

use std::collections::BTreeSet;

use crawl_fixture::library::{BOOKS, POSTS, chapter_paths};

use crate::support::*;

pub(crate) fn logged() -> FixtureServer {
    server_with(Options {
        log_requests: true,
        ..Options::default()
    })
}

/// The paths the server was asked for, robots.txt left out; each must be asked once.
pub(crate) fn requested_once(s: &FixtureServer) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (path, _) in s.requests() {
        if path != "/robots.txt" {
            assert!(seen.insert(path.clone()), "{path} requested twice");
        }
    }
    seen
}

/// One book: the seed, the book's index and its chapters; not its printable copies.
pub(crate) fn one_book(book: &str) -> BTreeSet<String> {
    let mut want: BTreeSet<String> = chapter_paths(book).into_iter().collect();
    want.insert("/library/".into());
    want.insert(format!("/library/{book}/"));
    want
}

pub(crate) const ONE_BOOK: [&str; 6] = [
    "-d",
    "inf",
    "--allow-path",
    "/library/rust-book/",
    "--deny",
    "/print/",
];

every_mode! {
    fn allow_path_and_deny_keep_exactly_one_book(mode) {
        let s = logged();
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/library/")])
            .args(ONE_BOOK)
            .run_with_summary();
        run.assert_ok();
        let want = one_book("rust-book");
        assert_eq!(want.len(), 2 + 12);
        assert_eq!(requested_once(&s), want);
        let recorded: BTreeSet<String> =
            run.urls().iter().map(|u| u.replace(&s.url(""), "")).collect();
        assert_eq!(recorded, want);
        let skipped = &summary["skipped"];
        assert_eq!(skipped["out_of_scope"], 0);
        assert!(skipped["excluded"].as_u64().unwrap_or(0) > 0, "{skipped}");
        assert!(run.stderr.contains("left out by --allow-path/--allow/--deny"), "{}", run.stderr);
    }

    fn allow_patterns_and_url_prefixes_combine_and_deny_wins(mode) {
        let s = logged();
        let blog = s.url("/library/blog/");
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/library/")])
            .args(["-d", "inf", "--allow", r"/ch[0-9]+\.html$", "--allow-path", &blog])
            .args(["--deny", "/print/"])
            .run();
        run.assert_ok();
        // Book indexes are left out, so chapters are reached only from the blog's posts
        // (each links to a first chapter), then chapter to chapter and book to book.
        let mut want: BTreeSet<String> = ["/library/", "/library/blog/"].map(String::from).into();
        want.extend((1..=POSTS).map(|i| format!("/library/blog/post-{i}.html")));
        for (book, _, _) in BOOKS {
            want.extend(chapter_paths(book));
        }
        assert_eq!(want.len(), 2 + POSTS as usize + 30);
        assert_eq!(requested_once(&s), want);
    }

    fn a_link_redirecting_out_of_the_rules_is_refused_but_a_seeds_redirect_is_followed(mode) {
        let s = logged();
        // A seed that redirects: fetched whatever the rules say, and so is where it goes.
        let seed = s.url("/redirect-to?url=/library/");
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(std::slice::from_ref(&seed))
            .args(["-d", "1", "--allow-path", "/library/"])
            .run();
        run.assert_ok();
        assert_eq!(run.get(&seed).final_url, Some(s.url("/library/")));
        // /library/catalogue is within the rules; it redirects to /shop/, which is not.
        let moved = run.get(&s.url("/library/catalogue"));
        assert_eq!(
            moved.error.as_deref(),
            Some(format!("redirect to {}, which --allow-path/--allow/--deny leave out", s.url("/shop/")).as_str())
        );
        assert_eq!(s.hits("/shop/"), 0);
        assert_eq!(s.hits("/library/rust-book/"), 1);
        assert_eq!(s.hits("/gen/"), 0);
    }
}

every_mode! {
    fn sitemaps_are_read_whatever_the_rules_and_their_pages_are_held_to_them(mode) {
        let s = logged();
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/contact.html")])
            .args(["--sitemaps", "--allow-path", "/only/"])
            .run_with_summary();
        run.assert_ok();
        // No rule is about a sitemap: the index and what it names are read.
        for file in ["index.xml", "pages.xml", "more.xml.gz", "broken.xml"] {
            assert_eq!(s.hits(&format!("/sitemaps/{file}")), 1, "{file}");
        }
        // The pages they list are held to the rules: /only/* in, /about.html out.
        for path in ["/only/sitemap?a=1&b=2", "/only/gzipped", "/only/before-the-break"] {
            assert_eq!(run.get(&s.url(path)).error, None, "{path}");
        }
        assert_eq!(s.hits("/about.html"), 0);
        assert_eq!(summary["skipped"]["excluded"], 1, "/about.html, listed but left out");
        assert_eq!(summary["skipped"]["out_of_scope"], 1, "the off-site URL");
    }
}
