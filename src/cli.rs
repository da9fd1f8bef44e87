//! The command line: raw flags as clap parses them, and their single conversion into a
//! [`Config`]. The rules are [`Config::validate`]'s, the same a library user's config passes;
//! this module only names the flag when one fails ([`ArgsError`]). The same clap definitions
//! give the shell completions and the man page ([`Command`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use url::Url;

use std::sync::Arc;

use crate::config::{
    Config, ConfigError, Dedupe, Format, FrontierUrl, ItemsFile, ItemsFormat, Mode, Output, Plan,
    ProgressMode, ProxyUrl, Setting, SharedCrawl, WarcConfig, default_user_agent,
};
use crate::fields::Fields;
use crate::scrape::PageExtractor;
use crate::seeds::{self, SeedError};

/// Crawl web pages from a list of seed URLs and write one JSON record per page.
///
/// The fetch-and-parse stage runs sequentially, on OS threads, on async tasks or in worker
/// processes (--mode), so the same crawl can be timed under each model. At the end a summary on
/// standard error says where the time went: waiting on the network, parsing on the CPU, or
/// waiting on the rate limiter.
#[derive(Debug, Clone, Parser)]
#[command(name = "crawl", version, about, long_about = None)]
// A word after flags is a URLS_FILE, never a command; a URLs file named like a command is
// reached as ./completions or after `--`.
#[command(args_conflicts_with_subcommands = true, disable_help_subcommand = true)]
#[command(after_help = "\
Examples:
  crawl --demo                          crawl the built-in fixture site (no network needed)
  crawl -d 2 -o records.jsonl urls.txt  seeds plus two hops of links, records to a file
  crawl -m threads -j 32 --rate 10 urls.txt
  echo https://example.com/ | crawl -d 1
  crawl --frontier redis://HOST:6379/0 --crawl-id shop -d 3 urls.txt -o a.jsonl   start a shared crawl
  crawl --frontier redis://HOST:6379/0 --crawl-id shop -o b.jsonl                 another node joins it

Exit status: 0 when the crawl finishes (failed pages are records, not exit codes),
2 for bad flags or input, 1 for a fatal runtime error.")]
pub struct Args {
    /// File of seed URLs, one per line; blank lines and # comments are ignored. `-` or absent
    /// reads standard input.
    #[arg(value_name = "URLS_FILE")]
    pub urls_file: Option<PathBuf>,

    /// Where fetch and parse run: sequential (one page at a time), threads (N OS threads),
    /// async (tokio, N pages in flight) or processes (N forked workers).
    #[arg(short, long, value_enum, default_value_t = ModeArg::Async)]
    pub mode: ModeArg,

    /// Workers: OS threads, worker processes, or pages in flight for async, at most 10000; or
    /// `auto`: the crawl sets its own, starting at 2 per core (8 in async mode) and moving every
    /// few response times on what it measures (up while network-bound and pages/s rise with it; back down when
    /// more in flight buys no pages/s or latency rises with pages/s flat; halved on 429 and
    /// 503; held when CPU-bound, rate-limited or out of work)
    /// [default: threads 16, async 64, processes 2 x cores; sequential is always 1]
    #[arg(short = 'j', long, value_name = "N|auto", value_parser = parse_workers)]
    pub workers: Option<Workers>,

    /// With `-j auto`, the most workers it may use
    /// [default: threads 256, async 1024, processes 64]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=crate::config::MAX_WORKERS as u64))]
    pub max_workers: Option<u64>,

    /// Global limit in requests per second, across all workers [default: unlimited]
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,

    /// Limit in requests per second to any one origin (scheme, host, port) [default: unlimited]
    #[arg(long, value_name = "R")]
    pub per_host_rate: Option<f64>,

    /// At most N pages of one origin in flight at once, across all workers of any mode; 0
    /// lifts the cap. The default is polite to a real site; a robots.txt Crawl-delay (capped at
    /// 60 s) and a 429 or 503 with Retry-After slow the whole origin further
    /// [default: 8; with --demo, no cap: the fixture site is ours]
    #[arg(long, value_name = "N")]
    pub per_host_workers: Option<usize>,

    /// Pause an origin after N connection failures or timeouts in a row (requests in flight
    /// together that fail for the same reason count once): its pages wait, other origins go on,
    /// and it is probed (--host-probes). 0: never pause nor give up
    #[arg(long, value_name = "N", default_value_t = crate::config::DEFAULT_HOST_FAILURES)]
    pub host_failures: u32,

    /// Probes of a paused origin before it is given up. The first goes after a cool-down of
    /// --timeout, each next after twice the last (5: after 1, 2, 4, 8 and 16 timeouts); an
    /// answer reopens the origin at its full cap. Once every probe has failed, its remaining
    /// pages are recorded as "host unreachable" at once. 0: give up at the first pause
    #[arg(long, value_name = "N", default_value_t = crate::config::DEFAULT_HOST_PROBES)]
    pub host_probes: u32,

    /// Link hops to follow from the seeds; 0 fetches only the seeds, `inf` follows links with
    /// no limit (scope, --max-pages and robots.txt still apply) [default: 0, or 5 with --demo]
    #[arg(short, long, value_name = "N|inf", value_parser = parse_depth)]
    pub depth: Option<u32>,

