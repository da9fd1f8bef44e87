//! Which URLs a crawl may touch: the hosts, then the paths.
//!
//! By default only the seeds' own hosts; `--allow-domain D` adds `D` and every subdomain of it.
//! On those hosts, [`UrlRules`] narrow it further by path and pattern (`--allow-path`,
//! `--allow`, `--deny`), as Scrapy's `LinkExtractor(allow=..., deny=...)` does. The same
//! [`Scope`] answers for links (in the frontier) and for redirect targets (in the fetcher), so a
//! redirect can never carry the crawler somewhere a link could not. Seeds are fetched whatever
//! the rules say: a user who names a page wants it.

use std::collections::HashSet;

use regex::RegexSet;
use url::Url;

use crate::normalize::is_http;

/// The set of URLs a crawl may request: hosts, then [`UrlRules`].
#[derive(Debug, Clone, Default)]
pub struct Scope {
    hosts: HashSet<String>,
    domains: Vec<String>,
    rules: UrlRules,
}

/// Where a URL stands with a [`Scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// On an allowed host, and the rules let it in.
    Within,
    /// Not http(s), or on a host the crawl may not touch.
    OffSite,
    /// On an allowed host, but left out by `--allow-path`, `--allow` or `--deny`.
    Excluded,
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
            rules: UrlRules::default(),
        }
    }

    /// This scope, narrowed on its hosts by `rules`.
    pub fn with_rules(mut self, rules: UrlRules) -> Self {
        self.rules = rules;
        self
    }

    /// Whether the crawler may request `url`: an http(s) URL on an allowed host that the
    /// rules let in.
    pub fn allows(&self, url: &Url) -> bool {
        self.standing(url) == Standing::Within
    }

    /// Where `url` stands: within, off-site, or excluded by the rules.
    pub fn standing(&self, url: &Url) -> Standing {
        if !(is_http(url) && url.host_str().is_some_and(|h| self.allows_host(h))) {
            Standing::OffSite
        } else if self.rules.matches(url) {
            Standing::Within
        } else {
            Standing::Excluded
        }
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

/// Rules on a URL's path and text: which pages of a site to keep.
///
/// A URL passes when it matches no `deny` pattern and, if any `allow_path` prefix or `allow`
/// pattern is given, at least one of them. A path prefix (`/book/`) is compared with the URL's
/// path; a prefix that is a URL (`https://docs.example/book/`) with the whole URL. Patterns are
/// regular expressions ([`regex`](https://docs.rs/regex) syntax) searched anywhere in the
/// normalised URL, query included: anchor them (`^https://a\.example/book/ch\d+\.html$`) to
/// mean the whole URL.
///
/// ```
/// use crawl::scrape::UrlRules;
/// use crawl::Url;
///
/// let chapters = UrlRules::new()
///     .allow_path("/book/")?
///     .deny(r"/print/|\?print=")?;
/// assert!(chapters.matches(&Url::parse("https://docs.example/book/ch1.html")?));
/// assert!(!chapters.matches(&Url::parse("https://docs.example/book/print/ch1.html")?));
/// assert!(!chapters.matches(&Url::parse("https://docs.example/blog/")?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct UrlRules {
    paths: Vec<String>,
    prefixes: Vec<String>,
    allow: Vec<String>,
    deny: Vec<String>,
    allow_set: Option<RegexSet>,
    deny_set: Option<RegexSet>,
}

/// A rule of [`UrlRules`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A path prefix that neither starts with `/` nor is an http(s) URL.
    #[error("{prefix:?} is neither a path starting with / nor an http(s) URL")]
    Prefix {
        /// The prefix as given.
        prefix: String,
    },
    /// A pattern that is not a valid regular expression.
    #[error("{pattern:?} is not a valid regular expression: {reason}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex parser said, on one line.
        reason: String,
    },
}

impl UrlRules {
    /// No rules: every URL passes.
    pub fn new() -> Self {
        UrlRules::default()
    }

    /// The rules of a crawl's settings (`--allow-path`, `--allow`, `--deny`), each
    /// repeatable. The error names the rule at fault.
    pub fn of(paths: &[String], allow: &[String], deny: &[String]) -> Result<Self, RuleError> {
        let mut rules = UrlRules::new();
        for path in paths {
            rules = rules.allow_path(path)?;
        }
        for pattern in allow {
            rules = rules.allow(pattern)?;
        }
        for pattern in deny {
            rules = rules.deny(pattern)?;
        }
        Ok(rules)
    }

