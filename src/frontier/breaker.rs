//! A host's circuit breaker: when a run of connection failures or timeouts says a host is
//! down, when to ask again, and when to give it up.
//!
//! - **Closed**: requests go out as politeness allows. A connection failure, a refused
//!   connection, a timeout or a TLS failure counts toward a run; an answer (any status) ends
//!   it. Requests that were in flight together and failed for the same reason count once: the
//!   8 pages a host has in flight that time out in the same slow second are one slow second,
//!   not 8 failures. (A failure counts unless its request started before the last counted one
//!   ended, with the same kind of failure.)
//! - **Paused** after [`Schedule::failures`] of them: no request of the host goes out until a
//!   cool-down has passed, then one, the probe. An answer to it closes the breaker: the host
//!   is back at its full cap (a late answer to a request sent before the pause does not). A failed probe pauses it again for twice as long. Its pages wait; they
//!   are neither fetched nor recorded meanwhile.
//! - **Gone** when [`Schedule::probes`] probes in a row have failed: the host is given up and
//!   its remaining pages are recorded as unreachable at once.
//!
//! The cool-downs start at `--timeout`: with the defaults (5 probes), 1, 2, 4, 8 and 16 times
//! the timeout, so a dead host is given up about 36 timeouts after it was paused (31 of
//! cool-down and 5 of probes), and a site that was only slow for a minute or two is not lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::task::FetchError;

/// The most probes a host may be given (`--host-probes`): the last cool-down is 2^(N-1) times
/// the first, and past 10 that is over 8 hours at the default timeout.
pub const MAX_HOST_PROBES: u32 = 10;

/// When a host is paused, and for how long it is probed before it is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Failures in a row (those in flight together counting once) that pause a host
    /// (`--host-failures`; 0: never).
    pub failures: u32,
    /// Failed probes, each after a cool-down twice the last, after which the host is given up
    /// (`--host-probes`; 0: given up at the first pause).
    pub probes: u32,
    /// The first cool-down (`--timeout`).
    pub first_pause: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            failures: 5,
            probes: 5,
            first_pause: Duration::from_secs(30),
        }
    }
}

impl Schedule {
    /// The cool-down before probe number `probe` (0-based): the first pause, doubled per probe.
    fn pause(&self, probe: u32) -> Duration {
        self.first_pause.saturating_mul(1u32 << probe.min(16))
    }
}

/// What a report changed about a host, for the coordinator to count and say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Turn {
    /// The host is paused until `until`, when probe number `probe` (1-based) of `of` goes out.
    /// `after_probe`: a probe failed (else a run of failures paused it).
    Paused {
        until: Instant,
        probe: u32,
        of: u32,
        after_probe: bool,
    },
    /// A paused host answered its probe.
    Reopened,
    /// The host is given up, for `reason`; `after_probe`: its last probe failed (else it was
    /// given up at the first pause, `--host-probes 0`).
    Gone { reason: Arc<str>, after_probe: bool },
}

/// Whether `error` is one that says a host is down (a connection failure, a refused
/// connection, a timeout, a TLS failure), not just one page.
pub(crate) fn says_host_is_down(error: &FetchError) -> bool {
    Failure::of(error).is_some()
}

/// The failures that say a host is down; any other error says nothing of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Timeout,
    Refused,
    Connect,
    Tls,
}

