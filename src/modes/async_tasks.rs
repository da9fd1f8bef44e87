//! Async mode: up to N pages in flight as tokio tasks, on one reactor thread per core.
//!
//! Each reactor is a thread running its own current-thread tokio runtime, its own HTTP client
//! (so its connections, and their background tasks, stay on its thread) and its own share of
//! the N slots. It takes tasks from the coordinator, which sits behind an async mutex (a
//! reactor waiting for it keeps its pages' I/O running), spawns a tokio task per page while it
//! has free slots, and collects them from a `JoinSet`, which also reports a task that
//! panicked, so its page is retried instead of silently vanishing. Every turn hands back all
//! the pages that have finished on that reactor at once (a shared frontier then finishes them
//! in Redis in one round trip) before filling the free slots again.
//!
//! The price of running the coordinator on the threads that run the I/O: a turn that blocks
//! (records written to a pipe nobody reads, Redis retried for up to a lease, a journal sync)
//! holds up that reactor's requests, whose responses wait unread. So a reactor adds the time
//! of its turns to its [`Stalls`], and [`download`]'s timeout does not count it: a stall of the
//! crawler's own making never turns an answered request into a timeout.
//!
//! Why not one multi-threaded runtime with a dispatcher: there, every page crosses threads
//! twice (the dispatcher spawns it onto a worker, the worker wakes the dispatcher when it
//! ends), and on the peers' `wide` site (50,000 pages of 3 KB from nginx) those wake-ups cost
//! a third of the crawl's CPU. A reactor that runs its own pages and its own turns of the
//! coordinator wakes another thread only when that one sits idle waiting for work.
//!
//! A task's I/O runs on its reactor, and so does the link extractor, which takes an HTML
//! page's body chunk by chunk as it arrives ([`crate::extract::PageStream`]): a chunk costs
//! microseconds, and a long body lets the reactor's other requests run every 2 ms of parsing,
//! so none holds up the others for long; nor does the time a request spends parsing its own
//! body count against its timeout (see [`download`]). What cannot
//! be cut into chunks (`--cpu-work`; a user's extractor, which needs the whole page and runs
//! code we cannot bound; a big page without a Content-Type) runs on tokio's blocking pool
//! behind a semaphore of one permit per core, so it never stalls a reactor; the semaphore
//! keeps it from oversubscribing the cores and leaves the blocking pool free for the DNS
//! lookups that also run there.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::stop::spawn_watcher;
use super::{DriverError, Filled, Ran, Setup, fill};
use crate::coordinator::{Coordinator, Outcome};
use crate::fetch::Fetcher;
use crate::task::{Task, TaskResult, WorkerId};
use crate::worker::{Stalls, TaskLimits, WorkerError, download};

/// Crawls to the end with `config.workers` pages in flight.
pub(crate) fn run(coordinator: &mut Coordinator, setup: &Setup<'_>) -> Result<Ran, DriverError> {
    let config = setup.config;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let reactors = shares(config.workers, cores);
    // Built before any thread starts, so a setup failure stops the crawl up front.
    // One recipe for every reactor's client: the TLS roots are read once.
    let recipe = Fetcher::new(config, Arc::clone(&setup.scope)).map_err(WorkerError::from)?;
    let fetchers = reactors
        .iter()
        .map(|_| recipe.another())
        .collect::<Result<Vec<_>, _>>()
        .map_err(WorkerError::from)?;
    let shared = Reactors {
        coordinator: Mutex::new(coordinator),
        wake: reactors.iter().map(|_| Notify::new()).collect(),
        over: watch::Sender::new(false),
        cores: Arc::new(Semaphore::new(cores)),
        limits: TaskLimits::from_config(config),
    };
    let (cancel_tx, cancel) = watch::channel(false);
    std::thread::scope(|s| {
        let on_stop = || {
            // The watcher is a plain thread, outside every runtime: it may block on the lock.
            shared.coordinator.blocking_lock().stop();
            shared.wake_all_but(None);
        };
        let on_cancel = || {
            cancel_tx.send_replace(true);
        };
        let _watching = spawn_watcher(s, setup.shutdown, config.grace, on_stop, on_cancel)?;
        let mut handles = Vec::with_capacity(reactors.len());
        for (i, (slots, fetcher)) in reactors.into_iter().zip(fetchers).enumerate() {
            let (shared, cancel) = (&shared, cancel.clone());
            let handle = std::thread::Builder::new()
                .name(format!("crawl-async-{i}"))
                .spawn_scoped(s, move || reactor(shared, i, slots, fetcher, cancel));
            match handle {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // The reactors already running must not wait for work forever.
                    cancel_tx.send_replace(true);
                    return Err(DriverError::Runtime(e));
                }
            }
        }
        let mut failed = None;
        for handle in handles {
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed = Some(e),
                // A panic in the coordinator itself: re-raise it where the crawl can see it.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        failed.map_or(Ok(()), |e| Err(DriverError::Runtime(e)))
    })?;
    Ok(Ran::default())
}

