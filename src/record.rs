//! The output record: one JSON object per URL attempted, success or failure.
//!
//! Every admitted URL yields exactly one record, so a crawl's output can be checked for
//! completeness by counting lines. Failures are records with an `error`, never a crash.

use serde::{Deserialize, Serialize};

use crate::frontier::Job;
use crate::redirect::RedirectRefusal;
use crate::task::{FetchError, Fetched, WorkerId};

/// One line of output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The URL as scheduled (normalised).
    pub url: String,
    /// Where the response came from after redirects; null if none arrived.
    pub final_url: Option<String>,
    /// HTTP status of the final response; null if none arrived.
    pub status: Option<u16>,
    /// Link hops from a seed (seeds are 0).
    pub depth: u32,
    /// The final response's Content-Type header as sent; null if none arrived or it had none.
    pub content_type: Option<String>,
    /// Body bytes kept, after decompression (before any charset decoding).
    pub bytes: u64,
    /// Whether the body was cut at `--max-bytes`.
    pub truncated: bool,
    /// The page's first `<title>`, whitespace collapsed, at most
    /// [`MAX_TITLE_BYTES`](crate::limits::MAX_TITLE_BYTES); null if it has none, it is blank,
    /// or the page was not parsed (not a 2xx HTML response).
    pub title: Option<String>,
    /// Number of distinct http(s) links found on the page.
    pub links: usize,
    /// Fetch attempts made (0 if robots.txt forbade the page).
    pub attempts: u32,
    /// Time spent fetching, over all attempts, in milliseconds.
    pub fetch_ms: f64,
    /// Time spent decoding, parsing and on `--cpu-work`, in milliseconds.
    pub parse_ms: f64,
    /// Which worker fetched it: "main", "thread 3", "task 17", "pid 4242".
    pub worker: Option<String>,
    /// Null for a 2xx page kept whole; otherwise a short reason ("http 404", "timeout").
    pub error: Option<String>,
    /// `--cache`, on a crawl after the first: the page was not in the cache (absent
    /// otherwise, as are the three marks below).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<bool>,
    /// `--cache`: the page differs from what the cache held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
    /// `--cache`: the page is what the cache held (the server said `304 Not Modified`, the
    /// body's digest is the same, or it is still fresh and was not requested); the rest of
    /// the record is the earlier crawl's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchanged: Option<bool>,
    /// `--cache`: the page was there before and is not now (404 or 410).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone: Option<bool>,
    /// What an extractor added: one key per `--field`, or a library extractor's item (its
    /// fields if it is a JSON object, else under `item`). Written inline in the record.
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Record {
    /// The record's own keys, in order: the columns every CSV output starts with, and the
    /// names a `--field` may not take.
    pub const KEYS: [&'static str; 14] = [
        "url",
        "final_url",
        "status",
        "depth",
        "content_type",
        "bytes",
        "truncated",
        "title",
        "links",
        "attempts",
        "fetch_ms",
        "parse_ms",
        "worker",
        "error",
    ];
}

impl Record {
    /// The keys `--cache` adds to a record when it has something to say: names a `--field`
    /// may not take either, and an item with one of them goes whole under `item`.
    pub const MARKS: [&'static str; 4] = ["new", "changed", "unchanged", "gone"];

    /// Whether `key` is one of the record's own ([`Record::KEYS`], [`Record::MARKS`], or
    /// `fields`, the CSV column of the rest).
    pub fn is_own_key(key: &str) -> bool {
        Record::KEYS.contains(&key) || Record::MARKS.contains(&key) || key == "fields"
    }
}

/// Why a record is not a plain success: the one vocabulary of the `error` key. Its `Display`
/// is the text records carry, exactly as GUIDE.md ("Records") documents it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// No response arrived ("timeout", "connect refused", "worker died", ...).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A redirect that was not followed.
    #[error(transparent)]
    Redirect(#[from] RedirectRefusal),
    /// The final response was not 2xx.
    #[error("http {0}")]
    Status(u16),
    /// The body was cut at `--max-bytes`.
    #[error("body over {0} bytes")]
    BodyOver(u64),
    /// robots.txt disallows the URL, or the redirect hop it led to; that URL was not
    /// requested.
    #[error("blocked by robots.txt")]
    BlockedByRobots,
    /// The page's host was given up after a run of connection failures ("5 consecutive
    /// timeouts"); the page was not fetched (again).
    #[error("host unreachable: {0}")]
    HostUnreachable(String),
    /// A sitemap that could not be read to the end (what it listed before that is crawled).
    #[error("bad sitemap: {0}")]
    Sitemap(String),
}

impl Record {
    /// A record for `job` with nothing fetched yet: the fields every record has.
    pub(crate) fn of(job: &Job, worker: Option<WorkerId>) -> Record {
        Record {
            url: job.url.to_string(),
            final_url: None,
            status: None,
            depth: job.depth,
            content_type: None,
            bytes: 0,
            truncated: false,
            title: None,
            links: 0,
            attempts: job.attempts,
            fetch_ms: round_ms(job.fetch_ms),
            parse_ms: round_ms(job.parse_ms),
            worker: worker.map(|w| w.to_string()),
            error: None,
            new: None,
            changed: None,
            unchanged: None,
            gone: None,
            fields: serde_json::Map::new(),
        }
    }

