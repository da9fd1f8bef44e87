//! `--cache DIR`: what a crawl remembers of each page, so that the next crawl of the same site
//! asks servers only for what changed.
//!
//! For each URL fetched (the URL of the request whose response was final, after any
//! redirects), the cache keeps an [`Entry`]: the response's validators (`ETag`,
//! `Last-Modified`), until when it is fresh (`Cache-Control: max-age`, `Expires`), a digest of
//! its body, when it was fetched, the page's outlinks (compact: relative to the page where
//! they can be), and the record it produced with its item. The coordinator's `recrawl` part
//! decides with it: a conditional request, a `304` written as the previous record again, a
//! fresh page not requested at all.
//!
//! The file is `store`'s (redb, plus a log of entries not yet committed). A cache belongs to
//! one crawl's seeds and settings ([`crate::journal::identity`], and the extractor's fields):
//! another crawl's cache, a newer format, a damaged file or one another crawl holds open is
//! refused naming `--cache`, and nothing in it is written over.

#[cfg(feature = "cache")]
mod store;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::record::Record;
use crate::task::{CaptureRef, Validators};

/// The format this build writes; a cache of a higher one is refused.
const FORMAT: u32 = 1;

/// The cache directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Creating, reading or writing the cache failed.
    #[error("--cache {dir}: {source}")]
    Io {
        /// The cache directory, as given.
        dir: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another crawl has the cache open.
    #[error("--cache {dir}: another crawl is using this cache")]
    Locked {
        /// The cache directory, as given.
        dir: PathBuf,
    },
    /// The cache is of a crawl with other seeds or settings.
    #[error(
        "--cache {dir}: it holds a crawl of other seeds, --allow-domain, --allow-path, --allow, \
         --deny, --depth, --max-pages or --field; crawl with the same ones, or use a new \
         directory"
    )]
    OtherCrawl {
        /// The cache directory, as given.
        dir: PathBuf,
    },
    /// The cache was written by a newer crawl.
    #[error(
        "--cache {dir}: written by a newer crawl (cache format {format}; this one reads up to \
         {FORMAT}); use that crawl, or a new directory"
    )]
    Newer {
        /// The cache directory, as given.
        dir: PathBuf,
        /// The format it says it has.
        format: u32,
    },
    /// The file is not a crawl cache, or it is damaged.
    #[error("--cache {dir}: not a crawl cache, or damaged ({why}); use a new directory")]
    Damaged {
        /// The cache directory, as given.
        dir: PathBuf,
        /// What was wrong.
        why: String,
    },
}

/// What the cache keeps of one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The response's status.
    pub status: u16,
    /// Its `ETag` and `Last-Modified`.
    #[serde(default)]
    pub validators: Validators,
    /// Unix time (seconds) until which it is fresh, if it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_until: Option<u64>,
    /// Unix time (seconds) it was fetched (or last confirmed unchanged).
    pub fetched: u64,
    /// xxh3-128 of its body, in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The record it produced, without the extractor's item and without change marks.
    pub record: Record,
    /// The extractor's item, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<serde_json::Value>,
    /// The links it offered the frontier: relative to the page (`/b/c`) on its own origin,
    /// absolute elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// With `--warc`: where its payload is archived, for a later crawl's `revisit` records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_as: Option<CaptureRef>,
}

impl Entry {
    /// Whether a later crawl may ask about it conditionally (a 2xx with validators).
    pub fn validators(&self) -> Option<&Validators> {
        ((200..300).contains(&self.status) && !self.validators.is_empty())
            .then_some(&self.validators)
    }

    /// Whether it is still fresh at `now` (unix seconds). Not if the clock says it was
    /// fetched in the future: a clock set back must not stretch a freshness.
    pub fn fresh_at(&self, now: u64) -> bool {
        (200..300).contains(&self.status)
            && self.fetched <= now
            && self.fresh_until.is_some_and(|until| now < until)
    }

    /// Keeps `links` compactly, relative to `page` where they share its origin.
    pub fn pack_links(page: &Url, links: &[Url]) -> Vec<String> {
        let origin = page.origin().ascii_serialization();
        links
            .iter()
            .map(|link| {
                let text = link.as_str();
                match text.strip_prefix(origin.as_str()) {
                    Some(path) if path.starts_with('/') => path.to_owned(),
                    _ => text.to_owned(),
                }
            })
            .collect()
    }

    /// The links again, the text of absolute URLs, against the page they were found on: its
    /// origin before the ones kept relative, so each is the text it was (not parsed here: see
    /// [`crate::frontier::Frontier::offer_kept_links`]).
    pub fn unpack_links(links: &[String], page: &Url) -> Vec<String> {
        let origin = page.origin().ascii_serialization();
        links
            .iter()
            .map(|link| {
                if link.starts_with('/') {
                    format!("{origin}{link}")
                } else {
                    link.clone()
                }
            })
            .collect()
    }
}

