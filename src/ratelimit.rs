//! The rate limiters: one global, one per origin (the only `governor` user).
//!
//! Limits are checked where the coordinator hands out tasks, never inside a worker: a governor
//! limiter lives in one address space, and a forked child would get its own copy with the full
//! quota. Checking at hand-out keeps `--rate` true across threads, tasks and processes alike.
//!
//! A check that fails consumes nothing and says when to come back, so the coordinator can serve
//! another origin meanwhile instead of sleeping with a task in its hand.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::MonotonicClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Direct = RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<Instant>>;
type Keyed = RateLimiter<
    String,
    governor::state::keyed::HashMapStateStore<String>,
    MonotonicClock,
    NoOpMiddleware<Instant>,
>;

/// The global and per-origin limiters of one crawl.
pub struct Limiter {
    global: Option<Direct>,
    /// The global limit's spacing between requests.
    global_period: Option<Duration>,
    per_host: Option<Keyed>,
}

/// A quota of `rate` per second that tolerates 50 ms of lateness.
///
/// A burst of one would be exact on paper, but GCRA forgets the slack when a caller arrives late
/// (and timers are always a little late), so the achieved rate would fall short. A burst worth
/// 50 ms of quota absorbs timer lateness while keeping any burst short.
fn quota(rate: f64) -> Quota {
    let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
    let burst = ((rate * 0.05).ceil() as u32).max(1);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

/// Slowest rate accepted: one request a day. Anything slower is a typo, and would overflow
/// the limiter's period.
pub const MIN_RATE: f64 = 1.0 / 86_400.0;

/// `rate` as the limiter can take it: a rate [`Config::validate`](crate::Config::validate)
/// would refuse (below one a day, zero, negative, NaN) is taken as one a day rather than
/// allowed to panic here; a validated configuration never has one.
fn sane(rate: f64) -> f64 {
    if rate.is_nan() || rate < MIN_RATE {
        MIN_RATE
    } else {
        rate
    }
}

impl Limiter {
    /// Limiters for the given rates in requests per second; `None` means unlimited.
    pub fn new(rate: Option<f64>, per_host_rate: Option<f64>) -> Self {
        let (rate, per_host_rate) = (rate.map(sane), per_host_rate.map(sane));
        Limiter {
            global: rate.map(|r| RateLimiter::direct_with_clock(quota(r), MonotonicClock)),
            global_period: rate.map(|r| Duration::from_secs_f64(1.0 / r)),
            per_host: per_host_rate
                .map(|r| RateLimiter::hashmap_with_clock(quota(r), MonotonicClock)),
        }
    }

    /// Takes a global permit if the limit has room now; otherwise says when it will.
    pub fn take_global(&self) -> Result<(), Instant> {
        let Some(limiter) = &self.global else {
            return Ok(());
        };
        limiter
            .check()
            .map_err(|not_until| not_until.earliest_possible())
    }

    /// Whether a global permit taken at `taken` may still be spent at `now`. A permit kept
    /// longer than one period must be dropped: by then the limiter has refilled, and spending
    /// the old permit beside a fresh one would burst past the rate.
    pub fn permit_is_fresh(&self, taken: Instant, now: Instant) -> bool {
        self.global_period
            .is_none_or(|period| now.saturating_duration_since(taken) <= period)
    }

    /// Takes a permit for `origin` if its limit has room now; otherwise says when it will.
    pub fn take_host(&self, origin: &str) -> Result<(), Instant> {
        let Some(limiter) = &self.per_host else {
            return Ok(());
        };
        limiter
            .check_key(&origin.to_owned())
            .map_err(|not_until| not_until.earliest_possible())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_a_config_would_refuse_do_not_panic() {
        for bad in [0.0, -1.0, f64::NAN, 1e-300] {
            let l = Limiter::new(Some(bad), Some(bad));
            assert!(l.take_global().is_ok(), "the first permit is free");
            assert!(l.take_global().is_err(), "then one a day");
        }
    }

    #[test]
    fn unlimited_never_refuses() {
        let l = Limiter::new(None, None);
        for _ in 0..10_000 {
            assert!(l.take_global().is_ok());
            assert!(l.take_host("http://a").is_ok());
        }
    }

    #[test]
    fn global_limit_refuses_after_the_burst_and_names_a_time() {
        let l = Limiter::new(Some(10.0), None);
        assert!(l.take_global().is_ok());
        let now = Instant::now();
        let until = l.take_global().expect_err("burst of one at 10/s");
        assert!(until > now && until <= now + Duration::from_millis(110));
    }

    #[test]
    fn per_host_limits_are_independent() {
        let l = Limiter::new(None, Some(1.0));
        assert!(l.take_host("http://a").is_ok());
        assert!(l.take_host("http://a").is_err());
        assert!(l.take_host("http://b").is_ok());
    }
}
