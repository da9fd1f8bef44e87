//! The crawl configuration, and the one set of rules every configuration passes.
//!
//! A [`Config`] can come from flags ([`crate::cli`]), from code, or from a resumed crawl; all of
//! them go through [`Config::validate`] before anything runs, so the rules and their messages
//! exist once. A failed rule is a [`ConfigError`] naming the [`Setting`]; the CLI only swaps
//! the setting's name for its flag (`rate` -> `--rate`). Everything downstream can trust a
//! validated config: rates positive and finite, workers at least one, seeds non-empty http(s)
//! URLs, timeouts in range.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::normalize::is_http;
use crate::scrape::PageExtractor;

/// A proxy's URL. Its password never shows: `Debug` and `Display` print `***` in its place, so
/// a config, an error or a log line can name the proxy without giving its secret away.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(Url);

impl ProxyUrl {
    /// Wraps `url`; [`Config::validate`] checks its scheme.
    pub fn new(url: Url) -> Self {
        ProxyUrl(url)
    }

    /// The whole URL, password included: for the HTTP client only.
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Display for ProxyUrl {
    /// `scheme://HOST:PORT`, with `***@` for any user name or password; a URL with no host
    /// (`alice:s3cret@proxy:3128`, which reads as scheme `alice`) shows nothing of itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        redacted(&self.0, f)
    }
}

/// `url` as `scheme://HOST:PORT/PATH`, with `***@` for any user name or password.
fn redacted(url: &Url, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let Some(host) = url.host_str() else {
        return f.write_str("(a URL with no host)");
    };
    let who = if url.username().is_empty() && url.password().is_none() {
        ""
    } else {
        "***@"
    };
    let path = url.path().trim_end_matches('/');
    match url.port() {
        Some(port) => write!(f, "{}://{who}{host}:{port}{path}", url.scheme()),
        None => write!(f, "{}://{who}{host}{path}", url.scheme()),
    }
}

/// The Redis that holds a shared frontier (`--frontier redis://[USER:PASSWORD@]HOST[:PORT][/DB]`,
/// or `rediss://` for TLS). Like [`ProxyUrl`], it never shows its password.
#[derive(Clone, PartialEq, Eq)]
pub struct FrontierUrl(Url);

impl FrontierUrl {
    /// Wraps `url`; [`Config::validate`] checks it.
    pub fn new(url: Url) -> Self {
        FrontierUrl(url)
    }

    /// The whole URL, password included: for the Redis client only.
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Display for FrontierUrl {
    /// `redis://HOST:PORT/DB`, with `***@` for any user name or password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        redacted(&self.0, f)
    }
}

impl std::fmt::Debug for FrontierUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrontierUrl({self})")
    }
}

/// A crawl shared with other crawl processes through Redis ([`Config::shared`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SharedCrawl {
    /// Where the frontier lives (`--frontier`).
    pub url: FrontierUrl,
    /// Which crawl in it (`--crawl-id`): letters, digits, `.`, `_` and `-`, at most 64.
    pub crawl_id: String,
    /// How long a page a node has taken stays its own without a renewal (`--lease`); a node
    /// renews its leases every third of this, and a node that stops renewing (dead, cut off,
    /// stopped) loses its pages to the others after it. Also how long a node waits for a
    /// Redis that is gone before it gives up. Default [`DEFAULT_LEASE`].
    pub lease: Duration,
    /// A node without seeds joins the crawl and takes its `depth`, `max_pages`,
    /// `allow_domains` and `obey_robots`, except those named here, which it set itself and
    /// which must then agree (the CLI names the flags given on its command line). A node with
    /// seeds must agree on all of them.
    pub explicit: Vec<Setting>,
}

impl SharedCrawl {
    /// Crawl `crawl_id` in the Redis at `url`, with the default lease.
    pub fn new(url: FrontierUrl, crawl_id: impl Into<String>) -> Self {
        SharedCrawl {
            url,
            crawl_id: crawl_id.into(),
            lease: DEFAULT_LEASE,
            explicit: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// Where the fetch-and-parse stage runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// One page at a time on the calling thread: the baseline.
    Sequential,
    /// N OS threads, each fetching and parsing the pages it takes.
    Threads,
    /// Up to N pages in flight as tokio tasks, on one single-threaded runtime per core; pages
    /// are parsed as they stream in.
    Async,
    /// N forked worker processes fed by the coordinator over pipes.
    Processes,
}

impl Mode {
    /// The lower-case name used on the command line and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Threads => "threads",
            Mode::Async => "async",
            Mode::Processes => "processes",
        }
    }

