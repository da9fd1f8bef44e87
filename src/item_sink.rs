//! Where items go on their own (`--items FILE`, [`crate::ItemsFile`]): one item per line of
//! JSON Lines, or one row of CSV, with none of the record's keys.
//!
//! The records still go to the crawl's output; this file holds only what the extractor (or
//! `--field`) found, as Scrapy's `-O items.jsonl` does. It is written by the ledger beside
//! each record, flushed and synced with the records, and appended to when a `--state` crawl
//! resumes, so items follow the records' promise: nothing lost.
//!
//! CSV needs its columns before the first row: the declared ones ([`crate::ItemsFile::columns`],
//! else the extractor's [`crate::scrape::Extractor::columns`], the `--field` names), else the
//! first item's keys; a resumed file keeps the header it has. Keys outside the columns go, as
//! one JSON object, in a last `extra` column, so nothing an extractor returns is dropped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::{ItemsFile, ItemsFormat};
use crate::sink::open_output;

/// The last CSV column: an item's keys outside the header.
const EXTRA: &str = "extra";

/// The items file could not be opened (or its header, on a resume, read).
#[derive(Debug, thiserror::Error)]
#[error("--items: cannot use {path}: {source}")]
pub struct ItemsOpenError {
    /// The items file's path, as configured.
    pub path: PathBuf,
    /// The operating system's error, or what is wrong with the file's header.
    pub source: io::Error,
}

/// The items writer.
pub(crate) struct ItemSink {
    out: Out,
    file: File,
    /// A regular file, which can be synced (not `/dev/null` or a FIFO).
    regular: bool,
    path: PathBuf,
    /// Put the page's final URL first, under `url` (the `--field` items).
    with_url: bool,
    /// Items this run wrote, for the summary.
    written: u64,
}

enum Out {
    Jsonl(BufWriter<File>),
    Csv {
        out: Box<csv::Writer<File>>,
        /// `None` until the first item says them (no declared columns).
        columns: Option<Vec<String>>,
        header_due: bool,
    },
}

impl ItemSink {
    /// Opens `items`; `declared` are the extractor's columns (used when the file declares
    /// none); with `append`, a file keeps what it holds (a resumed crawl).
    pub(crate) fn open(
        items: &ItemsFile,
        declared: Vec<String>,
        append: bool,
    ) -> Result<ItemSink, ItemsOpenError> {
        let path = items.path.clone();
        let err = |source| ItemsOpenError {
            path: path.clone(),
            source,
        };
        let (file, meta) = open_output(&path, append).map_err(err)?;
        let (empty, regular) = (meta.len() == 0, meta.is_file());
        let writer = file.try_clone().map_err(err)?;
        let out = match items.format() {
            ItemsFormat::Jsonl => Out::Jsonl(BufWriter::with_capacity(64 * 1024, writer)),
            ItemsFormat::Csv => {
                let columns = if !empty {
                    Some(header_of(&file, &path).map_err(err)?)
                } else {
                    let mut columns = if items.columns.is_empty() {
                        declared
                    } else {
                        items.columns.clone()
                    };
                    // With no columns declared, the first item's keys (`url` first) say them.
                    if items.with_url && !columns.is_empty() && !columns.iter().any(|c| c == "url")
                    {
                        columns.insert(0, "url".to_owned());
                    }
                    (!columns.is_empty()).then_some(columns)
                };
                Out::Csv {
                    out: Box::new(
                        csv::WriterBuilder::new()
                            .buffer_capacity(64 * 1024)
                            .from_writer(writer),
                    ),
                    columns,
                    header_due: empty,
                }
            }
        };
        Ok(ItemSink {
            out,
            file,
            regular,
            path,
            with_url: items.with_url,
            written: 0,
        })
    }

    /// Appends `item`, found on the page whose final URL is `url`.
    pub(crate) fn write(&mut self, item: &Value, url: &str) -> io::Result<()> {
        self.written += 1;
        let item = if self.with_url {
            with_url(item, url)
        } else {
            item.clone()
        };
        match &mut self.out {
            Out::Jsonl(out) => {
                serde_json::to_writer(&mut *out, &item)?;
                out.write_all(b"\n")
            }
            Out::Csv {
                out,
                columns,
                header_due,
            } => {
                let map = match item {
                    Value::Object(map) => map,
                    // An item that is not an object is one value: one `item` column.
                    other => Map::from_iter([("item".to_owned(), other)]),
                };
                let columns = columns.get_or_insert_with(|| map.keys().cloned().collect());
                if std::mem::take(header_due) {
                    let header = columns.iter().map(String::as_str).chain([EXTRA]);
                    out.write_record(header)?;
                }
                out.write_record(row(map, columns))?;
                Ok(())
            }
        }
    }

