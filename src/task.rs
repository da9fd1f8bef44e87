//! The messages between the coordinator and a worker: a [`Task`] out, a [`TaskResult`] back.
//!
//! These are the whole protocol, in every mode: in-process modes pass them by value, the
//! processes mode serialises them. Keeping them plain data (owned, `serde`) is what lets the
//! same coordinator drive a thread, a tokio task or another process.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::redirect::RedirectRefusal;

/// What kind of fetch a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskKind {
    /// A page: fetch, then extract title and links.
    Page,
    /// An origin's robots.txt: fetch and hand the raw body back.
    Robots,
    /// A sitemap or sitemap index (`--sitemaps`): fetch, then list the URLs it names.
    Sitemap,
    /// One of [`crate::Config::login`]'s requests, made before the crawl: send it as given
    /// and hand the response back (its cookies open the session).
    Login,
}

/// One unit of work handed to a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// The coordinator's handle for this attempt; the result carries it back.
    pub id: u64,
    pub kind: TaskKind,
    /// The URL to fetch.
    pub url: Url,
    /// The `Cookie` header to send, from the crawl's jar (`--cookies`); `None` sends none.
    #[serde(default)]
    pub cookie: Option<String>,
    /// For a [`TaskKind::Login`] task, the request to send (boxed: every other task is a GET,
    /// and tasks are moved about by the million).
    #[serde(default)]
    pub request: Option<Box<crate::request::Request>>,
    /// `--cache`: what an earlier crawl kept of this URL's response, to ask whether it changed
    /// and (`--warc`) to archive an unchanged answer as a `revisit`; `None` asks
    /// unconditionally. Boxed: most tasks have none, and tasks are moved about by the million.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier: Option<Box<Earlier>>,
}

/// What an earlier crawl kept of a URL's response, for a task that fetches it again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earlier {
    /// Sent back as `If-None-Match` and `If-Modified-Since` (none if empty).
    #[serde(default)]
    pub validators: Validators,
    /// Where the earlier response was archived (`--warc`): a `304`, or the same payload
    /// again, is archived as a `revisit` record referring to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_as: Option<CaptureRef>,
}

/// Where a response was archived: what a WARC `revisit` record refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRef {
    /// Its `response` record's `WARC-Record-ID`.
    pub id: String,
    /// Its `WARC-Date`.
    pub date: String,
    /// Its `WARC-Target-URI`.
    pub target: String,
    /// Its `WARC-Payload-Digest` (`sha1:` and base32).
    pub payload_digest: String,
}

/// What a response says to ask about it again: its `ETag` and `Last-Modified`, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The `ETag` header, sent back as `If-None-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` header, sent back as `If-Modified-Since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl Validators {
    /// Whether there is anything to ask with.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// Which worker ran a task. Its `Display` is what records carry: "main", "thread 3",
/// "task 17", "pid 4242". A worker process names itself by its own pid, and its coordinator
/// names it by the pid fork returned: the same value, so both sides agree by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WorkerId {
    /// Sequential mode's one worker, on the calling thread.
    Main,
    /// A threads-mode worker thread.
    Thread(usize),
    /// An async-mode slot (at most `--workers` pages in flight).
    Task(usize),
    /// A worker process, by pid.
    Process(u32),
}

impl std::fmt::Display for WorkerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerId::Main => f.write_str("main"),
            WorkerId::Thread(n) => write!(f, "thread {n}"),
            WorkerId::Task(n) => write!(f, "task {n}"),
            WorkerId::Process(pid) => write!(f, "pid {pid}"),
        }
    }
}

