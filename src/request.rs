//! [`Request`]: a request that is not a plain GET, such as a login form's POST, made before a
//! crawl starts ([`crate::Config::login`]); the cookies it gets back open the session the
//! crawl goes on with.

use serde::{Deserialize, Serialize};
use url::Url;

/// One HTTP request: method, URL, headers and body.
///
/// ```
/// let login = crawl::Request::post_form(
///     crawl::Url::parse("https://shop.example/login")?,
///     &[("user", "me"), ("password", "s3cret")],
/// );
/// assert_eq!(login.method, "POST");
/// assert!(!format!("{login:?}").contains("s3cret"), "a body is never printed");
/// # Ok::<(), crawl::url::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The method, upper case (`POST`, `PUT`, `GET`, ...).
    pub method: String,
    /// Where it goes.
    pub url: Url,
    /// Headers besides the crawl's own (`User-Agent`, `-H` headers, cookies).
    pub headers: Vec<(String, String)>,
    /// The body, as sent.
    pub body: Vec<u8>,
}

impl Request {
    /// A GET of `url`.
    pub fn get(url: Url) -> Request {
        Request {
            method: "GET".to_owned(),
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A POST of an HTML form's `fields`, URL-encoded, as a browser sends it.
    pub fn post_form(url: Url, fields: &[(&str, &str)]) -> Request {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
            .into_bytes();
        Request {
            method: "POST".to_owned(),
            url,
            headers: vec![(
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl std::fmt::Debug for Request {
    /// Method and URL only: a login's body and headers hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Request({} {}, {} header(s), {} byte body)",
            self.method,
            self.url,
            self.headers.len(),
            self.body.len()
        )
    }
}
