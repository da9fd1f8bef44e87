//! `--metrics`: the crawl's live figures in the Prometheus text format (OpenMetrics 1.0).
//!
//! The coordinator publishes a [`Figures`] snapshot (where it updates the progress bar, at
//! most every [`PUBLISH_EVERY`], and once at the end from the summary's own figures), and
//! every scrape renders the latest one through `prometheus-client`'s encoder. A snapshot, not
//! live atomics: one scrape sees figures from one instant, so `ok + failed` never disagrees
//! with itself, and the server never touches the coordinator (which may be behind a lock, or
//! in processes mode the very loop that answers the scrape). Each crawl has its own
//! `Registry`; nothing is global, so crawls in one process (tests, library users) keep apart.
//!
//! Here: [`Figures`], what the coordinator publishes. With the `metrics` feature, `registry`
//! renders them (`prometheus-client`) and [`serve`] owns the listener. Without it,
//! `Config::validate` refuses `metrics`, and `off` stands in for both with the same names and
//! calls, none of which can run: the front door, the drivers and the coordinator read the
//! same in every build.

#[cfg(not(feature = "metrics"))]
mod off;
#[cfg(feature = "metrics")]
mod registry;
#[cfg(feature = "metrics")]
pub(crate) mod serve;

use std::time::Duration;

use crate::bottleneck::Bottleneck;
use crate::stats::Split;
#[cfg(not(feature = "metrics"))]
pub(crate) use off::{Metrics, serve};
#[cfg(feature = "metrics")]
pub(crate) use registry::Metrics;

/// How often the coordinator publishes while the crawl runs.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// Hosts named in `crawl_host_wait_seconds_total`; the rest are summed under `host="other"`,
/// so a crawl of a million hosts does not make a million series.
pub(crate) const HOSTS_NAMED: usize = 10;

/// The figures of one moment of a crawl.
// Without the `metrics` feature nothing reads them (the stand-in drops them, and is never
// built anyway).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
#[derive(Debug, Clone, Default)]
pub(crate) struct Figures {
    /// Records written: without an error, and with one (robots-blocked and unreachable pages
    /// are counted apart, and not again in `failed`).
    pub ok: u64,
    pub failed: u64,
    pub robots_blocked: u64,
    pub unreachable: u64,
    /// Requests completed, every attempt and robots.txt included.
    pub requests: u64,
    pub bytes: u64,
    pub retries: u64,
    pub server_holds: u64,
    pub hosts_given_up: u64,
    /// Hosts paused now after a run of connection failures; pauses and probes so far.
    pub hosts_paused: usize,
    pub host_pauses: u64,
    pub host_probes: u64,
    pub in_flight: usize,
    pub queued: usize,
    /// The limit on pages in flight (`-j`, or `-j auto`'s current one).
    pub limit: usize,
    pub elapsed: Duration,
    /// Worker-slot seconds spent waiting on the network, parsing, and held by a rate limiter.
    pub network_s: f64,
    pub parsing_s: f64,
    pub rate_limit_s: f64,
    /// Shares of worker time over the crawl so far.
    pub split: Split,
    /// What limits the crawl: live while it runs, the summary's at the end.
    pub verdict: Option<Bottleneck>,
    /// Politeness waits per origin (Crawl-delay, Retry-After, `--per-host-rate`), in seconds,
    /// the longest first, at most [`HOSTS_NAMED`] and then `other`.
    pub host_waits: Vec<(String, f64)>,
    /// Processes mode: worker processes that died with a page in hand (each is replaced).
    pub worker_restarts: Option<u64>,
    /// The crawl has ended: these are its final figures.
    pub finished: bool,
}

/// Cuts `waits` (any order) to the longest [`HOSTS_NAMED`], the rest summed as `other`. Only
/// the named ones are copied, and only they are sorted: it runs on every publication, and a
/// crawl may have waited on a million hosts.
pub(crate) fn bounded(mut waits: Vec<(&str, f64)>) -> Vec<(String, f64)> {
    let longest_first =
        |a: &(&str, f64), b: &(&str, f64)| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0));
    let other = if waits.len() > HOSTS_NAMED {
        // The longest HOSTS_NAMED before the cut, in no order; the rest after it.
        waits.select_nth_unstable_by(HOSTS_NAMED, longest_first);
        let other: f64 = waits[HOSTS_NAMED..].iter().map(|(_, s)| s).sum();
        waits.truncate(HOSTS_NAMED);
        Some(other)
    } else {
        None
    };
    waits.sort_unstable_by(longest_first);
    let mut named: Vec<(String, f64)> = waits
        .into_iter()
        .map(|(host, s)| (host.to_owned(), s))
        .collect();
    if let Some(other) = other {
        named.push(("other".to_owned(), other));
    }
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_past_the_tenth_are_summed_as_other() {
        let names: Vec<String> = (0..15).map(|i| format!("h{i:02}")).collect();
        // Any order in: shuffled a little.
        let mut waits: Vec<(&str, f64)> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i as f64))
            .collect();
        waits.swap(0, 14);
        waits.swap(3, 9);
        let cut = bounded(waits);
        assert_eq!(cut.len(), HOSTS_NAMED + 1);
        let expected: Vec<(String, f64)> = (5..15)
            .rev()
            .map(|i| (format!("h{i:02}"), i as f64))
            .collect();
        assert_eq!(cut[..HOSTS_NAMED], expected[..]);
        assert_eq!(
            cut[HOSTS_NAMED],
            ("other".to_owned(), 0.0 + 1.0 + 2.0 + 3.0 + 4.0)
        );
    }
}
