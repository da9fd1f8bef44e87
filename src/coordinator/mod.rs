//! The coordinator: the one place that decides what happens next in a crawl.
//!
//! ## The driver contract
//! A driver (a mode, in [`crate::modes`]) runs tasks somewhere and uses four calls to run
//! them, and two to read what it needs to know:
//! 1. [`Coordinator::next`]: a [`Task`] to run, or when to ask again, or that the crawl is done;
//! 2. [`Coordinator::complete`]: how the task with that id ended ([`Outcome`]): a result, a
//!    worker lost with the task in hand, a task that never reached a worker, or one given up
//!    after a stop;
//! 3. [`Coordinator::stop`]: hand out nothing more (Ctrl-C, SIGTERM);
//! 4. [`Coordinator::retired`]: a worker process has exited (its memory no longer counts);
//! - [`Coordinator::limit`]: how many pages may be in flight now (`-j auto` moves it);
//! - [`Coordinator::worker_deaths`]: how many workers died with a task in hand (processes
//!   mode replaces them, up to a bound).
//!
//! The coordinator never waits and never spawns (a shared crawl's round trips to Redis, a few
//! per turn at most, are its only blocking calls): waiting is the driver's job, because only the
//! driver knows whether it waits on a condition variable, a tokio timer or `poll(2)`. What
//! waiting costs is accounted here, not in the drivers: while `next` says the rate limiter is
//! why there is nothing to do, every idle worker slot is counted as waiting on it.
//!
//! ## What it decides
//! The global rate limit (checked where tasks are handed out, so it holds across threads and
//! processes alike), retries with backoff ([`crate::retry`]), robots.txt verdicts, redirects
//! ([`crate::redirect`]), scheduling the links a page yielded, and exactly one record per
//! admitted URL. The parts live beside it: [`ledger`] writes records and the journal in a safe
//! order, [`items`] hands extracted items over, `hosts` hears what outcomes say about their
//! hosts and the session, `sitemaps` finds and admits sitemaps, `shared` is its side of a
//! crawl shared through Redis ([`crate::shared`]), [`crate::record`] builds records,
//! [`crate::report`] the summary, [`crate::journal`] restores a resumed crawl.

mod hosts;
pub(crate) mod items;
pub(crate) mod ledger;
mod shared;
mod sitemaps;
mod steer;
mod telemetry;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, Mode};
use crate::cookies::{CookieError, Jar};
use crate::frontier::{Frontier, Job, Pop};
use crate::journal::Resume;
use crate::progress::{Progress, Snapshot};
use crate::ratelimit::Limiter;
use crate::record::Record;
use crate::redirect::{self, MAX_REDIRECTS};
use crate::report::{Summary, Tally};
use crate::request::Request;
use crate::retry::{backoff, retryable_status};
use crate::robots::{Verdict, product_token};
use crate::scope::Scope;
use crate::shared::{SharedError, SharedFrontier};
use crate::shared_set::SharedSet;
use crate::stats::Stats;
use crate::task::{FetchError, Fetched, Task, TaskKind, TaskResult, WorkerId};
use items::ItemHook;
use ledger::{Ledger, LedgerError};
use shared::Refused;

/// What a driver should do next.
#[derive(Debug)]
pub enum Next {
    /// Run this task.
    Task(Task),
    /// Nothing to hand out now. Ask again at `until`, or when a task completes if `until` is
    /// `None`.
    Wait { until: Option<Instant> },
    /// The crawl is finished (or failed fatally): stop asking.
    Done,
}

/// How a task handed out by [`Coordinator::next`] ended.
#[derive(Debug)]
pub enum Outcome {
    /// A worker ran it; here is what it found.
    Done(Box<TaskResult>),
    /// The worker died or panicked with the task in hand: it is retried as a "worker died"
    /// failure (counting against `--retries`), so no URL is ever lost.
    Lost {
        worker: WorkerId,
        why: Option<String>,
    },
    /// It never reached a worker (the worker was gone already): queued again, no attempt spent.
    Unsent,
    /// Given up after a stop's grace period: no record is written, the summary counts it as
    /// unfinished.
    Abandoned,
}

