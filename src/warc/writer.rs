//! The archive's files: one writer per crawl, each record one gzip member (what archive
//! tools index and seek by), size-based rotation (`--warc-max-size`), and the resume of a
//! `--state` crawl (append, after cutting a torn last record).
//!
//! Files are named after `--warc`: `NAME.warc.gz` first, then `NAME-00001.warc.gz`,
//! `NAME-00002.warc.gz`, ... as each reaches the size limit. Every file starts with a
//! `warcinfo` record; a resumed run adds one where it starts appending, so the archive says
//! which settings captured what follows.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::config::WarcConfig;
use crate::task::Archived;

/// The archive could not be opened, scanned or written.
#[derive(Debug, thiserror::Error)]
#[error("--warc: {what} {path}: {source}")]
pub struct WarcError {
    /// What was being done ("cannot create", "cannot write").
    pub what: &'static str,
    /// The file concerned.
    pub path: PathBuf,
    /// The operating system's error.
    pub source: io::Error,
}

/// The crawl's one archive writer.
pub struct WarcWriter {
    /// `--warc` without `.warc.gz`: what rotated files are named after.
    stem: String,
    /// Which file is open: 0 is `--warc` itself, then `-00001`, ...
    index: u32,
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes in the open file (what rotation compares with the limit).
    size: u64,
    max_size: Option<u64>,
    /// The `warcinfo` block every file starts with.
    info: String,
    /// Whether the open file holds nothing but its `warcinfo` yet (never rotated away).
    fresh: bool,
}

impl WarcWriter {
    /// Opens the archive `config` names. Without `append` the first file is created afresh;
    /// with it (a resumed `--state` crawl), the last file of an earlier run is scanned, a torn
    /// last record cut off, and records are added after the rest. `info` is the `warcinfo`
    /// block: `name: value` lines.
    pub fn open(config: &WarcConfig, append: bool, info: String) -> Result<Self, WarcError> {
        let path_text = config.path.to_string_lossy();
        let stem = path_text
            .strip_suffix(".warc.gz")
            .unwrap_or(&path_text)
            .to_owned();
        let mut index = 0;
        if append {
            // The last file an earlier run wrote is the only one that may be torn.
            while Path::new(&name(&stem, index + 1)).exists() {
                index += 1;
            }
        }
        if !append {
            // A fresh archive replaces an earlier run's whole, as `-o` replaces its file: its
            // rotated files go too, or a later resume would take the last of them for ours.
            let mut stale = 1;
            while std::fs::remove_file(name(&stem, stale)).is_ok() {
                stale += 1;
            }
        }
        let path = PathBuf::from(name(&stem, index));
        let existing = append && path.exists();
        let err = |what, source| WarcError {
            what,
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(!existing)
            .open(&path)
            .map_err(|e| err("cannot create", e))?;
        let size = if existing {
            let whole = whole_records(&mut file).map_err(|e| err("cannot read", e))?;
            file.set_len(whole).map_err(|e| err("cannot cut", e))?;
            file.seek(SeekFrom::Start(whole))
                .map_err(|e| err("cannot read", e))?;
            whole
        } else {
            0
        };
        let mut writer = WarcWriter {
            stem,
            index,
            path: path.clone(),
            out: BufWriter::with_capacity(256 * 1024, file),
            size,
            max_size: config.max_size,
            info,
            fresh: true,
        };
        writer.start_file().map_err(|e| err("cannot write", e))?;
        Ok(writer)
    }

    /// The file being written, for error messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one exchange's `request` and `response` records, packed by its worker (into
    /// the same file: a rotation happens before a pair, never inside one).
    pub fn write(&mut self, exchange: &Archived) -> io::Result<()> {
        if !self.fresh && self.max_size.is_some_and(|max| self.size >= max) {
            self.rotate()?;
        }
        self.out.write_all(&exchange.0)?;
        self.size += exchange.0.len() as u64;
        self.fresh = false;
        Ok(())
    }

    /// Hands what is buffered to the operating system.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes, and makes the file durable (before the journal says its pages are done).
    pub fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.sync()?;
        self.index += 1;
        self.path = PathBuf::from(name(&self.stem, self.index));
        self.out = BufWriter::with_capacity(256 * 1024, File::create(&self.path)?);
        self.size = 0;
        self.fresh = true;
        self.start_file()
    }

