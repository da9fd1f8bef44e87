//! `--cache DIR` in every mode: a second crawl of the fixture site asks about every page it
//! knows conditionally, writes unchanged pages' earlier records again, and marks exactly the
//! pages the server changed, added and removed (the fixture's revisions say which). Fresh
//! pages are not asked about at all; a killed recrawl resumes with `--state`; a cache that is
//! not this crawl's is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crawl_fixture::{Revised, Revision};

use crate::support::*;

const PAGES: usize = 150;

fn temp(name: &str, mode: &str) -> PathBuf {
    fresh_temp("recrawl", name, mode)
}

fn site() -> FixtureServer {
    server_with(Options {
        pages: PAGES,
        ..Options::default()
    })
}

fn crawl(mode: &str, s: &FixtureServer, cache: &Path) -> CrawlCmd {
    CrawlCmd::new()
        .mode(mode)
        .seeds(&[s.url("/gen/0")])
        .args(["-d", "inf", "--ignore-robots", "--cache"])
        .arg(cache)
}

/// What a record says about its page, leaving out what differs from one crawl to the next
/// (timings, the worker, attempts) and the change marks.
fn page_of(r: &Record) -> serde_json::Value {
    serde_json::json!({
        "url": r.url, "final_url": r.final_url, "status": r.status, "depth": r.depth,
        "content_type": r.content_type, "bytes": r.bytes, "title": r.title,
        "links": r.links, "error": r.error, "fields": r.fields,
    })
}

/// The path of a record's URL on server `s`.
fn path(s: &FixtureServer, r: &Record) -> String {
    r.url.replace(&s.url(""), "/").replacen("//", "/", 1)
}

/// Paths of the records carrying a mark.
fn marked(
    s: &FixtureServer,
    records: &[Record],
    mark: fn(&Record) -> Option<bool>,
) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| mark(r) == Some(true))
        .map(|r| path(s, r))
        .collect()
}

fn set(paths: &[String]) -> BTreeSet<String> {
    paths.iter().cloned().collect()
}

