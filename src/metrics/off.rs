//! Without the `metrics` feature: stand-ins for the registry and the listener, with the names
//! and calls the front door, the drivers and the coordinator make. `Config::validate` refuses
//! `metrics` in such a build, and [`serve::Server::bind`], the one way to a server, refuses
//! too: no [`serve::Server`] can exist, so every call that needs one is code that cannot run
//! (the compiler checks it: the types have no values).

use crate::config::Mode;

use super::Figures;

/// No registry: what is published is dropped (and with no server, nothing ever is).
pub(crate) struct Metrics;

impl Metrics {
    pub(crate) fn new(_mode: Mode) -> Self {
        Metrics
    }

    pub(crate) fn publish(&self, _figures: Figures) {}
}

pub(crate) mod serve {
    use std::io;
    use std::net::SocketAddr;
    use std::os::fd::BorrowedFd;
    use std::sync::Arc;
    use std::time::Instant;

    use super::Metrics;

    /// No listener: none can be made.
    pub(crate) enum Server {}

    impl Server {
        pub(crate) fn bind(_addr: SocketAddr) -> io::Result<Server> {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this build of crawl has no Prometheus metrics (the `metrics` feature)",
            ))
        }

        pub(crate) fn addr(&self) -> SocketAddr {
            match *self {}
        }

        pub(crate) fn fd(&self) -> BorrowedFd<'_> {
            match *self {}
        }

        pub(crate) fn answer_waiting(&self, _metrics: &Metrics) {
            match *self {}
        }

        pub(crate) fn serve_until(
            &self,
            _metrics: &Metrics,
            _stop: BorrowedFd<'_>,
            _deadline: Option<Instant>,
        ) {
            match *self {}
        }

        pub(crate) fn spawn(self: &Arc<Self>, _metrics: Arc<Metrics>) -> io::Result<Background> {
            match **self {}
        }
    }

    /// No server thread either.
    pub(crate) enum Background {}

    impl Background {
        pub(crate) fn stop(self) {
            match self {}
        }
    }
}
