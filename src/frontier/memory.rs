//! The in-memory frontier: every URL a one-process crawl knows about and what to fetch next;
//! in a crawl shared through Redis, the queues of the pages this node has leased. No I/O, no
//! clocks of its own: callers pass `now`, which keeps it deterministic and testable.
//!
//! [`MemoryFrontier`] joins two halves with one job each:
//! - `admission` decides which URLs the crawl takes on, and when: the seen set, scope,
//!   `--depth` and `--max-pages` verdicts, skipped counts, exact depths (links held until no
//!   shallower page is outstanding), the journal log and the shared-memory copy of the seen set;
//! - `queues` decides what to fetch next among them: per-origin queues of packed URLs served
//!   round-robin, the per-host limiter's waiting origins, retries waiting for their time, and
//!   robots.txt parking and verdicts.
//!
//! A page flows through them like this:
//! 1. a seed ([`MemoryFrontier::admit`]) or a page's links ([`MemoryFrontier::offer_links`])
//!    are judged by admission; a link that must wait for shallower pages is held, packed,
//!    inside admission;
//! 2. an admitted URL goes straight on to its origin's queue, packed;
//! 3. [`MemoryFrontier::pop`] unpacks it into a [`Job`] when it reaches the front of its queue
//!    and hands it out once robots.txt and the per-host limit allow (or hands it out
//!    [`Pop::Blocked`]); redirect hops ([`MemoryFrontier::follow_redirect`]) and retries
//!    ([`MemoryFrontier::retry_at`]) come back to the queues, never to admission;
//! 4. when its record is written, [`MemoryFrontier::finished`] tells admission, which may
//!    release held links into the queues (step 2).
//!
//! What outlives the process is the journal's (`--state`): `set_logging`, `drain_log` and
//! `restore_finished` are how this frontier is rebuilt after a stop.

use std::sync::Arc;
use std::time::Instant;

use url::Url;

use super::Frontier;
use super::admission::{Admission, Admit, Skipped};
use super::breaker::Turn;
use super::queues::{Job, Pop, Queues};
use crate::ratelimit::Limiter;
use crate::robots::Verdict;
use crate::scope::Scope;
use crate::shm_set::ShmSet;
use crate::task::TaskKind;

/// The crawl's queue of work and memory of what it has seen.
pub struct MemoryFrontier {
    admission: Admission,
    queues: Queues,
}

impl MemoryFrontier {
    /// An empty frontier for a crawl within `scope`, at most `max_depth` hops from the seeds
    /// and `max_pages` records; with `obey_robots`, each origin's robots.txt is fetched before
    /// its pages.
    pub fn new(
        scope: Arc<Scope>,
        max_depth: u32,
        max_pages: Option<u64>,
        obey_robots: bool,
    ) -> Self {
        MemoryFrontier {
            admission: Admission::new(scope, max_depth, max_pages),
            queues: Queues::new(obey_robots),
        }
    }

    /// Starts (or stops) logging the URLs the frontier takes on, for the journal.
    pub(crate) fn set_logging(&mut self, on: bool) {
        self.admission.set_logging(on);
    }

    /// The URLs taken on since the last call, with the depth each was taken on at.
    pub(crate) fn drain_log(&mut self) -> Vec<(u32, Url)> {
        self.admission.drain_log()
    }

    /// Counts a URL finished by an earlier run (`--state`) as known and as a record, so it is
    /// neither fetched again nor left out of `--max-pages`.
    pub(crate) fn restore_finished(&mut self, fp: u64) {
        self.admission.restore_finished(fp);
    }

    /// Offers a URL found at `depth`. Seeds are admitted at depth 0 and are in scope by
    /// definition; links must pass the scope check.
    pub fn admit(&mut self, url: Url, depth: u32) -> Admit {
        let queues = &mut self.queues;
        self.admission
            .admit(url, depth, &mut |url, depth| queues.enqueue(url, depth))
    }

