//! What the link pass is held to: the DOM that html5ever's tree builder makes with scripting
//! off (the DOM an extractor sees), read for the same things. Tests only.

use html5ever::ns;
use scraper::{ElementRef, Selector};

/// What a page says, before any URL is resolved: the form both sides are compared in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Raw {
    /// The first title's text, as [`super::tidy_title`] leaves it.
    pub title: Option<String>,
    /// The first `<base href>`'s value.
    pub base: Option<String>,
    /// Every `a[href]`, `area[href]`, `frame[src]`, `iframe[src]` value, in document order.
    pub hrefs: Vec<String>,
}

fn is_html(element: &ElementRef<'_>) -> bool {
    element.value().name.ns == ns!(html)
}

/// The reference reading of `html`.
pub(super) fn read(html: &str) -> Raw {
    let dom = crate::scrape::parse_document(html);
    let select = |css: &str| Selector::parse(css).expect("a valid selector");
    // The document's title and base are HTML elements (an `<svg>`'s `<title>` is not the
    // page's); a link is a link in any namespace, as a browser follows an SVG `<a href>`.
    let title = dom
        .select(&select("title"))
        .find(is_html)
        .and_then(|t| super::tidy_title(&t.text().collect::<String>()));
    let base = dom
        .select(&select("base[href]"))
        .find(is_html)
        .and_then(|b| b.value().attr("href").map(str::to_owned));
    let hrefs = dom
        .select(&select("a[href], area[href], frame[src], iframe[src]"))
        .filter_map(|e| {
            let element = e.value();
            let name = if matches!(&*element.name.local, "frame" | "iframe") {
                "src"
            } else {
                "href"
            };
            element.attr(name).map(str::to_owned)
        })
        .collect();
    Raw { title, base, hrefs }
}
