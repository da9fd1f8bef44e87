//! The crawl configuration, and the one set of rules every configuration passes.
//!
//! A [`Config`] can come from flags ([`crate::cli`]), from code, or from a resumed crawl; all of
//! them go through [`Config::validate`] before anything runs, so the rules and their messages
//! exist once. A failed rule is a [`ConfigError`] naming the [`Setting`]; the CLI only swaps
//! the setting's name for its flag (`rate` -> `--rate`). What passes is a [`Plan`]: the
//! front door and the drivers take a plan, never a bare config, and trust it (rates positive
//! and finite, workers resolved and at least one, seeds non-empty http(s) URLs, timeouts in
//! range). Defaults that depend on other settings (the worker count on the mode) are resolved
//! there and only there: an unset [`Config::workers`] follows [`Config::mode`].
//!
//! Here: [`Config`], the settings a user fills (unset means default). Beside it: `plan`
//! ([`Plan`]), `types` (what its fields hold:
//! [`Mode`], [`Output`], [`Format`], the URLs that hide their passwords), `limits` (the bounds
//! and defaults), `setting` ([`Setting`] and [`ConfigError`]: which setting a rule refused,
//! by field and by flag) and `rules` ([`Config::validate`], one function per rule).

mod limits;
mod plan;
mod rules;
mod setting;
mod types;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::scrape::PageExtractor;
pub use limits::*;
pub use plan::Plan;
pub use setting::{ConfigError, Setting};
pub use types::*;

