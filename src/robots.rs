//! robots.txt verdicts, following RFC 9309's status rules.
//!
//! - 2xx: the rules in the body apply (matched with `texting_robots`).
//! - 4xx: "unavailable", so everything is allowed.
//! - 5xx, or unreachable after retries: "unreachable", so everything is disallowed.
//! - A redirect we refuse to follow counts as unavailable (the RFC lets crawlers give up on
//!   redirects and treat the file as missing).
//!
//! The frontier holds one verdict per origin; the file is fetched once, as a task like any
//! other, so it goes through the same limiter and retries.

use std::time::Duration;

use url::Url;

use crate::task::{FetchError, Fetched};

/// The robots.txt verdict for one origin.
#[derive(Debug)]
pub enum Verdict {
    AllowAll,
    DisallowAll,
    Rules(Box<texting_robots::Robot>),
}

/// The longest `Crawl-delay` honoured: a host asking for more (a typo, or 1e9) gets one request
/// a minute, the same bound as a server's Retry-After ([`crate::retry::MAX_RETRY_AFTER`]), so
/// no host can stall the crawl for ever while still being treated as politely as it asks
/// within reason.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);

/// The longest robots.txt we read; the RFC asks crawlers to parse at least 500 KiB.
pub const MAX_ROBOTS_BYTES: u64 = 512 * 1024;

impl Verdict {
    /// The verdict for a final robots.txt outcome (after any retries).
    pub fn from_outcome(outcome: &Result<Fetched, FetchError>, agent: &str) -> Verdict {
        match outcome {
            Ok(f) if (200..300).contains(&f.status) => {
                let body = f.body.as_deref().unwrap_or_default();
                match texting_robots::Robot::new(agent, body) {
                    Ok(robot) => Verdict::Rules(Box::new(robot)),
                    // An unparseable file states no rules we could obey.
                    Err(_) => Verdict::AllowAll,
                }
            }
            Ok(f) if (400..500).contains(&f.status) => Verdict::AllowAll,
            Ok(f) if (300..400).contains(&f.status) => Verdict::AllowAll,
            Ok(_) => Verdict::DisallowAll,
            Err(FetchError::Redirect(_)) => Verdict::AllowAll,
            Err(_) => Verdict::DisallowAll,
        }
    }

    /// A final robots.txt outcome in a form other crawl processes can read back with
    /// [`Verdict::from_portable`] (a shared crawl keeps one verdict per origin): `A` (allow
    /// all), `D` (disallow all), or `R` and the file's body.
    #[cfg(feature = "redis")]
    pub(crate) fn portable(outcome: &Result<Fetched, FetchError>) -> Vec<u8> {
        match outcome {
            Ok(f) if (200..300).contains(&f.status) => {
                let mut text = b"R".to_vec();
                text.extend_from_slice(f.body.as_deref().unwrap_or_default());
                text
            }
            Ok(f) if (300..500).contains(&f.status) => b"A".to_vec(),
            Ok(_) => b"D".to_vec(),
            Err(FetchError::Redirect(_)) => b"A".to_vec(),
            Err(_) => b"D".to_vec(),
        }
    }

    /// The verdict [`Verdict::portable`] wrote, as `agent` reads it: the same one
    /// [`Verdict::from_outcome`] gives for that outcome.
    #[cfg(feature = "redis")]
    pub(crate) fn from_portable(text: &[u8], agent: &str) -> Verdict {
        match text.split_first() {
            Some((b'R', body)) => match texting_robots::Robot::new(agent, body) {
                Ok(robot) => Verdict::Rules(Box::new(robot)),
                Err(_) => Verdict::AllowAll,
            },
            Some((b'A', _)) => Verdict::AllowAll,
            _ => Verdict::DisallowAll,
        }
    }

