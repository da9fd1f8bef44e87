//! Threads mode: N OS threads pulling from the shared coordinator. Each thread fetches and
//! parses the pages it takes, with its own HTTP client, so N threads means at most N requests
//! in flight and N parses running at once — the classic blocking-worker model.

use std::sync::Arc;

use super::pull::{self, Placement};
use super::{DriverError, Ran, Setup};
use crate::coordinator::Coordinator;
use crate::fetch::Fetcher;
use crate::task::WorkerId;
use crate::worker::{BlockingWorker, TaskLimits, WorkerError};

/// Crawls to the end on `config.workers` threads.
pub(crate) fn run(coordinator: &mut Coordinator, setup: &Setup<'_>) -> Result<Ran, DriverError> {
    // Build every worker before starting any, so a setup failure stops the crawl up front.
    // One recipe for every client: the TLS roots are read once, not once per thread.
    let recipe = Fetcher::new(setup.config, Arc::clone(&setup.scope)).map_err(WorkerError::from)?;
    let limits = TaskLimits::from_config(setup.config);
    let workers = (0..setup.config.workers)
        .map(|i| {
            let fetcher = recipe.another().map_err(WorkerError::from)?;
            BlockingWorker::with_fetcher(fetcher, limits.clone(), WorkerId::Thread(i))
        })
        .collect::<Result<Vec<_>, _>>()?;
    pull::run(coordinator, setup, &workers, Placement::OwnThreads)
}
