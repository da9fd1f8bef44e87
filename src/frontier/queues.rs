//! Queues: what to fetch next, among the URLs admission has taken on.
//!
//! It owns
//! - **politeness queues**: one FIFO per origin, served round-robin (`ready`), so a slow or
//!   rate-limited origin never blocks the others; an origin refused by the per-host limiter
//!   waits in a time-ordered heap (`waiting`) instead of being polled;
//! - **robots verdicts**: an origin's queue is parked until its robots.txt has been fetched,
//!   then each page is handed out or blocked by the verdict;
//! - **retry delays**: jobs put back wait in a time-ordered heap (`delayed`) until their time;
//! - **politeness per host** ([`super::host`]): at most `--per-host-workers` pages of an origin in
//!   flight, its `Crawl-delay` between requests, a Retry-After it sent holding all its pages,
//!   and its breaker ([`super::breaker`]): an origin paused after a run of connection
//!   failures, probed, and given up when the probes keep failing, whose pages then come out
//!   as [`Pop::HostDown`] at once;
//! - **compact waiting pages**: an origin's admitted pages are kept as packed text
//!   (`packed`), about 15 bytes each, not as [`Job`]s of about 300; a page becomes a `Job`
//!   only when it reaches the front of its queue. That keeps memory at scale close to the
//!   seen set and the queued text (`cargo bench --bench scale`).
//!
//! It never judges a URL: whatever it is given, it hands out exactly once (or as blocked).

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use super::breaker::{Breaker, Schedule, Turn};
use super::host::{Host, NotNow};
use super::packed::{PackedUrls, Unreadable};
use crate::normalize::origin_key;
use crate::ratelimit::Limiter;
use crate::robots::{Verdict, robots_url};
use crate::task::TaskKind;

/// How soon a robots.txt waiting on a probe in flight looks again.
const PROBE_RECHECK: Duration = Duration::from_millis(100);

/// A URL the crawl has committed to produce a record for (or an origin's robots.txt).
#[derive(Debug, Clone)]
pub struct Job {
    /// The URL as admitted: what the record is about.
    pub url: Url,
    /// What to request next: `url`, or where its redirects led.
    pub fetch_url: Url,
    /// The origin of `fetch_url` (queues, robots.txt and per-host limits are per origin).
    pub origin: Arc<str>,
    /// Link hops from a seed (seeds are 0; a robots.txt job is 0 too).
    pub depth: u32,
    /// A page, or its origin's robots.txt.
    pub kind: TaskKind,
    /// Requests made so far, retries and redirect hops included.
    pub attempts: u32,
    /// Attempts at the current hop (what `--retries` limits).
    pub hop_attempts: u32,
    /// Redirect hops followed so far.
    pub redirects: u32,
    /// Fetch time summed over the attempts so far, in milliseconds.
    pub fetch_ms: f64,
    /// Parse time summed over the attempts so far, in milliseconds.
    pub parse_ms: f64,
}

impl Job {
    /// A newly admitted page, not yet tried.
    fn page(url: Url, origin: &Arc<str>, depth: u32) -> Job {
        Job::new(url, origin, depth, TaskKind::Page)
    }

    /// A login request's job (not the queues': the coordinator sends it before any page).
    pub(crate) fn for_login(url: Url) -> Job {
        let origin: Arc<str> = Arc::from(origin_key(&url));
        Job::new(url, &origin, 0, TaskKind::Login)
    }

    /// The robots.txt of `origin`, whose page `page` is waiting for it.
    fn robots(page: &Url, origin: &Arc<str>) -> Job {
        Job::new(robots_url(page), origin, 0, TaskKind::Robots)
    }

    fn new(url: Url, origin: &Arc<str>, depth: u32, kind: TaskKind) -> Job {
        Job {
            fetch_url: url.clone(),
            url,
            origin: Arc::clone(origin),
            depth,
            kind,
            attempts: 0,
            hop_attempts: 0,
            redirects: 0,
            fetch_ms: 0.0,
            parse_ms: 0.0,
        }
    }
}

