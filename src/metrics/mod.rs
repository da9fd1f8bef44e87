//! `--metrics`: the crawl's live figures in the Prometheus text format (OpenMetrics 1.0).
//!
//! The coordinator publishes a [`Figures`] snapshot (where it updates the progress bar, at
//! most every [`PUBLISH_EVERY`], and once at the end from the summary's own figures), and
//! every scrape renders the latest one through `prometheus-client`'s encoder. A snapshot, not
//! live atomics: one scrape sees figures from one instant, so `ok + failed` never disagrees
//! with itself, and the server never touches the coordinator (which may be behind a lock, or
//! in processes mode the very loop that answers the scrape). Each crawl has its own
//! `Registry`; nothing is global, so crawls in one process (tests, library users) keep apart.
//! [`serve`] owns the listener.

pub(crate) mod serve;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::TypedMetric;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::bottleneck::Bottleneck;
use crate::config::Mode;
use crate::stats::Split;

/// How often the coordinator publishes while the crawl runs.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// Hosts named in `crawl_host_wait_seconds_total`; the rest are summed under `host="other"`,
/// so a crawl of a million hosts does not make a million series.
pub(crate) const HOSTS_NAMED: usize = 10;

/// The figures of one moment of a crawl.
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

/// One crawl's metrics: the latest figures, and the registry that renders them.
pub(crate) struct Metrics {
    board: Arc<Board>,
    registry: Registry,
}

/// The latest figures, read on every scrape.
#[derive(Debug)]
struct Board {
    mode: Mode,
    figures: Mutex<Figures>,
}

impl Metrics {
    pub(crate) fn new(mode: Mode) -> Self {
        let board = Arc::new(Board {
            mode,
            figures: Mutex::new(Figures::default()),
        });
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Arc::clone(&board)));
        Metrics { board, registry }
    }

    /// Replaces the figures the next scrape shows.
    pub(crate) fn publish(&self, figures: Figures) {
        if let Ok(mut slot) = self.board.figures.lock() {
            *slot = figures;
        }
    }

    /// The text a scrape gets.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String does not fail; a collector error would leave a short page.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// A family of one label, `key`, with a sample for each of `values`, each made a metric by
