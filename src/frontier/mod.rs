//! The frontier: every URL the crawl knows about and what to fetch next. No I/O, no clocks of
//! its own: callers pass `now`, which keeps it deterministic and testable.
//!
//! It owns
//! - **dedupe**: a set of 64-bit fingerprints of normalised URLs (8 bytes per known URL; 10 to
//!   21 with the hash table's control bytes and free slots);
//! - **admission rules**: scope, `--depth`, `--max-pages` (which counts every admitted URL,
//!   seeds included, because each admitted URL yields exactly one record);
//! - **politeness queues**: one FIFO per origin, served round-robin, so a slow or rate-limited
//!   origin never blocks the others; an origin refused by the per-host limiter waits in a
//!   time-ordered heap instead of being polled;
//! - **robots verdicts**: an origin's queue is parked until its robots.txt has been fetched;
//! - **retry delays**: failed jobs wait in a time-ordered heap until their backoff ends;
//! - **exact depths**: a page's depth is its shortest distance from a seed, in every mode;
//! - **compact waiting URLs**: pages waiting in a queue, and links held back (below), are kept
//!   as packed text (`packed`), about 15 bytes each, not as `Job`s of about 300; a page becomes
//!   a `Job` only when it reaches the front of its queue. That keeps memory at scale close to
//!   the dedupe set and the queued text (`cargo bench --bench scale`).
//!
//! ## Why depths need care
//! With many pages in flight, a page can be found first along a long path and only later along
//! a short one; first-come depths would then depend on timing, and so would which pages a
//! `--depth` limit cuts. So links found on a page at depth `k` are admitted only once no page at
//! depth `< k` is outstanding (those could still find the same URL at a smaller depth); until
//! then they wait in a per-level buffer. Fetching never waits — only the admission of links
//! does, one level behind — and every mode produces the same records.

mod packed;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Instant;

use url::Url;

use crate::normalize::{fingerprint, normalize, origin_key};
use crate::ratelimit::Limiter;
use crate::robots::{Verdict, robots_url};
use crate::scope::Scope;
use crate::shared_set::SharedSet;
use crate::task::TaskKind;
use packed::{PackedUrls, Unreadable};

/// A URL the crawl has committed to produce a record for (or an origin's robots.txt).
#[derive(Debug, Clone)]
pub struct Job {
    /// The URL as admitted: what the record is about.
    pub url: Url,
    /// What to request next: `url`, or where its redirects led.
    pub fetch_url: Url,
    /// The origin of `fetch_url` (queues, robots.txt and per-host limits are per origin).
    pub origin: Arc<str>,
    pub depth: u32,
    pub kind: TaskKind,
    /// Requests made so far, retries and redirect hops included.
    pub attempts: u32,
    /// Attempts at the current hop (what `--retries` limits).
    pub hop_attempts: u32,
    /// Redirect hops followed so far.
    pub redirects: u32,
    /// Fetch and parse time summed over the attempts so far.
    pub fetch_ms: f64,
    pub parse_ms: f64,
}

impl Job {
    /// A newly admitted page, not yet tried.
    fn page(url: Url, origin: &Arc<str>, depth: u32) -> Job {
        Job {
            fetch_url: url.clone(),
            url,
            origin: Arc::clone(origin),
            depth,
            kind: TaskKind::Page,
            attempts: 0,
            hop_attempts: 0,
            redirects: 0,
            fetch_ms: 0.0,
            parse_ms: 0.0,
        }
    }
}

/// Why a URL was or was not scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Scheduled,
    Duplicate,
    OutOfScope,
    TooDeep,
    OverMaxPages,
}

/// What [`Frontier::pop`] found.
#[derive(Debug)]
pub enum Pop {
    /// Fetch this (a page, or a robots.txt whose retry is due).
    Job(Job),
    /// This origin's robots.txt must be fetched before any of its pages.
    FetchRobots(Job),
    /// robots.txt forbids this page: record it, do not fetch it.
    Blocked(Job),
    /// Nothing can start before `until`; `rate_limited` says whether a limiter is the reason.
    Wait { until: Instant, rate_limited: bool },
    /// Nothing is queued or waiting (work may still be in flight or parked on robots.txt).
    Empty,
}

/// Counts of links not scheduled, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    pub duplicate: u64,
    pub out_of_scope: u64,
    pub too_deep: u64,
    pub over_max_pages: u64,
    /// Links past the per-page cap ([`crate::extract::MAX_LINKS`]): counted, never offered.
    pub over_page_limit: u64,
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

