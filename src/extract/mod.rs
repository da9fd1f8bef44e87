//! Title and links from an HTML page, in one streaming pass (no DOM; a user's extractor, in
//! [`crate::scrape`], is the only other HTML parsing).
//!
//! Links and the title need no document tree: a WHATWG tokenizer alone finds `<a href>` and
//! `<area href>`, `<iframe src>` and `<frame src>` too (a page reached only through a frame is
//! a page of the site, as wget2 and Heritrix see it: a book's table of contents, say), `<base
//! href>` for the base URL, the first `<title>`'s text. [`pass`] runs html5gum's tokenizer with
//! an emitter that keeps only those, over the page's text as it is decoded; its module docs say
//! how it streams and what a tokenizer without a tree builder approximates. `<noscript>` is
//! read as markup, as a browser with scripting off reads it: a crawler runs no script.
//!
//! Links are resolved against `<base href>` when present (itself resolved against the page
//! URL, and applying to every link on the page wherever it appears), kept only if http(s) and at
//! most [`MAX_URL_LEN`] long, and stripped of fragments; a page's duplicate links count once.
//! Everything returned is owned, so it can cross threads and processes.
//!
//! A hostile page can hold hundreds of thousands of links, each resolved against a 2 KB base:
//! every one is counted, but only the first [`MAX_LINKS`] are kept, so what one page costs in
//! memory (and in processes mode, on the wire) has a ceiling whatever the page says.
//! Deep nesting costs nothing here: without a tree builder there is no stack of open elements.

mod pass;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use url::Url;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use crate::decode::StreamDecoder;

pub use crate::normalize::MAX_URL_LEN;
use crate::normalize::{fingerprint, followable};
use pass::{Found, Pass};

/// The most links one page hands to the frontier; the rest are counted, not kept. Twenty
/// thousand is far more than any page meant for people has (Heritrix follows 6,000 by default),
/// and at [`MAX_URL_LEN`] each it stays within 40 MB, under the processes mode's message limit.
pub const MAX_LINKS: usize = 20_000;

/// Title text kept while reading, before whitespace is collapsed; past this the title is cut.
pub const MAX_TITLE_BYTES: usize = 2048;

/// What a page yields to the crawler.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// The first `<title>`, whitespace collapsed; `None` if absent or blank.
    pub title: Option<String>,
    /// Absolute, normalised, de-duplicated http(s) links in document order: the first
    /// [`MAX_LINKS`] of them.
    pub links: Vec<Url>,
    /// How many distinct links the page has, including those beyond [`MAX_LINKS`].
    pub links_found: usize,
}

/// Extracts the title and links of `html`, fetched from `page_url`.
pub fn extract(html: &str, page_url: &Url) -> Extracted {
    // Whole: one run, none before it.
    let mut pass = Pass::default();
    pass.text().push_str(html);
    finish(&pass.finish(), page_url)
}

/// The most bytes [`PageStream::write`] decodes at once.
const PIECE: usize = 16 * 1024;

/// Extracts the title and links of an HTML body as its bytes arrive, chunk by chunk, so a
/// page is never held whole: the text is decoded as it comes ([`StreamDecoder`], with the
/// same charset rules as [`crate::decode::decode_html`]) and tokenized as it is decoded.
/// Feeding a body in any pieces gives what [`extract`] gives for the whole of it decoded.
pub struct PageStream {
    pass: Pass,
    decoder: StreamDecoder,
    /// Time spent decoding and tokenizing: the CPU share of the download.
    busy: Duration,
}

impl PageStream {
    /// A pass over a body served with `content_type`.
    pub fn new(content_type: Option<&str>) -> Self {
        PageStream {
            pass: Pass::default(),
            decoder: StreamDecoder::new(content_type),
            busy: Duration::ZERO,
        }
    }

    /// Takes the next piece of the body.
    pub fn write(&mut self, bytes: &[u8]) {
        let started = Instant::now();
        // In pieces of at most PIECE bytes, so the text waiting for the tokenizer stays small
        // however large a chunk the connection hands over (hyper's read buffer grows to
        // hundreds of KB on a fast link): memory per page in flight stays flat.
        for piece in bytes.chunks(PIECE) {
            self.decoder.decode_to(piece, false, self.pass.text());
            self.pass.wrote();
        }
        self.busy += started.elapsed();
    }

    /// The time spent decoding and tokenizing so far.
    pub fn busy(&self) -> Duration {
        self.busy
    }

    /// The end of the body: what the page yields, with links resolved against `page_url`,
    /// and the time spent on it.
    pub fn finish(mut self, page_url: &Url) -> (Extracted, Duration) {
        let started = Instant::now();
        // What the decoder still held goes straight into the last run.
        self.decoder.decode_to(&[], true, self.pass.text());
        let extracted = finish(&self.pass.finish(), page_url);
        (extracted, self.busy + started.elapsed())
    }
}

/// A title as a record holds it: cut to [`MAX_TITLE_BYTES`] on a character boundary (the
/// longest prefix that fits), whitespace collapsed; `None` if blank.
fn tidy_title(text: &str) -> Option<String> {
    let mut end = text.len().min(MAX_TITLE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut collapsed = String::with_capacity(end);
    for word in text[..end].split_whitespace() {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    (!collapsed.is_empty()).then_some(collapsed)
}

/// Resolves, filters and de-duplicates what the pass found.
fn finish(found: &Found, page_url: &Url) -> Extracted {
    let title = found.title().and_then(|t| tidy_title(&t));
    let base = found
        .base()
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone());
    let hrefs = found.hrefs();
    // Sized once: a page's links cost one allocation each for the sets and the list, not a
    // doubling per power of two.
    let mut asked = HashSet::with_capacity_and_hasher(hrefs.len(), Xxh3DefaultBuilder);
    let mut seen = HashSet::with_capacity_and_hasher(hrefs.len(), Xxh3DefaultBuilder);
    let mut links = Vec::with_capacity(hrefs.len().min(MAX_LINKS));
    for href in hrefs {
        // A link over the limit as written is almost always over it once resolved too, and
        // checking first spares parsing megabyte-long hrefs.
        let href = href.trim();
        if href.len() > MAX_URL_LEN {
            continue;
        }
        // Each href is resolved once, without its fragment (which names a place in a page,
        // not another page, and is dropped from every link anyway): pages repeat their links
        // (a menu, a sidebar, a list of anchors into one page), and resolving is the costly
        // part. A URL's fragment is everything after its first `#`, whatever comes before.
        let target = href.split_once('#').map_or(href, |(before, _)| before);
        if !asked.insert(xxhash_rust::xxh3::xxh3_64(target.as_bytes())) {
            continue;
        }
        let Some(url) = base.join(target).ok().and_then(followable) else {
            continue;
        };
        if seen.insert(fingerprint(&url)) && links.len() < MAX_LINKS {
            links.push(url);
        }
    }
    Extracted {
        title,
        links,
        links_found: seen.len(),
    }
}
