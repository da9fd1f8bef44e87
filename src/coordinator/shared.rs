//! The coordinator's side of a shared crawl (`--frontier`, [`crate::shared`]): at each turn it
//! sends the pages finished since the last one and renews its leases, leases more pages when
//! its queue runs low, asks for the crawl-wide permits before a page goes out, takes the
//! crawl's robots.txt verdicts and pauses, and writes a record only while it holds the page.
//! A failure of Redis for good stops the node the way Ctrl-C does, then fails the crawl.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Coordinator;
use crate::frontier::Job;
use crate::robots::Verdict;
use crate::shared::{SharedError, SharedFrontier};
use crate::task::TaskResult;

/// Which crawl-wide limit of a shared crawl said "wait".
#[derive(Debug, Clone, Copy)]
pub(super) enum Refused {
    /// The page's host's: `--per-host-rate` or its Crawl-delay.
    Host,
    /// `--rate`.
    Crawl,
}

impl Coordinator<'_> {
    /// A shared node's upkeep at each turn: the pages whose records were written since the
    /// last turn are finished in Redis, in one round trip, and its leases are renewed when
    /// due (while it works, and while a stop lets the pages in flight finish).
    pub(super) fn shared_upkeep(&mut self, now: Instant) {
        if self.shared_error.is_some() {
            return;
        }
        if let Some(shared) = self.shared.as_mut()
            && let Err(e) = shared.flush(now).and_then(|()| shared.renew_if_due(now))
        {
            self.shared_failed(e);
        }
    }

    /// Sends a shared node's finished pages, if any are waiting.
    pub(super) fn shared_flush(&mut self, now: Instant) {
        if self.shared_error.is_some() {
            return;
        }
        if let Some(shared) = self.shared.as_mut()
            && let Err(e) = shared.flush(now)
        {
            self.shared_failed(e);
        }
    }

    /// A shared node's turn with Redis: lease more pages when its own queue runs low, or only
    /// look (at most every 100 ms) to hear of a crawl-wide stop and of paused hosts.
    pub(super) fn shared_tick(&mut self, now: Instant) {
        if self.shared_error.is_some() || self.stopping {
            return;
        }
        let Some(shared) = self.shared.as_mut() else {
            return;
        };
        let have = self.frontier.queued() + self.in_flight.len();
        let workers = self.stats.workers.max(1);
        let want = if have > workers {
            0
        } else {
            (workers * 2).saturating_sub(have).max(1)
        };
        match shared.claim(now, want) {
            Ok(pages) => {
                for (url, depth) in pages {
                    self.frontier.take_leased(url, depth);
                }
                // A host that asked another node to slow down is held here too.
                for (origin, left) in shared.take_holds() {
                    self.frontier.hold(&origin, now + left);
                }
                // --per-host-workers holds crawl-wide: each live node takes an equal share.
                if let Some(cap) = self.per_host_workers {
                    self.frontier.limit_per_host(Some(shared.share_of(cap)));
                }
            }
            Err(e) => return self.shared_failed(e),
        }
        if self
            .shared
            .as_ref()
            .is_some_and(SharedFrontier::crawl_stopped)
        {
            self.note("the whole crawl was stopped (--stop-crawl)");
            self.stop();
        }
    }

    /// Redis is gone for good: finish what is in flight, write its records, then fail.
    pub(super) fn shared_failed(&mut self, e: SharedError) {
        self.note(&format!(
            "{e}; finishing the pages in flight, then stopping"
        ));
        self.shared_error = Some(e);
        self.stop();
    }

    /// The crawl-wide limits, when shared: `None` if `job` may go now, or which limit says
    /// wait, and for how long.
    pub(super) fn shared_permit(&mut self, job: &Job) -> Option<(Refused, Duration)> {
        if self.shared_error.is_some() {
            return None;
        }
        let shared = self.shared.as_mut()?;
        // Crawl-delay is a per-host rate too: the slower of the two holds crawl-wide.
        let delay_rate = self
            .frontier
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
            (Refused::Host, format!("host:{}", job.origin), host_rate),
            (Refused::Crawl, "rate".to_owned(), self.rate),
        ];
        for (which, name, rate) in checks {
            let Some(rate) = rate else { continue };
            match shared.permit(&name, rate) {
                Ok(None) => {}
                Ok(Some(wait)) => return Some((which, wait)),
                Err(e) => {
                    self.shared_failed(e);
                    return None;
                }
            }
        }
        None
    }

    /// A shared crawl's verdict on `origin`'s robots.txt, if a node has found one: applied
    /// here, so this node need not fetch the file. One round trip per origin.
    pub(super) fn known_robots(&mut self, origin: &Arc<str>) -> bool {
        if self.shared_error.is_some() {
            return false;
        }
        let Some(shared) = self.shared.as_mut() else {
            return false;
        };
        match shared.robots(origin) {
            Ok(Some(text)) => {
                let verdict = Verdict::from_portable(&text, &self.agent);
                self.frontier.set_robots(origin, verdict);
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.shared_failed(e);
                false
            }
        }
    }

    /// The crawl's verdict on `origin`'s robots.txt once this node has fetched it: the first
    /// any node found (usually this one's), so every node obeys the same file. Only an
    /// answer from the server is shared: a node that could not reach the file (its own DNS or
    /// network, say) keeps its verdict to itself rather than disallow the origin crawl-wide.
    pub(super) fn shared_robots_verdict(
        &mut self,
        origin: &str,
        result: &TaskResult,
    ) -> Option<Verdict> {
        if self.shared_error.is_some() || result.outcome.is_err() {
            return None;
        }
        let shared = self.shared.as_mut()?;
        let mine = Verdict::portable(&result.outcome);
        match shared.agree_robots(origin, &mine) {
            Ok(text) => Some(Verdict::from_portable(&text, &self.agent)),
            Err(e) => {
                self.shared_failed(e);
                None
            }
        }
    }

    /// Tells the other nodes of a shared crawl that `origin` asked for a pause.
    pub(super) fn share_hold(&mut self, origin: &str, pause: Duration) {
        if self.shared_error.is_some() {
            return;
        }
        if let Some(shared) = self.shared.as_mut()
            && let Err(e) = shared.share_hold(origin, pause)
        {
            self.shared_failed(e);
        }
    }

    /// Whether this node still holds the lease on `job`'s page, so that its record may be
    /// written ([`Coordinator::emit`]). A node stalled past its lease drops the result: the page
    /// is another node's now. When Redis is gone the record is written all the same (nothing
    /// lost); the page is fetched again after its lease, by this node or another.
    pub(super) fn shared_may_record(&mut self, job: &Job) -> bool {
        let (Some(shared), None) = (self.shared.as_mut(), &self.shared_error) else {
            return true;
        };
        match shared.still_mine(&job.url, Instant::now()) {
            Ok(true) => true,
            Ok(false) => {
                shared.drop_result(&job.url);
                false
            }
            Err(e) => {
                self.shared_failed(e);
                true
            }
        }
    }

    /// `job`'s record was written: a shared crawl finishes its page in Redis, with the links it
    /// yielded, at the end of this turn.
    pub(super) fn shared_recorded(&mut self, job: &Job, depth: u32, links: Vec<url::Url>) {
        if let (Some(shared), None) = (self.shared.as_mut(), &self.shared_error) {
            shared.finish_page(&job.url, depth, links);
        }
    }

    /// A driver failed: a shared crawl's finished pages are sent and its leases given back, as
    /// far as Redis answers (the driver's error is what the caller reports).
    pub(crate) fn leave_shared(&mut self) {
        if let (Some(shared), None) = (self.shared.as_mut(), &self.shared_error) {
            let _ = shared
                .flush(Instant::now())
                .and_then(|()| shared.give_back_all());
        }
    }
}
