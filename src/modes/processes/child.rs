//! A worker process: reads tasks from its socket, runs them, writes results back, and exits at
//! end of stream. It is the same [`BlockingWorker`] the threads mode runs, in another address
//! space.
//!
//! A worker dies with its coordinator (`PR_SET_PDEATHSIG`), so even a `kill -9` of the crawl
//! leaves no orphan behind, and it ignores SIGINT: Ctrl-C reaches the whole process group, but
//! only the coordinator decides when workers stop.

use nix::sys::signal::Signal;
use nix::unistd::{Pid, getpid, getppid};
use std::os::unix::net::UnixStream;

use super::wire::{FromWorker, recv, send};
use crate::fetch::Fetcher;
use crate::normalize::fingerprint;
use crate::shm_set::ShmSet;
use crate::shutdown::Shutdown;
use crate::task::Task;
use crate::worker::{BlockingWorker, TaskLimits};

/// What a worker process needs, all inherited from the coordinator across fork.
pub(super) struct Setup<'a> {
    /// The HTTP client, built by the coordinator before forking (it starts no thread).
    pub fetcher: Fetcher,
    pub limits: TaskLimits,
    /// URLs the coordinator already knows, when `--dedupe shared` is on.
    pub known: Option<&'a ShmSet>,
    /// Exit after one task (`--fork-per-page`).
    pub one_shot: bool,
    pub parent: Pid,
    /// The signal mask to restore once the coordinator's handlers are gone.
    pub mask: nix::sys::signal::SigSet,
}

/// Serves tasks until the coordinator closes the socket; returns the exit status.
pub(super) fn serve(mut stream: UnixStream, setup: Setup<'_>) -> i32 {
    Shutdown::reset_in_child();
    Shutdown::restore(&setup.mask);
    // If this fails we still work; the socket's end of stream remains a way to notice.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if getppid() != setup.parent {
        // The coordinator died between fork and prctl: nobody is left to serve.
        return 1;
    }
    let mut buf = Vec::with_capacity(4096);
    let id = super::worker_id(getpid());
    let worker = match BlockingWorker::with_fetcher(setup.fetcher, setup.limits, id) {
        // Never dropped: the process ends with _exit, and tearing down the runtime would only
        // wait for stray blocking threads (a stuck DNS lookup) while the coordinator reaps us.
        Ok(worker) => std::mem::ManuallyDrop::new(worker),
        Err(e) => {
            let _ = send(
                &mut stream,
                &FromWorker::InitFailed(e.to_string()),
                &mut buf,
            );
            return 1;
        }
    };
    loop {
        let task: Task = match recv(&mut stream, &mut buf) {
            Ok(Some((task, _))) => task,
            Ok(None) => return 0,
            Err(_) => return 1,
        };
        let mut result = worker.run(task);
        let (cpu_ms, peak_rss_kb) = crate::usage::forked_worker_usage();
        result.worker_cpu_ms = Some(cpu_ms);
        result.worker_peak_rss_kb = Some(peak_rss_kb);
        if let (Some(known), Ok(page)) = (setup.known, &mut result.outcome) {
            // Links the coordinator already has need not cross the socket.
            let before = page.links.len();
            page.links.retain(|link| !known.contains(fingerprint(link)));
            page.links_known = before - page.links.len();
        }
        if send(&mut stream, &FromWorker::Done(Box::new(result)), &mut buf).is_err() {
            return 1;
        }
        if setup.one_shot {
            return 0;
        }
    }
}
