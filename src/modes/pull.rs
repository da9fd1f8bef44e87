//! The worker loop shared by the sequential and threads modes: each worker pulls tasks from a
//! coordinator behind a mutex, runs them on its own thread, and sleeps on a condition variable
//! when there is nothing to do. Sequential mode is this loop with one worker on the calling
//! thread; threads mode is the same loop on N threads. Beside them, a watcher thread applies
//! the stop policy ([`super::stop`]). With `-j auto`, thread `i` works only while the
//! coordinator's limit is above `i`; past it, it parks on a condition variable of its own, so
//! the threads over the limit are not woken by every page that ends.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::stop::spawn_watcher;
use super::{DriverError, Ran, Setup};
use crate::coordinator::{Coordinator, Next, Outcome};
use crate::worker::{BlockingWorker, Cancel};

/// Where the workers run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// The one worker runs on the calling thread (sequential mode).
    CallingThread,
    /// Each worker gets a thread of its own (threads mode).
    OwnThreads,
}

/// Crawls to the end with `workers`, placed as asked, stopping early on a signal.
pub(crate) fn run(
    coordinator: &mut Coordinator,
    setup: &Setup<'_>,
    workers: &[BlockingWorker],
    placement: Placement,
) -> Result<Ran, DriverError> {
    let shared = Pulling {
        coordinator: Mutex::new(coordinator),
        changed: Condvar::new(),
        parked: Condvar::new(),
        over: AtomicBool::new(false),
    };
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    std::thread::scope(|s| {
        let on_stop = || shared.stop();
        let on_cancel = || {
            let _ = cancel_tx.send(true);
        };
        // Held until this closure ends, however it ends: dropping it sends the watcher away.
        let _watching = spawn_watcher(s, setup.shutdown, setup.config.grace, on_stop, on_cancel)?;
        match (placement, workers) {
            (Placement::CallingThread, [worker]) => work(&shared, worker, 0, &cancel),
            _ => {
                let mut handles = Vec::with_capacity(workers.len());
                for (index, worker) in workers.iter().enumerate() {
                    let (shared, cancel) = (&shared, &cancel);
                    let handle = std::thread::Builder::new()
                        .name(worker.id().to_string())
                        .spawn_scoped(s, move || work(shared, worker, index, cancel));
                    match handle {
                        Ok(handle) => handles.push(handle),
                        Err(e) => {
                            // The threads already running must not wait for work forever.
                            shared.stop();
                            return Err(DriverError::Runtime(e));
                        }
                    }
                }
                for handle in handles {
                    let _ = handle.join();
                }
            }
        }
        Ok(Ran::default())
    })
}

/// A coordinator shared by worker threads.
struct Pulling<'c, 'h> {
    /// The coordinator is the crawl's single source of truth; every decision takes this lock.
    coordinator: Mutex<&'c mut Coordinator<'h>>,
    /// Signalled when a task completes: it may have queued work or finished the crawl.
    changed: Condvar,
    /// `-j auto`: signalled when the limit grows or the crawl ends, for threads past it.
    parked: Condvar,
    /// The crawl is over: no thread parks any more.
    over: AtomicBool,
}

impl<'c, 'h> Pulling<'c, 'h> {
    fn lock(&self) -> MutexGuard<'_, &'c mut Coordinator<'h>> {
        // A panic is caught before it can poison the lock (see `work`), so this is a formality.
        self.coordinator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn stop(&self) {
        self.lock().stop();
        self.changed.notify_all();
    }

    /// The crawl is over: every thread, parked or waiting, goes to see.
    fn end(&self) {
        self.over.store(true, Ordering::SeqCst);
        self.changed.notify_all();
        self.parked.notify_all();
    }
}

/// Runs tasks on this thread, the `index`th, until the crawl is done.
fn work(shared: &Pulling<'_, '_>, worker: &BlockingWorker, index: usize, cancel: &Cancel) {
    let mut coordinator = shared.lock();
    loop {
        // Past the limit (`-j auto`), park until it grows past this thread or the crawl ends.
        // Thread 0 never parks (the limit is at least 1), so someone is always there to see
        // the end and wake the rest.
        if index >= coordinator.limit() && !shared.over.load(Ordering::SeqCst) {
            coordinator = shared
                .parked
                .wait(coordinator)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        match coordinator.next(Instant::now()) {
            Next::Task(task) => {
                let id = task.id;
                drop(coordinator);
                // A panic in parsing must not lose the page or take the crawl down with it.
                let result =
                    catch_unwind(AssertUnwindSafe(|| worker.run_cancellable(task, cancel)));
                let outcome = match result {
                    Ok(Some(result)) => result.into(),
                    Ok(None) => Outcome::Abandoned,
                    Err(_) => Outcome::Lost {
                        worker: worker.id(),
                        why: None,
                    },
                };
                coordinator = shared.lock();
                let limit = coordinator.limit();
                coordinator.complete(id, outcome);
                shared.changed.notify_all();
                if coordinator.limit() > limit {
                    shared.parked.notify_all();
                }
            }
            Next::Wait { until: Some(until) } => {
                let timeout = until.saturating_duration_since(Instant::now());
                coordinator = shared
                    .changed
                    .wait_timeout(coordinator, timeout)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            Next::Wait { until: None } => {
                coordinator = shared
                    .changed
                    .wait(coordinator)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            Next::Done => {
                shared.end();
                return;
            }
        }
    }
}
