//! `--cache`: a crawl that remembers. Before a page goes out, the cache says whether it is
//! still fresh (then it is not requested: its earlier record is written again) or what to ask
//! with (`If-None-Match`, `If-Modified-Since`); when it comes back, a `304` writes the earlier
//! record again and follows the links the page had, a body whose digest is the cache's is
//! unchanged too, a 404 or 410 where there was a page is gone, and what the page is now is
//! kept for the next crawl.
//!
//! Every record of a page the cache knew is marked (`unchanged`, `changed` or `gone`), and on
//! a crawl after the first, a page it did not know is `new`. `--changed-only` leaves the
//! unchanged pages' records (and items) out of the output; they are journaled as finished all
//! the same, so a resumed crawl does not fetch them again.

use std::collections::HashMap;
use std::time::Instant;

use url::Url;

use super::{Coordinator, CoordinatorError, items};
use crate::cache::{Cache, Entry, unix_now};
use crate::frontier::Job;
use crate::record::Record;
use crate::report::RecrawlReport;
use crate::task::{Earlier, Revisit, TaskKind, WorkerId};

/// The cache and what the crawl learns from it.
pub(super) struct Recrawl {
    cache: Cache,
    /// `--revalidate`: ask about fresh pages too.
    revalidate: bool,
    /// `--changed-only`.
    pub(super) changed_only: bool,
    /// The cache held pages when the crawl began: pages it does not know are `new`.
    again: bool,
    /// The entries of the pages in flight, looked up when each was handed out, by URL: the
    /// answer is judged against them without a second lookup.
    asked: HashMap<String, Entry>,
    pub(super) report: RecrawlReport,
}

impl Recrawl {
    pub(super) fn new(cache: Cache, revalidate: bool, changed_only: bool) -> Recrawl {
        let held = cache.held();
        Recrawl {
            report: RecrawlReport {
                cache: cache.dir().display().to_string(),
                held,
                ..RecrawlReport::default()
            },
            cache,
            revalidate,
            changed_only,
            again: held > 0,
            asked: HashMap::new(),
        }
    }

    /// The entry kept for `url`: the one looked up when its page was handed out, or the
    /// cache's.
    fn take(&mut self, url: &Url) -> Result<Option<Entry>, crate::cache::CacheError> {
        match self.asked.remove(url.as_str()) {
            Some(entry) => Ok(Some(entry)),
            None => self.cache.get(url),
        }
    }

    /// Commits what the crawl learnt, durably: the end of the crawl.
    pub(super) fn close(&mut self) -> Result<(), crate::cache::CacheError> {
        self.cache.close()
    }
}

/// Why a page's earlier record is written again.
#[derive(Debug, Clone, Copy)]
enum Again {
    /// The server said `304 Not Modified`.
    NotModified,
    /// Still fresh: not requested.
    Fresh,
}

/// What the cache says about a page about to be handed out.
pub(super) enum Consulted {
    /// Fetch it, with what the cache kept of it if anything (validators to ask with, where it
    /// was archived).
    Fetch(Box<Job>, Option<Box<Earlier>>),
    /// Still fresh: its record is written, nothing to hand out.
    Served,
}

