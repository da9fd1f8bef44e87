//! What the coordinator tells observers outside the crawl: `tracing` events (`-v`, `--log`)
//! and the figures for `--metrics` ([`crate::metrics`]).
//!
//! Events are emitted here, in the coordinator, because it runs in the parent process in
//! every mode: one place sees every request, and forked workers need not log beside the
//! parent's progress bar (the binary's writer drops what their HTTP stack emits). At `debug`,
//! one event per request, logins included (its URL, status or error, attempt, milliseconds,
//! worker, bytes, depth; a robots.txt's redirect hops, followed in the worker, are one event);
//! at `info`, the decisions a user debugging a
//! site needs: retries, robots.txt read and what it blocked, Crawl-delay and Retry-After
//! holds, hosts given up. The library installs no subscriber: without one these cost a check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::Coordinator;
use crate::bottleneck::judge;
use crate::config::Mode;
use crate::frontier::Job;
use crate::metrics::{Figures, Metrics, PUBLISH_EVERY, bounded};
use crate::report::Summary;
use crate::robots::Verdict;
use crate::task::{TaskKind, TaskResult};

/// `--metrics`: where the coordinator publishes, and when it last did.
pub(crate) struct Publisher {
    metrics: Arc<Metrics>,
    last: Option<Instant>,
}

impl Publisher {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Publisher {
            metrics,
            last: None,
        }
    }
}

fn kind_name(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Page => "page",
        TaskKind::Robots => "robots.txt",
        TaskKind::Sitemap => "sitemap",
        TaskKind::Login => "login",
    }
}

impl Coordinator<'_> {
    /// The per-request event: every completed attempt, in every mode.
    pub(super) fn log_request(&self, job: &Job, result: &TaskResult) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let worker = result.worker.to_string();
        match &result.outcome {
            Ok(page) => debug!(
                url = %job.fetch_url,
                kind = kind_name(job.kind),
                status = page.status,
                attempt = job.hop_attempts,
                ms = result.fetch_ms.round() as u64,
                parse_ms = result.parse_ms.round() as u64,
                worker = %worker,
                bytes = page.bytes,
                depth = job.depth,
                "request"
            ),
            Err(e) => debug!(
                url = %job.fetch_url,
                kind = kind_name(job.kind),
                error = %e,
                attempt = job.hop_attempts,
                ms = result.fetch_ms.round() as u64,
                worker = %worker,
                depth = job.depth,
                "request failed"
            ),
        }
    }

    /// A retry scheduled `delay` from now.
    pub(super) fn log_retry(&self, job: &Job, result: &TaskResult, delay: Duration) {
        // The reason is formatted only for a subscriber that wants it.
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let why = match &result.outcome {
            Ok(page) => format!("http {}", page.status),
            Err(e) => e.to_string(),
        };
        info!(
            url = %job.fetch_url,
            why = %why,
            attempt = job.hop_attempts,
            of = self.rules.retries + 1,
            retry_in_ms = delay.as_millis() as u64,
            "retrying"
        );
    }

    /// A page robots.txt disallows: recorded, never requested.
    pub(super) fn log_blocked(&self, job: &Job) {
        info!(url = %job.url, "blocked by robots.txt");
    }

    /// What an origin's robots.txt said, once it is known.
    pub(super) fn log_robots(&self, job: &Job, result: &TaskResult, verdict: &Verdict) {
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let read = match &result.outcome {
            Ok(page) => format!("http {}", page.status),
            Err(e) => e.to_string(),
        };
        let rules = match verdict {
            Verdict::AllowAll => "allows everything",
            Verdict::DisallowAll => "disallows everything",
            Verdict::Rules(_) => "has rules",
        };
        let delay = verdict.crawl_delay();
        info!(
            origin = %job.origin,
            result = %read,
            rules,
            crawl_delay_ms = delay.map(|d| d.as_millis() as u64),
            "robots.txt read"
        );
    }

    /// A 429 or 503 with Retry-After: the origin's pages wait `pause`.
    pub(super) fn log_hold(&self, job: &Job, status: u16, pause: Duration) {
        info!(
            origin = %job.origin,
            status,
            pause_ms = pause.as_millis() as u64,
            "Retry-After: holding the host's pages"
        );
    }

    /// An origin given up after a run of connection failures.
    pub(super) fn log_host_gone(&self, job: &Job, reason: &str) {
        info!(origin = %job.origin, reason, "giving up the host");
    }

    /// A redirect to follow (at debug: the request event said the status already).
    pub(super) fn log_redirect(&self, job: &Job, location: &url::Url) {
        debug!(url = %job.fetch_url, location = %location, hop = job.redirects + 1, "redirect");
    }

    /// A worker process died with a page in hand (processes mode; threads mode: a panic).
    pub(super) fn count_death(&mut self) {
        self.stats.worker_deaths += 1;
    }

    /// Publishes the live figures if the last ones are [`PUBLISH_EVERY`] old.
    pub(super) fn publish_metrics(&mut self) {
        let Some(publisher) = &self.metrics else {
            return;
        };
        let now = Instant::now();
        if publisher
            .last
            .is_some_and(|t| now.duration_since(t) < PUBLISH_EVERY)
        {
            return;
        }
        let elapsed = self.stats.started.elapsed();
        let live = self.stats.live_reading(now);
        let figures = Figures {
            in_flight: self.in_flight.len(),
            queued: self.frontier.queues_ref().queued(),
            elapsed,
            split: self.stats.split(elapsed),
            verdict: Some(judge(&live)),
            ..self.figures()
        };
        if let Some(publisher) = self.metrics.as_mut() {
            publisher.metrics.publish(figures);
            publisher.last = Some(now);
        }
    }

    /// Publishes the crawl's final figures, the summary's own.
    pub(super) fn publish_final(&mut self, summary: &Summary) {
        let Some(publisher) = &self.metrics else {
            return;
        };
        let figures = Figures {
            ok: summary.ok,
            failed: summary.failed,
            robots_blocked: summary.robots_blocked,
            unreachable: summary.unreachable,
            bytes: summary.bytes,
            retries: summary.retries,
            server_holds: summary.server_holds,
            hosts_given_up: summary.hosts_given_up,
            hosts_paused: 0,
            in_flight: 0,
            queued: summary.not_fetched as usize,
            elapsed: summary.elapsed,
            split: summary.split,
            verdict: Some(summary.verdict),
            finished: true,
            ..self.figures()
        };
        publisher.metrics.publish(figures);
    }

    /// The figures every publication shares.
    fn figures(&self) -> Figures {
        let s = &self.stats;
        Figures {
            ok: s.ok,
            failed: s.failed,
            robots_blocked: s.robots_blocked,
            unreachable: s.unreachable,
            requests: s.requests,
            bytes: s.bytes,
            retries: s.retries,
            server_holds: s.server_holds,
            hosts_given_up: s.hosts_given_up,
            hosts_paused: self.frontier.queues_ref().paused_hosts().0,
            host_pauses: s.host_pauses,
            host_probes: s.host_probes,
            limit: self.autoscaler.as_ref().map_or(s.workers, |st| st.limit()),
            network_s: s.fetch_ms / 1000.0,
            parsing_s: s.parse_ms / 1000.0,
            rate_limit_s: s.rate_wait_ms / 1000.0,
            host_waits: bounded(
                self.frontier
                    .queues_ref()
                    .host_waits()
                    .map(|(origin, waited)| (origin, waited.as_secs_f64()))
                    .collect(),
            ),
            worker_restarts: (self.rules.mode == Mode::Processes)
                .then_some(self.stats.worker_deaths),
            ..Figures::default()
        }
    }
}
