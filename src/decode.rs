//! Turning body bytes into text: which charset, then decoding.
//!
//! The encoding is taken from, in order: a byte-order mark (which the HTML standard lets
//! override everything, and which `encoding_rs` honours when decoding), the `charset` parameter
//! of Content-Type, a `<meta charset>` or `http-equiv` declaration in the first 1024 bytes, and
//! finally UTF-8. Malformed bytes become U+FFFD rather than an error: a crawler keeps what it can
//! read. (reqwest's `text()` looks only at the header, which is why this module exists.)

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8};

/// How many leading bytes are searched for a `<meta>` charset declaration (the HTML standard's
/// prescan window).
const PRESCAN: usize = 1024;

/// Decodes an HTML body to text using the best encoding evidence available.
pub fn decode_html<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let encoding = content_type
        .and_then(charset_param)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .or_else(|| meta_charset(&body[..body.len().min(PRESCAN)]))
        .unwrap_or(UTF_8);
    // `decode` sniffs a BOM first, as browsers do; UTF-16 without a BOM is not HTML on the wire.
    let encoding = if encoding.output_encoding() != encoding {
        UTF_8
    } else {
        encoding
    };
    let (text, _, _) = encoding.decode(body);
    text
}

/// The `charset` parameter of a Content-Type value, unquoted.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']))
    })
}

/// The encoding named by a `<meta charset=...>` or `<meta http-equiv content="...charset=...">`
/// tag in `head`. Both spellings put `charset=` inside a meta tag, which is what we look for.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = find(&lower[from..], b"<meta") {
        let start = from + pos;
        let end = find(&lower[start..], b">").map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(at) = find(tag, b"charset") {
            let rest = &tag[at + b"charset".len()..];
            let rest = trim_ascii_start(rest);
            if let Some(rest) = rest.strip_prefix(b"=") {
                let rest = trim_ascii_start(rest);
                let rest = rest
                    .strip_prefix(b"\"")
                    .or_else(|| rest.strip_prefix(b"'"))
                    .unwrap_or(rest);
                let len = rest
                    .iter()
                    .position(|b| {
                        matches!(
                            b,
                            b'"' | b'\'' | b';' | b' ' | b'/' | b'>' | b'\t' | b'\n' | b'\r'
                        )
                    })
                    .unwrap_or(rest.len());
                if let Some(enc) = Encoding::for_label(&rest[..len]) {
                    return Some(enc);
                }
            }
        }
        from = end;
    }
    None
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[skip..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAFE_1252: &[u8] = b"<title>Caf\xe9 \x96 na\xefve</title>";

    #[test]
    fn header_charset_wins_over_meta() {
        let body = b"<meta charset=\"utf-8\"><title>Caf\xe9</title>";
        assert!(decode_html(body, Some("text/html; charset=windows-1252")).contains("Café"));
        assert!(decode_html(body, Some("text/html; Charset=\"ISO-8859-1\"")).contains("Café"));
    }

    #[test]
    fn meta_charset_is_found_in_both_spellings() {
        let mut a = b"<html><head><META Charset='windows-1252'>".to_vec();
        a.extend_from_slice(CAFE_1252);
        assert!(decode_html(&a, Some("text/html")).contains("Café – naïve"));

        let mut b =
            b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">"
                .to_vec();
        b.extend_from_slice(CAFE_1252);
        assert!(decode_html(&b, None).contains("Café – naïve"));
    }

    #[test]
    fn meta_beyond_the_prescan_window_is_ignored() {
        let mut body = vec![b' '; PRESCAN];
        body.extend_from_slice(b"<meta charset=windows-1252>");
        body.extend_from_slice(CAFE_1252);
        assert!(decode_html(&body, None).contains('\u{FFFD}'));
    }

    #[test]
    fn bom_wins_and_bad_utf8_is_replaced() {
        let body = b"\xef\xbb\xbf<title>Caf\xc3\xa9</title>";
        assert_eq!(
            decode_html(body, Some("text/html; charset=windows-1252")),
            "<title>Café</title>"
        );
        assert_eq!(decode_html(b"a\xffb", None), "a\u{FFFD}b");
    }

    #[test]
    fn utf16_labels_without_bom_fall_back_to_utf8() {
        assert_eq!(
            decode_html(b"<p>hi</p>", Some("text/html; charset=utf-16le")),
            "<p>hi</p>"
        );
    }
}