    /// Stop scheduling after N records (seeds included) [default: unlimited]
    #[arg(long, value_name = "N")]
    pub max_pages: Option<u64>,

    /// Also follow links and redirects to domain D and its subdomains (repeatable). By default
    /// only the seeds' hosts are crawled.
    #[arg(long = "allow-domain", value_name = "D")]
    pub allow_domains: Vec<String>,

    /// On the crawl's hosts, follow only links whose path starts with PREFIX (`/book/`), or
    /// that start with PREFIX given as a URL (repeatable: any one will do). Seeds are fetched
    /// whatever it says; redirects are held to it too.
    #[arg(long = "allow-path", value_name = "PREFIX")]
    pub allow_paths: Vec<String>,

    /// Follow only links whose normalised URL the regular expression REGEX matches
    /// (repeatable; with --allow-path, either lets a link in). Unanchored: `^...$` for the
    /// whole URL.
    #[arg(long, value_name = "REGEX")]
    pub allow: Vec<String>,

    /// Never follow links (nor their redirects) whose normalised URL REGEX matches, whatever
    /// --allow-path or --allow say (repeatable). Seeds are fetched whatever it says
    #[arg(long, value_name = "REGEX")]
    pub deny: Vec<String>,

    /// Whole-request timeout in seconds, reading the body included
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,

    /// Extra attempts after a connect error, timeout, 429 or 5xx, with exponential backoff and
    /// jitter; Retry-After is honoured (up to 60 s)
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retries: u32,

