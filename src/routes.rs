//! Routes: one extractor made of several, each for one kind of page, chosen by the page's URL.
//!
//! Scrapy routes a response to a callback (`response.follow(url, callback=self.parse_item)`);
//! here a [`Routes`] picks the first route whose pattern matches the page's URL, and that
//! route's closure says what the page yields and which of its links to follow. Every route's
//! item becomes the crawl's item type `T` through `Into<T>`: one enum with a variant per kind of
//! page (and a `From` for each), or the same struct for all. It is an ordinary
//! [`Extractor`], so it runs in every mode, processes included.

use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::scrape::{Extracted, Extractor, Page};

type Handler<T> = Box<dyn Fn(&Page<'_>) -> Extracted<T> + Send + Sync>;

/// An extractor that sends each page to the route its URL matches.
///
/// A pattern starting with `http://` or `https://` is matched against the whole URL (as the
/// crawl normalises it: host in lower case, no default port), any other against the URL's
/// path (`/shop/product/*`; a missing leading `/` is implied), percent-encoded as in the URL;
/// `*` stands for any run of characters, `/` included, and a pattern must match the whole path
/// (or URL). Routes are
/// tried in the order they were added; a page no route matches goes to
/// [`Routes::otherwise`] (by default: no item, every link followed).
///
/// ```
/// use crawl::scrape::{Css, Extracted, Page, Routes};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize)]
/// struct Chapter { title: String, sections: usize }
///
/// #[derive(Debug, Serialize, Deserialize)]
/// struct Book { name: String, chapters: usize }
///
/// // One item type for the crawl: an enum with a variant per kind of page.
/// #[derive(Debug, Serialize, Deserialize)]
/// #[serde(tag = "kind")]
/// enum Item { Chapter(Chapter), Book(Book) }
/// impl From<Chapter> for Item { fn from(c: Chapter) -> Item { Item::Chapter(c) } }
/// impl From<Book> for Item { fn from(b: Book) -> Item { Item::Book(b) } }
///
/// let (h1, h2, li) = (Css::new("main h1")?, Css::new("main h2")?, Css::new("main li")?);
/// let routes: Routes<Item> = Routes::new()
///     .on("/book/*/ch*.html", move |page: &Page<'_>| {
///         let title = page.text(&h1).unwrap_or_default();
///         Extracted::item(Chapter { title, sections: page.select(&h2).count() })
///             .follow_nothing()
///     })
///     .on("/book/*/", move |page: &Page<'_>| {
///         let chapters = page.select(&li).count();
///         Extracted::item(Book { name: page.url.path().into(), chapters })
///     });
/// # let _ = routes;
/// # Ok::<(), crawl::scrape::CssError>(())
/// ```
pub struct Routes<T> {
    routes: Vec<(Pattern, Handler<T>)>,
    otherwise: Handler<T>,
    columns: Vec<String>,
}

impl<T: 'static> Default for Routes<T> {
    fn default() -> Self {
        Routes::new()
    }
}

