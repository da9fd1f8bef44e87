//! Property tests (proptest) of everything that reads input from outside: the URLs file
//! ([`crate::seeds`]), link extraction ([`crate::extract`]), charset decoding
//! ([`crate::decode`]) and URL normalisation ([`crate::normalize`]). Whatever the bytes,
//! nothing panics, and what comes out keeps its promises (links absolute, http(s), normalised,
//! within the length limit; seed errors naming their line).
//!
//! Inputs are built from fragments that reach the interesting paths (tags that switch the
//! tokenizer's state, hrefs of every scheme and shape, charset labels) mixed with arbitrary
//! text. Case counts keep the whole file to a few seconds in release mode. These are unit
//! tests of the library, not integration tests, because the modules they check are internals.

use std::collections::HashSet;

use proptest::prelude::*;
use url::Url;

use crate::decode::decode_html;
use crate::extract::{MAX_LINKS, MAX_URL_LEN, PageStream, extract};
use crate::normalize::{fingerprint, is_http, normalize};

/// `cases` per property, or `PROPTEST_CASES` when set (to fuzz longer by hand).
pub(crate) fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Hrefs of every kind a page may hold.
fn href() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("#top".to_owned()),
        Just("javascript:alert(1)".to_owned()),
        Just("mailto:a@b.test".to_owned()),
        Just("data:text/html,<a href=/x>".to_owned()),
        Just("file:///etc/passwd".to_owned()),
        Just("//other.test/p?q#f".to_owned()),
        Just("http://[::1".to_owned()),
        Just("http://bücher.example/ü".to_owned()),
        Just("HTTP://H.TEST:80/a/../b/./c".to_owned()),
        Just("https://h.test:443/%7euser/%zz".to_owned()),
        Just("http://xn--.test/".to_owned()),
        Just("http://1.2.3.4.5/".to_owned()),
        Just("http://0x7f.1/".to_owned()),
        Just("  \n\t/padded\r\n ".to_owned()),
        Just("?only=query".to_owned()),
        Just("../../../../up".to_owned()),
        Just("\\\\back\\slash".to_owned()),
        "[a-z]{1,8}:[ -~]{0,20}",
        "/[ -~]{0,40}",
        "[\\PC]{0,30}",
        (1..4usize).prop_map(|k| format!("/{}", "x".repeat(k * 1000))),
        (1..4usize).prop_map(|k| format!("/{}", "é".repeat(k * 300))),
    ]
}

/// A piece of HTML: markup that matters to the extractor, or arbitrary text.
fn fragment() -> impl Strategy<Value = String> {
    let quoted = |h: String| h.replace('"', "&quot;");
    prop_oneof![
        // Links mostly, since state-switching tags (script, comments...) hide what follows.
        12 => href().prop_map(move |h| format!("<a href=\"{}\">x</a>", quoted(h))),
        3 => href().prop_map(|h| format!("<area href='{}'>", h.replace('\'', ""))),
        1 => href().prop_map(|h| format!("<base href=\"{}\">", h.replace('"', ""))),
        3 => href().prop_map(|h| format!("<a href={}>", h.replace([' ', '>'], ""))),
        1 => "[ -~]{0,20}".prop_map(|t| format!("<title>{t}</title>")),
        1 => Just("<title>".to_owned()),
        1 => Just("<script>".to_owned()),
        1 => Just("</script>".to_owned()),
        1 => Just("<style>".to_owned()),
        1 => Just("<textarea>".to_owned()),
        1 => Just("<noscript>".to_owned()),
        1 => Just("<plaintext>".to_owned()),
        1 => Just("<!--".to_owned()),
        1 => Just("-->".to_owned()),
        1 => Just("<![CDATA[".to_owned()),
        1 => Just("<!DOCTYPE html>".to_owned()),
        1 => Just("<svg><a xlink:href=\"/svg\">".to_owned()),
        1 => Just("<div>".repeat(50)),
        1 => Just("&amp;&lt;&#0;&#x110000;&bogus;".to_owned()),
        // A stray byte-order mark inside the page (PHP includes leave them), which must stay
        // text wherever the body is cut into pieces.
        1 => Just("\u{feff}".to_owned()),
        1 => "[\\PC]{0,40}",
        1 => "[<>\"'=/a-z ]{0,40}",
    ]
}

pub(crate) fn html() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..40).prop_map(|parts| parts.concat())
}

fn page_url() -> impl Strategy<Value = Url> {
    prop_oneof![
        Just("http://h.test/dir/page.html"),
        Just("https://h.test:8443/"),
        Just("http://127.0.0.1:8080/a/b/c?q=1"),
        Just("http://[::1]/x"),
    ]
    .prop_map(|u| Url::parse(u).expect("fixed URL"))
}