    /// Keep at most SIZE bytes of each (decompressed) body; longer bodies are cut and the
    /// record says so. K, M and G suffixes count in 1024s (10M is the default)
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = 10 * 1024 * 1024)]
    pub max_bytes: u64,

    /// User-Agent header; its first word is also the robots.txt product token
    #[arg(long, value_name = "UA")]
    pub user_agent: Option<String>,

    /// Send every request, robots.txt included, through this proxy: http://, https://,
    /// socks5:// or socks5h://, with user:password@ if it needs them (never printed). Without
    /// it, the http_proxy, https_proxy, all_proxy and no_proxy environment variables (either
    /// case) apply
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,

    /// Read each seed host's sitemaps: those its robots.txt lists (Sitemap: lines), else
    /// /sitemap.xml, following sitemap indexes and .xml.gz files (at most 50,000 URLs and 50 MB
    /// each, 1,000 files a host). The pages they list are crawled as seeds of that host
    /// (depth 0), within scope and robots.txt; each sitemap gets a record of its own
    #[arg(long)]
    pub sitemaps: bool,

    /// Keep one cookie jar for the crawl: a cookie a page sets is sent with later requests it
    /// applies to (domain, path, expiry and Secure rules as browsers apply them), whichever
    /// worker fetches them, in every mode. With --state the jar is kept in DIR/cookies.json
    /// and a resumed crawl goes on with it
    #[arg(long)]
    pub cookies: bool,

    /// Ignore the proxy environment variables (http_proxy, https_proxy, all_proxy, no_proxy,
    /// either case)
    #[arg(long, conflicts_with = "proxy")]
    pub no_proxy: bool,

    /// Add a header to every request, robots.txt included, as curl does: -H 'Accept-Language:
    /// fr' (repeatable). It goes to every host the crawl requests (the seeds' hosts and
    /// --allow-domain ones). Values are never printed. Set the User-Agent with --user-agent
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,

    /// Do not fetch or obey robots.txt
    #[arg(long)]
    pub ignore_robots: bool,

    /// Write records (JSON Lines) to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Add a key NAME to each page's record from the elements matching the CSS SELECTOR:
    /// SELECTOR alone is the first non-blank one's text (or null); first(SELECTOR) the first
    /// one's, blank or not; all(SELECTOR) a list of every one's; count(SELECTOR) how many
    /// match. SELECTOR@attr takes that attribute instead of the text. Repeatable:
    /// --field price=.price --field photos=all(img@src) --field h2s=count(h2)
    #[arg(long = "field", value_name = "NAME=SELECTOR")]
    pub fields: Vec<String>,

    /// Record format: jsonl (one JSON object per line) or csv (a header row from the record's
    /// keys and the --field names; lists and objects as JSON text)
    #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
    pub format: FormatArg,

    /// Also write the --field values alone to FILE, one item per line: {"url": the page's
    /// final URL, then each field}, none of the record's keys (Scrapy's -O). JSON Lines, or
    /// CSV if FILE ends in .csv (or with --items-format csv). Records still go to --output.
    #[arg(long, value_name = "FILE")]
    pub items: Option<PathBuf>,

    /// The items file's format [default: by --items' extension: .csv is csv, else jsonl]
    #[arg(long, value_enum, value_name = "FORMAT", requires = "items")]
    pub items_format: Option<FormatArg>,

    /// Progress bars on standard error: auto shows them only on a terminal
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,

    /// Extra synthetic CPU work per parsed page, in rounds (1,000,000 rounds take about 2.4 ms
    /// on a 2024 x86 core): pushes the bottleneck onto the CPU on purpose
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub cpu_work: u64,

    /// Processes mode: where links are checked against known URLs. coordinator sends every link
    /// over the socket (the "manager" pattern); shared lets workers drop known links first by
    /// looking them up in shared memory
    #[arg(long, value_enum, default_value_t = DedupeArg::Coordinator)]
    pub dedupe: DedupeArg,

    /// Processes mode: fork a fresh worker for every page instead of keeping a pool (the
    /// article's process-per-task; slow on purpose, to show what process start-up costs)
    #[arg(long)]
    pub fork_per_page: bool,

    /// After Ctrl-C or SIGTERM, let pages in flight finish for up to SECS seconds before giving
    /// them up (a second Ctrl-C gives them up at once). Finished records are always written.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub grace: f64,

    /// Keep a crash-safe journal of the crawl in DIR; running the same command again resumes it:
    /// finished pages are not fetched again and records are appended to the -o file
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,

    /// Archive every request and response the crawl makes (robots.txt, each redirect hop,
    /// error pages and retries included) in FILE as WARC/1.1: a .warc.gz file, one gzip
    /// member per record. Bodies are stored as they arrived (still compressed if the server
    /// compressed them), cut at --max-bytes like the pages. With --state, a resumed crawl
    /// appends to it
    #[arg(long, value_name = "FILE")]
    pub warc: Option<PathBuf>,

    /// Remember each page in DIR (created if need be), so the next crawl with the same DIR
    /// asks only for what changed: If-None-Match / If-Modified-Since for pages it knows; a 304
    /// writes the page's earlier record again (items included) marked "unchanged": true and
    /// follows the links the page had; a body like the one kept is unchanged too; a page still
    /// fresh by its Cache-Control or Expires is not requested at all; a 404 or 410 where there
    /// was a page is marked "gone": true, a page that differs "changed": true, one not seen
    /// before "new": true. A cache belongs to one crawl's seeds and settings
    #[arg(long, value_name = "DIR", help_heading = "Crawling again")]
    pub cache: Option<PathBuf>,

    /// With --cache, ask about pages still fresh by their Cache-Control or Expires too
    #[arg(long, requires = "cache", help_heading = "Crawling again")]
    pub revalidate: bool,

    /// With --cache, write records (and --items) only for new, changed and gone pages: what a
    /// daily scrape wants to hear about
    #[arg(long, requires = "cache", help_heading = "Crawling again")]
    pub changed_only: bool,

    /// With --warc, start a new file (FILE-00001.warc.gz, ...) once one holds SIZE bytes;
    /// K, M and G suffixes count in 1024s (Heritrix rotates at 1G) [default: one file]
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "warc")]
    pub warc_max_size: Option<u64>,

    /// Share the crawl with other crawl processes, here or on other machines, through a
    /// frontier in Redis: URL is redis://HOST:PORT/DB, with USER:PASSWORD@ before the host if
    /// Redis needs them (rediss:// for TLS), or redis+cluster://HOST:PORT for a Redis Cluster
    /// (any node; more after commas, HOST:PORT,HOST:PORT; rediss+cluster:// for TLS).
    /// The first node with seeds starts the crawl; a node without URLS_FILE joins it and takes
    /// its seeds, --depth, --max-pages, --allow-domain and robots setting. Each node writes its
    /// own records; together they crawl each page once. Needs --crawl-id. A URL without a
    /// password takes the one in the environment variable CRAWL_REDIS_PASSWORD, which `ps`
    /// does not show as it shows a command line
    #[arg(
        long,
        value_name = "URL",
        requires = "crawl_id",
        help_heading = "Shared crawl"
    )]
    pub frontier: Option<String>,

    /// The shared crawl to start or join (--frontier): 1 to 64 letters, digits, '.', '_', '-'
    #[arg(
        long,
        value_name = "ID",
        requires = "frontier",
        help_heading = "Shared crawl"
    )]
    pub crawl_id: Option<String>,

    /// Seconds a node keeps a page of a shared crawl without renewing its lease (it renews
    /// every third of it). A node that dies or is cut off loses its pages to the others after
    /// this
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 60.0,
        help_heading = "Shared crawl"
    )]
    pub lease: f64,

    /// Seconds a node that lost Redis (a restart, a failover, a stall) keeps trying before it
    /// exits 1. Meanwhile it keeps the pages it holds and takes no new ones; then it goes on
    /// where it was
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 60.0,
        requires = "frontier",
        help_heading = "Shared crawl"
    )]
    pub redis_wait: f64,

    /// Hash slots a new shared crawl's keys are spread over: each host's queue, seen set and
    /// leases live in one. Default 1 on one Redis, 16 on a Redis Cluster (redis+cluster://),
    /// 1 with --max-pages. A node joining takes the crawl's
    #[arg(
        long,
        value_name = "N",
        requires = "frontier",
        help_heading = "Shared crawl"
    )]
    pub shards: Option<u32>,

    /// URLs a new shared crawl expects to know: the seen set in Redis is sized for it (about
    /// 9-11 bytes a URL up to it, 50-85 past it). Default: --max-pages, else 1.5 million. A node
    /// joining takes the crawl's
    #[arg(
        long,
        value_name = "N",
        requires = "frontier",
        help_heading = "Shared crawl"
    )]
    pub expect_urls: Option<u64>,

    /// Stop every node of the shared crawl --crawl-id, as Ctrl-C stops one (their pages in
    /// flight finish and are recorded), then exit
    #[arg(long, requires = "frontier", help_heading = "Shared crawl")]
    pub stop_crawl: bool,

    /// Also write the end-of-crawl summary as JSON to FILE (for scripts and benchmarks)
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Log more on standard error (or --log FILE): -v says retries, robots.txt decisions and
    /// hosts given up; -vv also every request (URL, status, attempt, ms, worker); -vvv all.
    /// RUST_LOG, when set, overrides (as in RUST_LOG=crawl=debug)
    #[arg(short, long, action = clap::ArgAction::Count, help_heading = "Logs and metrics")]
    pub verbose: u8,

    /// Write the log to FILE (appended) instead of standard error
    #[arg(long, value_name = "FILE", help_heading = "Logs and metrics")]
    pub log: Option<PathBuf>,

    /// The log's format: text (one line per event) or json (one JSON object per line)
    #[arg(long, value_enum, default_value_t = LogFormat::Text, help_heading = "Logs and metrics")]
    pub log_format: LogFormat,

    /// Serve the crawl's figures in the Prometheus text format at http://ADDR/metrics while it
    /// runs, e.g. 127.0.0.1:9898 (port 0: a free port, printed on standard error)
    #[arg(long, value_name = "ADDR", value_parser = parse_metrics_addr, help_heading = "Logs and metrics")]
    pub metrics: Option<std::net::SocketAddr>,

    /// With --metrics, go on serving the final figures for SECS seconds after the crawl ends,
    /// so a Prometheus scraping every 15 s still sees them (Ctrl-C cuts it short)
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 0.0,
        help_heading = "Logs and metrics"
    )]
    pub metrics_linger: f64,

    /// Crawl the built-in fixture site: starts the fixture-server program found next to this
    /// one, crawls it, and stops it. Records go to crawl-demo.jsonl unless -o is given.
    #[arg(long, conflicts_with = "urls_file")]
    pub demo: bool,

    /// Instead of crawling: print shell completions or the man page.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `crawl` can print instead of crawling, generated from these same definitions.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print the completion script for SHELL on standard output
    ///
    /// Save it where the shell looks for completions (GUIDE.md, "Shell completions and man
    /// page"). To crawl a URLs file named `completions`, write `crawl ./completions`.
    Completions {
        /// The shell to complete crawl's flags in
        #[arg(value_enum, value_name = "SHELL")]
        shell: Shell,
    },
    /// Print the man page (roff) on standard output
    ///
    /// Save it as crawl.1 in a man1 directory of the man path (GUIDE.md, "Shell completions and
    /// man page"). To crawl a URLs file named `man`, write `crawl ./man`.
    Man,
    /// Show a shared crawl as a whole: pages done, leased, queued and held per depth, live
    /// nodes and their pages/s, hosts paused or given up, Redis memory per URL
    ///
    /// Reads Redis only; changes nothing. Run it from any machine that reaches the crawl's
    /// Redis. To crawl a URLs file named `status`, write `crawl ./status`.
    Status(StatusArgs),
}