impl<T: 'static> Routes<T> {
    /// No routes yet: every page yields nothing and every link is followed.
    pub fn new() -> Self {
        Routes {
            routes: Vec::new(),
            otherwise: Box::new(|_: &Page<'_>| Extracted::nothing()),
            columns: Vec::new(),
        }
    }

    /// Pages whose URL matches `pattern` go to `handler`, whose item becomes a `T`.
    pub fn on<U, F>(mut self, pattern: &str, handler: F) -> Self
    where
        U: Into<T>,
        F: Fn(&Page<'_>) -> Extracted<U> + Send + Sync + 'static,
    {
        let handler = move |page: &Page<'_>| convert(handler(page));
        self.routes.push((Pattern::new(pattern), Box::new(handler)));
        self
    }

    /// Pages no route matches go to `handler` (instead of yielding nothing and following every
    /// link): say `Extracted::nothing().follow_nothing()` to go no further from them.
    pub fn otherwise<U, F>(mut self, handler: F) -> Self
    where
        U: Into<T>,
        F: Fn(&Page<'_>) -> Extracted<U> + Send + Sync + 'static,
    {
        self.otherwise = Box::new(move |page: &Page<'_>| convert(handler(page)));
        self
    }

    /// The items' keys for CSV (`--format csv`, or an items file ending in `.csv`): with several
    /// kinds of item, name every kind's keys here, or the first item written decides the
    /// columns and the other kinds' keys land in the last `extra` column.
    pub fn columns(mut self, columns: &[&str]) -> Self {
        self.columns = columns.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// The pattern of the route `url` goes to (`None`: [`Routes::otherwise`]).
    pub fn route_of(&self, url: &Url) -> Option<&str> {
        self.routes
            .iter()
            .find(|(pattern, _)| pattern.matches(url))
            .map(|(pattern, _)| pattern.text.as_str())
    }
}

fn convert<U: Into<T>, T>(out: Extracted<U>) -> Extracted<T> {
    Extracted {
        item: out.item.map(Into::into),
        follow: out.follow,
        stop: out.stop,
    }
}

impl<T> Extractor for Routes<T>
where
    T: Serialize + DeserializeOwned + Send + 'static,
{
    type Item = T;

    fn extract(&self, page: &Page<'_>) -> Extracted<T> {
        let handler = self
            .routes
            .iter()
            .find(|(pattern, _)| pattern.matches(page.url))
            .map_or(&self.otherwise, |(_, handler)| handler);
        handler(page)
    }

    fn columns(&self) -> Vec<String> {
        self.columns.clone()
    }
}

/// A route's pattern: literal text and `*`, against the path or the whole URL.
struct Pattern {
    text: String,
    /// Against the whole URL (it starts with a scheme), else against the path.
    whole_url: bool,
}

impl Pattern {
    fn new(text: &str) -> Pattern {
        let text = text.trim();
        let whole_url = text.starts_with("http://") || text.starts_with("https://");
        // A path pattern written without its leading slash (`shop/*`) means the same path.
        let text = if whole_url || text.starts_with('/') {
            text.to_owned()
        } else {
            format!("/{text}")
        };
        Pattern { text, whole_url }
    }

    fn matches(&self, url: &Url) -> bool {
        let subject = if self.whole_url {
            url.as_str()
        } else {
            url.path()
        };
        glob(&self.text, subject)
    }
}

/// Whether `text` matches `pattern` whole, `*` standing for any run of characters: the
/// classic two-pointer match, which backtracks only to the last `*`, so it is linear in
/// practice and never exponential.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::{Follow, HeaderMap, parse_document};

    fn url(s: &str) -> Url {
        Url::parse(s).expect("URL")
    }

    #[test]
    fn globs_match_whole_paths() {
        assert!(glob("/shop/product/*", "/shop/product/green-tea"));
        assert!(!glob("/shop/product/*", "/shop/tea/"));
        assert!(glob("/book/*/ch*.html", "/book/rust/ch12.html"));
        assert!(!glob("/book/*/ch*.html", "/book/rust/ch12.html.bak"));
        assert!(glob("*", ""));
        assert!(glob("/a*b*c", "/axxbyyc"));
        assert!(!glob("/a*b*c", "/axxbyy"));
        assert!(glob("/exact/", "/exact/"));
        assert!(!glob("/exact/", "/exact/more"));
        assert!(Pattern::new("shop/*").matches(&url("http://a.test/shop/x")));
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    enum Kind {
        Product(String),
        List(usize),
    }
    impl From<String> for Kind {
        fn from(s: String) -> Kind {
            Kind::Product(s)
        }
    }
    impl From<usize> for Kind {
        fn from(n: usize) -> Kind {
            Kind::List(n)
        }
    }

    #[test]
    fn the_first_matching_route_decides_item_and_links() {
        let routes: Routes<Kind> = Routes::new()
            .on("/shop/product/*", |p: &Page<'_>| {
                Extracted::item(p.url.path().to_owned()).follow_nothing()
            })
            .on("/shop/*", |p: &Page<'_>| Extracted::item(p.links.len()))
            .on("http://other.test/*", |_: &Page<'_>| {
                Extracted::item(0usize).stop()
            });
        let document = parse_document("<p>x</p>");
        let headers = HeaderMap::new();
        let links = [url("http://a.test/x")];
        let run = |u: &str| {
            let u = url(u);
            let page = Page {
                url: &u,
                status: 200,
                headers: &headers,
                document: &document,
                links: &links,
                truncated: false,
            };
            routes.extract(&page)
        };
        let product = run("http://a.test/shop/product/tea");
        assert_eq!(
            product.item,
            Some(Kind::Product("/shop/product/tea".into()))
        );
        assert_eq!(product.follow, Follow::Nothing);
        let list = run("http://a.test/shop/tea/?page=2");
        assert_eq!(list.item, Some(Kind::List(1)));
        assert_eq!(list.follow, Follow::AllLinks);
        assert!(run("http://other.test/anything").stop);
        let other = run("http://a.test/about");
        assert_eq!(
            (other.item, other.follow),
            (None, Follow::AllLinks),
            "otherwise"
        );
        assert_eq!(
            routes.route_of(&url("http://a.test/shop/x")),
            Some("/shop/*")
        );
    }
}