/// What [`MemoryFrontier::pop`](super::MemoryFrontier::pop) found.
#[derive(Debug)]
pub enum Pop {
    /// Fetch this page.
    Job(Job),
    /// This origin's robots.txt must be fetched before any of its pages (first try or retry).
    FetchRobots(Job),
    /// robots.txt forbids this page: record it, do not fetch it.
    Blocked(Job),
    /// The page needs no request (see `Frontier::pop_serving`): record it from what
    /// said so.
    Served(Job),
    /// The page's host was given up after a run of connection failures: record it with
    /// `reason`, do not fetch it.
    HostDown {
        /// The page.
        job: Job,
        /// Why the host was given up ("5 consecutive timeouts").
        reason: Arc<str>,
    },
    /// Nothing can start before `until`; `rate_limited` says whether a limiter is the reason.
    Wait {
        /// When the first origin's per-host permit or retry backoff runs out.
        until: Instant,
        /// Whether that is a per-host limit (`--per-host-rate`), not a retry's backoff.
        rate_limited: bool,
    },
    /// Nothing is queued or waiting (work may still be in flight or parked on robots.txt).
    Empty,
}

enum Robots {
    Unknown,
    Pending,
    Known(Verdict),
}

struct Origin {
    /// Whole jobs, served first: redirect hops and retries put back at the front, and the
    /// oldest fresh page once it has been looked at.
    jobs: VecDeque<Job>,
    /// Admitted pages not yet looked at, in order, packed with this origin as their prefix.
    fresh: PackedUrls,
    robots: Robots,
    /// Whether the origin is in `ready` or `waiting` (it must never be in both, or twice).
    scheduled: bool,
    host: Host,
    /// How long it has been held back (Crawl-delay, Retry-After, the per-host rate), summed
    /// at each wait's start: `--metrics`' per-host waits. A field here, where the wait is
    /// decided, costs an addition whether or not anyone reads it.
    waited: Duration,
}

impl Origin {
    fn new() -> Origin {
        Origin {
            jobs: VecDeque::new(),
            fresh: PackedUrls::default(),
            robots: Robots::Unknown,
            scheduled: false,
            host: Host::default(),
            waited: Duration::ZERO,
        }
    }

    fn is_empty(&self) -> bool {
        self.jobs.is_empty() && self.fresh.is_empty()
    }
}

/// A job to retry at a given time; ordered by time, then insertion.
struct Delayed {
    at: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The admitted pages not yet handed out, by origin, and when each origin may be served.
pub(super) struct Queues {
    origins: HashMap<Arc<str>, Origin>,
    ready: VecDeque<Arc<str>>,
    waiting: BinaryHeap<Reverse<(Instant, u64, Arc<str>)>>,
    delayed: BinaryHeap<Reverse<Delayed>>,
    obey_robots: bool,
    /// Most pages of one origin in flight (`--per-host-workers`); `None`: no cap.
    per_host: Option<usize>,
    /// When a failing host is paused, probed and given up.
    breaker: Schedule,
    /// The origins paused now, with when each may be probed (few: a map is enough to count
    /// them and find the next probe for the live bar).
    paused: HashMap<Arc<str>, Instant>,
    queued: usize,
    seq: u64,
}

impl Queues {
    pub(super) fn new(obey_robots: bool) -> Self {
        Queues {
            origins: HashMap::new(),
            ready: VecDeque::new(),
            waiting: BinaryHeap::new(),
            delayed: BinaryHeap::new(),
            obey_robots,
            per_host: None,
            breaker: Schedule::default(),
            paused: HashMap::new(),
            queued: 0,
            seq: 0,
        }
    }

    /// How long each origin that ever waited has waited on politeness so far (see
    /// `Origin::waited`).
    pub(super) fn host_waits(&self) -> impl Iterator<Item = (&str, Duration)> {
        self.origins
            .iter()
            .filter(|(_, origin)| !origin.waited.is_zero())
            .map(|(key, origin)| (&**key, origin.waited))
    }

    /// Puts `key`'s origin in `waiting` until `at`.
    fn wait(&mut self, key: Arc<str>, at: Instant) {
        self.seq += 1;
        self.waiting.push(Reverse((at, self.seq, key)));
    }

    /// Caps the pages of one origin in flight at once (`None`: no cap).
    pub(super) fn limit_per_host(&mut self, cap: Option<usize>) {
        self.per_host = cap;
    }

    /// Sets when a failing host is paused, probed and given up.
    pub(super) fn set_breaker(&mut self, schedule: Schedule) {
        self.breaker = schedule;
    }

    /// The origins paused now, and the soonest time one of them may be probed.
    pub(super) fn paused_hosts(&self) -> (usize, Option<Instant>) {
        (self.paused.len(), self.paused.values().min().copied())
    }