impl From<TaskResult> for Outcome {
    fn from(result: TaskResult) -> Self {
        Outcome::Done(Box::new(result))
    }
}

/// A fatal error while crawling (individual page failures are records, not errors).
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// The records or the journal could not be written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The item callback of [`crate::Crawl::for_each`] failed: it returned an error or
    /// panicked, or the item did not read back as the extractor's type.
    #[error("the item callback failed on {url}: {message}")]
    Item {
        /// The URL of the page whose item it was given (the record's `url`).
        url: String,
        /// The error's text (for a panic, `it panicked: ` and the panic's message).
        message: String,
    },
    /// A [`Config::login`] request got no answer, or a status of 400 or more.
    #[error("login request to {url} failed: {why}")]
    Login {
        /// The request's URL.
        url: String,
        /// What came back instead of a session ("http 401", "connect refused").
        why: String,
    },
    /// The cookie jar could not be saved in the state directory.
    #[error(transparent)]
    Cookies(#[from] CookieError),
    /// The shared frontier's Redis was lost and did not come back within the lease. The
    /// records of the pages in flight were written; run the node again to go on.
    #[error(transparent)]
    Shared(Box<SharedError>),
}

impl From<SharedError> for CoordinatorError {
    fn from(e: SharedError) -> Self {
        CoordinatorError::Shared(Box::new(e))
    }
}

/// What the coordinator is built from, besides the config; `'h` is the item callback's life.
pub(crate) struct Parts<'h> {
    pub scope: Arc<Scope>,
    pub ledger: Ledger,
    pub progress: Progress,
    /// What an earlier run of a `--state` crawl left, to restore first.
    pub resume: Option<Resume>,
    /// Processes mode's `--dedupe shared`: every admitted URL is mirrored there.
    pub known: Option<Arc<SharedSet>>,
    pub item_hook: Option<ItemHook<'h>>,
    /// `--cookies`: the crawl's jar.
    pub cookies: Option<Jar>,
    /// `--frontier`: the crawl's frontier in Redis, shared with other nodes.
    pub shared: Option<SharedFrontier>,
    /// `--metrics`: where the live figures go.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// The state of one crawl, shared by every mode. `'h` is the life of the item callback
