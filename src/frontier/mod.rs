//! The frontier: what the crawl knows about and what to fetch next, behind one contract that
//! two frontiers implement.
//!
//! - [`MemoryFrontier`] (`memory`): a one-process crawl's whole frontier, in memory: the seen
//!   set, exact depths, per-origin queues, robots.txt parking, the per-host cap and host health.
//! - `redis` (`--frontier redis://...`): admission, leases and the crawl-wide limits live in
//!   Redis, shared by several crawl processes; each node queues the pages it has leased in a
//!   [`MemoryFrontier`] of its own, so politeness, robots.txt, retries and redirects work as on
//!   one machine.
//!
//! The coordinator holds a `Box<dyn Frontier>` and does not know which one it has.
//!
//! ## The contract
//! A page's life, as the coordinator drives it:
//! 1. **take**: `Frontier::refill` when the coordinator's turn begins (Redis: lease pages),
//!    then `Frontier::pop`: a page or a robots.txt to fetch, a page robots.txt blocks, a
//!    page whose host is given up, how long to wait, or nothing queued. The crawl-wide checks
//!    a shared crawl adds (its robots.txt verdicts, its rate limits, a lease lost) happen in
//!    `pop`: what comes out may go now.
//! 2. **give back**: a retry, a redirect hop, a robots.txt verdict, a host's pause go to the
//!    local queues (`Frontier::queues`), and a pause or a host given up to the other
//!    processes too (`Frontier::share_hold`, `Frontier::share_gone`); a page abandoned after
//!    a stop goes back (`Frontier::give_back`), so another node may take it at once.
//! 3. **done**: `Frontier::offer_links` with a page's links, then
//!    `Frontier::recording` just before its record is written (false: the page is not this
//!    process's any more, write nothing) and `Frontier::recorded` once it is written.
//! 4. **upkeep**: `Frontier::upkeep` at the start of a turn and `Frontier::flush` at its
//!    end (Redis: pages finished in one round trip, leases renewed), `Frontier::wake_at`
//!    when the coordinator would otherwise wait for a task to end.
//! 5. **the end**: the crawl is over when nothing is queued or in flight here and
//!    `Frontier::others_wait` says nothing is outstanding elsewhere; `Frontier::close`,
//!    then `Frontier::skipped`, `Frontier::report` and `Frontier::take_error` for the
//!    summary.
//!
//! A frontier that fails for good (Redis lost past the lease) stops handing out work: every
//! call after that is a no-op, `Frontier::new_failure` says so once (the coordinator then
//! stops as on Ctrl-C, and writes the records of the pages in flight), and
//! `Frontier::take_error` gives the error the crawl ends with.

mod admission;
mod breaker;
mod host;
mod memory;
mod packed;
mod queues;
// `pub` for its `layout`, a bench hook (benches/shared.rs); the rest is the crate's. Only with
// the `redis` feature: without it `Config::validate` refuses `shared` (`--frontier`).
#[cfg(feature = "redis")]
#[doc(hidden)]
pub mod redis;

use std::time::{Duration, Instant};

use url::Url;

#[cfg(feature = "redis")]
pub(crate) use self::redis::RedisFrontierError;
use crate::ratelimit::Limiter;
use crate::robots::Verdict;
/// What a [`Job`] fetches: a page, or its origin's robots.txt.
pub use crate::task::TaskKind;
use crate::task::TaskResult;
pub use admission::{Admit, Skipped};
pub use breaker::{MAX_HOST_PROBES, Schedule};
pub(crate) use breaker::{Turn, says_host_is_down};
pub use memory::MemoryFrontier;
pub use queues::{Job, Pop};

/// What a crawl needs from its frontier, in memory or in Redis (see the module doc).
pub(crate) trait Frontier: Send {
    /// This process's queues: the pages it fetches, with their politeness, robots.txt parking,
    /// retries, redirects and host health.
    fn queues(&mut self) -> &mut MemoryFrontier;

    /// [`Frontier::queues`], to read.
    fn queues_ref(&self) -> &MemoryFrontier;

    /// At the start of a turn: anything owed from the last one (Redis: finished pages sent,
    /// leases renewed when due).
    fn upkeep(&mut self, _now: Instant) {}

