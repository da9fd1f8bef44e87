//! Where records go: JSON Lines or CSV, on standard output or in a file, through one buffered
//! writer.
//!
//! The coordinator is the only writer, so records never interleave, whatever the mode.
//!
//! CSV needs its columns before the first row, so they are fixed up front: the record's own
//! keys ([`Record::KEYS`]), then the extractor's declared columns (the `--field` names), then a
//! last `fields` column holding any key nobody declared as a JSON object (empty when there is
//! none) — nothing an extractor returns is dropped. Values that are not text or numbers
//! (lists, objects) are written as JSON.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use serde_json::Value;

use crate::config::{Format, Output};
use crate::record::Record;

/// The output file could not be created.
#[derive(Debug, thiserror::Error)]
#[error("--output: cannot create {path}: {source}")]
pub struct OpenError {
    /// The output file's path, as configured.
    pub path: PathBuf,
    /// The operating system's error.
    pub source: io::Error,
}

/// A record writer.
pub struct Sink {
    out: Writer,
    name: String,
    /// The output file, when there is one, so [`Sink::sync`] can make it durable.
    file: Option<File>,
}

enum Writer {
    Jsonl(BufWriter<Box<dyn Write + Send>>),
    Csv {
        // Boxed: the CSV writer carries its own state and buffer bookkeeping, and one sink per
        // crawl makes the allocation free.
        out: Box<csv::Writer<Box<dyn Write + Send>>>,
        /// The extractor's declared columns, after the record's own.
        columns: Vec<String>,
        /// Whether the header still has to be written (not when appending to a file that has
        /// one already).
        header_due: bool,
    },
}

impl Sink {
    /// Opens the configured output in `format`; with `append`, a file keeps what it holds and
    /// records are added after it (a resumed crawl continues its first run's file).
    pub fn open_with(output: &Output, format: &Format, append: bool) -> Result<Sink, OpenError> {
        match output {
            Output::Stdout => Ok(Sink::from_writer(
                Box::new(io::stdout()),
                "standard output".to_owned(),
                format,
                true,
            )),
            Output::Discard => Ok(Sink::from_writer(
                Box::new(io::sink()),
                "nowhere (discarded)".to_owned(),
                format,
                false,
            )),
            Output::File(path) => {
                let err = |source| OpenError {
                    path: path.clone(),
                    source,
                };
                let (file, meta) = open_output(path, append).map_err(err)?;
                let empty = meta.len() == 0;
                // Only a regular file is synced: `/dev/null` or a FIFO refuses fsync.
                let handle = if meta.is_file() {
                    Some(file.try_clone().map_err(err)?)
                } else {
                    None
                };
                let name = path.display().to_string();
                let mut sink = Sink::from_writer(Box::new(file), name, format, empty);
                sink.file = handle;
                Ok(sink)
            }
        }
    }

    /// A sink over any writer (tests, library users); `header` says whether a CSV header is
    /// due.
    pub fn from_writer(
        writer: Box<dyn Write + Send>,
        name: String,
        format: &Format,
        header: bool,
    ) -> Sink {
        let out = match format {
            Format::Jsonl => Writer::Jsonl(BufWriter::with_capacity(64 * 1024, writer)),
            Format::Csv { columns } => Writer::Csv {
                out: Box::new(
                    csv::WriterBuilder::new()
                        .buffer_capacity(64 * 1024)
                        .from_writer(writer),
                ),
                columns: columns.clone(),
                header_due: header,
            },
        };
        Sink {
            out,
            name,
            file: None,
        }
    }

    /// Appends one record.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        match &mut self.out {
            Writer::Jsonl(out) => {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")
            }
            Writer::Csv {
                out,
                columns,
                header_due,
            } => {
                if std::mem::take(header_due) {
                    let mut header: Vec<&str> = Record::KEYS.to_vec();
                    header.extend(columns.iter().map(String::as_str));
                    header.push("fields");
                    out.write_record(&header)?;
                }
                out.write_record(csv_row(record, columns)?)?;
                Ok(())
            }
        }
    }

    /// Flushes buffered records.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Writer::Jsonl(out) => out.flush(),
            Writer::Csv { out, .. } => out.flush(),
        }
    }

    /// Flushes buffered records and, for a file, waits until they are on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        match &self.file {
            Some(file) => file.sync_data(),
            None => Ok(()),
        }
    }

    /// Where the records go, for the summary.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Opens an output file (records, items): created, or emptied if it exists; with `append` (a