/// Fingerprints are xxh3 hashes already: hashing them again would only cost time.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the set holds u64s); this keeps any other use correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Fingerprints = HashSet<u64, BuildHasherDefault<AlreadyHashed>>;

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

/// The crawl's queue of work and memory of what it has seen.
pub struct Frontier {
    origins: HashMap<Arc<str>, Origin>,
    ready: VecDeque<Arc<str>>,
    waiting: BinaryHeap<Reverse<(Instant, u64, Arc<str>)>>,
    delayed: BinaryHeap<Reverse<Delayed>>,
    seen: Fingerprints,
    scope: Arc<Scope>,
    max_depth: u32,
    max_pages: Option<u64>,
    obey_robots: bool,
    admitted: u64,
    queued: usize,
    seq: u64,
    skipped: Skipped,
    /// Admitted pages not yet finished (recorded), by depth.
    outstanding: Vec<u64>,
    /// Links waiting for shallower pages to finish, by the depth they would be admitted at.
    held: std::collections::BTreeMap<u32, PackedUrls>,
    /// A copy of `seen` in shared memory, for worker processes to consult (processes mode).
    known: Option<Arc<SharedSet>>,
    /// With `--state`: URLs taken on (admitted or held) since the last [`Frontier::drain_log`],
    /// for the journal.
    log: Option<Vec<(u32, Url)>>,
}

impl Frontier {
    pub fn new(
        scope: Arc<Scope>,
        max_depth: u32,
        max_pages: Option<u64>,
        obey_robots: bool,
    ) -> Self {
        Frontier {
            origins: HashMap::new(),
            ready: VecDeque::new(),
            waiting: BinaryHeap::new(),
            delayed: BinaryHeap::new(),
            seen: Fingerprints::default(),
            scope,
            max_depth,
            max_pages,
            obey_robots,
            admitted: 0,
            queued: 0,
            seq: 0,
            skipped: Skipped::default(),
            outstanding: Vec::new(),
            held: std::collections::BTreeMap::new(),
            known: None,
            log: None,
        }
    }

    /// Starts (or stops) logging the URLs the frontier takes on, for the journal.
    pub fn set_logging(&mut self, on: bool) {
        self.log = on.then(Vec::new);
    }

    /// The URLs taken on since the last call, with the depth each was taken on at.
    pub fn drain_log(&mut self) -> Vec<(u32, Url)> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Counts a URL finished by an earlier run (`--state`) as known and as a record, so it is
    /// neither fetched again nor left out of `--max-pages`.
    pub fn restore_finished(&mut self, fp: u64) {
        if self.seen.insert(fp) {
            self.admitted += 1;
            if let Some(known) = &self.known {
                known.insert(fp);
            }
        }
    }

    /// Offers a URL found at `depth`. Seeds are admitted at depth 0 and are in scope by
    /// definition; links must pass the scope check.
    pub fn admit(&mut self, url: Url, depth: u32) -> Admit {
        let (verdict, fp) = self.check(&url, depth);
        match verdict {
            Admit::Scheduled => {}
            Admit::Duplicate => self.skipped.duplicate += 1,
            Admit::OutOfScope => self.skipped.out_of_scope += 1,
            Admit::TooDeep => self.skipped.too_deep += 1,
            Admit::OverMaxPages => self.skipped.over_max_pages += 1,
        }
        if verdict == Admit::Scheduled {
            let url = normalize(url);
            if let Some(log) = &mut self.log {
                log.push((depth, url.clone()));
            }
            self.seen.insert(fp);
            if let Some(known) = &self.known {
                known.insert(fp);
            }
            self.admitted += 1;
            let level = depth as usize;
            if self.outstanding.len() <= level {
                self.outstanding.resize(level + 1, 0);
            }
            self.outstanding[level] += 1;
            let origin = self.intern_origin(&url);
            self.enqueue(url, origin, depth);
        }
        verdict
    }

    /// Mirrors every admitted URL's fingerprint into `known` from now on (and all so far).
    pub fn publish_known(&mut self, known: Arc<SharedSet>) {
        for &fp in &self.seen {
            known.insert(fp);
        }
        self.known = Some(known);
    }

    /// Counts links a worker already dropped as known (they never reach [`Frontier::admit`]).
    pub fn count_known_links(&mut self, n: usize) {
        self.skipped.duplicate += n as u64;
    }

    /// Counts links a page had beyond the per-page cap (they never reach [`Frontier::admit`]).
    pub fn count_links_over_limit(&mut self, n: usize) {
        self.skipped.over_page_limit += n as u64;
    }

