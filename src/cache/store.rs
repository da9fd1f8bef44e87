//! The cache's file: one redb database, `DIR/cache.redb`, keyed by URL, and beside it a
//! write-ahead log, `DIR/pending`, of the entries written since the last commit.
//!
//! Why a log beside the database: a crawl writes an entry per page, and a durable redb commit
//! per page would be an `fsync` per page. Entries are committed in batches instead, once a
//! second and at the end, each batch after the records of its pages have been flushed (the
//! coordinator's `recrawl` sees to it), so the cache never says more than the output does.
//! With `--state`, whose journal is written with one `write(2)` per page, each entry is also
//! appended to the log with one `write(2)`, after its record and journal line: a crawl killed
//! between two commits loses none of the entries of the pages its journal calls finished, and
//! the next open replays the log into the database. A torn last line (a crash mid-write) is
//! ignored. Without `--state` there is no log: a kill loses the entries of the last second, as
//! it loses the records still buffered, and those pages are only asked about in full next time.
//!
//! Lookups read one snapshot, taken at each commit: a read transaction per lookup cost more
//! than the lookup, and the entries written since the snapshot are in `pending`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{
    Database, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};

use super::{CacheError, FORMAT};

/// URL -> entry (JSON).
const PAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("pages");
/// "format" and "identity".
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// The database's file name inside the cache directory.
pub const FILE_NAME: &str = "cache.redb";
/// The log of entries not yet committed.
const LOG_NAME: &str = "pending";
/// How often entries are committed, at most (and at the end).
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// redb's page cache: a crawl reads each entry about once, so a big cache buys nothing
/// (redb's default would let it grow to a gigabyte).
const PAGE_CACHE_BYTES: usize = 16 << 20;

pub(super) struct Store {
    dir: PathBuf,
    db: Database,
    /// The pages as of the last commit.
    /// (`None` only while compacting, which needs no reader.)
    snapshot: Option<ReadOnlyTable<&'static str, &'static [u8]>>,
    log: File,
    /// `--state`: every entry goes to the log too, as it is kept.
    durable: bool,
    /// Entries written since the last commit (also in the log, with `--state`), by URL; `None`
    /// is an entry removed.
    pending: HashMap<String, Option<Vec<u8>>>,
    last_commit: Instant,
    /// Entries the database held when it was opened.
    held: u64,
    /// Crawls that ran to their end with this cache before this one.
    crawls: u64,
}