    /// Whether `origin` is paused (only a probe may go out to it).
    pub(super) fn host_paused(&self, origin: &str) -> bool {
        self.origins
            .get(origin)
            .is_some_and(|o| o.host.breaker.is_paused())
    }

    /// A request handed out for `origin` at `started` is back, however it ended: the origin
    /// may take another.
    pub(super) fn release(&mut self, origin: &str, started: Instant) {
        let cap = self.per_host;
        let Some(key) = self.key_of(origin) else {
            return;
        };
        if let Some(entry) = self.origins.get_mut(&key) {
            entry.host.finished(cap, started);
        }
        self.schedule(key);
    }

    /// Holds every page of `origin` until `at` (it answered 429 or 503 with Retry-After).
    pub(super) fn hold(&mut self, origin: &str, at: Instant) {
        if let Some(entry) = self.origins.get_mut(origin) {
            entry.host.hold_until(at);
        }
    }

    /// Failures counted in `origin`'s current run (see [`Breaker::run`]).
    pub(super) fn host_run(&self, origin: &str) -> u32 {
        self.origins.get(origin).map_or(0, |o| o.host.breaker.run())
    }

    /// `origin` answered a request that started at `started` (any status).
    pub(super) fn host_answered(&mut self, origin: &str, started: Instant) -> Option<Turn> {
        self.judge(origin, |breaker, _| breaker.answered(started))
    }

    /// A request to `origin` that started at `started` failed with `error` at `now`; what
    /// that does to the origin is its breaker's (`--host-failures`, `--host-probes`).
    pub(super) fn host_failed(
        &mut self,
        origin: &str,
        error: &crate::task::FetchError,
        started: Instant,
        now: Instant,
    ) -> Option<Turn> {
        self.judge(origin, |breaker, schedule| {
            breaker.failed(error, started, now, schedule)
        })
    }

    /// Pauses `origin` now, after the failures so far (its robots.txt could not be reached
    /// even with retries, so no page of it will be).
    pub(super) fn trip(
        &mut self,
        origin: &str,
        error: &crate::task::FetchError,
        now: Instant,
    ) -> Option<Turn> {
        self.judge(origin, |breaker, schedule| {
            breaker.trip(error, now, schedule)
        })
    }

    /// Tells `origin`'s breaker what happened (`report`), and keeps the queues in step with
    /// what it turned to.
    fn judge(
        &mut self,
        origin: &str,
        report: impl FnOnce(&mut Breaker, &Schedule) -> Option<Turn>,
    ) -> Option<Turn> {
        let key = self.key_of(origin)?;
        let turn = report(&mut self.origins.get_mut(&key)?.host.breaker, &self.breaker)?;
        self.turned(key, &turn);
        Some(turn)
    }

    /// Gives `origin` up for `reason` (another process found it dead): its queue is made if it
    /// has none yet, so pages leased later are recorded at once too.
    #[cfg(feature = "redis")]
    pub(super) fn mark_gone(&mut self, origin: &str, reason: &str) {
        let key = self.key_of(origin).unwrap_or_else(|| Arc::from(origin));
        let entry = self
            .origins
            .entry(Arc::clone(&key))
            .or_insert_with(Origin::new);
        if entry.host.breaker.gone().is_some() {
            return;
        }
        entry.host.breaker.mark_gone(Arc::from(reason));
        self.paused.remove(&key);
        self.flush_gone(key);
    }

    /// Keeps the paused set and the origin's place in the queues in step with its breaker.
    fn turned(&mut self, key: Arc<str>, turn: &Turn) {
        match turn {
            Turn::Paused { until, .. } => {
                self.paused.insert(key, *until);
            }
            Turn::Reopened => {
                self.paused.remove(&key);
                self.schedule(key);
            }
            Turn::Gone { .. } => {
                self.paused.remove(&key);
                self.flush_gone(key);
            }
        }
    }

    /// The interned key of `origin`, if it has a queue.
    fn key_of(&self, origin: &str) -> Option<Arc<str>> {
        self.origins
            .get_key_value(origin)
            .map(|(key, _)| Arc::clone(key))
    }

    /// Puts `key`'s origin in `ready` if it has pages to hand out and is not scheduled yet.
    fn schedule(&mut self, key: Arc<str>) {
        if let Some(origin) = self.origins.get_mut(&key)
            && !origin.scheduled
            && !origin.is_empty()
            && !matches!(origin.robots, Robots::Pending)
        {
            origin.scheduled = true;
            self.ready.push_back(key);
        }
    }