    /// Admits the crawl's seeds, at depth 0.
    pub(crate) fn admit_seeds(&mut self, seeds: &[Url]) {
        for seed in seeds {
            self.admit(seed.clone(), 0);
        }
    }

    /// Queues a page leased from a Redis frontier: admission (dedupe,
    /// depths, limits) was Redis's, so it goes straight to its origin's queue.
    #[cfg(feature = "redis")]
    pub(crate) fn take_leased(&mut self, url: Url, depth: u32) {
        self.queues.enqueue(url, depth);
    }

    /// Queues a sitemap leased from a shared frontier (`--sitemaps`), ahead of its origin's
    /// pages, as [`MemoryFrontier::admit_sitemap`] does.
    #[cfg(feature = "redis")]
    pub(crate) fn take_leased_sitemap(&mut self, url: Url) {
        self.queues.enqueue_sitemap(url, 0);
    }

    /// The sitemaps `origin`'s robots.txt names, once this process knows the file (none
    /// before, nor when robots.txt is ignored).
    #[cfg(feature = "redis")]
    pub(crate) fn robots_sitemaps(&self, origin: &str) -> Vec<Url> {
        self.queues.robots_sitemaps(origin)
    }

    /// Admits a page a sitemap lists: at depth 0, like a seed, but only within scope.
    pub(crate) fn admit_listed(&mut self, url: Url) -> Admit {
        let queues = &mut self.queues;
        self.admission
            .admit_listed(url, &mut |url, depth| queues.enqueue(url, depth))
    }

    /// Admits a sitemap to fetch (at depth 0, within scope); it yields a record like a page.
    /// It is not journaled: a resumed crawl finds it again (and reads it again unless its record
    /// was written), rather than mistaking it for a page.
    pub(crate) fn admit_sitemap(&mut self, url: Url) -> Admit {
        let queues = &mut self.queues;
        self.admission
            .admit_unlogged(url, &mut |url, depth| queues.enqueue_sitemap(url, depth))
    }

    /// Work began that may still admit pages at depth 0 (a sitemap to find or to read): until
    /// it is done, links one level down are held, so depths stay exact.
    pub(crate) fn early_started(&mut self) {
        self.admission.early_started();
    }

    /// Such work is done; held links may go in.
    pub(crate) fn early_done(&mut self) {
        let queues = &mut self.queues;
        self.admission
            .early_done(&mut |url, depth| queues.enqueue(url, depth));
    }

    /// Mirrors every admitted URL's fingerprint into `known` from now on (and all so far).
    pub(crate) fn publish_known(&mut self, known: Arc<ShmSet>) {
        self.admission.publish_known(known);
    }

    /// Counts links a worker already dropped as known (they never reach [`MemoryFrontier::admit`]).
    pub(crate) fn count_known_links(&mut self, n: usize) {
        self.admission.count_known_links(n);
    }

    /// Counts links a page had beyond the per-page cap (they never reach [`MemoryFrontier::admit`]).
    pub(crate) fn count_links_over_limit(&mut self, n: usize) {
        self.admission.count_links_over_limit(n);
    }

    /// Counts links a page's extractor declined to follow (the summary's own reason).
    pub(crate) fn count_declined_links(&mut self, n: usize) {
        self.admission.count_declined_links(n);
    }

    /// Offers the links of a page at `depth`. They are admitted at `depth + 1` now if no
    /// shallower page is outstanding, or held until then (see the `admission` module).
    pub fn offer_links(&mut self, depth: u32, links: Vec<Url>) {
        let queues = &mut self.queues;
        self.admission
            .offer_links(depth, links, &mut |url, depth| queues.enqueue(url, depth));
    }

    /// Marks an admitted page at `depth` as finished (its record written), releasing held
    /// links that were waiting for it.
    pub fn finished(&mut self, depth: u32) {
        let queues = &mut self.queues;
        self.admission
            .finished(depth, &mut |url, depth| queues.enqueue(url, depth));
    }