/// `crawl status`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The crawl's Redis, as its nodes were given it (redis://, rediss://, redis+cluster://);
    /// the password may come from CRAWL_REDIS_PASSWORD
    #[arg(long, value_name = "URL")]
    pub frontier: String,

    /// The crawl's id
    #[arg(long, value_name = "ID")]
    pub crawl_id: String,

    /// One JSON object (done, queued, leased, held, finished, depths, nodes, ...) instead of
    /// text
    #[arg(long)]
    pub json: bool,

    /// Redraw every SECS seconds (2 by default) until the crawl is finished or Ctrl-C; with
    /// --json, one object per line
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2")]
    pub watch: Option<f64>,
}

impl StatusArgs {
    /// The Redis the flags name, with the password from the environment when the URL has none.
    pub fn frontier(&self) -> Result<FrontierUrl, ArgsError> {
        let mut url = FrontierUrl::parse(&self.frontier).ok_or(ArgsError::Frontier)?;
        if url.url().password().is_none()
            && let Ok(password) = std::env::var(PASSWORD_VAR)
            && !password.is_empty()
        {
            url.set_password(&password)
                .map_err(|()| ArgsError::Frontier)?;
        }
        Ok(url)
    }
}

/// The shells `crawl completions` writes for: clap_complete's, by the names it gives them. Its
/// own type is not used here so that the command parses (and `--help` reads the same) in a
/// build without the `man` feature, which has no clap_complete; the binary maps each to it.
// No doc comments on the variants: clap would show them as the values' help, which
// clap_complete's type has none of.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Elvish,
    Fish,
    #[value(name = "powershell")]
    PowerShell,
    Zsh,
}

/// The environment variable a `--frontier` URL without a password takes its password from.
pub const PASSWORD_VAR: &str = "CRAWL_REDIS_PASSWORD";

// The library's enums know nothing of clap: the flags' values are these, each mapped to its
// library type in one `From`. Their doc comments are the values' help.

/// Where the fetch-and-parse stage runs ([`Mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
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

impl From<ModeArg> for Mode {
    fn from(arg: ModeArg) -> Mode {
        match arg {
            ModeArg::Sequential => Mode::Sequential,
            ModeArg::Threads => Mode::Threads,
            ModeArg::Async => Mode::Async,
            ModeArg::Processes => Mode::Processes,
        }
    }
}

