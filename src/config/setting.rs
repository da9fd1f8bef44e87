//! Which setting a rule refused ([`Setting`]: its field in code, its flag on the command line)
//! and why ([`ConfigError`]).

use super::MAX_GRACE;

/// A setting of [`Config`](crate::Config) that a rule can refuse: its field name in code, its flag on the
/// command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// [`Config::seeds`](crate::Config::seeds); the `URLS_FILE` argument.
    Seeds,
    /// [`Config::workers`](crate::Config::workers); `--workers`.
    Workers,
    /// [`Config::rate`](crate::Config::rate); `--rate`.
    Rate,
    /// [`Config::per_host_rate`](crate::Config::per_host_rate); `--per-host-rate`.
    PerHostRate,
    /// [`Config::per_host_workers`](crate::Config::per_host_workers); `--per-host-workers`.
    PerHostWorkers,
    /// [`Config::max_pages`](crate::Config::max_pages); `--max-pages`.
    MaxPages,
    /// [`Config::allow_domains`](crate::Config::allow_domains); `--allow-domain`.
    AllowDomains,
    /// [`Config::allow_paths`](crate::Config::allow_paths); `--allow-path`.
    AllowPaths,
    /// [`Config::allow`](crate::Config::allow); `--allow`.
    Allow,
    /// [`Config::deny`](crate::Config::deny); `--deny`.
    Deny,
    /// [`Config::items`](crate::Config::items); `--items`.
    Items,
    /// [`Config::timeout`](crate::Config::timeout); `--timeout`.
    Timeout,
    /// [`Config::max_bytes`](crate::Config::max_bytes); `--max-bytes`.
    MaxBytes,
    /// [`Config::host_probes`](crate::Config::host_probes); `--host-probes`.
    HostProbes,
    /// [`Config::user_agent`](crate::Config::user_agent); `--user-agent`.
    UserAgent,
    /// [`Config::headers`](crate::Config::headers); `-H`, `--header`.
    Headers,
    /// [`Config::proxy`](crate::Config::proxy); `--proxy`.
    Proxy,
    /// [`Config::login`](crate::Config::login) (library only).
    Login,
    /// [`Config::dedupe`](crate::Config::dedupe); `--dedupe`.
    Dedupe,
    /// [`Config::fork_per_page`](crate::Config::fork_per_page); `--fork-per-page`.
    ForkPerPage,
    /// [`Config::grace`](crate::Config::grace); `--grace`.
    Grace,
    /// [`Config::depth`](crate::Config::depth); `--depth`.
    Depth,
    /// [`Config::obey_robots`](crate::Config::obey_robots); `--ignore-robots`.
    ObeyRobots,
    /// [`Config::sitemaps`](crate::Config::sitemaps); `--sitemaps`.
    Sitemaps,
    /// [`Config::shared`](crate::Config::shared)'s URL; `--frontier`.
    Frontier,
    /// [`Config::shared`](crate::Config::shared)'s crawl id; `--crawl-id`.
    CrawlId,
    /// [`Config::shared`](crate::Config::shared)'s lease; `--lease`.
    Lease,
    /// [`Config::shared`](crate::Config::shared)'s patience with a lost Redis; `--redis-wait`.
    RedisWait,
    /// [`Config::shared`](crate::Config::shared)'s shard count; `--shards`.
    Shards,
    /// [`Config::shared`](crate::Config::shared)'s expected URL count; `--expect-urls`.
    ExpectUrls,
    /// [`Config::metrics`](crate::Config::metrics); `--metrics`.
    Metrics,
    /// [`Config::metrics_linger`](crate::Config::metrics_linger); `--metrics-linger`.
    MetricsLinger,
    /// [`Config::warc`](crate::Config::warc)'s path; `--warc`.
    Warc,
    /// [`Config::warc`](crate::Config::warc)'s size limit; `--warc-max-size`.
    WarcMaxSize,
    /// [`Config::cache`](crate::Config::cache); `--cache`.
    Cache,
    /// [`Config::revalidate`](crate::Config::revalidate); `--revalidate`.
    Revalidate,
    /// [`Config::changed_only`](crate::Config::changed_only); `--changed-only`.
    ChangedOnly,
}