    /// At the end of a turn: what this turn finished is sent at once (Redis: one round trip).
    fn flush(&mut self, _now: Instant) {}

    /// Before anything is popped in a turn: takes on more work when this process runs low,
    /// with `in_flight` pages out and `workers` slots. True when the whole crawl was stopped
    /// (`--stop-crawl`).
    fn refill(&mut self, _now: Instant, _in_flight: usize, _workers: usize) -> bool {
        false
    }

    /// The next thing to do at `now`; a job that comes out may go now (its per-host permit is
    /// taken; the crawl's `--rate` permit is the caller's).
    fn pop(&mut self, now: Instant, limiter: &Limiter) -> Pop;

    /// [`Frontier::pop`], where a page `served` says needs no request (`--cache`: still
    /// fresh) comes out as [`Pop::Served`] as soon as robots.txt allows it, before it would
    /// take a turn of its host's politeness. A frontier that cannot tell pops as usual.
    fn pop_serving(
        &mut self,
        now: Instant,
        limiter: &Limiter,
        _served: &mut dyn FnMut(&Job) -> bool,
    ) -> Pop {
        self.pop(now, limiter)
    }

    /// The crawl's robots.txt verdict on `origin` once this process fetched it, as `agent`
    /// reads it (Redis: the first any node found, so every node obeys the same file).
    fn robots_verdict(&mut self, origin: &str, result: &TaskResult, agent: &str) -> Verdict {
        let _ = origin;
        Verdict::from_outcome(&result.outcome, agent)
    }

    /// `origin` asked for a pause of `pause` (Retry-After): the other processes hear of it.
    /// This one holds the origin itself, through [`Frontier::queues`].
    fn share_hold(&mut self, _origin: &str, _pause: Duration) {}

    /// `origin` was given up for `reason` (its probes kept failing): the other processes
    /// record their pages of it as unreachable at once. This one gave it up through
    /// [`Frontier::queues`].
    fn share_gone(&mut self, _origin: &str, _reason: &str) {}

    /// A run of connection failures or timeouts at `origin` counted one more here: whether
    /// the whole crawl's run has now reached `--host-failures` (a shared crawl counts every
    /// process's; one process counts its own, in its breaker, and says no).
    fn count_failure(&mut self, _origin: &str) -> bool {
        false
    }

    /// `origin` answered: a run of its failures that the crawl counts is over.
    fn count_answer(&mut self, _origin: &str) {}

    /// A response from `url` set these cookies (`--cookies`): the other processes of a shared
    /// crawl put them in their jars too, so the crawl keeps one session.
    fn share_cookies(&mut self, _url: &Url, _set_cookies: &[String]) {}

    /// Cookies other processes shared since the last call, for this process's jar.
    fn take_cookies(&mut self) -> Vec<(Url, Vec<String>)> {
        Vec::new()
    }

    /// Whether this process sends [`crate::Config::login`]'s requests now, asked before each
    /// one. One process: always. A shared crawl logs in once: one node at a time holds the
    /// turn (renewed by each ask), the others wait, and then take the session it opened.
    fn login_turn(&mut self) -> LoginTurn {
        LoginTurn::Mine
    }

    /// This process's login requests ended: the session is open, or they failed at `url`
    /// for `why` (the other processes of a shared crawl stop too, without sending theirs).
    fn login_ended(&mut self, _failed: Option<(&str, &str)>) {}

    /// A page a sitemap lists (`--sitemaps`): admitted at depth 0 within scope, like a seed
    /// (a shared crawl sends it with the sitemap's completion).
    fn admit_listed(&mut self, url: Url) {
        self.queues().admit_listed(url);
    }

    /// A sitemap to read (`--sitemaps`): whether it was taken on. Until every sitemap taken
    /// on is read, links found one level down wait, so that depths stay exact.
    fn admit_sitemap(&mut self, url: Url) -> bool {
        let queues = self.queues();
        let taken = queues.admit_sitemap(url) == Admit::Scheduled;
        if taken {
            queues.early_started();
        }
        taken
    }

    /// A page at `depth` finished with these links (before its record is written).
    fn offer_links(&mut self, depth: u32, links: Vec<Url>);