impl Store {
    /// Opens (or creates) the cache in `dir` for the crawl whose identity is `identity`.
    pub(super) fn open(dir: &Path, identity: u64) -> Result<Store, CacheError> {
        let io = |source| CacheError::Io {
            dir: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(FILE_NAME);
        let fresh = !path.exists();
        let db = Database::builder()
            .set_cache_size(PAGE_CACHE_BYTES)
            .create(&path)
            .map_err(|e| open_error(dir, e))?;
        let damaged = |why: String| CacheError::Damaged {
            dir: dir.to_owned(),
            why,
        };
        let identity_text = format!("{identity:016x}");
        // The meta table first: a cache of another crawl or a newer format is refused
        // before anything is written.
        let read = db.begin_read().map_err(|e| damaged(e.to_string()))?;
        let (format, stored_identity) = match read.open_table(META) {
            Ok(meta) => {
                let get = |key| -> Result<Option<String>, CacheError> {
                    Ok(meta
                        .get(key)
                        .map_err(|e| damaged(e.to_string()))?
                        .map(|v| v.value().to_owned()))
                };
                (get("format")?, get("identity")?)
            }
            Err(redb::TableError::TableDoesNotExist(_)) => (None, None),
            Err(e) => return Err(damaged(e.to_string())),
        };
        // A file with no table at all is a cache whose first crawl was stopped before its
        // first commit: as good as new.
        let empty = read
            .list_tables()
            .is_ok_and(|mut tables| tables.next().is_none());
        drop(read);
        match format.as_deref().map(str::parse::<u32>) {
            None if fresh || empty => {}
            // A redb file of something else's: not ours to add tables to.
            None => {
                return Err(damaged(
                    "a redb database without a crawl cache's format and identity".into(),
                ));
            }
            Some(Ok(n)) if n > FORMAT => {
                return Err(CacheError::Newer {
                    dir: dir.to_owned(),
                    format: n,
                });
            }
            Some(Ok(_)) => {}
            Some(Err(_)) => return Err(damaged("its format is not a number".into())),
        }
        if let Some(stored) = &stored_identity
            && *stored != identity_text
        {
            return Err(CacheError::OtherCrawl {
                dir: dir.to_owned(),
            });
        }
        let write = db.begin_write().map_err(|e| damaged(e.to_string()))?;
        {
            let mut meta = write.open_table(META).map_err(|e| damaged(e.to_string()))?;
            if stored_identity.is_none() {
                meta.insert("format", FORMAT.to_string().as_str())
                    .map_err(|e| damaged(e.to_string()))?;
                meta.insert("identity", identity_text.as_str())
                    .map_err(|e| damaged(e.to_string()))?;
            }
            write
                .open_table(PAGES)
                .map_err(|e| damaged(e.to_string()))?;
        }
        write.commit().map_err(|e| damaged(e.to_string()))?;
        let log = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(dir.join(LOG_NAME))
            .map_err(io)?;
        let snapshot = snapshot(&db).map_err(damaged)?;
        let mut store = Store {
            dir: dir.to_owned(),
            db,
            snapshot: Some(snapshot),
            log,
            durable: false,
            pending: HashMap::new(),
            last_commit: Instant::now(),
            held: 0,
            crawls: 0,
        };
        if fresh || empty {
            // A log beside no database is of a cache that is gone: not this one's entries.
            store.log.set_len(0).map_err(io)?;
        } else {
            store.replay_log()?;
        }
        store.held = store.len()?;
        store.crawls = store.crawls_done()?;
        Ok(store)
    }

    /// The entries an earlier crawl killed between two commits left in the log, committed.
    fn replay_log(&mut self) -> Result<(), CacheError> {
        let mut file = &self.log;
        file.rewind().map_err(|e| self.io(e))?;
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| self.io(e))?;
            // The end, or a torn last line (no newline): what it held was never relied on.
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            line.pop();
            if let Some(tab) = line.iter().position(|&b| b == b'\t')
                && let Ok(url) = std::str::from_utf8(&line[..tab])
            {
                let entry = &line[tab + 1..];
                let entry = (!entry.is_empty()).then(|| entry.to_vec());
                self.pending.insert(url.to_owned(), entry);
            }
        }
        self.commit()?;
        // A torn line alone left nothing to commit: it goes too, or the next line would be
        // appended to it.
        self.log.set_len(0).map_err(|e| self.io(e))
    }

    /// Crawls that ran to their end with this cache, as its meta table says.
    fn crawls_done(&self) -> Result<u64, CacheError> {
        let read = self.db.begin_read().map_err(|e| self.damaged(e))?;
        let meta = read.open_table(META).map_err(|e| self.damaged(e))?;
        let crawls = meta.get("crawls").map_err(|e| self.damaged(e))?;
        Ok(crawls.and_then(|v| v.value().parse().ok()).unwrap_or(0))
    }

    /// Crawls that ran to their end with this cache before this one.
    pub(super) fn crawls(&self) -> u64 {
        self.crawls
    }

    fn io(&self, source: std::io::Error) -> CacheError {
        CacheError::Io {
            dir: self.dir.clone(),
            source,
        }
    }

    fn damaged(&self, e: impl std::fmt::Display) -> CacheError {
        CacheError::Damaged {
            dir: self.dir.clone(),
            why: e.to_string(),
        }
    }

    /// Writes every entry to the log as it is kept (`--state`: the journal's promise).
    pub(super) fn set_durable(&mut self, durable: bool) {
        self.durable = durable;
    }

    /// How many pages the database holds (committed).
    pub(super) fn len(&self) -> Result<u64, CacheError> {
        match &self.snapshot {
            Some(snapshot) => snapshot.len().map_err(|e| self.damaged(e)),
            None => Ok(0),
        }
    }

    /// Pages the cache held when this crawl opened it.
    pub(super) fn held(&self) -> u64 {
        self.held
    }

    /// The entry kept for `url`, as written, handed to `read`.
    pub(super) fn get<T>(
        &self,
        url: &str,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>, CacheError> {
        if let Some(bytes) = self.pending.get(url) {
            return Ok(bytes.as_deref().map(read));
        }
        let Some(snapshot) = &self.snapshot else {
            return Ok(None);
        };
        let got = snapshot.get(url).map_err(|e| self.damaged(e))?;
        Ok(got.map(|v| read(v.value())))
    }

    /// Keeps `entry` for `url` (`None`: removes it): in the log at once with `--state`, in the
    /// database at the next commit.
    pub(super) fn put(&mut self, url: &str, entry: Option<Vec<u8>>) -> Result<(), CacheError> {
        if self.durable {
            let bytes = entry.as_deref().unwrap_or_default();
            let mut line = Vec::with_capacity(url.len() + bytes.len() + 2);
            line.extend_from_slice(url.as_bytes());
            line.push(b'\t');
            line.extend_from_slice(bytes);
            line.push(b'\n');
            self.log.write_all(&line).map_err(|e| self.io(e))?;
        }
        self.pending.insert(url.to_owned(), entry);
        Ok(())
    }

    /// Whether a commit is due (one a second).
    pub(super) fn commit_due(&self) -> bool {
        !self.pending.is_empty() && self.last_commit.elapsed() >= COMMIT_EVERY
    }

    /// Commits the entries kept since the last commit to the database, durably, then empties
    /// the log.
    pub(super) fn commit(&mut self) -> Result<(), CacheError> {
        self.commit_with(false)
    }

    /// [`Store::commit`], counting this crawl as run to its end: the end of a crawl.
    pub(super) fn finish(&mut self) -> Result<(), CacheError> {
        self.commit_with(true)
    }

    fn commit_with(&mut self, finished: bool) -> Result<(), CacheError> {
        self.last_commit = Instant::now();
        if self.pending.is_empty() && !finished {
            return Ok(());
        }
        // A full disk is the disk's, not a damaged cache.
        let failed = |store: &Store, e: redb::Error| match e {
            redb::Error::Io(source) => store.io(source),
            other => store.damaged(other),
        };
        let write = self.db.begin_write().map_err(|e| failed(self, e.into()))?;
        {
            let mut pages = write
                .open_table(PAGES)
                .map_err(|e| failed(self, e.into()))?;
            for (url, entry) in &self.pending {
                match entry {
                    Some(entry) => pages.insert(url.as_str(), entry.as_slice()).map(drop),
                    None => pages.remove(url.as_str()).map(drop),
                }
                .map_err(|e| failed(self, e.into()))?;
            }
            if finished {
                let mut meta = write.open_table(META).map_err(|e| failed(self, e.into()))?;
                let crawls = (self.crawls + 1).to_string();
                meta.insert("crawls", crawls.as_str())
                    .map_err(|e| failed(self, e.into()))?;
            }
        }
        write.commit().map_err(|e| failed(self, e.into()))?;
        self.pending.clear();
        // Its entries are committed: the log starts again (appends go to its new end).
        self.log.set_len(0).map_err(|e| self.io(e))?;
        if finished {
            self.compact()?;
        }
        self.snapshot = Some(snapshot(&self.db).map_err(|e| self.damaged(e))?);
        Ok(())
    }

    /// Gives back the space of the pages earlier commits left behind (redb writes copies):
    /// without it, a cache that every crawl rewrites keeps growing. The snapshot is let go
    /// first, as compaction needs no reader.
    fn compact(&mut self) -> Result<(), CacheError> {
        self.snapshot = None;
        self.db
            .compact(redb::CompactionMode::Balanced)
            .map_err(|e| self.damaged(e))?;
        Ok(())
    }
}