    /// Flushes buffered items.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Out::Jsonl(out) => out.flush(),
            Out::Csv { out, .. } => out.flush(),
        }
    }

    /// Flushes, then waits until the items are on disk.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        if self.regular {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Items written by this run.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The file's path, for errors.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// `item` with `"url": url` first (an object item keeps its own `url` if it has one; any
/// other item goes under `item`).
fn with_url(item: &Value, url: &str) -> Value {
    let mut map = Map::new();
    map.insert("url".to_owned(), Value::String(url.to_owned()));
    match item {
        Value::Object(fields) => {
            for (k, v) in fields {
                map.insert(k.clone(), v.clone());
            }
        }
        other => {
            map.insert("item".to_owned(), other.clone());
        }
    }
    Value::Object(map)
}

/// One CSV row: the columns in order, then keys outside them as a JSON object.
fn row(mut map: Map<String, Value>, columns: &[String]) -> Vec<String> {
    let mut row: Vec<String> = columns
        .iter()
        .map(|c| crate::sink::cell(map.remove(c).unwrap_or(Value::Null)))
        .collect();
    row.push(if map.is_empty() {
        String::new()
    } else {
        Value::Object(map).to_string()
    });
    row
}

/// The columns of an items CSV written by an earlier run (its header, less `extra`).
fn header_of(file: &File, path: &Path) -> io::Result<Vec<String>> {
    let mut reader = BufReader::new(file);
    reader.seek(io::SeekFrom::Start(0))?;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut fields: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes())
        .records()
        .next()
        .transpose()
        .map_err(io::Error::other)?
        .map(|r| r.iter().map(str::to_owned).collect())
        .unwrap_or_default();
    if fields.pop().as_deref() != Some(EXTRA) {
        return Err(io::Error::other(format!(
            "{} has no items header (its first line should end with `{EXTRA}`)",
            path.display()
        )));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("crawl-items-{}-{name}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir.join(name)
    }

    #[test]
    fn jsonl_items_have_no_record_keys_and_url_comes_first_when_asked() {
        let path = temp("a.jsonl");
        let items = ItemsFile::new(&path).with_url(true);
        let mut sink = ItemSink::open(&items, Vec::new(), false).expect("open");
        sink.write(&json!({"h1": "One", "n": 2}), "http://a.test/1")
            .expect("write");
        sink.write(&json!(7), "http://a.test/2").expect("write");
        sink.sync().expect("sync");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "{\"url\":\"http://a.test/1\",\"h1\":\"One\",\"n\":2}\n{\"url\":\"http://a.test/2\",\"item\":7}\n"
        );
    }

    #[test]
    fn csv_columns_come_from_the_first_item_and_a_resume_keeps_them() {
        let path = temp("b.csv");
        let items = ItemsFile::new(&path);
        assert_eq!(items.format(), ItemsFormat::Csv, "by extension");
        let mut sink = ItemSink::open(&items, Vec::new(), false).expect("open");
        sink.write(&json!({"name": "Tea", "price": 4}), "u")
            .expect("write");
        sink.write(&json!({"price": 5, "name": "Cup", "new": [1]}), "u")
            .expect("write");
        sink.sync().expect("sync");
        drop(sink);
        // A resume appends under the same header, whatever order the keys come in.
        let mut sink = ItemSink::open(&items, vec!["other".into()], true).expect("reopen");
        sink.write(&json!({"price": 6, "name": "Pot"}), "u")
            .expect("write");
        sink.sync().expect("sync");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "name,price,extra\nTea,4,\nCup,5,\"{\"\"new\"\":[1]}\"\nPot,6,\n"
        );
    }

    #[test]
    fn a_resumed_csv_without_an_items_header_is_refused() {
        let path = temp("c.csv");
        std::fs::write(&path, "url,status\nx,1\n").expect("write");
        let err = ItemSink::open(&ItemsFile::new(&path), Vec::new(), true)
            .err()
            .expect("refused");
        assert!(err.to_string().starts_with("--items: cannot use "), "{err}");
        assert!(err.to_string().contains("no items header"), "{err}");
    }
}