    /// Sends a job on to the next hop of its redirect chain: `job.fetch_url` and `job.origin`
    /// already point at the target. It goes to the front of that origin's queue, behind the
    /// same robots.txt and limits as any page there.
    pub fn follow_redirect(&mut self, job: Job) {
        self.queues.follow_redirect(job);
    }

    /// Puts a job that was handed out back in its origin's queue at `at`, ahead of the pages
    /// there: a retry after its backoff, or (at once) an attempt that never happened, e.g. a
    /// worker died before starting it. A robots.txt job is handed out again as such.
    pub fn retry_at(&mut self, job: Job, at: Instant) {
        self.queues.retry_at(job, at);
    }

    /// Records an origin's robots.txt verdict and releases its parked pages.
    pub(crate) fn set_robots(&mut self, origin_key: &str, verdict: Verdict) {
        self.queues.set_robots(origin_key, verdict);
    }

    /// The next thing to do at `now`. A page is handed out only when its origin's per-host
    /// limit has room (the permit is taken here); the global limit is the caller's.
    pub fn pop(&mut self, now: Instant, limiter: &Limiter) -> Pop {
        self.pop_serving(now, limiter, &mut |_| false)
    }

    /// [`MemoryFrontier::pop`], a page `served` says needs no request coming out as
    /// [`Pop::Served`] (see [`Frontier::pop_serving`]).
    pub fn pop_serving(
        &mut self,
        now: Instant,
        limiter: &Limiter,
        served: &mut dyn FnMut(&Job) -> bool,
    ) -> Pop {
        let admission = &mut self.admission;
        // A page that cannot be read back is let go as though recorded (see `packed`).
        let mut lost = |queues: &mut super::queues::Queues, depth| {
            admission.finished(depth, &mut |url, depth| queues.enqueue(url, depth));
        };
        self.queues.pop(now, limiter, &mut lost, served)
    }

    /// Caps the pages of one origin in flight at once (`--per-host-workers`; `None`: no cap).
    pub(crate) fn limit_per_host(&mut self, cap: Option<usize>) {
        self.queues.limit_per_host(cap);
    }

    /// A job handed out for `origin` (its origin when handed out) is back, however it ended.
    pub(crate) fn release(&mut self, origin: &str, started: Instant) {
        self.queues.release(origin, started);
    }

    /// Holds every page of `origin` until `until` (it asked for a pause with Retry-After).
    pub(crate) fn hold(&mut self, origin: &str, until: Instant) {
        self.queues.hold(origin, until);
    }

    /// Sets when a failing host is paused, probed and given up.
    pub(crate) fn set_breaker(&mut self, schedule: super::Schedule) {
        self.queues.set_breaker(schedule);
    }

    /// Failures counted in `origin`'s current run of connection failures or timeouts.
    pub(crate) fn host_run(&self, origin: &str) -> u32 {
        self.queues.host_run(origin)
    }

    /// `origin` answered a request that started at `started`, whatever the status: a run of
    /// failures is over, and a pause too.
    pub(crate) fn host_answered(&mut self, origin: &str, started: Instant) -> Option<Turn> {
        self.queues.host_answered(origin, started)
    }

    /// A request to `origin` that started at `started` failed with `error` at `now`: a run
    /// of connection failures or timeouts pauses the origin, failed probes give it up (see
    /// `breaker`). Returns what changed.
    pub(crate) fn host_failed(
        &mut self,
        origin: &str,
        error: &crate::task::FetchError,
        started: Instant,
        now: Instant,
    ) -> Option<Turn> {
        self.queues.host_failed(origin, error, started, now)
    }

    /// Pauses `origin` now if `error` is a connection failure or timeout, after the run of
    /// them so far (its robots.txt could not be reached). Returns what changed.
    pub(crate) fn trip_host(
        &mut self,
        origin: &str,
        error: &crate::task::FetchError,
        now: Instant,
    ) -> Option<Turn> {
        self.queues.trip(origin, error, now)
    }