    /// Offers the links of a page at `depth`. They are admitted at `depth + 1` now if no
    /// shallower page is outstanding, or held until then (see the module doc).
    pub fn offer_links(&mut self, depth: u32, links: Vec<Url>) {
        let level = depth.saturating_add(1);
        // Links past the depth limit are only counted; holding them back would change nothing.
        if level > self.max_depth || self.outstanding_below(depth) == 0 {
            for link in links {
                self.admit(link, level);
            }
            return;
        }
        for link in links {
            // Settle whatever does not depend on timing now, so held lists stay short.
            match self.check(&link, level).0 {
                Admit::Scheduled => {
                    if let Some(log) = &mut self.log {
                        log.push((level, normalize(link.clone())));
                    }
                    self.held.entry(level).or_default().push(link, level, "");
                }
                Admit::Duplicate => self.skipped.duplicate += 1,
                Admit::OutOfScope => self.skipped.out_of_scope += 1,
                Admit::TooDeep => self.skipped.too_deep += 1,
                Admit::OverMaxPages => self.skipped.over_max_pages += 1,
            }
        }
    }

    /// Marks an admitted page at `depth` as finished (its record written), releasing held
    /// links that were waiting for it.
    pub fn finished(&mut self, depth: u32) {
        if let Some(n) = self.outstanding.get_mut(depth as usize) {
            *n = n.saturating_sub(1);
        }
        while let Some(&level) = self.held.keys().next() {
            // Links held for `level` came from pages at `level - 1`.
            if self.outstanding_below(level - 1) > 0 {
                break;
            }
            let mut links = self.held.remove(&level).unwrap_or_default();
            // An unreadable link (see `packed`) was never admitted: nothing waits for it.
            while let Some(link) = links.pop("") {
                if let Ok((link, _)) = link {
                    self.admit(link, level);
                }
            }
        }
    }

