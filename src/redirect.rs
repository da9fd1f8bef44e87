//! The redirect policy: which `Location` a crawl may follow. One implementation, used for page
//! redirects (the coordinator schedules each hop as a task) and for robots.txt redirects (the
//! fetcher follows those itself, since robots.txt has no robots.txt to obey).

use serde::{Deserialize, Serialize};
use url::Url;

use crate::normalize::{MAX_URL_LEN, is_http};
use crate::scope::{Scope, Standing};

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
    /// The `Location` is on an allowed host, but `--allow-path`, `--allow` or `--deny` leave
    /// it out; that URL.
    #[error("redirect to {0}, which --allow-path/--allow/--deny leave out")]
    Excluded(String),
}

/// How much of the scope a redirect is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Hosts and the path rules: a followed link's redirect goes only where a link could.
    Whole,
    /// Hosts only: a seed's redirect (fetched whatever the rules say, as the seed itself), and
    /// a robots.txt's (whose path no rule is about).
    Hosts,
}

/// Whether a chain that has followed `hops` redirects, at most `max`, may go on to `location`.
pub fn check(
    hops: u32,
    max: u32,
    location: &Url,
    scope: &Scope,
    hold: Hold,
) -> Result<(), RedirectRefusal> {
    if hops >= max {
        return Err(RedirectRefusal::TooMany);
    }
    if location.as_str().len() > MAX_URL_LEN {
        return Err(RedirectRefusal::TooLong);
    }
    if !is_http(location) {
        return Err(RedirectRefusal::Scheme(location.scheme().to_owned()));
    }
    match scope.standing(location) {
        Standing::Within => Ok(()),
        Standing::OffSite => {
            let host = location.host_str().unwrap_or_default().to_owned();
            Err(RedirectRefusal::Host(host))
        }
        Standing::Excluded if hold == Hold::Hosts => Ok(()),
        Standing::Excluded => Err(RedirectRefusal::Excluded(location.to_string())),
    }
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
        assert_eq!(check(0, 10, &ok, &scope, Hold::Whole), Ok(()));
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
            let err = check(hops, 10, &to, &scope, Hold::Whole).expect_err(why);
            assert_eq!(err.to_string(), why);
        }
    }

    #[test]
    fn path_rules_hold_a_links_redirect_but_not_a_seeds() {
        let rules = crate::scope::UrlRules::new()
            .allow_path("/book/")
            .expect("rule");
        let scope = Scope::new(&[url("http://a.test/")], &[]).with_rules(rules);
        let login = url("http://a.test/login");
        let err = check(0, 10, &login, &scope, Hold::Whole).expect_err("left out");
        assert_eq!(
            err.to_string(),
            "redirect to http://a.test/login, which --allow-path/--allow/--deny leave out"
        );
        assert_eq!(check(0, 10, &login, &scope, Hold::Hosts), Ok(()));
        let off = url("http://b.test/book/");
        assert!(
            check(0, 10, &off, &scope, Hold::Hosts).is_err(),
            "hosts still hold"
        );
    }
}