/// What every link the extractor returns must be.
fn assert_good_link(link: &Url) {
    assert!(is_http(link), "{link}");
    assert!(link.host_str().is_some_and(|h| !h.is_empty()), "{link}");
    assert_eq!(link.fragment(), None, "{link}");
    assert!(
        link.as_str().len() <= MAX_URL_LEN,
        "{} bytes",
        link.as_str().len()
    );
    assert_eq!(&normalize(link.clone()), link);
    // What crosses a process boundary as text comes back the same URL.
    assert_eq!(Url::parse(link.as_str()).as_ref(), Ok(link));
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn extract_never_panics_and_keeps_its_promises(html in html(), base in page_url()) {
        let e = extract(&html, &base);
        let mut seen = HashSet::new();
        for link in &e.links {
            assert_good_link(link);
            prop_assert!(seen.insert(fingerprint(link)), "duplicate {}", link);
        }
        prop_assert!(e.links.len() <= MAX_LINKS);
        prop_assert!(e.links_found >= e.links.len());
        if let Some(title) = &e.title {
            prop_assert!(!title.is_empty());
            prop_assert_eq!(title.trim(), title.as_str());
            prop_assert!(!title.contains("  "), "{:?}", title);
        }
    }

    #[test]
    fn extract_survives_arbitrary_text(text in "[\\s\\S]{0,400}", base in page_url()) {
        for link in extract(&text, &base).links {
            assert_good_link(&link);
        }
    }

    #[test]
    fn normalising_is_idempotent(base in page_url(), href in href()) {
        if let Ok(url) = base.join(&href) {
            let once = normalize(url);
            let twice = normalize(once.clone());
            prop_assert_eq!(&once, &twice);
            prop_assert_eq!(fingerprint(&once), fingerprint(&twice));
            if is_http(&once) {
                let reparsed = Url::parse(once.as_str());
                prop_assert_eq!(reparsed.as_ref(), Ok(&once));
            }
        }
    }

    #[test]
    fn normalising_arbitrary_bases_does_not_panic(base in "[\\PC]{0,60}", href in href()) {
        if let Ok(base) = Url::parse(&base)
            && let Ok(url) = base.join(&href)
        {
            let n = normalize(url);
            prop_assert_eq!(n.fragment(), None);
        }
    }

    #[test]
    fn decode_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..600),
        prefix in prop_oneof![
            Just(&b""[..]),
            Just(&b"\xef\xbb\xbf"[..]),
            Just(&b"\xff\xfe"[..]),
            Just(&b"\xfe\xff"[..]),
            Just(&b"<meta charset=windows-1252>"[..]),
            Just(&b"<meta http-equiv=Content-Type content='text/html; charset=shift_jis'>"[..]),
            Just(&b"<META CHARSET=\"utf-16le\">"[..]),
            Just(&b"<meta charset="[..]),
            Just(&b"<meta"[..]),
        ],
        content_type in prop::option::of(prop_oneof![
            Just("text/html".to_owned()),
            Just("text/html; charset=utf-8".to_owned()),
            Just("text/html; charset=\"iso-8859-1\"".to_owned()),
            Just("text/html; charset=gb18030".to_owned()),
            Just("text/html; charset=utf-16be".to_owned()),
            Just("text/html; charset=x-user-defined".to_owned()),
            Just("text/html; charset=replacement".to_owned()),
            Just("text/html;charset=;;=".to_owned()),
            "[\\PC]{0,40}",
        ]),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&body);
        let text = decode_html(&bytes, content_type.as_deref());
        // Every byte is accounted for: nothing decodes to more than a few characters.
        prop_assert!(text.len() <= 3 * bytes.len() + 3);
    }

    /// A body fed to [`PageStream`] in pieces (one byte, seven bytes, or cut at random)
    /// yields exactly what the whole body decoded and extracted yields: the same charset
    /// (a `<meta>` split across pieces, near or past the 1024-byte prescan window, a BOM,
    /// a header), the same title and links.
    #[test]
    fn streaming_in_any_pieces_matches_the_whole_body(
        html in html(),
        padding in prop_oneof![Just(0usize), 990..1030usize, 0..2000usize],
        declared in prop_oneof![
            Just(&b""[..]),
            Just(&b"\xef\xbb\xbf"[..]),
            Just(&b"<meta charset=windows-1252>"[..]),
            Just(&b"<meta http-equiv=Content-Type content='text/html; charset=shift_jis'>"[..]),
            Just(&b"<meta charset=utf-16le>"[..]),
        ],
        legacy in prop::collection::vec(any::<u8>(), 0..40),
        content_type in prop::option::of(prop_oneof![
            Just("text/html".to_owned()),
            Just("text/html; charset=utf-8".to_owned()),
            Just("text/html; charset=windows-1252".to_owned()),
        ]),
        pieces in prop_oneof![
            Just(vec![1usize]),
            Just(vec![7usize]),
            prop::collection::vec(1..700usize, 1..20),
        ],
        base in page_url(),
    ) {
        // The BOM must come first to count; a <meta> may sit after padding.
        let mut bytes = Vec::new();
        if declared.starts_with(b"\xef") {
            bytes.extend_from_slice(declared);
            bytes.resize(bytes.len() + padding, b' ');
        } else {
            bytes.resize(padding, b' ');
            bytes.extend_from_slice(declared);
        }
        bytes.extend_from_slice(html.as_bytes());
        bytes.extend_from_slice(&legacy);
        bytes.extend_from_slice(b"<title>caf\xe9</title><a href=\"/\xe9\">e</a>");
        let whole = extract(&decode_html(&bytes, content_type.as_deref()), &base);

        let mut stream = PageStream::new(content_type.as_deref());
        let mut rest = &bytes[..];
        for &n in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, after) = rest.split_at(n.min(rest.len()));
            stream.write(piece);
            rest = after;
        }
        let (streamed, _) = stream.finish(&base);
        prop_assert_eq!(streamed, whole);
    }

    #[test]
    fn plain_utf8_decodes_to_itself(text in "[^\u{feff}<]{0,200}") {
        prop_assert_eq!(decode_html(text.as_bytes(), None), text.as_str());
        prop_assert_eq!(decode_html(text.as_bytes(), Some("text/html")), text.as_str());
    }
}

