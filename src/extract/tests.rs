//! The link pass's own tests, and its differential test against html5ever.
use super::*;
use crate::normalize::{is_http, normalize};

fn page(html: &str) -> Extracted {
    extract(
        html,
        &Url::parse("http://h.test/dir/page.html").expect("url"),
    )
}

fn links(e: &Extracted) -> Vec<&str> {
    e.links.iter().map(Url::as_str).collect()
}

#[test]
fn frames_are_links() {
    let e = page(
        r#"<frameset><frame src="toc.html"><frame src="/ch1.html#top"></frameset>
        <iframe src="embed.html"><a href="not-a-link.html">fallback</a></iframe>
        <iframe srcdoc="<a href=x>"></iframe><a href="after.html">after</a>"#,
    );
    assert_eq!(
        links(&e),
        [
            "http://h.test/dir/toc.html",
            "http://h.test/ch1.html",
            "http://h.test/dir/embed.html",
            "http://h.test/dir/after.html",
        ]
    );
}

#[test]
fn an_unclosed_title_is_cut() {
    let page = format!("<title>{}", "é".repeat(100_000));
    let url = Url::parse("http://a.test/").expect("URL");
    let title = extract(&page, &url).title.expect("a title");
    assert!(title.len() <= MAX_TITLE_BYTES && title.len() > MAX_TITLE_BYTES - 4);
}

/// A U+FEFF inside the text is text, wherever the pieces are cut; only the document's
/// first is dropped, as a whole-body parse drops it.
#[test]
fn a_byte_order_mark_that_starts_a_piece_is_still_text() {
    let url = Url::parse("http://h.test/").expect("url");
    let whole = "\u{feff}<title>a\u{feff}b</title><a href=\"/\u{feff}x\">x</a>";
    let expected = extract(whole, &url);
    assert_eq!(expected.title.as_deref(), Some("a\u{feff}b"));
    let mut stream = PageStream::new(Some("text/html; charset=utf-8"));
    for piece in [
        "\u{feff}<title>a",
        "\u{feff}b</title><a href=\"/",
        "\u{feff}x\">x</a>",
    ] {
        stream.write(piece.as_bytes());
    }
    assert_eq!(stream.finish(&url).0, expected);
}

#[test]
fn title_is_trimmed_and_collapsed() {
    let e = page("<title>\n  Hello\n   world </title>");
    assert_eq!(e.title.as_deref(), Some("Hello world"));
    assert_eq!(page("<title>  </title>").title, None);
    assert_eq!(page("<p>no title</p>").title, None);
    assert_eq!(
        page("<title>A &amp; B <b>c</b></title><title>second</title>")
            .title
            .as_deref(),
        Some("A & B <b>c</b>")
    );
}

#[test]
fn links_resolve_filter_and_dedupe() {
    let e = page(
        r#"<a href="a.html">a</a><a href="a.html#x">same</a><a href="/root">r</a>
           <a href="HTTP://Other.test:80/p">o</a><a href="mailto:x@y">m</a>
           <a href="javascript:void(0)">j</a><a href="data:text/html,hi">d</a>
           <a href="//proto.test/rel">p</a><a href="http://[bad">bad</a><a>no href</a>
           <map><area href="area.html"></map><a href="q?x=1&amp;y=2">entity</a>"#,
    );
    assert_eq!(
        links(&e),
        [
            "http://h.test/dir/a.html",
            "http://h.test/root",
            "http://other.test/p",
            "http://proto.test/rel",
            "http://h.test/dir/area.html",
            "http://h.test/dir/q?x=1&y=2",
        ]
    );
}

#[test]
fn links_over_the_length_limit_are_dropped_at_either_stage() {
    // "http://h.test/" is 14 bytes; paths are sized to land either side of the limit.
    let fits = format!("/{}", "a".repeat(MAX_URL_LEN - 14));
    let over = format!("/{}", "b".repeat(MAX_URL_LEN - 13));
    // Short as written, over the limit once percent-encoded.
    let grows = format!("/{}", "é".repeat(MAX_URL_LEN / 4));
    let html = format!(
        r#"<a href="{fits}">1</a><a href="{over}">2</a><a href="{grows}">3</a><a href="/ok">4</a>"#
    );
    let e = page(&html);
    assert_eq!(e.links.len(), 2, "{:?}", e.links);
    assert_eq!(e.links[0].as_str().len(), MAX_URL_LEN);
    assert_eq!(links(&e)[1], "http://h.test/ok");
    assert_eq!(e.links_found, 2);
}