impl Failure {
    pub(crate) fn of(error: &FetchError) -> Option<Failure> {
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

#[derive(Debug, Default)]
enum State {
    #[default]
    Closed,
    Paused {
        until: Instant,
        /// When the last probe went out, if one has: a failure of a request started then or
        /// later is the probe's.
        probe: Option<Instant>,
        /// Whether that probe is still out (only one at a time). Cleared when it comes back
        /// however it ended, so a probe never sent or that said nothing of the host (a worker
        /// that died) lets the next one go.
        probing: bool,
    },
    Gone(Arc<str>),
}

/// One host's breaker.
#[derive(Debug, Default)]
pub(super) struct Breaker {
    state: State,
    /// Failures counted in the current run, and of which kind (`None` once they differ).
    failures: u32,
    kind: Option<Failure>,
    /// When the last counted failure came back, and its kind: failures of requests started
    /// before then, of the same kind, were in flight with it.
    counted: Option<(Instant, Failure)>,
    /// The last failure's message, which the reason quotes.
    last: Option<String>,
    /// Probes that failed since the pause, and when it began.
    probes_failed: u32,
    paused_at: Option<Instant>,
}

impl Breaker {
    /// Failures counted in the current run (0 while paused or gone: the run is over).
    pub(super) fn run(&self) -> u32 {
        match self.state {
            State::Closed => self.failures,
            _ => 0,
        }
    }

    /// When the next request may start: `Ok` now, `Err(Some(at))` not before `at`,
    /// `Err(None)` not until the probe in flight is back.
    pub(super) fn may_start(&self, now: Instant) -> Result<(), Option<Instant>> {
        match self.state {
            State::Paused { until, .. } if until > now => Err(Some(until)),
            State::Paused { probing: true, .. } => Err(None),
            _ => Ok(()),
        }
    }

    /// A request went out at `now`: if the host is paused, it is the probe.
    pub(super) fn started(&mut self, now: Instant) {
        if let State::Paused { probe, probing, .. } = &mut self.state
            && !*probing
        {
            *probe = Some(now);
            *probing = true;
        }
    }

    /// A request that started at `started` is back, however it ended (before it is judged):
    /// if it was the probe, the next may go once the host is judged still paused.
    pub(super) fn finished(&mut self, started: Instant) {
        if let State::Paused {
            probe: Some(at),
            probing,
            ..
        } = &mut self.state
            && started >= *at
        {
            *probing = false;
        }
    }

    /// The host answered a request that started at `started` (any status): a run of failures
    /// is over; a pause too, if it was the probe. (A request sent before the pause and
    /// answered late says the host was alive then, not now: the probe will tell.)
    pub(super) fn answered(&mut self, started: Instant) -> Option<Turn> {
        let turn = match self.state {
            State::Gone(_) => return None,
            State::Closed => None,
            State::Paused { probe, .. } if probe.is_some_and(|p| started >= p) => {
                Some(Turn::Reopened)
            }
            State::Paused { .. } => return None,
        };
        *self = Breaker::default();
        turn
    }

    /// A request that started at `started` failed with `error` at `now`.
    pub(super) fn failed(
        &mut self,
        error: &FetchError,
        started: Instant,
        now: Instant,
        schedule: &Schedule,
    ) -> Option<Turn> {
        let kind = Failure::of(error)?;
        if matches!(self.state, State::Gone(_)) {
            return None;
        }
        self.last = Some(error.to_string());
        if let State::Paused { probe, .. } = self.state {
            // Only the probe's failure says anything new: the rest were sent before the pause.
            if probe.is_none_or(|p| started < p) {
                return None;
            }
            self.note(kind);
            self.probes_failed += 1;
            return Some(self.pause(now, schedule, true));
        }
        if self
            .counted
            .is_some_and(|(at, k)| k == kind && started < at)
        {
            return None;
        }
        self.counted = Some((now, kind));
        self.note(kind);
        self.failures += 1;
        if schedule.failures == 0 || self.failures < schedule.failures {
            return None;
        }
        self.paused_at = Some(now);
        Some(self.pause(now, schedule, false))
    }

    /// Pauses the host now, after the failures so far, if `error` says it is down (its
    /// robots.txt could not be reached even with retries, so no page of it will be either).
    pub(super) fn trip(
        &mut self,
        error: &FetchError,
        now: Instant,
        schedule: &Schedule,
    ) -> Option<Turn> {
        Failure::of(error)?;
        if self.failures == 0 || schedule.failures == 0 || !matches!(self.state, State::Closed) {
            return None;
        }
        self.paused_at = Some(now);
        Some(self.pause(now, schedule, false))
    }

    fn note(&mut self, kind: Failure) {
        self.kind = match (self.failures + self.probes_failed, self.kind) {
            (0, _) => Some(kind),
            (_, Some(k)) if k == kind => Some(kind),
            _ => None,
        };
    }

    /// The next pause after the failures so far, or the end once the probes are spent. A run
    /// of TLS failures is given up at once: a certificate the crawl does not trust will not be
    /// trusted after a cool-down either.
    fn pause(&mut self, now: Instant, schedule: &Schedule, after_probe: bool) -> Turn {
        if self.probes_failed >= schedule.probes || self.kind == Some(Failure::Tls) {
            let reason: Arc<str> = Arc::from(self.reason(now));
            self.state = State::Gone(Arc::clone(&reason));
            return Turn::Gone {
                reason,
                after_probe,
            };
        }
        let until = now + schedule.pause(self.probes_failed);
        self.state = State::Paused {
            until,
            probe: None,
            probing: false,
        };
        Turn::Paused {
            until,
            probe: self.probes_failed + 1,
            of: schedule.probes,
            after_probe,
        }
    }

    fn reason(&self, now: Instant) -> String {
        let what = match self.kind {
            Some(Failure::Timeout) => "timeouts",
            Some(Failure::Refused) => "refused connections",
            Some(Failure::Connect) => "connect errors",
            Some(Failure::Tls) => "TLS failures",
            None => "connection failures",
        };
        let mut reason = format!("{} consecutive {what}", self.failures);
        // A timeout or a refusal says all there is to say in the count.
        if let Some(last) = &self.last
            && matches!(self.kind, Some(Failure::Connect | Failure::Tls) | None)
        {
            reason.push_str(", the last: ");
            reason.push_str(last);
        }
        if self.probes_failed > 0 {
            let paused = self
                .paused_at
                .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
            reason.push_str(&format!(
                "; paused, and {} {} over {} s failed too",
                self.probes_failed,
                if self.probes_failed == 1 {
                    "probe"
                } else {
                    "probes"
                },
                paused.as_secs()
            ));
        }
        reason
    }

    /// Gives the host up for `reason`, found elsewhere (another node of a shared crawl).
    #[cfg(feature = "redis")]
    pub(super) fn mark_gone(&mut self, reason: Arc<str>) {
        self.state = State::Gone(reason);
    }

    /// Whether no request may go out but a probe (paused), so a page that fails now waits for
    /// the host rather than spending its retries.
    pub(super) fn is_paused(&self) -> bool {
        matches!(self.state, State::Paused { .. })
    }

    /// Why the host was given up, if it was.
    pub(super) fn gone(&self) -> Option<&Arc<str>> {
        match &self.state {
            State::Gone(reason) => Some(reason),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(failures: u32, probes: u32) -> Schedule {
        Schedule {
            failures,
            probes,
            first_pause: Duration::from_secs(1),
        }
    }

    fn secs(t0: Instant, s: f64) -> Instant {
        t0 + Duration::from_secs_f64(s)
    }

    #[test]
    fn failures_in_flight_together_count_once() {
        let t0 = Instant::now();
        let s = schedule(3, 2);
        let mut b = Breaker::default();
        // Eight requests started together time out together: one failure.
        for _ in 0..8 {
            assert_eq!(b.failed(&FetchError::Timeout, t0, secs(t0, 2.0), &s), None);
        }
        assert_eq!(b.failures, 1);
        // A request started after that failure came back counts again; so does another kind
        // of failure, even from a request in flight with the first.
        assert_eq!(
            b.failed(&FetchError::Timeout, secs(t0, 2.0), secs(t0, 4.0), &s),
            None
        );
        let turn = b.failed(
            &FetchError::ConnectRefused,
            secs(t0, 3.0),
            secs(t0, 4.1),
            &s,
        );
        assert!(
            matches!(
                turn,
                Some(Turn::Paused {
                    probe: 1,
                    of: 2,
                    after_probe: false,
                    ..
                })
            ),
            "{turn:?}"
        );
    }

    #[test]
    fn a_paused_host_takes_one_probe_after_its_cool_down_and_an_answer_reopens_it() {
        let t0 = Instant::now();
        let s = schedule(1, 3);
        let mut b = Breaker::default();
        let Some(Turn::Paused { until, .. }) = b.failed(&FetchError::Timeout, t0, t0, &s) else {
            panic!("paused")
        };
        assert_eq!(until, secs(t0, 1.0));
        assert_eq!(b.may_start(secs(t0, 0.5)), Err(Some(until)));
        // A request sent before the pause and failing now says nothing new.
        assert_eq!(b.failed(&FetchError::Timeout, t0, secs(t0, 0.9), &s), None);
        assert_eq!(b.may_start(until), Ok(()));
        b.started(until);
        assert_eq!(b.may_start(until), Err(None), "one probe at a time");
        b.finished(until);
        assert_eq!(
            b.answered(t0),
            None,
            "sent before the pause: the probe will tell"
        );
        assert_eq!(b.answered(until), Some(Turn::Reopened));
        assert_eq!(b.may_start(until), Ok(()));
        assert!(!b.is_paused());
        assert_eq!(b.failures, 0, "a new run starts from nothing");
    }

    #[test]
    fn failed_probes_double_the_cool_down_then_give_the_host_up() {
        let t0 = Instant::now();
        let s = schedule(1, 3);
        let mut b = Breaker::default();
        let mut now = t0;
        let mut turn = b.failed(&FetchError::ConnectRefused, now, now, &s);
        let mut pauses = Vec::new();
        while let Some(Turn::Paused { until, .. }) = turn {
            pauses.push(until.duration_since(now).as_secs());
            now = until;
            b.started(now);
            b.finished(now);
            turn = b.failed(&FetchError::ConnectRefused, now, now, &s);
        }
        assert_eq!(pauses, [1, 2, 4]);
        let Some(Turn::Gone {
            reason,
            after_probe: true,
        }) = turn
        else {
            panic!("given up: {turn:?}")
        };
        assert_eq!(
            &*reason,
            "1 consecutive refused connections; paused, and 3 probes over 7 s failed too"
        );
        assert_eq!(b.gone(), Some(&reason));
        assert_eq!(b.answered(now), None, "given up for good");
        assert_eq!(b.failed(&FetchError::ConnectRefused, now, now, &s), None);
    }

    #[test]
    fn no_probes_gives_up_at_once_and_no_threshold_never_pauses() {
        let t0 = Instant::now();
        let mut b = Breaker::default();
        let s = schedule(2, 0);
        let mut now = t0;
        b.failed(&FetchError::Timeout, now, now, &s);
        now += Duration::from_secs(1);
        let turn = b.failed(&FetchError::Timeout, now, now, &s);
        assert_eq!(
            turn,
            Some(Turn::Gone {
                reason: Arc::from("2 consecutive timeouts"),
                after_probe: false
            })
        );
        let mut never = Breaker::default();
        for i in 0..100 {
            let at = secs(t0, f64::from(i));
            assert_eq!(
                never.failed(&FetchError::ConnectRefused, at, at, &schedule(0, 5)),
                None
            );
        }
        assert_eq!(never.may_start(t0), Ok(()));
    }

    #[test]
    fn other_errors_say_nothing_and_mixed_failures_are_named_as_such() {
        let t0 = Instant::now();
        let s = schedule(3, 0);
        let mut b = Breaker::default();
        assert_eq!(
            b.failed(&FetchError::Broken("reset".into()), t0, t0, &s),
            None
        );
        assert_eq!(b.failures, 0);
        b.failed(&FetchError::ConnectRefused, t0, secs(t0, 1.0), &s);
        b.failed(&FetchError::Timeout, secs(t0, 1.0), secs(t0, 2.0), &s);
        let turn = b.failed(
            &FetchError::Connect("no route".into()),
            secs(t0, 2.0),
            secs(t0, 3.0),
            &s,
        );
        assert_eq!(
            turn,
            Some(Turn::Gone {
                reason: Arc::from(
                    "3 consecutive connection failures, the last: connect error: no route"
                ),
                after_probe: false
            })
        );
    }

    #[test]
    fn a_robots_txt_out_of_reach_pauses_the_host_after_the_failures_so_far() {
        let t0 = Instant::now();
        let s = schedule(5, 2);
        let mut b = Breaker::default();
        assert_eq!(b.trip(&FetchError::Timeout, t0, &s), None, "no failure yet");
        b.failed(&FetchError::Timeout, t0, t0, &s);
        assert!(matches!(
            b.trip(&FetchError::Timeout, t0, &s),
            Some(Turn::Paused { probe: 1, .. })
        ));
        assert!(b.is_paused());
        assert_eq!(b.trip(&FetchError::Timeout, t0, &s), None, "paused already");
    }

    #[test]
    fn a_probe_that_says_nothing_of_the_host_lets_the_next_one_go() {
        let t0 = Instant::now();
        let s = schedule(1, 3);
        let mut b = Breaker::default();
        b.failed(&FetchError::Timeout, t0, t0, &s);
        let at = secs(t0, 1.0);
        // Sent, and back with a worker that died (or never sent at all): no verdict.
        b.started(at);
        b.finished(at);
        assert_eq!(b.failed(&FetchError::WorkerDied, at, at, &s), None);
        assert_eq!(b.may_start(at), Ok(()), "another probe may go");
        assert!(b.is_paused());
        // A request from before the pause coming back does not free a probe's slot.
        b.started(at);
        b.finished(t0);
        assert_eq!(b.may_start(at), Err(None));
    }

    #[test]
    fn a_certificate_not_trusted_gives_the_host_up_without_probes() {
        let t0 = Instant::now();
        let mut b = Breaker::default();
        let bad = FetchError::Tls("invalid peer certificate: UnknownIssuer".into());
        let turn = b.failed(&bad, t0, t0, &schedule(1, 5));
        assert_eq!(
            turn,
            Some(Turn::Gone {
                reason: Arc::from(
                    "1 consecutive TLS failures, the last: TLS error: invalid peer certificate: UnknownIssuer"
                ),
                after_probe: false
            })
        );
    }

    #[test]
    fn the_default_schedule_is_five_failures_then_five_probes_from_the_timeout() {
        let s = Schedule::default();
        let pauses: Vec<u64> = (0..s.probes).map(|p| s.pause(p).as_secs()).collect();
        assert_eq!((s.failures, pauses), (5, vec![30, 60, 120, 240, 480]));
    }
}
