//! What [`Config`](super::Config)'s fields hold: where the fetch-and-parse stage runs, where
//! records go and how, and the URLs (a proxy's, a Redis frontier's) whose passwords never show.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::{DEFAULT_LEASE, DEFAULT_REDIS_WAIT, Setting};

/// A proxy's URL. Its password never shows: `Debug` and `Display` print `***` in its place, so
/// a config, an error or a log line can name the proxy without giving its secret away.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(Url);

impl ProxyUrl {
    /// Wraps `url`; [`Config::validate`](crate::Config::validate) checks its scheme.
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
/// or `rediss://` for TLS), or a Redis Cluster (`redis+cluster://[USER:PASSWORD@]HOST:PORT`,
/// any node of it, more comma-separated: `redis+cluster://H1:P1,H2:P2`; `rediss+cluster://`
/// for TLS). Like [`ProxyUrl`], it never shows its password.
#[derive(Clone, PartialEq, Eq)]
pub struct FrontierUrl {
    /// The URL, with the first node of a cluster (boxed: errors carry it).
    url: Box<Url>,
    /// A cluster's other nodes given, as `HOST:PORT`.
    more: Vec<String>,
}

impl FrontierUrl {
    /// Wraps `url` (one node); [`Config::validate`](crate::Config::validate) checks it.
    pub fn new(url: Url) -> Self {
        FrontierUrl {
            url: Box::new(url),
            more: Vec::new(),
        }
    }

    /// Reads a `--frontier` URL: a cluster's may name several nodes, comma-separated, which a
    /// URL alone cannot hold. `None` when it does not read as a URL.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (scheme, rest) = text.split_once("://")?;
        if !scheme.ends_with("+cluster") {
            // One node: the URL as it is (a comma in it is the password's).
            return Some(FrontierUrl::new(Url::parse(text).ok()?));
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let mut nodes = authority.split(',');
        let first = nodes.next()?;
        let url = Url::parse(&format!("{scheme}://{first}{path}")).ok()?;
        let more: Vec<String> = nodes.map(|n| n.trim().to_owned()).collect();
        for node in &more {
            // Each must be HOST:PORT, nothing else.
            let parsed = Url::parse(&format!("redis://{node}")).ok()?;
            if parsed.host().is_none() || node.contains('@') || node.contains('/') {
                return None;
            }
        }
        Some(FrontierUrl {
            url: Box::new(url),
            more,
        })
    }

    /// The whole URL, password included: for the Redis client only. A cluster's: its first
    /// node.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sets the password (from the environment, when the URL has none).
    #[cfg(feature = "cli")]
    pub(crate) fn set_password(&mut self, password: &str) -> Result<(), ()> {
        self.url.set_password(Some(password))
    }

    /// Whether this names a Redis Cluster (`redis+cluster://`, `rediss+cluster://`).
    pub fn is_cluster(&self) -> bool {
        self.url.scheme().ends_with("+cluster")
    }