#[test]
fn every_link_is_counted_but_only_the_first_max_links_kept() {
    let mut html = String::from("<title>Many</title>");
    for i in 0..MAX_LINKS + 500 {
        html.push_str(&format!("<a href=/{i}><a href=/{i}#again>"));
    }
    let e = page(&html);
    assert_eq!(e.links_found, MAX_LINKS + 500);
    assert_eq!(e.links.len(), MAX_LINKS);
    assert_eq!(
        e.links[MAX_LINKS - 1].as_str(),
        format!("http://h.test/{}", MAX_LINKS - 1)
    );
    assert_eq!(e.title.as_deref(), Some("Many"));
}

#[test]
fn deep_nesting_is_no_harder_than_flat_markup() {
    let n = 200_000;
    let html = format!(
        "<title>Deep</title>{}<a href=/bottom>b</a>{}",
        "<div><span>".repeat(n),
        "</span></div>".repeat(n)
    );
    let e = page(&html);
    assert_eq!(e.title.as_deref(), Some("Deep"));
    assert_eq!(links(&e), ["http://h.test/bottom"]);
}

#[test]
fn base_href_changes_resolution_wherever_it_appears() {
    let e = page(
        r#"<a href="early.html">e</a><head><base href="/docs/v2/"></head><a href="page.html">p</a><a href="../intro.html">i</a>"#,
    );
    assert_eq!(
        links(&e),
        [
            "http://h.test/docs/v2/early.html",
            "http://h.test/docs/v2/page.html",
            "http://h.test/docs/intro.html"
        ]
    );
}

#[test]
fn markup_inside_raw_text_elements_is_not_a_link() {
    let e = page(
        r#"<script>document.write('<a href="/from-script">x</a>')</script>
           <style>a[href="/from-style"] {}</style><textarea><a href="/from-textarea"></a></textarea>
           <noscript><a href="/from-noscript">n</a></noscript><a href="/real">real</a>"#,
    );
    // `<noscript>` is markup to a crawler, which runs no script (a browser with scripting off
    // reads it so, and wget2 follows its links).
    assert_eq!(
        links(&e),
        ["http://h.test/from-noscript", "http://h.test/real"]
    );
}

/// The streaming pass must find what a full DOM parse finds, on pages like the fixtures.
#[test]
fn agrees_with_a_full_dom_parse() {
    let pages = [
        include_str!("../../fixtures/site/index.html"),
        include_str!("../../fixtures/site/about.html"),
        include_str!("../../fixtures/site/docs/guide.html"),
        include_str!("../../fixtures/site/team/members.html"),
        "<html><head><title>T</title></head><body><p><a href=x>1<a href=y>2</p><table><a href=z>3</a></table></body>",
    ];
    let url = Url::parse("http://127.0.0.1:8080/docs/page.html").expect("url");
    for html in pages {
        let dom = scraper::Html::parse_document(html);
        let sel = |css| scraper::Selector::parse(css).expect("selector");
        let title = dom.select(&sel("title")).next().map(|t| {
            t.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        });
        let base = dom
            .select(&sel("base[href]"))
            .next()
            .and_then(|b| b.value().attr("href"))
            .and_then(|h| url.join(h).ok())
            .unwrap_or_else(|| url.clone());
        let mut seen = HashSet::new();
        let dom_links: Vec<Url> = dom
            .select(&sel("a[href], area[href]"))
            .filter_map(|a| a.value().attr("href"))
            .filter_map(|h| base.join(h.trim()).ok())
            .filter(is_http)
            .map(normalize)
            .filter(|u| seen.insert(fingerprint(u)))
            .collect();
        let streamed = extract(html, &url);
        assert_eq!(streamed.title, title.filter(|t| !t.is_empty()), "{html}");
        assert_eq!(streamed.links, dom_links, "{html}");
    }
}