    /// Every mode, in the order the README compares them.
    pub const ALL: [Mode; 4] = [
        Mode::Sequential,
        Mode::Threads,
        Mode::Async,
        Mode::Processes,
    ];

    /// The most workers `-j auto` may use in a mode when `--max-workers` is not given: far
    /// enough for Little's law at a real site's latencies (1,000 pages in flight at 100 ms is
    /// 10,000 pages/s), bounded by what each worker costs (a process is megabytes).
    pub fn default_max_workers(self) -> usize {
        match self {
            Mode::Sequential => 1,
            Mode::Threads => 256,
            Mode::Async => 1024,
            Mode::Processes => 64,
        }
    }

    /// How many workers a mode gets when `--workers` is not given.
    pub fn default_workers(self) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        match self {
            Mode::Sequential => 1,
            Mode::Threads => 16,
            Mode::Async => 64,
            Mode::Processes => 2 * cores,
        }
    }
}

/// A mode name that is not one of the four.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown mode {0:?} (expected sequential, threads, async or processes)")]
pub struct UnknownMode(pub String);

impl std::str::FromStr for Mode {
    type Err = UnknownMode;

    /// `"threads"` -> `Mode::Threads`, as on the command line.
    fn from_str(name: &str) -> Result<Mode, UnknownMode> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| UnknownMode(name.to_owned()))
    }
}

/// Where links are checked against the URLs already known, in processes mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dedupe {
    /// Every link crosses the socket and the coordinator decides (the "manager" pattern).
    Coordinator,
    /// Workers first drop links found in a fingerprint table in shared memory.
    Shared,
}

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output (`--output -`, or no `--output`): the default.
    Stdout,
    /// This file (`--output FILE`): created, or emptied if it exists; when a `--state` crawl
    /// resumes, records are appended to it instead.
    File(PathBuf),
    /// Nowhere: for library users who take items through [`crate::Crawl::for_each`].
    Discard,
}

/// How records are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header: the record's keys, then `columns` (the extractor's fields).
    Csv {
        /// The extractor's keys whose columns follow the record's own, in order (the `--field`
        /// names on the command line; left empty, [`crate::Crawl`] takes its extractor's
        /// [`columns`](crate::scrape::Extractor::columns)). Keys not listed go, as one JSON
        /// object, in a last `fields` column.
        columns: Vec<String>,
    },
}

/// When to draw progress bars on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Only when standard error is a terminal.
    Auto,
    /// Always, even when standard error is a file or a pipe.
    Always,
    /// Never; notes and the summary are still printed.
    Never,
}

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
    /// [`MAX_WORKERS`] (`--workers`, `-j`). Default 64, async mode's
    /// [`default_workers`](Mode::default_workers): [`Config::new`] sets it for async, so set
    /// it again when you change [`mode`](Config::mode).
    pub workers: usize,
    /// `-j auto`: the crawl sets its own concurrency ([`crate::autoscale`]'s rules), starting
    /// low and never above `workers`, which is then the most it may use (`--max-workers`;
    /// default [`Mode::default_max_workers`]). Default false. Sequential mode stays at 1.
    pub auto_workers: bool,
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
    /// Give up an origin after this many connection failures or timeouts in a row, recording
    /// its remaining pages as "host unreachable" at once (`--host-failures`); 0 never gives
    /// up. Default [`DEFAULT_HOST_FAILURES`] (5).
    pub host_failures: u32,
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
    /// A configuration with the command line's defaults, for library users and tests.
    pub fn new(seeds: Vec<Url>) -> Self {
        Config {
            seeds,
            mode: Mode::Async,
            workers: Mode::Async.default_workers(),
            auto_workers: false,
            rate: None,
            per_host_rate: None,
            per_host_workers: Some(DEFAULT_PER_HOST_WORKERS),
            host_failures: DEFAULT_HOST_FAILURES,
            depth: 0,
            max_pages: None,
            allow_domains: Vec::new(),
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
        }
    }
}

/// `crawl/VERSION`; its first word, `crawl`, is the product token robots.txt groups are matched
/// against.
pub fn default_user_agent() -> String {
    format!("crawl/{}", env!("CARGO_PKG_VERSION"))
}

