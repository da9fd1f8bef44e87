//! Sequential mode: one page at a time on the calling thread. The baseline every other mode is
//! measured against.

use std::sync::Arc;

use super::pull::{self, Placement};
use super::{DriverError, Ran, Setup};
use crate::coordinator::Coordinator;
use crate::task::WorkerId;
use crate::worker::BlockingWorker;

/// Crawls to the end on this thread.
pub(crate) fn run(coordinator: &mut Coordinator, setup: &Setup<'_>) -> Result<Ran, DriverError> {
    let worker = BlockingWorker::new(setup.config, Arc::clone(&setup.scope), WorkerId::Main)?;
    pull::run(
        coordinator,
        setup,
        std::slice::from_ref(&worker),
        Placement::CallingThread,
    )
}