// ---------------------------------------------------------------------------------------------
// The differential test: the pass against html5ever's tree builder with scripting off
// (`reference.rs`), on every fixture page, hostile markup, property-test HTML and a corpus of
// real documentation no one here wrote. Fed whole, and in pieces with the tokenizer resuming
// at every chance, the pass must read what the DOM holds; the differences that remain are the
// named ones at the end of this file, each with why.

use super::pass::Pass;
use super::reference::{self, Raw};

/// The pass's reading of `html`, fed in pieces of the byte sizes in `pieces` (cycled, moved to
/// the next character boundary), running the tokenizer every `run_every` bytes.
fn pass_raw(html: &str, pieces: &[usize], run_every: usize) -> Raw {
    let mut pass = Pass::with_run_every(run_every);
    let mut rest = html;
    for &n in pieces.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let mut cut = n.clamp(1, rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (piece, after) = rest.split_at(cut);
        pass.text().push_str(piece);
        pass.wrote();
        rest = after;
    }
    pass.finish().raw()
}

/// The differences between the pass and the DOM that remain on purpose, each with a test of
/// its own below: what gives it away in a page, and why the pass reads it as it does.
const NAMED: &[(&str, &str)] = &[(
    "<frame",
    "the tree builder drops a <frame> outside a <frameset>, and after a <frameset> all but \
     frames and <noframes> (a browser shows the frames); the pass reads every frame and reads \
     on, as wget2 does, so a page linked from the rest is still found: it finds more links \
     than the DOM holds, never fewer",
)];

/// A page's hrefs once each, in order of first appearance: the crawl counts a page's links
/// once, and the tree builder clones an unclosed `<a>` when later markup reopens it (the
/// standard's "reconstruct the active formatting elements"), so the DOM may hold one twice.
fn once_each(raw: Raw) -> Raw {
    let mut seen = HashSet::new();
    Raw {
        hrefs: raw
            .hrefs
            .into_iter()
            .filter(|h| seen.insert(h.clone()))
            .collect(),
        ..raw
    }
}

/// Whether the pass's reading `got` of `html` is the reference's (for a page with a
/// [`NAMED`] difference: holds at least the reference's links); if not, how it differs.
fn compare(html: &str, got: Raw) -> Result<(), String> {
    let expected = once_each(reference::read(html));
    let got = once_each(got);
    let lower = html.to_ascii_lowercase();
    match NAMED.iter().find(|(mark, _)| lower.contains(mark)) {
        None if got == expected => Ok(()),
        None => Err(format!("pass {got:?}\n DOM {expected:?}")),
        Some((_, why)) => {
            let missed: Vec<_> = expected
                .hrefs
                .iter()
                .filter(|h| !got.hrefs.contains(h))
                .collect();
            if (&got.title, &got.base) == (&expected.title, &expected.base) && missed.is_empty() {
                Ok(())
            } else {
                Err(format!("pass {got:?}\n DOM {expected:?}\n ({why})"))
            }
        }
    }
}

/// Asserts that the pass, fed `html` whole and in several kinds of pieces, reads what the
/// reference reads.
fn assert_agrees(name: &str, html: &str, thorough: bool) {
    let check = |got: Raw, how: &str| {
        if let Err(diff) = compare(html, got) {
            panic!("{name}: {how}:\n {diff}");
        }
    };
    check(pass_raw(html, &[usize::MAX], usize::MAX), "whole");
    let feeds: &[(&[usize], usize)] = if thorough {
        &[(&[1], 1), (&[7], 16), (&[13, 1, 250], 64), (&[4096], 1024)]
    } else {
        &[(&[1000, 3, 7000], 512)]
    };
    for &(pieces, run_every) in feeds {
        let how = format!("pieces {pieces:?}, a run every {run_every}");
        check(pass_raw(html, pieces, run_every), &how);
    }
}

/// Every HTML file under `dir`, sorted.
fn html_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "html" || e == "htm") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_pass_reads_every_fixture_page_as_the_dom_does() {
    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/site");
    let pages = html_files(&site);
    assert!(
        pages.len() >= 10,
        "{} pages under {}",
        pages.len(),
        site.display()
    );
    for path in pages {
        let bytes = std::fs::read(&path).expect("a fixture page");
        let html = crate::decode::decode_html(&bytes, None);
        assert_agrees(&path.display().to_string(), &html, true);
    }
    for (name, html) in [
        ("odd links", crawl_fixture::content::odd_links(8080, 8081)),
        ("windows-1252", crawl_fixture::encoded_page("windows-1252")),
    ] {
        assert_agrees(name, &html, true);
    }
}

