//! Async mode: a tokio runtime with up to N pages in flight.
//!
//! One dispatcher owns the coordinator (no lock needed): it spawns a tokio task per page while
//! it has free slots, and collects them from a `JoinSet` — which also reports a task that
//! panicked, so its page is retried instead of silently vanishing. A task's I/O runs on the
//! runtime's reactor threads; its CPU half (decode, parse, `--cpu-work`) runs on tokio's
//! blocking pool behind a semaphore of one permit per core — unless it is cheap (a small page
//! and no `--cpu-work`), in which case it runs where it is, since the hand-off would cost more
//! than the parse. Heavy parses run on the pool, so they never stall the reactor that every
//! other in-flight request depends on; the semaphore keeps them from oversubscribing the cores
//! and leaves the blocking pool free for the DNS lookups that also run there.
//!
//! Measured on the 2-core development machine (3,000 generated 3 KB pages, no latency), the
//! blocking pool and parsing inline on the reactor gave the same throughput within noise
//! (10-17k vs 11-12k pages/s with no extra work, 2.2k vs 2.3k with `--cpu-work 300000`). The
//! pool wins on what throughput hides: with parsing inline, a long parse delays every timer and
//! socket on that reactor thread, turning CPU load into spurious timeouts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::stop::spawn_watcher;
use super::{DriverError, Filled, Ran, Setup, fill};
use crate::coordinator::{Coordinator, Outcome};
use crate::fetch::Fetcher;
use crate::task::{Task, TaskResult, WorkerId};
use crate::worker::{TaskLimits, WorkerError, download};

/// Where a stop stands, as the signal watcher tells the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Hand out nothing more; let pages in flight finish.
    Stopping,
    /// The grace period is over: give up the pages still in flight.
    Cancelled,
}

/// Crawls to the end with `config.workers` pages in flight.
pub(crate) fn run(coordinator: &mut Coordinator, setup: &Setup<'_>) -> Result<Ran, DriverError> {
    let config = setup.config;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("crawl-async")
        .enable_all()
        .build()
        .map_err(DriverError::Runtime)?;
    let fetcher = Fetcher::new(config, Arc::clone(&setup.scope)).map_err(WorkerError::from)?;
    let shared = Arc::new(Shared {
        fetcher,
        limits: TaskLimits::from_config(config),
        cores: Semaphore::new(cores),
    });
    let (phase_tx, phase) = watch::channel(Phase::Running);
    std::thread::scope(|s| {
        let on_stop = || {
            phase_tx.send_replace(Phase::Stopping);
        };
        let on_cancel = || {
            phase_tx.send_replace(Phase::Cancelled);
        };
        let _watching = spawn_watcher(s, setup.shutdown, config.grace, on_stop, on_cancel)?;
        runtime.block_on(dispatch(coordinator, shared, config.workers, phase));
        Ok::<(), DriverError>(())
    })?;
    // Dropping the runtime would wait for its blocking threads: a parse that a stop cut off,
    // or a DNS lookup that hangs. Nothing they could still produce is wanted now.
    runtime.shutdown_background();
    Ok(Ran::default())
}

