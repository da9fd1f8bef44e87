//! Your own scraper: an [`Extractor`] sees each page and returns your item and the links to
//! follow; [`crate::Crawl`] runs it in any mode.
//!
//! This module is the scraper's side of the contract only (the page, the selectors, what an
//! extractor returns); it knows nothing of how a crawl runs.
//!
//! The crawler does the rest as it does for every crawl: robots.txt, scope, depth, rate limits,
//! retries, redirects, one record per URL, Ctrl-C and `--state`. Your extractor runs where the
//! mode parses pages — on the calling thread, on a worker thread, on tokio's blocking pool, or
//! in a forked worker process — so it must be `Send + Sync`, and its item must be `serde`
//! serialisable: that is how it crosses the process boundary in processes mode (as JSON), and
//! how it lands in the records (inline, beside `url` and `status`).
//!
//! ## A scraper in 30 lines
//!
//! Describe a page with CSS selectors, return your own `serde` item and the links worth
//! following, and [`crate::Crawl`] does the crawling: robots.txt, scope, depth, rate limits,
//! retries, redirects, Ctrl-C, `--state`-style resume, in whichever [`crate::Mode`] you pick.
//!
//! ```no_run
//! use crawl::scrape::{Css, Extracted, Page};
//! use crawl::{Config, Crawl, Mode, Output, Url};
//! use serde::{Deserialize, Serialize}; // serde = { version = "1", features = ["derive"] }
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Product {
//!     name: String,
//!     price: String,
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (name, price) = (Css::new("h1.name")?, Css::new(".price")?);
//!     let onward = Css::new("a.category, a[rel=next], a.product-link")?;
//!     let mut config = Config::new(vec![Url::parse("https://shop.example/")?]);
//!     config.mode = Mode::Threads;
//!     config.workers = Some(8);
//!     config.depth = 10;
//!     config.per_host_rate = Some(2.0); // be polite
//!     config.output = Output::Discard; // items come to the closure below
//!     let extractor = move |page: &Page| {
//!         let product = page.text(&name).map(|name| Product {
//!             name,
//!             price: page.text(&price).unwrap_or_default(),
//!         });
//!         Extracted::maybe(product).follow(page.links_in(&onward))
//!     };
//!     let summary = Crawl::new(config, extractor).for_each(|record, product| {
//!         println!("{}\t{}\t{}", product.name, product.price, record.url);
//!         Ok(())
//!     })?;
//!     eprintln!("{summary}");
//!     Ok(())
//! }
//! ```
//!
//! Complete versions run against the fixture shop: `cargo run --example starter` (every crawl
//! flag through [`crate::cli`], one [`Routes`] route per kind of page, `--items` for a file of
//! items alone), `cargo run --example shop_products` (typed structs into CSV) and
//! `cargo run --example follow_pagination` (next-page links only, stopping on a condition).
//! To keep one part of a site, [`UrlRules`] (or [`crate::Config::allow_paths`]) and
//! [`Page::links_matching`]. Without code, `crawl --field price=.price --field img=img@src`
//! does the same for flat fields, and `--format csv` writes a table.

use std::fmt;

use scraper::{ElementRef, Html, Selector};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

/// Response headers, as the `http` crate (the ecosystem's common ground) types them.
pub use http::HeaderMap;
/// The HTML parser behind [`Page::document`] and [`Css`], for its own API (`ElementRef`,
/// `Html`, `Selector`) without a dependency of your own.
pub use scraper;

use crate::normalize::followable;
/// One extractor per kind of page, chosen by URL.
pub use crate::routes::Routes;
/// Path and pattern rules on URLs, as `--allow-path`, `--allow` and `--deny` apply them.
pub use crate::scope::{RuleError, UrlRules};

/// A fetched HTML page (2xx), as an extractor sees it.
pub struct Page<'a> {
    /// The URL the page was served from (after redirects).
    pub url: &'a Url,
    /// The response's HTTP status (always 2xx).
    pub status: u16,
    /// Every header of the response.
    pub headers: &'a HeaderMap,
    /// The parsed document (scraper's DOM), for CSS selectors.
    pub document: &'a Html,
    /// The links the crawler found on the page: absolute, normalised, http(s) only, in order.
    pub links: &'a [Url],
    /// The body was cut at `--max-bytes` (`Config::max_bytes`): the document is the part that
    /// arrived, so an item read from its end may be missing.
    pub truncated: bool,
}