/// A crawl, fully specified. Build one with [`Config::new`] and set the fields you need; the
/// front door ([`crate::run`], [`crate::Crawl`]) checks it with [`Config::validate`] before
/// anything runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URLs the crawl starts from, at depth 0: at least one, each an http(s) URL with a
    /// host. On the command line, the lines of `URLS_FILE` (or standard input). No default:
    /// [`Config::new`] takes them.
    pub seeds: Vec<Url>,
    /// Where the fetch-and-parse stage runs (`--mode`, `-m`); default [`Mode::Async`].
    pub mode: Mode,
    /// OS threads, worker processes or concurrent async tasks (1 in sequential mode), at most
    /// [`MAX_WORKERS`] (`--workers`, `-j`). `None` (the default): the mode's own,
    /// [`Mode::default_workers`] (64 in async mode), or with [`Config::autoscale`]
    /// [`Mode::default_max_workers`]; [`Config::validate`] resolves it ([`Plan::workers`]).
    pub workers: Option<usize>,
    /// `-j auto`: the crawl sets its own concurrency ([`crate::autoscale`]'s rules), starting
    /// low and never above `workers`, which is then the most it may use (`--max-workers`;
    /// default [`Mode::default_max_workers`]). Default false. Sequential mode stays at 1.
    pub autoscale: bool,
    /// Global requests per second across all workers; `None` is unlimited (`--rate`). At least
    /// [`MIN_RATE`] (one a day); default `None`.
    pub rate: Option<f64>,
    /// Requests per second to any one origin (scheme, host, port); `None` is unlimited
    /// (`--per-host-rate`). At least [`MIN_RATE`]; default `None`.
    pub per_host_rate: Option<f64>,
    /// Most pages of one origin in flight at once, across every worker; `None` is no cap
    /// (`--per-host-workers`, where 0 means no cap). At least 1; default
    /// [`DEFAULT_PER_HOST_WORKERS`] (8), polite to a real site whatever `workers` is.
    pub per_host_workers: Option<usize>,
    /// Pause an origin after this many connection failures or timeouts in a row
    /// (`--host-failures`): failures of requests in flight together, for the same reason,
    /// count once. A paused origin's pages wait while it is probed (see
    /// [`Config::host_probes`]); 0 never pauses nor gives up. Default
    /// [`DEFAULT_HOST_FAILURES`] (5).
    pub host_failures: u32,
    /// Probes of a paused origin before it is given up (`--host-probes`): the first after a
    /// cool-down of [`Config::timeout`], each next after twice the last; an answer reopens the
    /// origin, and once every probe has failed its remaining pages are recorded as "host
    /// unreachable" at once. 0 gives the origin up at the first pause. At most
    /// [`MAX_HOST_PROBES`]; default [`DEFAULT_HOST_PROBES`] (5: cool-downs of 1, 2, 4, 8 and
    /// 16 timeouts).
    pub host_probes: u32,
    /// Link hops from the seeds; 0 fetches the seeds only (`--depth`, `-d`), and
    /// [`UNLIMITED_DEPTH`] follows links with no limit (`--depth inf`). Default 0.
    pub depth: u32,
    /// Upper bound on records, seeds and pages finished by an earlier `--state` run included;
    /// `None` is unlimited (`--max-pages`). At least 1; default `None`.
    pub max_pages: Option<u64>,
    /// Extra domains (and their subdomains) links and redirects may go to, besides the seeds'
    /// hosts (`--allow-domain`, repeatable). Bare names (`example.com`, not a URL);
    /// [`Config::validate`] lower-cases them and strips leading and trailing dots. Default
    /// none.
    pub allow_domains: Vec<String>,
    /// On those hosts, follow only links whose path starts with one of these (`/book/`), or
    /// that start with one given as a URL (`https://docs.example/book/`) (`--allow-path`,
    /// repeatable). Seeds are fetched whatever the rules say. Default none: every path.
    /// See [`crate::scrape::UrlRules`] for how the three lists combine.
    pub allow_paths: Vec<String>,
    /// Follow only links whose normalised URL one of these regular expressions matches
    /// (`--allow`, repeatable); with [`Config::allow_paths`], either kind lets a link in.
    /// Default none.
    pub allow: Vec<String>,
    /// Never follow links whose normalised URL one of these regular expressions matches, and
    /// never redirect there (`--deny`, repeatable); deny wins over allow. Default none.
    pub deny: Vec<String>,
    /// Whole-request timeout, body included; connecting may take at most 10 s of it
    /// (`--timeout`, in seconds). Above 0 and at most [`MAX_TIMEOUT`]; default 30 s. A
    /// robots.txt and the redirects it follows share one timeout. In async mode, time the
    /// request's thread spent blocked in the crawler's own work (records written to a pipe
    /// nobody reads, say) does not count, so an answered request never times out for it.
    pub timeout: Duration,
    /// Extra attempts after a retryable failure (a timeout, a connection that failed or broke,
    /// a worker that died, HTTP 429 or 5xx), with backoff (`--retries`). Default 2.
    pub retries: u32,
    /// Body bytes kept (after decompression); longer bodies are cut, and their record says so
    /// (`--max-bytes`). At least 1; default 10 MiB (10,485,760).
    pub max_bytes: u64,
    /// The User-Agent header of every request; its first word, up to any `/`, is the product
    /// token robots.txt groups are matched against (`--user-agent`). Not blank; default
    /// `crawl/VERSION` ([`default_user_agent`]).
    pub user_agent: String,
    /// Send every request through this proxy (`--proxy`): `http://`, `https://`, `socks5://`
    /// or `socks5h://`, with `user:password@` if it needs them. Default none.
    pub proxy: Option<ProxyUrl>,
    /// Whether the `http_proxy`, `https_proxy` and `no_proxy` environment variables apply
    /// when no [`Config::proxy`] is set (`--no-proxy` turns them off). Default true.
    pub env_proxy: bool,
    /// Headers sent with every request, robots.txt included (`-H 'Name: value'`, repeatable),
    /// to every host the crawl requests: the seeds' hosts and `allow_domains` (redirects stay
    /// within them). Not `User-Agent`: set [`Config::user_agent`], which also names the
    /// robots.txt product token. Default none. [`Config::validate`] marks their values
    /// sensitive, so a `Debug` print of the config it returns does not show them (an
    /// `Authorization` header is a secret); mark your own with `HeaderValue::set_sensitive`.
    pub headers: http::HeaderMap,
    /// Whether to fetch each origin's robots.txt before its pages and leave out the pages it
    /// disallows (`--ignore-robots` sets it to false). Default true.
    pub obey_robots: bool,
    /// Where records go (`--output`, `-o`); default [`Output::Stdout`].
    pub output: Output,
    /// How records are written (`--format`); default [`Format::Jsonl`].
    pub format: Format,
    /// Also write each page's item, alone, to this file (`--items`); default none. Items
    /// stay in the records too.
    pub items: Option<ItemsFile>,
    /// When to draw progress bars on standard error (`--progress`); default
    /// [`ProgressMode::Never`] here, `auto` on the command line.
    pub progress: ProgressMode,
    /// Rounds of synthetic CPU work per parsed page (`--cpu-work`; 1,000,000 rounds take
    /// about 2.4 ms on a 2024 x86 core). Default 0.
    pub cpu_work: u64,
    /// Read each seed origin's sitemaps (`--sitemaps`): those its robots.txt names, else
    /// `/sitemap.xml`, following sitemap indexes; the pages they list are crawled as seeds of
    /// that origin (depth 0), within scope and robots.txt. Default off.
    pub sitemaps: bool,
    /// Requests made before the crawl, in order, such as a login form's POST
    /// ([`crate::Request::post_form`]): the cookies they get back open the session the crawl
    /// goes on with, so [`Config::cookies`] must be on. A request that fails (no response, or
    /// a status of 400 or more, or a worker that died sending it) stops the crawl with its
    /// error. Not retried, not recorded, and sent again by a `--state` resume.
    /// Default none; library only.
    pub login: Vec<crate::request::Request>,
    /// Keep one cookie jar for the crawl, shared by every worker in every mode (`--cookies`);
    /// with [`Config::state`] it is kept across a resume. Default off.
    pub cookies: bool,
    /// Processes mode: where links are deduplicated first (`--dedupe`). Default
    /// [`Dedupe::Coordinator`], the only value the other modes accept.
    pub dedupe: Dedupe,
    /// Processes mode: fork a fresh worker for every page instead of keeping a pool
    /// (`--fork-per-page`). Default false; the other modes refuse true.
    pub fork_per_page: bool,
    /// After Ctrl-C or SIGTERM, how long pages in flight may take to finish (`--grace`, in
    /// seconds). At most [`MAX_GRACE`]; default 5 s.
    pub grace: Duration,
    /// Where the crash-safe journal lives (`--state`); running again with it resumes. Default
    /// `None`: no journal.
    pub state: Option<PathBuf>,
    /// Crawl together with other crawl processes through a frontier in Redis (`--frontier`,
    /// `--crawl-id`, `--lease`). Default `None`: the frontier is this process's own.
    pub shared: Option<SharedCrawl>,
    /// Runs on every 2xx HTML page and adds its item to the record (`--field`, or your own
    /// through [`crate::Crawl`]). Default `None`.
    pub extractor: Option<Arc<dyn PageExtractor>>,
    /// Serve the crawl's figures in the Prometheus text format at `http://ADDR/metrics` while
    /// it runs (`--metrics`; port 0 picks a free port, and [`Config::on_metrics`] is told
    /// which). An address that cannot be listened on is refused before the crawl starts.
    /// Default `None`.
    pub metrics: Option<std::net::SocketAddr>,
    /// With [`Config::metrics`], told the address it listens on (the port the OS picked, for
    /// port 0) once, before anything is fetched. The `crawl` binary prints it on standard
    /// error (`crawl: metrics on http://ADDR/metrics`). Default `None`: the library says
    /// nothing.
    pub on_metrics: Option<MetricsListening>,
    /// With [`Config::metrics`], how long to go on serving the final figures after the crawl
    /// ends, so a scraper sees them (`--metrics-linger`, in seconds; Ctrl-C cuts it short).
    /// At most [`MAX_GRACE`]; default 0.
    pub metrics_linger: Duration,
    /// Archive every request and response of the crawl as WARC/1.1 (`--warc`,
    /// `--warc-max-size`). Default `None`: no archive.
    pub warc: Option<WarcConfig>,
    /// Remember each page between crawls in this directory (`--cache`), so the next crawl
    /// with it asks servers only for what changed (GUIDE.md, "Crawling again"). Default
    /// `None`: every crawl fetches everything.
    pub cache: Option<PathBuf>,
    /// With [`Config::cache`], ask about pages still fresh by their `Cache-Control` or
    /// `Expires` too (`--revalidate`). Default false: a fresh page is not requested.
    pub revalidate: bool,
    /// With [`Config::cache`], write records (and items) only for new, changed and gone
    /// pages (`--changed-only`). Default false: every page has its record.
    pub changed_only: bool,
}