/// resumed crawl) it keeps what it holds, less a last line a crash left torn. Its metadata
/// says whether it is empty and whether it is a regular file.
pub(crate) fn open_output(
    path: &std::path::Path,
    append: bool,
) -> io::Result<(File, std::fs::Metadata)> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)?;
    if append {
        cut_torn_tail(&file)?;
    }
    let meta = file.metadata()?;
    Ok((file, meta))
}

/// Cuts a last line left without its newline by a crash, so the next line appended starts on a
/// line of its own. For records, that page has no journal line saying it is done, so it is
/// fetched again; the journal uses this for itself too.
pub(crate) fn cut_torn_tail(file: &File) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let meta = file.metadata()?;
    // `/dev/null` or a pipe has no tail to cut (and refuses set_len): a resumed crawl writing
    // its records nowhere must not fail for it.
    if !meta.is_file() {
        return Ok(());
    }
    let len = meta.len();
    let mut reader = file;
    let mut pos = len;
    let mut buf = [0u8; 4096];
    while pos > 0 {
        let start = pos.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(pos - start) as usize];
        reader.seek(SeekFrom::Start(start))?;
        reader.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(());
        }
        pos = start;
    }
    file.set_len(0)
}

/// One CSV row: the record's keys, the declared columns, then undeclared fields as JSON.
fn csv_row(record: &Record, columns: &[String]) -> io::Result<Vec<String>> {
    let Value::Object(mut map) = serde_json::to_value(record)? else {
        return Err(io::Error::other("a record is not a JSON object"));
    };
    let mut row = Vec::with_capacity(Record::KEYS.len() + columns.len() + 1);
    for key in Record::KEYS
        .iter()
        .copied()
        .chain(columns.iter().map(String::as_str))
    {
        row.push(cell(map.remove(key).unwrap_or(Value::Null)));
    }
    for key in Record::KEYS {
        map.remove(key);
    }
    row.push(if map.is_empty() {
        String::new()
    } else {
        Value::Object(map).to_string()
    });
    Ok(row)
}

/// A JSON value as a CSV cell: text as is, null as empty, lists and objects as JSON.
pub(crate) fn cell(value: Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        nested => nested.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn record(fields: serde_json::Value) -> Record {
        Record {
            url: "http://a.test/p".to_owned(),
            final_url: None,
            status: Some(200),
            depth: 1,
            content_type: Some("text/html".to_owned()),
            bytes: 10,
            truncated: false,
            title: Some("A \"quoted\", title".to_owned()),
            links: 2,
            attempts: 1,
            fetch_ms: 1.5,
            parse_ms: 0.25,
            worker: None,
            error: None,
            new: None,
            changed: None,
            unchanged: None,
            gone: None,
            fields: match fields {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            },
        }
    }

    #[test]
    fn csv_has_declared_columns_and_keeps_undeclared_fields() {
        let buf = Shared::default();
        let format = Format::Csv {
            columns: vec!["price".to_owned(), "img".to_owned()],
        };
        let mut sink = Sink::from_writer(Box::new(buf.clone()), "test".to_owned(), &format, true);
        let fields = serde_json::json!({"price": "9.99", "img": ["a.png", "b.png"], "extra": 1});
        sink.write(&record(fields)).expect("write");
        sink.write(&record(serde_json::json!({}))).expect("write");
        sink.flush().expect("flush");
        let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("UTF-8");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(&header[..2], ["url", "final_url"]);
        assert_eq!(&header[14..], ["price", "img", "fields"]);
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][7], "A \"quoted\", title");
        assert_eq!(&rows[0][14], "9.99");
        assert_eq!(&rows[0][15], r#"["a.png","b.png"]"#);
        assert_eq!(&rows[0][16], r#"{"extra":1}"#);
        assert_eq!(&rows[1][14], "");
        assert_eq!(&rows[1][16], "");
    }

    #[test]
    fn jsonl_puts_fields_inline() {
        let buf = Shared::default();
        let mut sink =
            Sink::from_writer(Box::new(buf.clone()), "t".to_owned(), &Format::Jsonl, true);
        sink.write(&record(serde_json::json!({"price": "9.99"})))
            .expect("write");
        sink.flush().expect("flush");
        let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("UTF-8");
        let back: Record = serde_json::from_str(text.trim()).expect("parse back");
        assert_eq!(back.fields["price"], "9.99");
        let value: Value = serde_json::from_str(text.trim()).expect("JSON");
        assert_eq!(
            value["price"], "9.99",
            "a field sits beside url, not nested"
        );
    }
}