/// The pages table as of now, for lookups until the next commit.
fn snapshot(db: &Database) -> Result<ReadOnlyTable<&'static str, &'static [u8]>, String> {
    let read = db.begin_read().map_err(|e| e.to_string())?;
    read.open_table(PAGES).map_err(|e| e.to_string())
}

/// Why redb would not open the file, in the cache's words.
fn open_error(dir: &Path, e: redb::DatabaseError) -> CacheError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
            CacheError::Locked {
                dir: dir.to_owned(),
            }
        }
        // redb says a file that is not its own, or is cut short, is invalid data.
        redb::DatabaseError::Storage(redb::StorageError::Io(source))
            if source.kind() == std::io::ErrorKind::InvalidData =>
        {
            CacheError::Damaged {
                dir: dir.to_owned(),
                why: source.to_string(),
            }
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(source)) => CacheError::Io {
            dir: dir.to_owned(),
            source,
        },
        other => CacheError::Damaged {
            dir: dir.to_owned(),
            why: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("crawl-cache-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn entries_not_yet_committed_survive_a_crash_through_the_log() {
        let dir = dir("log");
        let mut store = Store::open(&dir, 1).expect("open");
        store.set_durable(true);
        store
            .put("http://a.test/1", Some(b"one".to_vec()))
            .expect("put");
        store
            .put("http://a.test/2", Some(b"two".to_vec()))
            .expect("put");
        // A crash: no commit, the process gone (its lock with it).
        drop(store);
        // And a line torn by it.
        let mut log = OpenOptions::new()
            .append(true)
            .open(dir.join(LOG_NAME))
            .expect("log");
        log.write_all(b"http://a.test/3\tthr").expect("torn");
        let store = Store::open(&dir, 1).expect("reopen");
        assert_eq!(store.len().expect("len"), 2);
        assert_eq!(store.held(), 2);
        assert_eq!(
            store.get("http://a.test/2", <[u8]>::to_vec).expect("get"),
            Some(b"two".to_vec())
        );
        assert_eq!(
            store.get("http://a.test/3", <[u8]>::to_vec).expect("get"),
            None
        );
        assert_eq!(std::fs::metadata(dir.join(LOG_NAME)).expect("log").len(), 0);
    }

    #[test]
    fn another_programs_redb_file_is_refused_and_an_empty_one_taken() {
        let foreign = dir("foreign");
        std::fs::create_dir_all(&foreign).expect("mkdir");
        {
            let db = Database::create(foreign.join(FILE_NAME)).expect("db");
            let write = db.begin_write().expect("write");
            let theirs: TableDefinition<&str, &str> = TableDefinition::new("theirs");
            write
                .open_table(theirs)
                .expect("table")
                .insert("k", "v")
                .expect("insert");
            write.commit().expect("commit");
        }
        assert!(matches!(
            Store::open(&foreign, 1),
            Err(CacheError::Damaged { .. })
        ));
        let db = Database::create(foreign.join(FILE_NAME)).expect("db");
        let read = db.begin_read().expect("read");
        assert_eq!(
            read.list_tables().expect("tables").count(),
            1,
            "tables added"
        );
        drop((read, db));
        // A cache whose first crawl stopped before its first commit: an empty file.
        let empty = dir("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        drop(Database::create(empty.join(FILE_NAME)).expect("db"));
        let store = Store::open(&empty, 1).expect("an empty file is a new cache");
        assert_eq!(store.held(), 0);
    }

    #[test]
    fn another_crawl_and_a_newer_format_are_refused_untouched() {
        let dir = dir("meta");
        let mut store = Store::open(&dir, 1).expect("open");
        store
            .put("http://a.test/", Some(b"x".to_vec()))
            .expect("put");
        store.commit().expect("commit");
        drop(store);
        assert!(matches!(
            Store::open(&dir, 2),
            Err(CacheError::OtherCrawl { .. })
        ));
        // As a later crawl would leave it.
        {
            let db = Database::create(dir.join(FILE_NAME)).expect("db");
            let write = db.begin_write().expect("write");
            write
                .open_table(META)
                .expect("meta")
                .insert("format", "9")
                .expect("insert");
            write.commit().expect("commit");
        }
        let err = Store::open(&dir, 1).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                format!(
                    "--cache {}: written by a newer crawl (cache format 9; this one reads up to \
                     1); use that crawl, or a new directory",
                    dir.display()
                )
                .as_str()
            )
        );
        let db = Database::create(dir.join(FILE_NAME)).expect("db");
        let read = db.begin_read().expect("read");
        let pages = read.open_table(PAGES).expect("pages");
        assert_eq!(
            pages.len().expect("len"),
            1,
            "the refused cache was written to"
        );
    }
}
