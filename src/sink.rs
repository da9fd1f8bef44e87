//! Where records go: JSON Lines on standard output or in a file, through one buffered writer.
//!
//! The coordinator is the only writer, so records never interleave, whatever the mode.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use crate::config::Output;
use crate::record::Record;

/// The output file could not be created.
#[derive(Debug, thiserror::Error)]
#[error("--output: cannot create {path}: {source}")]
pub struct OpenError {
    pub path: PathBuf,
    pub source: io::Error,
}

/// A JSON Lines writer.
pub struct Sink {
    out: BufWriter<Box<dyn Write + Send>>,
    name: String,
    /// The output file, when there is one, so [`Sink::sync`] can make it durable.
    file: Option<File>,
}

impl Sink {
    /// Opens the configured output (creating or truncating a file).
    pub fn open(output: &Output) -> Result<Sink, OpenError> {
        Sink::open_with(output, false)
    }

    /// Opens the configured output; with `append`, a file keeps what it holds and records are
    /// added after it (a resumed crawl continues its first run's file).
    pub fn open_with(output: &Output, append: bool) -> Result<Sink, OpenError> {
        match output {
            Output::Stdout => Ok(Sink::from_writer(
                Box::new(io::stdout()),
                "standard output".to_owned(),
            )),
            Output::File(path) => {
                let err = |source| OpenError {
                    path: path.clone(),
                    source,
                };
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(append)
                    .truncate(!append)
                    .open(path)
                    .map_err(err)?;
                let handle = file.try_clone().map_err(err)?;
                let mut sink = Sink::from_writer(Box::new(file), path.display().to_string());
                sink.file = Some(handle);
                Ok(sink)
            }
        }
    }

    /// A sink over any writer (tests, library users).
    pub fn from_writer(writer: Box<dyn Write + Send>, name: String) -> Sink {
        Sink {
            out: BufWriter::with_capacity(64 * 1024, writer),
            name,
            file: None,
        }
    }

    /// Flushes buffered records and, for a file, waits until they are on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        match &self.file {
            Some(file) => file.sync_data(),
            None => Ok(()),
        }
    }

    /// Appends one record as a line.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// Flushes buffered records.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Where the records go, for the summary.
    pub fn name(&self) -> &str {
        &self.name
    }
}
