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
mod watch;

use crate::config::{Config, Mode};
use crate::coordinator::{Coordinator, CoordinatorError};
use crate::journal::{self, Journal, JournalError};
use crate::progress::Progress;
use crate::report::Summary;
use crate::scrape::ItemHook;
use crate::shutdown::Shutdown;
use crate::sink::{OpenError, Sink};
use crate::worker::WorkerError;

/// Why a crawl could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error(transparent)]
    Output(#[from] OpenError),
    #[error(transparent)]
    State(#[from] JournalError),
    #[error(transparent)]
    Signals(#[from] crate::shutdown::ShutdownError),
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
        matches!(
            self,
            CrawlError::Output(_)
                | CrawlError::Unsupported(_)
                | CrawlError::State(
                    JournalError::OtherCrawl { .. }
                        | JournalError::Locked { .. }
                        | JournalError::Corrupt { .. }
                )
        )
    }
}

/// Runs `config`'s crawl to the end in its mode, writing records to its output.
///
/// For its duration, SIGINT and SIGTERM stop the crawl instead of killing the process: no new
/// pages are handed out, pages in flight get `config.grace` to finish, every finished record
/// is written, and the summary's `interrupted` names the signal. The previous handlers are put
/// back before it returns.
pub fn run(config: &Config) -> Result<Summary, CrawlError> {
    run_with(config, None)
}

/// [`run`], handing each extracted item to `hook` as well.
pub(crate) fn run_with(config: &Config, hook: Option<ItemHook>) -> Result<Summary, CrawlError> {
    // First, so a second crawl in this process is refused before it touches the journal or the
    // output. It starts no thread, so the processes mode can still fork after it.
    let shutdown = Shutdown::install()?;
    let journal = match &config.state {
        Some(dir) => Some(Journal::open(
            dir,
            journal::identity(
                &config.seeds,
                &config.allow_domains,
                config.depth,
                config.max_pages,
                &config.format,
            ),
        )?),
        None => None,
    };
    // A resumed crawl adds to the records its earlier runs wrote.
    let resuming = journal
        .as_ref()
        .is_some_and(|(_, resume)| resume.is_resume());
    let sink = Sink::open_with(&config.output, &config.format, resuming)?;
    let mut coordinator =
        Coordinator::resuming(config, sink, Progress::new(config.progress), journal);
    coordinator.set_item_hook(hook);
    let mut ipc = None;
    match config.mode {
        Mode::Sequential => coordinator = sequential::run(coordinator, config, &shutdown)?,
        Mode::Threads => coordinator = threads::run(coordinator, config, &shutdown)?,
        Mode::Async => coordinator = tasks::run(coordinator, config, &shutdown)?,
        #[cfg(target_os = "linux")]
        Mode::Processes => ipc = Some(processes::run(&mut coordinator, config, &shutdown)?.ipc),
        #[cfg(not(target_os = "linux"))]
        Mode::Processes => return Err(CrawlError::Unsupported("processes")),
    }
    // `shutdown` is still installed here, so a signal while flushing cannot lose records.
    let mut summary = coordinator.finish()?;
    summary.ipc = ipc;
    summary.interrupted = shutdown.requested();
    Ok(summary)
}
