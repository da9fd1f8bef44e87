//! Processes mode: N forked worker processes, fed by a coordinator that never starts a thread.
//!
//! ## Forking safely
//! fork(2) copies only the calling thread; any lock another thread held at that instant stays
//! locked forever in the child. So we fork only from a single-threaded process, and keep it
//! that way: this driver runs no tokio runtime, no HTTP client, no progress ticker and no
//! logger thread in the coordinator — it is one `poll(2)` loop. That makes forking a
//! replacement for a dead worker, in the middle of a crawl, as safe as forking the first one.
//! We check the thread count (from `/proc/self/task`) before the first fork and refuse to start
//! otherwise, with a clear error, rather than risk undefined behaviour inside a library user's
//! multi-threaded program. (A fork server forked at start-up, like Python's `forkserver`, would
//! also work; it buys nothing here, because our coordinator can stay single-threaded.)
//!
//! `--metrics` is served from the same loop: the listener is one more descriptor in the
//! `poll(2)` set, and a waiting scrape is answered there ([`Server::answer_waiting`]), never
//! from a thread.
//!
//! ## Sharing costs
//! Workers share nothing with the coordinator but a socket each: tasks go out and results come
//! back as length-prefixed JSON ([`wire`]). Every byte and microsecond of that is counted and
//! reported as [`Ipc`]. With `--dedupe shared`, workers first drop links the coordinator already
//! knows, by looking them up in a fingerprint table in shared memory ([`ShmSet`]), so fewer
//! bytes cross the socket; the coordinator's own dedupe stays authoritative either way.
//!
//! ## Nothing lost
//! A worker that dies (panic, SIGKILL, out of memory) closes its socket; the coordinator reaps
//! it, hands its page back to the coordinator as a retryable "worker died" failure (so it
//! counts against `--retries`), and forks a replacement. SIGINT and SIGTERM stop the crawl: no
//! new work; pages in flight get the grace period (`--grace`) to finish, or until a second
//! signal; then the workers still busy are terminated, every worker is reaped, and the finished
//! records are flushed.

mod child;
pub(crate) mod wire;

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid};

use self::wire::{FromWorker, recv, send};
use super::stop::{Phase, StopPolicy};
use super::{DriverError, Filled, Ran, Setup, fill};
use crate::config::Config;
use crate::coordinator::{Coordinator, Outcome};
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::metrics::serve::Server;
use crate::report::Ipc;
use crate::shm_set::ShmSet;
use crate::shutdown::Shutdown;
use crate::task::{Task, WorkerId};
use crate::worker::{TaskLimits, WorkerError};

/// One worker process and the coordinator's end of its socket.
struct Worker {
    pid: Pid,
    stream: UnixStream,
    /// The task it is running and when it was sent.
    task: Option<(u64, Instant)>,
}

/// The worker slots and everything needed to (re)fill them.
struct Pool<'a> {
    config: &'a Config,
    /// Built once here and inherited by every worker across fork (copy-on-write), so a new
    /// worker does not pay for loading the TLS roots again.
    fetcher: Fetcher,
    known: Option<Arc<ShmSet>>,
    slots: Vec<Option<Worker>>,
    ipc: Ipc,
    buf: Vec<u8>,
    /// `--metrics`: the listener answered from this loop.
    metrics: Option<(&'a Server, &'a Metrics)>,
}

/// How records and statistics name the worker process `pid`: the same value the worker
/// computes for itself from `getpid()` ([`child::serve`]).
fn worker_id(pid: Pid) -> WorkerId {
    WorkerId::Process(pid.as_raw().unsigned_abs())
}