pub use crate::ratelimit::MIN_RATE;
/// Longest request timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);
/// Pages of one origin in flight at once by default: Scrapy's default per domain too. Enough
/// to keep a real site's pages coming while no single server sees more than a browser or two
/// would send it, whatever `--workers` is.
pub const DEFAULT_PER_HOST_WORKERS: usize = 8;
/// [`Config::depth`] with no limit (`--depth inf`): more hops than any site has.
pub const UNLIMITED_DEPTH: u32 = u32::MAX;
/// Connection failures or timeouts in a row after which an origin is given up, by default.
pub const DEFAULT_HOST_FAILURES: u32 = 5;
/// Most workers accepted in any mode: far past where more help (see the sweeps in
/// benches/README.md), and low enough that no mode runs out of memory or file descriptors just
/// setting them up.
pub const MAX_WORKERS: usize = 10_000;
/// How long a shared crawl's node keeps a page without renewing its lease, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Shortest lease accepted: a node renews every third of it, and a round trip to Redis across
/// machines must fit with room to spare.
pub const MIN_LEASE: Duration = Duration::from_secs(2);
/// Longest lease accepted: a dead node's pages wait this long for another node.
pub const MAX_LEASE: Duration = Duration::from_secs(86_400);
/// Most `--max-bytes` the processes mode accepts with `--warc`: a page's raw body crosses the
/// wire to the archive's one writer, inside [`crate::modes`]' message limit.
pub const MAX_WARC_BYTES: u64 = 128 * 1024 * 1024;
/// [`Config::on_metrics`]: what to do with the address `--metrics` listens on.
#[derive(Clone)]
pub struct MetricsListening(pub Arc<dyn Fn(std::net::SocketAddr) + Send + Sync>);

impl std::fmt::Debug for MetricsListening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsListening(..)")
    }
}

/// Longest grace period accepted after Ctrl-C.
pub const MAX_GRACE: Duration = Duration::from_secs(3600);

/// A setting of [`Config`] that a rule can refuse: its field name in code, its flag on the
/// command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// [`Config::seeds`]; the `URLS_FILE` argument.
    Seeds,
    /// [`Config::workers`]; `--workers`.
    Workers,
    /// [`Config::rate`]; `--rate`.
    Rate,
    /// [`Config::per_host_rate`]; `--per-host-rate`.
    PerHostRate,
    /// [`Config::per_host_workers`]; `--per-host-workers`.
    PerHostWorkers,
    /// [`Config::max_pages`]; `--max-pages`.
    MaxPages,
    /// [`Config::allow_domains`]; `--allow-domain`.
    AllowDomains,
    /// [`Config::timeout`]; `--timeout`.
    Timeout,
    /// [`Config::max_bytes`]; `--max-bytes`.
    MaxBytes,
    /// [`Config::user_agent`]; `--user-agent`.
    UserAgent,
    /// [`Config::headers`]; `-H`, `--header`.
    Headers,
    /// [`Config::proxy`]; `--proxy`.
    Proxy,
    /// [`Config::login`] (library only).
    Login,
    /// [`Config::dedupe`]; `--dedupe`.
    Dedupe,
    /// [`Config::fork_per_page`]; `--fork-per-page`.
    ForkPerPage,
    /// [`Config::grace`]; `--grace`.
    Grace,
    /// [`Config::depth`]; `--depth`.
    Depth,
    /// [`Config::obey_robots`]; `--ignore-robots`.
    ObeyRobots,
    /// [`Config::shared`]'s URL; `--frontier`.
    Frontier,
    /// [`Config::shared`]'s crawl id; `--crawl-id`.
    CrawlId,
    /// [`Config::shared`]'s lease; `--lease`.
    Lease,
    /// [`Config::metrics`]; `--metrics`.
    Metrics,
    /// [`Config::metrics_linger`]; `--metrics-linger`.
    MetricsLinger,
    /// [`Config::warc`]'s path; `--warc`.
    Warc,
    /// [`Config::warc`]'s size limit; `--warc-max-size`.
    WarcMaxSize,
}