/// ([`crate::Crawl::for_each`]), which may borrow from its caller's stack: every driver runs
/// the crawl to its end inside one call, with scoped threads and runtimes.
pub struct Coordinator<'h> {
    mode: Mode,
    frontier: Frontier,
    limiter: Limiter,
    in_flight: HashMap<u64, Job>,
    next_id: u64,
    /// When a global-rate permit was taken that no task has spent yet (kept for the next task,
    /// as long as it stays fresh).
    holding_permit: Option<Instant>,
    /// Whether any task has been handed out yet (the crawl clock starts then).
    started: bool,
    /// Since when, and for how many idle worker slots, `next` has said the rate limiter is why
    /// there is nothing to do.
    rate_wait: Option<(Instant, usize)>,
    retries: u32,
    /// Connection failures in a row after which an origin is given up (0: never).
    host_failures: u32,
    max_bytes: u64,
    agent: String,
    scope: Arc<Scope>,
    ledger: Ledger,
    stats: Stats,
    progress: Progress,
    fatal: Option<CoordinatorError>,
    /// Set by [`Coordinator::stop`]: hand out nothing more, let what is in flight finish.
    stopping: bool,
    /// Tasks given up after a stop (no record written).
    abandoned: u64,
    /// Pages an earlier run (`--state`) already finished.
    resumed: u64,
    item_hook: Option<ItemHook<'h>>,
    cookies: Option<Jar>,
    /// `--sitemaps`: the seed origins whose sitemaps are still to be found (once their
    /// robots.txt says where), and how many sitemaps each origin has had admitted.
    sitemaps: Option<sitemaps::Sitemaps>,
    /// [`Config::login`]'s requests not sent yet, and the one in flight: nothing else is
    /// handed out until they are done.
    login: std::collections::VecDeque<Request>,
    logging_in: Option<Request>,
    /// `--frontier`: admission and the crawl's end are Redis's; this node's frontier queues
    /// only the pages it has leased (see [`crate::shared`]).
    shared: Option<SharedFrontier>,
    /// The links of the page being recorded, for the shared frontier's completion step.
    page_links: Vec<url::Url>,
    /// The shared frontier failed for good: nothing more is asked of it.
    shared_error: Option<SharedError>,
    /// `--rate` and `--per-host-rate`, held crawl-wide in Redis too when shared.
    rate: Option<f64>,
    per_host_rate: Option<f64>,
    /// `--per-host-workers`, which a shared crawl divides among its live nodes.
    per_host_workers: Option<usize>,
    /// `-j auto`: the controller that sets [`Coordinator::limit`].
    steering: Option<steer::Steering>,
    /// `--metrics`: where the live figures are published.
    metrics: Option<telemetry::Publisher>,
    /// Workers that died with a task in hand ([`Outcome::Lost`]): processes mode's restarts,
    /// which its summary and `--metrics` both report from here.
    deaths: u64,
}

impl<'h> Coordinator<'h> {
    /// A coordinator for `config`'s crawl (validated), with what an earlier run left restored
    /// and every unique seed admitted.
    pub(crate) fn new(config: &Config, parts: Parts<'h>) -> Self {
        let steering = steer::Steering::new(config);
        let mut frontier = Frontier::new(
            Arc::clone(&parts.scope),
            config.depth,
            config.max_pages,
            config.obey_robots,
        );
        if let Some(known) = parts.known {
            frontier.publish_known(known);
        }
        let resumed = parts
            .resume
            .map_or(0, |resume| resume.restore(&mut frontier));
        // From here on, what the frontier takes on goes in the journal (what was restored is
        // in it already).
        frontier.set_logging(parts.ledger.journaling());
        frontier.limit_per_host(config.per_host_workers);
        // A shared crawl's seeds were admitted in Redis when the node joined.
        if parts.shared.is_none() {
            for seed in &config.seeds {
                frontier.admit(seed.clone(), 0);
            }
        }
        let mut coordinator = Coordinator {
            mode: config.mode,
            frontier,
            limiter: Limiter::new(config.rate, config.per_host_rate),
            in_flight: HashMap::new(),
            next_id: 0,
            holding_permit: None,
            started: false,
            rate_wait: None,
            retries: config.retries,
            host_failures: config.host_failures,
            max_bytes: config.max_bytes,
            agent: product_token(&config.user_agent).to_owned(),
            scope: parts.scope,
            ledger: parts.ledger,
            stats: Stats::new(
                steering
                    .as_ref()
                    .map_or(config.workers, steer::Steering::limit),
            ),
            progress: parts.progress,
            fatal: None,
            stopping: false,
            abandoned: 0,
            resumed,
            item_hook: parts.item_hook,
            cookies: parts.cookies,
            sitemaps: None,
            login: config.login.iter().cloned().collect(),
            logging_in: None,
            shared: parts.shared,
            page_links: Vec::new(),
            shared_error: None,
            rate: config.rate,
            per_host_rate: config.per_host_rate,
            per_host_workers: config.per_host_workers,
            steering,
            metrics: parts.metrics.map(telemetry::Publisher::new),
            deaths: 0,
        };
        if config.sitemaps {
            coordinator.start_sitemaps(config);
        }
        coordinator
    }

