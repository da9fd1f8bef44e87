//! What an outcome says about its host beyond its page: an answer, a Retry-After, a run of
//! connection failures that pauses the host, a probe that reopens it or a host given up.

use std::time::{Duration, Instant};

use tracing::info;

use super::Coordinator;
use crate::frontier::{Job, Turn};
use crate::record::Record;
use crate::retry::MAX_RETRY_AFTER;
use crate::task::{TaskKind, TaskResult};

impl Coordinator<'_> {
    /// What a request's outcome says about its host (the request started at `started`): an
    /// answer ends a run of failures or a pause; a 429 or 503 with Retry-After holds all the
    /// host's pages; a run of connection failures or timeouts pauses the host, and so does a
    /// robots.txt that cannot be reached on its `last_attempt` (no page of the host would be
    /// either); a failed probe pauses it longer or gives it up (see `frontier::breaker`).
    pub(super) fn judge_host(
        &mut self,
        job: &Job,
        result: &TaskResult,
        started: Instant,
        last_attempt: bool,
    ) {
        let now = Instant::now();
        let turn = match &result.outcome {
            Ok(page) => {
                self.frontier.count_answer(&job.origin);
                let turn = self.frontier.queues().host_answered(&job.origin, started);
                if let (429 | 503, Some(ms)) = (page.status, page.retry_after_ms) {
                    let pause = Duration::from_millis(ms).min(MAX_RETRY_AFTER);
                    self.log_hold(job, page.status, pause);
                    self.frontier
                        .queues()
                        .hold(&job.origin, Instant::now() + pause);
                    self.stats.server_holds += 1;
                    self.frontier.share_hold(&job.origin, pause);
                    self.heed_frontier();
                }
                turn
            }
            Err(error) => {
                let before = self.frontier.queues().host_run(&job.origin);
                let turn = self
                    .frontier
                    .queues()
                    .host_failed(&job.origin, error, started, now);
                // A failure this breaker counted counts crawl-wide too, in a shared crawl: the
                // whole crawl's run may reach --host-failures before this process's does.
                let counted = self.frontier.queues().host_run(&job.origin) > before;
                let trip = turn.is_none()
                    && ((counted && self.frontier.count_failure(&job.origin))
                        || (last_attempt && job.kind == TaskKind::Robots));
                if trip {
                    self.frontier.queues().trip_host(&job.origin, error, now)
                } else {
                    turn
                }
            }
        };
        if let Some(turn) = turn {
            self.host_turned(job, turn, now);
        }
    }

    /// Counts, logs and tells the other nodes what changed about `job`'s host.
    fn host_turned(&mut self, job: &Job, turn: Turn, now: Instant) {
        let origin = &job.origin;
        match turn {
            Turn::Paused {
                until,
                probe,
                of,
                after_probe,
            } => {
                let pause = until.saturating_duration_since(now);
                if after_probe {
                    self.stats.host_probes += 1;
                } else {
                    self.stats.host_pauses += 1;
                    self.note(&format!(
                        "pausing {origin}: a run of connection failures; probing it in {} (probe {probe} of {of} before it is given up)",
                        secs(pause)
                    ));
                }
                info!(
                    origin = %origin,
                    probe,
                    of,
                    after_failed_probe = after_probe,
                    probe_in_ms = pause.as_millis() as u64,
                    "host paused: its pages wait for the probe"
                );
                // The other nodes of a shared crawl hold the host until this probe is back and
                // its verdict shared, so one probe speaks for the whole crawl: a failed probe
                // extends the hold before it ends (hence two timeouts, not one), a host given
                // up is given up everywhere, and after an answer the others wait out the rest.
                self.frontier
                    .share_hold(origin, pause + 2 * self.rules.timeout);
                self.heed_frontier();
            }
            Turn::Reopened => {
                self.stats.host_probes += 1;
                info!(origin = %origin, "host answered its probe: reopened at its full cap");
                self.note(&format!("{origin} answered its probe: crawling it again"));
            }
            Turn::Gone {
                reason,
                after_probe,
            } => {
                if after_probe {
                    self.stats.host_probes += 1;
                }
                self.stats.hosts_given_up += 1;
                self.log_host_gone(job, &reason);
                self.frontier.share_gone(origin, &reason);
                self.heed_frontier();
                self.note(&format!(
                    "giving up {origin}: {reason}; its remaining pages are recorded as unreachable"
                ));
            }
        }
    }

    /// Whether `job` failed because its host is paused: it then waits for the host to come
    /// back, in its queue, without spending one of its retries (the host failed, not the page).
    pub(super) fn waits_for_host(&self, job: &Job, result: &TaskResult) -> bool {
        job.kind != TaskKind::Login
            && result
                .outcome
                .as_ref()
                .err()
                .is_some_and(|e| e.retryable() && crate::frontier::says_host_is_down(e))
            && self.frontier.queues_ref().host_paused(&job.origin)
    }

    /// Puts `job` back in its queue, to go when its paused host is probed or reopened.
    pub(super) fn wait_for_host(&mut self, mut job: Job) {
        job.hop_attempts = job.hop_attempts.saturating_sub(1);
        tracing::debug!(url = %job.fetch_url, origin = %job.origin, "host paused: the page waits for it");
        self.frontier.queues().retry_at(job, Instant::now());
    }

    /// Records a page whose host was given up while it was in flight.
    pub(super) fn give_up_page(&mut self, job: Job, result: TaskResult, reason: &str) {
        let mut record = Record::of(&job, Some(result.worker));
        if let Ok(mut page) = result.outcome {
            record.set_response(&mut page, None, self.rules.max_bytes);
            self.stats.bytes += page.bytes;
        }
        record.set_unreachable(reason);
        self.stats.unreachable += 1;
        self.emit(record, false, &job);
    }
}

/// A pause as people say it: "800 ms", "4 s", "2 min 8 s".
fn secs(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        1..120 => format!("{s} s"),
        _ => format!("{} min {} s", s / 60, s % 60),
    }
}
