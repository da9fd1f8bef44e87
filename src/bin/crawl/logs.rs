//! The log: `-v`/`-vv`/`-vvv`, `RUST_LOG`, `--log FILE`, `--log-format`. The library only
//! emits `tracing` events; this installs the one subscriber that writes them.
//!
//! Lines for standard error go through [`crawl::suspend_bar`], so they print above the
//! progress bar instead of through it. Everything is written on the thread that logs, with no
//! writer thread (processes mode forks from a single-threaded process).
//!
//! Only the process that installed the subscriber writes: processes mode's forked workers
//! inherit it, and the HTTP stack they run emits events of its own (`RUST_LOG=trace`), which
//! would land beside the coordinator's lines and redraw the workers' copies of the progress
//! bar. The coordinator's own events already tell every request.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use crawl::cli::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter for `verbose` `-v`s: crawl's own events at info, debug or trace; warnings only
/// by default, so a plain run's standard error is what it always was.
fn default_filter(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "warn,crawl=info",
        2 => "warn,crawl=debug",
        _ => "warn,crawl=trace",
    }
}

/// Installs the subscriber. `RUST_LOG`, when set, replaces the `-v` filter.
pub fn install(verbose: u8, file: Option<&Path>, format: LogFormat) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => {
            EnvFilter::try_new(&text).with_context(|| format!("RUST_LOG: cannot read {text:?}"))?
        }
        _ => EnvFilter::new(default_filter(verbose)),
    };
    let writer = match file {
        Some(path) => To::File(Mutex::new(
            File::options()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--log: cannot open {}", path.display()))?,
        )),
        None => To::Stderr,
    };
    let writer = Writer {
        to: writer,
        pid: std::process::id(),
    };
    let ansi = file.is_none() && io::IsTerminal::is_terminal(&io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

/// Where log lines go, and from which process.
struct Writer {
    to: To,
    /// The process that installed the subscriber: the only one whose lines are written.
    pid: u32,
}

/// Where log lines go.
enum To {
    /// Standard error, above the progress bar.
    Stderr,
    /// `--log FILE`: one event is one `write_all`, so lines never interleave.
    File(Mutex<File>),
}

impl<'a> MakeWriter<'a> for Writer {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            to: self,
            buf: Vec::with_capacity(256),
        }
    }
}

/// One event's text, gathered and written whole when dropped.
pub struct Line<'a> {
    to: &'a Writer,
    buf: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        // A forked worker's line (see the module doc) is dropped; so is an empty one.
        if self.buf.is_empty() || std::process::id() != self.to.pid {
            return;
        }
        // A log line that cannot be written is dropped: logging must not stop the crawl.
        match &self.to.to {
            To::Stderr => {
                crawl::suspend_bar(|| {
                    let _ = io::stderr().lock().write_all(&self.buf);
                });
            }
            To::File(file) => {
                if let Ok(mut file) = file.lock() {
                    let _ = file.write_all(&self.buf);
                }
            }
        }
    }
}
