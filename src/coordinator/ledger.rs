//! The ledger: the records and the journal, written in the order that makes a resume safe.
//!
//! A page's record reaches the operating system before the journal line that says it is
//! written, and the URLs the page led the frontier to take on are in the journal before that
//! line too (see [`crate::journal`]), and so are the page's WARC records (`--warc`): the
//! archive is flushed and synced with the records, and so is the items file (`--items`).
//! Without `--state` the ledger is only the sink (and the archive and items file). A build
//! without the `warc` feature has no archive (`--warc` is refused), and its ledger none of the
//! archive's steps.

use std::io;

use url::Url;

use crate::frontier::MemoryFrontier;
use crate::item_sink::ItemSink;
use crate::journal::{Journal, JournalError};
use crate::normalize::fingerprint;
use crate::record::Record;
use crate::sink::Sink;
#[cfg(feature = "warc")]
use crate::task::Archived;
#[cfg(feature = "warc")]
use crate::warc::{WarcError, WarcWriter};

/// Writing the records or the journal failed: the crawl cannot go on without losing work.
// Non-exhaustive: a variant comes with a feature (`warc`), and features must only add.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Writing or flushing the records failed.
    #[error("writing records to {name}: {source}")]
    Output {
        /// Where the records go, as the summary names it: a file's path, "standard output".
        name: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// Writing or syncing the journal (`--state`) failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Writing the WARC archive (`--warc`) failed.
    #[cfg(feature = "warc")]
    #[error(transparent)]
    Warc(#[from] WarcError),
}

pub(crate) struct Ledger {
    sink: Sink,
    /// With `--items`: each page's item, alone, written beside its record.
    items: Option<ItemSink>,
    /// With `--state`: where finished pages and newly known URLs are noted.
    journal: Option<Journal>,
    /// With `--warc`: the crawl's one archive writer.
    #[cfg(feature = "warc")]
    warc: Option<WarcWriter>,
}

impl Ledger {
    pub(crate) fn new(sink: Sink, journal: Option<Journal>) -> Self {
        Ledger {
            sink,
            items: None,
            journal,
            #[cfg(feature = "warc")]
            warc: None,
        }
    }

    /// Writes each page's item to `items` too (`--items`).
    pub(crate) fn with_items(mut self, items: Option<ItemSink>) -> Self {
        self.items = items;
        self
    }

    /// The items file and how many items went to it, with `--items`.
    pub(crate) fn items_written(&self) -> Option<(String, u64)> {
        self.items
            .as_ref()
            .map(|items| (items.path().display().to_string(), items.written()))
    }

    /// Flushes the records (and the items file and the archive) to the operating system: what
    /// the cache (`--cache`) commits must not say more than the output does.
    pub(crate) fn flush(&mut self) -> Result<(), LedgerError> {
        self.flush_archive(false)?;
        self.flush_items(false)?;
        self.sink.flush().map_err(|e| self.output_error(e))
    }

    /// Whether the exchanges are archived (`--warc`).
    pub(crate) fn is_archiving(&self) -> bool {
        #[cfg(feature = "warc")]
        return self.warc.is_some();
        #[cfg(not(feature = "warc"))]
        false
    }

    /// Whether items have a file of their own.
    pub(crate) fn has_items(&self) -> bool {
        self.items.is_some()
    }

    /// With `--warc` (`Some`), the archive is written with the records.
    #[cfg(feature = "warc")]
    pub(crate) fn archiving(self, warc: Option<WarcWriter>) -> Self {
        Ledger { warc, ..self }
    }

    /// Archives a task's exchanges (`--warc`; nothing without it). Called as each task's
    /// result comes back, before its record, so a record the journal calls written never has
    /// its exchanges missing from the archive.
    #[cfg(feature = "warc")]
    pub(crate) fn archive(&mut self, archived: &[Archived]) -> Result<(), LedgerError> {
        let Some(warc) = self.warc.as_mut() else {
            return Ok(());
        };
        for exchange in archived {
            warc.write(exchange)
                .map_err(|source| cannot_write(warc, source))?;
        }
        Ok(())
    }

    /// Flushes the archive (and with `sync`, makes it durable).
    #[cfg(feature = "warc")]
    fn flush_archive(&mut self, sync: bool) -> Result<(), LedgerError> {
        let Some(warc) = self.warc.as_mut() else {
            return Ok(());
        };
        let done = if sync { warc.sync() } else { warc.flush() };
        done.map_err(|source| cannot_write(warc, source).into())
    }

    /// No archive in this build: nothing to flush.
    #[cfg(not(feature = "warc"))]
    fn flush_archive(&mut self, _sync: bool) -> Result<(), LedgerError> {
        Ok(())
    }

    /// Where the records go, as the summary names it.
    pub(crate) fn name(&self) -> &str {
        self.sink.name()
    }

    /// Whether the frontier should log what it takes on, for the journal.
    pub(crate) fn journaling(&self) -> bool {
        self.journal.is_some()
    }

    /// Writes the record of the admitted URL `url` (and its item, to the items file), then
    /// journals it as finished. A record not `listed` (`--changed-only` leaves an unchanged
    /// page out) is only journaled.
    pub(crate) fn write(
        &mut self,
        record: &Record,
        item: Option<&serde_json::Value>,
        listed: bool,
        url: &Url,
        frontier: &mut MemoryFrontier,
    ) -> Result<(), LedgerError> {
        if listed {
            self.sink.write(record).map_err(|e| self.output_error(e))?;
        }
        if let (true, Some(items), Some(item)) = (listed, self.items.as_mut(), item) {
            let page = record.final_url.as_deref().unwrap_or(&record.url);
            items.write(item, page).map_err(|e| items_error(items, e))?;
        }
        if self.journal.is_some() {
            self.commit(Some(fingerprint(url)), false, frontier)?;
        }
        Ok(())
    }

    /// [`Ledger::write`], then flushes the record to the operating system: a shared crawl
    /// completes a page in Redis only once its record would survive this process dying.
    pub(crate) fn write_flushed(
        &mut self,
        record: &Record,
        item: Option<&serde_json::Value>,
        listed: bool,
        url: &Url,
        frontier: &mut MemoryFrontier,
    ) -> Result<(), LedgerError> {
        self.write(record, item, listed, url, frontier)?;
        self.flush_archive(false)?;
        self.flush_items(false)?;
        self.sink.flush().map_err(|e| self.output_error(e))
    }

    /// Flushes the items file (and with `sync`, makes it durable).
    fn flush_items(&mut self, sync: bool) -> Result<(), LedgerError> {
        let Some(items) = self.items.as_mut() else {
            return Ok(());
        };
        let done = if sync { items.sync() } else { items.flush() };
        done.map_err(|e| items_error(items, e))
    }

    /// Flushes everything and makes it durable: the end of a crawl.
    pub(crate) fn close(&mut self, frontier: &mut MemoryFrontier) -> Result<(), LedgerError> {
        self.commit(None, true, frontier)?;
        self.flush_archive(true)?;
        self.flush_items(true)?;
        self.sink.flush().map_err(|e| self.output_error(e))
    }

    /// Notes what the frontier took on and, if given, a finished page, and hands it to the
    /// journal: the record reaches the OS before the journal line that says it is written.
    fn commit(
        &mut self,
        finished: Option<u64>,
        sync: bool,
        frontier: &mut MemoryFrontier,
    ) -> Result<(), LedgerError> {
        if self.journal.is_none() {
            return Ok(());
        }
        // The archive reaches the OS before the journal says a page is done (and is synced
        // with the records), so a resume that skips the page finds its exchanges archived.
        self.flush_archive(false)?;
        self.flush_items(false)?;
        let Some(journal) = self.journal.as_mut() else {
            return Ok(());
        };
        for (depth, url) in frontier.drain_log() {
            journal.known(depth, &url);
        }
        if let Some(fp) = finished {
            journal.finished(fp);
        }
        if let Err(source) = self.sink.flush() {
            return Err(LedgerError::Output {
                name: self.sink.name().to_owned(),
                source,
            });
        }
        let (sink, items) = (&mut self.sink, &mut self.items);
        #[cfg(feature = "warc")]
        let warc = &mut self.warc;
        let sync_records = || {
            sink.sync()?;
            items.as_mut().map_or(Ok(()), ItemSink::sync)?;
            #[cfg(feature = "warc")]
            warc.as_mut().map_or(Ok(()), WarcWriter::sync)?;
            Ok(())
        };
        if sync {
            journal.sync(sync_records)?;
        } else {
            journal.commit(sync_records)?;
        }
        Ok(())
    }

    fn output_error(&self, source: io::Error) -> LedgerError {
        LedgerError::Output {
            name: self.sink.name().to_owned(),
            source,
        }
    }
}

/// Writing, flushing or syncing the items file failed.
fn items_error(items: &ItemSink, source: io::Error) -> LedgerError {
    LedgerError::Output {
        name: items.path().display().to_string(),
        source,
    }
}

/// Writing, flushing or syncing the archive failed.
#[cfg(feature = "warc")]
fn cannot_write(warc: &WarcWriter, source: io::Error) -> WarcError {
    WarcError {
        what: "cannot write",
        path: warc.path().to_owned(),
        source,
    }
}
