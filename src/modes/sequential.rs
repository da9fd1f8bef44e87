//! Sequential mode: one page at a time on the calling thread. The baseline every other mode is
//! measured against.

use crate::config::Config;
use crate::coordinator::Coordinator;
use crate::modes::CrawlError;
use crate::modes::pull::{self, Placement};
use crate::shutdown::Shutdown;
use crate::worker::BlockingWorker;

/// Crawls to the end on this thread.
pub fn run(
    coordinator: Coordinator,
    config: &Config,
    shutdown: &Shutdown,
) -> Result<Coordinator, CrawlError> {
    let worker = BlockingWorker::new(config, coordinator.scope(), "main".to_owned())?;
    pull::run(
        coordinator,
        std::slice::from_ref(&worker),
        Placement::CallingThread,
        shutdown,
        config.grace,
    )
}
