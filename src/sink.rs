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
}

impl Sink {
    /// Opens the configured output (creating or truncating a file).
    pub fn open(output: &Output) -> Result<Sink, OpenError> {
        let (writer, name): (Box<dyn Write + Send>, String) = match output {
            Output::Stdout => (Box::new(io::stdout()), "standard output".to_owned()),
            Output::File(path) => {
                let file = File::create(path).map_err(|source| OpenError {
                    path: path.clone(),
                    source,
                })?;
                (Box::new(file), path.display().to_string())
            }
        };
        Ok(Sink::from_writer(writer, name))
    }

    /// A sink over any writer (tests, library users).
    pub fn from_writer(writer: Box<dyn Write + Send>, name: String) -> Sink {
        Sink {
            out: BufWriter::with_capacity(64 * 1024, writer),
            name,
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