/// Where links are checked against the URLs already known, in processes mode ([`Dedupe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DedupeArg {
    /// Every link crosses the socket and the coordinator decides (the "manager" pattern).
    Coordinator,
    /// Workers first drop links found in a fingerprint table in shared memory.
    Shared,
}

impl From<DedupeArg> for Dedupe {
    fn from(arg: DedupeArg) -> Dedupe {
        match arg {
            DedupeArg::Coordinator => Dedupe::Coordinator,
            DedupeArg::Shared => Dedupe::Shared,
        }
    }
}

/// When to draw progress bars on standard error ([`ProgressMode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressArg {
    /// Only when standard error is a terminal.
    Auto,
    /// Always, even when standard error is a file or a pipe.
    Always,
    /// Never; notes and the summary are still printed.
    Never,
}

impl From<ProgressArg> for ProgressMode {
    fn from(arg: ProgressArg) -> ProgressMode {
        match arg {
            ProgressArg::Auto => ProgressMode::Auto,
            ProgressArg::Always => ProgressMode::Always,
            ProgressArg::Never => ProgressMode::Never,
        }
    }
}

/// The values of `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per event and line, its fields at the top level.
    Json,
}

/// `--metrics ADDR`: an IP address and port, or a host name that resolves here
/// (`localhost:9898`).
fn parse_metrics_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let usage = || format!("not HOST:PORT (e.g. 127.0.0.1:9898, or port 0 for a free one): {text}");
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .map_err(|_| usage())?
        .next()
        .ok_or_else(usage)
}

/// The values of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// One JSON object per line ([`Format::Jsonl`]).
    Jsonl,
    /// CSV with a header row ([`Format::Csv`]), the `--field` names as its extra columns.
    Csv,
}

/// A flag or input the crawl cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// A rule of [`Config::validate`], reported with the flag's name.
    #[error("{}", .0.for_flag())]
    Invalid(#[from] ConfigError),
    /// The seed list could not be read, has a line that is not a seed URL, or is empty.
    #[error(transparent)]
    Seeds(#[from] SeedError),
    /// A `--field` is not `NAME=SELECTOR`, takes a record key's name or a name given before,
    /// or has a selector that does not parse.
    #[error(transparent)]
    Field(#[from] crate::fields::FieldError),
    /// A `-H` that is not `NAME: VALUE` (its value is not repeated: it may be a secret).
    #[error("--header: {0}")]
    Header(String),
    /// A `--frontier` that is not a URL (not repeated: it may hold a password).
    #[error(
        "--frontier: not a URL (write redis://HOST:PORT/DB, with :PASSWORD@ or \
         USER:PASSWORD@ before the host if Redis needs them)"
    )]
    Frontier,
    /// A `--proxy` that is not a URL (not repeated: it may hold a password).
    #[error(
        "--proxy: not a URL (write http://HOST:PORT, or socks5://HOST:PORT, with \
         user:password@ before the host if the proxy needs them)"
    )]
    Proxy,
    /// `--max-workers` without `-j auto`.
    #[error("--max-workers: only with -j auto (a fixed -j N is already the number of workers)")]
    MaxWorkers,
}

/// `-j`: a number of workers, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// `-j N`.
    Fixed(usize),
    /// `-j auto`.
    Auto,
}

fn parse_workers(text: &str) -> Result<Workers, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(Workers::Auto);
    }
    text.parse()
        .map(Workers::Fixed)
        .map_err(|_| format!("expected a number of workers or `auto`, got {text:?}"))
}

/// `--depth`: a number of link hops, or `inf` for no limit ([`crate::config::UNLIMITED_DEPTH`]).
fn parse_depth(text: &str) -> Result<u32, String> {
    if text.eq_ignore_ascii_case("inf") {
        return Ok(crate::config::UNLIMITED_DEPTH);
    }
    text.parse()
        .map_err(|_| format!("expected a number of link hops or `inf`, got {text:?}"))
}

/// A size in bytes: a number, with K, M or G (1024-based) after it if wanted.
fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let (digits, scale) = match trimmed.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let scale = match unit.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => 0,
            };
            (&trimmed[..at], scale)
        }
        _ => (trimmed, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|_| scale > 0)
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| {
            format!("expected a size in bytes such as 1000000, 512M or 1G, got {text:?}")
        })
}

/// `-H` specifications as a header map.
fn headers(specs: &[String]) -> Result<http::HeaderMap, ArgsError> {
    let mut map = http::HeaderMap::new();
    for (n, spec) in specs.iter().enumerate() {
        let Some((name, value)) = spec.split_once(':') else {
            // Nothing of it is echoed: a header given whole may be a token.
            return Err(ArgsError::Header(format!(
                "expected 'NAME: VALUE', but header {} of {} has no ':'",
                n + 1,
                specs.len()
            )));
        };
        let name = http::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ArgsError::Header(format!("{:?} is not a header name", name.trim())))?;
        let value = http::HeaderValue::from_str(value.trim()).map_err(|_| {
            ArgsError::Header(format!(
                "the value of {name} has characters a header cannot hold"
            ))
        })?;
        map.append(name, value);
    }
    Ok(map)
}

impl Args {
    /// Reads the seed list named by the arguments (a file, or standard input). A node that
    /// joins a shared crawl (`--frontier`, no URLS_FILE) has none: it takes the crawl's.
    pub fn read_seeds(&self) -> Result<Vec<Url>, ArgsError> {
        if self.frontier.is_some() && self.urls_file.is_none() {
            return Ok(Vec::new());
        }
        Ok(seeds::read_seeds(self.urls_file.as_deref())?)
    }