    /// Keeps URLs whose path starts with `prefix` (`/book/`), or, for a URL prefix
    /// (`https://docs.example/book/`), URLs that start with it. Repeatable: any one will do.
    pub fn allow_path(mut self, prefix: &str) -> Result<Self, RuleError> {
        let prefix = prefix.trim();
        if prefix.starts_with('/') {
            self.paths.push(prefix.to_owned());
        } else {
            // Normalised like the URLs it is compared with (host lower-cased, default port gone).
            let url = Url::parse(prefix)
                .ok()
                .filter(|u| is_http(u) && u.host().is_some())
                .ok_or_else(|| RuleError::Prefix {
                    prefix: prefix.to_owned(),
                })?;
            self.prefixes.push(url.into());
        }
        Ok(self)
    }

    /// Keeps URLs that `pattern` (a regular expression) matches. Repeatable: any one will do.
    pub fn allow(mut self, pattern: &str) -> Result<Self, RuleError> {
        self.allow.push(pattern.to_owned());
        self.allow_set = Some(compile(&self.allow)?);
        Ok(self)
    }

    /// Leaves out URLs that `pattern` (a regular expression) matches, whatever else allows
    /// them. Repeatable.
    pub fn deny(mut self, pattern: &str) -> Result<Self, RuleError> {
        self.deny.push(pattern.to_owned());
        self.deny_set = Some(compile(&self.deny)?);
        Ok(self)
    }

    /// Whether there are no rules at all (every URL passes).
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
            && self.prefixes.is_empty()
            && self.allow.is_empty()
            && self.deny.is_empty()
    }

    /// Whether `url` passes the rules.
    pub fn matches(&self, url: &Url) -> bool {
        if self.is_empty() {
            return true;
        }
        let text = url.as_str();
        if self.deny_set.as_ref().is_some_and(|d| d.is_match(text)) {
            return false;
        }
        let narrowed =
            !(self.paths.is_empty() && self.prefixes.is_empty() && self.allow.is_empty());
        !narrowed
            || self
                .paths
                .iter()
                .any(|p| url.path().starts_with(p.as_str()))
            || self.prefixes.iter().any(|p| text.starts_with(p.as_str()))
            || self.allow_set.as_ref().is_some_and(|a| a.is_match(text))
    }
}

fn compile(patterns: &[String]) -> Result<RegexSet, RuleError> {
    RegexSet::new(patterns).map_err(|e| {
        // Name the one pattern at fault, not the whole set.
        let bad = patterns
            .iter()
            .find(|p| regex::Regex::new(p).is_err())
            .or(patterns.last())
            .cloned()
            .unwrap_or_default();
        let reason = regex::Regex::new(&bad)
            .err()
            .unwrap_or(e)
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        RuleError::Pattern {
            pattern: bad,
            reason,
        }
    })
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

    #[test]
    fn rules_narrow_by_path_prefix_pattern_and_deny() {
        let seeds = [url("http://a.test/")];
        let rules = UrlRules::of(
            &["/book/".into(), "http://a.test/extra/".into()],
            &[r"/ch\d+\.html$".into()],
            &["/print/".into()],
        )
        .expect("rules");
        let s = Scope::new(&seeds, &[]).with_rules(rules);
        assert_eq!(s.standing(&url("http://a.test/book/x")), Standing::Within);
        assert_eq!(s.standing(&url("http://a.test/extra/y")), Standing::Within);
        assert_eq!(
            s.standing(&url("http://a.test/other/ch3.html")),
            Standing::Within
        );
        assert_eq!(s.standing(&url("http://a.test/blog/")), Standing::Excluded);
        assert_eq!(
            s.standing(&url("http://a.test/book/print/ch1.html")),
            Standing::Excluded
        );
        assert_eq!(s.standing(&url("http://b.test/book/")), Standing::OffSite);
    }

    #[test]
    fn deny_alone_keeps_everything_else_and_no_rules_keep_all() {
        let only_deny = UrlRules::new().deny("logout").expect("deny");
        assert!(only_deny.matches(&url("http://a.test/anything")));
        assert!(!only_deny.matches(&url("http://a.test/logout?x")));
        assert!(UrlRules::new().matches(&url("http://a.test/x")));
    }

    #[test]
    fn bad_rules_name_themselves() {
        let e = UrlRules::new().allow_path("book/").expect_err("no slash");
        assert!(e.to_string().contains("\"book/\""), "{e}");
        let e = UrlRules::new()
            .allow("ok")
            .and_then(|r| r.deny("(unclosed"))
            .expect_err("bad");
        assert!(
            e.to_string()
                .starts_with("\"(unclosed\" is not a valid regular expression"),
            "{e}"
        );
        assert!(!e.to_string().contains('\n'), "one line: {e}");
    }
}