/// Markup written to trip a tokenizer up: unclosed and malformed constructs, every state that
/// hides markup, character references in every spelling.
const HOSTILE: &[&str] = &[
    "<a href=x",
    "<a href='x'",
    "<a href=\"x\" <a href=y>",
    "<a href=x href=y>dup</a><a HREF=Upper>u</a><A hReF=mixed>m</A>",
    "<a href>empty</a><a href=\"\">empty2</a><a href=  spaced  >s</a>",
    "<a/href=slash>s</a><a href=x/>self</a><a\nhref\n=\nnl>n</a><a\thref=tab>t</a>",
    "<a href=\"a&amp;b&lt;c&#x41;&#65;&notin;&notit;&amp\">r</a><a href='&ampx=1&copy=2'>legacy</a>",
    "<a href=&quot;q&quot;>q</a><a href=\"&#0;&#xD800;&#x110000;&#128;\">nums</a>",
    "<title>A &amp; B &lt;c&gt; &copy</title>",
    "<title>x</title><title>second</title>",
    "<title></title ><title>after empty</title>",
    "<title>unclosed <a href=in-title>",
    "<textarea><a href=t></textarea ><a href=after-textarea>",
    "<script><!--<script></script><a href=escaped></script>--></script><a href=real>",
    "<script>a<!--b</script><a href=after-script>",
    "<script><!--</script><a href=closed-by-end>",
    "<style></styl><a href=in-style></style><a href=after-style>",
    "<xmp><a href=in-xmp></xmp><noembed><a href=in-noembed></noembed><noframes><a href=in-noframes></noframes><a href=z>",
    "<iframe src=frame.html><a href=fallback></iframe><iframe src=two>",
    "<noscript><a href=ns></noscript><head><noscript><link><a href=head-ns></noscript>",
    "<plaintext><a href=never></plaintext>",
    "<!-- <a href=in-comment> --><a href=after-comment>",
    "<!--> <a href=after-abrupt-comment>",
    "<!---> <a href=after-abrupt-comment2>",
    "<!-- a --!><a href=after-bang-close>",
    "<!-- unclosed <a href=never>",
    "<!doctype html><!DOCTYPE x PUBLIC \"a>\" 'b'><a href=after-doctype>",
    "<? processing <a href=pi> ?><a href=after-pi>",
    "</a href=end-tag-attr><a href=fine>",
    "<a href=1><a href=2><a href=3></a></a></a>",
    "<base href=/b/><base href=/c/><a href=x>",
    "<base target=_top><base href=/second-base/>",
    "<a href=\"\u{feff}bom\">b</a>\u{feff}<a href=after-bom>",
    "<a href=\"\r\nline\r\n\">crlf</a>\r\n<title>\r\nT\r\n</title>",
    "<a href=\"\0null\">n</a><title>\0</title>",
    "<table><a href=fostered>f</a><tr><td><a href=in-cell>c</a></table>",
    "<select><a href=in-select><option><a href=in-option></select><select><textarea><a href=t2></textarea>",
    "<frameset><frame src=f1><frame src='f2'></frameset><noframes><a href=nf></noframes>",
    "<template><a href=in-template></template>",
    "<math><mi><a href=math-link></mi></math><a href=after-math>",
    "<svg><title>svg title</title></svg><title>html title</title>",
    "<svg><style><a href=svg-style></style></svg><a href=after-svg>",
    "<svg><script><a href=svg-script></script></svg>",
    "<svg><![CDATA[ x > <a href=cdata> ]]></svg><a href=after-cdata>",
    "<svg/><title>after self-closing svg</title><script><a href=hidden></script>",
    "<svg><p><title>broke out</title><script><a href=hidden2></script>",
    "<svg><a href=svg-a>s</a></svg>",
    "<svg><base href=/svg-base/></svg><a href=x>",
    "<a href=\"javascript:void(0)\">j</a><a href='  //proto.test/x  '>p</a>",
    "<div <a href=x>>",
    "<a href=x>< a href=y><a  href  =  'z' >",
    "<a \"href\"=q href=r>",
];

