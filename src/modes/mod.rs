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
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(
        "--mode {0} is not implemented yet (it is tracked as its own issue); use sequential, threads or async"
    )]
    NotImplemented(&'static str),
}

impl CrawlError {
    /// Whether the error is the user's to fix in flags or input (exit status 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, CrawlError::Output(_) | CrawlError::NotImplemented(_))
    }
}

/// Runs `config`'s crawl to the end in its mode, writing records to its output.
pub fn run(config: &Config) -> Result<Summary, CrawlError> {
    if config.mode == Mode::Processes {
        return Err(CrawlError::NotImplemented("processes"));
    }
    let sink = Sink::open(&config.output)?;
    let coordinator = Coordinator::new(config, sink, Progress::new(config.progress));
    let coordinator = match config.mode {
        Mode::Sequential => sequential::run(coordinator, config)?,
        Mode::Threads => threads::run(coordinator, config)?,
        Mode::Async => tasks::run(coordinator, config)?,
        Mode::Processes => return Err(CrawlError::NotImplemented("processes")),
    };
    Ok(coordinator.finish()?)
}