/// What a cache belongs to: the crawl's seeds, domains, path rules, depth and page limit (as
/// its journal, without the record format: a cache serves CSV and JSON Lines alike), and the
/// extractor's declared columns (`--field`), since the records it keeps carry their values.
pub(crate) fn identity(config: &crate::config::Config) -> u64 {
    let mut text = format!("depth {}\nmax-pages {:?}\n", config.depth, config.max_pages);
    for seed in &config.seeds {
        text.push_str(seed.as_str());
        text.push('\n');
    }
    for (flag, list) in [
        ("allow-domain", &config.allow_domains),
        ("allow-path", &config.allow_paths),
        ("allow", &config.allow),
        ("deny", &config.deny),
    ] {
        for rule in list {
            text.push_str(&format!("{flag} {rule}\n"));
        }
    }
    if let Some(extractor) = &config.extractor {
        for column in extractor.columns() {
            text.push_str(&format!("field {column}\n"));
        }
    }
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// Unix time now, in seconds.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An open cache.
pub(crate) struct Cache {
    #[cfg(feature = "cache")]
    store: store::Store,
    dir: PathBuf,
}

impl Cache {
    /// Opens (or creates) the cache in `dir` for the crawl whose identity is `identity`.
    #[cfg(feature = "cache")]
    pub fn open(dir: &Path, identity: u64) -> Result<Cache, CacheError> {
        Ok(Cache {
            store: store::Store::open(dir, identity)?,
            dir: dir.to_owned(),
        })
    }

    /// This build has no cache (`--cache` is refused before a crawl gets here).
    #[cfg(not(feature = "cache"))]
    pub fn open(dir: &Path, _identity: u64) -> Result<Cache, CacheError> {
        Err(CacheError::Damaged {
            dir: dir.to_owned(),
            why: "this build of crawl has no crawl cache (the `cache` feature)".into(),
        })
    }

    /// The directory, as given.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Pages an earlier crawl left in it.
    pub fn held(&self) -> u64 {
        #[cfg(feature = "cache")]
        return self.store.held();
        #[cfg(not(feature = "cache"))]
        0
    }

    /// Crawls that ran to their end with it before this one.
    pub fn crawls(&self) -> u64 {
        #[cfg(feature = "cache")]
        return self.store.crawls();
        #[cfg(not(feature = "cache"))]
        0
    }

    /// The entry kept for `url`. An entry that does not read back is as good as none: the page
    /// is fetched as new.
    pub fn get(&self, url: &Url) -> Result<Option<Entry>, CacheError> {
        #[cfg(feature = "cache")]
        return Ok(self
            .store
            .get(url.as_str(), |bytes| serde_json::from_slice(bytes).ok())?
            .flatten());
        #[cfg(not(feature = "cache"))]
        {
            let _ = url;
            Ok(None)
        }
    }

    /// Keeps `entry` for `url`.
    pub fn put(&mut self, url: &Url, entry: &Entry) -> Result<(), CacheError> {
        #[cfg(feature = "cache")]
        {
            let bytes = serde_json::to_vec(entry).map_err(|e| CacheError::Damaged {
                dir: self.dir.clone(),
                why: format!("an entry would not serialise: {e}"),
            })?;
            self.store.put(url.as_str(), Some(bytes))
        }
        #[cfg(not(feature = "cache"))]
        {
            let _ = (url, entry);
            Ok(())
        }
    }

    /// Writes every entry to disk as it is kept, not in batches (`--state`: a resumed crawl
    /// must find the entry of every page its journal calls finished).
    pub fn set_durable(&mut self, durable: bool) {
        #[cfg(feature = "cache")]
        self.store.set_durable(durable);
        #[cfg(not(feature = "cache"))]
        let _ = durable;
    }

    /// Forgets what it kept of `url` (a page that said `Cache-Control: no-store`).
    pub fn remove(&mut self, url: &Url) -> Result<(), CacheError> {
        #[cfg(feature = "cache")]
        return self.store.put(url.as_str(), None);
        #[cfg(not(feature = "cache"))]
        {
            let _ = url;
            Ok(())
        }
    }

    /// Whether the entries kept since the last commit are due to be committed (once a
    /// second): the caller flushes the records first, then calls [`Cache::commit`].
    pub fn commit_due(&self) -> bool {
        #[cfg(feature = "cache")]
        return self.store.commit_due();
        #[cfg(not(feature = "cache"))]
        false
    }

    /// Commits the entries kept so far, durably.
    pub fn commit(&mut self) -> Result<(), CacheError> {
        #[cfg(feature = "cache")]
        return self.store.commit();
        #[cfg(not(feature = "cache"))]
        Ok(())
    }

    /// Commits every entry, durably, and counts the crawl as run to its end.
    pub fn close(&mut self) -> Result<(), CacheError> {
        #[cfg(feature = "cache")]
        return self.store.finish();
        #[cfg(not(feature = "cache"))]
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_pack_relative_on_the_page_origin_and_come_back_whole() {
        let page = Url::parse("http://a.test:8080/dir/page").expect("url");
        let links: Vec<Url> = [
            "http://a.test:8080/x?q=1",
            "http://a.test:8080/",
            "http://b.test/y",
            "https://a.test:8080/z",
        ]
        .iter()
        .map(|u| Url::parse(u).expect("url"))
        .collect();
        let packed = Entry::pack_links(&page, &links);
        assert_eq!(
            packed,
            ["/x?q=1", "/", "http://b.test/y", "https://a.test:8080/z"]
        );
        let entry = Entry {
            status: 200,
            validators: Validators::default(),
            fresh_until: None,
            fetched: 0,
            digest: None,
            record: Record::of(&crate::frontier::Job::for_login(page.clone()), None),
            item: None,
            links: packed,
            archived_as: None,
        };
        let texts: Vec<String> = links.iter().map(|u| u.to_string()).collect();
        assert_eq!(Entry::unpack_links(&entry.links, &page), texts);
    }
}
