//! Queues: what to fetch next, among the URLs admission has taken on.
//!
//! It owns
//! - **politeness queues**: one FIFO per origin, served round-robin (`ready`), so a slow or
//!   rate-limited origin never blocks the others; an origin refused by the per-host limiter
//!   waits in a time-ordered heap (`waiting`) instead of being polled;
//! - **robots verdicts**: an origin's queue is parked until its robots.txt has been fetched,
//!   then each page is handed out or blocked by the verdict;
//! - **retry delays**: jobs put back wait in a time-ordered heap (`delayed`) until their time;
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
use std::time::Instant;

use url::Url;

use super::packed::{PackedUrls, Unreadable};
use crate::normalize::origin_key;
use crate::ratelimit::Limiter;
use crate::robots::{Verdict, robots_url};
use crate::task::TaskKind;

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

/// What [`Frontier::pop`](super::Frontier::pop) found.
#[derive(Debug)]
pub enum Pop {
    /// Fetch this page.
    Job(Job),
    /// This origin's robots.txt must be fetched before any of its pages (first try or retry).
    FetchRobots(Job),
    /// robots.txt forbids this page: record it, do not fetch it.
    Blocked(Job),
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
}

impl Origin {
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
            queued: 0,
            seq: 0,
        }
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
        let origin = self.origins.entry(key.clone()).or_insert_with(|| Origin {
            jobs: VecDeque::new(),
            fresh: PackedUrls::default(),
            robots: Robots::Unknown,
            scheduled: false,
        });
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
    ) -> Pop {
        while self.delayed.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Some(Reverse(Delayed { job, .. })) = self.delayed.pop() else {
                break;
            };
            self.queued -= 1;
            if job.kind == TaskKind::Robots {
                if let Err(at) = limiter.take_host(&job.origin) {
                    self.retry_at(job, at);
                    continue;
                }
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
            if self.obey_robots {
                match &origin.robots {
                    Robots::Unknown => {
                        let robots = Job::robots(&front.fetch_url, &key);
                        if let Err(at) = limiter.take_host(&key) {
                            self.seq += 1;
                            self.waiting.push(Reverse((at, self.seq, key)));
                            continue;
                        }
                        origin.robots = Robots::Pending;
                        origin.scheduled = false;
                        return Pop::FetchRobots(robots);
                    }
                    Robots::Pending => {
                        origin.scheduled = false;
                        continue;
                    }
                    Robots::Known(verdict) => {
                        if !verdict.allows(&front.fetch_url) {
                            let job = origin.jobs.pop_front();
                            self.queued -= 1;
                            if origin.is_empty() {
                                origin.scheduled = false;
                            } else {
                                self.ready.push_front(key);
                            }
                            if let Some(job) = job {
                                return Pop::Blocked(job);
                            }
                            continue;
                        }
                    }
                }
            }
            if let Err(at) = limiter.take_host(&key) {
                self.seq += 1;
                self.waiting.push(Reverse((at, self.seq, key)));
                continue;
            }
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
        let host_wait = self.waiting.peek().map(|Reverse((at, _, _))| *at);
        let retry_wait = self.delayed.peek().map(|Reverse(d)| d.at);
        match (host_wait, retry_wait) {
            (None, None) => Pop::Empty,
            (Some(h), Some(r)) if r < h => Pop::Wait {
                until: r,
                rate_limited: false,
            },
            (Some(h), _) => Pop::Wait {
                until: h,
                rate_limited: true,
            },
            (None, Some(r)) => Pop::Wait {
                until: r,
                rate_limited: false,
            },
        }
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
