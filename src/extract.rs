//! Title and links from an HTML page (the only `scraper` user).
//!
//! Parsing is synchronous and returns owned data: scraper's `Html` is not `Send`, so it must
//! never be held across an `.await` or sent to another thread. Links are resolved against
//! `<base href>` when present (itself resolved against the page URL), kept only if http(s), and
//! stripped of fragments; a page's duplicate links count once.

use std::collections::HashSet;
use std::sync::LazyLock;

use scraper::{Html, Selector};
use url::Url;

use crate::normalize::{fingerprint, is_http, normalize};

/// What a page yields to the crawler.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// The first `<title>`, whitespace collapsed; `None` if absent or blank.
    pub title: Option<String>,
    /// Absolute, normalised, de-duplicated http(s) links in document order.
    pub links: Vec<Url>,
}

fn selector(css: &str) -> Selector {
    // These are fixed, tested literals: failure here is a programming error, caught by tests.
    Selector::parse(css).unwrap_or_else(|e| panic!("built-in selector {css:?}: {e}"))
}

static TITLE: LazyLock<Selector> = LazyLock::new(|| selector("title"));
static BASE: LazyLock<Selector> = LazyLock::new(|| selector("base[href]"));
static LINKS: LazyLock<Selector> = LazyLock::new(|| selector("a[href], area[href]"));

/// Extracts the title and links of `html`, fetched from `page_url`.
pub fn extract(html: &str, page_url: &Url) -> Extracted {
    let doc = Html::parse_document(html);
    let title = doc.select(&TITLE).next().and_then(|t| {
        let text = t.text().collect::<Vec<_>>().join(" ");
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        (!collapsed.is_empty()).then_some(collapsed)
    });
    let base = doc
        .select(&BASE)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone());
    let mut seen = HashSet::new();
    let links = doc
        .select(&LINKS)
        .filter_map(|a| a.value().attr("href"))
        .filter_map(|href| base.join(href.trim()).ok())
        .filter(is_http)
        .map(normalize)
        .filter(|u| seen.insert(fingerprint(u)))
        .collect();
    Extracted { title, links }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn title_is_trimmed_and_collapsed() {
        let e = page("<title>\n  Hello\n   world </title>");
        assert_eq!(e.title.as_deref(), Some("Hello world"));
        assert_eq!(page("<title>  </title>").title, None);
        assert_eq!(page("<p>no title</p>").title, None);
    }

    #[test]
    fn links_resolve_filter_and_dedupe() {
        let e = page(
            r#"<a href="a.html">a</a><a href="a.html#x">same</a><a href="/root">r</a>
               <a href="HTTP://Other.test:80/p">o</a><a href="mailto:x@y">m</a>
               <a href="javascript:void(0)">j</a><a href="data:text/html,hi">d</a>
               <a href="//proto.test/rel">p</a><a href="http://[bad">bad</a><a>no href</a>
               <map><area href="area.html"></map>"#,
        );
        assert_eq!(
            links(&e),
            [
                "http://h.test/dir/a.html",
                "http://h.test/root",
                "http://other.test/p",
                "http://proto.test/rel",
                "http://h.test/dir/area.html",
            ]
        );
    }

    #[test]
    fn base_href_changes_resolution() {
        let e = page(
            r#"<head><base href="/docs/v2/"></head><a href="page.html">p</a><a href="../intro.html">i</a>"#,
        );
        assert_eq!(
            links(&e),
            [
                "http://h.test/docs/v2/page.html",
                "http://h.test/docs/intro.html"
            ]
        );
    }
}