    /// The `Crawl-delay` the rules ask of us, capped at [`MAX_CRAWL_DELAY`]; `None` when there
    /// is none (or it is not a positive number of seconds).
    pub fn crawl_delay(&self) -> Option<Duration> {
        let Verdict::Rules(robot) = self else {
            return None;
        };
        // Read back through its shortest text, so `Crawl-delay: 0.3` is 0.3 s, not the
        // 0.300000012 an f32 widens to.
        let secs: f64 = robot.delay?.to_string().parse().ok()?;
        (secs.is_finite() && secs > 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_CRAWL_DELAY.as_secs_f64())))
    }

    /// The sitemaps its `Sitemap:` lines name (absolute http(s) URLs only).
    pub fn sitemaps(&self) -> Vec<Url> {
        let Verdict::Rules(robot) = self else {
            return Vec::new();
        };
        robot
            .sitemaps
            .iter()
            .filter_map(|s| Url::parse(s.trim()).ok())
            .filter(crate::normalize::is_http)
            .collect()
    }

    /// Whether `url` may be fetched.
    pub fn allows(&self, url: &Url) -> bool {
        match self {
            Verdict::AllowAll => true,
            Verdict::DisallowAll => false,
            Verdict::Rules(robot) => robot.allowed(url.as_str()),
        }
    }
}

/// The robots.txt URL for the origin of `url`.
pub fn robots_url(url: &Url) -> Url {
    crate::normalize::at_root(url, "/robots.txt")
}

/// The product token robots.txt groups are matched against: the User-Agent's first word,
/// without its version ("crawl/0.1.0 (+info)" gives "crawl").
pub fn product_token(user_agent: &str) -> &str {
    let first = user_agent.split_whitespace().next().unwrap_or(user_agent);
    first.split('/').next().unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(status: u16, body: &str) -> Result<Fetched, FetchError> {
        Ok(Fetched {
            status,
            body: Some(body.as_bytes().to_vec()),
            ..Fetched::default()
        })
    }

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_portable_verdict_reads_back_as_the_same_verdict() {
        let body = "User-agent: *\nDisallow: /private\nCrawl-delay: 2\n";
        let outcomes = [
            fetched(200, body),
            fetched(404, ""),
            fetched(503, ""),
            Err(FetchError::Timeout),
        ];
        let probe = [url("http://a.test/private/x"), url("http://a.test/open")];
        for outcome in &outcomes {
            let direct = Verdict::from_outcome(outcome, "crawl");
            let shared = Verdict::from_portable(&Verdict::portable(outcome), "crawl");
            for u in &probe {
                assert_eq!(direct.allows(u), shared.allows(u), "{outcome:?} {u}");
            }
            assert_eq!(direct.crawl_delay(), shared.crawl_delay());
        }
    }

    #[test]
    fn rules_apply_to_our_token() {
        let txt = "User-agent: crawl\nDisallow: /private/\n\nUser-agent: *\nDisallow: /\n";
        let v = Verdict::from_outcome(&fetched(200, txt), "crawl");
        assert!(v.allows(&url("http://h/public")));
        assert!(!v.allows(&url("http://h/private/x")));
        let other = Verdict::from_outcome(&fetched(200, txt), "otherbot");
        assert!(!other.allows(&url("http://h/public")));
    }

    #[test]
    fn status_rules_follow_rfc_9309() {
        let u = url("http://h/x");
        assert!(Verdict::from_outcome(&fetched(404, ""), "crawl").allows(&u));
        assert!(Verdict::from_outcome(&fetched(403, ""), "crawl").allows(&u));
        assert!(!Verdict::from_outcome(&fetched(503, ""), "crawl").allows(&u));
        assert!(!Verdict::from_outcome(&Err(FetchError::ConnectRefused), "crawl").allows(&u));
        assert!(
            Verdict::from_outcome(
                &Err(FetchError::Redirect(
                    crate::redirect::RedirectRefusal::TooMany
                )),
                "crawl"
            )
            .allows(&u)
        );
    }

    #[test]
    fn crawl_delay_is_read_and_capped() {
        let delay = |txt: &str| Verdict::from_outcome(&fetched(200, txt), "crawl").crawl_delay();
        assert_eq!(
            delay("User-agent: *\nCrawl-delay: 2.5\n"),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            delay("User-agent: *\nCrawl-delay: 1e9\n"),
            Some(MAX_CRAWL_DELAY)
        );
        assert_eq!(delay("User-agent: *\nDisallow: /x\n"), None);
        assert_eq!(delay("User-agent: *\nCrawl-delay: -3\n"), None);
        assert_eq!(Verdict::AllowAll.crawl_delay(), None);
    }

    #[test]
    fn robots_url_and_token() {
        assert_eq!(
            robots_url(&url("https://h:8443/a/b?c#d")).as_str(),
            "https://h:8443/robots.txt"
        );
        assert_eq!(product_token("crawl/0.1.0 (+info)"), "crawl");
        assert_eq!(product_token("MyBot"), "MyBot");
    }
}
