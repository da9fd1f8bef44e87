//! The one set of rules every configuration passes: [`Config::validate`], run by the front
//! door whether the config came from flags or from code.

use super::*;
use crate::normalize::is_http;
use crate::scope::{RuleError, UrlRules};

impl Config {
    /// Checks every rule, and returns the [`Plan`] the crawl will run: the worker count
    /// resolved (the mode's default when unset; sequential mode always has one), allowed
    /// domains normalised (`.Example.COM.` -> `example.com`), header values marked sensitive. The front door ([`crate::run`], [`crate::Crawl`]) calls this itself;
    /// call it early to report a bad setting before doing anything else.
    pub fn validate(mut self) -> Result<Plan, ConfigError> {
        // The rules run in the order the command line has always reported them, so the flag
        // named first when several are wrong does not depend on how the config was built.
        self.check_built()?;
        self.check_seeds()?;
        self.check_workers()?;
        self.check_spans()?;
        self.check_processes_only()?;
        self.check_sizes()?;
        self.check_identity()?;
        self.check_proxy()?;
        self.check_login()?;
        self.allow_domains = self
            .allow_domains
            .iter()
            .map(|d| domain(d))
            .collect::<Result<_, _>>()?;
        self.url_rules()?;
        self.check_items()?;
        check_rate(Setting::Rate, self.rate)?;
        check_rate(Setting::PerHostRate, self.per_host_rate)?;
        if let Some(shared) = &self.shared {
            self.check_shared(shared)?;
        }
        if let Some(warc) = &self.warc {
            self.check_warc(warc)?;
        }
        self.check_cache()?;
        Ok(Plan::new(self))
    }

    /// Whether a failed rule on `setting` is checked before the command line's `--field`
    /// specifications are (the order the CLI reports errors in: see [`Config::validate`]).
    #[cfg(feature = "cli")]
    pub(crate) fn checked_before_fields(setting: Setting) -> bool {
        !matches!(
            setting,
            Setting::AllowDomains
                | Setting::Items
                | Setting::AllowPaths
                | Setting::Allow
                | Setting::Deny
                | Setting::Rate
                | Setting::PerHostRate
        )
    }

    /// The crawl's scope: the seeds' hosts and [`Config::allow_domains`], narrowed by
    /// [`Config::allow_paths`], [`Config::allow`] and [`Config::deny`].
    pub(crate) fn scope(&self) -> Result<crate::scope::Scope, ConfigError> {
        Ok(
            crate::scope::Scope::new(&self.seeds, &self.allow_domains)
                .with_rules(self.url_rules()?),
        )
    }

    /// The items file is not the records' file: both would write over each other.
    fn check_items(&self) -> Result<(), ConfigError> {
        if self.items.is_some() && self.extractor.is_none() {
            return Err(ConfigError::new(
                Setting::Items,
                "no items to write: they come from --field (or, in code, a Crawl's extractor)",
            ));
        }
        let (Some(items), Output::File(records)) = (&self.items, &self.output) else {
            return Ok(());
        };
        // `/dev/null` (or a FIFO) twice is harmless: only a regular file would be written over.
        let special = std::fs::metadata(records).is_ok_and(|m| !m.is_file());
        if items.path == *records && !special {
            return Err(ConfigError::new(
                Setting::Items,
                format!(
                    "{} is also the records' file (--output); give items a file of their own",
                    items.path.display()
                ),
            ));
        }
        Ok(())
    }

    /// The path and pattern rules, each list's error naming its own flag.
    fn url_rules(&self) -> Result<UrlRules, ConfigError> {
        let refuse = |setting| move |e: RuleError| ConfigError::new(setting, e.to_string());
        let mut rules = UrlRules::new();
        for path in &self.allow_paths {
            rules = rules
                .allow_path(path)
                .map_err(refuse(Setting::AllowPaths))?;
        }
        for pattern in &self.allow {
            rules = rules.allow(pattern).map_err(refuse(Setting::Allow))?;
        }
        for pattern in &self.deny {
            rules = rules.deny(pattern).map_err(refuse(Setting::Deny))?;
        }
        Ok(rules)
    }
}

