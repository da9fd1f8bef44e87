//! What an outcome says about its host beyond its page: an answer, a Retry-After, a run of
//! connection failures.

use std::time::{Duration, Instant};

use super::Coordinator;
use crate::frontier::Job;
use crate::record::Record;
use crate::retry::MAX_RETRY_AFTER;
use crate::task::{TaskKind, TaskResult};

impl Coordinator<'_> {
    /// What a request's outcome says about its host: an answer ends a run of failures; a
    /// 429 or 503 with Retry-After holds all the host's pages; a run of connection failures
    /// or timeouts gives the host up, and so does a robots.txt that cannot be reached on its
    /// `last_attempt` (no page of the host will be either: its pages are recorded as
    /// unreachable, rather than blocked by a robots.txt nobody saw).
    pub(super) fn judge_host(&mut self, job: &Job, result: &TaskResult, last_attempt: bool) {
        match &result.outcome {
            Ok(page) => {
                self.frontier.queues().host_answered(&job.origin);
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
            }
            Err(error) => {
                let mut gone = self.frontier.queues().host_failed(
                    &job.origin,
                    error,
                    self.rules.host_failures,
                );
                if gone.is_none()
                    && last_attempt
                    && job.kind == TaskKind::Robots
                    && self.rules.host_failures > 0
                {
                    gone = self.frontier.queues().give_up_host(&job.origin, error);
                }
                if let Some(reason) = gone {
                    self.stats.hosts_given_up += 1;
                    self.log_host_gone(job, &reason);
                    self.note(&format!(
                        "giving up {}: {reason}; its remaining pages are recorded as unreachable",
                        job.origin
                    ));
                }
            }
        }
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
