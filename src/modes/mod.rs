//! The drivers: where a crawl's fetch-and-parse stage runs. The only code that spawns workers
//! (threads, tokio tasks, processes); the crawl's other threads are the metrics listener
//! (started by [`crate::crawler`]) and the stop watcher ([`stop`]).
//!
//! Every driver has the same signature ([`Driver`]) and keeps the coordinator's contract
//! ([`crate::coordinator`]): ask for a task, run it, hand back how it ended, stop when told. They differ only in where the running happens and how they wait:
//!
//! | mode         | runs tasks on                     | waits with                  |
//! |--------------|-----------------------------------|-----------------------------|
//! | `sequential` | the calling thread, one at a time | a condition variable        |
//! | `threads`    | N OS threads                      | a mutex and condvar         |
//! | `async`      | tokio tasks, N in flight, on one current-thread runtime per core | a mutex, a `Notify` and timers |
//! | `processes`  | N forked worker processes         | `poll(2)` on their pipes    |
//!
//! What they share lives here once: the stop policy ([`stop`]), filling free worker slots
//! ([`fill`]), and the errors a driver can fail with.

mod async_tasks;
#[cfg(target_os = "linux")]
mod processes;
mod pull;
mod sequential;
pub(crate) mod stop;
mod threads;

use std::sync::Arc;
use std::time::Instant;

use crate::config::{Mode, Plan};
use crate::coordinator::{Coordinator, Next};
use crate::metrics::Metrics;
use crate::metrics::serve::Server;
use crate::report::Ipc;
use crate::scope::Scope;
use crate::shm_set::ShmSet;
use crate::shutdown::Shutdown;
use crate::task::Task;
use crate::worker::WorkerError;

/// What every driver is given besides the coordinator.
pub(crate) struct Setup<'a> {
    /// The validated configuration.
    pub config: &'a Plan,
    /// The crawl's scope, which every HTTP client's robots.txt redirects must respect.
    pub scope: Arc<Scope>,
    /// Processes mode's `--dedupe shared`: the known-URL set workers consult.
    pub known: Option<Arc<ShmSet>>,
    /// Signals, for the stop policy.
    pub shutdown: &'a Shutdown,
    /// `--metrics`: the listener and what it serves, for a driver that answers scrapes itself
    /// (processes mode; the others have a server thread).
    pub metrics: Option<(&'a Server, &'a Metrics)>,
}

/// What a driver reports besides what the coordinator saw.
#[derive(Debug, Default)]
pub(crate) struct Ran {
    /// Processes mode: what crossing the process boundary cost.
    pub ipc: Option<Ipc>,
}

/// A driver: runs `coordinator`'s crawl to the end (or to a stop), and returns.
pub(crate) type Driver = fn(&mut Coordinator, &Setup<'_>) -> Result<Ran, DriverError>;

/// The driver for `mode`.
pub(crate) fn driver(mode: Mode) -> Driver {
    match mode {
        Mode::Sequential => sequential::run,
        Mode::Threads => threads::run,
        Mode::Async => async_tasks::run,
        #[cfg(target_os = "linux")]
        Mode::Processes => processes::run,
        #[cfg(not(target_os = "linux"))]
        Mode::Processes => |_, _| Err(DriverError::Unsupported("processes")),
    }
}

/// Why a driver could not run the crawl to the end.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A worker's HTTP client or I/O runtime could not be built.
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// The operating system refused what the driver needs: a thread, the async mode's tokio
    /// runtime, or in processes mode reading `/proc/self/task`, a socket pair, a fork, the
    /// signal mask, `poll(2)` or the shared memory of `--dedupe shared`.
    #[error("cannot start the workers: {0}")]
    Runtime(std::io::Error),
    /// The mode, by name, does not run on this platform (processes mode needs Linux).
    #[error("--mode {0} is not available on this platform; use sequential, threads or async")]
    Unsupported(&'static str),
    /// Processes mode found more than one thread in the process before its first fork (the
    /// number it found).
    #[error(
        "--mode processes must fork from a single-threaded process, but this one has {0} threads \
         (call crawl::run in processes mode before starting any runtime or thread)"
    )]
    NotSingleThreaded(usize),
    /// A forked worker process could not set itself up, and said why.
    #[error("a worker process could not start: {0}")]
    WorkerStart(String),
    /// Worker processes died with a page in hand more than 10 x workers + 10 times (the
    /// number of deaths).
    #[error("worker processes keep dying ({0} deaths); giving up")]
    WorkersKeepDying(u64),
}

/// How a round of [`fill`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filled {
    /// Every free slot got a task, or nothing can start before `until` (`None`: until a task
    /// completes).
    Wait(Option<Instant>),
    /// The crawl is over.
    Done,
}

/// Hands tasks to up to `free` idle slots, each through `start`, until the coordinator has
/// nothing to hand out now. The slot-filling loop of the drivers that keep N slots (async and
/// processes; the pull modes' threads each ask for themselves).
pub(crate) fn fill<E>(
    coordinator: &mut Coordinator,
    free: usize,
    mut start: impl FnMut(&mut Coordinator, Task) -> Result<(), E>,
) -> Result<Filled, E> {
    for _ in 0..free {
        match coordinator.next(Instant::now()) {
            Next::Task(task) => start(coordinator, task)?,
            Next::Wait { until } => return Ok(Filled::Wait(until)),
            Next::Done => return Ok(Filled::Done),
        }
    }
    Ok(Filled::Wait(None))
}