    /// A given-up origin's pages come out at once: those backing off for a retry, and the
    /// origin itself if it was waiting out a delay (Crawl-delay, Retry-After, a rate limit).
    fn flush_gone(&mut self, key: Arc<str>) {
        let delayed = std::mem::take(&mut self.delayed);
        for Reverse(entry) in delayed {
            if *entry.job.origin == *key && entry.job.kind == TaskKind::Page {
                if let Some(origin) = self.origins.get_mut(&key) {
                    origin.jobs.push_front(entry.job);
                }
            } else {
                self.delayed.push(Reverse(entry));
            }
        }
        let waiting = std::mem::take(&mut self.waiting);
        let mut was_waiting = false;
        for Reverse(entry) in waiting {
            if entry.2 == key {
                was_waiting = true;
            } else {
                self.waiting.push(Reverse(entry));
            }
        }
        let Some(origin) = self.origins.get_mut(&key) else {
            return;
        };
        if was_waiting {
            // Still scheduled: it moves from `waiting` to the front of `ready`.
            self.ready.push_front(key);
        } else if !origin.scheduled
            && !origin.is_empty()
            && !matches!(origin.robots, Robots::Pending)
        {
            origin.scheduled = true;
            self.ready.push_front(key);
        }
    }

    /// Why `origin` was given up, if it was.
    pub(super) fn host_gone(&self, origin: &str) -> Option<Arc<str>> {
        self.origins.get(origin)?.host.breaker.gone().cloned()
    }

    /// The sitemaps `origin`'s robots.txt names, once it is known (none before).
    #[cfg(feature = "redis")]
    pub(super) fn robots_sitemaps(&self, origin: &str) -> Vec<Url> {
        match self.origins.get(origin).map(|o| &o.robots) {
            Some(Robots::Known(verdict)) => verdict.sitemaps(),
            _ => Vec::new(),
        }
    }

    /// The `Crawl-delay` of `origin`, if its robots.txt asked for one.
    #[cfg(feature = "redis")]
    pub(super) fn crawl_delay(&self, origin: &str) -> Option<std::time::Duration> {
        self.origins.get(origin)?.host.delay()
    }

    /// How many origins asked for a `Crawl-delay`, and the longest they asked (capped).
    pub(super) fn crawl_delays(&self) -> (u64, Option<std::time::Duration>) {
        self.origins
            .values()
            .filter_map(|o| o.host.delay())
            .fold((0, None), |(n, longest), d| {
                (
                    n + 1,
                    Some(longest.map_or(d, |l: std::time::Duration| l.max(d))),
                )
            })
    }

    /// Queues a newly admitted page at the back of its origin's queue, packed.
    pub(super) fn enqueue(&mut self, url: Url, depth: u32) {
        let origin = self.intern_origin(&url);
        self.push(origin, |origin, key| origin.fresh.push(url, depth, key));
    }

    /// The shared key of `url`'s origin: existing origins are found by a borrowed slice of the
    /// URL itself, so only a new origin costs an allocation.
    fn intern_origin(&self, url: &Url) -> Arc<str> {
        let key = origin_slice(url);
        match self.origins.get_key_value(key.as_ref()) {
            Some((existing, _)) => Arc::clone(existing),
            None => Arc::from(key.as_ref()),
        }
    }

    /// Queues a sitemap (admitted like a page, at `depth` 0) ahead of its origin's pages.
    pub(super) fn enqueue_sitemap(&mut self, url: Url, depth: u32) {
        let origin = self.intern_origin(&url);
        self.push(origin, |o, key| {
            let key: Arc<str> = Arc::from(key);
            o.jobs
                .push_back(Job::new(url, &key, depth, TaskKind::Sitemap));
        });
    }

    /// Puts a redirect hop at the front of the queue of `job.origin` (its target's origin).
    pub(super) fn follow_redirect(&mut self, job: Job) {
        self.push(Arc::clone(&job.origin), |origin, _| {
            origin.jobs.push_front(job)
        });
    }