    /// [`Frontier::offer_links`] for links an earlier crawl found (`--cache`), kept as the
    /// text of their normalised URLs: a frontier that can tell a known one from its text alone
    /// saves parsing it (most links of a site are known by the time a page is done).
    fn offer_kept_links(&mut self, depth: u32, links: Vec<String>) {
        let links = links.iter().filter_map(|l| Url::parse(l).ok()).collect();
        self.offer_links(depth, links);
    }

    /// `job`'s record, at `depth`, is about to be written: whether it may be (false: the page
    /// is another process's now, and nothing is written for it here).
    fn recording(&mut self, job: &Job, depth: u32) -> bool;

    /// `job`'s record is written.
    fn recorded(&mut self, _job: &Job, _depth: u32) {}

    /// Whether records must reach the operating system before [`Frontier::recorded`] (a
    /// process that dies after telling others a page is done must not lose its record).
    fn durable(&self) -> bool {
        false
    }

    /// `job` was handed out and given up after a stop: another process may take it now.
    fn give_back(&mut self, _job: &Job) {}

    /// When the coordinator must come back even if no task of its own ends (Redis: to renew
    /// leases and look for work other nodes add). `working`: it is not stopping.
    fn wake_at(&self, _now: Instant, _working: bool) -> Option<Instant> {
        None
    }

    /// Nothing is queued or in flight here: `Some(when to look again)` while work is still
    /// outstanding elsewhere in the crawl, `None` when the crawl is over.
    fn others_wait(&self, _now: Instant) -> Option<Instant> {
        None
    }

    /// The whole crawl's pages, done and known, when this process is one of several.
    fn crawl_progress(&self) -> Option<(u64, u64)> {
        None
    }

    /// The crawl ends here: what was finished is sent, what was leased and not finished goes
    /// back.
    fn close(&mut self) {}

    /// Links (and seeds) not admitted, by reason, for the whole crawl as far as it is known.
    fn skipped(&self) -> Skipped {
        self.queues_ref().skipped()
    }

    /// The shared crawl's part of the summary.
    fn report(&mut self) -> Option<SharedReport> {
        None
    }

    /// A failure for good that the coordinator has not heard of yet, said once.
    fn new_failure(&mut self) -> Option<String> {
        None
    }

    /// The failure the crawl ends with, if the frontier failed for good.
    #[cfg(feature = "redis")]
    fn take_error(&mut self) -> Option<RedisFrontierError> {
        None
    }
}

/// Whose turn it is to log in ([`Frontier::login_turn`]).
#[derive(Debug, Clone, PartialEq, Eq)]
// Only a shared crawl (the `redis` feature) ever waits for another process.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) enum LoginTurn {
    /// This process sends the login requests now.
    Mine,
    /// Another process is logging in: send nothing yet, ask again soon.
    Wait,
    /// Another process opened the crawl's session: its cookies are in
    /// [`Frontier::take_cookies`]; the crawl goes on without logging in here.
    Opened,
    /// Another process's login failed at `url` for `why`: the crawl stops here too.
    Failed {
        /// The login request's URL.
        url: String,
        /// What came back instead of a session.
        why: String,
    },
}

/// A shared crawl's part of the summary (`--frontier`): this node's counts, and the crawl's.
/// Here, not in `redis`, so that [`crate::Summary`] is the same type in every build; only the
/// Redis frontier fills one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SharedReport {
    /// The crawl id.
    pub crawl_id: String,
    /// This node's name in Redis (host name, pid and a random suffix).
    pub node: String,
    /// Whether this node created the crawl (it had seeds and the crawl was new).
    pub created: bool,
    /// Pages this node leased.
    pub claimed: u64,
    /// Results dropped because this node's lease had gone (stalled past it).
    pub dropped: u64,
    /// Leases given back unfinished (a stop).
    pub given_back: u64,
    /// Expired leases of other nodes this node took back.
    pub reclaimed: u64,
    /// Round trips to Redis.
    pub round_trips: u64,
    /// The whole crawl's records, as Redis counts them.
    pub crawl_records: u64,
    /// URLs the whole crawl admitted.
    pub crawl_admitted: u64,
    /// Pages the whole crawl still has outstanding (0 when it is done).
    pub crawl_outstanding: u64,
    /// Whether the whole crawl was stopped (`--stop-crawl`).
    pub crawl_stopped: bool,
}