/// `make` (`ConstCounter::new`, whose samples get `_total` from the encoder, or
/// `ConstGauge::new`).
fn family<V: Copy, M: EncodeMetric + TypedMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    key: &str,
    values: &[(&str, V)],
    make: fn(V) -> M,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, M::TYPE)?;
    for (label, value) in values {
        let labels = [(key, *label)];
        make(*value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One unlabelled metric (a `ConstCounter`'s sample gets `_total` from the encoder).
fn single(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for Board {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let f = match self.figures.lock() {
            Ok(f) => f.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let e = &mut e;
        let other_failures = f
            .failed
            .saturating_sub(f.robots_blocked)
            .saturating_sub(f.unreachable);
        family(
            e,
            "crawl_pages",
            "Records written, by outcome: ok, error (no response, non-2xx, cut at --max-bytes, redirect refused), robots_blocked, unreachable (host given up).",
            "outcome",
            &[
                ("ok", f.ok),
                ("error", other_failures),
                ("robots_blocked", f.robots_blocked),
                ("unreachable", f.unreachable),
            ],
            ConstCounter::new,
        )?;
        single(
            e,
            "crawl_requests",
            "Requests completed, every attempt and robots.txt included.",
            ConstCounter::new(f.requests),
        )?;
        single(
            e,
            "crawl_body_bytes",
            "Body bytes kept (after decompression) of the pages' final responses.",
            ConstCounter::new(f.bytes),
        )?;
        single(
            e,
            "crawl_retries",
            "Retries scheduled after a retryable failure.",
            ConstCounter::new(f.retries),
        )?;
        single(
            e,
            "crawl_server_holds",
            "Times a host asked the crawl to slow down (429 or 503 with Retry-After).",
            ConstCounter::new(f.server_holds),
        )?;
        single(
            e,
            "crawl_hosts_given_up",
            "Hosts given up after a run of connection failures and failed probes (--host-failures, --host-probes).",
            ConstCounter::new(f.hosts_given_up),
        )?;
        single(
            e,
            "crawl_hosts_paused",
            "Hosts paused now after a run of connection failures: their pages wait for a probe.",
            ConstGauge::new(f.hosts_paused as i64),
        )?;
        single(
            e,
            "crawl_host_pauses",
            "Times a host was paused after a run of connection failures (--host-failures).",
            ConstCounter::new(f.host_pauses),
        )?;
        single(
            e,
            "crawl_host_probes",
            "Probes sent to paused hosts, answered or not (--host-probes).",
            ConstCounter::new(f.host_probes),
        )?;
        single(
            e,
            "crawl_pages_in_flight",
            "Pages handed to workers and not back yet.",
            ConstGauge::new(f.in_flight as i64),
        )?;
        single(
            e,
            "crawl_pages_queued",
            "Pages admitted and waiting to be handed out.",
            ConstGauge::new(f.queued as i64),
        )?;
        single(
            e,
            "crawl_concurrency_limit",
            "The limit on pages in flight: -j, or the one -j auto has set now.",
            ConstGauge::new(f.limit as i64),
        )?;
        single(
            e,
            "crawl_elapsed_seconds",
            "Seconds since the first task was handed out.",
            ConstGauge::new(f.elapsed.as_secs_f64()),
        )?;
        family(
            e,
            "crawl_worker_seconds",
            "Worker-slot seconds by activity: network (request to last body byte), parsing, rate_limit (held by --rate or --per-host-rate).",
            "activity",
            &[
                ("network", f.network_s),
                ("parsing", f.parsing_s),
                ("rate_limit", f.rate_limit_s),
            ],
            ConstCounter::new,
        )?;
        let s = f.split;
        family(
            e,
            "crawl_time_share",
            "Share of worker time over the crawl so far (0 to 1, summing to 1), as the summary's split.",
            "share",
            &[
                ("network", s.network),
                ("parsing", s.parsing),
                ("rate_limit", s.rate_limit),
                ("idle", s.idle),
            ],
            ConstGauge::new,
        )?;
        let verdicts = [
            Bottleneck::Cpu,
            Bottleneck::Network,
            Bottleneck::RateLimit,
            Bottleneck::Starved,
        ];
        let names: Vec<String> = verdicts.iter().map(ToString::to_string).collect();
        let values: Vec<(&str, i64)> = verdicts
            .iter()
            .zip(&names)
            .map(|(v, name)| (name.as_str(), i64::from(f.verdict == Some(*v))))
            .collect();
        family(
            e,
            "crawl_verdict",
            "What limits the crawl: 1 for the current verdict (the last seconds while running, the whole crawl's at the end), 0 for the others.",
            "verdict",
            &values,
            ConstGauge::new,
        )?;
        let waits: Vec<(&str, f64)> = f
            .host_waits
            .iter()
            .map(|(host, s)| (host.as_str(), *s))
            .collect();
        family(
            e,
            "crawl_host_wait_seconds",
            "Seconds a host's queue was held by politeness (Crawl-delay, Retry-After, --per-host-rate): the 10 longest hosts, the rest as other.",
            "host",
            &waits,
            ConstCounter::new,
        )?;
        if self.mode == Mode::Processes {
            single(
                e,
                "crawl_worker_restarts",
                "Worker processes that died with a page in hand, each replaced by a new fork.",
                ConstCounter::new(f.worker_restarts.unwrap_or(0)),
            )?;
        }
        single(
            e,
            "crawl_finished",
            "1 once the crawl has ended and these are its final figures.",
            ConstGauge::new(i64::from(f.finished)),
        )?;
        Ok(())
    }
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

    #[test]
    fn renders_every_family_with_one_verdict_set() {
        let metrics = Metrics::new(Mode::Processes);
        metrics.publish(Figures {
            ok: 3,
            failed: 2,
            robots_blocked: 1,
            verdict: Some(Bottleneck::Network),
            host_waits: vec![("http://a:1".to_owned(), 1.5)],
            worker_restarts: Some(1),
            ..Figures::default()
        });
        let text = metrics.render();
        for line in [
            "crawl_pages_total{outcome=\"ok\"} 3",
            "crawl_pages_total{outcome=\"error\"} 1",
            "crawl_pages_total{outcome=\"robots_blocked\"} 1",
            "crawl_verdict{verdict=\"network\"} 1",
            "crawl_verdict{verdict=\"cpu\"} 0",
            "crawl_host_wait_seconds_total{host=\"http://a:1\"} 1.5",
            "crawl_worker_restarts_total 1",
            "crawl_finished 0",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(
            !Metrics::new(Mode::Threads)
                .render()
                .contains("crawl_worker_restarts")
        );
    }
}