impl Setting {
    /// The [`Config`](crate::Config) field, as a library user writes it.
    pub fn field(self) -> &'static str {
        match self {
            Setting::Seeds => "seeds",
            Setting::Workers => "workers",
            Setting::Rate => "rate",
            Setting::PerHostRate => "per_host_rate",
            Setting::PerHostWorkers => "per_host_workers",
            Setting::MaxPages => "max_pages",
            Setting::AllowDomains => "allow_domains",
            Setting::AllowPaths => "allow_paths",
            Setting::Allow => "allow",
            Setting::Deny => "deny",
            Setting::Items => "items",
            Setting::Timeout => "timeout",
            Setting::MaxBytes => "max_bytes",
            Setting::HostProbes => "host_probes",
            Setting::UserAgent => "user_agent",
            Setting::Headers => "headers",
            Setting::Proxy => "proxy",
            Setting::Login => "login",
            Setting::Dedupe => "dedupe",
            Setting::ForkPerPage => "fork_per_page",
            Setting::Grace => "grace",
            Setting::Depth => "depth",
            Setting::ObeyRobots => "obey_robots",
            Setting::Sitemaps => "sitemaps",
            Setting::Frontier => "shared.url",
            Setting::CrawlId => "shared.crawl_id",
            Setting::Lease => "shared.lease",
            Setting::RedisWait => "shared.redis_wait",
            Setting::Shards => "shared.shards",
            Setting::ExpectUrls => "shared.expect_urls",
            Setting::Metrics => "metrics",
            Setting::MetricsLinger => "metrics_linger",
            Setting::Warc => "warc.path",
            Setting::WarcMaxSize => "warc.max_size",
            Setting::Cache => "cache",
            Setting::Revalidate => "revalidate",
            Setting::ChangedOnly => "changed_only",
        }
    }

    /// The command-line flag that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            Setting::Seeds => "URLS_FILE",
            Setting::Workers => "--workers",
            Setting::Rate => "--rate",
            Setting::PerHostRate => "--per-host-rate",
            Setting::PerHostWorkers => "--per-host-workers",
            Setting::MaxPages => "--max-pages",
            Setting::AllowDomains => "--allow-domain",
            Setting::AllowPaths => "--allow-path",
            Setting::Allow => "--allow",
            Setting::Deny => "--deny",
            Setting::Items => "--items",
            Setting::Timeout => "--timeout",
            Setting::MaxBytes => "--max-bytes",
            Setting::HostProbes => "--host-probes",
            Setting::UserAgent => "--user-agent",
            Setting::Headers => "--header",
            Setting::Proxy => "--proxy",
            Setting::Login => "login",
            Setting::Dedupe => "--dedupe",
            Setting::ForkPerPage => "--fork-per-page",
            Setting::Grace => "--grace",
            Setting::Depth => "--depth",
            Setting::ObeyRobots => "--ignore-robots",
            Setting::Sitemaps => "--sitemaps",
            Setting::Frontier => "--frontier",
            Setting::CrawlId => "--crawl-id",
            Setting::Lease => "--lease",
            Setting::RedisWait => "--redis-wait",
            Setting::Shards => "--shards",
            Setting::ExpectUrls => "--expect-urls",
            Setting::Metrics => "--metrics",
            Setting::MetricsLinger => "--metrics-linger",
            Setting::Warc => "--warc",
            Setting::WarcMaxSize => "--warc-max-size",
            Setting::Cache => "--cache",
            Setting::Revalidate => "--revalidate",
            Setting::ChangedOnly => "--changed-only",
        }
    }
}

/// A configuration the crawl cannot start with. `Display` names the [`Config`](crate::Config) field; the CLI
/// prints [`Setting::flag`] instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", setting.field())]
pub struct ConfigError {
    /// The setting whose rule failed.
    pub setting: Setting,
    /// What is wrong, without the setting's name ("must be at least 1").
    pub message: String,
}

impl ConfigError {
    /// A refusal of `setting`; `message` says what is wrong, without the setting's name.
    pub fn new(setting: Setting, message: impl Into<String>) -> Self {
        ConfigError {
            setting,
            message: message.into(),
        }
    }

    /// The message as the command line shows it, naming the flag.
    pub fn for_flag(&self) -> String {
        format!("{}: {}", self.setting.flag(), self.message)
    }

    /// `setting` in a build of crawl without `feature`, the Cargo feature that brings `what`
    /// (Cargo.toml's `[features]`): the setting is kept in [`Config`](crate::Config) and on the
    /// command line in every build, and refused rather than ignored.
    pub(crate) fn not_built(setting: Setting, what: &str, feature: &str) -> Self {
        ConfigError::new(
            setting,
            format!(
                "this build of crawl has no {what}; rebuild with the `{feature}` feature (it is \
                 in the default features)"
            ),
        )
    }

    /// The timeout rule's message, for a value that is not even a duration (the CLI's
    /// negative or NaN seconds) as for one out of range.
    pub fn timeout(secs: f64) -> Self {
        ConfigError::new(
            Setting::Timeout,
            format!("must be a number of seconds above 0 and at most 86400, got {secs}"),
        )
    }

    /// The grace rule's message (see [`ConfigError::timeout`]).
    pub fn grace(secs: f64) -> Self {
        ConfigError::seconds_out_of_range(Setting::Grace, secs)
    }

    /// [`Setting::MetricsLinger`] out of range, with the seconds the user gave.
    pub fn metrics_linger(secs: f64) -> Self {
        ConfigError::seconds_out_of_range(Setting::MetricsLinger, secs)
    }

    /// A span of 0 to [`MAX_GRACE`] refused, with the seconds the user gave.
    fn seconds_out_of_range(setting: Setting, secs: f64) -> Self {
        ConfigError::new(
            setting,
            format!(
                "must be a number of seconds from 0 to {}, got {secs}",
                MAX_GRACE.as_secs()
            ),
        )
    }
}
