//! Ctrl-C and SIGTERM: turning a signal into an orderly stop.
//!
//! The handler does only what is async-signal-safe: it stores the signal number in an atomic,
//! counts it, and writes one byte to a self-pipe. Whoever watches the pipe — the processes
//! mode's `poll(2)` loop, or a small watcher thread in the other modes ([`crate::modes`]) —
//! wakes at once, tells the coordinator to stop handing out work, gives pages in flight a grace
//! period to finish, and the binary exits with 128 + the signal number, as shells expect. A
//! second signal cuts the grace period short.
//!
//! The handlers are process-wide, so [`Shutdown`] restores whatever was installed before it
//! when it is dropped: a library user's own handlers survive a crawl.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

use nix::fcntl::OFlag;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The signal that asked us to stop (0: none yet).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Signals received since [`Shutdown::install`].
static COUNT: AtomicU32 = AtomicU32::new(0);
/// The write end of the self-pipe (-1: not installed).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Writes one byte to the self-pipe, if there is one. Async-signal-safe.
fn poke() {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking, so a full pipe (a
        // wake-up already pending) just fails, which is fine.
        unsafe {
            nix::libc::write(fd, [1u8].as_ptr().cast(), 1);
        }
    }
}

extern "C" fn on_signal(signal: nix::libc::c_int) {
    // write(2) may set errno; the interrupted code must not see it change.
    let saved = nix::errno::Errno::last_raw();
    // The first signal names the stop; a second (say, Ctrl-C again) only hurries it.
    let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    COUNT.fetch_add(1, Ordering::SeqCst);
    poke();
    nix::errno::Errno::set_raw(saved);
}

/// A signal that stops a crawl in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum StopSignal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: `kill`, a service manager.
    Terminate,
}

impl StopSignal {
    /// The signal's number (2 or 15): a shell reports a process it stopped as 128 + this.
    pub fn number(self) -> i32 {
        match self {
            StopSignal::Interrupt => nix::libc::SIGINT,
            StopSignal::Terminate => nix::libc::SIGTERM,
        }
    }

    /// "SIGINT" or "SIGTERM".
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }
}

impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Installed SIGINT and SIGTERM handlers, with a pipe that becomes readable when one fires.
///
/// One at a time per process: the handlers and the pipe are process-wide, so a second
/// [`Shutdown::install`] while one is live is refused rather than left to steal the first
/// one's wake-ups. The pipe is made once and never closed, so the handler can never write to a
/// descriptor that has been closed and reused for something else.
pub struct Shutdown {
    read: BorrowedFd<'static>,
    /// The dispositions to put back on drop.
    previous: Vec<(Signal, SigAction)>,
}

/// Signal handling could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// A crawl in this process holds the handlers already (one crawl at a time).
    #[error(
        "another crawl is already running in this process (a crawl handles SIGINT and SIGTERM \
         for its duration, so run one at a time)"
    )]
    Busy,
    /// Making the wake-up pipe or installing a handler failed.
    #[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
    Os(#[from] std::io::Error),
}

/// Whether a [`Shutdown`] is live.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The self-pipe: read end, write end.
static PIPE: OnceLock<(OwnedFd, OwnedFd)> = OnceLock::new();

impl Shutdown {
    /// Installs the handlers. Starts no thread, so the processes mode may fork after it.
    pub fn install() -> Result<Shutdown, ShutdownError> {
        if ACTIVE.swap(true, Ordering::SeqCst) {
            return Err(ShutdownError::Busy);
        }
        Shutdown::install_active().inspect_err(|_| ACTIVE.store(false, Ordering::SeqCst))
    }

    fn install_active() -> Result<Shutdown, ShutdownError> {
        if PIPE.get().is_none() {
            // Only the holder of ACTIVE gets here, so nobody else can be setting it.
            let pipe = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
                .map_err(std::io::Error::from)?;
            let _ = PIPE.set(pipe);
        }
        let (read, write) = PIPE
            .get()
            .ok_or(ShutdownError::Os(nix::Error::EINVAL.into()))?;
        // Wake-ups left over from an earlier crawl must not stop this one.
        let mut buf = [0u8; 64];
        while matches!(nix::unistd::read(read, &mut buf), Ok(n) if n > 0) {}
        RECEIVED.store(0, Ordering::SeqCst);
        COUNT.store(0, Ordering::SeqCst);
        WAKE_FD.store(write.as_raw_fd(), Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let mut previous = Vec::new();
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler only touches atomics and calls write(2).
            match unsafe { sigaction(signal, &action) } {
                Ok(old) => previous.push((signal, old)),
                Err(e) => {
                    drop(Shutdown {
                        read: read.as_fd(),
                        previous,
                    });
                    return Err(std::io::Error::from(e).into());
                }
            }
        }
        Ok(Shutdown {
            read: read.as_fd(),
            previous,
        })
    }