    /// The shared crawl the flags name (`--frontier`, `--crawl-id`, `--lease`), unchecked.
    pub fn shared_crawl(&self) -> Result<Option<SharedCrawl>, ArgsError> {
        let (Some(url), Some(id)) = (&self.frontier, &self.crawl_id) else {
            return Ok(None);
        };
        let mut url = FrontierUrl::parse(url).ok_or(ArgsError::Frontier)?;
        if url.url().password().is_none()
            && let Ok(password) = std::env::var(PASSWORD_VAR)
            && !password.is_empty()
        {
            url.set_password(&password)
                .map_err(|()| ArgsError::Frontier)?;
        }
        let mut explicit = Vec::new();
        if self.depth.is_some() {
            explicit.push(Setting::Depth);
        }
        if self.max_pages.is_some() {
            explicit.push(Setting::MaxPages);
        }
        if !self.allow_domains.is_empty() {
            explicit.push(Setting::AllowDomains);
        }
        for (setting, rules) in [
            (Setting::AllowPaths, &self.allow_paths),
            (Setting::Allow, &self.allow),
            (Setting::Deny, &self.deny),
        ] {
            if !rules.is_empty() {
                explicit.push(setting);
            }
        }
        if self.ignore_robots {
            explicit.push(Setting::ObeyRobots);
        }
        if self.sitemaps {
            explicit.push(Setting::Sitemaps);
        }
        if self.shards.is_some() {
            explicit.push(Setting::Shards);
        }
        if self.expect_urls.is_some() {
            explicit.push(Setting::ExpectUrls);
        }
        Ok(Some(SharedCrawl {
            url,
            crawl_id: id.clone(),
            // Negative or NaN seconds: a stand-in the rules refuse.
            lease: Duration::try_from_secs_f64(self.lease).unwrap_or(Duration::ZERO),
            redis_wait: Duration::try_from_secs_f64(self.redis_wait).unwrap_or(Duration::ZERO),
            shards: self.shards,
            expect_urls: self.expect_urls,
            explicit,
        }))
    }

    /// Turns the flags into the [`Plan`] of a crawl of `seeds`: a [`Config`] validated once, by
    /// the same rules as a config built in code ([`Config::validate`]). Only what flags alone can get wrong is
    /// checked here: `--field` specifications, and seconds that are not a duration at all.
    pub fn into_plan(self, seeds: Vec<Url>) -> Result<Plan, ArgsError> {
        let (config, field_error, secs) = self.build(seeds)?;
        let (timeout_secs, grace_secs, linger_secs) = secs;
        let checked = config.validate().map_err(|e| match e.setting {
            Setting::Timeout => ConfigError::timeout(timeout_secs),
            Setting::Grace => ConfigError::grace(grace_secs),
            Setting::MetricsLinger if linger_secs.is_nan() || linger_secs < 0.0 => {
                ConfigError::metrics_linger(linger_secs)
            }
            _ => e,
        });
        // Report the first problem in the order the rules run, `--field` in its place.
        match (checked, field_error) {
            (Err(e), _) if Config::checked_before_fields(e.setting) => Err(e.into()),
            (_, Some(e)) => Err(e.into()),
            (Err(e), None) => Err(e.into()),
            (Ok(config), None) => Ok(config),
        }
    }

    /// The flags as a [`Config`] not yet validated, for a scraper binary that takes every crawl
    /// flag and adds its extractor: `crawl::Crawl::new(args.into_config(seeds)?, extractor)`
    /// validates it (see `examples/starter.rs`). Its own extractor replaces any `--field`s.
    pub fn into_config(self, seeds: Vec<Url>) -> Result<Config, ArgsError> {
        let (config, field_error, _) = self.build(seeds)?;
        match field_error {
            Some(e) => Err(e.into()),
            None => Ok(config),
        }
    }

