//! Threads mode: N OS threads pulling from the shared coordinator. Each thread fetches and
//! parses the pages it takes, with its own HTTP client, so N threads means at most N requests
//! in flight and N parses running at once — the classic blocking-worker model.

use crate::config::Config;
use crate::coordinator::Coordinator;
use crate::modes::CrawlError;
use crate::modes::pull::{self, Placement};
use crate::shutdown::Shutdown;
use crate::worker::BlockingWorker;

/// Crawls to the end on `config.workers` threads.
pub fn run(
    coordinator: Coordinator,
    config: &Config,
    shutdown: &Shutdown,
) -> Result<Coordinator, CrawlError> {
    // Build every worker before starting any, so a setup failure stops the crawl up front.
    let workers = (0..config.workers)
        .map(|i| BlockingWorker::new(config, coordinator.scope(), format!("thread {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    pull::run(
        coordinator,
        &workers,
        Placement::OwnThreads,
        shutdown,
        config.grace,
    )
}