    /// How many signals have arrived (a second one means "stop now").
    pub fn count(&self) -> u32 {
        COUNT.load(Ordering::SeqCst)
    }

    /// Wakes whoever waits on [`Shutdown::fd`] without a signal: a watcher thread checks why
    /// it woke, and leaves if the crawl is over.
    pub fn wake(&self) {
        poke();
    }

    /// Sleeps until the pipe is readable (a signal or [`Shutdown::wake`]) or `timeout` passes
    /// (`None`: no limit), and drains it. Returns whether it woke before the timeout.
    pub fn wait(&self, timeout: Option<std::time::Duration>) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let timeout = match timeout {
            None => PollTimeout::NONE,
            // Rounded up, so the last fraction of a millisecond is slept, not spun.
            Some(t) => PollTimeout::try_from(t.as_micros().div_ceil(1000).min(60_000) as u64)
                .unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(self.read, PollFlags::POLLIN)];
        let woke = matches!(poll(&mut fds, timeout), Ok(n) if n > 0);
        if woke {
            let mut buf = [0u8; 64];
            let _ = nix::unistd::read(self.read, &mut buf);
        }
        woke
    }

    /// The signal received, if any.
    pub fn requested(&self) -> Option<StopSignal> {
        match RECEIVED.load(Ordering::SeqCst) {
            nix::libc::SIGINT => Some(StopSignal::Interrupt),
            nix::libc::SIGTERM => Some(StopSignal::Terminate),
            _ => None,
        }
    }

    /// Becomes readable when a signal arrives; poll it beside your other descriptors.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read
    }

    /// Holds SIGINT and SIGTERM back until [`Shutdown::restore`] puts the returned mask back,
    /// so a fork can happen without a child receiving one before it has reset its handlers.
    pub fn block() -> nix::Result<SigSet> {
        let mut both = SigSet::empty();
        both.add(Signal::SIGINT);
        both.add(Signal::SIGTERM);
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_BLOCK,
            Some(&both),
            Some(&mut old),
        )?;
        Ok(old)
    }

    /// Restores a signal mask saved by [`Shutdown::block`].
    pub fn restore(mask: &SigSet) {
        let _ = nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(mask),
            None,
        );
    }

    /// Restores the default dispositions in a forked child, which must not run the parent's
    /// handler (and must not write to the parent's pipe). SIGINT is ignored there: the parent
    /// decides when workers stop.
    pub fn reset_in_child() {
        WAKE_FD.store(-1, Ordering::SeqCst);
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // SAFETY: installing SIG_IGN / SIG_DFL is always sound.
        unsafe {
            let _ = sigaction(Signal::SIGINT, &ignore);
            let _ = sigaction(Signal::SIGTERM, &default);
        }
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        for (signal, action) in &self.previous {
            // SAFETY: this puts back a disposition that was installed before ours.
            let _ = unsafe { sigaction(*signal, action) };
        }
        // The pipe stays open (see the type's doc), so a handler still running elsewhere
        // writes to it harmlessly.
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_at_a_time() {
        let first = Shutdown::install().expect("installs");
        assert!(matches!(Shutdown::install(), Err(ShutdownError::Busy)));
        first.wake();
        assert!(first.wait(Some(std::time::Duration::from_secs(5))), "woken");
        assert_eq!(first.requested(), None, "a wake-up is not a signal");
        drop(first);
        // A stale wake-up from the first does not carry over.
        let second = Shutdown::install().expect("installs again once the first is gone");
        second.wake();
        drop(second);
        let third = Shutdown::install().expect("installs");
        assert!(!third.wait(Some(std::time::Duration::from_millis(10))));
    }
}