#[test]
fn the_pass_reads_hostile_markup_as_the_dom_does() {
    for html in HOSTILE {
        assert_agrees(html, html, true);
    }
    // Sizes that cross many runs: a long script, a long title, a long comment.
    let long = [
        format!(
            "<script>{}</script><a href=after>",
            "<a href=in>".repeat(5000)
        ),
        format!("<title>{}</title><a href=after>", "word ".repeat(2000)),
        format!("<!--{}--><a href=after>", "<a href=in>".repeat(5000)),
        format!("<p>{}</p>", "<a href=/l>x</a> text ".repeat(3000)),
    ];
    for html in &long {
        assert_agrees(&html[..40], html, true);
    }
}

/// The toolchain's own documentation (rustup's rust-docs component): tens of thousands of real
/// pages, from 1 KB to megabytes, written by no one here.
fn toolchain_docs() -> std::path::PathBuf {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let sysroot = std::process::Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc runs");
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    std::path::Path::new(&sysroot).join("share/doc/rust/html")
}

#[test]
fn the_pass_reads_real_documentation_as_the_dom_does() {
    let docs = toolchain_docs();
    let all = html_files(&docs);
    assert!(
        all.len() > 1000,
        "the differential corpus is the toolchain's HTML docs, {} files found under {}; install \
         them with `rustup component add rust-docs`",
        all.len(),
        docs.display()
    );
    // An even sample across the tree (std, core, the books, the reference...), and Debian's
    // own HTML documentation.
    let every = (all.len() / 1500).max(1);
    let mut corpus: Vec<_> = all.into_iter().step_by(every).collect();
    corpus.extend(html_files(std::path::Path::new("/usr/share/doc")));
    let mut bytes_read = 0;
    for path in &corpus {
        let bytes = std::fs::read(path).expect("a corpus page");
        bytes_read += bytes.len();
        let html = crate::decode::decode_html(&bytes, None);
        assert_agrees(&path.display().to_string(), &html, false);
    }
    eprintln!("{} pages, {} bytes", corpus.len(), bytes_read);
}

/// An `<svg>` or `<math>` element with what foreign content holds: links, its own `<title>`,
/// `<style>` and `<script>` (markup there, not text), CDATA, nesting, and the tags that break
/// out of it; nothing inside an integration point (`<foreignObject>`, `<desc>`, an SVG
/// `<title>`, MathML's `<mi>`...), which is named below.
fn foreign() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let inside = prop_oneof![
        Just("<a href=/in-svg>a</a>".to_owned()),
        Just("<title></title>".to_owned()),
        Just("<style><a href=/svg-style></style>".to_owned()),
        Just("<script><a href=/svg-script></script>".to_owned()),
        Just("<![CDATA[ > <a href=/cdata> ]]>".to_owned()),
        Just("<g><rect/></g>".to_owned()),
        Just("<svg><a href=/nested></svg>".to_owned()),
        Just("<p>".to_owned()),
        Just("<base href=/svg-base/>".to_owned()),
        "[a-z >/]{0,10}",
    ];
    // Closed, so that what the rest of the page holds is not inside it.
    (
        prop_oneof![Just("svg"), Just("math")],
        proptest::collection::vec(inside, 0..6),
    )
        .prop_map(|(root, parts)| format!("<{root}>{}</{root}>", parts.concat()))
}

/// Markup for the property test: the proptests' pieces (links of every shape, state-switching
/// tags, comments, character references, text) and more of what hides or reveals a link.
fn markup() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        // Foreign content has its own property below: an `<svg>` here would hold random
        // markup in its integration points, the approximation named at the end of this file.
        4 => crate::proptests::html().prop_map(|h| h.replace("<svg", "<span")),
        1 => Just("<iframe src=/if>fallback <a href=/fb></iframe>".to_owned()),
        1 => Just("<frame src=\"/fr\">".to_owned()),
        1 => Just("<noscript><a href=/ns>".to_owned()),
        1 => Just("</noscript>".to_owned()),
        1 => Just("<script><!--<script>".to_owned()),
        1 => Just("</script>-->".to_owned()),
        1 => Just("<svg/>".to_owned()),
        1 => Just("]]>".to_owned()),
        2 => foreign(),
        1 => Just("<p>".to_owned()),
        1 => Just("</title>".to_owned()),
        1 => Just("</textarea>".to_owned()),
        1 => Just("</style>".to_owned()),
        1 => Just("<table><tr><td>".to_owned()),
        1 => Just("<select><option>".to_owned()),
        1 => Just("\r\n\0".to_owned()),
        1 => "[a-z&;#0-9x]{0,12}".prop_map(|r| format!("<a href=\"/{r}\">r</a>&{r}")),
        1 => "[a-z]{1,8}".prop_map(|t| format!("<{t} href=/t{t}></{t}>")),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|parts| parts.concat())
}

