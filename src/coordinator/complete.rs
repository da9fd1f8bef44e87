//! [`Coordinator::complete`]: a task is back. Its exchange archived, its outcome judged (a
//! retry with backoff, a redirect to follow, a robots.txt verdict, a page's links), and
//! exactly one record written per admitted URL, in the order the journal needs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Coordinator, CoordinatorError, Outcome, items};
use crate::frontier::Job;
use crate::record::Record;
use crate::redirect::{self, Hold, MAX_REDIRECTS};
use crate::retry::{backoff, retryable_status};
use crate::task::{FetchError, Fetched, TaskKind, TaskResult, WorkerId};

impl Coordinator<'_> {
    /// Takes back task `id`: retries it, records it, schedules its links, as its outcome says.
    pub fn complete(
        &mut self,
        id: u64,
        // Only the archive takes from it (`warc` feature).
        #[cfg_attr(not(feature = "warc"), allow(unused_mut))] mut outcome: Outcome,
    ) {
        let now = Instant::now();
        self.settle_rate_wait(now);
        let Some((job, started)) = self.in_flight.remove(&id) else {
            // Not ours (a duplicate after a worker restart, say): nothing to account for.
            return;
        };
        // `--warc`: every exchange that got a response is archived, whatever the crawl makes
        // of it (a retry, a redirect to follow, robots.txt, a login).
        #[cfg(feature = "warc")]
        if let Outcome::Done(result) = &mut outcome
            && !result.archived.is_empty()
        {
            let archived = std::mem::take(&mut result.archived);
            if let Err(e) = self.ledger.archive(&archived)
                && self.fatal.is_none()
            {
                self.fatal = Some(e.into());
            }
        }
        if job.kind == TaskKind::Login {
            // Not the frontier's: a login request that never got an answer is sent again.
            match outcome {
                Outcome::Done(result) => {
                    // A request like any other in the log (`kind="login"`).
                    self.log_request(&job, &result);
                    self.keep_cookies(&job, &result);
                    self.finish_login(&job, &result);
                }
                // Never sent: send it again.
                Outcome::Unsent => self.session.login_unsent(),
                // Its worker died with it: it may have reached the server (a POST is not
                // safely repeated), so the crawl stops, as for any failed login.
                Outcome::Lost { .. } => {
                    self.finish_login(&job, &TaskResult::lost(WorkerId::Main));
                }
                Outcome::Abandoned => self.session.login_ended(),
            }
            return;
        }
        // Its origin may take another page now, whatever became of this one.
        self.frontier.queues().release(&job.origin, started);
        match outcome {
            Outcome::Done(result) => self.take_result(job, *result, started),
            Outcome::Lost { worker, why } => {
                self.count_death();
                if let Some(why) = why {
                    self.note(&format!(
                        "worker {worker} {why}; its page goes back in the queue"
                    ));
                }
                self.take_result(job, TaskResult::lost(worker), started);
            }
            Outcome::Unsent => {
                let mut job = job;
                job.attempts -= 1;
                job.hop_attempts -= 1;
                self.frontier.queues().retry_at(job, Instant::now());
            }
            Outcome::Abandoned => {
                self.stats.abandoned += 1;
                // Another node may take it at once.
                self.frontier.give_back(&job);
                self.heed_frontier();
            }
        }
        self.autoscale(now);
        self.show_progress();
        self.publish_metrics();
    }

    /// Takes the result of `job`, handed out at `started`.
    pub(super) fn take_result(&mut self, mut job: Job, result: TaskResult, started: Instant) {
        job.fetch_ms += result.fetch_ms;
        job.parse_ms += result.parse_ms;
        self.stats.fetch_ms += result.fetch_ms;
        if !matches!(result.outcome, Err(FetchError::WorkerDied)) {
            self.stats.requests += 1;
        }
        if let Some(cpu) = result.worker_cpu_ms {
            self.stats.worker_cpu(result.worker, cpu);
        }
        if let Some(rss) = result.worker_peak_rss_kb {
            self.stats.worker_rss(result.worker, rss);
        }
        self.stats.parse_ms += result.parse_ms + result.cpu_wait_ms;
        self.observe(&result);
        self.log_request(&job, &result);

        let (retryable, retry_after) = match &result.outcome {
            Ok(f) => (
                retryable_status(f.status),
                f.retry_after_ms.map(Duration::from_millis),
            ),
            Err(e) => (e.retryable(), None),
        };
        let retries_left = retryable && job.hop_attempts <= self.rules.retries;
        self.judge_host(&job, &result, started, !retries_left);
        self.keep_cookies(&job, &result);
        let gone = self.frontier.queues_ref().host_gone(&job.origin);
        if let (true, Some(reason), TaskKind::Page) = (retryable, &gone, job.kind) {
            // Its host was given up meanwhile: no more attempts, the page is recorded as
            // unreachable now.
            self.give_up_page(job, result, reason);
        } else if self.waits_for_host(&job, &result) {
            self.wait_for_host(job);
        } else if retries_left && gone.is_none() {
            self.retry(job, &result, retry_after);
        } else {
            match job.kind {
                TaskKind::Robots => {
                    let verdict =
                        self.frontier
                            .robots_verdict(&job.origin, &result, &self.rules.agent);
                    self.heed_frontier();
                    self.log_robots(&job, &result, &verdict);
                    let named = verdict.sitemaps();
                    self.frontier.queues().set_robots(&job.origin, verdict);
                    self.discover_sitemaps(&job.origin, named);
                }
                TaskKind::Page => self.finish_page(job, result),
                TaskKind::Sitemap => self.finish_sitemap(job, result),
                // Handled in `complete`, before anything here.
                TaskKind::Login => {}
            }
        }
    }

    /// Schedules `job` again after a backoff, and logs it with the `result` that asked for it.
    pub(super) fn retry(&mut self, job: Job, result: &TaskResult, retry_after: Option<Duration>) {
        self.stats.retries += 1;
        let entropy = crate::normalize::fingerprint(&job.url)
            ^ u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos()),
            )
            ^ u64::from(job.attempts).rotate_left(17)
            ^ self.in_flight.last_id();
        let delay = backoff(job.attempts, retry_after, entropy);
        // Logged before the job moves into the frontier, so it need not be cloned for it.
        self.log_retry(&job, result, delay);
        self.frontier.queues().retry_at(job, Instant::now() + delay);
    }

    /// The record of `job`'s response (or failure), with the response for the caller to go on
    /// with; `None` when the response was a redirect to follow, scheduled already.
    pub(super) fn answer(
        &mut self,
        job: &Job,
        result: TaskResult,
    ) -> Option<(Record, Option<Fetched>)> {
        let mut record = Record::of(job, Some(result.worker));
        match result.outcome {
            Err(e) => {
                record.set_failure(e);
                Some((record, None))
            }
            Ok(mut page) => {
                let mut refused = None;
                if let Some(location) = page.location.take() {
                    // A seed (or a page a sitemap lists) is fetched whatever the path rules say,
                    // and so is where it redirects: `http://host/` to `/index.html`, say.
                    let hold = if job.depth == 0 {
                        Hold::Hosts
                    } else {
                        Hold::Whole
                    };
                    // Judged as it will be fetched: normalised, as links are (no fragment).
                    let to = &crate::normalize::normalize(location.clone());
                    match redirect::check(job.redirects, MAX_REDIRECTS, to, &self.scope, hold) {
                        Ok(()) => {
                            self.log_redirect(job, &location);
                            self.follow_redirect(job.clone(), location);
                            return None;
                        }
                        Err(refusal) => refused = Some(refusal),
                    }
                }
                record.set_response(&mut page, refused, self.rules.max_bytes);
                self.stats.bytes += page.bytes;
                Some((record, Some(page)))
            }
        }
    }

    pub(super) fn finish_page(&mut self, job: Job, result: TaskResult) {
        // `--cache`: a 304 is the page as the cache holds it.
        if let Ok(page) = &result.outcome
            && page.status == 304
            && self.not_modified(&job, result.worker, &page.revisit)
        {
            return;
        }
        let Some((mut record, page)) = self.answer(&job, result) else {
            return;
        };
        if let Some(mut page) = page {
            self.frontier.queues().count_known_links(page.links_known);
            self.frontier
                .queues()
                .count_links_over_limit(page.links_over_limit);
            self.frontier
                .queues()
                .count_declined_links(page.links_declined);
            let success = record.status.is_some_and(|s| (200..300).contains(&s));
            let links = if success {
                std::mem::take(&mut page.links)
            } else {
                Vec::new()
            };
            // `--cache`: kept once the record is written (below), so that an entry never says
            // more than the output does.
            let keep = if self.recrawl.is_some() {
                let revisit = std::mem::take(&mut page.revisit);
                self.compare(&job, &mut record, revisit, &links, page.item.as_ref())
            } else {
                None
            };
            if success {
                self.frontier.offer_links(job.depth, links);
            }
            if page.stop {
                self.note(&format!(
                    "the extractor stopped the crawl at {}",
                    record.url
                ));
                self.stop();
            }
            let written = self.emit_page(record, page.item.take(), &job);
            if let (true, Some(keep)) = (written, keep) {
                self.keep(&job, keep);
            }
            return;
        }
        let ok = record.error.is_none();
        self.emit(record, ok, &job);
    }

    /// Writes a page's record with its item, if it has one: merged into the record (or handed
    /// to the item callback) and, with `--items`, written to the items file. Whether the
    /// record was written.
    pub(super) fn emit_page(
        &mut self,
        mut record: Record,
        item: Option<serde_json::Value>,
        job: &Job,
    ) -> bool {
        let Some(item) = item else {
            let ok = record.error.is_none();
            return self.emit(record, ok, job);
        };
        // `--changed-only` leaves an unchanged page out, its item too (callback included).
        if self.leaves_out(&record) {
            let ok = record.error.is_none();
            return self.emit(record, ok, job);
        }
        // Copied only for an items file (`--items`): this runs per page. An extractor that
        // failed on the page (it panicked, or its item would not serialise) has no item: its
        // error stays in the record and stays out of the items file.
        let for_file =
            (self.ledger.has_items() && !items::is_extract_error(&item)).then(|| item.clone());
        self.hand_over_item(&mut record, item);
        let ok = record.error.is_none();
        self.emit_with_item(record, ok, job, for_file.as_ref())
    }

    pub(super) fn hand_over_item(&mut self, record: &mut Record, item: serde_json::Value) {
        // After a fatal error the callback is not called again.
        let hook = self.item_hook.as_mut().filter(|_| self.fatal.is_none());
        if let Err(failed) = items::hand_over(record, item, hook) {
            self.fatal = Some(CoordinatorError::Item {
                url: record.url.clone(),
                message: failed.0,
            });
        }
    }

    /// Schedules the next hop of `job`'s redirect chain, to `location`.
    pub(super) fn follow_redirect(&mut self, mut job: Job, location: url::Url) {
        job.origin = Arc::from(crate::normalize::origin_key(&location));
        job.fetch_url = crate::normalize::normalize(location);
        job.redirects += 1;
        job.hop_attempts = 0;
        self.frontier.queues().follow_redirect(job);
    }

    /// Writes the record for the admitted URL `url`; whether it was written.
    pub(super) fn emit(&mut self, record: Record, ok: bool, job: &Job) -> bool {
        self.emit_with_item(record, ok, job, None)
    }

    /// [`Self::emit`], with the page's item for the items file (`--items`).
    pub(super) fn emit_with_item(
        &mut self,
        record: Record,
        ok: bool,
        job: &Job,
        item: Option<&serde_json::Value>,
    ) -> bool {
        let may = self.frontier.recording(job, record.depth);
        self.heed_frontier();
        if !may {
            return false;
        }
        if ok {
            self.stats.ok += 1;
        } else {
            self.stats.failed += 1;
        }
        if self.fatal.is_some() {
            return false;
        }
        let listed = !self.left_out(&record);
        let durable = self.frontier.durable();
        let queues = self.frontier.queues();
        let written = if durable {
            self.ledger
                .write_flushed(&record, item, listed, &job.url, queues)
        } else {
            self.ledger.write(&record, item, listed, &job.url, queues)
        };
        match written {
            Ok(()) => {
                self.frontier.recorded(job, record.depth);
                true
            }
            Err(e) => {
                self.fatal = Some(e.into());
                false
            }
        }
    }
}
