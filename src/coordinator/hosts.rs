//! What an outcome says beyond its page: about its host (an answer, a Retry-After, a run of
//! connection failures), about the session (cookies it set, the login requests sent before
//! the crawl).

use std::time::{Duration, Instant};

use super::{Coordinator, CoordinatorError};
use crate::frontier::Job;
use crate::record::Record;
use crate::request::Request;
use crate::retry::MAX_RETRY_AFTER;
use crate::task::{Task, TaskKind, TaskResult};

impl Coordinator<'_> {
    pub(super) fn hand_out_login(&mut self, request: Request) -> Task {
        let mut job = Job::for_login(request.url.clone());
        job.attempts = 1;
        job.hop_attempts = 1;
        self.next_id += 1;
        let task = Task {
            id: self.next_id,
            kind: TaskKind::Login,
            url: request.url.clone(),
            cookie: self
                .cookies
                .as_ref()
                .and_then(|jar| jar.header_for(&request.url)),
            request: Some(Box::new(request.clone())),
        };
        self.logging_in = Some(request);
        self.in_flight.insert(task.id, job);
        task
    }

    /// Ends the login request in flight: the session is open (any status below 400), or the
    /// crawl stops with why it is not.
    pub(super) fn finish_login(&mut self, job: &Job, result: &TaskResult) {
        self.logging_in = None;
        let why = match &result.outcome {
            Ok(response) if response.status < 400 => return,
            Ok(response) => format!("http {}", response.status),
            Err(e) => e.to_string(),
        };
        if self.fatal.is_none() {
            self.fatal = Some(CoordinatorError::Login {
                url: job.url.to_string(),
                why,
            });
        }
    }

    /// What a request's outcome says about its host: an answer ends a run of failures; a
    /// 429 or 503 with Retry-After holds all the host's pages; a run of connection failures
    /// or timeouts gives the host up, and so does a robots.txt that cannot be reached on its
    /// `last_attempt` (no page of the host will be either: its pages are recorded as
    /// unreachable, rather than blocked by a robots.txt nobody saw).
    pub(super) fn judge_host(&mut self, job: &Job, result: &TaskResult, last_attempt: bool) {
        match &result.outcome {
            Ok(page) => {
                self.frontier.host_answered(&job.origin);
                if let (429 | 503, Some(ms)) = (page.status, page.retry_after_ms) {
                    let pause = Duration::from_millis(ms).min(MAX_RETRY_AFTER);
                    self.log_hold(job, page.status, pause);
                    self.frontier.hold(&job.origin, Instant::now() + pause);
                    self.stats.server_holds += 1;
                    self.share_hold(&job.origin, pause);
                }
            }
            Err(error) => {
                let mut gone = self
                    .frontier
                    .host_failed(&job.origin, error, self.host_failures);
                if gone.is_none()
                    && last_attempt
                    && job.kind == TaskKind::Robots
                    && self.host_failures > 0
                {
                    gone = self.frontier.give_up_host(&job.origin, error);
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

    /// Puts the cookies a response set in the jar (`--cookies`).
    pub(super) fn keep_cookies(&mut self, job: &Job, result: &TaskResult) {
        let (Some(jar), Ok(page)) = (self.cookies.as_mut(), &result.outcome) else {
            return;
        };
        if page.set_cookies.is_empty() {
            return;
        }
        let url = page.final_url.as_ref().unwrap_or(&job.fetch_url);
        if let Err(e) = jar.take(&page.set_cookies, url)
            && self.fatal.is_none()
        {
            self.fatal = Some(CoordinatorError::Cookies(e));
        }
    }

    /// Records a page whose host was given up while it was in flight.
    pub(super) fn give_up_page(&mut self, job: Job, result: TaskResult, reason: &str) {
        let mut record = Record::of(&job, Some(result.worker));
        if let Ok(mut page) = result.outcome {
            record.set_response(&mut page, None, self.max_bytes);
            self.stats.bytes += page.bytes;
        }
        record.set_unreachable(reason);
        self.stats.unreachable += 1;
        self.emit(record, false, &job);
    }
}