    /// Makes the origin's next page, if it has one, a whole [`Job`] at the front of its
    /// `jobs`, so that it can be looked at and handed out.
    fn unpack_front(&mut self, key: &Arc<str>, lost: &mut impl FnMut(&mut Queues, u32)) {
        loop {
            let Some(origin) = self.origins.get_mut(key) else {
                return;
            };
            if !origin.jobs.is_empty() {
                return;
            }
            match origin.fresh.pop(key) {
                None => return,
                Some(Ok((url, depth))) => {
                    origin.jobs.push_back(Job::page(url, key, depth));
                    return;
                }
                // Not expected (see `packed`). The page is let go as though recorded, so that
                // links held for its depth do not wait for it forever.
                Some(Err(Unreadable(depth))) => {
                    self.queued -= 1;
                    lost(self, depth);
                }
            }
        }
    }

    fn push(&mut self, key: Arc<str>, add: impl FnOnce(&mut Origin, &str)) {
        self.queued += 1;
        let origin = self.origins.entry(key.clone()).or_insert_with(Origin::new);
        add(origin, &key);
        if !origin.scheduled && !matches!(origin.robots, Robots::Pending) {
            origin.scheduled = true;
            self.ready.push_back(key);
        }
    }

    /// Holds `job` (a page or a robots.txt) until `at`, then serves it before its origin's
    /// other pages.
    pub(super) fn retry_at(&mut self, job: Job, at: Instant) {
        self.queued += 1;
        self.seq += 1;
        self.delayed.push(Reverse(Delayed {
            at,
            seq: self.seq,
            job,
        }));
    }

    /// Records an origin's robots.txt verdict and releases its parked pages. A verdict for an
    /// origin with no queue is dropped.
    pub(super) fn set_robots(&mut self, origin_key: &str, verdict: Verdict) {
        let Some((key, _)) = self.origins.get_key_value(origin_key) else {
            return;
        };
        let key = Arc::clone(key);
        if let Some(origin) = self.origins.get_mut(&key) {
            origin.host.set_delay(verdict.crawl_delay());
            origin.robots = Robots::Known(verdict);
            if !origin.is_empty() && !origin.scheduled {
                origin.scheduled = true;
                self.ready.push_front(key);
            }
        }
    }

