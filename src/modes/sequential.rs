//! Sequential mode: one page at a time on the calling thread. The baseline every other mode is
//! measured against.

use crate::config::Config;
use crate::coordinator::Coordinator;
use crate::modes::CrawlError;
use crate::modes::pull::{Shared, work};
use crate::worker::BlockingWorker;

/// Crawls to the end on this thread.
pub fn run(coordinator: Coordinator, config: &Config) -> Result<Coordinator, CrawlError> {
    let worker = BlockingWorker::new(config, coordinator.scope(), "main".to_owned())?;
    let shared = Shared::new(coordinator);
    work(&shared, &worker);
    Ok(shared.into_inner())
}
