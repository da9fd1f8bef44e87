//! [`Coordinator::next`]: what a driver should do next. The crawl-wide rate limit, the login
//! requests first, a frontier's refill, then what the frontier pops: a task to hand out, a
//! page recorded at once (blocked by robots.txt, its host given up), or how long to wait.

use std::time::Instant;

use std::time::Duration;

use super::recrawl::Consulted;
use super::{Coordinator, CoordinatorError, Next};
use crate::frontier::{Job, LoginTurn, Pop};
use crate::record::Record;
use crate::task::{Earlier, Task};

/// How often a node waiting for another to log in for the crawl asks whether it has.
const LOGIN_POLL: Duration = Duration::from_millis(50);

impl Coordinator<'_> {
    /// The next task to run at `now`, or how long to wait.
    pub fn next(&mut self, now: Instant) -> Next {
        self.stats.start_clock();
        self.settle_rate_wait(now);
        self.frontier.upkeep(now);
        self.heed_frontier();
        let (mut next, rate_limited) = self.decide(now);
        // Pages recorded in this very turn (blocked by robots.txt, their host given up) are
        // finished in Redis now: the driver may not come back until a task completes.
        self.frontier.flush(now);
        self.heed_frontier();
        if rate_limited {
            let idle = self.stats.workers.saturating_sub(self.in_flight.len());
            self.pacing.rate_wait = Some((now, idle));
        }
        // A shared node must come back to renew its leases and to look for work other nodes
        // add, even when none of its own tasks completes meanwhile.
        if let Next::Wait { until } = &mut next
            && let Some(wake) = self.frontier.wake_at(now, !self.stopping)
        {
            *until = Some(until.map_or(wake, |u| u.min(wake)));
        }
        next
    }

    /// What to do next, and whether a rate limiter is why there is nothing to do.
    pub(super) fn decide(&mut self, now: Instant) -> (Next, bool) {
        if self.stopping {
            return (self.idle(now), false);
        }
        if self.fatal.is_some() {
            return (Next::Done, false);
        }
        // `-j auto`: a worker over the limit waits, as a parked one would, for a page to end.
        if self.in_flight.len() >= self.limit() {
            return (Next::Wait { until: None }, false);
        }
        // The login requests first, one at a time: the crawl needs the session they open.
        if self.session.logging_in() {
            return (Next::Wait { until: None }, false);
        }
        // A shared crawl logs in once: another node may hold the turn, or have opened the
        // session already.
        if self.session.login_pending() {
            // Asked again at most every LOGIN_POLL, however many workers come asking.
            if let Some(until) = self.session.login_wait.filter(|&until| now < until) {
                return (Next::Wait { until: Some(until) }, false);
            }
            match self.frontier.login_turn() {
                LoginTurn::Mine => {}
                LoginTurn::Wait => {
                    let until = now + LOGIN_POLL;
                    self.session.login_wait = Some(until);
                    return (Next::Wait { until: Some(until) }, false);
                }
                LoginTurn::Opened => {
                    self.session.opened_elsewhere();
                    self.take_shared_cookies();
                    self.note(
                        "another node opened the crawl's session: its cookies are in the jar",
                    );
                }
                LoginTurn::Failed { url, why } => {
                    self.session.opened_elsewhere();
                    if self.fatal.is_none() {
                        self.fatal = Some(CoordinatorError::Login { url, why });
                    }
                    return (Next::Done, false);
                }
            }
        }
        if let Some(task) = self.hand_out_login() {
            return (Next::Task(task), false);
        }
        self.refill(now);
        if self.stopping {
            return (self.idle(now), false);
        }
        loop {
            if self.fatal.is_some() {
                return (Next::Done, false);
            }
            // A shared crawl's Redis failed for good during this turn: nothing more goes out.
            if self.stopping {
                return (self.idle(now), false);
            }
            if self
                .pacing
                .holding
                .is_some_and(|taken| !self.pacing.limiter.permit_is_fresh(taken, now))
            {
                self.pacing.holding = None;
            }
            if self.pacing.holding.is_none() {
                match self.pacing.limiter.take_global() {
                    Ok(()) => self.pacing.holding = Some(now),
                    Err(until) if self.frontier.queues_ref().queued() > 0 => {
                        return (Next::Wait { until: Some(until) }, true);
                    }
                    Err(_) => return (self.idle(now), false),
                }
            }
            let recrawl = &mut self.recrawl;
            let pop = if recrawl.is_some() {
                let mut fresh = |job: &crate::frontier::Job| Coordinator::is_fresh(recrawl, job);
                self.frontier
                    .pop_serving(now, &self.pacing.limiter, &mut fresh)
            } else {
                self.frontier.pop(now, &self.pacing.limiter)
            };
            // A Redis frontier that failed for good in this pop stops the node; the job it
            // handed out (if any) still goes, as the last one.
            self.heed_frontier();
            match pop {
                // Still fresh (`--cache`): recorded from the cache, without a request.
                Pop::Served(job) => {
                    self.consult_cache(job, true);
                }
                Pop::Job(job) => match self.consult_cache(job, false) {
                    Consulted::Fetch(job, earlier) => {
                        self.pacing.holding = None;
                        return (Next::Task(self.hand_out(*job, earlier)), false);
                    }
                    // Still fresh (`--cache`): recorded without a request.
                    Consulted::Served => {}
                },
                Pop::FetchRobots(job) => {
                    self.pacing.holding = None;
                    return (Next::Task(self.hand_out(job, None)), false);
                }
                Pop::Blocked(job) => {
                    self.stats.robots_blocked += 1;
                    self.log_blocked(&job);
                    let record = Record::blocked(&job);
                    self.emit(record, false, &job);
                }
                Pop::HostDown { job, reason } => {
                    self.stats.unreachable += 1;
                    let record = Record::unreachable(&job, &reason);
                    self.emit(record, false, &job);
                }
                Pop::Wait {
                    until,
                    rate_limited,
                } => return (Next::Wait { until: Some(until) }, rate_limited),
                Pop::Empty => {
                    // A seed origin whose robots.txt will not be fetched (its pages are all
                    // done, on a resume) still has its sitemaps read, from /sitemap.xml.
                    if self.in_flight.is_empty() && self.discover_leftover_sitemaps() {
                        continue;
                    }
                    return (self.idle(now), false);
                }
            }
        }
    }

    /// Nothing can be handed out: done if nothing is in flight or queued either (and, when
    /// shared, nothing is outstanding anywhere in the crawl).
    pub(super) fn idle(&self, now: Instant) -> Next {
        let queued = if self.stopping {
            0
        } else {
            self.frontier.queues_ref().queued()
        };
        if !self.in_flight.is_empty() || queued > 0 {
            return Next::Wait { until: None };
        }
        match self.frontier.others_wait(now) {
            Some(until) if !self.stopping => Next::Wait { until: Some(until) },
            _ => Next::Done,
        }
    }

    /// Counts the time since `next` last said "wait for the rate limiter" as rate-limit time
    /// for every worker slot that was idle then.
    pub(super) fn settle_rate_wait(&mut self, now: Instant) {
        if let Some((since, idle)) = self.pacing.rate_wait.take() {
            let waited = now.saturating_duration_since(since) * idle as u32;
            self.stats.rate_wait_ms += waited.as_secs_f64() * 1000.0;
        }
    }

    /// Takes `job` in flight as a task, with what an `earlier` crawl kept of it (`--cache`).
    pub(super) fn hand_out(&mut self, mut job: Job, earlier: Option<Box<Earlier>>) -> Task {
        job.attempts += 1;
        job.hop_attempts += 1;
        let task = Task {
            id: 0,
            kind: job.kind,
            url: job.fetch_url.clone(),
            cookie: self.session.cookie_for(&job.fetch_url),
            request: None,
            earlier,
        };
        Task {
            id: self.in_flight.start(job),
            ..task
        }
    }

    /// Takes on more work when this process runs low (a Redis frontier leases pages), and
    /// hears of a crawl-wide stop.
    pub(super) fn refill(&mut self, now: Instant) {
        let stopped = self
            .frontier
            .refill(now, self.in_flight.len(), self.stats.workers);
        // Before any page just leased goes out: it carries the crawl's cookies.
        self.take_shared_cookies();
        self.heed_frontier();
        if stopped && !self.stopping {
            self.note("the whole crawl was stopped (--stop-crawl)");
            self.stop();
        }
    }
}