impl Page<'_> {
    /// The elements matching `css`, in document order.
    pub fn select<'s>(&'s self, css: &'s Css) -> impl Iterator<Item = ElementRef<'s>> + 's {
        self.document.select(&css.0)
    }

    /// The text of the first element matching `css`, whitespace collapsed; `None` if there is
    /// no match or it is blank.
    pub fn text(&self, css: &Css) -> Option<String> {
        self.select(css).find_map(|e| collapse(e.text()))
    }

    /// The text of every element matching `css` (blank ones skipped).
    pub fn texts(&self, css: &Css) -> Vec<String> {
        self.select(css)
            .filter_map(|e| collapse(e.text()))
            .collect()
    }

    /// Attribute `name` of the first element matching `css` that has it.
    pub fn attr(&self, css: &Css, name: &str) -> Option<String> {
        self.select(css)
            .find_map(|e| e.value().attr(name).map(|v| v.trim().to_owned()))
    }

    /// Attribute `name` of every element matching `css` that has it.
    pub fn attrs(&self, css: &Css, name: &str) -> Vec<String> {
        self.select(css)
            .filter_map(|e| e.value().attr(name).map(|v| v.trim().to_owned()))
            .collect()
    }

    /// The `href`s of the elements matching `css` (typically `a[rel=next]` or
    /// `a.product-link`), resolved against the page and normalised like every link the crawler
    /// follows; anything not http(s) is dropped.
    pub fn links_in(&self, css: &Css) -> Vec<Url> {
        let base = self.base_url();
        self.select(css)
            .filter_map(|e| e.value().attr("href"))
            .filter_map(|href| base.join(href.trim()).ok().and_then(followable))
            .collect()
    }

    /// The links the crawler found on this page that `rules` let in: the same rules as
    /// [`crate::Config::allow_paths`], [`crate::Config::allow`] and [`crate::Config::deny`],
    /// for an extractor that follows one kind of link from one kind of page.
    ///
    /// ```
    /// # use crawl::scrape::{Extracted, Page, UrlRules};
    /// let chapters = UrlRules::new().allow_path("/book/")?.deny("/print/")?;
    /// let extractor = move |page: &Page<'_>| {
    ///     Extracted::<()>::nothing().follow(page.links_matching(&chapters))
    /// };
    /// # let _ = extractor;
    /// # Ok::<(), crawl::scrape::RuleError>(())
    /// ```
    pub fn links_matching(&self, rules: &UrlRules) -> Vec<Url> {
        self.links
            .iter()
            .filter(|u| rules.matches(u))
            .cloned()
            .collect()
    }

    /// The URL relative references on this page resolve against: its `<base href>` (itself
    /// resolved against the page) if it has one, else the page's own URL, as a browser does.
    pub fn base_url(&self) -> Url {
        thread_local! {
            static BASE: Option<Selector> = Selector::parse("base[href]").ok();
        }
        BASE.with(|base| {
            base.as_ref()
                .and_then(|sel| self.document.select(sel).next())
                .and_then(|e| e.value().attr("href"))
                .and_then(|href| self.url.join(href.trim()).ok())
                .unwrap_or_else(|| self.url.clone())
        })
    }
}

fn collapse<'t>(text: impl Iterator<Item = &'t str>) -> Option<String> {
    let mut out = String::new();
    for word in text.flat_map(str::split_whitespace) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    (!out.is_empty()).then_some(out)
}

/// A CSS selector, parsed once (parse it outside your extractor, not per page).
#[derive(Debug, Clone)]
pub struct Css(Selector);

/// A CSS selector that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid CSS selector {css:?}: {reason}")]
pub struct CssError {
    /// The selector as given.
    pub css: String,
    /// What the CSS parser said is wrong with it.
    pub reason: String,
}

impl Css {
    /// Parses `css`, a selector list as in a style sheet (`h1.name`, `a[rel=next], .more`).
    pub fn new(css: &str) -> Result<Css, CssError> {
        Selector::parse(css).map(Css).map_err(|e| CssError {
            css: css.to_owned(),
            reason: e.to_string(),
        })
    }

    /// The text of the first element inside `within` that matches, whitespace collapsed: for
    /// fields of one entry in a list (`li.product` -> its `.price`).
    pub fn text_in(&self, within: ElementRef<'_>) -> Option<String> {
        within.select(&self.0).find_map(|e| collapse(e.text()))
    }

