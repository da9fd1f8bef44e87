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
//! The coordinator never waits and never spawns (a Redis frontier's round trips, a few per
//! turn at most, are its only blocking calls): waiting is the driver's job, because only the
//! driver knows whether it waits on a condition variable, a tokio timer or `poll(2)`. What
//! waiting costs is accounted here, not in the drivers: while `next` says the rate limiter is
//! why there is nothing to do, every idle worker slot is counted as waiting on it.
//!
//! ## What it decides, and where
//! - `next` ([`Coordinator::next`]): the global rate limit (checked where tasks are handed
//!   out, so it holds across threads and processes alike), the login requests first, then
//!   what the frontier pops;
//! - `complete` ([`Coordinator::complete`]): retries with backoff ([`crate::retry`]),
//!   robots.txt verdicts, redirects ([`crate::redirect`]), the links a page yielded, and
//!   exactly one record per admitted URL;
//! - the frontier ([`crate::frontier`]), in memory or in Redis, behind one contract: the
//!   coordinator holds a `Box<dyn Frontier>` and never knows which;
//! - beside it: [`ledger`] writes records and the journal in a safe order, [`items`] hands
//!   extracted items over, `session` owns the cookie jar and the login requests, `hosts` hears
//!   what outcomes say about their hosts, `sitemaps` finds and admits sitemaps, `autoscaler` is
//!   `-j auto`'s side, `telemetry` the logs and `--metrics`; [`crate::record`] builds
//!   records, [`crate::report`] the summary, [`crate::journal`] restores a resumed crawl.

mod autoscaler;
mod complete;
mod hosts;
pub(crate) mod items;
pub(crate) mod ledger;
mod next;
mod recrawl;
mod session;
mod sitemaps;
mod telemetry;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, Mode, Plan};
use crate::cookies::{CookieError, Jar};
#[cfg(feature = "redis")]
use crate::frontier::RedisFrontierError;
use crate::frontier::{Frontier, Job, MemoryFrontier};
use crate::journal::Resume;
use crate::progress::{Progress, Snapshot};
use crate::ratelimit::Limiter;
use crate::report::{Summary, Tally};
use crate::robots::product_token;
use crate::scope::Scope;
use crate::shm_set::ShmSet;
use crate::stats::Stats;
use crate::task::{Task, TaskResult, WorkerId};
use items::ItemHook;
use ledger::{Ledger, LedgerError};
use session::Session;

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
// Non-exhaustive: a variant comes with a feature (`redis`), and features must only add.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// The cache (`--cache`) could not be read or written.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// The Redis frontier's Redis was lost and did not come back within `--redis-wait`. The
    /// records of the pages in flight were written; run the node again to go on.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(Box<RedisFrontierError>),
}

#[cfg(feature = "redis")]
impl From<RedisFrontierError> for CoordinatorError {
    fn from(e: RedisFrontierError) -> Self {
        CoordinatorError::Redis(Box::new(e))
    }
}

/// What the coordinator is built from, besides the config; `'h` is the item callback's life.
pub(crate) struct Parts<'h> {
    pub scope: Arc<Scope>,
    pub ledger: Ledger,
    pub progress: Progress,
    /// The crawl's frontier, in memory or in Redis, with what an earlier run of a `--state`
    /// crawl left restored and the seeds admitted.
    pub frontier: Box<dyn Frontier>,
    /// Pages an earlier run (`--state`) already finished.
    pub resumed: u64,
    pub item_hook: Option<ItemHook<'h>>,
    /// `--cookies`: the crawl's jar.
    pub cookies: Option<Jar>,
    /// `--metrics`: where the live figures go.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// `--cache`: what earlier crawls kept of each page.
    pub cache: Option<crate::cache::Cache>,
}

/// This process's queues for `config`'s crawl (the whole frontier when it is in memory), with
/// what an earlier run of a `--state` crawl left restored (and how many pages that was) and,
/// from here on, what it takes on logged for the journal when `journaling`. Seeds are not
/// admitted here: a Redis frontier admitted them when the node joined.
pub(crate) fn queues_for(
    config: &Config,
    scope: Arc<Scope>,
    known: Option<Arc<ShmSet>>,
    resume: Option<Resume>,
    journaling: bool,
) -> (MemoryFrontier, u64) {
    let mut queues = MemoryFrontier::new(scope, config.depth, config.max_pages, config.obey_robots);
    if let Some(known) = known {
        queues.publish_known(known);
    }
    let resumed = resume.map_or(0, |resume| resume.restore(&mut queues));
    // What was restored is in the journal already.
    queues.set_logging(journaling);
    queues.limit_per_host(config.per_host_workers);
    queues.set_breaker(config.breaker());
    (queues, resumed)
}