every_mode! {
    fn an_unchanged_site_is_asked_conditionally_and_answers_304_throughout(mode) {
        let s = site();
        let cache = temp("cache", mode);
        let (first, summary) = crawl(mode, &s, &cache).run_with_summary();
        first.assert_ok();
        assert_eq!(first.records.len(), PAGES);
        // The first crawl of a cache marks nothing: every page is new to it.
        assert!(first.records.iter().all(|r| r.new.is_none() && r.unchanged.is_none()));
        assert_eq!(summary["recrawl"]["new"], PAGES);
        assert_eq!(s.conditional_requests(), 0);
        s.reset();

        let (second, summary) = crawl(mode, &s, &cache).run_with_summary();
        second.assert_ok();
        // Every page was asked about conditionally, and every answer was a 304.
        assert_eq!(s.conditional_requests(), PAGES as u64);
        assert_eq!(s.not_modified(), PAGES as u64);
        let before: BTreeMap<String, serde_json::Value> =
            first.by_url().iter().map(|(u, r)| (u.clone(), page_of(r))).collect();
        let after: BTreeMap<String, serde_json::Value> =
            second.by_url().iter().map(|(u, r)| (u.clone(), page_of(r))).collect();
        assert_eq!(after, before, "the recrawl's records differ from the first crawl's");
        assert!(second.records.iter().all(|r| r.unchanged == Some(true)
            && r.changed.is_none() && r.new.is_none() && r.gone.is_none()));
        let r = &summary["recrawl"];
        assert_eq!((r["not_modified"].as_u64(), r["unchanged"].as_u64()),
                   (Some(PAGES as u64), Some(PAGES as u64)), "{r}");
        let saved: u64 = first.records.iter().map(|r| r.bytes).sum();
        assert_eq!(r["bytes_saved"], saved);
        assert!(second.stderr.contains(&format!("0 new, 0 changed, {PAGES} unchanged")),
                "{}", second.stderr);
    }

    fn exactly_what_the_server_changed_added_and_removed_is_marked(mode) {
        let s = site();
        let cache = temp("cache", mode);
        crawl(mode, &s, &cache).run().assert_ok();
        let revised: Revised = s.revise(&Revision {
            changed: 0.05,
            touched: 3,
            added: 20,
            removed: 10,
            seed: 7,
        });
        let changed_n = revised.changed.len();
        assert!(changed_n >= 7, "{revised:?}");
        assert_eq!((revised.touched.len(), revised.added.len(), revised.removed.len()),
                   (3, 20, 10), "{revised:?}");
        let (run, summary) = crawl(mode, &s, &cache).run_with_summary();
        run.assert_ok();
        assert_eq!(run.records.len(), PAGES + 20);
        let recs = &run.records;
        assert_eq!(marked(&s, recs, |r| r.changed), set(&revised.changed));
        assert_eq!(marked(&s, recs, |r| r.new), set(&revised.added));
        assert_eq!(marked(&s, recs, |r| r.gone), set(&revised.removed));
        // Touched pages came back whole (new validators) with the same body.
        let unchanged = marked(&s, recs, |r| r.unchanged);
        assert_eq!(unchanged.len(), PAGES - changed_n - 10);
        assert!(set(&revised.touched).is_subset(&unchanged));
        for r in recs.iter().filter(|r| r.gone == Some(true)) {
            assert_eq!((r.status, r.error.as_deref()), (Some(404), Some("http 404")));
        }
        // A changed page's record is the page as it is now.
        let changed = run.get(&s.url(&revised.changed[0]));
        assert!(changed.title.as_deref().is_some_and(|t| t.contains("revision")), "{changed:?}");
        let r = &summary["recrawl"];
        assert_eq!((r["new"].as_u64(), r["changed"].as_u64(), r["gone"].as_u64(),
                    r["same_digest"].as_u64(), r["not_modified"].as_u64()),
                   (Some(20), Some(changed_n as u64), Some(10), Some(3),
                    Some((PAGES - changed_n - 13) as u64)), "{r}");

        // Nothing changed since: --changed-only writes nothing at all, and journals nothing
        // it should not.
        let quiet = crawl(mode, &s, &cache).arg("--changed-only").run();
        quiet.assert_ok();
        assert!(quiet.records.is_empty(), "{:?}", quiet.urls());
        assert!(quiet.stderr.contains(&format!("--changed-only: {} unchanged records left out",
                                               PAGES + 20)), "{}", quiet.stderr);
    }

    fn changed_only_writes_exactly_the_new_changed_and_gone_pages_and_their_items(mode) {
        let s = site();
        let cache = temp("cache", mode);
        let items = temp("items.jsonl", mode);
        let field = ["--field", "h1=h1", "--items"];
        crawl(mode, &s, &cache).args(field).arg(&items).run().assert_ok();
        assert_eq!(std::fs::read_to_string(&items).unwrap_or_default().lines().count(), PAGES);
        let revised = s.revise(&Revision { changed: 0.05, added: 5, removed: 4, seed: 3,
                                           ..Revision::default() });
        let run = crawl(mode, &s, &cache).args(field).arg(&items).arg("--changed-only").run();
        run.assert_ok();
        let mut want = set(&revised.changed);
        want.extend(revised.added.iter().cloned());
        want.extend(revised.removed.iter().cloned());
        let got: BTreeSet<String> = run.records.iter().map(|r| path(&s, r)).collect();
        assert_eq!(got, want);
        // Items: the changed and new pages' (a 404 has none), with their h1 as it is now.
        let text = std::fs::read_to_string(&items).unwrap_or_default();
        let items: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).expect("an item")).collect();
        let item_paths: BTreeSet<String> = items
            .iter()
            .map(|i| i["url"].as_str().unwrap_or("").replace(&s.url(""), "/").replacen("//", "/", 1))
            .collect();
        let mut with_items = set(&revised.changed);
        with_items.extend(revised.added.iter().cloned());
        assert_eq!(item_paths, with_items);
    }

    fn unchanged_items_are_written_again_from_the_cache(mode) {
        let s = site();
        let cache = temp("cache", mode);
        let first = crawl(mode, &s, &cache).args(["--field", "h1=h1"]).run();
        first.assert_ok();
        let again = crawl(mode, &s, &cache).args(["--field", "h1=h1"]).run();
        again.assert_ok();
        assert_eq!(s.not_modified(), PAGES as u64);
        for (url, r) in again.by_url() {
            let want = format!("Generated page {}", url.rsplit('/').next().unwrap_or(""));
            assert_eq!(r.fields.get("h1").and_then(|v| v.as_str()), Some(want.as_str()), "{url}");
        }
        // Another --field is another crawl: its cache is refused, named.
        let other = crawl(mode, &s, &cache).args(["--field", "t=title"]).run();
        assert_eq!(other.code, 2, "{}", other.stderr);
        assert!(other.stderr.contains("--cache") && other.stderr.contains("other seeds"),
                "{}", other.stderr);
    }

    fn fresh_pages_are_not_asked_about_until_revalidate(mode) {
        let s = site();
        let cache = temp("cache", mode);
        let cached = |s: &FixtureServer| {
            CrawlCmd::new()
                .mode(mode)
                .seeds(&[s.url("/cached/")])
                .args(["-d", "1", "--ignore-robots", "--cache"])
                .arg(&cache)
        };
        let first = cached(&s).run();
        first.assert_ok();
        assert_eq!(first.records.len(), 7);
        s.reset();
        let (again, summary) = cached(&s).run_with_summary();
        again.assert_ok();
        assert_eq!(again.records.len(), 7);
        assert!(again.records.iter().all(|r| r.unchanged == Some(true)), "{:?}", again.records);
        // max-age=3600 and an Expires an hour ahead: not requested at all.
        assert_eq!(s.hits("/cached/max-age"), 0);
        assert_eq!(s.hits("/cached/expires"), 0);
        // The rest were asked about: conditionally where they have validators.
        let asked: BTreeSet<String> = s.conditional_paths();
        let want: BTreeSet<String> = ["/cached/", "/cached/no-cache", "/cached/etag-only",
                                      "/cached/modified-only"].map(String::from).into();
        assert_eq!(asked, want);
        assert_eq!(s.hits("/cached/plain"), 1);
        let r = &summary["recrawl"];
        assert_eq!((r["fresh"].as_u64(), r["not_modified"].as_u64(), r["same_digest"].as_u64()),
                   (Some(2), Some(4), Some(1)), "{r}");
        s.reset();
        let all = cached(&s).arg("--revalidate").run();
        all.assert_ok();
        assert_eq!(s.hits("/cached/max-age"), 1);
        assert_eq!(s.not_modified(), 6);
    }
}