    /// The record of a page robots.txt forbids: never requested.
    pub(crate) fn blocked(job: &Job) -> Record {
        let mut record = Record::not_fetched(job);
        record.error = Some(RecordError::BlockedByRobots.to_string());
        record
    }

    /// The record of a page not fetched (again): blocked, or its host given up.
    fn not_fetched(job: &Job) -> Record {
        let mut record = Record::of(job, None);
        // A redirect may have led here: say where the hop not taken pointed.
        record.final_url = (job.redirects > 0).then(|| job.fetch_url.to_string());
        record
    }

    /// Fills in what a response said. `refused` is a redirect that was not followed; otherwise
    /// the error, if any, comes from the status and the size cap (`max_bytes`).
    pub(crate) fn set_response(
        &mut self,
        page: &mut Fetched,
        refused: Option<RedirectRefusal>,
        max_bytes: u64,
    ) {
        self.final_url = page.final_url.as_ref().map(ToString::to_string);
        self.status = Some(page.status);
        self.content_type = page.content_type.take();
        self.bytes = page.bytes;
        self.truncated = page.truncated;
        self.title = page.title.take();
        self.links = page.links_found;
        let error = match refused {
            Some(refusal) => Some(RecordError::from(refusal)),
            None if !(200..300).contains(&page.status) => Some(RecordError::Status(page.status)),
            None if page.truncated => Some(RecordError::BodyOver(max_bytes)),
            None => None,
        };
        self.error = error.map(|e| e.to_string());
    }

    /// The record of a page whose host was given up (`reason`), not fetched (again).
    pub(crate) fn unreachable(job: &Job, reason: &str) -> Record {
        let mut record = Record::not_fetched(job);
        record.set_unreachable(reason);
        record
    }

    /// Says the page's host was given up, whatever the last attempt got.
    pub(crate) fn set_unreachable(&mut self, reason: &str) {
        self.error = Some(RecordError::HostUnreachable(reason.to_owned()).to_string());
    }

    /// Records that no response arrived.
    pub(crate) fn set_failure(&mut self, error: FetchError) {
        self.error = Some(RecordError::from(error).to_string());
    }
}

/// Milliseconds rounded to microseconds, so records stay short and readable.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_readme_documents_them() {
        let cases: [(RecordError, &str); 9] = [
            (FetchError::Timeout.into(), "timeout"),
            (FetchError::ConnectRefused.into(), "connect refused"),
            (FetchError::WorkerDied.into(), "worker died"),
            (RedirectRefusal::TooMany.into(), "too many redirects"),
            (
                RedirectRefusal::TooLong.into(),
                "redirect to a URL over 2048 bytes",
            ),
            (RecordError::Status(404), "http 404"),
            (
                RecordError::BodyOver(10_485_760),
                "body over 10485760 bytes",
            ),
            (RecordError::BlockedByRobots, "blocked by robots.txt"),
            (
                RecordError::HostUnreachable("5 consecutive timeouts".into()),
                "host unreachable: 5 consecutive timeouts",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
