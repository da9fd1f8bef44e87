//! The worker loop shared by the sequential and threads modes: each worker pulls tasks from a
//! coordinator behind a mutex, runs them on its own thread, and sleeps on a condition variable
//! when there is nothing to do. Sequential mode is this loop with one worker on the calling
//! thread; threads mode is the same loop on N threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::coordinator::{Coordinator, Next};
use crate::worker::BlockingWorker;

/// A coordinator shared by worker threads.
pub(crate) struct Shared {
    /// The coordinator is the crawl's single source of truth; every decision takes this lock.
    coordinator: Mutex<Coordinator>,
    /// Signalled when a task completes: it may have queued work or finished the crawl.
    changed: Condvar,
}

impl Shared {
    pub(crate) fn new(coordinator: Coordinator) -> Self {
        Shared {
            coordinator: Mutex::new(coordinator),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Coordinator> {
        // A panic is caught before it can poison the lock (see `work`), so this is a formality.
        self.coordinator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn into_inner(self) -> Coordinator {
        self.coordinator
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs tasks on this thread until the crawl is done.
pub(crate) fn work(shared: &Shared, worker: &BlockingWorker) {
    let mut coordinator = shared.lock();
    loop {
        match coordinator.next(Instant::now()) {
            Next::Task(task) => {
                let id = task.id;
                drop(coordinator);
                // A panic in parsing must not lose the page or take the crawl down with it.
                let result = catch_unwind(AssertUnwindSafe(|| worker.run(task)));
                coordinator = shared.lock();
                match result {
                    Ok(result) => coordinator.complete(result),
                    Err(_) => coordinator.requeue_lost(id, worker.label().to_owned()),
                }
                shared.changed.notify_all();
            }
            Next::Wait {
                until: Some(until),
                rate_limited,
            } => {
                let started = Instant::now();
                let timeout = until.saturating_duration_since(started);
                coordinator = shared
                    .changed
                    .wait_timeout(coordinator, timeout)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                if rate_limited {
                    coordinator.add_rate_wait(started.elapsed());
                }
            }
            Next::Wait { until: None, .. } => {
                coordinator = shared
                    .changed
                    .wait(coordinator)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            Next::Done => {
                shared.changed.notify_all();
                return;
            }
        }
    }
}