impl Config {
    /// The settings this build leaves out with its features (Cargo.toml's `[features]`) are
    /// unset: each is refused by name, before any rule of its own, never ignored. First, so a
    /// shared crawl's node without seeds hears why, not that it has none.
    fn check_built(&self) -> Result<(), ConfigError> {
        if !cfg!(feature = "redis") && self.shared.is_some() {
            return Err(ConfigError::not_built(
                Setting::Frontier,
                "Redis frontier",
                "redis",
            ));
        }
        if !cfg!(feature = "metrics") && self.metrics.is_some() {
            return Err(ConfigError::not_built(
                Setting::Metrics,
                "Prometheus metrics",
                "metrics",
            ));
        }
        if !cfg!(feature = "cache") && self.cache.is_some() {
            return Err(ConfigError::not_built(
                Setting::Cache,
                "crawl cache",
                "cache",
            ));
        }
        if !cfg!(feature = "warc") && self.warc.is_some() {
            return Err(ConfigError::not_built(
                Setting::Warc,
                "WARC archive",
                "warc",
            ));
        }
        Ok(())
    }

    /// At least one seed (a node joining a shared crawl takes the crawl's), each http(s) with a host.
    fn check_seeds(&self) -> Result<(), ConfigError> {
        if self.seeds.is_empty() && self.shared.is_none() {
            return Err(ConfigError::new(Setting::Seeds, "no seed URLs"));
        }
        if let Some(bad) = self
            .seeds
            .iter()
            .find(|u| !is_http(u) || u.host().is_none())
        {
            return Err(ConfigError::new(
                Setting::Seeds,
                format!("{bad} is not an http(s) URL with a host"),
            ));
        }
        Ok(())
    }

    /// Workers in range; sequential mode always has one.
    fn check_workers(&mut self) -> Result<(), ConfigError> {
        match (self.mode, self.workers) {
            // Sequential mode has one worker whatever was asked ([`Plan::workers`]).
            (Mode::Sequential, _) | (_, None) => {}
            (_, Some(0)) => {
                return Err(ConfigError::new(Setting::Workers, "must be at least 1"));
            }
            (_, Some(n)) if n > MAX_WORKERS => {
                return Err(ConfigError::new(
                    Setting::Workers,
                    format!("must be at most {MAX_WORKERS}, got {n}"),
                ));
            }
            _ => {}
        }
        if self.per_host_workers == Some(0) {
            return Err(ConfigError::new(
                Setting::PerHostWorkers,
                "must be at least 1 (no value means no cap)",
            ));
        }
        Ok(())
    }

