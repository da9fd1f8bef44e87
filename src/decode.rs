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
    let encoding = header_encoding(content_type)
        .unwrap_or_else(|| prescanned(&body[..body.len().min(PRESCAN)]));
    // `decode` sniffs a BOM first, as browsers do.
    let (text, _, _) = encoding.decode(body);
    text
}

/// The encoding Content-Type's `charset` names, if it names one we can decode.
fn header_encoding(content_type: Option<&str>) -> Option<&'static Encoding> {
    content_type
        .and_then(charset_param)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .map(ascii_compatible)
}

/// The encoding a `<meta>` in `head` (the first [`PRESCAN`] bytes) declares, or UTF-8.
fn prescanned(head: &[u8]) -> &'static Encoding {
    meta_charset(head).map_or(UTF_8, ascii_compatible)
}

/// UTF-16 without a BOM is not HTML on the wire: a label that says so means UTF-8 (with a BOM,
/// the decoder's sniffing finds UTF-16 anyway).
fn ascii_compatible(encoding: &'static Encoding) -> &'static Encoding {
    if encoding.output_encoding() != encoding {
        UTF_8
    } else {
        encoding
    }
}

/// Decodes an HTML body that arrives in pieces, with exactly the rules of [`decode_html`]:
/// without a charset in Content-Type, the first [`PRESCAN`] bytes are held back until they
/// are all here (or the body ends), so a `<meta>` split across pieces is still found.
pub struct StreamDecoder {
    state: State,
}

enum State {
    /// No encoding yet: the bytes so far, fewer than [`PRESCAN`].
    Prescan(Vec<u8>),
    Decoding(encoding_rs::Decoder),
}

impl StreamDecoder {
    /// A decoder for a body served with `content_type`.
    pub fn new(content_type: Option<&str>) -> Self {
        let state = match header_encoding(content_type) {
            // `new_decoder` sniffs a BOM, which overrides the header, as in `decode`.
            Some(encoding) => State::Decoding(encoding.new_decoder()),
            None => State::Prescan(Vec::new()),
        };
        StreamDecoder { state }
    }

    /// Decodes the next piece of the body (`last` for the end of it, with or without bytes),
    /// appending the text it completes to `out`: the link pass keeps a page's text in one
    /// buffer, and decoding straight into it spares a copy of every byte. Text can lag the
    /// bytes: a character split between pieces, or the prescan window, waits for the rest.
    pub fn decode_to(&mut self, bytes: &[u8], last: bool, out: &mut String) {
        let held;
        let bytes = match &mut self.state {
            State::Prescan(head) => {
                head.extend_from_slice(bytes);
                if head.len() < PRESCAN && !last {
                    return;
                }
                held = std::mem::take(head);
                let encoding = prescanned(&held[..held.len().min(PRESCAN)]);
                self.state = State::Decoding(encoding.new_decoder());
                &held[..]
            }
            State::Decoding(_) => bytes,
        };
        if let State::Decoding(decoder) = &mut self.state {
            let mut rest = bytes;
            // Room for the worst case, so one round decodes it all (pieces are small, so the
            // bound is computable; were it not, each further round doubles the room).
            let mut room = decoder
                .max_utf8_buffer_length(rest.len())
                .unwrap_or(rest.len());
            loop {
                out.reserve(room);
                let (result, read, _) = decoder.decode_to_string(rest, out, last);
                rest = &rest[read..];
                if result == encoding_rs::CoderResult::InputEmpty {
                    break;
                }
                room = out.capacity().max(16);
            }
        }
    }
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

    /// Everything `decode_html` gives, pieced together from the stream, for a split at every
    /// point of a body that needs the prescan, a header charset, or a BOM.
    #[test]
    fn streaming_agrees_with_decoding_whole() {
        let mut meta = b"<html><head><meta charset=windows-1252>".to_vec();
        meta.extend_from_slice(CAFE_1252);
        let mut late = vec![b' '; PRESCAN - 10];
        late.extend_from_slice(b"<meta charset=windows-1252>\xe9");
        let bodies: [(&[u8], Option<&str>); 5] = [
            (&meta, None),
            (&late, Some("text/html")),
            (CAFE_1252, Some("text/html; charset=windows-1252")),
            (
                b"\xef\xbb\xbf<title>Caf\xc3\xa9</title>",
                Some("text/html; charset=latin1"),
            ),
            ("<p>caf\u{e9} \u{1F980}</p>".as_bytes(), None),
        ];
        for (body, content_type) in bodies {
            let whole = decode_html(body, content_type);
            for split in 0..=body.len() {
                let mut stream = StreamDecoder::new(content_type);
                let mut text = String::new();
                stream.decode_to(&body[..split], false, &mut text);
                stream.decode_to(&body[split..], false, &mut text);
                stream.decode_to(&[], true, &mut text);
                assert_eq!(text, whole, "split at {split} of {body:?}");
            }
        }
    }

    #[test]
    fn utf16_labels_without_bom_fall_back_to_utf8() {
        assert_eq!(
            decode_html(b"<p>hi</p>", Some("text/html; charset=utf-16le")),
            "<p>hi</p>"
        );
    }
}