    /// Attribute `name` of the first element inside `within` that matches and has it.
    pub fn attr_in(&self, within: ElementRef<'_>, name: &str) -> Option<String> {
        within
            .select(&self.0)
            .find_map(|e| e.value().attr(name).map(|v| v.trim().to_owned()))
    }

    /// The parsed selector, for scraper's own API.
    pub fn selector(&self) -> &Selector {
        &self.0
    }
}

/// Which links of a page the crawl should follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    /// Every link on the page (the crawler's default), within scope and `--depth`.
    AllLinks,
    /// Only these (still within scope and `--depth`).
    Only(Vec<Url>),
    /// None.
    Nothing,
}

/// What an extractor returns for one page.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted<T> {
    /// Your item, if the page has one.
    pub item: Option<T>,
    /// Which of the page's links the crawl follows; [`Follow::AllLinks`] unless you say.
    pub follow: Follow,
    /// Stop the whole crawl after this page: nothing new is started, pages
    /// in flight finish and are recorded.
    pub stop: bool,
}

impl<T> Extracted<T> {
    /// An item; follow every link.
    pub fn item(item: T) -> Self {
        Extracted::maybe(Some(item))
    }

    /// An item if there is one; follow every link.
    pub fn maybe(item: Option<T>) -> Self {
        Extracted {
            item,
            follow: Follow::AllLinks,
            stop: false,
        }
    }

    /// No item; follow every link.
    pub fn nothing() -> Self {
        Extracted::maybe(None)
    }

    /// Follow only `links` from this page.
    pub fn follow(mut self, links: Vec<Url>) -> Self {
        self.follow = Follow::Only(links);
        self
    }

    /// Follow no link from this page.
    pub fn follow_nothing(mut self) -> Self {
        self.follow = Follow::Nothing;
        self
    }

    /// Stop the crawl after this page.
    pub fn stop(mut self) -> Self {
        self.stop = true;
        self
    }
}

/// Your scraper's logic: one call per successful HTML page.
///
/// A closure `Fn(&Page) -> Extracted<T>` is an extractor too, so a struct is only needed to
/// declare [`Extractor::columns`] for CSV output. Give the closure's argument its type,
/// `|page: &Page<'_>| ...`: Rust cannot infer it through the trait.
pub trait Extractor: Send + Sync + 'static {
    /// What you extract: `#[derive(Serialize, Deserialize)]` on your struct or enum (serde
    /// with its `derive` feature).
    ///
    /// Why `Deserialize` too: in processes mode your extractor runs in a forked worker
    /// process, and its item crosses back to the crawl as JSON; [`crate::Crawl::for_each`]
    /// reads it back into your type (in every mode, so a scraper behaves the same whichever
    /// mode runs it). An item that does not survive the round trip stops the crawl with an
    /// error naming the page.
    type Item: Serialize + DeserializeOwned + Send + 'static;

    /// Your item from `page`, the links to follow, and whether to stop the crawl.
    fn extract(&self, page: &Page<'_>) -> Extracted<Self::Item>;

    /// The item's keys, in order, for `--format csv` columns (keys not listed still reach the
    /// CSV, in its last column).
    fn columns(&self) -> Vec<String> {
        Vec::new()
    }
}

impl<F, T> Extractor for F
where
    F: Fn(&Page<'_>) -> Extracted<T> + Send + Sync + 'static,
    T: Serialize + DeserializeOwned + Send + 'static,
{
    type Item = T;

    fn extract(&self, page: &Page<'_>) -> Extracted<T> {
        self(page)
    }
}

/// An extractor with its item type erased to JSON: what [`crate::Config::extractor`] holds and
/// workers call. Every [`Extractor`] is one.
pub trait PageExtractor: Send + Sync {
    /// [`Extractor::extract`], its item turned into JSON (an item that will not serialise
    /// becomes `{"extract_error": "item not serialisable: ..."}`).
    fn extract_value(&self, page: &Page<'_>) -> Extracted<Value>;
    /// [`Extractor::columns`]: the item's keys for `--format csv`.
    fn columns(&self) -> Vec<String>;
}

impl<E: Extractor> PageExtractor for E {
    fn extract_value(&self, page: &Page<'_>) -> Extracted<Value> {
        let out = self.extract(page);
        let item = out.item.map(|item| {
            serde_json::to_value(item).unwrap_or_else(
                |e| serde_json::json!({ "extract_error": format!("item not serialisable: {e}") }),
            )
        });
        Extracted {
            item,
            follow: out.follow,
            stop: out.stop,
        }
    }

    fn columns(&self) -> Vec<String> {
        Extractor::columns(self)
    }
}

impl fmt::Debug for dyn PageExtractor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageExtractor")
            .field("columns", &self.columns())
            .finish()
    }
}

