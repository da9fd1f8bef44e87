//! The validated crawl configuration.
//!
//! [`crate::cli`] turns raw flags into a [`Config`] in one place, and that conversion is the only
//! place flag errors are reported. Everything downstream can trust these values: rates are
//! positive and finite, workers at least one, seeds non-empty http(s) URLs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::scrape::PageExtractor;

/// Where the fetch-and-parse stage runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// One page at a time on the calling thread: the baseline.
    Sequential,
    /// N OS threads, each fetching and parsing the pages it takes.
    Threads,
    /// A tokio runtime with up to N pages in flight; parsing runs off the reactor.
    Async,
    /// N forked worker processes fed by the coordinator over pipes.
    Processes,
}

impl Mode {
    /// The lower-case name used on the command line and in reports.
    pub fn name(self) -> &'static str {
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
    Stdout,
    File(PathBuf),
    /// Nowhere: for library users who take items through [`crate::scrape::Crawl::for_each`].
    Discard,
}

/// How records are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header: the record's keys, then `columns` (the extractor's fields).
    Csv { columns: Vec<String> },
}

/// When to draw progress bars on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Only when standard error is a terminal.
    Auto,
    Always,
    Never,
}

/// A crawl, fully specified and validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub seeds: Vec<Url>,
    pub mode: Mode,
    /// OS threads, worker processes or concurrent async tasks (1 in sequential mode).
    pub workers: usize,
    /// Global requests per second across all workers; `None` is unlimited.
    pub rate: Option<f64>,
    /// Requests per second to any one origin; `None` is unlimited.
    pub per_host_rate: Option<f64>,
    /// Link hops from the seeds; 0 fetches the seeds only.
    pub depth: u32,
    /// Upper bound on records, seeds included; `None` is unlimited.
    pub max_pages: Option<u64>,
    /// Extra domains (and their subdomains) links and redirects may go to.
    pub allow_domains: Vec<String>,
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    /// Extra attempts after a retryable failure.
    pub retries: u32,
    /// Body bytes kept (after decompression); longer bodies are cut.
    pub max_bytes: u64,
    pub user_agent: String,
    pub obey_robots: bool,
    pub output: Output,
    pub format: Format,
    pub progress: ProgressMode,
    /// Rounds of synthetic CPU work per parsed page.
    pub cpu_work: u64,
    /// Processes mode: where links are deduplicated first.
    pub dedupe: Dedupe,
    /// Processes mode: fork a fresh worker for every page instead of keeping a pool.
    pub fork_per_page: bool,
    /// After Ctrl-C or SIGTERM, how long pages in flight may take to finish.
    pub grace: Duration,
    /// Where the crash-safe journal lives (`--state`); running again with it resumes.
    pub state: Option<PathBuf>,
    /// Runs on every 2xx HTML page and adds its item to the record (`--field`, or your own
    /// through [`crate::scrape::Crawl`]).
    pub extractor: Option<Arc<dyn PageExtractor>>,
}

impl Config {
    /// A configuration with the command line's defaults, for library users and tests.
    pub fn new(seeds: Vec<Url>) -> Self {
        Config {
            seeds,
            mode: Mode::Async,
            workers: Mode::Async.default_workers(),
            rate: None,
            per_host_rate: None,
            depth: 0,
            max_pages: None,
            allow_domains: Vec::new(),
            timeout: Duration::from_secs(30),
            retries: 2,
            max_bytes: 10 * 1024 * 1024,
            user_agent: default_user_agent(),
            obey_robots: true,
            output: Output::Stdout,
            format: Format::Jsonl,
            progress: ProgressMode::Never,
            cpu_work: 0,
            dedupe: Dedupe::Coordinator,
            fork_per_page: false,
            grace: Duration::from_secs(5),
            state: None,
            extractor: None,
        }
    }
}

/// `crawl/VERSION`, which is also the product token robots.txt groups are matched against.
pub fn default_user_agent() -> String {
    format!("crawl/{}", env!("CARGO_PKG_VERSION"))
}