#[test]
fn a_cache_that_is_not_a_crawl_cache_is_refused_and_left_as_it_was() {
    let s = site();
    let cache = temp("damaged", "any");
    std::fs::create_dir_all(&cache).expect("mkdir");
    let file = cache.join("cache.redb");
    let junk = b"this is not a database, and must still be this afterwards".repeat(100);
    std::fs::write(&file, &junk).expect("write junk");
    let run = crawl("async", &s, &cache).run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--cache") && run.stderr.contains("not a crawl cache"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&file).expect("read"), junk);
    assert_eq!(s.total_hits(), 0, "nothing may be fetched");
}

#[test]
fn a_cache_in_use_is_refused() {
    let s = server_with(Options {
        pages: PAGES,
        latency: std::time::Duration::from_millis(200),
        ..Options::default()
    });
    let cache = temp("locked", "any");
    let mut first = crawl("async", &s, &cache).args(["-j", "1"]).spawn();
    // Wait until the first crawl has the cache open.
    let started = std::time::Instant::now();
    while s.total_hits() == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = crawl("async", &s, &cache).run();
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("another crawl is using this cache"),
        "{}",
        second.stderr
    );
}

#[test]
fn revalidate_and_changed_only_need_a_cache() {
    for flag in ["--revalidate", "--changed-only"] {
        let run = CrawlCmd::new()
            .stdin("http://127.0.0.1:9/\n")
            .arg(flag)
            .run();
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("--cache"), "{}", run.stderr);
    }
}