/// Where and how a crawl archives what it fetched ([`Config::warc`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarcConfig {
    /// The archive's first file (`--warc`); its name must end in `.warc.gz`. Rotated files
    /// are named after it: `NAME-00001.warc.gz`, ...
    pub path: PathBuf,
    /// Start a new file once one holds at least this many bytes (`--warc-max-size`; Heritrix
    /// rotates at 1 GB). At least 1; default `None`: one file.
    pub max_size: Option<u64>,
}

impl Config {
    /// When a failing host is paused, probed and given up: `--host-failures`, `--host-probes`,
    /// cool-downs from `--timeout`.
    pub(crate) fn breaker(&self) -> crate::frontier::Schedule {
        crate::frontier::Schedule {
            failures: self.host_failures,
            probes: self.host_probes,
            first_pause: self.timeout,
        }
    }
}

impl Config {
    /// A configuration with the command line's defaults, for library users and tests.
    pub fn new(seeds: Vec<Url>) -> Self {
        Config {
            seeds,
            mode: Mode::Async,
            workers: None,
            autoscale: false,
            rate: None,
            per_host_rate: None,
            per_host_workers: Some(DEFAULT_PER_HOST_WORKERS),
            host_failures: DEFAULT_HOST_FAILURES,
            host_probes: DEFAULT_HOST_PROBES,
            depth: 0,
            max_pages: None,
            allow_domains: Vec::new(),
            allow_paths: Vec::new(),
            allow: Vec::new(),
            deny: Vec::new(),
            timeout: Duration::from_secs(30),
            retries: 2,
            max_bytes: 10 * 1024 * 1024,
            user_agent: default_user_agent(),
            headers: http::HeaderMap::new(),
            proxy: None,
            env_proxy: true,
            obey_robots: true,
            output: Output::Stdout,
            format: Format::Jsonl,
            items: None,
            progress: ProgressMode::Never,
            cpu_work: 0,
            cookies: false,
            login: Vec::new(),
            sitemaps: false,
            dedupe: Dedupe::Coordinator,
            fork_per_page: false,
            grace: Duration::from_secs(5),
            state: None,
            shared: None,
            extractor: None,
            metrics: None,
            on_metrics: None,
            metrics_linger: Duration::ZERO,
            warc: None,
            cache: None,
            revalidate: false,
            changed_only: false,
        }
    }
}

/// `crawl/VERSION`; its first word, `crawl`, is the product token robots.txt groups are matched
/// against.
pub fn default_user_agent() -> String {
    format!("crawl/{}", env!("CARGO_PKG_VERSION"))
}

/// [`Config::on_metrics`]: what to do with the address `--metrics` listens on.
#[derive(Clone)]
pub struct MetricsListening(pub Arc<dyn Fn(std::net::SocketAddr) + Send + Sync>);

impl std::fmt::Debug for MetricsListening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsListening(..)")
    }
}

#[cfg(test)]
mod tests;