/// Threads in this process, from `/proc/self/task` (Linux).
fn thread_count() -> std::io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// Crawls to the end with `config.workers` worker processes.
pub(crate) fn run(coordinator: &mut Coordinator, setup: &Setup<'_>) -> Result<Ran, DriverError> {
    let (config, shutdown) = (setup.config, setup.shutdown);
    // Build the client before checking threads: the check then also proves building it started
    // none, which is what makes the client safe to carry across fork.
    let fetcher = Fetcher::new(config, Arc::clone(&setup.scope)).map_err(WorkerError::from)?;
    let threads = thread_count().map_err(DriverError::Runtime)?;
    if threads != 1 {
        return Err(DriverError::NotSingleThreaded(threads));
    }
    let mut pool = Pool {
        config,
        fetcher,
        known: setup.known.clone(),
        slots: (0..config.workers).map(|_| None).collect(),
        ipc: Ipc::default(),
        buf: Vec::with_capacity(4096),
        metrics: setup.metrics,
    };
    if !config.fork_per_page {
        // Prefork the pool so start-up cost is paid once, before the crawl clock matters
        // (with `-j auto`, as many as it starts with: the rest are forked as it grows).
        for i in 0..pool.slots.len().min(coordinator.limit()) {
            match pool.spawn() {
                Ok(worker) => pool.slots[i] = Some(worker),
                Err(e) => {
                    pool.stop(true, coordinator);
                    return Err(e);
                }
            }
        }
    }
    let result = pool.drive(coordinator, shutdown);
    // On an error, or a signal whose grace period ran out, workers in the middle of a page are
    // terminated, not awaited; the coordinator counts their pages as unfinished.
    pool.stop(
        shutdown.requested().is_some() || result.is_err(),
        coordinator,
    );
    result?;
    // The coordinator counted the deaths (burying a worker hands it the page back).
    pool.ipc.deaths = coordinator.worker_deaths();
    Ok(Ran {
        ipc: Some(pool.ipc),
    })
}