impl Coordinator<'_> {
    /// What the cache says about `job`, a page popped to be handed out at `now`: fresh (its
    /// earlier record is written again, and its origin's slot freed), or the validators to
    /// ask with. Without `--cache`, or for anything but a page, it is fetched as it is.
    pub(super) fn consult_cache(&mut self, job: Job, now: Instant) -> Consulted {
        if job.kind != TaskKind::Page {
            return Consulted::Fetch(Box::new(job), None);
        }
        let Some(recrawl) = &mut self.recrawl else {
            return Consulted::Fetch(Box::new(job), None);
        };
        let entry = match recrawl.cache.get(&job.fetch_url) {
            Ok(entry) => entry,
            Err(e) => {
                self.fail(e.into());
                return Consulted::Fetch(Box::new(job), None);
            }
        };
        let Some(entry) = entry else {
            return Consulted::Fetch(Box::new(job), None);
        };
        if !recrawl.revalidate && entry.fresh_at(unix_now()) {
            // Popped as if to be fetched: its origin's slot is given back at once.
            self.frontier.queues().release(&job.origin, now);
            self.again(job, entry, Again::Fresh, None, &Revisit::default());
            return Consulted::Served;
        }
        let earlier = Earlier {
            validators: entry.validators().cloned().unwrap_or_default(),
            archived_as: entry.archived_as.clone(),
        };
        recrawl
            .asked
            .insert(job.fetch_url.as_str().to_owned(), entry);
        let asks = !earlier.validators.is_empty() || earlier.archived_as.is_some();
        Consulted::Fetch(Box::new(job), asks.then(|| Box::new(earlier)))
    }

    /// A `304 Not Modified` for `job`: its earlier record again, if the cache has it. `false`
    /// if it has not (the 304 is recorded as the response it is).
    pub(super) fn not_modified(&mut self, job: &Job, worker: WorkerId, revisit: &Revisit) -> bool {
        let Some(recrawl) = &mut self.recrawl else {
            return false;
        };
        match recrawl.take(&job.fetch_url) {
            Ok(Some(entry)) => {
                self.again(
                    job.clone(),
                    entry,
                    Again::NotModified,
                    Some(worker),
                    revisit,
                );
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.fail(e.into());
                true
            }
        }
    }

    /// Writes `entry`'s record again for `job` (marked unchanged), with its item, and offers
    /// the links the page had. A `304`'s headers freshen the entry, as RFC 9111 says a cache
    /// does with them.
    fn again(
        &mut self,
        job: Job,
        mut entry: Entry,
        why: Again,
        worker: Option<WorkerId>,
        revisit: &Revisit,
    ) {
        let Some(recrawl) = &mut self.recrawl else {
            return;
        };
        let r = &mut recrawl.report;
        match why {
            Again::NotModified => r.not_modified += 1,
            Again::Fresh => r.fresh += 1,
        }
        r.bytes_saved += entry.record.bytes;
        let mut record = entry.record.clone();
        // This crawl's facts: what was admitted, how deep, what it cost now.
        let now = Record::of(&job, worker);
        record.url = now.url;
        record.depth = now.depth;
        record.attempts = now.attempts;
        record.fetch_ms = now.fetch_ms;
        record.parse_ms = now.parse_ms;
        record.worker = now.worker;
        record.unchanged = Some(true);
        // A 304 that says something new (a freshness, another validator) updates the entry;
        // one that says nothing new leaves it as it is, unwritten: rewriting every entry of an
        // unchanged site would cost the recrawl a third of its time and grow the file.
        let mut freshened = false;
        if let Again::NotModified = why {
            let now = unix_now();
            if let Some(secs) = revisit.fresh_secs {
                entry.fresh_until = Some(now.saturating_add(secs));
                entry.fetched = now;
                freshened = true;
            }
            for (kept, sent) in [
                (&mut entry.validators.etag, &revisit.validators.etag),
                (
                    &mut entry.validators.last_modified,
                    &revisit.validators.last_modified,
                ),
            ] {
                if sent.is_some() && sent != kept {
                    kept.clone_from(sent);
                    freshened = true;
                }
            }
        }
        if record.status.is_some_and(|s| (200..300).contains(&s)) {
            let base = record
                .final_url
                .as_deref()
                .and_then(|u| Url::parse(u).ok())
                .unwrap_or_else(|| job.fetch_url.clone());
            let links = entry.unpack_links(&base);
            self.frontier.offer_kept_links(job.depth, links);
        }
        let ok = record.error.is_none();
        match entry.item.clone() {
            Some(item) => {
                let for_file = (self.ledger.has_items() && !items::is_extract_error(&item))
                    .then(|| item.clone());
                self.hand_over_item(&mut record, item);
                self.emit_with_item(record, ok, &job, for_file.as_ref());
            }
            None => self.emit(record, ok, &job),
        }
        // After the record, as for any page (see `keep`).
        if freshened {
            self.keep(&job, &entry);
        }
    }

    /// Keeps `entry` for `job`'s URL, for the next crawl. Called once the page's record is
    /// written: a crawl killed between the two has the page's record and the cache's older
    /// entry, so the next crawl asks again (and may call it changed) rather than taking a
    /// page it never recorded as unchanged.
    pub(super) fn keep(&mut self, job: &Job, entry: &Entry) {
        let Some(recrawl) = &mut self.recrawl else {
            return;
        };
        if let Err(e) = recrawl.cache.put(&job.fetch_url, entry) {
            self.fail(e.into());
        }
    }

    /// Marks `record` (a response just recorded for `job`) against what the cache held, and
    /// returns the entry to keep (with [`Self::keep`], once the record is written): its
    /// `revisit`, the `links` it offered and its `item`. `record` has no item in it yet.
    pub(super) fn compare(
        &mut self,
        job: &Job,
        record: &mut Record,
        revisit: Revisit,
        links: &[Url],
        item: Option<&serde_json::Value>,
    ) -> Option<Entry> {
        let recrawl = self.recrawl.as_mut()?;
        let status = record.status?;
        let before = match recrawl.take(&job.fetch_url) {
            Ok(before) => before,
            Err(e) => {
                self.fail(e.into());
                return None;
            }
        };
        let ok = |s: u16| (200..300).contains(&s);
        let r = &mut recrawl.report;
        match &before {
            Some(before) if ok(before.status) && ok(status) => {
                if before.digest.is_some() && before.digest == revisit.digest {
                    r.same_digest += 1;
                    record.unchanged = Some(true);
                } else {
                    r.changed += 1;
                    record.changed = Some(true);
                }
            }
            Some(before) if ok(before.status) && matches!(status, 404 | 410) => {
                r.gone += 1;
                record.gone = Some(true);
            }
            Some(before) if before.status == status => {
                // An error page that is still that error: nothing new to say.
                r.same_digest += 1;
                record.unchanged = Some(true);
            }
            Some(_) => {
                r.changed += 1;
                record.changed = Some(true);
            }
            None => {
                r.new += 1;
                if recrawl.again {
                    record.new = Some(true);
                }
            }
        }
        // A server's passing trouble (5xx, 429) says nothing about the page: what the cache
        // held stays for the next crawl.
        if status >= 500 || status == 429 {
            return None;
        }
        let now = unix_now();
        let mut kept = record.clone();
        kept.new = None;
        kept.changed = None;
        kept.unchanged = None;
        kept.gone = None;
        let page = record
            .final_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .unwrap_or_else(|| job.fetch_url.clone());
        Some(Entry {
            status,
            fresh_until: revisit.fresh_secs.map(|secs| now.saturating_add(secs)),
            validators: revisit.validators,
            fetched: now,
            digest: revisit.digest,
            record: kept,
            item: item.cloned(),
            links: Entry::pack_links(&page, links),
            archived_as: revisit.archived_as,
        })
    }

    /// Whether `record` is left out of the output (`--changed-only` and unchanged); counted.
    pub(super) fn left_out(&mut self, record: &Record) -> bool {
        match &mut self.recrawl {
            Some(recrawl) if recrawl.changed_only && record.unchanged == Some(true) => {
                recrawl.report.left_out += 1;
                true
            }
            _ => false,
        }
    }

    /// A fatal error: the first one stops the crawl.
    fn fail(&mut self, e: CoordinatorError) {
        if self.fatal.is_none() {
            self.fatal = Some(e);
        }
    }
}
