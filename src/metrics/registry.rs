//! One crawl's Prometheus registry (`prometheus-client`): the latest [`Figures`], rendered
//! in the OpenMetrics text format on every scrape. The `metrics` feature's.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::TypedMetric;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::Figures;
use crate::bottleneck::Bottleneck;
use crate::config::Mode;

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
