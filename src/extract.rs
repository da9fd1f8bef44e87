//! Title and links from an HTML page, in one streaming pass (no DOM; a user's extractor, in
//! [`crate::scrape`], is the only other HTML parsing).
//!
//! Links and the title need no document tree, so we run html5ever's tokenizer alone and watch
//! the tags go by: `<a href>` and `<area href>` for links, `<iframe src>` and `<frame src>` too
//! (a page reached only through a frame is a page of the site, as wget2 and Heritrix see it: a
//! book's table of contents, say), `<base href>` for the base URL, the first `<title>`'s text. Skipping the tree builder removes most of the parsing cost (about
//! two thirds of it; see the README's benchmark notes). The one thing the tree builder did that
//! matters here is switching the tokenizer into raw-text states after `<script>`, `<style>`,
//! `<title>`, `<textarea>` and friends, so that markup inside them is not mistaken for tags; the
//! sink below does the same.
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

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::time::{Duration, Instant};

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use html5ever::{LocalName, local_name};
use url::Url;

use crate::decode::StreamDecoder;

pub use crate::normalize::MAX_URL_LEN;
use crate::normalize::{fingerprint, followable};

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
    let mut pass = Pass::new();
    pass.feed(html);
    pass.finish(page_url)
}

/// The most bytes [`PageStream::write`] decodes and tokenizes at once.
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

// SAFETY: a `PageStream` is not `Send` by default only because html5ever's tendrils are not:
// clones of a tendril share a buffer through a non-atomic reference count. Every tendril a
// stream holds was made inside it (the input queue's copies of decoded text, the tokenizer's
// buffers, the sink's hrefs cloned from them) and none is ever handed out (`finish` returns
// owned `String`s and `Url`s), so all the tendrils sharing any buffer move between threads
// together, and no count is ever touched from two threads. The async mode needs it: a task
// carries the stream across `.await`s, and tokio spawns only `Send` tasks (its current-thread
// reactors never actually move one).
unsafe impl Send for PageStream {}

impl PageStream {
    /// A pass over a body served with `content_type`.
    pub fn new(content_type: Option<&str>) -> Self {
        PageStream {
            pass: Pass::new(),
            decoder: StreamDecoder::new(content_type),
            busy: Duration::ZERO,
        }
    }

    /// Takes the next piece of the body.
    pub fn write(&mut self, bytes: &[u8]) {
        let started = Instant::now();
        // In pieces of at most PIECE bytes, so the decoded text and its tendril stay small
        // however large a chunk the connection hands over (hyper's read buffer grows to
        // hundreds of KB on a fast link): memory per page in flight stays flat.
        for piece in bytes.chunks(PIECE) {
            self.pass.feed(self.decoder.decode(piece, false));
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
        self.pass.feed(self.decoder.decode(&[], true));
        let extracted = self.pass.finish(page_url);
        (extracted, self.busy + started.elapsed())
    }
}

/// One tokenizer pass: text in, in as many pieces as it comes; title and links out.
struct Pass {
    tokenizer: Tokenizer<Sink>,
    input: BufferQueue,
    /// Whether any text has come yet.
    started: bool,
}

impl Pass {
    fn new() -> Self {
        // html5ever drops a U+FEFF at the start of every feed when asked to; a U+FEFF inside
        // a title or href that happens to start a piece is text, so only the document's first
        // one is dropped, here.
        let opts = TokenizerOpts {
            discard_bom: false,
            ..TokenizerOpts::default()
        };
        Pass {
            tokenizer: Tokenizer::new(Sink::default(), opts),
            input: BufferQueue::default(),
            started: false,
        }
    }

    fn feed(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let text = if self.started {
            text
        } else {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        };
        self.started = true;
        if text.is_empty() {
            return;
        }
        self.input.push_back(StrTendril::from_slice(text));
        // Our sink never asks the tokenizer to pause for a script, so a feed consumes all
        // input; a tag or character reference cut by the end of a piece waits inside the
        // tokenizer for the next one.
        let _ = self.tokenizer.feed(&self.input);
    }