    fn start_file(&mut self) -> io::Result<()> {
        let filename = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let member = super::warcinfo(&filename, &self.info)?;
        self.out.write_all(&member)?;
        self.size += member.len() as u64;
        Ok(())
    }
}

/// The name of file `index` of the archive whose first file is `STEM.warc.gz`.
fn name(stem: &str, index: u32) -> String {
    match index {
        0 => format!("{stem}.warc.gz"),
        n => format!("{stem}-{n:05}.warc.gz"),
    }
}

/// How many leading bytes of `file` are whole gzip members that each hold one whole WARC
/// record: where a resumed crawl cuts the file. A run killed mid-write leaves a last member
/// that does not inflate, or inflates to part of a record; it and anything after it go.
pub fn whole_records(file: &mut File) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(&*file);
    let mut whole = 0u64;
    let mut record = Vec::new();
    loop {
        if reader.fill_buf()?.is_empty() {
            return Ok(whole);
        }
        record.clear();
        // `bufread`'s decoder takes from the reader exactly the bytes of one member, so the
        // reader is left at the start of the next.
        let mut gz = flate2::bufread::GzDecoder::new(reader);
        let inflated = gz.read_to_end(&mut record);
        reader = gz.into_inner();
        if inflated.is_err() || !super::is_whole_record(&record) {
            return Ok(whole);
        }
        whole = reader.stream_position()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Capture;
    use std::time::UNIX_EPOCH;

    fn capture(n: usize) -> Capture {
        Capture {
            url: url::Url::parse(&format!("http://a.test/{n}")).expect("url"),
            date: UNIX_EPOCH,
            status: 200,
            ip: None,
            request: format!("GET /{n} HTTP/1.1\r\n\r\n").into_bytes(),
            head: b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
            body: vec![b'x'; n],
            truncated: false,
        }
    }

    fn packed(n: usize) -> Archived {
        crate::warc::pack(&capture(n), None).0
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("crawl-warc-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("a.warc.gz")
    }

    fn members(path: &Path) -> usize {
        let data = std::fs::read(path).expect("archive");
        let mut reader = &data[..];
        let mut n = 0;
        while !reader.is_empty() {
            let mut gz = flate2::bufread::GzDecoder::new(reader);
            let mut record = Vec::new();
            gz.read_to_end(&mut record).expect("member");
            assert!(crate::warc::is_whole_record(&record));
            reader = gz.into_inner();
            n += 1;
        }
        n
    }

    #[test]
    fn a_resume_cuts_a_torn_record_and_appends() {
        let path = temp("resume");
        let config = WarcConfig {
            path: path.clone(),
            max_size: None,
        };
        let mut writer = WarcWriter::open(&config, false, "a: b\r\n".into()).expect("open");
        writer.write(&packed(100)).expect("write");
        writer.write(&packed(200)).expect("write");
        writer.sync().expect("sync");
        drop(writer);
        assert_eq!(members(&path), 5);
        // Cut the last member in half, as a kill mid-write would.
        let len = std::fs::metadata(&path).expect("meta").len();
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        file.set_len(len - 20).expect("cut");
        drop(file);
        let mut writer = WarcWriter::open(&config, true, "a: b\r\n".into()).expect("reopen");
        writer.write(&packed(300)).expect("write");
        writer.sync().expect("sync");
        // 4 whole members kept, a new warcinfo, then a request and a response.
        assert_eq!(members(&path), 7);
    }

    #[test]
    fn files_rotate_at_the_size_limit() {
        let path = temp("rotate");
        let config = WarcConfig {
            path: path.clone(),
            max_size: Some(1),
        };
        let mut writer = WarcWriter::open(&config, false, String::new()).expect("open");
        for n in 0..3 {
            writer.write(&packed(n)).expect("write");
        }
        writer.sync().expect("sync");
        let dir = path.parent().expect("dir");
        assert_eq!(members(&path), 3);
        assert_eq!(members(&dir.join("a-00001.warc.gz")), 3);
        assert_eq!(members(&dir.join("a-00002.warc.gz")), 3);
        assert!(!dir.join("a-00003.warc.gz").exists());
        // A fresh archive of the same name replaces all of it.
        let mut writer = WarcWriter::open(&config, false, String::new()).expect("reopen");
        writer.sync().expect("sync");
        assert_eq!(members(&path), 1);
        assert!(!dir.join("a-00001.warc.gz").exists());
    }
}
