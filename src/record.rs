//! The output record: one JSON object per URL attempted, success or failure.
//!
//! Every admitted URL yields exactly one record, so a crawl's output can be checked for
//! completeness by counting lines. Failures are records with an `error`, never a crash.

use serde::{Deserialize, Serialize};

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
    pub content_type: Option<String>,
    /// Decoded body bytes kept.
    pub bytes: u64,
    /// Whether the body was cut at `--max-bytes`.
    pub truncated: bool,
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

/// Milliseconds rounded to microseconds, so records stay short and readable.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