impl Setting {
    /// The [`Config`] field, as a library user writes it.
    pub fn field(self) -> &'static str {
        match self {
            Setting::Seeds => "seeds",
            Setting::Workers => "workers",
            Setting::Rate => "rate",
            Setting::PerHostRate => "per_host_rate",
            Setting::PerHostWorkers => "per_host_workers",
            Setting::MaxPages => "max_pages",
            Setting::AllowDomains => "allow_domains",
            Setting::Timeout => "timeout",
            Setting::MaxBytes => "max_bytes",
            Setting::UserAgent => "user_agent",
            Setting::Headers => "headers",
            Setting::Proxy => "proxy",
            Setting::Login => "login",
            Setting::Dedupe => "dedupe",
            Setting::ForkPerPage => "fork_per_page",
            Setting::Grace => "grace",
            Setting::Depth => "depth",
            Setting::ObeyRobots => "obey_robots",
            Setting::Frontier => "shared.url",
            Setting::CrawlId => "shared.crawl_id",
            Setting::Lease => "shared.lease",
            Setting::Metrics => "metrics",
            Setting::MetricsLinger => "metrics_linger",
            Setting::Warc => "warc.path",
            Setting::WarcMaxSize => "warc.max_size",
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
            Setting::Timeout => "--timeout",
            Setting::MaxBytes => "--max-bytes",
            Setting::UserAgent => "--user-agent",
            Setting::Headers => "--header",
            Setting::Proxy => "--proxy",
            Setting::Login => "login",
            Setting::Dedupe => "--dedupe",
            Setting::ForkPerPage => "--fork-per-page",
            Setting::Grace => "--grace",
            Setting::Depth => "--depth",
            Setting::ObeyRobots => "--ignore-robots",
            Setting::Frontier => "--frontier",
            Setting::CrawlId => "--crawl-id",
            Setting::Lease => "--lease",
            Setting::Metrics => "--metrics",
            Setting::MetricsLinger => "--metrics-linger",
            Setting::Warc => "--warc",
            Setting::WarcMaxSize => "--warc-max-size",
        }
    }
}

/// A configuration the crawl cannot start with. `Display` names the [`Config`] field; the CLI
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

impl Config {
    /// Checks every rule, and returns the configuration as the crawl will run it: sequential
    /// mode always has one worker, and allowed domains are normalised (`.Example.COM.` ->
    /// `example.com`). The front door ([`crate::run`], [`crate::Crawl`]) calls this itself;
    /// call it early to report a bad setting before doing anything else.
    pub fn validate(mut self) -> Result<Config, ConfigError> {
        // The rules run in the order the command line has always reported them, so the flag
        // named first when several are wrong does not depend on how the config was built.
        // A node joining a shared crawl takes the crawl's seeds.
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
        match self.mode {
            Mode::Sequential => self.workers = 1,
            _ if self.workers == 0 => {
                return Err(ConfigError::new(Setting::Workers, "must be at least 1"));
            }
            _ if self.workers > MAX_WORKERS => {
                return Err(ConfigError::new(
                    Setting::Workers,
                    format!("must be at most {MAX_WORKERS}, got {}", self.workers),
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
        if self.max_bytes == 0 {
            return Err(ConfigError::new(Setting::MaxBytes, "must be at least 1"));
        }
        if self.max_pages == Some(0) {
            return Err(ConfigError::new(Setting::MaxPages, "must be at least 1"));
        }
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
        self.allow_domains = self
            .allow_domains
            .iter()
            .map(|d| domain(d))
            .collect::<Result<_, _>>()?;
        check_rate(Setting::Rate, self.rate)?;
        check_rate(Setting::PerHostRate, self.per_host_rate)?;
        if let Some(shared) = &self.shared {
            self.check_shared(shared)?;
        }
        if let Some(warc) = &self.warc {
            self.check_warc(warc)?;
        }
        Ok(self)
    }

    /// Whether a failed rule on `setting` is checked before the command line's `--field`
    /// specifications are (the order the CLI reports errors in: see [`Config::validate`]).
    pub(crate) fn checked_before_fields(setting: Setting) -> bool {
        !matches!(
            setting,
            Setting::AllowDomains | Setting::Rate | Setting::PerHostRate
        )
    }
}

impl Config {
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
        if !matches!(url.scheme(), "redis" | "rediss") || url.host().is_none() {
            return Err(ConfigError::new(
                Setting::Frontier,
                format!(
                    "{}: write redis://HOST:PORT/DB (rediss:// for TLS), with \
                     :PASSWORD@ or USER:PASSWORD@ before the host if Redis needs them",
                    shared.url
                ),
            ));
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
        if self.sitemaps {
            return Err(ConfigError::new(
                Setting::Frontier,
                "cannot go with --sitemaps yet: give the sitemap's pages as seeds",
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

#[cfg(test)]
mod tests;