    /// Gives `origin` up for `reason`, which another process of a shared crawl found: its
    /// pages here, now or leased later, are recorded as unreachable at once.
    #[cfg(feature = "redis")]
    pub(crate) fn mark_gone(&mut self, origin: &str, reason: &str) {
        self.queues.mark_gone(origin, reason);
    }

    /// Whether `origin` is paused: a page of it that fails now waits for it to come back.
    pub(crate) fn host_paused(&self, origin: &str) -> bool {
        self.queues.host_paused(origin)
    }

    /// How many origins are paused now, and the soonest one of them is probed.
    pub(crate) fn paused_hosts(&self) -> (usize, Option<Instant>) {
        self.queues.paused_hosts()
    }

    /// Why `origin` was given up, if it was.
    pub(crate) fn host_gone(&self, origin: &str) -> Option<Arc<str>> {
        self.queues.host_gone(origin)
    }

    /// The `Crawl-delay` `origin`'s robots.txt asked for, if any (capped): for a shared
    /// crawl's rate limits.
    #[cfg(feature = "redis")]
    pub(crate) fn crawl_delay(&self, origin: &str) -> Option<std::time::Duration> {
        self.queues.crawl_delay(origin)
    }

    /// How many origins asked for a `Crawl-delay`, and the longest (capped).
    pub(crate) fn crawl_delays(&self) -> (u64, Option<std::time::Duration>) {
        self.queues.crawl_delays()
    }

    /// How long each origin has been held back by politeness (Crawl-delay, Retry-After,
    /// `--per-host-rate`) so far; only origins that waited at all.
    pub(crate) fn host_waits(&self) -> impl Iterator<Item = (&str, std::time::Duration)> {
        self.queues.host_waits()
    }

    /// Jobs waiting to be handed out (queued, parked on robots.txt, or backing off).
    pub fn queued(&self) -> usize {
        self.queues.queued()
    }

    /// URLs admitted so far (each yields one record).
    pub fn admitted(&self) -> u64 {
        self.admission.admitted()
    }

    /// Links (and seeds) not admitted so far, counted by reason.
    pub fn skipped(&self) -> Skipped {
        self.admission.skipped()
    }
}

/// A one-process crawl: the whole frontier is here.
impl Frontier for MemoryFrontier {
    fn queues(&mut self) -> &mut MemoryFrontier {
        self
    }

    fn queues_ref(&self) -> &MemoryFrontier {
        self
    }

    fn pop(&mut self, now: Instant, limiter: &Limiter) -> Pop {
        MemoryFrontier::pop(self, now, limiter)
    }

    fn pop_serving(
        &mut self,
        now: Instant,
        limiter: &Limiter,
        served: &mut dyn FnMut(&Job) -> bool,
    ) -> Pop {
        MemoryFrontier::pop_serving(self, now, limiter, served)
    }

    fn offer_links(&mut self, depth: u32, links: Vec<Url>) {
        MemoryFrontier::offer_links(self, depth, links);
    }

    fn offer_kept_links(&mut self, depth: u32, links: Vec<String>) {
        let unknown = links
            .iter()
            .filter(|link| !self.admission.known(link))
            .filter_map(|link| Url::parse(link).ok())
            .collect();
        MemoryFrontier::offer_links(self, depth, unknown);
    }

    fn recording(&mut self, job: &Job, depth: u32) -> bool {
        // Before the record is written, so the links this releases go in the journal with it.
        self.finished(depth);
        if job.kind == TaskKind::Sitemap {
            // What it listed is admitted: links found one level down may go in now.
            self.early_done();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    fn frontier(depth: u32, max_pages: Option<u64>, robots: bool) -> MemoryFrontier {
        let seeds = [url("http://a.test/")];
        MemoryFrontier::new(Arc::new(Scope::new(&seeds, &[])), depth, max_pages, robots)
    }

    fn pop_url(f: &mut MemoryFrontier, l: &Limiter) -> Option<String> {
        match f.pop(Instant::now(), l) {
            Pop::Job(j) => Some(j.url.to_string()),
            _ => None,
        }
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
}
