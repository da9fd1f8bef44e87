//! The log: `-v`/`-vv`/`-vvv`, `RUST_LOG`, `--log FILE`, `--log-format`. The library only
//! emits `tracing` events; this installs the one subscriber that writes them.
//!
//! Lines for standard error go through [`crawl::suspend_bar`], so they print above the
//! progress bar instead of through it. Everything is written on the thread that logs, with no
//! writer thread (processes mode forks from a single-threaded process).

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
        Some(path) => Writer::File(Mutex::new(
            File::options()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--log: cannot open {}", path.display()))?,
        )),
        None => Writer::Stderr,
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

/// Where log lines go.
enum Writer {
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
        if self.buf.is_empty() {
            return;
        }
        // A log line that cannot be written is dropped: logging must not stop the crawl.
        match self.to {
            Writer::Stderr => {
                crawl::suspend_bar(|| {
                    let _ = io::stderr().lock().write_all(&self.buf);
                });
            }
            Writer::File(file) => {
                if let Ok(mut file) = file.lock() {
                    let _ = file.write_all(&self.buf);
                }
            }
        }
    }
}