    /// The config the flags say, the first `--field` error (reported in its place by
    /// [`Args::into_plan`]), and the seconds as typed (timeout, grace, metrics linger), for
    /// messages about values that are not durations at all.
    #[allow(clippy::type_complexity)]
    fn build(
        self,
        seeds: Vec<Url>,
    ) -> Result<(Config, Option<crate::fields::FieldError>, (f64, f64, f64)), ArgsError> {
        let (fields, field_error) = match crate::fields::parse_all(&self.fields) {
            Ok(fields) => (fields, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let (timeout_secs, grace_secs) = (self.timeout, self.grace);
        let linger_secs = self.metrics_linger;
        let headers = headers(&self.headers)?;
        let proxy = match &self.proxy {
            Some(text) => Some(ProxyUrl::new(
                Url::parse(text.trim()).map_err(|_| ArgsError::Proxy)?,
            )),
            None => None,
        };
        let shared = self.shared_crawl()?;
        if self.max_workers.is_some() && self.workers != Some(Workers::Auto) {
            return Err(ArgsError::MaxWorkers);
        }
        let config = Config {
            seeds,
            mode: self.mode.into(),
            // Unset: the mode's default, resolved by `Config::validate` (the one place).
            workers: match self.workers {
                Some(Workers::Fixed(n)) => Some(n),
                Some(Workers::Auto) => self.max_workers.and_then(|n| usize::try_from(n).ok()),
                None => None,
            },
            autoscale: self.workers == Some(Workers::Auto),
            rate: self.rate,
            per_host_rate: self.per_host_rate,
            per_host_workers: match self.per_host_workers {
                Some(0) => None,
                Some(n) => Some(n),
                None if self.demo => None,
                None => Some(crate::config::DEFAULT_PER_HOST_WORKERS),
            },
            host_failures: self.host_failures,
            host_probes: self.host_probes,
            depth: self.depth.unwrap_or(if self.demo { 5 } else { 0 }),
            max_pages: self.max_pages,
            allow_domains: self.allow_domains,
            allow_paths: self.allow_paths,
            allow: self.allow,
            deny: self.deny,
            // Negative or NaN seconds are no duration: stand-ins the rules refuse, reported
            // below with the number the user typed.
            timeout: Duration::try_from_secs_f64(timeout_secs).unwrap_or(Duration::ZERO),
            retries: self.retries,
            max_bytes: self.max_bytes,
            user_agent: self.user_agent.unwrap_or_else(default_user_agent),
            headers,
            proxy,
            env_proxy: !self.no_proxy,
            obey_robots: !self.ignore_robots,
            output: match self.output {
                Some(p) if p.as_os_str() == "-" => Output::Stdout,
                Some(p) => Output::File(p),
                None if self.demo => Output::File(PathBuf::from("crawl-demo.jsonl")),
                None => Output::Stdout,
            },
            format: match self.format {
                FormatArg::Jsonl => Format::Jsonl,
                FormatArg::Csv => Format::Csv {
                    columns: fields.iter().map(|f| f.name.clone()).collect(),
                },
            },
            items: self.items.map(|path| {
                let items = ItemsFile::new(path).with_url(true);
                match self.items_format {
                    Some(FormatArg::Csv) => items.format_as(ItemsFormat::Csv),
                    Some(FormatArg::Jsonl) => items.format_as(ItemsFormat::Jsonl),
                    None => items,
                }
            }),
            progress: self.progress.into(),
            cpu_work: self.cpu_work,
            cookies: self.cookies,
            sitemaps: self.sitemaps,
            login: Vec::new(),
            dedupe: self.dedupe.into(),
            fork_per_page: self.fork_per_page,
            grace: Duration::try_from_secs_f64(grace_secs).unwrap_or(Duration::MAX),
            state: self.state,
            cache: self.cache,
            revalidate: self.revalidate,
            changed_only: self.changed_only,
            shared,
            warc: self.warc.map(|path| WarcConfig {
                path,
                max_size: self.warc_max_size,
            }),
            extractor: (!fields.is_empty())
                .then(|| Arc::new(Fields(fields)) as Arc<dyn PageExtractor>),
            metrics: self.metrics,
            // The binary's to say (see `Config::on_metrics`).
            on_metrics: None,
            metrics_linger: Duration::try_from_secs_f64(linger_secs).unwrap_or(Duration::MAX),
        };
        Ok((config, field_error, (timeout_secs, grace_secs, linger_secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Plan, ArgsError> {
        let args = Args::try_parse_from(std::iter::once("crawl").chain(args.iter().copied()))
            .expect("clap accepts these flags");
        let seeds = vec![Url::parse("http://a.test/").expect("url")];
        args.into_plan(seeds)
    }

    #[test]
    fn sizes_take_1024_based_suffixes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("16k"), Ok(16 * 1024));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size(" 1G "), Ok(1 << 30));
        for bad in ["", "G", "1X", "-1", "1.5G", "99999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        // The flag parses in every build; only a build with the archive takes it.
        #[cfg(feature = "warc")]
        {
            let c = config(&["--warc", "a.warc.gz", "--warc-max-size", "1G"]).expect("valid");
            let warc = c.warc.clone().expect("an archive");
            assert_eq!(
                (warc.path, warc.max_size),
                (PathBuf::from("a.warc.gz"), Some(1 << 30))
            );
        }
        // One parser for every size flag.
        assert_eq!(
            config(&["--max-bytes", "64K"]).expect("valid").max_bytes,
            64 << 10
        );
        assert_eq!(
            config(&["--max-bytes", "5000"]).expect("valid").max_bytes,
            5000
        );
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = config(&[]).expect("valid");
        assert_eq!(c.mode, Mode::Async);
        assert_eq!(c.workers, 64);
        assert_eq!(c.depth, 0);
        assert_eq!(c.retries, 2);
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.max_bytes, 10 * 1024 * 1024);
        assert!(c.obey_robots);
        assert_eq!(c.output, Output::Stdout);
        assert_eq!(c.rate, None);
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (&["--rate", "0"][..], "--rate"),
            (&["--per-host-rate=-1"][..], "--per-host-rate"),
            (&["--rate", "NaN"][..], "--rate"),
            (&["-j", "0"][..], "--workers"),
            (&["--timeout", "0"][..], "--timeout"),
            (&["--timeout", "1e20"][..], "--timeout"),
            (&["--rate", "1e-20"][..], "--rate"),
            (&["--max-bytes", "0"][..], "--max-bytes"),
            (&["--allow-domain", "http://x.test/"][..], "--allow-domain"),
        ] {
            let err = config(args).expect_err("invalid").to_string();
            assert!(err.starts_with(flag), "{args:?}: {err}");
        }
    }

    #[test]
    fn the_first_bad_flag_is_reported_in_the_usual_order() {
        for (args, message) in [
            (&["--max-bytes", "0", "--rate", "0"][..], "--max-bytes"),
            (&["--grace", "4000", "--max-bytes", "0"][..], "--grace"),
            (&["-j", "0", "--field", "bad"][..], "--workers"),
            (&["--fork-per-page", "--rate", "0"][..], "--fork-per-page"),
            (
                &["--user-agent", " ", "--per-host-rate", "0"][..],
                "--user-agent",
            ),
            (&["--field", "bad", "--rate", "0"][..], "--field"),
            (
                &["--allow-domain", "a/b", "--rate", "0"][..],
                "--allow-domain",
            ),
            (
                &["--timeout", "1e-10"][..],
                "--timeout: must be a number of seconds above 0 and at most 86400, got 0.0000000001",
            ),
            (
                &["--grace=-1"][..],
                "--grace: must be a number of seconds from 0 to 3600, got -1",
            ),
            (
                &["-j", "10001"][..],
                "--workers: must be at most 10000, got 10001",
            ),
        ] {
            let err = config(args).expect_err("invalid").to_string();
            assert!(err.starts_with(message), "{args:?}: {err}");
        }
    }

    #[test]
    fn j_auto_takes_its_bound_from_max_workers_or_the_mode() {
        let c = config(&["-j", "auto"]).expect("valid");
        assert!(c.autoscale);
        assert_eq!(c.workers, 1024);
        let c = config(&["-m", "threads", "-j", "AUTO", "--max-workers", "12"]).expect("valid");
        assert!(c.autoscale && c.workers == 12);
        let c = config(&["-m", "processes", "-j", "auto"]).expect("valid");
        assert_eq!(c.workers, 64);
        let c = config(&["-m", "sequential", "-j", "auto"]).expect("valid");
        assert_eq!(c.workers, 1);
        assert!(!config(&["-j", "8"]).expect("valid").autoscale);
        let err = config(&["-j", "8", "--max-workers", "12"]).expect_err("needs auto");
        assert!(
            err.to_string()
                .starts_with("--max-workers: only with -j auto"),
            "{err}"
        );
        for bad in [
            &["-j", "lots"][..],
            &["-j", "auto", "--max-workers", "0"][..],
        ] {
            let parsed = Args::try_parse_from(std::iter::once("crawl").chain(bad.iter().copied()));
            let err = parsed.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("invalid value"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_per_host_cap_is_polite_by_default_and_can_be_lifted() {
        assert_eq!(config(&[]).expect("valid").per_host_workers, Some(8));
        let c = config(&["--per-host-workers", "3"]).expect("valid");
        assert_eq!(c.per_host_workers, Some(3));
        let c = config(&["--per-host-workers", "0"]).expect("valid");
        assert_eq!(c.per_host_workers, None);
        assert_eq!(config(&["--demo"]).expect("valid").per_host_workers, None);
        assert_eq!(config(&[]).expect("valid").host_failures, 5);
    }

    #[test]
    fn headers_are_name_value_pairs_and_bad_ones_name_the_flag() {
        let c =
            config(&["-H", "Accept-Language: fr", "--header", "X-Token:  s3cret "]).expect("valid");
        assert_eq!(c.headers["accept-language"], "fr");
        assert_eq!(c.headers["x-token"], "s3cret");
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "a header value is never printed"
        );
        for (spec, message) in [
            ("nocolon", "--header: expected 'NAME: VALUE'"),
            ("Bad Name: x", "--header: \"Bad Name\" is not a header name"),
            (
                "X-A: line\nbreak",
                "--header: the value of x-a has characters",
            ),
            (
                "User-Agent: me",
                "--header: User-Agent is set with --user-agent",
            ),
        ] {
            let err = config(&["-H", spec]).expect_err(spec).to_string();
            assert!(err.starts_with(message), "{spec:?}: {err}");
            assert!(!err.contains("break"), "{err}");
        }
    }

    #[test]
    fn allowed_domains_are_normalised() {
        let c = config(&["--allow-domain", ".Example.COM"]).expect("valid");
        assert_eq!(c.allow_domains, ["example.com"]);
    }

    #[test]
    fn a_command_word_is_a_command_only_when_it_comes_first() {
        let parse = |args: &[&str]| {
            Args::try_parse_from(std::iter::once("crawl").chain(args.iter().copied()))
                .expect("clap accepts these")
        };
        assert!(matches!(parse(&["man"]).command, Some(Command::Man)));
        assert!(matches!(
            parse(&["completions", "zsh"]).command,
            Some(Command::Completions { shell: Shell::Zsh })
        ));
        for args in [&["./man"][..], &["--", "man"][..], &["-d", "1", "man"][..]] {
            let parsed = parse(args);
            assert!(parsed.command.is_none(), "{args:?}");
            let file = parsed.urls_file.expect("a URLs file");
            assert_eq!(file.file_name().and_then(|f| f.to_str()), Some("man"));
        }
    }

    #[test]
    fn sequential_always_has_one_worker() {
        let c = config(&["-m", "sequential", "-j", "8"]).expect("valid");
        assert_eq!(c.workers, 1);
    }
}