/// What a worker reports for one task (the task's id travels beside it: see
/// the coordinator's `complete`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskResult {
    /// Which worker did it.
    pub worker: WorkerId,
    /// Wall time of the request, from sending it to the last body byte.
    pub fetch_ms: f64,
    /// Wall time spent decoding, parsing and on `--cpu-work`.
    pub parse_ms: f64,
    /// Wall time the downloaded page waited for a free core before parsing began (the async
    /// mode's parse pool); counted as CPU-bound time in the summary's split.
    pub cpu_wait_ms: f64,
    /// A worker process's own CPU time so far (processes mode; threads share the
    /// coordinator's process, whose CPU time is read directly).
    pub worker_cpu_ms: Option<f64>,
    /// A worker process's peak resident memory so far, in kilobytes (processes mode).
    pub worker_peak_rss_kb: Option<u64>,
    pub outcome: Result<Fetched, FetchError>,
    /// With `--warc`: every request of the task that got a response (a robots.txt's redirect
    /// hops each have one), packed as archive records. Empty without `--warc`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archived: Vec<Archived>,
}

/// One exchange's `request` and `response` records, each a gzip member, ready for the
/// archive: packed by the worker that fetched it (`crate::warc::pack`), so the compressing
/// and digesting is spread over the workers, and written as is by the coordinator's one
/// writer. A build without the `warc` feature never makes one (`--warc` is refused there), so
/// it needs no base64 for them either.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Archived(#[cfg_attr(feature = "warc", serde(with = "base64"))] pub Vec<u8>);

/// One request and its response as they went over the wire, for the WARC archive
/// ([`crate::warc`]).
// The fetch's capture path is in every build, but only the archive (the `warc` feature) reads
// what it captured; without it nothing is captured at all (`--warc` is refused).
#[cfg_attr(not(feature = "warc"), allow(dead_code))]
#[derive(Debug, Clone)]
pub struct Capture {
    /// The URL requested (`WARC-Target-URI`).
    pub url: Url,
    /// The response's status (a `304` is archived as a `revisit` record).
    pub status: u16,
    /// When the request was sent.
    pub date: std::time::SystemTime,
    /// The server's address, when the connection says.
    pub ip: Option<std::net::IpAddr>,
    /// The request as sent: request line, headers, blank line, body.
    pub request: Vec<u8>,
    /// The response's status line, headers and the blank line after them.
    pub head: Vec<u8>,
    /// The response body as it arrived (before any content decoding), cut where
    /// `--max-bytes` cut the page.
    pub body: Vec<u8>,
    /// Whether `body` was cut (`WARC-Truncated: length`).
    pub truncated: bool,
}

/// Bytes as base64 text: the processes mode's JSON carries records in a third more than their
/// size, where a JSON array of numbers would take up to four times it.
#[cfg(feature = "warc")]
mod base64 {
    use data_encoding::BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        BASE64
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

impl TaskResult {
    /// The result of a task whose worker vanished with it in hand.
    pub fn lost(worker: WorkerId) -> Self {
        TaskResult {
            worker,
            fetch_ms: 0.0,
            parse_ms: 0.0,
            cpu_wait_ms: 0.0,
            worker_cpu_ms: None,
            worker_peak_rss_kb: None,
            outcome: Err(FetchError::WorkerDied),
            archived: Vec::new(),
        }
    }
}

/// A response that arrived (any status), with what was extracted from it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fetched {
    /// Where the response came from after redirects.
    pub final_url: Option<Url>,
    pub status: u16,
    pub content_type: Option<String>,
    /// Decoded (decompressed) body bytes kept.
    pub bytes: u64,
    /// Whether the body was cut at `--max-bytes`.
    pub truncated: bool,
    /// The server's Retry-After, in milliseconds, when it sent one.
    pub retry_after_ms: Option<u64>,
    /// Where a 3xx response points (not yet checked against scope or robots.txt).
    pub location: Option<Url>,
    pub title: Option<String>,
    /// Distinct http(s) links on the page (what the record reports).
    pub links_found: usize,
    /// The links to offer the frontier: all of them up to [`crate::extract::MAX_LINKS`], or in
    /// processes mode with `--dedupe shared`, those of them not already known.
    pub links: Vec<Url>,
    /// Links a worker process dropped because the shared set already knew them.
    pub links_known: usize,
    /// Distinct links past the per-page cap ([`crate::extract::MAX_LINKS`]), never offered.
    pub links_over_limit: usize,
    /// Links the crawler found that the user's extractor left out of its `follow` list.
    #[serde(default)]
    pub links_declined: usize,
    /// What the user's extractor returned for the page, as JSON.
    pub item: Option<serde_json::Value>,
    /// The extractor asked to stop the crawl.
    pub stop: bool,
    /// The raw body, returned only for robots.txt tasks.
    pub body: Option<Vec<u8>>,
    /// The response's `Set-Cookie` values, for the crawl's jar (`--cookies`; empty without).
    #[serde(default)]
    pub set_cookies: Vec<String>,
    /// For a sitemap index, the sitemaps it lists (its pages are in `links`).
    #[serde(default)]
    pub sitemaps: Vec<Url>,
    /// For a sitemap, why it was not read to the end, if it was not.
    #[serde(default)]
    pub sitemap_error: Option<String>,
    /// What the response says about itself for a later crawl (`--cache`): its validators,
    /// how long it stays fresh, and a digest of its body.
    #[serde(default)]
    pub revisit: Revisit,
}