impl Pool<'_> {
    /// Forks a worker. Only ever called from the single-threaded coordinator.
    fn spawn(&mut self) -> Result<Worker, DriverError> {
        let (ours, theirs) = UnixStream::pair().map_err(DriverError::Runtime)?;
        let parent = getpid();
        let started = Instant::now();
        // Hold SIGINT/SIGTERM until the child has reset its handlers: in between it would run
        // the coordinator's handler and write to the coordinator's pipe.
        let mask = Shutdown::block().map_err(|e| DriverError::Runtime(e.into()))?;
        // SAFETY: this process is single-threaded (checked before the first fork, and the
        // coordinator starts no threads), so the child inherits no lock held by another thread.
        let forked = unsafe { fork() };
        if !matches!(forked, Ok(ForkResult::Child)) {
            Shutdown::restore(&mask);
        }
        match forked {
            Ok(ForkResult::Parent { child }) => {
                drop(theirs);
                self.ipc.forks += 1;
                self.ipc.fork_ms += started.elapsed().as_secs_f64() * 1000.0;
                Ok(Worker {
                    pid: child,
                    stream: ours,
                    task: None,
                })
            }
            Ok(ForkResult::Child) => {
                drop(ours);
                // Other workers' sockets must close here too, or they would not see end of
                // stream when the coordinator closes its ends.
                for slot in &mut self.slots {
                    drop(slot.take());
                }
                let setup = child::Setup {
                    fetcher: self.fetcher.clone(),
                    limits: TaskLimits::from_config(self.config),
                    known: self.known.as_deref(),
                    one_shot: self.config.fork_per_page,
                    parent,
                    mask,
                };
                let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    child::serve(theirs, setup)
                }))
                .unwrap_or(101);
                // _exit, not exit: the child holds copies of the coordinator's buffers (records
                // not yet flushed, among them), and running their destructors here would
                // write them twice.
                // SAFETY: _exit(2) ends the process immediately; nothing runs after it.
                unsafe { nix::libc::_exit(code) }
            }
            Err(e) => Err(DriverError::Runtime(e.into())),
        }
    }

    /// The coordinator loop: hand tasks to idle workers, wait for results, repeat.
    fn drive(
        &mut self,
        coordinator: &mut Coordinator,
        shutdown: &Shutdown,
    ) -> Result<(), DriverError> {
        let max_deaths = 10 * self.slots.len() as u64 + 10;
        let mut policy = StopPolicy::new(self.config.grace);
        // Set when a stop begins: the end of the grace period for pages in flight.
        let mut deadline: Option<Instant> = None;
        loop {
            match policy.phase(shutdown, Instant::now()) {
                Phase::Running => {}
                Phase::Draining { until } => {
                    if deadline.is_none() {
                        coordinator.stop();
                    }
                    deadline = Some(until);
                }
                Phase::Cancelled => {
                    // A second signal (or `--grace 0`) can arrive before this loop saw the
                    // first: the coordinator must still learn that the crawl stopped.
                    coordinator.stop();
                    return Ok(());
                }
            }
            let idle = (0..self.slots.len()).filter(|&i| self.is_idle(i)).count();
            // Slots are filled in order, each idle one once a turn (one whose worker was just
            // found dead waits for the next turn), with no list built on every wake-up.
            let mut from = 0;
            let filled = fill(coordinator, idle, |coordinator, task| {
                match (from..self.slots.len()).find(|&i| self.is_idle(i)) {
                    Some(i) => {
                        from = i + 1;
                        self.dispatch(i, task, coordinator)
                    }
                    None => {
                        coordinator.complete(task.id, Outcome::Unsent);
                        Ok(())
                    }
                }
            })?;
            let wake_at = match filled {
                Filled::Wait(until) => until,
                Filled::Done => return Ok(()),
            };
            let wake_at = match (wake_at, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let ready = self.wait(wake_at, shutdown)?;
            for (i, hung_up) in ready {
                self.collect(i, hung_up, coordinator)?;
            }
            self.retire_past(coordinator.limit(), coordinator);
            let deaths = coordinator.worker_deaths();
            if deaths > max_deaths {
                return Err(DriverError::WorkersKeepDying(deaths));
            }
        }
    }

    /// `-j auto` came down to `limit`: workers in the slots past it with nothing in hand exit
    /// now (those still busy, when their page is back). Tasks always go to the lowest idle
    /// slot, which is below the limit whenever a task may go out at all, so the slots past it
    /// empty and stay empty until the limit grows again, when `dispatch` forks anew.
    fn retire_past(&mut self, limit: usize, coordinator: &mut Coordinator) {
        for i in limit..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(|w| w.task.is_none()) {
                self.bury(i, coordinator);
            }
        }
    }

    /// Whether slot `i` can take a task: no worker yet, or one with nothing in hand.
    fn is_idle(&self, i: usize) -> bool {
        self.slots[i].as_ref().is_none_or(|w| w.task.is_none())
    }

    /// Sends `task` to slot `i`, forking a worker there first if it is empty.
    fn dispatch(
        &mut self,
        i: usize,
        task: Task,
        coordinator: &mut Coordinator,
    ) -> Result<(), DriverError> {
        if self.slots[i].is_none() {
            match self.spawn() {
                Ok(worker) => self.slots[i] = Some(worker),
                Err(e) => {
                    coordinator.complete(task.id, Outcome::Unsent);
                    return Err(e);
                }
            }
        }
        let Some(worker) = self.slots[i].as_mut() else {
            coordinator.complete(task.id, Outcome::Unsent);
            return Ok(());
        };
        let started = Instant::now();
        match send(&mut worker.stream, &task, &mut self.buf) {
            Ok(bytes) => {
                self.ipc.bytes_out += bytes as u64;
                self.ipc.coordinator_ms += started.elapsed().as_secs_f64() * 1000.0;
                worker.task = Some((task.id, started));
            }
            Err(_) => {
                // The worker died while idle: the task never reached it, so it goes back in the
                // queue at no cost, and the worker is reaped.
                coordinator.complete(task.id, Outcome::Unsent);
                self.bury(i, coordinator);
            }
        }
        Ok(())
    }

    /// Waits until a worker has something to say (or has died: idle workers are watched too),
    /// a signal arrives, or `until` passes. Returns the slots to read, and whether each hung up.
    fn wait(
        &mut self,
        until: Option<Instant>,
        shutdown: &Shutdown,
    ) -> Result<Vec<(usize, bool)>, DriverError> {
        let live: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].is_some())
            .collect();
        let busy = live
            .iter()
            .any(|&i| self.slots[i].as_ref().is_some_and(|w| w.task.is_some()));
        let timeout = match until {
            Some(at) => {
                let ms = at.saturating_duration_since(Instant::now()).as_millis();
                // Round up so we never spin on a sub-millisecond wait.
                PollTimeout::try_from(ms.saturating_add(1).min(60_000) as u64)
                    .unwrap_or(PollTimeout::MAX)
            }
            None if !busy => PollTimeout::ZERO,
            None => PollTimeout::NONE,
        };
        let mut fds: Vec<PollFd> = live
            .iter()
            .filter_map(|&i| self.slots[i].as_ref())
            .map(|w| PollFd::new(w.stream.as_fd(), PollFlags::POLLIN))
            .collect();
        fds.push(PollFd::new(shutdown.fd(), PollFlags::POLLIN));
        if let Some((server, _)) = self.metrics {
            fds.push(PollFd::new(server.fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(Vec::new()),
            Err(e) => return Err(DriverError::Runtime(e.into())),
        }
        let readable =
            |fd: Option<&PollFd>| fd.and_then(PollFd::revents).is_some_and(|r| !r.is_empty());
        if let Some((server, metrics)) = self.metrics
            && readable(fds.get(live.len() + 1))
        {
            server.answer_waiting(metrics);
        }
        if readable(fds.get(live.len())) {
            // Empty the pipe, or every later poll would return at once and this loop would
            // spin through the grace period.
            shutdown.wait(Some(std::time::Duration::ZERO));
        }
        Ok(live
            .iter()
            .zip(&fds)
            .filter_map(|(&i, fd)| {
                let revents = fd.revents().filter(|r| !r.is_empty())?;
                Some((i, revents.contains(PollFlags::POLLHUP)))
            })
            .collect())
    }

    /// Reads slot `i`'s message; buries the worker if it died instead, or right after.
    fn collect(
        &mut self,
        i: usize,
        hung_up: bool,
        coordinator: &mut Coordinator,
    ) -> Result<(), DriverError> {
        let Some(worker) = self.slots[i].as_mut() else {
            return Ok(());
        };
        let started = Instant::now();
        match recv::<FromWorker>(&mut worker.stream, &mut self.buf) {
            Ok(Some((FromWorker::Done(result), bytes))) => {
                let received = Instant::now();
                self.ipc.bytes_in += bytes as u64;
                self.ipc.coordinator_ms += (received - started).as_secs_f64() * 1000.0;
                if let Some((id, sent)) = worker.task.take() {
                    self.ipc.round_trips += 1;
                    let worker_ms = result.fetch_ms + result.parse_ms;
                    self.ipc.overhead_ms +=
                        ((received - sent).as_secs_f64() * 1000.0 - worker_ms).max(0.0);
                    coordinator.complete(id, Outcome::Done(result));
                }
                if self.config.fork_per_page || hung_up {
                    // The worker exits after one page (or died right after this one): reap it
                    // now so it never lingers as a zombie; the next task forks a fresh one. It
                    // holds no task, so this costs nothing.
                    self.bury(i, coordinator);
                }
            }
            Ok(Some((FromWorker::InitFailed(reason), _))) => {
                self.bury(i, coordinator);
                return Err(DriverError::WorkerStart(reason));
            }
            Ok(None) | Err(_) => self.bury(i, coordinator),
        }
        Ok(())
    }

    /// Reaps a dead worker and gives its page back to the coordinator.
    fn bury(&mut self, i: usize, coordinator: &mut Coordinator) {
        let Some(worker) = self.slots[i].take() else {
            return;
        };
        drop(worker.stream);
        let status = waitpid(worker.pid, None);
        let id = worker_id(worker.pid);
        coordinator.retired(id);
        // Counted by the coordinator, as it takes the page back (`Coordinator::worker_deaths`).
        if let Some((task, _)) = worker.task {
            let how = match status {
                Ok(WaitStatus::Signaled(_, signal, _)) => format!("was killed by {signal}"),
                Ok(WaitStatus::Exited(_, code)) => format!("exited with status {code}"),
                _ => "vanished".to_owned(),
            };
            let lost = Outcome::Lost {
                worker: id,
                why: Some(how),
            };
            coordinator.complete(task, lost);
        }
    }

    /// Ends every worker: closing its socket asks it to exit; with `terminate` (a signal or an
    /// error) we also send SIGTERM so a worker in the middle of a slow request stops now. Every
    /// child is reaped.
    fn stop(&mut self, terminate: bool, coordinator: &mut Coordinator) {
        for worker in self.stop_all(terminate) {
            coordinator.retired(worker_id(worker));
        }
    }

    /// Stops and reaps every worker; returns their pids.
    fn stop_all(&mut self, terminate: bool) -> Vec<Pid> {
        let workers: Vec<Worker> = self.slots.iter_mut().filter_map(Option::take).collect();
        for worker in &workers {
            if terminate {
                let _ = kill(worker.pid, Signal::SIGTERM);
            }
        }
        workers
            .into_iter()
            .map(|worker| {
                drop(worker.stream);
                let _ = waitpid(worker.pid, None);
                worker.pid
            })
            .collect()
    }
}

impl Drop for Pool<'_> {
    /// A coordinator that panics must not leave workers behind either.
    fn drop(&mut self) {
        self.stop_all(true);
    }
}