/// What a page's extractor produced, as the worker hands it back.
pub(crate) struct ExtractorOutput {
    pub item: Option<Value>,
    /// `None`: follow every link the crawler found.
    pub follow: Option<Vec<Url>>,
    pub stop: bool,
}

/// Parses `html` into the DOM an extractor sees, as a browser with scripting off parses it:
/// a crawler runs no script, so `<noscript>` is markup here, as it is for the link pass.
pub fn parse_document(html: &str) -> Html {
    use html5ever::driver::{self, ParseOpts};
    use html5ever::tendril::TendrilSink;
    use html5ever::tree_builder::TreeBuilderOpts;
    let opts = ParseOpts {
        tree_builder: TreeBuilderOpts {
            scripting_enabled: false,
            ..TreeBuilderOpts::default()
        },
        ..ParseOpts::default()
    };
    driver::parse_document(scraper::HtmlTreeSink::new(Html::new_document()), opts).one(html)
}

/// Parses `html` and runs `extractor` on it.
pub(crate) fn run_extractor(
    extractor: &dyn PageExtractor,
    url: &Url,
    status: u16,
    headers: &HeaderMap,
    html: &str,
    links: &[Url],
    truncated: bool,
) -> ExtractorOutput {
    let document = parse_document(html);
    let page = Page {
        url,
        status,
        headers,
        document: &document,
        links,
        truncated,
    };
    let out = extractor.extract_value(&page);
    let follow = match out.follow {
        Follow::AllLinks => None,
        Follow::Only(urls) => Some(urls.into_iter().filter_map(followable).collect()),
        Follow::Nothing => Some(Vec::new()),
    };
    ExtractorOutput {
        item: out.item,
        follow,
        stop: out.stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(html: &str, f: impl FnOnce(&Page<'_>)) {
        let url = Url::parse("http://shop.test/a/b.html").expect("URL");
        let document = parse_document(html);
        let headers = HeaderMap::new();
        f(&Page {
            url: &url,
            status: 200,
            headers: &headers,
            document: &document,
            links: &[],
            truncated: false,
        });
    }

    #[test]
    fn helpers_read_text_attributes_and_links() {
        let html = r#"<base href="/base/"><h1> Green
            Tea </h1><p class=price>£4.50</p><p class=price>£5</p><p class=price> </p>
            <img src="x.png"><img src="y.png"><a rel=next href="?page=2#top">n</a>
            <a rel=next href="mailto:a@b">m</a>"#;
        page_of(html, |page| {
            let css = |s| Css::new(s).expect("selector");
            assert_eq!(page.text(&css("h1")).as_deref(), Some("Green Tea"));
            assert_eq!(page.texts(&css(".price")), ["£4.50", "£5"]);
            assert_eq!(page.attrs(&css("img"), "src"), ["x.png", "y.png"]);
            assert_eq!(page.attr(&css("img"), "alt"), None);
            let next: Vec<String> = page
                .links_in(&css("a[rel=next]"))
                .iter()
                .map(Url::to_string)
                .collect();
            assert_eq!(next, ["http://shop.test/base/?page=2"]);
        });
    }

    #[test]
    fn a_bad_selector_says_which() {
        let err = Css::new("p[").expect_err("invalid");
        assert!(err.to_string().contains("\"p[\""), "{err}");
    }

    #[test]
    fn a_closure_is_an_extractor_and_its_item_becomes_json() {
        let extractor = |page: &Page<'_>| Extracted::item(page.status).follow_nothing().stop();
        let out = run_extractor(
            &extractor,
            &Url::parse("http://a.test/").expect("URL"),
            200,
            &HeaderMap::new(),
            "<p>hi</p>",
            &[],
            false,
        );
        assert_eq!(out.item, Some(serde_json::json!(200)));
        assert_eq!(out.follow, Some(Vec::new()));
        assert!(out.stop);
    }
}
