//! `-j auto` in the coordinator: every completed request is shown to the controller
//! ([`crate::autoscale`]), which moves the limit on pages in flight when an interval is over;
//! [`Coordinator::limit`] is what every driver obeys.

use std::time::Instant;

use super::Coordinator;
use crate::autoscale::Autoscale;
use crate::config::Plan;
use crate::report::AutoscaleReport;
use crate::stats::{Mark, Stats};
use crate::task::TaskResult;

/// The controller, and where its interval started in the statistics.
pub(super) struct Autoscaler {
    auto: Autoscale,
    mark: Option<Mark>,
}

impl Autoscaler {
    /// `-j auto` for `config`, if asked for: two workers per core to start with (a CPU-bound
    /// crawl needs no more; a network-bound one doubles from there), or eight pages in flight
    /// per core in async mode, where one costs a task, not a thread or a process.
    pub(super) fn new(config: &Plan) -> Option<Autoscaler> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let start = match config.mode {
            crate::config::Mode::Async => 8 * cores,
            _ => 2 * cores,
        };
        config.autoscale.then(|| Autoscaler {
            auto: Autoscale::new(start, config.workers, Instant::now()),
            mark: None,
        })
    }

    pub(super) fn limit(&self) -> usize {
        self.auto.limit()
    }
}

impl Coordinator<'_> {
    /// Pages this crawl may have in flight now: `-j auto`'s current limit, or no limit beyond
    /// the workers a driver runs.
    pub fn limit(&self) -> usize {
        self.autoscaler
            .as_ref()
            .map_or(usize::MAX, Autoscaler::limit)
    }

    /// Shows a completed request to the controller.
    pub(super) fn observe(&mut self, result: &TaskResult) {
        if let Some(autoscaler) = self.autoscaler.as_mut() {
            let slowdown = result
                .outcome
                .as_ref()
                .is_ok_and(|page| matches!(page.status, 429 | 503));
            autoscaler
                .auto
                .observe(Instant::now(), result.fetch_ms, slowdown);
        }
    }

    /// Ends the controller's interval if it is due, and applies its decision.
    pub(super) fn autoscale(&mut self, now: Instant) {
        let Some(autoscaler) = self.autoscaler.as_mut() else {
            return;
        };
        let stats: &mut Stats = &mut self.stats;
        let from = *autoscaler
            .mark
            .get_or_insert_with(|| stats.mark(stats.started));
        if !autoscaler.auto.due(now) {
            return;
        }
        let reading = stats.reading_since(&from, stats.mark(now));
        autoscaler.mark = Some(stats.mark(now));
        let change = autoscaler.auto.tick(now, reading);
        if change.to != change.from {
            stats.set_workers(change.to, now);
        }
    }

    /// The limit and its last decision, for the progress line.
    pub(super) fn autoscale_now(&self) -> Option<(usize, Option<String>)> {
        let autoscaler = self.autoscaler.as_ref()?;
        let last = autoscaler.auto.last().map(ToString::to_string);
        Some((autoscaler.limit(), last))
    }

    /// The limit over the crawl, for the summary.
    pub(super) fn concurrency(&self) -> Option<AutoscaleReport> {
        let autoscaler = self.autoscaler.as_ref()?;
        let (min, median, max) = autoscaler.auto.spread();
        Some(AutoscaleReport {
            min,
            median,
            max,
            last: autoscaler.auto.last().map(ToString::to_string),
            steps: autoscaler.auto.steps().to_vec(),
        })
    }
}