/// Resolves when the phase changes; never, once the watcher has gone (so a `select!` on it
/// cannot spin).
async fn phase_changed(phase: &mut watch::Receiver<Phase>) {
    if phase.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What every task needs.
struct Shared {
    fetcher: Fetcher,
    limits: TaskLimits,
    /// One permit per core: parses waiting for a core queue here, not in the blocking pool.
    cores: Semaphore,
}

async fn dispatch(
    coordinator: &mut Coordinator,
    shared: Arc<Shared>,
    slots: usize,
    mut phase: watch::Receiver<Phase>,
) {
    let mut running = JoinSet::new();
    // Which slot and coordinator task each tokio task carries, so a panic can be attributed.
    let mut carrying: HashMap<tokio::task::Id, (usize, u64)> = HashMap::new();
    // Free slot numbers, which name the workers in records ("task 7").
    let mut free: Vec<usize> = (0..slots).rev().collect();
    let mut stopped = false;
    loop {
        match *phase.borrow_and_update() {
            Phase::Running => {}
            Phase::Stopping if stopped => {}
            Phase::Stopping => {
                stopped = true;
                coordinator.stop();
            }
            Phase::Cancelled => return cancel(coordinator, running, carrying).await,
        }
        let filled = fill(coordinator, free.len(), |coordinator, task: Task| {
            match free.pop() {
                Some(slot) => {
                    let id = task.id;
                    let handle = running.spawn(run_task(Arc::clone(&shared), task, slot));
                    carrying.insert(handle.id(), (slot, id));
                }
                // `fill` asks for no more tasks than there are free slots; should that ever
                // change, the task goes back rather than being lost.
                None => coordinator.complete(task.id, Outcome::Unsent),
            }
            Ok::<(), std::convert::Infallible>(())
        });
        let wake_at = match filled {
            Ok(Filled::Wait(until)) => until,
            Ok(Filled::Done) => return,
            Err(never) => match never {},
        };
        let joined = match wake_at {
            // An empty JoinSet answers `None` at once, which would make this loop spin.
            Some(at) if running.is_empty() => {
                tokio::select! {
                    () = tokio::time::sleep_until(at.into()) => None,
                    () = phase_changed(&mut phase) => None,
                }
            }
            Some(at) if !free.is_empty() => {
                tokio::select! {
                    joined = running.join_next_with_id() => joined,
                    () = tokio::time::sleep_until(at.into()) => None,
                    () = phase_changed(&mut phase) => None,
                }
            }
            _ => {
                tokio::select! {
                    joined = running.join_next_with_id() => joined,
                    () = phase_changed(&mut phase) => None,
                }
            }
        };
        // Every task that has finished by now is taken back before the slots are filled
        // again: the coordinator's next turn then deals with them together (a shared
        // frontier finishes them in Redis in one round trip).
        let mut joined = joined;
        while let Some(done) = joined.take() {
            take_back(coordinator, done, &mut carrying, &mut free);
            joined = running.try_join_next_with_id();
        }
    }
}

/// Hands a finished (or panicked) task's outcome to the coordinator and frees its slot.
fn take_back(
    coordinator: &mut Coordinator,
    joined: Result<(tokio::task::Id, TaskResult), tokio::task::JoinError>,
    carrying: &mut HashMap<tokio::task::Id, (usize, u64)>,
    free: &mut Vec<usize>,
) {
    match joined {
        Ok((tokio_id, result)) => {
            if let Some((slot, id)) = carrying.remove(&tokio_id) {
                free.push(slot);
                coordinator.complete(id, result.into());
            }
        }
        Err(err) => {
            // The task panicked: its page goes back to the coordinator as lost work.
            if let Some((slot, id)) = carrying.remove(&err.id()) {
                free.push(slot);
                let worker = WorkerId::Task(slot);
                coordinator.complete(id, Outcome::Lost { worker, why: None });
            }
        }
    }
}

/// The grace period is over: tasks still running are aborted and taken back unfinished; any
/// that completed meanwhile are recorded as usual.
async fn cancel(
    coordinator: &mut Coordinator,
    mut running: JoinSet<TaskResult>,
    mut carrying: HashMap<tokio::task::Id, (usize, u64)>,
) {
    running.abort_all();
    while let Some(joined) = running.join_next_with_id().await {
        let (tokio_id, outcome) = match joined {
            Ok((tokio_id, result)) => (tokio_id, result.into()),
            Err(err) => (err.id(), Outcome::Abandoned),
        };
        if let Some((_, id)) = carrying.remove(&tokio_id) {
            coordinator.complete(id, outcome);
        }
    }
}

/// Runs one task: I/O on the reactor, parsing on the blocking pool once a core is free.
async fn run_task(shared: Arc<Shared>, task: Task, slot: usize) -> TaskResult {
    let downloaded = download(&shared.fetcher, task, &shared.limits).await;
    let worker = WorkerId::Task(slot);
    if !downloaded.has_cpu_work() || downloaded.parse_is_cheap(&shared.limits) {
        return downloaded.finish(&shared.limits, worker);
    }
    let queued = Instant::now();
    // The semaphore is never closed, so acquire cannot fail; if it somehow did, parsing
    // without a permit is still correct, only less polite to the other cores.
    let _core = shared.cores.acquire().await.ok();
    let cpu_wait = queued.elapsed();
    let limits = shared.limits.clone();
    let parse = tokio::task::spawn_blocking(move || downloaded.finish(&limits, worker));
    match parse.await {
        Ok(mut result) => {
            result.cpu_wait_ms = cpu_wait.as_secs_f64() * 1000.0;
            result
        }
        // Re-raise a parse panic in this task, where the dispatcher's JoinSet sees it.
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}
