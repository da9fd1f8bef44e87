//! Politeness toward one origin, whichever worker, mode (or, later, node) fetches from it:
//! how many of its pages are in flight, how soon the next may start (its robots.txt
//! `Crawl-delay`, or a Retry-After it sent), and whether it has stopped answering.
//!
//! The queues ask [`Host::may_start`] before handing out a page and tell [`Host::started`];
//! the coordinator reports how each request went ([`Host::failed`], [`Host::answered`]) and
//! when it is back ([`Host::finished`]). A host that failed `threshold` times in a row
//! (connection refused, connect errors, timeouts, with no answer in between) is given up: its
//! remaining pages are recorded as unreachable at once instead of each waiting out its own
//! timeouts and retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::task::FetchError;

/// Why a host cannot take a page now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotNow {
    /// As many of its pages are in flight as `--per-host-workers` allows: wait for one back.
    Busy,
    /// Its `Crawl-delay`, or a Retry-After it sent, holds it until then.
    Until(Instant),
}

/// How a run of failures went, for the message on the pages given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Timeout,
    Refused,
    Connect,
    Tls,
}

impl Failure {
    /// The failures that say a host is down; any other error says nothing of it.
    fn of(error: &FetchError) -> Option<Failure> {
        match error {
            FetchError::Timeout => Some(Failure::Timeout),
            FetchError::ConnectRefused => Some(Failure::Refused),
            FetchError::Connect(_) => Some(Failure::Connect),
            // A certificate the crawl does not trust is the host's for every page.
            FetchError::Tls(_) => Some(Failure::Tls),
            _ => None,
        }
    }
}

/// One origin's politeness state.
#[derive(Debug, Default)]
pub(super) struct Host {
    in_flight: usize,
    /// Its robots.txt `Crawl-delay` (already capped).
    delay: Option<Duration>,
    /// No page may start before this.
    not_before: Option<Instant>,
    /// Failures in a row, and of which kind (`None` once they differ).
    failures: u32,
    kind: Option<Failure>,
    /// The last of those failures, which the reason quotes (a run of "connect errors" says
    /// little until it says which).
    last: Option<String>,
    /// Set once the host is given up: the error its remaining pages are recorded with.
    gone: Option<Arc<str>>,
}

impl Host {
    /// Whether a page may start at `now`, with at most `cap` in flight.
    pub(super) fn may_start(&self, now: Instant, cap: Option<usize>) -> Result<(), NotNow> {
        if cap.is_some_and(|cap| self.in_flight >= cap) {
            return Err(NotNow::Busy);
        }
        match self.not_before {
            Some(at) if at > now => Err(NotNow::Until(at)),
            _ => Ok(()),
        }
    }

    /// A request to this host was handed out at `now`.
    pub(super) fn started(&mut self, now: Instant) {
        self.in_flight += 1;
        if let Some(delay) = self.delay {
            self.hold_until(now + delay);
        }
    }

    /// A request handed out earlier is back (however it ended). Returns whether the host was
    /// at its cap, so its queue may need serving again.
    pub(super) fn finished(&mut self, cap: Option<usize>) -> bool {
        let was_full = cap.is_some_and(|cap| self.in_flight >= cap);
        self.in_flight = self.in_flight.saturating_sub(1);
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

    /// The host answered (any status): its run of failures is over.
    pub(super) fn answered(&mut self) {
        self.failures = 0;
        self.kind = None;
        self.last = None;
    }

    /// A request failed with `error`. Failures that say nothing about the host (a broken
    /// body, a worker that died) are ignored; after `threshold` connection failures or
    /// timeouts in a row (0: never), the host is given up, and the reason is returned, once.
    pub(super) fn failed(&mut self, error: &FetchError, threshold: u32) -> Option<Arc<str>> {
        let kind = Failure::of(error)?;
        self.kind = match (self.failures, self.kind) {
            (0, _) => Some(kind),
            (_, Some(k)) if k == kind => Some(kind),
            _ => None,
        };
        self.failures += 1;
        self.last = Some(error.to_string());
        if threshold == 0 || self.failures < threshold || self.gone.is_some() {
            return None;
        }
        let reason: Arc<str> = Arc::from(self.reason());
        self.gone = Some(Arc::clone(&reason));
        Some(reason)
    }

    /// Gives the host up now, after the failures so far, if `error` is one that says the host
    /// is down (none so far: nothing to give up on). Returns the reason, once.
    pub(super) fn give_up(&mut self, error: &FetchError) -> Option<Arc<str>> {
        Failure::of(error)?;
        if self.failures == 0 || self.gone.is_some() {
            return None;
        }
        let reason: Arc<str> = Arc::from(self.reason());
        self.gone = Some(Arc::clone(&reason));
        Some(reason)
    }

    fn reason(&self) -> String {
        let what = match self.kind {
            Some(Failure::Timeout) => "timeouts",
            Some(Failure::Refused) => "refused connections",
            Some(Failure::Connect) => "connect errors",
            Some(Failure::Tls) => "TLS failures",
            None => "connection failures",
        };
        match &self.last {
            // A timeout or a refusal says all there is to say in the count.
            Some(last) if matches!(self.kind, Some(Failure::Connect | Failure::Tls) | None) => {
                format!("{} consecutive {what}, the last: {last}", self.failures)
            }
            _ => format!("{} consecutive {what}", self.failures),
        }
    }

    /// Why the host was given up, if it was.
    pub(super) fn gone(&self) -> Option<&Arc<str>> {
        self.gone.as_ref()
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
        assert!(host.finished(Some(2)), "it was full");
        assert_eq!(host.may_start(now, Some(2)), Ok(()));
        assert!(!host.finished(Some(2)));
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

    #[test]
    fn a_run_of_failures_gives_the_host_up_once() {
        let mut host = Host::default();
        for _ in 0..4 {
            assert_eq!(host.failed(&FetchError::Timeout, 5), None);
        }
        // Failures that say nothing about the host neither count nor break the run.
        assert_eq!(host.failed(&FetchError::Broken("reset".into()), 5), None);
        let reason = host.failed(&FetchError::Timeout, 5);
        assert_eq!(reason.as_deref(), Some("5 consecutive timeouts"));
        assert_eq!(host.gone().map(|r| &**r), Some("5 consecutive timeouts"));
        assert_eq!(host.failed(&FetchError::Timeout, 5), None, "said once");
    }

    #[test]
    fn an_answer_ends_the_run_and_mixed_failures_are_named_as_such() {
        let mut host = Host::default();
        host.failed(&FetchError::ConnectRefused, 3);
        host.failed(&FetchError::ConnectRefused, 3);
        host.answered();
        host.failed(&FetchError::ConnectRefused, 3);
        host.failed(&FetchError::Timeout, 3);
        let reason = host.failed(&FetchError::Connect("no route".into()), 3);
        assert_eq!(
            reason.as_deref(),
            Some("3 consecutive connection failures, the last: connect error: no route")
        );
        let mut tls = Host::default();
        let bad = FetchError::Tls("invalid peer certificate: UnknownIssuer".into());
        tls.failed(&bad, 2);
        assert_eq!(
            tls.failed(&bad, 2).as_deref(),
            Some(
                "2 consecutive TLS failures, the last: TLS error: invalid peer certificate: UnknownIssuer"
            )
        );
        let mut never = Host::default();
        for _ in 0..100 {
            assert_eq!(never.failed(&FetchError::ConnectRefused, 0), None);
        }
    }
}
