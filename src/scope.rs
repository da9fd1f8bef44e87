//! Which hosts a crawl may touch.
//!
//! By default only the seeds' own hosts; `--allow-domain D` adds `D` and every subdomain of it.
//! The same [`Scope`] answers for links (in the frontier) and for redirect targets (in the
//! fetcher), so a redirect can never carry the crawler somewhere a link could not.

use std::collections::HashSet;

use url::Url;

use crate::normalize::is_http;

/// The set of hosts a crawl may request.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    hosts: HashSet<String>,
    domains: Vec<String>,
}

impl Scope {
    /// A scope holding the seeds' hosts and the allowed domains (already lower-case ASCII).
    pub fn new<'a>(seeds: impl IntoIterator<Item = &'a Url>, domains: &[String]) -> Self {
        let hosts = seeds
            .into_iter()
            .filter_map(|u| u.host_str().map(str::to_owned))
            .collect();
        Scope {
            hosts,
            domains: domains.to_vec(),
        }
    }

    /// Whether the crawler may request `url`: an http(s) URL on an allowed host.
    pub fn allows(&self, url: &Url) -> bool {
        is_http(url) && url.host_str().is_some_and(|h| self.allows_host(h))
    }

    /// Whether `host` is a seed host, an allowed domain, or a subdomain of one.
    pub fn allows_host(&self, host: &str) -> bool {
        self.hosts.contains(host)
            || self.domains.iter().any(|d| {
                host == d
                    || (host.len() > d.len()
                        && host.ends_with(d.as_str())
                        && host.as_bytes()[host.len() - d.len() - 1] == b'.')
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn seed_hosts_only_by_default() {
        let seeds = [url("http://a.test/x")];
        let s = Scope::new(&seeds, &[]);
        assert!(s.allows(&url("http://a.test/other")));
        assert!(s.allows(&url("https://a.test:8443/other")));
        assert!(!s.allows(&url("http://b.a.test/")));
        assert!(!s.allows(&url("http://b.test/")));
        assert!(!s.allows(&url("ftp://a.test/")));
    }

    #[test]
    fn allowed_domains_include_subdomains_but_not_lookalikes() {
        let s = Scope::new(&[], &["example.com".to_owned()]);
        assert!(s.allows(&url("http://example.com/")));
        assert!(s.allows(&url("http://www.example.com/")));
        assert!(!s.allows(&url("http://badexample.com/")));
        assert!(!s.allows(&url("http://example.com.evil.test/")));
    }
}