    fn outstanding_below(&self, depth: u32) -> u64 {
        self.outstanding.iter().take(depth as usize).sum()
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

    /// The admission verdict, in the order the summary reports it (a link off-site is
    /// "off-site" whatever its depth, and "beyond --depth" counts only new, in-scope pages),
    /// with the URL's fingerprint so that it is computed once.
    fn check(&self, url: &Url, depth: u32) -> (Admit, u64) {
        if depth > 0 && !self.scope.allows(url) {
            return (Admit::OutOfScope, 0);
        }
        let fp = if url.fragment().is_some() {
            fingerprint(&normalize(url.clone()))
        } else {
            fingerprint(url)
        };
        let verdict = if self.seen.contains(&fp) {
            Admit::Duplicate
        } else if depth > self.max_depth {
            Admit::TooDeep
        } else if self.max_pages.is_some_and(|max| self.admitted >= max) {
            Admit::OverMaxPages
        } else {
            Admit::Scheduled
        };
        (verdict, fp)
    }

    /// Sends a job on to the next hop of its redirect chain: `job.fetch_url` and `job.origin`
    /// already point at the target. It goes to the front of that origin's queue, behind the
    /// same robots.txt and limits as any page there.
    pub fn follow_redirect(&mut self, job: Job) {
        self.push(Arc::clone(&job.origin), |origin, _| {
            origin.jobs.push_front(job)
        });
    }

    /// Makes the origin's next page, if it has one, a whole [`Job`] at the front of its
    /// `jobs`, so that it can be looked at and handed out.
    fn unpack_front(&mut self, key: &Arc<str>) {
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
                    self.finished(depth);
                }
            }
        }
    }

    /// Queues a newly admitted page at the back of its origin's queue.
    fn enqueue(&mut self, url: Url, origin: Arc<str>, depth: u32) {
        self.push(origin, |origin, key| origin.fresh.push(url, depth, key));
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

    /// Puts a job that was handed out back at the front of its queue (its attempt never
    /// happened, e.g. a worker died before starting it).
    pub fn retry_at(&mut self, job: Job, at: Instant) {
        self.queued += 1;
        self.seq += 1;
        self.delayed.push(Reverse(Delayed {
            at,
            seq: self.seq,
            job,
        }));
    }

    /// Records an origin's robots.txt verdict and releases its parked pages.
    pub fn set_robots(&mut self, origin_key: &str, verdict: Verdict) {
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

    /// The next thing to do at `now`. A page is handed out only when its origin's per-host
    /// limit has room (the permit is taken here); the global limit is the caller's.
    pub fn pop(&mut self, now: Instant, limiter: &Limiter) -> Pop {
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
            self.unpack_front(&key);
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
                        let url = robots_url(&front.fetch_url);
                        let robots = Job {
                            fetch_url: url.clone(),
                            url,
                            origin: Arc::clone(&key),
                            depth: 0,
                            kind: TaskKind::Robots,
                            attempts: 0,
                            hop_attempts: 0,
                            redirects: 0,
                            fetch_ms: 0.0,
                            parse_ms: 0.0,
                        };
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

    /// Jobs waiting to be handed out (queued, parked on robots.txt, or backing off).
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// URLs admitted so far (each yields one record).
    pub fn admitted(&self) -> u64 {
        self.admitted
    }

    pub fn skipped(&self) -> Skipped {
        self.skipped
    }
}

/// `scheme://host:port` as a slice of the URL when it has no credentials (the usual case),
/// else the origin's own serialisation. Equal to [`origin_key`] either way.
fn origin_slice(url: &Url) -> std::borrow::Cow<'_, str> {
    if url.username().is_empty() && url.password().is_none() {
        std::borrow::Cow::Borrowed(&url[..url::Position::BeforePath])
    } else {
        std::borrow::Cow::Owned(origin_key(url))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    fn frontier(depth: u32, max_pages: Option<u64>, robots: bool) -> Frontier {
        let seeds = [url("http://a.test/")];
        Frontier::new(Arc::new(Scope::new(&seeds, &[])), depth, max_pages, robots)
    }

    fn pop_url(f: &mut Frontier, l: &Limiter) -> Option<String> {
        match f.pop(Instant::now(), l) {
            Pop::Job(j) => Some(j.url.to_string()),
            _ => None,
        }
    }

    #[test]
    fn origin_slices_match_origin_keys() {
        for u in [
            "http://a.test/x",
            "https://A.test:8443/y?q",
            "http://u:p@a.test:81/z",
            "http://[::1]:8080/",
        ] {
            let u = url(u);
            assert_eq!(origin_slice(&u), origin_key(&u), "{u}");
        }
    }

    #[test]
    fn admission_rules() {
        let mut f = frontier(1, Some(3), false);
        assert_eq!(f.admit(url("http://a.test/"), 0), Admit::Scheduled);
        assert_eq!(f.admit(url("http://a.test/#top"), 1), Admit::Duplicate);
        assert_eq!(f.admit(url("http://b.test/"), 1), Admit::OutOfScope);
        assert_eq!(f.admit(url("http://a.test/deep"), 2), Admit::TooDeep);
        assert_eq!(f.admit(url("http://a.test/1"), 1), Admit::Scheduled);
        assert_eq!(f.admit(url("http://a.test/2"), 1), Admit::Scheduled);
        assert_eq!(f.admit(url("http://a.test/3"), 1), Admit::OverMaxPages);
        assert_eq!(f.admitted(), 3);
        assert_eq!(f.queued(), 3);
        let s = f.skipped();
        assert_eq!(
            (s.duplicate, s.out_of_scope, s.too_deep, s.over_max_pages),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn origins_are_served_round_robin() {
        let seeds = [url("http://a.test/"), url("http://b.test/")];
        let mut f = Frontier::new(Arc::new(Scope::new(&seeds, &[])), 5, None, false);
        for u in ["http://a.test/1", "http://a.test/2", "http://b.test/1"] {
            f.admit(url(u), 0);
        }
        let l = Limiter::new(None, None);
        let order: Vec<_> = std::iter::from_fn(|| pop_url(&mut f, &l)).collect();
        assert_eq!(
            order,
            ["http://a.test/1", "http://b.test/1", "http://a.test/2"]
        );
        assert!(matches!(f.pop(Instant::now(), &l), Pop::Empty));
    }

    #[test]
    fn robots_parks_an_origin_until_its_verdict() {
        let mut f = frontier(1, None, true);
        f.admit(url("http://a.test/ok"), 0);
        f.admit(url("http://a.test/private/x"), 0);
        let l = Limiter::new(None, None);
        let Pop::FetchRobots(r) = f.pop(Instant::now(), &l) else {
            panic!("robots first")
        };
        assert_eq!(r.url.as_str(), "http://a.test/robots.txt");
        assert!(matches!(f.pop(Instant::now(), &l), Pop::Empty), "parked");
        let rules = texting_robots::Robot::new("crawl", b"User-agent: *\nDisallow: /private/")
            .expect("robots");
        f.set_robots(&r.origin, Verdict::Rules(Box::new(rules)));
        assert_eq!(pop_url(&mut f, &l).as_deref(), Some("http://a.test/ok"));
        assert!(
            matches!(f.pop(Instant::now(), &l), Pop::Blocked(j) if j.url.path() == "/private/x")
        );
        assert!(matches!(f.pop(Instant::now(), &l), Pop::Empty));
    }

    #[test]
    fn redirect_hops_go_ahead_of_packed_pages_and_pages_come_back_whole() {
        let mut f = frontier(3, None, false);
        for u in [
            "http://a.test/1",
            "http://u:p@a.test/2#frag",
            "http://a.test/3?q=x",
        ] {
            f.admit(url(u), 2);
        }
        let l = Limiter::new(None, None);
        let Pop::Job(first) = f.pop(Instant::now(), &l) else {
            panic!("job")
        };
        assert_eq!(
            (first.url.as_str(), first.depth, &*first.origin),
            ("http://a.test/1", 2, "http://a.test")
        );
        let mut hop = first.clone();
        hop.fetch_url = url("http://a.test/moved");
        hop.redirects = 1;
        f.follow_redirect(hop);
        let Pop::Job(hop) = f.pop(Instant::now(), &l) else {
            panic!("hop")
        };
        assert_eq!((hop.url, hop.fetch_url.path()), (first.url, "/moved"));
        let rest: Vec<_> = std::iter::from_fn(|| pop_url(&mut f, &l)).collect();
        assert_eq!(rest, ["http://u:p@a.test/2", "http://a.test/3?q=x"]);
        assert_eq!(f.queued(), 0);
    }

    #[test]
    fn retries_wait_for_their_time() {
        let mut f = frontier(0, None, false);
        f.admit(url("http://a.test/"), 0);
        let l = Limiter::new(None, None);
        let Pop::Job(job) = f.pop(Instant::now(), &l) else {
            panic!("job")
        };
        let at = Instant::now() + Duration::from_secs(60);
        f.retry_at(job, at);
        assert_eq!(f.queued(), 1);
        assert!(
            matches!(f.pop(Instant::now(), &l), Pop::Wait { until, rate_limited: false } if until == at)
        );
        assert!(matches!(f.pop(at, &l), Pop::Job(_)));
        assert_eq!(f.queued(), 0);
    }

    #[test]
    fn depths_are_shortest_distances_whatever_the_completion_order() {
        // Seeds s1 and s2. s2 finishes first and finds x at depth 1, which finds y at depth 2;
        // s1 finishes last and links to y directly, so y's true depth is 1.
        let mut f = frontier(5, None, false);
        f.admit(url("http://a.test/s1"), 0);
        f.admit(url("http://a.test/s2"), 0);
        let l = Limiter::new(None, None);
        let _s1 = pop_url(&mut f, &l);
        let _s2 = pop_url(&mut f, &l);
        f.offer_links(0, vec![url("http://a.test/x")]);
        f.finished(0); // s2 done
        assert_eq!(pop_url(&mut f, &l).as_deref(), Some("http://a.test/x"));
        // x (depth 1) finds y while s1 (depth 0) is still outstanding: y must wait.
        f.offer_links(1, vec![url("http://a.test/y")]);
        f.finished(1);
        assert!(matches!(f.pop(Instant::now(), &l), Pop::Empty), "y is held");
        f.offer_links(0, vec![url("http://a.test/y")]);
        f.finished(0); // s1 done: y admitted at depth 1, the held copy is a duplicate
        let Pop::Job(y) = f.pop(Instant::now(), &l) else {
            panic!("y admitted")
        };
        assert_eq!((y.url.path(), y.depth), ("/y", 1));
        assert!(matches!(f.pop(Instant::now(), &l), Pop::Empty));
        assert_eq!(f.skipped().duplicate, 1);
    }

    #[test]
    fn per_host_limit_defers_the_origin_not_the_crawl() {
        let seeds = [url("http://a.test/"), url("http://b.test/")];
        let mut f = Frontier::new(Arc::new(Scope::new(&seeds, &[])), 5, None, false);
        for u in ["http://a.test/1", "http://a.test/2", "http://b.test/1"] {
            f.admit(url(u), 0);
        }
        let l = Limiter::new(None, Some(1.0));
        assert_eq!(pop_url(&mut f, &l).as_deref(), Some("http://a.test/1"));
        assert_eq!(pop_url(&mut f, &l).as_deref(), Some("http://b.test/1"));
        assert!(matches!(
            f.pop(Instant::now(), &l),
            Pop::Wait {
                rate_limited: true,
                ..
            }
        ));
    }
}
