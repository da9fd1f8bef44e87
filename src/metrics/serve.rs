//! The `--metrics` listener: a minimal HTTP/1.1 server with one page, `GET /metrics`.
//!
//! One request per connection, answered by [`serve_one`] whoever accepts it: a small thread
//! in the sequential, threads and async modes ([`Server::spawn`]); in processes mode the
//! coordinator's own `poll(2)` loop, which must stay single-threaded to fork
//! ([`Server::answer_waiting`]); and the calling thread for `--metrics-linger` after the crawl
//! ([`Server::serve_until`]). One deadline per request, not per read, bounds what a slow
//! client can hold up: a client that trickles its request a byte at a time is cut off when
//! the deadline passes, however steadily it trickles.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::Metrics;

/// How long one scrape may take, its request and the answer together, when a thread of its
/// own (or the linger) serves it.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(500);
/// The same in processes mode, where the coordinator's loop waits while a scrape is served:
/// a scraper on a LAN sends its request in one packet, well within it.
const INLINE_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest request head read; a scrape's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// The pause after a failed accept other than a client gone (see [`Server::answer_waiting`]).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Connections answered per turn of a server thread's loop, before it looks at its stop
/// descriptor again.
const PER_TURN: usize = 4;
/// The same in processes mode: one, so the coordinator waits on at most one client (at most
/// [`INLINE_TIMEOUT`]) between two looks at its workers.
const PER_TURN_INLINE: usize = 1;

/// The bound `--metrics` socket.
pub(crate) struct Server {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Server {
    /// Listens on `addr` (port 0: one the OS picks), non-blocking.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok(Server { listener, addr })
    }

    /// The address it listens on, the port picked.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// For a driver's `poll(2)` set: readable when a scrape is waiting.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Answers a scrape waiting now, if any, and returns: processes mode's coordinator calls
    /// it from its loop, so it serves one client, and that one for [`INLINE_TIMEOUT`] at most.
    pub(crate) fn answer_waiting(&self, metrics: &Metrics) {
        self.answer(metrics, PER_TURN_INLINE, INLINE_TIMEOUT);
    }

    /// Answers up to `count` scrapes waiting now, each within `budget`, and returns.
    fn answer(&self, metrics: &Metrics, count: usize, budget: Duration) {
        for _ in 0..count {
            match self.listener.accept() {
                Ok((stream, _)) => serve_one(stream, metrics, Instant::now() + budget),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // A client gone before accept is that client's problem, not the crawl's. But
                // out of descriptors (EMFILE) the listener stays readable: pause a moment, so
                // the loop that polls it does not spin on a CPU the crawl needs.
                Err(e) => {
                    if e.kind() != io::ErrorKind::ConnectionAborted {
                        std::thread::sleep(ACCEPT_BACKOFF);
                    }
                    return;
                }
            }
        }
    }

    /// Answers scrapes until `stop` is readable or `deadline` passes.
    pub(crate) fn serve_until(
        &self,
        metrics: &Metrics,
        stop: BorrowedFd<'_>,
        deadline: Option<Instant>,
    ) {
        loop {
            let timeout = match deadline {
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return;
                    }
                    PollTimeout::try_from(left.as_millis().saturating_add(1).min(60_000) as u64)
                        .unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            let mut fds = [
                PollFd::new(self.fd(), PollFlags::POLLIN),
                PollFd::new(stop, PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
            if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                return;
            }
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                self.answer(metrics, PER_TURN, CLIENT_TIMEOUT);
            }
        }
    }

    /// Serves on a thread of its own until [`Background::stop`].
    pub(crate) fn spawn(self: &Arc<Self>, metrics: Arc<Metrics>) -> io::Result<Background> {
        let (wake, stop) = UnixStream::pair()?;
        let server = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("crawl-metrics".to_owned())
            .spawn(move || server.serve_until(&metrics, stop.as_fd(), None))?;
        Ok(Background {
            wake,
            thread: Some(thread),
        })
    }
}

/// The server thread of [`Server::spawn`], stopped when dropped: however the crawl ends, an
/// error or a panic included, no thread is left behind answering on the port.
pub(crate) struct Background {
    wake: UnixStream,
    /// `None` once joined.
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Stops the thread (after the scrape it may be answering) and waits for it.
    pub(crate) fn stop(self) {
        drop(self);
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = (&self.wake).write_all(b"x");
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request from `stream` and answers it: 200 with the metrics for `GET /metrics`,
/// 404 for any other path, 405 for any other method. The connection is closed after, and
/// by `deadline` at the latest: a client still sending its request then gets no answer, and
/// one that stops reading the answer gets no more of it.
pub(crate) fn serve_one(mut stream: TcpStream, metrics: &Metrics, deadline: Instant) {
    // An accepted socket does not inherit the listener's non-blocking flag on Linux; be sure.
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    // The time left before `deadline` as a socket timeout (`None` once it has passed; a zero
    // timeout would mean "block forever").
    let left =
        || Some(deadline.saturating_duration_since(Instant::now())).filter(|left| !left.is_zero());
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        // Each read may take only what is left of the request's time, not a fresh timeout.
        let Some(left) = left() else { break };
        if stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    if left().is_none() {
        return;
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.render(),
        ),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: the metrics are at /metrics\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET /metrics\n".to_owned(),
        ),
    };
    let mut answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        answer.push_str(&body);
    }
    // A few kilobytes, which the socket's buffer takes at once unless the client stops
    // reading; then the deadline cuts it off.
    let Some(left) = left() else { return };
    if stream.set_write_timeout(Some(left)).is_err() {
        return;
    }
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.flush();
}