    /// Every node named, as `redis://` or `rediss://` URLs with the credentials: for the
    /// Redis client only.
    pub fn nodes(&self) -> Vec<String> {
        let plain = self.url.scheme().trim_end_matches("+cluster");
        let mut first = self.url.as_str().to_owned();
        first.replace_range(..self.url.scheme().len(), plain);
        let who = match (self.url.username(), self.url.password()) {
            ("", None) => String::new(),
            (user, Some(password)) => format!("{user}:{password}@"),
            (user, None) => format!("{user}@"),
        };
        let mut all = vec![first];
        all.extend(self.more.iter().map(|n| format!("{plain}://{who}{n}")));
        all
    }
}

impl std::fmt::Display for FrontierUrl {
    /// `redis://HOST:PORT/DB`, with `***@` for any user name or password, and a cluster's other
    /// nodes after commas.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        redacted(&self.url, f)?;
        for node in &self.more {
            write!(f, ",{node}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for FrontierUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrontierUrl({self})")
    }
}

/// A crawl shared with other crawl processes through Redis ([`Config::shared`](crate::Config::shared)).
#[derive(Debug, Clone, PartialEq)]
pub struct SharedCrawl {
    /// Where the frontier lives (`--frontier`).
    pub url: FrontierUrl,
    /// Which crawl in it (`--crawl-id`): letters, digits, `.`, `_` and `-`, at most 64.
    pub crawl_id: String,
    /// How long a page a node has taken stays its own without a renewal (`--lease`); a node
    /// renews its leases every third of this, and a node that stops renewing (dead, cut off,
    /// stopped) loses its pages to the others after it. Default [`DEFAULT_LEASE`].
    pub lease: Duration,
    /// How long a node that lost Redis (a restart, a failover, a stall, the network) keeps
    /// trying, with backoff, before it stops with an error (`--redis-wait`). Meanwhile it keeps
    /// the pages it holds and takes no new ones; pages whose leases ran out are taken back by
    /// whichever node claims first. Default [`DEFAULT_REDIS_WAIT`].
    pub redis_wait: Duration,
    /// How many shards a new crawl's keys are spread over (`--shards`): a URL's queue, seen
    /// set and leases live in its origin's shard, each shard in its own hash slot, so that a
    /// Redis Cluster spreads them over its masters. `None`: 1 on one Redis,
    /// [`DEFAULT_CLUSTER_SHARDS`](crate::limits::DEFAULT_CLUSTER_SHARDS) on a cluster, 1 with
    /// `--max-pages` (the budget is counted in one shard). A joining node takes the crawl's.
    pub shards: Option<u32>,
    /// How many URLs a new crawl expects to know (`--expect-urls`): the seen set's bucket
    /// count is chosen from it, so that each bucket stays a compact integer set (about 9
    /// bytes a URL) up to that many. `None`: `--max-pages` if given, else about 1.5 million.
    /// Past it a crawl goes on, each URL then costing 50 to 60 bytes. A joining node takes
    /// the crawl's.
    pub expect_urls: Option<u64>,
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
            redis_wait: DEFAULT_REDIS_WAIT,
            shards: None,
            expect_urls: None,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedupe {
    /// Every link crosses the socket and the coordinator decides (the "manager" pattern).
    Coordinator,
    /// Workers first drop links found in a fingerprint table in shared memory.
    Shared,
}

/// The items file (`--items FILE`): only what the extractor (or `--field`) found, one item per
/// line or row, none of the record's keys. The records still go to [`crate::Config::output`].
///
/// ```
/// use crawl::{ItemsFile, ItemsFormat};
///
/// let items = ItemsFile::new("chapters.csv");
/// assert_eq!(items.format(), ItemsFormat::Csv); // by its extension; JSON Lines otherwise
/// let items = ItemsFile::new("chapters.out").format_as(ItemsFormat::Csv).with_url(true);
/// assert!(items.with_url);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsFile {
    /// Created, or emptied if it exists; appended to when a `--state` crawl resumes.
    pub path: PathBuf,
    /// `None`: by the path's extension (`.csv` is CSV, anything else JSON Lines)
    /// (`--items-format`).
    pub format: Option<ItemsFormat>,
    /// Put the page's final URL first in each item, under `url` (an object item that has a
    /// `url` of its own keeps it). The command line sets it for `--field` items. Default false.
    pub with_url: bool,
    /// CSV columns, in order; empty: the extractor's
    /// [`columns`](crate::scrape::Extractor::columns), else the first item's keys. Keys outside
    /// them go, as JSON, in a last `extra` column.
    pub columns: Vec<String>,
}

/// How items are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemsFormat {
    /// One JSON value per line.
    Jsonl,
    /// CSV with a header.
    Csv,
}

impl ItemsFile {
    /// Items to `path`, in the format its extension says.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ItemsFile {
            path: path.into(),
            format: None,
            with_url: false,
            columns: Vec::new(),
        }
    }

    /// In `format`, whatever the extension says.
    pub fn format_as(mut self, format: ItemsFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// With the page's final URL first in each item, under `url`.
    pub fn with_url(mut self, with_url: bool) -> Self {
        self.with_url = with_url;
        self
    }

    /// The format items are written in.
    pub fn format(&self) -> ItemsFormat {
        self.format.unwrap_or_else(|| {
            let csv = self
                .path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            if csv {
                ItemsFormat::Csv
            } else {
                ItemsFormat::Jsonl
            }
        })
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Only when standard error is a terminal.
    Auto,
    /// Always, even when standard error is a file or a pipe.
    Always,
    /// Never; notes and the summary are still printed.
    Never,
}

#[cfg(test)]
mod tests {
    use super::FrontierUrl;

    #[test]
    fn a_cluster_url_names_its_nodes_and_hides_the_password() {
        let url = FrontierUrl::parse("redis+cluster://u:s3cret@10.0.0.1:7000,10.0.0.2:7001")
            .expect("a cluster URL");
        assert!(url.is_cluster());
        assert_eq!(
            url.nodes(),
            vec![
                "redis://u:s3cret@10.0.0.1:7000".to_owned(),
                "redis://u:s3cret@10.0.0.2:7001".to_owned()
            ]
        );
        assert_eq!(
            url.to_string(),
            "redis+cluster://***@10.0.0.1:7000,10.0.0.2:7001"
        );
        let tls = FrontierUrl::parse("rediss+cluster://h:1").expect("url");
        assert_eq!(tls.nodes(), vec!["rediss://h:1".to_owned()]);
        // A node with credentials or a path of its own is not one of a cluster's.
        assert!(FrontierUrl::parse("redis+cluster://h:1,u:p@h2:2").is_none());
        // One Redis: a comma is the password's, as before.
        let one = FrontierUrl::parse("redis://:pa,ss@h:6379/2").expect("url");
        assert!(!one.is_cluster());
        assert_eq!(one.url().password(), Some("pa,ss"));
        assert_eq!(one.to_string(), "redis://***@h:6379/2");
    }
}
