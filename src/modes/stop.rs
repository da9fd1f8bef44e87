//! The stop policy, once for every mode: on the first SIGINT or SIGTERM the crawl stops
//! handing out pages and gives the pages in flight `--grace` to finish; when the grace period
//! runs out, or a second signal arrives, the pages still in flight are given up.
//!
//! [`StopPolicy`] says which phase a crawl is in; the drivers only act on it. The processes
//! mode asks it on every turn of its `poll(2)` loop (the signal pipe is in the poll set). The
//! other modes' workers sleep where a signal cannot reach them (a condition variable, a tokio
//! reactor), so [`spawn_watcher`] runs the same policy on a small thread that sleeps on the
//! signal pipe and calls the driver's `stop` and `cancel` hooks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use super::DriverError;
use crate::shutdown::Shutdown;

/// Where a crawl stands with respect to a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// Stopping: hand out nothing more; pages in flight may finish until `until`.
    Draining {
        until: Instant,
    },
    /// The grace period is over (or a second signal came): give up what is in flight.
    Cancelled,
}

/// The one stop policy (see the module doc).
#[derive(Debug)]
pub(crate) struct StopPolicy {
    grace: Duration,
    /// When the grace period ends, once a stop has begun.
    deadline: Option<Instant>,
}

impl StopPolicy {
    pub(crate) fn new(grace: Duration) -> Self {
        StopPolicy {
            grace,
            deadline: None,
        }
    }

    /// The phase at `now`, given the signals `shutdown` has seen.
    pub(crate) fn phase(&mut self, shutdown: &Shutdown, now: Instant) -> Phase {
        let signals = match shutdown.requested() {
            None => 0,
            Some(_) => shutdown.count().max(1),
        };
        self.after(signals, now)
    }

    /// The phase at `now` after `signals` stop signals.
    fn after(&mut self, signals: u32, now: Instant) -> Phase {
        if signals == 0 {
            return Phase::Running;
        }
        let until = *self.deadline.get_or_insert(now + self.grace);
        if signals >= 2 || now >= until {
            Phase::Cancelled
        } else {
            Phase::Draining { until }
        }
    }
}

/// Runs `policy` on a thread of `scope` that sleeps on the signal pipe: it calls `stop` when a
/// stop begins and `cancel` when the grace period is over, and leaves when the returned guard
/// is dropped (however the crawl ends, so a scope waiting to join it never hangs).
pub(crate) fn spawn_watcher<'scope, 'env>(
    scope: &'scope Scope<'scope, 'env>,
    shutdown: &'env Shutdown,
    grace: Duration,
    stop: impl FnOnce() + Send + 'scope,
    cancel: impl FnOnce() + Send + 'scope,
) -> Result<Watching<'env>, DriverError> {
    let done = Arc::new(AtomicBool::new(false));
    let watcher_done = Arc::clone(&done);
    let handle: std::io::Result<ScopedJoinHandle<'scope, ()>> = std::thread::Builder::new()
        .name("crawl-signals".to_owned())
        .spawn_scoped(scope, move || {
            watch(
                shutdown,
                &watcher_done,
                StopPolicy::new(grace),
                stop,
                cancel,
            )
        });
    handle.map_err(DriverError::Runtime)?;
    Ok(Watching { shutdown, done })
}

/// Follows `policy` until `done` is set (and the watcher woken with [`Shutdown::wake`]).
fn watch(
    shutdown: &Shutdown,
    done: &AtomicBool,
    mut policy: StopPolicy,
    stop: impl FnOnce(),
    cancel: impl FnOnce(),
) {
    let mut stop = Some(stop);
    loop {
        if done.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        match policy.phase(shutdown, now) {
            Phase::Running => {
                shutdown.wait(None);
            }
            Phase::Draining { until } => {
                if let Some(stop) = stop.take() {
                    stop();
                }
                shutdown.wait(Some(until.saturating_duration_since(now)));
            }
            Phase::Cancelled => {
                if let Some(stop) = stop.take() {
                    stop();
                }
                cancel();
                return;
            }
        }
    }
}

/// Tells the watcher to leave when dropped.
pub(crate) struct Watching<'a> {
    shutdown: &'a Shutdown,
    done: Arc<AtomicBool>,
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        self.shutdown.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_drains_until_the_grace_period_ends() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(5);
        let mut policy = StopPolicy::new(grace);
        assert_eq!(policy.after(0, t0), Phase::Running);
        let until = t0 + Duration::from_secs(1) + grace;
        // The grace period counts from the first look after the signal, and stays put.
        assert_eq!(
            policy.after(1, t0 + Duration::from_secs(1)),
            Phase::Draining { until }
        );
        assert_eq!(
            policy.after(1, t0 + Duration::from_secs(3)),
            Phase::Draining { until }
        );
        assert_eq!(policy.after(1, until), Phase::Cancelled);
    }

    #[test]
    fn a_second_signal_or_no_grace_cancels_at_once() {
        let t0 = Instant::now();
        let mut policy = StopPolicy::new(Duration::from_secs(5));
        assert!(matches!(policy.after(1, t0), Phase::Draining { .. }));
        assert_eq!(policy.after(2, t0), Phase::Cancelled);
        let mut no_grace = StopPolicy::new(Duration::ZERO);
        assert_eq!(no_grace.after(1, t0), Phase::Cancelled);
    }
}
