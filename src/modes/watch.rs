//! Ctrl-C and SIGTERM for the modes that run threads (sequential, threads, async).
//!
//! Their workers sleep in places a signal cannot reach directly (a condition variable, a
//! tokio reactor), so a small watcher thread sleeps on the [`Shutdown`] pipe instead. On the
//! first signal it calls `stop` (the coordinator hands out nothing more; pages in flight may
//! finish); when the grace period runs out, or a second signal arrives, it calls `cancel`
//! (pages still in flight are given up). When the crawl ends first, the mode sets `done` and
//! wakes the watcher, which leaves. The processes mode needs no such thread: its coordinator
//! already sleeps in `poll(2)`, with the pipe in its set.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::shutdown::Shutdown;

/// Watches for a stop until `done` is set (and the watcher woken with [`Shutdown::wake`]).
pub(crate) fn watch(
    shutdown: &Shutdown,
    done: &AtomicBool,
    grace: Duration,
    stop: impl FnOnce(),
    cancel: impl FnOnce(),
) {
    loop {
        if done.load(Ordering::SeqCst) {
            return;
        }
        if shutdown.requested().is_some() {
            break;
        }
        shutdown.wait(None);
    }
    stop();
    let deadline = Instant::now() + grace;
    loop {
        if done.load(Ordering::SeqCst) {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if shutdown.count() >= 2 || left.is_zero() {
            break;
        }
        shutdown.wait(Some(left));
    }
    cancel();
}

/// Sets `done` and wakes the watcher when dropped, so it leaves however the crawl ends (an
/// error or a panic included) and a scope waiting to join it never hangs.
pub(crate) struct Finished<'a> {
    pub(crate) shutdown: &'a Shutdown,
    pub(crate) done: &'a AtomicBool,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        self.shutdown.wake();
    }
}