    /// The next task to run at `now`, or how long to wait.
    pub fn next(&mut self, now: Instant) -> Next {
        if !self.started {
            self.started = true;
            self.stats.restart_clock();
        }
        self.settle_rate_wait(now);
        self.shared_upkeep(now);
        let (mut next, rate_limited) = self.decide(now);
        // Pages recorded in this very turn (blocked by robots.txt, their host given up) are
        // finished in Redis now: the driver may not come back until a task completes.
        self.shared_flush(now);
        if rate_limited {
            let idle = self.stats.workers.saturating_sub(self.in_flight.len());
            self.rate_wait = Some((now, idle));
        }
        // A shared node must come back to renew its leases and to look for work other nodes
        // add, even when none of its own tasks completes meanwhile.
        if let (Next::Wait { until }, Some(shared)) = (&mut next, &self.shared)
            && self.shared_error.is_none()
        {
            let wake = shared.wake_at(now, !self.stopping);
            *until = Some(until.map_or(wake, |u| u.min(wake)));
        }
        next
    }

    /// What to do next, and whether a rate limiter is why there is nothing to do.
    fn decide(&mut self, now: Instant) -> (Next, bool) {
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
        if self.logging_in.is_some() {
            return (Next::Wait { until: None }, false);
        }
        if let Some(request) = self.login.pop_front() {
            return (Next::Task(self.hand_out_login(request)), false);
        }
        self.shared_tick(now);
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
                .holding_permit
                .is_some_and(|taken| !self.limiter.permit_is_fresh(taken, now))
            {
                self.holding_permit = None;
            }
            if self.holding_permit.is_none() {
                match self.limiter.take_global() {
                    Ok(()) => self.holding_permit = Some(now),
                    Err(until) if self.frontier.queued() > 0 => {
                        return (Next::Wait { until: Some(until) }, true);
                    }
                    Err(_) => return (self.idle(now), false),
                }
            }
            match self.frontier.pop(now, &self.limiter) {
                Pop::FetchRobots(job) if self.known_robots(&job.origin) || self.stopping => {
                    // Another node read this origin's robots.txt: its verdict is the crawl's.
                    self.frontier.release(&job.origin);
                    if self.stopping {
                        // Asking Redis failed and stopped the node: the job stays queued.
                        self.frontier.retry_at(job, now);
                        return (self.idle(now), false);
                    }
                }
                Pop::Job(job) | Pop::FetchRobots(job) => {
                    if job.kind == TaskKind::Page
                        && self.shared.as_ref().is_some_and(|s| s.lost(&job.url))
                    {
                        // Its lease was taken back while this node stalled: another node has
                        // the page now.
                        self.frontier.release(&job.origin);
                        if let Some(shared) = self.shared.as_mut() {
                            shared.drop_result(&job.url);
                        }
                        continue;
                    }
                    if let Some((which, wait)) = self.shared_permit(&job) {
                        // Other nodes spent the permit: this job waits its turn.
                        self.frontier.release(&job.origin);
                        self.frontier.retry_at(job, now + wait);
                        match which {
                            // Other hosts' pages may go meanwhile.
                            Refused::Host => continue,
                            Refused::Crawl => {
                                return (
                                    Next::Wait {
                                        until: Some(now + wait),
                                    },
                                    true,
                                );
                            }
                        }
                    }
                    self.holding_permit = None;
                    return (Next::Task(self.hand_out(job)), false);
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
    fn idle(&self, now: Instant) -> Next {
        let queued = if self.stopping {
            0
        } else {
            self.frontier.queued()
        };
        if !self.in_flight.is_empty() || queued > 0 {
            return Next::Wait { until: None };
        }
        match &self.shared {
            Some(shared)
                if !self.stopping && self.shared_error.is_none() && !shared.crawl_done() =>
            {
                Next::Wait {
                    until: Some(shared.wake_at(now, true)),
                }
            }
            _ => Next::Done,
        }
    }

    /// Counts the time since `next` last said "wait for the rate limiter" as rate-limit time
    /// for every worker slot that was idle then.
    fn settle_rate_wait(&mut self, now: Instant) {
        if let Some((since, idle)) = self.rate_wait.take() {
            let waited = now.saturating_duration_since(since) * idle as u32;
            self.stats.rate_wait_ms += waited.as_secs_f64() * 1000.0;
        }
    }

    fn hand_out(&mut self, mut job: Job) -> Task {
        job.attempts += 1;
        job.hop_attempts += 1;
        self.next_id += 1;
        let task = Task {
            id: self.next_id,
            kind: job.kind,
            url: job.fetch_url.clone(),
            cookie: self
                .cookies
                .as_ref()
                .and_then(|jar| jar.header_for(&job.fetch_url)),
            request: None,
        };
        self.in_flight.insert(task.id, job);
        task
    }

    /// Takes back task `id`: retries it, records it, schedules its links, as its outcome says.
    pub fn complete(&mut self, id: u64, mut outcome: Outcome) {
        let now = Instant::now();
        self.settle_rate_wait(now);
        let Some(job) = self.in_flight.remove(&id) else {
            // Not ours (a duplicate after a worker restart, say): nothing to account for.
            return;
        };
        // `--warc`: every exchange that got a response is archived, whatever the crawl makes
        // of it (a retry, a redirect to follow, robots.txt, a login).
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
                Outcome::Unsent => {
                    if let Some(request) = self.logging_in.take() {
                        self.login.push_front(request);
                    }
                }
                // Its worker died with it: it may have reached the server (a POST is not
                // safely repeated), so the crawl stops, as for any failed login.
                Outcome::Lost { .. } => {
                    self.finish_login(&job, &TaskResult::lost(WorkerId::Main));
                }
                Outcome::Abandoned => self.logging_in = None,
            }
            return;
        }
        // Its origin may take another page now, whatever became of this one.
        self.frontier.release(&job.origin);
        match outcome {
            Outcome::Done(result) => self.take_result(job, *result),
            Outcome::Lost { worker, why } => {
                self.count_death();
                if let Some(why) = why {
                    self.note(&format!(
                        "worker {worker} {why}; its page goes back in the queue"
                    ));
                }
                self.take_result(job, TaskResult::lost(worker));
            }
            Outcome::Unsent => {
                let mut job = job;
                job.attempts -= 1;
                job.hop_attempts -= 1;
                self.frontier.retry_at(job, Instant::now());
            }
            Outcome::Abandoned => {
                self.abandoned += 1;
                // Another node may take it at once.
                if let (Some(shared), None) = (self.shared.as_mut(), &self.shared_error)
                    && let Err(e) = shared.give_back(&job.url)
                {
                    self.shared_error = Some(e);
                }
            }
        }
        self.steer(now);
        self.show_progress();
        self.publish_metrics();
    }

    fn take_result(&mut self, mut job: Job, result: TaskResult) {
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
        let retries_left = retryable && job.hop_attempts <= self.retries;
        self.judge_host(&job, &result, !retries_left);
        self.keep_cookies(&job, &result);
        let gone = self.frontier.host_gone(&job.origin);
        if let (true, Some(reason), TaskKind::Page) = (retryable, &gone, job.kind) {
            // Its host was given up meanwhile: no more attempts, the page is recorded as
            // unreachable now.
            self.give_up_page(job, result, reason);
        } else if retries_left && gone.is_none() {
            self.retry(job, &result, retry_after);
        } else {
            match job.kind {
                TaskKind::Robots => {
                    let verdict = match self.shared_robots_verdict(&job.origin, &result) {
                        Some(verdict) => verdict,
                        None => Verdict::from_outcome(&result.outcome, &self.agent),
                    };
                    self.log_robots(&job, &result, &verdict);
                    let named = verdict.sitemaps();
                    self.frontier.set_robots(&job.origin, verdict);
                    self.discover_sitemaps(&job.origin, named);
                }
                TaskKind::Page => self.finish_page(job, result),
                TaskKind::Sitemap => self.finish_sitemap(job, result),
                // Handled in `complete`, before anything here.
                TaskKind::Login => {}
            }
        }
    }

    /// Stops the crawl early (Ctrl-C, SIGTERM): from now on [`Coordinator::next`] hands out
    /// nothing and answers `Done` once the tasks in flight have come back. Their results are
    /// still recorded; queued pages are left unfetched.
    pub fn stop(&mut self) {
        // Time after a stop is the stop's, not the rate limiter's.
        self.settle_rate_wait(Instant::now());
        self.stopping = true;
    }

    /// Workers that died with a task in hand so far ([`Outcome::Lost`]).
    pub fn worker_deaths(&self) -> u64 {
        self.deaths
    }

    /// Forgets a worker process that has exited: its memory no longer counts as resident, and
    /// its CPU time is kept under no name (a later process may reuse its pid).
    pub fn retired(&mut self, worker: WorkerId) {
        self.stats.forget_worker(worker);
    }

    /// Schedules `job` again after a backoff, and logs it with the `result` that asked for it.
    fn retry(&mut self, job: Job, result: &TaskResult, retry_after: Option<Duration>) {
        self.stats.retries += 1;
        let entropy = crate::normalize::fingerprint(&job.url)
            ^ u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos()),
            )
            ^ u64::from(job.attempts).rotate_left(17)
            ^ self.next_id;
        let delay = backoff(job.attempts, retry_after, entropy);
        // Logged before the job moves into the frontier, so it need not be cloned for it.
        self.log_retry(&job, result, delay);
        self.frontier.retry_at(job, Instant::now() + delay);
    }

    /// The record of `job`'s response (or failure), with the response for the caller to go on
    /// with; `None` when the response was a redirect to follow, scheduled already.
    fn answer(&mut self, job: &Job, result: TaskResult) -> Option<(Record, Option<Fetched>)> {
        let mut record = Record::of(job, Some(result.worker));
        match result.outcome {
            Err(e) => {
                record.set_failure(e);
                Some((record, None))
            }
            Ok(mut page) => {
                let mut refused = None;
                if let Some(location) = page.location.take() {
                    match redirect::check(job.redirects, MAX_REDIRECTS, &location, &self.scope) {
                        Ok(()) => {
                            self.log_redirect(job, &location);
                            self.follow_redirect(job.clone(), location);
                            return None;
                        }
                        Err(refusal) => refused = Some(refusal),
                    }
                }
                record.set_response(&mut page, refused, self.max_bytes);
                self.stats.bytes += page.bytes;
                Some((record, Some(page)))
            }
        }
    }

    fn finish_page(&mut self, job: Job, result: TaskResult) {
        let Some((mut record, page)) = self.answer(&job, result) else {
            return;
        };
        if let Some(mut page) = page {
            self.frontier.count_known_links(page.links_known);
            self.frontier.count_links_over_limit(page.links_over_limit);
            self.frontier.count_declined_links(page.links_declined);
            if record.status.is_some_and(|s| (200..300).contains(&s)) {
                let links = std::mem::take(&mut page.links);
                if self.shared.is_some() {
                    // Sent with the page's completion, once its record is written.
                    self.page_links = links;
                } else {
                    self.frontier.offer_links(job.depth, links);
                }
            }
            if page.stop {
                self.note(&format!(
                    "the extractor stopped the crawl at {}",
                    record.url
                ));
                self.stop();
            }
            if let Some(item) = page.item.take() {
                self.hand_over_item(&mut record, item);
            }
        }
        let ok = record.error.is_none();
        self.emit(record, ok, &job);
    }

    fn hand_over_item(&mut self, record: &mut Record, item: serde_json::Value) {
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
    fn follow_redirect(&mut self, mut job: Job, location: url::Url) {
        job.origin = Arc::from(crate::normalize::origin_key(&location));
        job.fetch_url = crate::normalize::normalize(location);
        job.redirects += 1;
        job.hop_attempts = 0;
        self.frontier.follow_redirect(job);
    }

    /// Writes the record for the admitted URL `url`.
    fn emit(&mut self, record: Record, ok: bool, job: &Job) {
        let links = std::mem::take(&mut self.page_links);
        if self.shared.is_some() {
            // Written only while this node holds the page's lease.
            if !self.shared_may_record(job) {
                return;
            }
        } else {
            self.frontier.finished(record.depth);
            if job.kind == TaskKind::Sitemap {
                // What it listed is admitted: links found one level down may go in now.
                self.frontier.early_done();
            }
        }
        if ok {
            self.stats.ok += 1;
        } else {
            self.stats.failed += 1;
        }
        if self.fatal.is_some() {
            return;
        }
        // A shared crawl's record reaches the OS before its page is finished in Redis, so a
        // node that dies loses no record.
        let written = if self.shared.is_some() {
            self.ledger
                .write_flushed(&record, &job.url, &mut self.frontier)
        } else {
            self.ledger.write(&record, &job.url, &mut self.frontier)
        };
        match written {
            Ok(()) => self.shared_recorded(job, record.depth, links),
            Err(e) => self.fatal = Some(e.into()),
        }
    }

    /// Prints a line for the user above the progress bar.
    fn note(&self, message: &str) {
        self.progress.note(message);
    }

    fn show_progress(&mut self) {
        if !self.progress.wants_update() {
            return;
        }
        let snap = Snapshot {
            done: self.stats.done(),
            in_flight: self.in_flight.len(),
            queued: self.frontier.queued(),
            live: self.stats.live_reading(Instant::now()),
            crawl: self.shared.as_ref().map(SharedFrontier::crawl_progress),
            auto: self.steering_now(),
        };
        self.progress.update(&snap);
    }

    /// Flushes the records and returns the summary, or the fatal error that stopped the crawl.
    pub fn finish(mut self) -> Result<Summary, CoordinatorError> {
        self.settle_rate_wait(Instant::now());
        self.progress.finish();
        // Pages finished here are sent; those leased here and not finished (a stop, a fatal
        // error) go back: another node takes them now rather than after their lease.
        if let (Some(shared), None) = (self.shared.as_mut(), &self.shared_error)
            && let Err(e) = shared
                .flush(Instant::now())
                .and_then(|()| shared.give_back_all())
        {
            self.shared_error = Some(e);
        }
        if let Some(err) = self.fatal.take() {
            return Err(err);
        }
        self.ledger.close(&mut self.frontier)?;
        let mut skipped = self.frontier.skipped();
        let mut shared_report = None;
        if let Some(shared) = self.shared.as_mut() {
            let theirs = shared.skipped();
            skipped.duplicate += theirs.duplicate;
            skipped.out_of_scope += theirs.out_of_scope;
            skipped.too_deep += theirs.too_deep;
            skipped.over_max_pages += theirs.over_max_pages;
            shared_report = Some(shared.report(self.shared_error.is_none()));
        }
        if let Some(e) = self.shared_error.take() {
            return Err(e.into());
        }
        let mut summary = Summary::new(
            self.mode,
            &self.stats,
            Tally {
                skipped,
                crawl_delays: self.frontier.crawl_delays(),
                cookies: self.cookies.as_ref().map(|jar| jar.len() as u64),
                // Anything still in flight here was cut off by a stop, like an abandoned task.
                unfinished: self.abandoned + self.in_flight.len() as u64,
                not_fetched: self.frontier.queued() as u64,
                resumed: self.resumed,
                output: self.ledger.name().to_owned(),
                concurrency: self.concurrency(),
            },
        );
        summary.shared = shared_report;
        self.publish_final(&summary);
        Ok(summary)
    }
}