    /// Timeout, grace and the metrics' linger in range; a linger needs metrics to serve.
    fn check_spans(&self) -> Result<(), ConfigError> {
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(ConfigError::timeout(self.timeout.as_secs_f64()));
        }
        if self.grace > MAX_GRACE {
            return Err(ConfigError::grace(self.grace.as_secs_f64()));
        }
        if self.metrics_linger > MAX_GRACE {
            return Err(ConfigError::metrics_linger(
                self.metrics_linger.as_secs_f64(),
            ));
        }
        if self.metrics.is_none() && !self.metrics_linger.is_zero() {
            return Err(ConfigError::new(
                Setting::MetricsLinger,
                "needs metrics to serve (--metrics ADDR)",
            ));
        }
        Ok(())
    }

    /// The settings only processes mode takes.
    fn check_processes_only(&self) -> Result<(), ConfigError> {
        if self.mode != Mode::Processes {
            if self.fork_per_page {
                return Err(ConfigError::new(
                    Setting::ForkPerPage,
                    "applies only to --mode processes",
                ));
            }
            if self.dedupe != Dedupe::Coordinator {
                return Err(ConfigError::new(
                    Setting::Dedupe,
                    "applies only to --mode processes",
                ));
            }
        }
        Ok(())
    }

    /// `--max-bytes` and `--max-pages` at least 1, `--host-probes` at most
    /// [`MAX_HOST_PROBES`].
    fn check_sizes(&self) -> Result<(), ConfigError> {
        if self.host_probes > MAX_HOST_PROBES {
            return Err(ConfigError::new(
                Setting::HostProbes,
                format!(
                    "must be at most {MAX_HOST_PROBES} (each cool-down is twice the last: \
                     {MAX_HOST_PROBES} probes already wait 1023 timeouts)"
                ),
            ));
        }
        if self.max_bytes == 0 {
            return Err(ConfigError::new(Setting::MaxBytes, "must be at least 1"));
        }
        if self.max_pages == Some(0) {
            return Err(ConfigError::new(Setting::MaxPages, "must be at least 1"));
        }
        Ok(())
    }

    /// A User-Agent, and headers that do not set it; their values are marked sensitive.
    fn check_identity(&mut self) -> Result<(), ConfigError> {
        if self.user_agent.trim().is_empty() {
            return Err(ConfigError::new(Setting::UserAgent, "must not be empty"));
        }
        if self.headers.contains_key(http::header::USER_AGENT) {
            return Err(ConfigError::new(
                Setting::Headers,
                "User-Agent is set with --user-agent (user_agent), which also names the \
                 robots.txt product token",
            ));
        }
        for value in self.headers.values_mut() {
            value.set_sensitive(true);
        }
        Ok(())
    }

    /// A proxy URL with a host and a scheme the client speaks.
    fn check_proxy(&self) -> Result<(), ConfigError> {
        if let Some(proxy) = &self.proxy {
            let url = proxy.url();
            if url.host().is_none() {
                return Err(ConfigError::new(
                    Setting::Proxy,
                    "not a proxy URL (write http://HOST:PORT, with user:password@ before the \
                     host if the proxy needs them)",
                ));
            }
            if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
                return Err(ConfigError::new(
                    Setting::Proxy,
                    format!("{proxy}: the scheme must be http, https, socks5 or socks5h"),
                ));
            }
        }
        Ok(())
    }

    /// Login requests need the cookie jar, and must be requests the client can send.
    fn check_login(&self) -> Result<(), ConfigError> {
        if !self.login.is_empty() && !self.cookies {
            return Err(ConfigError::new(
                Setting::Login,
                "needs cookies = true: the session a login opens lives in the crawl's cookie jar",
            ));
        }
        for request in &self.login {
            if http::Method::from_bytes(request.method.as_bytes()).is_err() {
                return Err(ConfigError::new(
                    Setting::Login,
                    format!("{:?} is not an HTTP method", request.method),
                ));
            }
            if !is_http(&request.url) || request.url.host().is_none() {
                return Err(ConfigError::new(
                    Setting::Login,
                    format!("{} is not an http(s) URL with a host", request.url),
                ));
            }
            for (name, value) in &request.headers {
                if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                    || http::HeaderValue::from_str(value).is_err()
                {
                    return Err(ConfigError::new(
                        Setting::Login,
                        format!("a header of {} is not a valid header", request.url),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `--revalidate` and `--changed-only` only mean something with `--cache`, and a cache is
    /// one process's: a shared crawl's nodes would each have their own and disagree.
    fn check_cache(&self) -> Result<(), ConfigError> {
        if self.cache.is_none() {
            for (set, setting) in [
                (self.revalidate, Setting::Revalidate),
                (self.changed_only, Setting::ChangedOnly),
            ] {
                if set {
                    return Err(ConfigError::new(
                        setting,
                        "needs --cache DIR: it is about what an earlier crawl kept there",
                    ));
                }
            }
            return Ok(());
        }
        if self.dedupe == Dedupe::Shared {
            return Err(ConfigError::new(
                Setting::Cache,
                "not with --dedupe shared: its workers drop the links the crawl knows, and the \
                 cache must keep every link of a page to follow them when it comes back \
                 unchanged",
            ));
        }
        if self.shared.is_some() {
            return Err(ConfigError::new(
                Setting::Cache,
                "not with --frontier yet: each node would keep a cache of its own; crawl \
                 again without --frontier, or without --cache",
            ));
        }
        Ok(())
    }

    fn check_warc(&self, warc: &WarcConfig) -> Result<(), ConfigError> {
        let name = warc.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.len() <= ".warc.gz".len() || !name.ends_with(".warc.gz") {
            return Err(ConfigError::new(
                Setting::Warc,
                format!(
                    "{}: name a .warc.gz file (records are written one gzip member each, as \
                     archive tools expect; uncompressed .warc is not written)",
                    warc.path.display()
                ),
            ));
        }
        if warc.max_size == Some(0) {
            return Err(ConfigError::new(
                Setting::WarcMaxSize,
                "must be at least 1 byte (no value means one file)",
            ));
        }
        if self.mode == Mode::Processes && self.max_bytes > MAX_WARC_BYTES {
            return Err(ConfigError::new(
                Setting::MaxBytes,
                format!(
                    "must be at most {MAX_WARC_BYTES} with --warc in processes mode (each raw \
                     body crosses to the archive's writer in one message), got {}",
                    self.max_bytes
                ),
            ));
        }
        Ok(())
    }

    fn check_shared(&self, shared: &SharedCrawl) -> Result<(), ConfigError> {
        let url = shared.url.url();
        if !matches!(
            url.scheme(),
            "redis" | "rediss" | "redis+cluster" | "rediss+cluster"
        ) || url.host().is_none()
        {
            return Err(ConfigError::new(
                Setting::Frontier,
                format!(
                    "{}: write redis://HOST:PORT/DB (rediss:// for TLS), or \
                     redis+cluster://HOST:PORT[,HOST:PORT...] for a Redis Cluster, with \
                     :PASSWORD@ or USER:PASSWORD@ before the host if Redis needs them",
                    shared.url
                ),
            ));
        }
        if shared.url.is_cluster() && !matches!(url.path(), "" | "/" | "/0") {
            return Err(ConfigError::new(
                Setting::Frontier,
                format!(
                    "{}: a Redis Cluster has one database, 0: leave the /DB out",
                    shared.url
                ),
            ));
        }
        if let Some(n) = shared.expect_urls
            && !(1..=MAX_EXPECT_URLS).contains(&n)
        {
            return Err(ConfigError::new(
                Setting::ExpectUrls,
                format!("must be from 1 to {MAX_EXPECT_URLS}, got {n}"),
            ));
        }
        if let Some(shards) = shared.shards {
            if shards == 0 || shards > MAX_SHARDS {
                return Err(ConfigError::new(
                    Setting::Shards,
                    format!("must be from 1 to {MAX_SHARDS}, got {shards}"),
                ));
            }
            if shards > 1 && self.max_pages.is_some() {
                return Err(ConfigError::new(
                    Setting::Shards,
                    format!(
                        "{shards} shards cannot hold --max-pages: the page budget is counted \
                         where pages are admitted, in one shard; leave --shards out (a crawl \
                         with --max-pages keeps one) or --max-pages"
                    ),
                ));
            }
        }
        let id = &shared.crawl_id;
        let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if id.is_empty() || id.len() > 64 || !id.chars().all(fine) {
            return Err(ConfigError::new(
                Setting::CrawlId,
                format!(
                    "{id:?}: a crawl id is 1 to 64 letters, digits, '.', '_' or '-' (it is \
                     part of every Redis key of the crawl)"
                ),
            ));
        }
        if shared.lease < MIN_LEASE || shared.lease > MAX_LEASE {
            return Err(ConfigError::new(
                Setting::Lease,
                format!(
                    "must be from {} to {} seconds, got {}",
                    MIN_LEASE.as_secs(),
                    MAX_LEASE.as_secs(),
                    shared.lease.as_secs_f64()
                ),
            ));
        }
        if shared.redis_wait.is_zero() || shared.redis_wait > MAX_REDIS_WAIT {
            return Err(ConfigError::new(
                Setting::RedisWait,
                format!(
                    "must be more than 0 and at most {} seconds, got {}",
                    MAX_REDIS_WAIT.as_secs(),
                    shared.redis_wait.as_secs_f64()
                ),
            ));
        }
        // A node renews its leases between pages: when every worker is busy (or, in
        // sequential mode, the one thread is fetching), the next renewal waits for a page to
        // end, at most --timeout later. Twice --timeout leaves room for the third of a lease
        // since the last renewal.
        if shared.lease < self.timeout * 2 {
            return Err(ConfigError::new(
                Setting::Lease,
                format!(
                    "must be at least twice --timeout ({} s): a node renews its leases between \
                     pages, and a page may take that long; got {} s",
                    self.timeout.as_secs_f64(),
                    shared.lease.as_secs_f64()
                ),
            ));
        }
        if self.state.is_some() {
            return Err(ConfigError::new(
                Setting::Frontier,
                "cannot go with --state: a shared crawl keeps its state in Redis; run the \
                 node again with the same --crawl-id to resume",
            ));
        }
        Ok(())
    }
}

fn check_rate(setting: Setting, rate: Option<f64>) -> Result<(), ConfigError> {
    match rate {
        Some(r) if !(r.is_finite() && r >= MIN_RATE) => Err(ConfigError::new(
            setting,
            format!(
                "must be a number of requests per second of at least 1/86400 (one a day), got {r}"
            ),
        )),
        _ => Ok(()),
    }
}

/// `d` as a bare, lower-case domain name.
fn domain(d: &str) -> Result<String, ConfigError> {
    let bare = d.trim().trim_start_matches('.').trim_end_matches('.');
    let parsed = Url::parse(&format!("http://{bare}/")).ok();
    match parsed.as_ref().and_then(Url::host_str) {
        Some(host) if !bare.is_empty() && !bare.contains(['/', ':', '@']) => Ok(host.to_owned()),
        _ => Err(ConfigError::new(
            Setting::AllowDomains,
            format!("{d:?} is not a domain name (write example.com, not a URL)"),
        )),
    }
}
