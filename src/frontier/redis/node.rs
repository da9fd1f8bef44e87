//! A node's frontier in a crawl shared through Redis: the [`Frontier`] contract, implemented
//! by the crawl's keys in Redis ([`Store`]) and this node's own queues of the pages it leased.
//!
//! At each turn it sends the pages finished since the last one and renews its leases, leases
//! more pages when its queue runs low, asks for the crawl-wide permits before a page goes
//! out, takes the crawl's robots.txt verdicts and pauses, and lets a record be written only
//! while it holds the page. A failure of Redis for good is kept here: from then on every call
//! is a no-op, and the coordinator, told once, stops the node the way Ctrl-C does.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use url::Url;

use super::layout::Entry;
use super::{RedisFrontierError, Store};
use crate::config::Config;
use crate::frontier::SharedReport;
use crate::frontier::{Frontier, Job, LoginTurn, MemoryFrontier, Pop, Skipped, TaskKind};
use crate::ratelimit::Limiter;
use crate::robots::{Verdict, product_token};
use crate::sitemap::MAX_SITEMAPS_PER_ORIGIN;
use crate::task::TaskResult;

/// Which crawl-wide limit said "wait".
#[derive(Debug, Clone, Copy)]
enum Refused {
    /// The page's host's: `--per-host-rate` or its Crawl-delay.
    Host,
    /// `--rate`.
    Crawl,
}

/// This node's frontier: Redis for admission, leases and the crawl-wide limits, its own
/// queues for the pages it leased.
pub(crate) struct RedisFrontier {
    store: Store,
    queues: MemoryFrontier,
    /// Redis failed for good: nothing more is asked of it.
    error: Option<RedisFrontierError>,
    /// Whether the coordinator has heard of `error`.
    told: bool,
    /// The links of the page being recorded, sent with its completion.
    links: Vec<Url>,
    /// The pages and the sitemaps the sitemap being recorded lists (`--sitemaps`).
    listed: Vec<Url>,
    found: Vec<Url>,
    /// Seed origins' sitemaps to find (each origin's `/sitemap.xml` at level 0) leased here
    /// (see [`RedisFrontier::find_sitemaps`]).
    seed_sitemaps: HashSet<String>,
    /// This node holds the crawl's turn to log in: given back if it stops before the end.
    logging_in: bool,
    /// `--rate` and `--per-host-rate`, held crawl-wide.
    rate: Option<f64>,
    per_host_rate: Option<f64>,
    /// `--per-host-workers`, divided among the live nodes.
    per_host_workers: Option<usize>,
    /// The robots.txt product token other nodes' verdicts are read for.
    agent: String,
    /// `--host-failures`: a run of them, counted over every node, pauses a host.
    host_failures: u32,
    /// `--cookies`: the jar is the crawl's.
    cookies: bool,
}

impl RedisFrontier {
    /// This node's frontier for `config`'s crawl, joined in `store`, queueing its leased pages
    /// in `queues` (the crawl's seeds were admitted in Redis when the node joined).
    pub(crate) fn new(store: Store, queues: MemoryFrontier, config: &Config) -> Self {
        RedisFrontier {
            store,
            queues,
            error: None,
            told: false,
            links: Vec::new(),
            listed: Vec::new(),
            found: Vec::new(),
            seed_sitemaps: HashSet::new(),
            logging_in: false,
            rate: config.rate,
            per_host_rate: config.per_host_rate,
            per_host_workers: config.per_host_workers,
            agent: product_token(&config.user_agent).to_owned(),
            host_failures: config.host_failures,
            cookies: config.cookies,
        }
    }

    /// The store, while Redis answers.
    fn live(&mut self) -> Option<&mut Store> {
        match self.error {
            None => Some(&mut self.store),
            Some(_) => None,
        }
    }