every_mode! {
    fn a_recrawl_killed_midway_resumes_with_state_and_marks_each_page_once(mode) {
        use crate::resume::{lines, start_and_stop};
        use nix::sys::signal::Signal;
        const SITE: usize = 300;
        let s = server_with(Options { pages: SITE, ..Options::default() });
        let cache = temp("cache", mode);
        let cache_arg = cache.to_str().expect("UTF-8");
        let seeds = format!("{}\n", s.url("/gen/0"));
        let base = ["-d", "inf", "--ignore-robots", "--cache", cache_arg];
        CrawlCmd::new().mode(mode).args(base).stdin(&seeds).run().assert_ok();
        let revised = s.revise(&Revision { changed: 0.05, added: 20, removed: 10, seed: 11,
                                           ..Revision::default() });
        let state = temp("state", mode);
        let out = temp("records.jsonl", mode);
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["-j", "4", "--rate", "150", "--state", state.to_str().expect("UTF-8"),
                     "-o", out.to_str().expect("UTF-8")]);
        let code = start_and_stop(mode, &seeds, &args, &out, 60, Signal::SIGKILL);
        assert_eq!(code, 128 + Signal::SIGKILL as i32, "the first run was not killed");
        assert!(lines(&out) < SITE, "the first run finished before the kill");
        let again = CrawlCmd::new().mode(mode).args(&args).stdin(&seeds).run();
        again.assert_ok();
        assert!(again.stderr.contains("resumed:"), "{}", again.stderr);

        let records = records_in(&out);
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for r in &records {
            *count.entry(path(&s, r)).or_default() += 1;
        }
        assert_eq!(count.len(), SITE + 20, "every page has its record");
        let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
        assert!(count.values().all(|n| *n <= 2), "{twice:?}");
        assert!(twice.len() <= 4, "more pages recorded twice than were in flight: {twice:?}");
        assert_eq!(marked(&s, &records, |r| r.changed), set(&revised.changed));
        assert_eq!(marked(&s, &records, |r| r.new), set(&revised.added));
        assert_eq!(marked(&s, &records, |r| r.gone), set(&revised.removed));
        let unchanged = marked(&s, &records, |r| r.unchanged);
        assert_eq!(unchanged.len(), SITE - revised.changed.len() - 10);
    }
}

every_mode! {
    fn a_page_reached_twice_is_marked_once_for_what_it_is(mode) {
        // The hand-written site: /old-page redirects to /about.html, which is also linked.
        let s = site();
        let cache = temp("cache", mode);
        let crawl = || {
            CrawlCmd::new()
                .mode(mode)
                .seeds(&[s.url("/")])
                .args(["-d", "3", "--cache"])
                .arg(&cache)
                .run()
        };
        let first = crawl();
        first.assert_ok();
        let about = s.url("/about.html");
        let reaching: Vec<&Record> = first
            .records
            .iter()
            .filter(|r| r.final_url.as_deref() == Some(about.as_str()))
            .collect();
        assert!(reaching.len() >= 2, "the site no longer reaches /about.html twice");
        // The first crawl of a cache marks nothing, not even a page it answered twice.
        let marks = |r: &Record| [r.new, r.changed, r.unchanged, r.gone];
        assert!(first.records.iter().all(|r| marks(r) == [None; 4]), "{:?}", first.records);
        let again = crawl();
        again.assert_ok();
        for r in again.records.iter().filter(|r| r.final_url.as_deref() == Some(about.as_str())) {
            assert_eq!(marks(r), [None, None, Some(true), None], "{r:?}");
        }
    }
}