/// What a later crawl needs to know of a response (`--cache`), read off its headers and body
/// by the worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revisit {
    /// `ETag` and `Last-Modified`.
    #[serde(default)]
    pub validators: Validators,
    /// Seconds the response stays fresh from now (`Cache-Control: max-age`, `Expires`), if
    /// it says; `Some(0)` when it must be asked about every time.
    #[serde(default)]
    pub fresh_secs: Option<u64>,
    /// `Cache-Control: no-store`: nothing of it may be kept.
    #[serde(default)]
    pub no_store: bool,
    /// An xxh3-128 digest of the decoded body as received (every byte, kept or streamed), in
    /// hex; `None` when no body was read.
    #[serde(default)]
    pub digest: Option<String>,
    /// With `--warc`: where the response's payload is archived (for a `revisit` record, the
    /// earlier capture it refers to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_as: Option<CaptureRef>,
}

/// Why a fetch produced no response. The `Display` text is what records show in `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum FetchError {
    /// The request took longer than `--timeout` (reading the body included), connecting took
    /// longer than 10 s (or the timeout, if shorter), or the OS timed the connection out.
    /// Retried.
    #[error("timeout")]
    Timeout,
    /// The server refused the connection. Retried.
    #[error("connect refused")]
    ConnectRefused,
    /// The connection could not be made otherwise (a failed DNS lookup, an unreachable host);
    /// the root cause's text. Retried.
    #[error("connect error: {0}")]
    Connect(String),
    /// The TLS handshake failed (a certificate not trusted, expired or for another name; no
    /// protocol in common); rustls's text. Not retried: the same certificate would come again.
    #[error("TLS error: {0}")]
    Tls(String),
    /// The connection failed while the request was sent or the body read; the root cause's
    /// text. Retried.
    #[error("connection broken: {0}")]
    Broken(String),
    /// A robots.txt redirect that may not be followed (page redirects are the coordinator's).
    #[error(transparent)]
    Redirect(#[from] RedirectRefusal),
    /// The response's bytes make no sense (a bad chunk size, a body that is not the
    /// compression it claims); the root cause's text. Not retried: they would come again.
    #[error("bad response: {0}")]
    Protocol(String),
    /// The worker died or panicked with the task in hand. Retried.
    #[error("worker died")]
    WorkerDied,
    /// Any other failure; the root cause's text. Not retried.
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// Whether the same request might succeed if tried again.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            FetchError::Timeout
                | FetchError::ConnectRefused
                | FetchError::Connect(_)
                | FetchError::Broken(_)
                | FetchError::WorkerDied
        )
    }
}
