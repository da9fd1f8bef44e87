//! `--state DIR`: a crash-safe journal of the crawl, so running the same command again resumes.
//!
//! One append-only text file, `DIR/journal`, written by the coordinator alone:
//!
//! ```text
//! crawl-journal 1 <hash of the seeds and allowed domains>
//! k <depth> <url>      a URL the frontier has taken on (admitted, or held for admission)
//! f <fingerprint>      the record for that URL is written
//! ```
//!
//! Why it is crash-safe:
//! - **Order.** A page's `f` line is written only after its record has reached the operating
//!   system (the output is flushed first), and after the `k` lines of the links it yielded. So
//!   whatever the journal says is finished has its record, and every URL a finished page found
//!   is known.
//! - **Each completion is written at once, synced in batches.** Lines go to the kernel with one
//!   `write(2)` per completed page, so a SIGKILL of the crawl loses nothing written; `fsync`
//!   (records first, then the journal) runs at most once a second and at the end, which covers
//!   a power cut up to the last second.
//! - **Torn tails are cut.** A line cut short by a crash has no newline; it is cut off before
//!   anything is appended, so the next line starts whole.
//!
//! On resume, every `k` URL without an `f` is offered to the frontier again at its recorded
//! depth (shallowest first, through the same admission rules as a live crawl, so depths stay
//! exact), finished URLs count as known and against `--max-pages`, and records are appended to
//! the output file. A page that was in flight at the crash has no `f` line, so it is fetched
//! again: at most the pages in flight are fetched twice. The journal is read in two streaming
//! passes (finished fingerprints, then unfinished URLs), so a resume needs no more memory than
//! the crawl it continues.
//!
//! The file is locked while a crawl uses it, so two crawls cannot share a state directory by
//! mistake. The lock is a POSIX record lock (`fcntl(F_SETLK)`), not `flock`: it belongs to the
//! coordinator's process alone, so worker processes forked with the file open do not hold it,
//! and it is gone the moment the coordinator dies, even while its workers are still exiting.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, fcntl};
use url::Url;

use crate::frontier::MemoryFrontier;

/// The journal's file name inside the state directory.
pub const FILE_NAME: &str = "journal";
const MAGIC: &str = "crawl-journal 1";
/// How often the journal is made durable (fsync), at most.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Creating, opening, reading, writing or syncing the journal failed (or syncing the
    /// records, which runs just before the journal's own sync).
    #[error("--state {dir}: {source}")]
    Io {
        /// The state directory, as given.
        dir: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The journal's lock could not be taken: another crawl holds it.
    #[error("--state {dir}: another crawl is using this directory")]
    Locked {
        /// The state directory, as given.
        dir: PathBuf,
    },
    /// The journal is of a crawl with other seeds, allowed domains, depth, page limit or
    /// record format.
    #[error(
        "--state {dir}: it holds a crawl of other seeds, --allow-domain, --depth, --max-pages, \
         --format or --field; resume with the same ones, or use a new directory"
    )]
    OtherCrawl {
        /// The state directory, as given.
        dir: PathBuf,
    },
    /// A line of the journal is not one this crawl writes (or not UTF-8).
    #[error("--state {dir}: {file} is not a crawl journal (line {line})")]
    Corrupt {
        /// The state directory, as given.
        dir: PathBuf,
        /// The journal's file name in it (`journal`).
        file: String,
        /// The number of a line that does not read, counted from 1 (the header is line 1).
        line: usize,
    },
}

/// What an earlier run left to do.
#[derive(Debug, Default)]
pub struct Resume {
    /// Fingerprints of URLs whose records are written.
    pub finished: HashSet<u64>,
    /// URLs known but not finished, each at the smallest depth it was seen at, shallowest first.
    pub pending: Vec<(u32, Url)>,
}

impl Resume {
    /// Whether there was an earlier run to resume.
    pub fn is_resume(&self) -> bool {
        !self.finished.is_empty() || !self.pending.is_empty()
    }

    /// Hands what the earlier run left to `frontier`: finished pages count as known (and
    /// against `--max-pages`), unfinished ones are offered again, shallowest first and through
    /// the same admission rules as links found live, so depths come out as in one
    /// uninterrupted run. Returns how many pages were finished already.
    pub fn restore(self, frontier: &mut MemoryFrontier) -> u64 {
        let finished = self.finished.len() as u64;
        for fp in self.finished {
            frontier.restore_finished(fp);
        }
        let mut level: Vec<Url> = Vec::new();
        let mut level_depth = 0;
        let flush = |frontier: &mut MemoryFrontier, depth: u32, urls: Vec<Url>| match depth {
            0 => urls.into_iter().for_each(|url| {
                frontier.admit(url, 0);
            }),
            d => frontier.offer_links(d - 1, urls),
        };
        for (depth, url) in self.pending {
            if depth != level_depth && !level.is_empty() {
                flush(frontier, level_depth, std::mem::take(&mut level));
            }
            level_depth = depth;
            level.push(url);
        }
        if !level.is_empty() {
            flush(frontier, level_depth, level);
        }
        finished
    }
}