proptest::proptest! {
    #![proptest_config(crate::proptests::config(300))]

    /// Whatever the markup, and however it comes in pieces, the pass reads what the DOM holds.
    #[test]
    fn the_pass_reads_generated_markup_as_the_dom_does(
        html in markup(),
        pieces in proptest::collection::vec(1..300usize, 1..8),
        run_every in 1..200usize,
    ) {
        let whole = compare(&html, pass_raw(&html, &[usize::MAX], usize::MAX));
        proptest::prop_assert!(whole.is_ok(), "whole: {}", whole.unwrap_err());
        let fed = compare(&html, pass_raw(&html, &pieces, run_every));
        proptest::prop_assert!(fed.is_ok(), "in pieces: {}", fed.unwrap_err());
    }
}

// The differences that remain, each shown on the smallest page that has it.

/// Frames: the tree builder drops a `<frame>` outside a `<frameset>`, and after a frameset
/// everything but frames and `<noframes>`. The pass reads them all (a superset of the DOM's
/// links), as wget2 does: a fallback page linked from there is still a page of the site.
#[test]
fn named_difference_frames_are_read_wherever_they_are() {
    let html = "<frameset><frame src=/f></frameset><iframe src=/after><a href=/fallback>";
    assert_eq!(reference::read(html).hrefs, ["/f"]);
    assert_eq!(
        pass_raw(html, &[usize::MAX], usize::MAX).hrefs,
        ["/f", "/after"]
    );
    assert_eq!(
        reference::read("<frame src=/stray>").hrefs,
        Vec::<String>::new()
    );
    assert_eq!(pass_raw("<frame src=/stray>", &[3], 1).hrefs, ["/stray"]);
}

/// Integration points: HTML inside `<svg><foreignObject>`, `<desc>`, an SVG `<title>` or
/// MathML's `<mi>`, `<mo>`, `<mn>`, `<ms>`, `<mtext>`, `<annotation-xml>` is HTML again to a
/// tree builder; the pass, which keeps no stack of open elements, reads all of `<svg>` and
/// `<math>` as foreign content. So a `<title>` there is not the page's title to the pass, and a
/// `<style>` or `<script>` there does not hide markup from it. Real pages put icons' text in
/// SVG titles, not HTML: none of the corpus's pages differs.
#[test]
fn named_difference_integration_points_are_foreign_content_to_the_pass() {
    let html = "<svg><foreignObject><style><a href=/in-style></style></foreignObject></svg>";
    assert_eq!(reference::read(html).hrefs, Vec::<String>::new());
    assert_eq!(
        pass_raw(html, &[usize::MAX], usize::MAX).hrefs,
        ["/in-style"]
    );
    let html = "<math><mi><title>T</title></mi></math>";
    assert_eq!(reference::read(html).title.as_deref(), Some("T"));
    assert_eq!(pass_raw(html, &[usize::MAX], usize::MAX).title, None);
}

/// Clones: the tree builder reopens an unclosed `<a>` after a block closes it ("reconstruct
/// the active formatting elements"), so the DOM holds the same href twice. The pass sees the
/// one tag; the crawl counts a page's links once, so the two agree on every link.
#[test]
fn named_difference_reopened_links_are_one_link() {
    let html = "<p><a href=/x>one</p><p>two";
    assert_eq!(reference::read(html).hrefs, ["/x", "/x"]);
    assert_eq!(pass_raw(html, &[usize::MAX], usize::MAX).hrefs, ["/x"]);
}
