//! The `--metrics` listener: a minimal HTTP/1.1 server with one page, `GET /metrics`.
//!
//! One request per connection, answered by [`serve_one`] whoever accepts it: a small thread
//! in the sequential, threads and async modes ([`Server::spawn`]); in processes mode the
//! coordinator's own `poll(2)` loop, which must stay single-threaded to fork
//! ([`Server::answer_waiting`]); and the calling thread for `--metrics-linger` after the crawl
//! ([`Server::serve_until`]). Short timeouts bound what a slow client can hold up.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::Metrics;

/// How long one scrape may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest request head read; a scrape's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// The pause after a failed accept other than a client gone (see [`Server::answer_waiting`]).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Connections answered per turn of processes mode's loop, so scrapes cannot starve it.
const PER_TURN: usize = 4;

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

    /// Answers the scrapes waiting now, a few at most, and returns.
    pub(crate) fn answer_waiting(&self, metrics: &Metrics) {
        for _ in 0..PER_TURN {
            match self.listener.accept() {
                Ok((stream, _)) => serve_one(stream, metrics),
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
                self.answer_waiting(metrics);
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
        Ok(Background { wake, thread })
    }
}

/// The server thread of [`Server::spawn`].
pub(crate) struct Background {
    wake: UnixStream,
    thread: JoinHandle<()>,
}

impl Background {
    /// Stops the thread (after the scrape it may be answering) and waits for it.
    pub(crate) fn stop(self) {
        let _ = (&self.wake).write_all(b"x");
        let _ = self.thread.join();
    }
}

/// Reads one request from `stream` and answers it: 200 with the metrics for `GET /metrics`,
/// 404 for any other path, 405 for any other method. The connection is closed after.
pub(crate) fn serve_one(mut stream: TcpStream, metrics: &Metrics) {
    // An accepted socket does not inherit the listener's non-blocking flag on Linux; be sure.
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(CLIENT_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(CLIENT_TIMEOUT)).is_err()
    {
        return;
    }
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
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
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.flush();
}
