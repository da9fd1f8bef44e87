//! The redirect policy: which `Location` a crawl may follow. One implementation, used for page
//! redirects (the coordinator schedules each hop as a task) and for robots.txt redirects (the
//! fetcher follows those itself, since robots.txt has no robots.txt to obey).

use serde::{Deserialize, Serialize};
use url::Url;

use crate::normalize::{MAX_URL_LEN, is_http};
use crate::scope::Scope;

/// Most redirect hops followed for one page.
pub const MAX_REDIRECTS: u32 = 10;
/// Most redirects followed when fetching robots.txt (RFC 9309 suggests five).
pub const MAX_ROBOTS_REDIRECTS: u32 = 5;

/// Why a redirect is not followed. The `Display` text is what the page's record says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RedirectRefusal {
    /// The chain has followed its most hops already: [`MAX_REDIRECTS`] for a page,
    /// [`MAX_ROBOTS_REDIRECTS`] for a robots.txt.
    #[error("too many redirects")]
    TooMany,
    /// The `Location` is longer than [`MAX_URL_LEN`](crate::limits::MAX_URL_LEN) bytes.
    #[error("redirect to a URL over {MAX_URL_LEN} bytes")]
    TooLong,
    /// The `Location` is not http or https; the scheme it has.
    #[error("redirect to unsupported scheme {0}")]
    Scheme(String),
    /// The `Location`'s host is outside the crawl's scope (the seeds' hosts and
    /// `--allow-domain`); that host.
    #[error("redirect to disallowed host {0}")]
    Host(String),
}

/// Whether a chain that has followed `hops` redirects, at most `max`, may go on to `location`.
pub fn check(hops: u32, max: u32, location: &Url, scope: &Scope) -> Result<(), RedirectRefusal> {
    if hops >= max {
        return Err(RedirectRefusal::TooMany);
    }
    if location.as_str().len() > MAX_URL_LEN {
        return Err(RedirectRefusal::TooLong);
    }
    if !is_http(location) {
        return Err(RedirectRefusal::Scheme(location.scheme().to_owned()));
    }
    if !scope.allows(location) {
        let host = location.host_str().unwrap_or_default().to_owned();
        return Err(RedirectRefusal::Host(host));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn each_refusal_says_why() {
        let scope = Scope::new(&[url("http://a.test/")], &[]);
        let ok = url("http://a.test/next");
        assert_eq!(check(0, 10, &ok, &scope), Ok(()));
        let cases = [
            (10, ok.clone(), "too many redirects"),
            (
                0,
                url(&format!("http://a.test/{}", "x".repeat(MAX_URL_LEN))),
                "redirect to a URL over 2048 bytes",
            ),
            (
                0,
                url("file:///etc/passwd"),
                "redirect to unsupported scheme file",
            ),
            (
                0,
                url("http://b.test/"),
                "redirect to disallowed host b.test",
            ),
        ];
        for (hops, to, why) in cases {
            let err = check(hops, 10, &to, &scope).expect_err(why);
            assert_eq!(err.to_string(), why);
        }
    }
}