    fn finish(self, page_url: &Url) -> Extracted {
        self.tokenizer.end();
        finish(self.tokenizer.sink, page_url)
    }
}

/// Resolves, filters and de-duplicates what the sink collected.
fn finish(sink: Sink, page_url: &Url) -> Extracted {
    let title = sink.title.into_inner().and_then(|t| {
        let mut collapsed = String::with_capacity(t.len());
        for word in t.split_whitespace() {
            if !collapsed.is_empty() {
                collapsed.push(' ');
            }
            collapsed.push_str(word);
        }
        (!collapsed.is_empty()).then_some(collapsed)
    });
    let base = sink
        .base
        .into_inner()
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone());
    let hrefs = sink.hrefs.into_inner();
    // Sized once: a page's links cost one allocation each for the set and the list, not a
    // doubling per power of two.
    let mut seen = HashSet::with_capacity(hrefs.len());
    let mut links = Vec::with_capacity(hrefs.len().min(MAX_LINKS));
    for href in hrefs {
        // A link over the limit as written is almost always over it once resolved too, and
        // checking first spares parsing megabyte-long hrefs.
        let href = href.trim();
        if href.len() > MAX_URL_LEN {
            continue;
        }
        let Some(url) = base.join(href).ok().and_then(followable) else {
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

/// Collects what [`extract`] needs as tokens stream by. The tokenizer hands the sink out by
/// shared reference, hence the cells.
struct Sink {
    hrefs: RefCell<Vec<StrTendril>>,
    base: RefCell<Option<StrTendril>>,
    /// The first title's text; `Some` from its start tag on.
    title: RefCell<Option<String>>,
    in_title: Cell<bool>,
}

impl Default for Sink {
    fn default() -> Self {
        Sink {
            // Room for a typical page's links from the start, rather than growing 4, 8, 16.
            hrefs: RefCell::new(Vec::with_capacity(32)),
            base: RefCell::default(),
            title: RefCell::default(),
            in_title: Cell::default(),
        }
    }
}

fn attr<'a>(tag: &'a Tag, name: &LocalName) -> Option<&'a StrTendril> {
    tag.attrs
        .iter()
        .find(|a| a.name.local == *name)
        .map(|a| &a.value)
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => return self.start_tag(&tag),
            Token::TagToken(tag) if tag.name == local_name!("title") => self.in_title.set(false),
            Token::CharacterTokens(text) if self.in_title.get() => {
                // An unclosed <title> would make the rest of the page the title; a record (and
                // a message between processes) must stay small whatever the page says.
                if let Some(title) = self.title.borrow_mut().as_mut() {
                    let mut room = MAX_TITLE_BYTES.saturating_sub(title.len()).min(text.len());
                    while !text.is_char_boundary(room) {
                        room -= 1;
                    }
                    title.push_str(&text[..room]);
                    if room < text.len() {
                        // Cut: the title is the longest prefix that fits, however the text
                        // was split into tokens (a later, shorter character must not slip in).
                        self.in_title.set(false);
                    }
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

impl Sink {
    fn start_tag(&self, tag: &Tag) -> TokenSinkResult<()> {
        let name = &tag.name;
        if *name == local_name!("a") || *name == local_name!("area") {
            if let Some(href) = attr(tag, &local_name!("href")) {
                self.hrefs.borrow_mut().push(href.clone());
            }
        } else if *name == local_name!("frame") {
            if let Some(src) = attr(tag, &local_name!("src")) {
                self.hrefs.borrow_mut().push(src.clone());
            }
        } else if *name == local_name!("iframe") {
            if let Some(src) = attr(tag, &local_name!("src")) {
                self.hrefs.borrow_mut().push(src.clone());
            }
            // Its content is fallback text for browsers without frames, not markup.
            return TokenSinkResult::RawData(RawKind::Rawtext);
        } else if *name == local_name!("base") {
            let mut base = self.base.borrow_mut();
            if base.is_none() {
                *base = attr(tag, &local_name!("href")).cloned();
            }
        } else if *name == local_name!("title") {
            let mut title = self.title.borrow_mut();
            if title.is_none() {
                *title = Some(String::new());
                self.in_title.set(true);
            }
            return TokenSinkResult::RawData(RawKind::Rcdata);
        } else if *name == local_name!("textarea") {
            return TokenSinkResult::RawData(RawKind::Rcdata);
        } else if *name == local_name!("script") {
            return TokenSinkResult::RawData(RawKind::ScriptData);
        } else if [
            local_name!("style"),
            local_name!("xmp"),
            local_name!("noembed"),
            local_name!("noframes"),
            // As a browser with scripting on reads it, like html5ever's tree builder.
            local_name!("noscript"),
        ]
        .contains(name)
        {
            return TokenSinkResult::RawData(RawKind::Rawtext);
        } else if *name == local_name!("plaintext") {
            return TokenSinkResult::Plaintext;
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(links(&e), ["http://h.test/real"]);
    }

    /// The streaming pass must find what a full DOM parse finds, on pages like the fixtures.
    #[test]
    fn agrees_with_a_full_dom_parse() {
        let pages = [
            include_str!("../fixtures/site/index.html"),
            include_str!("../fixtures/site/about.html"),
            include_str!("../fixtures/site/docs/guide.html"),
            include_str!("../fixtures/site/team/members.html"),
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
}