/// The URLs file is the command line's (the `cli` feature).
#[cfg(feature = "cli")]
mod seeds {
    use super::*;
    use crate::seeds::{SeedError, parse_seed, read_from};

    /// One line of a URLs file: good, bad, comment or blank, with any line ending.
    fn seed_line() -> impl Strategy<Value = Vec<u8>> {
        let text = prop_oneof![
            Just("http://a.test/".to_owned()),
            Just("  https://B.test:443/x#frag \t".to_owned()),
            Just("# a comment".to_owned()),
            Just("   ".to_owned()),
            Just(String::new()),
            Just("\u{feff}http://bom.test/".to_owned()),
            Just("ftp://a.test/".to_owned()),
            Just("http://".to_owned()),
            Just("not a url".to_owned()),
            Just("http://[::1".to_owned()),
            Just("http://a.test/ http://b.test/".to_owned()),
            Just("http://a.test/\thttp://b.test/".to_owned()),
            "[\\PC]{0,30}",
        ]
        .prop_map(String::into_bytes);
        let raw = prop::collection::vec(any::<u8>(), 0..20);
        let ending = prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..])];
        (prop_oneof![4 => text, 1 => raw], ending).prop_map(|(mut line, end)| {
            line.retain(|&b| b != b'\n');
            line.extend_from_slice(end);
            line
        })
    }

    proptest! {
        #![proptest_config(config(1000))]

        #[test]
        fn seeds_are_good_or_name_the_first_bad_line(lines in prop::collection::vec(seed_line(), 0..12)) {
            let input = lines.concat();
            let err = match read_from(&input[..], "urls.txt") {
                Ok(seeds) => {
                    prop_assert!(!seeds.is_empty());
                    for seed in &seeds {
                        prop_assert!(is_http(seed) && seed.host_str().is_some_and(|h| !h.is_empty()));
                        prop_assert_eq!(&normalize(seed.clone()), seed);
                        prop_assert!(!seed.as_str().contains(char::is_whitespace), "{}", seed);
                    }
                    return Ok(());
                }
                Err(err) => err,
            };
            let message = err.to_string();
            match err {
                SeedError::BadLine { line, .. } => {
                    prop_assert!(message.starts_with(&format!("urls.txt, line {line}: ")), "{}", message);
                    // `line` counts lines as the reader splits them, on '\n' only.
                    let split: Vec<&[u8]> = input.split_inclusive(|&b| b == b'\n').collect();
                    prop_assert!(line >= 1 && line <= split.len(), "line {} of {}", line, split.len());
                    // Every line before it was fine.
                    for earlier in &split[..line - 1] {
                        let text = std::str::from_utf8(earlier).expect("earlier lines are UTF-8");
                        let text = text.trim_start_matches('\u{feff}').trim();
                        let fine = text.is_empty() || text.starts_with('#') || parse_seed(text).is_ok();
                        prop_assert!(fine, "{:?}", text);
                    }
                }
                SeedError::Empty { .. } => {
                    let text = String::from_utf8_lossy(&input);
                    let blank = text.lines().all(|l| {
                        let l = l.trim_start_matches('\u{feff}').trim();
                        l.is_empty() || l.starts_with('#')
                    });
                    prop_assert!(blank, "{:?}", text);
                }
                SeedError::Read { .. } => prop_assert!(false, "no I/O error from a slice: {}", message),
            }
        }

        #[test]
        fn parse_seed_never_panics(text in "[\\PC]{0,80}") {
            if let Ok(url) = parse_seed(&text) {
                prop_assert!(is_http(&url));
                prop_assert_eq!(url.fragment(), None);
            }
        }
    }
}
