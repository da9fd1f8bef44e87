//! The worker loop shared by the sequential and threads modes: each worker pulls tasks from a
//! coordinator behind a mutex, runs them on its own thread, and sleeps on a condition variable
//! when there is nothing to do. Sequential mode is this loop with one worker on the calling
//! thread; threads mode is the same loop on N threads. Beside them, a watcher thread turns
//! Ctrl-C and SIGTERM into a stop ([`super::watch`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicBool;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::coordinator::{Coordinator, Next};
use crate::modes::CrawlError;
use crate::modes::watch::{Finished, watch};
use crate::shutdown::Shutdown;
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
    coordinator: Coordinator,
    workers: &[BlockingWorker],
    placement: Placement,
    shutdown: &Shutdown,
    grace: Duration,
) -> Result<Coordinator, CrawlError> {
    let shared = Shared::new(coordinator);
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let on_stop = || {
            shared.lock().stop();
            shared.changed.notify_all();
        };
        let on_cancel = || {
            let _ = cancel_tx.send(true);
        };
        std::thread::Builder::new()
            .name("crawl-signals".to_owned())
            .spawn_scoped(s, {
                let done = &done;
                move || watch(shutdown, done, grace, on_stop, on_cancel)
            })
            .map_err(CrawlError::Runtime)?;
        // Declared after the watcher is spawned, so it is dropped (and the watcher told to
        // leave) however this closure ends.
        let _finished = Finished {
            shutdown,
            done: &done,
        };
        match (placement, workers) {
            (Placement::CallingThread, [worker]) => work(&shared, worker, &cancel),
            _ => {
                let mut handles = Vec::with_capacity(workers.len());
                for worker in workers {
                    let (shared, cancel) = (&shared, &cancel);
                    let handle = std::thread::Builder::new()
                        .name(worker.label().to_owned())
                        .spawn_scoped(s, move || work(shared, worker, cancel));
                    match handle {
                        Ok(handle) => handles.push(handle),
                        Err(e) => {
                            // The threads already running must not wait for work forever.
                            shared.lock().stop();
                            shared.changed.notify_all();
                            return Err(CrawlError::Runtime(e));
                        }
                    }
                }
                for handle in handles {
                    let _ = handle.join();
                }
            }
        }
        Ok(())
    })?;
    Ok(shared.into_inner())
}

/// A coordinator shared by worker threads.
struct Shared {
    /// The coordinator is the crawl's single source of truth; every decision takes this lock.
    coordinator: Mutex<Coordinator>,
    /// Signalled when a task completes: it may have queued work or finished the crawl.
    changed: Condvar,
}

impl Shared {
    fn new(coordinator: Coordinator) -> Self {
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

    fn into_inner(self) -> Coordinator {
        self.coordinator
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs tasks on this thread until the crawl is done.
fn work(shared: &Shared, worker: &BlockingWorker, cancel: &Cancel) {
    let mut coordinator = shared.lock();
    loop {
        match coordinator.next(Instant::now()) {
            Next::Task(task) => {
                let id = task.id;
                drop(coordinator);
                // A panic in parsing must not lose the page or take the crawl down with it.
                let result =
                    catch_unwind(AssertUnwindSafe(|| worker.run_cancellable(task, cancel)));
                coordinator = shared.lock();
                match result {
                    Ok(Some(result)) => coordinator.complete(result),
                    Ok(None) => coordinator.abandon(id),
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