/// The open journal of a crawl.
pub struct Journal {
    file: File,
    dir: PathBuf,
    buf: Vec<u8>,
    last_sync: Instant,
    dirty: bool,
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir` for a crawl identified by `identity`
    /// (see [`identity`]), and reads what an earlier run left.
    pub fn open(dir: &Path, identity: u64) -> Result<(Journal, Resume), JournalError> {
        let io_err = |source| JournalError::Io {
            dir: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io_err)?;
        let mut file = file;
        lock(&file).map_err(|_| JournalError::Locked {
            dir: dir.to_owned(),
        })?;
        // A crash mid-write leaves a line without its newline; cut it off, or the next line
        // appended would be glued to it.
        crate::sink::cut_torn_tail(&file).map_err(io_err)?;
        let header = format!("{MAGIC} {identity:016x}");
        let resume = if file.metadata().map_err(io_err)?.len() == 0 {
            file.write_all(format!("{header}\n").as_bytes())
                .map_err(io_err)?;
            file.sync_data().map_err(io_err)?;
            Resume::default()
        } else {
            read(&mut file, &header, dir)?
        };
        let journal = Journal {
            file,
            dir: dir.to_owned(),
            buf: Vec::with_capacity(4096),
            last_sync: Instant::now(),
            dirty: false,
        };
        Ok((journal, resume))
    }

    /// Notes a URL the frontier has taken on, at `depth`.
    pub fn known(&mut self, depth: u32, url: &Url) {
        // Writing to a Vec cannot fail.
        let _ = writeln!(self.buf, "k {depth} {url}");
    }

    /// Notes that the record for the URL with fingerprint `fp` is written.
    pub fn finished(&mut self, fp: u64) {
        let _ = writeln!(self.buf, "f {fp:016x}");
    }

    /// Hands what was noted to the kernel in one write; `sync_records` runs first when an fsync
    /// is due (at most once a second), so records are durable before the journal says so.
    pub fn commit(
        &mut self,
        sync_records: impl FnOnce() -> io::Result<()>,
    ) -> Result<(), JournalError> {
        if !self.buf.is_empty() {
            self.file
                .write_all(&self.buf)
                .map_err(|source| JournalError::Io {
                    dir: self.dir.clone(),
                    source,
                })?;
            self.buf.clear();
            self.dirty = true;
        }
        if self.dirty && self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync(sync_records)?;
        }
        Ok(())
    }

    /// Makes everything committed durable: records first, then the journal.
    pub fn sync(
        &mut self,
        sync_records: impl FnOnce() -> io::Result<()>,
    ) -> Result<(), JournalError> {
        let io_err = |source| JournalError::Io {
            dir: self.dir.clone(),
            source,
        };
        sync_records().map_err(io_err)?;
        self.file.sync_data().map_err(io_err)?;
        self.last_sync = Instant::now();
        self.dirty = false;
        Ok(())
    }
}

/// Takes an exclusive lock on the whole of `file` for this process, or fails at once.
fn lock(file: &File) -> nix::Result<()> {
    let whole = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as nix::libc::c_short,
        l_whence: nix::libc::SEEK_SET as nix::libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(file, FcntlArg::F_SETLK(&whole)).map(drop)
}

/// What identifies "the same crawl": its seeds and scope (allowed domains, then any path and
/// pattern rules), in order, its depth and its page limit. Those decide which URLs the journal
/// holds (a link beyond `--depth` is never noted), so a resume with other values would quietly
/// miss pages. Other flags (mode, workers, rates, timeouts) may change between runs.
pub fn identity(config: &crate::config::Config) -> u64 {
    let format = &config.format;
    let (depth, max_pages) = (config.depth, config.max_pages);
    // The record format too: appending CSV rows to a JSON Lines file (or columns in another
    // order) would spoil the records an earlier run wrote.
    let mut text = format!("depth {depth}\nmax-pages {max_pages:?}\nformat {format:?}\n");
    for seed in &config.seeds {
        text.push_str(seed.as_str());
        text.push('\n');
    }
    text.push('\n');
    for domain in &config.allow_domains {
        text.push_str(domain);
        text.push('\n');
    }
    // Only when there are rules, so a journal written before they existed still resumes.
    let rules = [
        ("allow-path", &config.allow_paths),
        ("allow", &config.allow),
        ("deny", &config.deny),
    ];
    for (flag, list) in rules {
        for rule in list {
            text.push_str(&format!("{flag} {rule}\n"));
        }
    }
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// Reads a journal in two streaming passes, so resuming needs memory for the finished
/// fingerprints and the unfinished URLs only, not for the file or every URL it names.
fn read(file: &mut File, header: &str, dir: &Path) -> Result<Resume, JournalError> {
    let corrupt = |line| JournalError::Corrupt {
        dir: dir.to_owned(),
        file: FILE_NAME.to_owned(),
        line,
    };
    // First pass: the header, and which URLs are finished.
    let mut finished = HashSet::new();
    for_each_line(file, dir, |n, line| {
        match (n, line.split_once(' ')) {
            (1, _) if line == header => {}
            (1, _) if line.starts_with(MAGIC) => {
                return Err(JournalError::OtherCrawl {
                    dir: dir.to_owned(),
                });
            }
            (1, _) => return Err(corrupt(1)),
            (_, Some(("f", fp))) => {
                finished.insert(u64::from_str_radix(fp, 16).map_err(|_| corrupt(n))?);
            }
            (_, Some(("k", _))) => {}
            _ => return Err(corrupt(n)),
        }
        Ok(())
    })?;
    // Second pass: the URLs known but not finished, each at its smallest depth.
    let mut pending: HashMap<u64, (u32, Url)> = HashMap::new();
    for_each_line(file, dir, |n, line| {
        if let Some(rest) = line.strip_prefix("k ") {
            let (depth, url) = rest.split_once(' ').ok_or_else(|| corrupt(n))?;
            let depth: u32 = depth.parse().map_err(|_| corrupt(n))?;
            let url = Url::parse(url).map_err(|_| corrupt(n))?;
            let fp = crate::normalize::fingerprint(&url);
            if !finished.contains(&fp) {
                let entry = pending.entry(fp).or_insert((depth, url));
                entry.0 = entry.0.min(depth);
            }
        }
        Ok(())
    })?;
    let mut pending: Vec<(u32, Url)> = pending.into_values().collect();
    // Shallowest first, as a live crawl admits them; URL order only makes runs repeatable.
    pending.sort_by(|a, b| (a.0, a.1.as_str()).cmp(&(b.0, b.1.as_str())));
    Ok(Resume { finished, pending })
}

/// Calls `f` with each line of `file` (numbered from 1, without its newline), from the start.
fn for_each_line(
    file: &mut File,
    dir: &Path,
    mut f: impl FnMut(usize, &str) -> Result<(), JournalError>,
) -> Result<(), JournalError> {
    use std::io::{BufRead, BufReader, Seek, SeekFrom};
    let io_err = |source| JournalError::Io {
        dir: dir.to_owned(),
        source,
    };
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut reader = BufReader::with_capacity(64 * 1024, &*file);
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io_err)? == 0 {
            return Ok(());
        }
        n += 1;
        let bytes = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = std::str::from_utf8(bytes).map_err(|_| JournalError::Corrupt {
            dir: dir.to_owned(),
            file: FILE_NAME.to_owned(),
            line: n,
        })?;
        f(n, text)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("crawl-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn resume_keeps_what_is_unfinished_at_its_smallest_depth() {
        let dir = temp_dir("resume");
        let mut config = crate::config::Config::new(vec![url("http://a.test/")]);
        config.depth = 3;
        let id = identity(&config);
        {
            let (mut j, resume) = Journal::open(&dir, id).expect("open");
            assert!(!resume.is_resume());
            j.known(0, &url("http://a.test/"));
            j.known(2, &url("http://a.test/x"));
            j.known(1, &url("http://a.test/y"));
            j.known(1, &url("http://a.test/x"));
            j.finished(crate::normalize::fingerprint(&url("http://a.test/")));
            j.commit(|| Ok(())).expect("commit");
        }
        // A torn last line, as a crash mid-write leaves it.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(FILE_NAME))
            .expect("reopen");
        f.write_all(b"k 1 http://a.test/to").expect("append");
        drop(f);
        let (mut j, resume) = Journal::open(&dir, id).expect("reopen journal");
        assert_eq!(resume.finished.len(), 1);
        // What is written after a torn tail reads back whole.
        j.known(1, &url("http://a.test/after"));
        j.commit(|| Ok(())).expect("commit");
        drop(j);
        let (_j, again) = Journal::open(&dir, id).expect("reopen after a torn tail");
        assert!(
            again
                .pending
                .iter()
                .any(|(d, u)| *d == 1 && u.as_str() == "http://a.test/after"),
            "{:?}",
            again.pending
        );
        let pending: Vec<(u32, String)> = resume
            .pending
            .iter()
            .map(|(d, u)| (*d, u.to_string()))
            .collect();
        assert_eq!(
            pending,
            vec![
                (1, "http://a.test/x".to_owned()),
                (1, "http://a.test/y".to_owned())
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn another_crawls_directory_is_refused() {
        let dir = temp_dir("other");
        drop(Journal::open(&dir, 1).expect("open"));
        let err = Journal::open(&dir, 2).err().expect("refused");
        assert!(matches!(err, JournalError::OtherCrawl { .. }), "{err}");
        assert!(err.to_string().contains("other seeds"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_is_reported_with_its_line() {
        let dir = temp_dir("garbage");
        drop(Journal::open(&dir, 7).expect("open"));
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(FILE_NAME))
            .expect("reopen");
        f.write_all(b"k 0 http://a.test/\nnonsense\n")
            .expect("append");
        drop(f);
        let err = Journal::open(&dir, 7).err().expect("refused");
        assert!(
            matches!(err, JournalError::Corrupt { line: 3, .. }),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
