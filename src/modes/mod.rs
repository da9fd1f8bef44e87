//! The drivers: where a crawl's fetch-and-parse stage runs. The only code that spawns anything.
//!
//! Every mode takes the same [`Coordinator`] and does the same three things with it (ask for a
//! task, run it, hand back the result); they differ only in where the running happens and how
//! they wait:
//!
//! | mode         | runs tasks on                     | waits with                  |
//! |--------------|-----------------------------------|-----------------------------|
//! | `sequential` | the calling thread, one at a time | sleeping                    |
//! | `threads`    | N OS threads                      | a mutex and condvar         |
//! | `async`      | tokio tasks, N in flight          | a dispatcher task and timers|
//! | `processes`  | N forked worker processes         | `poll(2)` on their pipes    |

#[cfg(target_os = "linux")]
pub mod processes;
mod pull;
pub mod sequential;
pub mod tasks;
pub mod threads;

use crate::config::{Config, Mode};
use crate::coordinator::{Coordinator, CoordinatorError};
use crate::progress::Progress;
use crate::report::Summary;
use crate::sink::{OpenError, Sink};
use crate::worker::WorkerError;

/// Why a crawl could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error(transparent)]
    Output(#[from] OpenError),
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    #[error("cannot start the workers: {0}")]
    Runtime(std::io::Error),
    #[error("--mode {0} is not available on this platform; use sequential, threads or async")]
    Unsupported(&'static str),
    #[error(
        "--mode processes must fork from a single-threaded process, but this one has {0} threads \
         (call crawl::run in processes mode before starting any runtime or thread)"
    )]
    NotSingleThreaded(usize),
    #[error("a worker process could not start: {0}")]
    WorkerStart(String),
    #[error("worker processes keep dying ({0} deaths); giving up")]
    WorkersKeepDying(u64),
}

impl CrawlError {
    /// Whether the error is the user's to fix in flags or input (exit status 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, CrawlError::Output(_) | CrawlError::Unsupported(_))
    }
}

/// Runs `config`'s crawl to the end in its mode, writing records to its output.
pub fn run(config: &Config) -> Result<Summary, CrawlError> {
    let sink = Sink::open(&config.output)?;
    let mut coordinator = Coordinator::new(config, sink, Progress::new(config.progress));
    match config.mode {
        Mode::Sequential => coordinator = sequential::run(coordinator, config)?,
        Mode::Threads => coordinator = threads::run(coordinator, config)?,
        Mode::Async => coordinator = tasks::run(coordinator, config)?,
        #[cfg(target_os = "linux")]
        Mode::Processes => {
            let outcome = processes::run(&mut coordinator, config)?;
            let mut summary = coordinator.finish()?;
            summary.ipc = Some(outcome.ipc);
            summary.interrupted = outcome.interrupted;
            return Ok(summary);
        }
        #[cfg(not(target_os = "linux"))]
        Mode::Processes => return Err(CrawlError::Unsupported("processes")),
    }
    Ok(coordinator.finish()?)
}
