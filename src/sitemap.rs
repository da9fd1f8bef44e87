//! `--sitemaps`: reading a sitemap or a sitemap index (sitemaps.org), as a stream.
//!
//! A file is read with quick-xml's pull parser, never as a tree, within the protocol's bounds:
//! at most [`MAX_SITEMAP_URLS`] URLs and [`MAX_SITEMAP_BYTES`] uncompressed (a `.xml.gz` file,
//! recognised by its gzip magic bytes, is inflated as it is read, and no further than that).
//! What a file lists up to a problem is kept; the problem itself (malformed XML, too many
//! URLs, too big) becomes the sitemap's record's error, and the crawl goes on.

use std::io::{BufRead, BufReader, Read};

use quick_xml::Reader;
use quick_xml::events::Event;
use url::Url;

use crate::normalize::followable;

/// Most URLs one sitemap file may list (the protocol's bound).
pub const MAX_SITEMAP_URLS: usize = 50_000;
/// Most bytes one sitemap file may have, uncompressed (the protocol's 50 MB).
pub const MAX_SITEMAP_BYTES: u64 = 50 * 1024 * 1024;
/// Most sitemap files read per origin, indexes and the files they list included: the bound
/// on nested indexes (an index that lists itself is read once anyway).
pub const MAX_SITEMAPS_PER_ORIGIN: usize = 1_000;

/// What one sitemap file listed.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Listed {
    /// Pages (`<urlset><url><loc>`), absolute http(s) URLs.
    pub pages: Vec<Url>,
    /// Other sitemaps (`<sitemapindex><sitemap><loc>`).
    pub sitemaps: Vec<Url>,
    /// Why reading stopped early, if it did.
    pub error: Option<String>,
}

/// Reads the sitemap `body`, fetched from `url` (relative `<loc>`s, which the protocol does not
/// allow but some sites write, are resolved against it).
pub(crate) fn read(body: &[u8], url: &Url) -> Listed {
    let mut listed = Listed::default();
    let raw: Box<dyn Read + '_> = if body.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(body))
    } else {
        Box::new(body)
    };
    // One byte past the bound, so a file exactly at the bound is not taken for one over it.
    let mut limited = BufReader::new(raw.take(MAX_SITEMAP_BYTES + 1));
    if let Err(e) = parse(&mut limited, url, &mut listed) {
        listed.error = Some(e);
    } else if limited.get_ref().limit() == 0 {
        listed.error = Some(format!(
            "over {} MB uncompressed; the rest is not read",
            MAX_SITEMAP_BYTES / (1024 * 1024)
        ));
    }
    listed
}

fn parse(input: &mut impl BufRead, base: &Url, listed: &mut Listed) -> Result<(), String> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    // Which element the current <loc> is in (<url> or <sitemap>), and its text so far: the
    // reader hands text and entity references (`&amp;`) over as separate events.
    let mut in_sitemap = false;
    let mut loc: Option<String> = None;
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("not XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(tag) => {
                seen_root = true;
                match tag.local_name().as_ref() {
                    "sitemap" => in_sitemap = true,
                    "url" => in_sitemap = false,
                    "loc" => loc = Some(String::new()),
                    _ => {}
                }
            }
            Event::Text(text) => {
                if let Some(loc) = loc.as_mut() {
                    loc.push_str(&text.xml10_content());
                }
            }
            Event::CData(text) => {
                if let Some(loc) = loc.as_mut() {
                    loc.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(entity) => {
                if let Some(loc) = loc.as_mut() {
                    let c = match entity.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        _ => match entity.xml10_content().as_ref() {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            other => return Err(format!("unknown entity &{other};")),
                        },
                    };
                    loc.push(c);
                }
            }
            Event::End(tag) if tag.local_name().as_ref() == "loc" => {
                let text = loc.take().unwrap_or_default();
                let Some(found) = base.join(text.trim()).ok().and_then(followable) else {
                    continue;
                };
                if listed.pages.len() + listed.sitemaps.len() >= MAX_SITEMAP_URLS {
                    return Err(format!(
                        "over {MAX_SITEMAP_URLS} URLs; the rest are not read"
                    ));
                }
                if in_sitemap {
                    listed.sitemaps.push(found);
                } else {
                    listed.pages.push(found);
                }
            }
            Event::Eof if !seen_root => return Err("empty, or no XML element".to_owned()),
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn base() -> Url {
        Url::parse("http://a.test/sitemap.xml").expect("url")
    }

    fn strings(urls: &[Url]) -> Vec<&str> {
        urls.iter().map(Url::as_str).collect()
    }

    #[test]
    fn a_urlset_and_an_index() {
        let set = br#"<?xml version="1.0"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <url><loc> http://a.test/one?x=1&amp;y=2 </loc><lastmod>2026-01-01</lastmod></url>
              <url><loc>/two</loc></url><url><loc>mailto:x@a.test</loc></url>
            </urlset>"#;
        let listed = read(set, &base());
        assert_eq!(
            strings(&listed.pages),
            ["http://a.test/one?x=1&y=2", "http://a.test/two"]
        );
        assert_eq!(listed.error, None);
        let index = br#"<sitemapindex><sitemap><loc>http://a.test/s1.xml.gz</loc></sitemap>
            </sitemapindex>"#;
        let listed = read(index, &base());
        assert_eq!(strings(&listed.sitemaps), ["http://a.test/s1.xml.gz"]);
        assert!(listed.pages.is_empty());
    }

    #[test]
    fn gzip_is_inflated() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"<urlset><url><loc>http://a.test/z</loc></url></urlset>")
            .expect("gzip");
        let listed = read(&gz.finish().expect("gzip"), &base());
        assert_eq!(strings(&listed.pages), ["http://a.test/z"]);
    }

    #[test]
    fn what_came_before_a_problem_is_kept_and_the_problem_named() {
        let broken = b"<urlset><url><loc>http://a.test/kept</loc></url><url><loc>x</oops>";
        let listed = read(broken, &base());
        assert_eq!(strings(&listed.pages), ["http://a.test/kept"]);
        assert!(
            listed
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("not XML")),
            "{listed:?}"
        );
        assert!(read(b"", &base()).error.is_some());
        assert!(read(b"just text", &base()).error.is_some());
        let mut many = String::from("<urlset>");
        for i in 0..=MAX_SITEMAP_URLS {
            many.push_str(&format!("<url><loc>http://a.test/{i}</loc></url>"));
        }
        many.push_str("</urlset>");
        let listed = read(many.as_bytes(), &base());
        assert_eq!(listed.pages.len(), MAX_SITEMAP_URLS);
        assert_eq!(
            listed.error.as_deref(),
            Some("over 50000 URLs; the rest are not read")
        );
    }
}
