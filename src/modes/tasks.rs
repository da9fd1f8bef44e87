//! Async mode: a tokio runtime with up to N pages in flight.
//!
//! One dispatcher task owns the coordinator (no lock needed): it hands tasks to spawned tokio
//! tasks while it has free slots, and takes their results back over a channel. A task's I/O
//! runs on the runtime's reactor threads; its CPU half (decode, parse, `--cpu-work`) runs on
//! tokio's blocking pool, capped at one thread per core, so a heavy parse never stalls the
//! reactor that every other in-flight request depends on, and parsing never oversubscribes the
//! cores.
//!
//! Measured on the 2-core development machine (3,000 generated 3 KB pages, no latency), the
//! blocking pool and parsing inline on the reactor gave the same throughput within noise
//! (10-17k vs 11-12k pages/s with no extra work, 2.2k vs 2.3k with `--cpu-work 300000`). The
//! pool wins on what throughput hides: with parsing inline, a long parse delays every timer and
//! socket on that reactor thread, turning CPU load into spurious timeouts.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::coordinator::{Coordinator, Next};
use crate::fetch::Fetcher;
use crate::modes::CrawlError;
use crate::task::{Task, TaskResult};
use crate::worker::{TaskLimits, WorkerError, download};

/// Crawls to the end with `config.workers` pages in flight.
pub fn run(mut coordinator: Coordinator, config: &Config) -> Result<Coordinator, CrawlError> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .max_blocking_threads(cores)
        .thread_name("crawl-async")
        .enable_all()
        .build()
        .map_err(CrawlError::Runtime)?;
    let fetcher = Fetcher::new(config.timeout, &config.user_agent, coordinator.scope())
        .map_err(WorkerError::from)?;
    let limits = TaskLimits::from_config(config);
    runtime.block_on(dispatch(
        &mut coordinator,
        Arc::new(fetcher),
        limits,
        config.workers,
    ));
    Ok(coordinator)
}

async fn dispatch(
    coordinator: &mut Coordinator,
    fetcher: Arc<Fetcher>,
    limits: TaskLimits,
    slots: usize,
) {
    // Results come back here; at most `slots` are ever outstanding, so the channel is bounded
    // by construction.
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, u64, Option<TaskResult>)>();
    // Free slot numbers, which name the workers in records ("task 7").
    let mut free: Vec<usize> = (0..slots).rev().collect();
    loop {
        let mut wake_at = None;
        let mut rate_limited = false;
        while !free.is_empty() {
            match coordinator.next(Instant::now()) {
                Next::Task(task) => {
                    let slot = free.pop().unwrap_or_default();
                    let tx = done_tx.clone();
                    let fetcher = Arc::clone(&fetcher);
                    tokio::spawn(async move {
                        let id = task.id;
                        let result = run_task(&fetcher, task, limits, slot).await;
                        // The dispatcher outlives every task; a send can only fail if it
                        // already stopped, and then there is no one left to tell.
                        let _ = tx.send((slot, id, result));
                    });
                }
                Next::Wait {
                    until,
                    rate_limited: limited,
                } => {
                    wake_at = until;
                    rate_limited = limited;
                    break;
                }
                Next::Done => return,
            }
        }
        let idle_slots = free.len();
        let started = Instant::now();
        let completed = match wake_at {
            Some(at) if idle_slots > 0 => {
                tokio::select! {
                    r = done_rx.recv() => r,
                    () = tokio::time::sleep_until(at.into()) => None,
                }
            }
            _ => done_rx.recv().await,
        };
        if rate_limited && idle_slots > 0 {
            // Every idle slot spent that time waiting on the limiter.
            coordinator.add_rate_wait(started.elapsed() * idle_slots as u32);
        }
        if let Some((slot, id, result)) = completed {
            free.push(slot);
            match result {
                Some(result) => coordinator.complete(result),
                None => coordinator.requeue_lost(id, format!("task {slot}")),
            }
        }
    }
}

/// Runs one task: I/O on the reactor, parsing on the blocking pool. `None` if the parse
/// panicked (the coordinator then retries the page like any lost work).
async fn run_task(
    fetcher: &Fetcher,
    task: Task,
    limits: TaskLimits,
    slot: usize,
) -> Option<TaskResult> {
    let downloaded = download(fetcher, task, limits).await;
    let label = format!("task {slot}");
    if downloaded.needs_parse() {
        let queued = Instant::now();
        tokio::task::spawn_blocking(move || {
            let cpu_wait = queued.elapsed();
            let mut result = downloaded.finish(limits, label);
            result.cpu_wait_ms = cpu_wait.as_secs_f64() * 1000.0;
            result
        })
        .await
        .ok()
    } else {
        Some(downloaded.finish(limits, label))
    }
}