/// The state of one crawl, shared by every mode. `'h` is the life of the item callback
/// ([`crate::Crawl::for_each`]), which may borrow from its caller's stack: every driver runs
/// the crawl to its end inside one call, with scoped threads and runtimes.
pub struct Coordinator<'h> {
    /// What the configuration says about decisions: retries, host failures, body caps.
    rules: Rules,
    /// In memory, or in Redis shared with other nodes: the coordinator does not know which.
    frontier: Box<dyn Frontier>,
    /// The crawl-wide rate limit, where tasks are handed out.
    pacing: Pacing,
    /// The tasks handed out and not back yet.
    in_flight: InFlight,
    scope: Arc<Scope>,
    ledger: Ledger,
    stats: Stats,
    progress: Progress,
    fatal: Option<CoordinatorError>,
    /// Set by [`Coordinator::stop`]: hand out nothing more, let what is in flight finish.
    stopping: bool,
    item_hook: Option<ItemHook<'h>>,
    /// The cookie jar and the login requests sent before anything else.
    session: Session,
    /// `--sitemaps`: the seed origins whose sitemaps are still to be found (once their
    /// robots.txt says where), and how many sitemaps each origin has had admitted.
    sitemaps: Option<sitemaps::Sitemaps>,
    /// `-j auto`: the controller that sets [`Coordinator::limit`].
    autoscaler: Option<autoscaler::Autoscaler>,
    /// `--metrics`: where the live figures are published.
    metrics: Option<telemetry::Publisher>,
    /// `--cache`: what earlier crawls kept, and how this one compares.
    recrawl: Option<recrawl::Recrawl>,
}

/// What the configuration says about the coordinator's decisions.
struct Rules {
    mode: Mode,
    /// `--retries`.
    retries: u32,
    /// `--timeout`: how long a probe of a paused host may take to come back.
    timeout: std::time::Duration,
    /// `--max-bytes`: the most of a body a record keeps.
    max_bytes: u64,
    /// The robots.txt product token of `--user-agent`.
    agent: String,
}

/// The crawl-wide rate limit (`--rate`; `--per-host-rate` is the frontier's), checked where
/// tasks are handed out, so it holds across threads and processes alike.
struct Pacing {
    limiter: Limiter,
    /// When a global-rate permit was taken that no task has spent yet (kept for the next task,
    /// as long as it stays fresh).
    holding: Option<Instant>,
    /// Since when, and for how many idle worker slots, `next` has said the rate limiter is why
    /// there is nothing to do.
    rate_wait: Option<(Instant, usize)>,
}

/// The tasks handed out and not back yet, by id, with when each was handed out (a host's
/// breaker tells failures that were in flight together by it).
#[derive(Default)]
struct InFlight {
    jobs: HashMap<u64, (Job, Instant)>,
    last_id: u64,
}

impl InFlight {
    /// Takes `job` in flight under a new id.
    fn start(&mut self, job: Job) -> u64 {
        self.last_id += 1;
        self.jobs.insert(self.last_id, (job, Instant::now()));
        self.last_id
    }

    /// Takes back the job of task `id`, and when it was handed out, if it is in flight.
    fn remove(&mut self, id: &u64) -> Option<(Job, Instant)> {
        self.jobs.remove(id)
    }

    fn len(&self) -> usize {
        self.jobs.len()
    }

    fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The last id handed out (some entropy for a backoff's jitter).
    fn last_id(&self) -> u64 {
        self.last_id
    }
}

impl<'h> Coordinator<'h> {
    /// A coordinator for `config`'s crawl (validated), around `parts.frontier` (its seeds
    /// admitted, what an earlier run left restored).
    pub(crate) fn new(config: &Plan, parts: Parts<'h>) -> Self {
        let autoscaler = autoscaler::Autoscaler::new(config);
        let workers = autoscaler
            .as_ref()
            .map_or(config.workers, autoscaler::Autoscaler::limit);
        let mut stats = Stats::new(workers);
        stats.resumed = parts.resumed;
        let mut coordinator = Coordinator {
            rules: Rules {
                mode: config.mode,
                retries: config.retries,
                timeout: config.timeout,
                max_bytes: config.max_bytes,
                agent: product_token(&config.user_agent).to_owned(),
            },
            frontier: parts.frontier,
            pacing: Pacing {
                limiter: Limiter::new(config.rate, config.per_host_rate),
                holding: None,
                rate_wait: None,
            },
            in_flight: InFlight::default(),
            scope: parts.scope,
            ledger: parts.ledger,
            stats,
            progress: parts.progress,
            fatal: None,
            stopping: false,
            item_hook: parts.item_hook,
            session: Session::new(parts.cookies, &config.login),
            sitemaps: None,
            autoscaler,
            metrics: parts.metrics.map(telemetry::Publisher::new),
            recrawl: parts
                .cache
                .map(|cache| recrawl::Recrawl::new(cache, config.revalidate, config.changed_only)),
        };
        if config.sitemaps {
            coordinator.start_sitemaps(config);
        }
        coordinator
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
        self.stats.worker_deaths
    }

    /// Forgets a worker process that has exited: its memory no longer counts as resident, and
    /// its CPU time is kept under no name (a later process may reuse its pid).
    pub fn retired(&mut self, worker: WorkerId) {
        self.stats.forget_worker(worker);
    }

    /// A driver failed: what the frontier owes is settled as far as it can be (a Redis
    /// frontier's finished pages are sent and its leases given back), so other nodes need not
    /// wait out a lease. The driver's error is what the caller reports.
    pub(crate) fn leave(&mut self) {
        self.frontier.close();
    }

    /// The frontier failed for good (Redis lost past the lease): finish what is in flight,
    /// write its records, then fail.
    pub(super) fn heed_frontier(&mut self) {
        if let Some(why) = self.frontier.new_failure() {
            self.note(&format!(
                "{why}; finishing the pages in flight, then stopping"
            ));
            self.stop();
        }
    }

    /// Prints a line for the user above the progress bar.
    pub(super) fn note(&self, message: &str) {
        self.progress.note(message);
    }

    pub(super) fn show_progress(&mut self) {
        if !self.progress.wants_update() {
            return;
        }
        let now = Instant::now();
        let (paused, next_probe) = self.frontier.queues_ref().paused_hosts();
        let snap = Snapshot {
            paused: (paused > 0).then(|| {
                (
                    paused,
                    next_probe.map_or(Duration::ZERO, |at| at.saturating_duration_since(now)),
                )
            }),
            done: self.stats.done(),
            in_flight: self.in_flight.len(),
            queued: self.frontier.queues_ref().queued(),
            live: self.stats.live_reading(now),
            crawl: self.frontier.crawl_progress(),
            auto: self.autoscale_now(),
        };
        self.progress.update(&snap);
    }

    /// Flushes the records and returns the summary, or the fatal error that stopped the crawl.
    pub fn finish(mut self) -> Result<Summary, CoordinatorError> {
        self.settle_rate_wait(Instant::now());
        self.progress.finish();
        self.frontier.close();
        if let Some(err) = self.fatal.take() {
            return Err(err);
        }
        self.ledger.close(self.frontier.queues())?;
        // After the records: an entry never says more than the output has.
        if let Some(recrawl) = &mut self.recrawl {
            recrawl.close()?;
        }
        let skipped = self.frontier.skipped();
        let shared_report = self.frontier.report();
        #[cfg(feature = "redis")]
        if let Some(e) = self.frontier.take_error() {
            return Err(e.into());
        }
        let mut summary = Summary::new(
            self.rules.mode,
            &self.stats,
            Tally {
                skipped,
                crawl_delays: self.frontier.queues_ref().crawl_delays(),
                cookies: self.session.cookies(),
                // Anything still in flight here was cut off by a stop, like an abandoned task.
                unfinished: self.stats.abandoned + self.in_flight.len() as u64,
                not_fetched: self.frontier.queues_ref().queued() as u64,
                resumed: self.stats.resumed,
                output: self.ledger.name().to_owned(),
                items: self.ledger.items_written(),
                concurrency: self.concurrency(),
                recrawl: self.recrawl.as_ref().map(|r| r.report.clone()),
            },
        );
        summary.shared = shared_report;
        self.publish_final(&summary);
        Ok(summary)
    }
}