    /// The next thing to do at `now`, taking the origin's per-host permit for what it hands
    /// out. `lost` is told the depth of a queued page that could not be read back (see
    /// `packed`; not expected), after it has left the queues.
    pub(super) fn pop(
        &mut self,
        now: Instant,
        limiter: &Limiter,
        lost: &mut impl FnMut(&mut Queues, u32),
        served: &mut dyn FnMut(&Job) -> bool,
    ) -> Pop {
        while self.delayed.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Some(Reverse(Delayed { job, .. })) = self.delayed.pop() else {
                break;
            };
            self.queued -= 1;
            if job.kind == TaskKind::Robots {
                let Some(origin) = self.origins.get_mut(&job.origin) else {
                    continue;
                };
                if origin.host.breaker.gone().is_some() {
                    // Its host was given up: no robots.txt will come, and its pages are
                    // recorded as unreachable (see below), so no verdict is waited for.
                    origin.robots = Robots::Known(Verdict::DisallowAll);
                    if !origin.scheduled && !origin.is_empty() {
                        origin.scheduled = true;
                        self.ready.push_front(Arc::clone(&job.origin));
                    }
                    continue;
                }
                // A paused host's robots.txt waits for its probe, and is it.
                match origin.host.may_start(now, None) {
                    Ok(()) => {}
                    Err(NotNow::Until(at) | NotNow::Paused(at)) => {
                        self.retry_at(job, at);
                        continue;
                    }
                    // Not expected: nothing of an origin goes out before its robots.txt.
                    Err(NotNow::Busy) => {
                        self.retry_at(job, now + PROBE_RECHECK);
                        continue;
                    }
                }
                if let Err(at) = limiter.take_host(&job.origin) {
                    self.retry_at(job, at);
                    continue;
                }
                origin.host.started(now);
                return Pop::FetchRobots(job);
            }
            let key = Arc::clone(&job.origin);
            if let Some(origin) = self.origins.get_mut(&key) {
                origin.jobs.push_front(job);
                self.queued += 1;
                if !origin.scheduled && !matches!(origin.robots, Robots::Pending) {
                    origin.scheduled = true;
                    self.ready.push_front(key);
                }
            }
        }
        while self
            .waiting
            .peek()
            .is_some_and(|Reverse((at, _, _))| *at <= now)
        {
            if let Some(Reverse((_, _, key))) = self.waiting.pop() {
                self.ready.push_back(key);
            }
        }
        while let Some(key) = self.ready.pop_front() {
            self.unpack_front(&key, lost);
            let Some(origin) = self.origins.get_mut(&key) else {
                continue;
            };
            let Some(front) = origin.jobs.front() else {
                origin.scheduled = false;
                continue;
            };
            if let Some(reason) = origin.host.breaker.gone() {
                let reason = Arc::clone(reason);
                match self.take_front(key) {
                    Some(job) => return Pop::HostDown { job, reason },
                    None => continue,
                }
            }
            if self.obey_robots {
                match &origin.robots {
                    Robots::Unknown => {
                        let robots = Job::robots(&front.fetch_url, &key);
                        if let Err(at) = limiter.take_host(&key) {
                            origin.waited += at.saturating_duration_since(now);
                            self.wait(key, at);
                            continue;
                        }
                        origin.robots = Robots::Pending;
                        origin.scheduled = false;
                        origin.host.started(now);
                        return Pop::FetchRobots(robots);
                    }
                    Robots::Pending => {
                        origin.scheduled = false;
                        continue;
                    }
                    Robots::Known(verdict) => {
                        if !verdict.allows(&front.fetch_url) {
                            match self.take_front(key) {
                                Some(job) => return Pop::Blocked(job),
                                None => continue,
                            }
                        }
                    }
                }
            }
            // Needs no request (`--cache`: still fresh): it takes no turn of its host's.
            if served(front) {
                match self.take_front(key) {
                    Some(job) => return Pop::Served(job),
                    None => continue,
                }
            }
            match origin.host.may_start(now, self.per_host) {
                Ok(()) => {}
                // Served again when one of its pages comes back (`release`).
                Err(NotNow::Busy) => {
                    origin.scheduled = false;
                    continue;
                }
                Err(NotNow::Until(at)) => {
                    origin.waited += at.saturating_duration_since(now);
                    self.wait(key, at);
                    continue;
                }
                // Not politeness: the host is down for now, and its wait is not the limiter's.
                Err(NotNow::Paused(at)) => {
                    self.wait(key, at);
                    continue;
                }
            }
            if let Err(at) = limiter.take_host(&key) {
                origin.waited += at.saturating_duration_since(now);
                self.wait(key, at);
                continue;
            }
            origin.host.started(now);
            let job = origin.jobs.pop_front();
            if origin.is_empty() {
                origin.scheduled = false;
            } else {
                self.ready.push_back(key);
            }
            if let Some(job) = job {
                self.queued -= 1;
                return Pop::Job(job);
            }
        }
        let host_wait = self
            .waiting
            .peek()
            .map(|Reverse((at, _, key))| (*at, !self.paused.contains_key(key)));
        let retry_wait = self.delayed.peek().map(|Reverse(d)| d.at);
        match (host_wait, retry_wait) {
            (None, None) => Pop::Empty,
            (Some((h, _)), Some(r)) if r < h => Pop::Wait {
                until: r,
                rate_limited: false,
            },
            // A paused host waits for its probe, not for a limiter: workers idle meanwhile
            // are idle, not rate-limited.
            (Some((h, limited)), _) => Pop::Wait {
                until: h,
                rate_limited: limited,
            },
            (None, Some(r)) => Pop::Wait {
                until: r,
                rate_limited: false,
            },
        }
    }

    /// Takes `key`'s front job without fetching it (it is recorded instead: blocked, or its
    /// host given up), and puts the origin back at the front of `ready` if it has more.
    fn take_front(&mut self, key: Arc<str>) -> Option<Job> {
        let origin = self.origins.get_mut(&key)?;
        let job = origin.jobs.pop_front()?;
        self.queued -= 1;
        if origin.is_empty() {
            origin.scheduled = false;
        } else {
            self.ready.push_front(key);
        }
        Some(job)
    }

    pub(super) fn queued(&self) -> usize {
        self.queued
    }
}

/// `scheme://host:port` as a slice of the URL when it has no credentials (the usual case),
/// else the origin's own serialisation. Equal to [`origin_key`] either way.
fn origin_slice(url: &Url) -> Cow<'_, str> {
    if url.username().is_empty() && url.password().is_none() {
        Cow::Borrowed(&url[..url::Position::BeforePath])
    } else {
        Cow::Owned(origin_key(url))
    }
}

#[cfg(test)]
mod tests;