    /// Redis is gone for good: kept, and said once through [`Frontier::new_failure`].
    fn fail(&mut self, e: RedisFrontierError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Runs `call` on the store while Redis answers; a failure is kept.
    fn with<T>(
        &mut self,
        call: impl FnOnce(&mut Store) -> Result<T, RedisFrontierError>,
    ) -> Option<T> {
        let result = call(self.live()?);
        result.map_err(|e| self.fail(e)).ok()
    }

    /// The crawl-wide limits: `None` if `job` may go now, or which limit says wait, and for
    /// how long.
    fn permit(&mut self, job: &Job) -> Option<(Refused, Duration)> {
        // Crawl-delay is a per-host rate too: the slower of the two holds crawl-wide.
        let delay_rate = self
            .queues
            .crawl_delay(&job.origin)
            .filter(|d| !d.is_zero())
            .map(|d| 1.0 / d.as_secs_f64());
        let host_rate = match (self.per_host_rate, delay_rate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // The host's permit first: when it says wait, the crawl-wide one is not spent, and
        // other hosts' pages may go meanwhile.
        let checks = [
            (Refused::Host, host_rate.map(|r| (Some(&job.url), r))),
            (Refused::Crawl, self.rate.map(|r| (None, r))),
        ];
        for (which, check) in checks {
            let Some((page, rate)) = check else { continue };
            // A failure lets the job go: the node is stopping, and this is its last turn.
            if let Some(Some(wait)) = self.with(|store| store.permit(page, rate)) {
                return Some((which, wait));
            }
        }
        None
    }

    /// A seed origin's sitemaps to find (`job`, its `/sitemap.xml`) come out of the queues,
    /// its robots.txt known (or ignored): as in one process, the sitemaps robots.txt names
    /// are to be read, else `/sitemap.xml`; they go in as sitemaps (through the seen set and
    /// `--max-pages`, as one process admits them), and the entry itself is finished without
    /// a record. Whether `job` was such an entry (it is not to be fetched).
    fn find_sitemaps(&mut self, job: &Job) -> bool {
        if !self.seed_sitemaps.remove(job.url.as_str()) {
            return false;
        }
        let mut named = self.queues.robots_sitemaps(&job.origin);
        if named.is_empty() {
            // The entry is the origin's /sitemap.xml marked with a fragment.
            let mut fallback = job.url.clone();
            fallback.set_fragment(None);
            named.push(fallback);
        }
        named.truncate(MAX_SITEMAPS_PER_ORIGIN);
        if let Some(store) = self.live() {
            store.offer_sitemaps(named);
            store.finish_sitemap(&job.url, Vec::new(), Vec::new(), false);
        }
        true
    }

    /// Whether another node already read `origin`'s robots.txt: its verdict is applied here,
    /// so this node need not fetch the file. One round trip per origin.
    fn known_robots(&mut self, origin: &str) -> bool {
        match self.with(|store| store.robots(origin)) {
            Some(Some(text)) => {
                let verdict = Verdict::from_portable(&text, &self.agent);
                self.queues.set_robots(origin, verdict);
                true
            }
            _ => false,
        }
    }
}

impl Frontier for RedisFrontier {
    fn queues(&mut self) -> &mut MemoryFrontier {
        &mut self.queues
    }

    fn queues_ref(&self) -> &MemoryFrontier {
        &self.queues
    }

    /// The pages whose records were written since the last turn are finished in Redis, in one
    /// round trip, and the leases are renewed when due (while the node works, and while a stop
    /// lets the pages in flight finish).
    fn upkeep(&mut self, now: Instant) {
        self.with(|store| store.flush(now).and_then(|()| store.renew_if_due(now)));
    }

    fn flush(&mut self, now: Instant) {
        self.with(|store| store.flush(now));
    }

    /// Leases more pages when the node's own queue runs low, or only looks (at most every
    /// 100 ms) to hear of a crawl-wide stop and of paused hosts.
    fn refill(&mut self, now: Instant, in_flight: usize, workers: usize) -> bool {
        let have = self.queues.queued() + in_flight;
        let workers = workers.max(1);
        let want = if have > workers {
            0
        } else {
            (workers * 2).saturating_sub(have).max(1)
        };
        let Some(pages) = self.with(|store| store.claim(now, want)) else {
            return false;
        };
        for (url, entry) in pages {
            match entry {
                Entry::Page(depth) => self.queues.take_leased(url, depth),
                Entry::Sitemap => self.queues.take_leased_sitemap(url),
                Entry::SeedSitemap => {
                    self.seed_sitemaps.insert(url.as_str().to_owned());
                    self.queues.take_leased_sitemap(url);
                }
            }
        }
        // A host that asked another node to slow down, or that another node paused, is held
        // here too; one another node gave up is given up here, without probing it again.
        for (origin, left) in self.store.take_holds() {
            // A host this node paused itself waits for its own probe, not for the hold it
            // shared (which lasts until that probe is back).
            if !self.queues.host_paused(&origin) {
                self.queues.hold(&origin, now + left);
            }
        }
        for (origin, reason) in self.store.take_gone() {
            self.queues.mark_gone(&origin, &reason);
        }
        // --per-host-workers holds crawl-wide: each live node takes an equal share.
        if let Some(cap) = self.per_host_workers {
            self.queues.limit_per_host(Some(self.store.share_of(cap)));
        }
        self.store.crawl_stopped()
    }

    fn pop(&mut self, now: Instant, limiter: &Limiter) -> Pop {
        loop {
            let job = match self.queues.pop(now, limiter) {
                Pop::FetchRobots(job) => {
                    let answered = self.error.is_none();
                    if self.known_robots(&job.origin) {
                        // Another node read this origin's robots.txt: its verdict is the crawl's.
                        self.queues.release(&job.origin, now);
                        continue;
                    }
                    if answered && self.error.is_some() {
                        // Asking Redis failed just now and stops the node: the job stays queued.
                        self.queues.release(&job.origin, now);
                        self.queues.retry_at(job, now);
                        return Pop::Empty;
                    }
                    job
                }
                Pop::Job(job) => job,
                // A seed origin's sitemaps to find are never fetched: blocked by robots.txt or
                // their host given up, the sitemaps they stand for are put in (and come out
                // blocked or unreachable in turn, with a record each, as in one process).
                Pop::Blocked(job) | Pop::HostDown { job, .. } if self.find_sitemaps(&job) => {
                    continue;
                }
                other => return other,
            };
            if job.kind != TaskKind::Robots && self.store.lost(&job.url) {
                // Its lease was taken back while this node stalled: another node has the
                // page now.
                self.queues.release(&job.origin, now);
                self.store.drop_result(&job.url);
                self.seed_sitemaps.remove(job.url.as_str());
                continue;
            }
            if job.kind == TaskKind::Sitemap && self.find_sitemaps(&job) {
                self.queues.release(&job.origin, now);
                continue;
            }
            let Some((which, wait)) = self.permit(&job) else {
                return Pop::Job(job);
            };
            // Other nodes spent the permit: this job waits its turn.
            self.queues.release(&job.origin, now);
            self.queues.retry_at(job, now + wait);
            match which {
                // Other hosts' pages may go meanwhile.
                Refused::Host => continue,
                Refused::Crawl => {
                    return Pop::Wait {
                        until: now + wait,
                        rate_limited: true,
                    };
                }
            }
        }
    }

    /// The first verdict any node found (usually this one's), so every node obeys the same
    /// file. Only an answer from the server is shared: a node that could not reach the file
    /// (its own DNS or network, say) keeps its verdict to itself rather than disallow the
    /// origin crawl-wide.
    fn robots_verdict(&mut self, origin: &str, result: &TaskResult, agent: &str) -> Verdict {
        if result.outcome.is_ok() {
            let mine = Verdict::portable(&result.outcome);
            if let Some(text) = self.with(|store| store.agree_robots(origin, &mine)) {
                return Verdict::from_portable(&text, agent);
            }
        }
        Verdict::from_outcome(&result.outcome, agent)
    }

    fn share_hold(&mut self, origin: &str, pause: Duration) {
        self.with(|store| store.share_hold(origin, pause));
    }

    fn share_gone(&mut self, origin: &str, reason: &str) {
        self.with(|store| store.share_gone(origin, reason));
    }

    /// Every node's failures of `origin` count toward one run (`--host-failures`); the node
    /// whose failure makes it pauses the host (one node: the run's count passes the threshold
    /// once).
    fn count_failure(&mut self, origin: &str) -> bool {
        let threshold = self.host_failures;
        threshold > 0
            && self
                .with(|store| store.count_failure(origin))
                .is_some_and(|run| run == u64::from(threshold))
    }

    fn count_answer(&mut self, origin: &str) {
        self.with(|store| store.count_answer(origin));
    }

    /// One jar for the whole crawl: the cookies go to Redis, every node hears them at its next
    /// look (which comes with, or after, its next claim).
    fn share_cookies(&mut self, url: &Url, set_cookies: &[String]) {
        if self.cookies {
            self.with(|store| store.share_cookies(url, set_cookies));
        }
    }

    fn take_cookies(&mut self) -> Vec<(Url, Vec<String>)> {
        self.store.take_cookies()
    }

    /// One node logs in for the crawl: the first to ask takes the turn (for a lease, renewed
    /// at each ask), the others wait until it says the session is open (then they read its
    /// cookies) or that the login failed. A node that dies holding the turn loses it after a
    /// lease, and the next to ask logs in; one that stops gives it back ([`Frontier::close`]).
    /// When Redis is gone the node waits, sending nothing: it is stopping.
    fn login_turn(&mut self) -> LoginTurn {
        let Some(state) = self.with(|store| store.login("take")) else {
            // Redis is gone: the node stops (the coordinator hears of it), sending nothing.
            return LoginTurn::Wait;
        };
        match state.as_str() {
            "mine" => {
                self.logging_in = true;
                LoginTurn::Mine
            }
            "done" => LoginTurn::Opened,
            "wait" => LoginTurn::Wait,
            failed => {
                let (url, why) = failed
                    .strip_prefix("failed ")
                    .and_then(|rest| rest.split_once('\n'))
                    .unwrap_or(("", failed));
                LoginTurn::Failed {
                    url: url.to_owned(),
                    why: format!("{why} (at another node)"),
                }
            }
        }
    }

    fn login_ended(&mut self, failed: Option<(&str, &str)>) {
        self.logging_in = false;
        let what = match failed {
            None => "done".to_owned(),
            Some((url, why)) => format!("failed {url}\n{}", why.replace('\n', " ")),
        };
        self.with(|store| store.login(&what));
    }

    /// Sent with the page's completion, once its record is written.
    fn offer_links(&mut self, _depth: u32, links: Vec<Url>) {
        self.links = links;
    }

    /// Sent with the sitemap's completion, once its record is written.
    fn admit_listed(&mut self, url: Url) {
        self.listed.push(url);
    }

    /// Sent with the sitemap's completion, once its record is written; taken on, for the
    /// bound on one origin's sitemaps (which each node keeps for what it reads).
    fn admit_sitemap(&mut self, url: Url) -> bool {
        self.found.push(url);
        true
    }

    /// Only while this node holds the page's lease. A node stalled past its lease drops the
    /// result: the page is another node's now. When Redis is gone the record is written all
    /// the same (nothing lost); the page is fetched again after its lease, by this node or
    /// another.
    fn recording(&mut self, job: &Job, _depth: u32) -> bool {
        let now = Instant::now();
        match self.with(|store| store.still_mine(&job.url, now)) {
            Some(false) => {
                self.store.drop_result(&job.url);
                self.links.clear();
                self.listed.clear();
                self.found.clear();
                false
            }
            Some(true) | None => true,
        }
    }

    /// The page is finished in Redis, with the links it yielded, at the end of this turn.
    fn recorded(&mut self, job: &Job, depth: u32) {
        let links = std::mem::take(&mut self.links);
        let (listed, found) = (
            std::mem::take(&mut self.listed),
            std::mem::take(&mut self.found),
        );
        if let Some(store) = self.live() {
            if job.kind == TaskKind::Sitemap {
                store.finish_sitemap(&job.url, listed, found, true);
            } else {
                store.finish_page(&job.url, depth, links);
            }
        }
    }

    /// A record reaches the OS before its page is finished in Redis, so a node that dies
    /// loses no record.
    fn durable(&self) -> bool {
        true
    }

    fn give_back(&mut self, job: &Job) {
        self.with(|store| store.give_back(&job.url));
    }

    fn wake_at(&self, now: Instant, working: bool) -> Option<Instant> {
        self.error
            .is_none()
            .then(|| self.store.wake_at(now, working))
    }

    fn others_wait(&self, now: Instant) -> Option<Instant> {
        (self.error.is_none() && !self.store.crawl_done()).then(|| self.store.wake_at(now, true))
    }

    fn crawl_progress(&self) -> Option<(u64, u64)> {
        Some(self.store.crawl_progress())
    }

    /// Pages finished here are sent; those leased here and not finished (a stop, a fatal
    /// error) go back: another node takes them now rather than after their lease.
    fn close(&mut self) {
        let logging_in = std::mem::take(&mut self.logging_in);
        self.with(|store| {
            store
                .flush(Instant::now())
                .and_then(|()| store.give_back_all())?;
            // Stopped while logging in: the next node need not wait out the lease.
            if logging_in {
                store.login("release")?;
            }
            Ok(())
        });
    }

    fn skipped(&self) -> Skipped {
        let (mut skipped, theirs) = (self.queues.skipped(), self.store.skipped());
        skipped.duplicate += theirs.duplicate;
        skipped.out_of_scope += theirs.out_of_scope;
        skipped.excluded += theirs.excluded;
        skipped.too_deep += theirs.too_deep;
        skipped.over_max_pages += theirs.over_max_pages;
        skipped
    }

    fn report(&mut self) -> Option<SharedReport> {
        let ask = self.error.is_none();
        Some(self.store.report(ask))
    }

    fn new_failure(&mut self) -> Option<String> {
        if self.told {
            return None;
        }
        let e = self.error.as_ref()?;
        self.told = true;
        Some(e.to_string())
    }

    fn take_error(&mut self) -> Option<RedisFrontierError> {
        self.error.take()
    }
}