/// Splits `workers` slots between at most `cores` reactors, as evenly as they go: the slot
/// numbers each reactor owns (they name the workers in records, "task 7").
fn shares(workers: usize, cores: usize) -> Vec<Range<usize>> {
    let reactors = cores.clamp(1, workers.max(1));
    let (each, extra) = (workers / reactors, workers % reactors);
    let mut start = 0;
    (0..reactors)
        .map(|i| {
            let len = each + usize::from(i < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// What the reactors share.
struct Reactors<'c, 'h> {
    /// The crawl's single source of truth; every turn takes this lock, briefly. An async
    /// lock: a reactor waiting for it keeps running its pages' I/O meanwhile.
    coordinator: Mutex<&'c mut Coordinator<'h>>,
    /// One per reactor, notified after another reactor's turn that completed tasks (it may
    /// have queued work), and on a stop: what a reactor with free slots and nothing to start
    /// waits for. One each, so a reactor's notice does not wake itself for an empty turn.
    wake: Vec<Notify>,
    /// Turns true when the crawl is over (the coordinator said so, or a reactor panicked):
    /// every reactor returns, even one whose slots are all busy.
    over: watch::Sender<bool>,
    /// One permit per core: work that goes to the blocking pool queues here, not there.
    cores: Arc<Semaphore>,
    limits: TaskLimits,
}

impl Reactors<'_, '_> {
    /// Wakes every reactor waiting for work but `me`.
    fn wake_all_but(&self, me: Option<usize>) {
        for (i, wake) in self.wake.iter().enumerate() {
            if Some(i) != me {
                wake.notify_waiters();
            }
        }
    }
}

/// What a running page needs, shared by the tokio tasks of one reactor.
struct TaskKit {
    fetcher: Fetcher,
    limits: TaskLimits,
    cores: Arc<Semaphore>,
    /// Time this reactor spent in the coordinator's turns, when its pages' I/O could not run:
    /// their timeouts do not count it (see [`Stalls`]).
    stalls: Stalls,
}

/// Reactor `me`'s thread: a current-thread runtime running `slots` pages at a time until the
/// crawl is over or cancelled.
fn reactor(
    shared: &Reactors<'_, '_>,
    me: usize,
    slots: Range<usize>,
    fetcher: Fetcher,
    cancel: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let kit = Arc::new(TaskKit {
        fetcher,
        limits: shared.limits.clone(),
        cores: Arc::clone(&shared.cores),
        stalls: Stalls::default(),
    });
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(turns(shared, me, slots, kit, cancel));
    }));
    if let Err(panic) = ran {
        // The coordinator panicked in this reactor's turn: the others must not wait for its
        // pages forever. The panic goes on to the crawl through the thread's join.
        shared.over.send_replace(true);
        std::panic::resume_unwind(panic);
    }
    // Dropping the runtime would wait for its blocking threads: a parse that a stop cut off,
    // or a DNS lookup that hangs. Nothing they could still produce is wanted now.
    runtime.shutdown_background();
    Ok(())
}

/// Resolves once `flag` turns true (the grace period is over, or the crawl is); never, if its
/// sender has gone without saying so (so a `select!` on it cannot spin).
async fn turned(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|&on| on).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The reactor's loop: take back what finished, fill the free slots, wait for the next thing
/// that can change either.
async fn turns(
    shared: &Reactors<'_, '_>,
    me: usize,
    slots: Range<usize>,
    kit: Arc<TaskKit>,
    mut cancel: watch::Receiver<bool>,
) {
    let mut over = shared.over.subscribe();
    let mut running = JoinSet::new();
    // Which slot and coordinator task each tokio task carries, so a panic can be attributed.
    let mut carrying: HashMap<tokio::task::Id, (usize, u64)> = HashMap::new();
    let mut free: Vec<usize> = slots.rev().collect();
    let mut joined = None;
    loop {
        if *over.borrow() {
            // Over (a fatal error, or a panic elsewhere): pages still running are dropped with
            // the JoinSet, as the coordinator expects nothing more.
            return;
        }
        if *cancel.borrow() {
            return give_up(shared, joined, running, carrying).await;
        }
        // Registered before the turn, so a notice sent while this reactor holds or waits for
        // the lock is not lost.
        let changed = shared.wake[me].notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let mut coordinator = shared.coordinator.lock().await;
        let turn = Instant::now();
        let (filled, took_back) = {
            // Every task that has finished by now is taken back before the slots are filled
            // again: the coordinator's turn then deals with them together.
            let mut took_back = false;
            while let Some(done) = joined.take().or_else(|| running.try_join_next_with_id()) {
                take_back(&mut coordinator, done, &mut carrying, &mut free);
                took_back = true;
            }
            let filled = fill(&mut coordinator, free.len(), |coordinator, task: Task| {
                match free.pop() {
                    Some(slot) => {
                        let id = task.id;
                        let handle = running.spawn(run_task(Arc::clone(&kit), task, slot));
                        carrying.insert(handle.id(), (slot, id));
                    }
                    // `fill` asks for no more tasks than there are free slots; should that
                    // ever change, the task goes back rather than being lost.
                    None => coordinator.complete(task.id, Outcome::Unsent),
                }
                Ok::<(), std::convert::Infallible>(())
            });
            (filled, took_back)
        };
        drop(coordinator);
        // The coordinator may have blocked (a full pipe, Redis, a journal sync): this
        // reactor's requests could not run meanwhile, and their timeouts must not count it.
        kit.stalls.add(turn.elapsed());
        if took_back {
            shared.wake_all_but(Some(me));
        }
        let wake_at = match filled {
            Ok(Filled::Wait(until)) => until,
            Ok(Filled::Done) => {
                // The others learn it too, even those whose slots are all busy (after a fatal
                // error the coordinator says Done with pages still in flight).
                shared.over.send_replace(true);
                return;
            }
            Err(never) => match never {},
        };
        // With no free slot, only a finished task (or a cancel) can change anything here.
        let idle = !free.is_empty();
        let sleep = async {
            match wake_at {
                Some(at) if idle => tokio::time::sleep_until(at.into()).await,
                _ => std::future::pending().await,
            }
        };
        let next = async {
            // An empty JoinSet answers `None` at once, which would make this loop spin.
            if running.is_empty() {
                std::future::pending().await
            } else {
                running.join_next_with_id().await
            }
        };
        let work_appeared = async {
            if idle {
                changed.await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            done = next => joined = done,
            () = sleep => {}
            () = work_appeared => {}
            () = turned(&mut cancel) => {}
            () = turned(&mut over) => {}
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
/// that completed meanwhile (`joined`, the one the last wait returned, among them) are recorded
/// as usual.
async fn give_up(
    shared: &Reactors<'_, '_>,
    joined: Option<Result<(tokio::task::Id, TaskResult), tokio::task::JoinError>>,
    mut running: JoinSet<TaskResult>,
    mut carrying: HashMap<tokio::task::Id, (usize, u64)>,
) {
    if let Some(done) = joined {
        let mut coordinator = shared.coordinator.lock().await;
        take_back(&mut coordinator, done, &mut carrying, &mut Vec::new());
    }
    running.abort_all();
    while let Some(joined) = running.join_next_with_id().await {
        let (tokio_id, outcome) = match joined {
            Ok((tokio_id, result)) => (tokio_id, result.into()),
            Err(err) => (err.id(), Outcome::Abandoned),
        };
        if let Some((_, id)) = carrying.remove(&tokio_id) {
            shared.coordinator.lock().await.complete(id, outcome);
        }
    }
}

/// Runs one task: I/O and streamed parsing on the reactor, whatever else is left on the
/// blocking pool once a core is free.
async fn run_task(kit: Arc<TaskKit>, task: Task, slot: usize) -> TaskResult {
    // Boxed: a request's future is several KB (reqwest's, the streamed parse's), and a task
    // that holds it inline is copied whole each time tokio moves it on spawn; a box moves as
    // a pointer. On nginx's `wide` site those copies were 7% of async mode's CPU.
    let downloaded = Box::pin(download(&kit.fetcher, task, &kit.limits, Some(&kit.stalls))).await;
    let worker = WorkerId::Task(slot);
    if !downloaded.has_cpu_work() || downloaded.parse_is_cheap(&kit.limits) {
        return downloaded.finish(&kit.limits, worker);
    }
    let queued = Instant::now();
    // The semaphore is never closed, so acquire cannot fail; if it somehow did, parsing
    // without a permit is still correct, only less polite to the other cores.
    let _core = kit.cores.acquire().await.ok();
    let cpu_wait = queued.elapsed();
    let limits = kit.limits.clone();
    let parse = tokio::task::spawn_blocking(move || downloaded.finish(&limits, worker));
    match parse.await {
        Ok(mut result) => {
            result.cpu_wait_ms = cpu_wait.as_secs_f64() * 1000.0;
            result
        }
        // Re-raise a parse panic in this task, where the reactor's JoinSet sees it.
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_split_evenly_between_at_most_one_reactor_per_core() {
        assert_eq!(shares(64, 2), [0..32, 32..64]);
        assert_eq!(shares(5, 2), [0..3, 3..5]);
        assert_eq!(shares(1, 8), vec![Range { start: 0, end: 1 }]);
        assert_eq!(shares(3, 8), [0..1, 1..2, 2..3]);
        assert_eq!(shares(0, 2), vec![Range { start: 0, end: 0 }]);
    }
}
