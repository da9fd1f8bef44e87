//! Politeness toward one origin, whichever worker, mode (or, later, node) fetches from it:
//! how many of its pages are in flight, how soon the next may start (its robots.txt
//! `Crawl-delay`, or a Retry-After it sent), and whether it has stopped answering.
//!
//! The queues ask [`Host::may_start`] before handing out a page, tell [`Host::started`], and
//! [`Host::finished`] when it is back. Whether the host is down is its breaker's
//! ([`super::breaker`], reported to by the queues as each request ends): a run of connection
//! failures pauses it, probes tell when it is back, and a host whose probes keep failing is
//! given up.

use std::time::{Duration, Instant};

use super::breaker::Breaker;

/// Why a host cannot take a page now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotNow {
    /// As many of its pages are in flight as `--per-host-workers` allows: wait for one back.
    Busy,
    /// Its `Crawl-delay`, or a Retry-After it sent, holds it until then.
    Until(Instant),
    /// It is paused after a run of connection failures: its probe may go then.
    Paused(Instant),
}

/// One origin's politeness state.
#[derive(Debug, Default)]
pub(super) struct Host {
    in_flight: usize,
    /// Its robots.txt `Crawl-delay` (already capped).
    delay: Option<Duration>,
    /// No page may start before this.
    not_before: Option<Instant>,
    /// Whether it is down: paused, probed, given up. The queues report outcomes to it
    /// directly; the host only asks it whether a request may start, and tells it one did.
    pub(super) breaker: Breaker,
}

impl Host {
    /// Whether a page may start at `now`, with at most `cap` in flight.
    pub(super) fn may_start(&self, now: Instant, cap: Option<usize>) -> Result<(), NotNow> {
        if cap.is_some_and(|cap| self.in_flight >= cap) {
            return Err(NotNow::Busy);
        }
        match self.breaker.may_start(now) {
            Ok(()) => {}
            Err(Some(at)) => return Err(NotNow::Paused(at)),
            // Served again when the probe comes back.
            Err(None) => return Err(NotNow::Busy),
        }
        match self.not_before {
            Some(at) if at > now => Err(NotNow::Until(at)),
            _ => Ok(()),
        }
    }

    /// A request to this host was handed out at `now`.
    pub(super) fn started(&mut self, now: Instant) {
        self.in_flight += 1;
        self.breaker.started(now);
        if let Some(delay) = self.delay {
            self.hold_until(now + delay);
        }
    }

    /// A request handed out at `started` is back (however it ended). Returns whether the host
    /// was at its cap, so its queue may need serving again.
    pub(super) fn finished(&mut self, cap: Option<usize>, started: Instant) -> bool {
        let was_full = cap.is_some_and(|cap| self.in_flight >= cap);
        self.in_flight = self.in_flight.saturating_sub(1);
        self.breaker.finished(started);
        was_full
    }

    /// Paces requests to one per `delay` (robots.txt `Crawl-delay`).
    pub(super) fn set_delay(&mut self, delay: Option<Duration>) {
        self.delay = delay;
    }

    pub(super) fn delay(&self) -> Option<Duration> {
        self.delay
    }

    /// Holds every page of the host until `at` (a 429 or 503 with Retry-After).
    pub(super) fn hold_until(&mut self, at: Instant) {
        self.not_before = Some(self.not_before.map_or(at, |t| t.max(at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_pages_in_flight() {
        let now = Instant::now();
        let mut host = Host::default();
        host.started(now);
        host.started(now);
        assert_eq!(host.may_start(now, Some(2)), Err(NotNow::Busy));
        assert_eq!(host.may_start(now, None), Ok(()));
        assert!(host.finished(Some(2), now), "it was full");
        assert_eq!(host.may_start(now, Some(2)), Ok(()));
        assert!(!host.finished(Some(2), now));
    }

    #[test]
    fn crawl_delay_paces_and_retry_after_holds_the_whole_host() {
        let now = Instant::now();
        let mut host = Host::default();
        host.set_delay(Some(Duration::from_secs(2)));
        host.started(now);
        let next = now + Duration::from_secs(2);
        assert_eq!(host.may_start(now, None), Err(NotNow::Until(next)));
        assert_eq!(host.may_start(next, None), Ok(()));
        // A Retry-After further out wins; one nearer does not shorten the hold.
        host.hold_until(now + Duration::from_secs(5));
        host.hold_until(now + Duration::from_secs(1));
        assert_eq!(
            host.may_start(next, None),
            Err(NotNow::Until(now + Duration::from_secs(5)))
        );
    }
}
