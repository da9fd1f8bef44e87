//! `--cache`: a crawl that remembers. Before a page goes out, the cache says whether it is
//! still fresh (then it is not requested: its earlier record is written again) or what to ask
//! with (`If-None-Match`, `If-Modified-Since`); when it comes back, a `304` writes the earlier
//! record again and follows the links the page had, a body whose digest is the cache's is
//! unchanged too, a 404 or 410 where there was a page is gone, and what the page is now is
//! kept for the next crawl.
//!
//! Every record of a page the cache knew is marked (`unchanged`, `changed` or `gone`), and on
//! a crawl after a finished one, a page it did not know is `new`. An answer that says nothing
//! about the page (a 5xx, a 429, no answer at all) is not marked, and what the cache held stays.
//! `--changed-only` leaves the unchanged pages' records (and items) out of the output; they are
//! journaled as finished all the same, so a resumed crawl does not fetch them again.
//!
//! What the cache keeps of a page is kept once its record is written, and committed once a
//! second after the records have been flushed: the cache never says more than the output.

use std::collections::HashMap;

use url::Url;

use super::{Coordinator, CoordinatorError};
use crate::cache::{Cache, CacheError, Entry, unix_now};
use crate::frontier::Job;
use crate::normalize::fingerprint;
use crate::record::Record;
use crate::report::RecrawlReport;
use crate::task::{Earlier, Revisit, TaskKind, WorkerId};

/// The cache and what the crawl learns from it.
pub(super) struct Recrawl {
    cache: Cache,
    /// `--revalidate`: ask about fresh pages too.
    revalidate: bool,
    /// `--changed-only`.
    changed_only: bool,
    /// A crawl with this cache ran to its end before: pages it does not know are `new`.
    again: bool,
    /// The entries of the pages in flight, looked up when each was handed out, by URL, and
    /// whether the request asked with their validators: the answer is judged against them
    /// without a second lookup, and a `304` only counts as "not modified" if it was asked.
    asked: HashMap<String, (Entry, bool)>,
    /// How each URL fetched in this crawl compared, by fingerprint: a second page reaching the
    /// same URL (a redirect to a page also linked) is marked as the first was, not compared
    /// with what this crawl itself just kept.
    marked: HashMap<u64, Mark>,
    pub(super) report: RecrawlReport,
}

/// How a page compares with what the cache held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Not in the cache.
    New,
    Changed,
    /// The same, as the server said (`304`), as the digest says, or still fresh.
    Unchanged(Same),
    /// A 404 or 410 where there was a page.
    Gone,
}

/// How a page was found unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Same {
    NotModified,
    Digest,
    Fresh,
}

impl Recrawl {
    pub(super) fn new(cache: Cache, revalidate: bool, changed_only: bool) -> Recrawl {
        Recrawl {
            report: RecrawlReport {
                cache: cache.dir().display().to_string(),
                held: cache.held(),
                ..RecrawlReport::default()
            },
            again: cache.crawls() > 0,
            cache,
            revalidate,
            changed_only,
            asked: HashMap::new(),
            marked: HashMap::new(),
        }
    }

    /// Commits what the crawl learnt, durably, and counts the crawl as run to its end.
    pub(super) fn close(&mut self) -> Result<(), CacheError> {
        self.cache.close()
    }

    /// The entry kept for `url`, and whether it was asked with: the one looked up when its
    /// page was handed out, or the cache's.
    fn take(&mut self, url: &Url) -> Result<Option<(Entry, bool)>, CacheError> {
        match self.asked.remove(url.as_str()) {
            Some(asked) => Ok(Some(asked)),
            None => Ok(self.cache.get(url)?.map(|entry| (entry, false))),
        }
    }

    /// Counts `mark` and puts it on `record`.
    fn apply(&mut self, mark: Mark, record: &mut Record) {
        let r = &mut self.report;
        match mark {
            Mark::New => {
                r.new += 1;
                if self.again {
                    record.new = Some(true);
                }
            }
            Mark::Changed => {
                r.changed += 1;
                record.changed = Some(true);
            }
            Mark::Gone => {
                r.gone += 1;
                record.gone = Some(true);
            }
            Mark::Unchanged(how) => {
                match how {
                    Same::NotModified => r.not_modified += 1,
                    Same::Digest => r.same_digest += 1,
                    Same::Fresh => r.fresh += 1,
                }
                record.unchanged = Some(true);
            }
        }
    }
}

/// What the cache says about a page about to be handed out.
pub(super) enum Consulted {
    /// Fetch it, with what the cache kept of it if anything (validators to ask with, where it
    /// was archived).
    Fetch(Box<Job>, Option<Box<Earlier>>),
    /// Still fresh: its record is written, nothing to hand out.
    Served,
}

/// What to keep of a page once its record is written.
pub(super) enum Keep {
    /// What the page is now.
    Entry(Box<Entry>),
    /// Nothing: it said `Cache-Control: no-store`, so what was kept goes too.
    Forget,
}

impl Coordinator<'_> {
    /// Whether the cache says `job` (a page about to be popped) is still fresh: then it is
    /// served from the cache by [`Coordinator::consult_cache`] without a request, and so
    /// without taking a turn of its host's politeness (`--per-host-rate`, `Crawl-delay`,
    /// `--per-host-workers`). The entry is held for that call.
    pub(super) fn is_fresh(recrawl: &mut Option<Recrawl>, job: &Job) -> bool {
        let Some(recrawl) = recrawl else {
            return false;
        };
        if job.kind != TaskKind::Page || recrawl.revalidate {
            return false;
        }
        // Asked again while its host is busy: looked up once.
        if let Some((entry, _)) = recrawl.asked.get(job.fetch_url.as_str()) {
            return entry.fresh_at(unix_now());
        }
        // A cache that cannot be read is the caller's to report (`consult_cache` reads it
        // again): here it is only not fresh.
        let Some(entry) = recrawl.cache.get(&job.fetch_url).ok().flatten() else {
            return false;
        };
        let fresh = entry.fresh_at(unix_now());
        recrawl
            .asked
            .insert(job.fetch_url.as_str().to_owned(), (entry, false));
        fresh
    }

    /// What the cache says about `job`, a page popped to be handed out at `now` (or served
    /// without a request, when [`Coordinator::is_fresh`] said so): fresh (its earlier record
    /// is written again), or what to ask with. Without `--cache`, or for anything but a
    /// page, it is fetched as it is.
    pub(super) fn consult_cache(&mut self, job: Job, served: bool) -> Consulted {
        if job.kind != TaskKind::Page {
            return Consulted::Fetch(Box::new(job), None);
        }
        let archiving = self.ledger.is_archiving();
        let Some(recrawl) = &mut self.recrawl else {
            return Consulted::Fetch(Box::new(job), None);
        };
        let entry = match recrawl.take(&job.fetch_url) {
            Ok(entry) => entry.map(|(entry, _)| entry),
            Err(e) => {
                self.fail(e.into());
                return Consulted::Fetch(Box::new(job), None);
            }
        };
        let Some(entry) = entry else {
            return Consulted::Fetch(Box::new(job), None);
        };
        if served {
            self.again(job, entry, Same::Fresh, None, &Revisit::default());
            return Consulted::Served;
        }
        // With `--warc`, a page whose payload no archive holds is asked for whole: a revisit
        // record must refer to a capture that has it.
        let validators = match (archiving, &entry.archived_as) {
            (true, None) => None,
            _ => entry.validators().cloned(),
        };
        let earlier = Earlier {
            validators: validators.clone().unwrap_or_default(),
            archived_as: entry.archived_as.clone(),
        };
        let asks = validators.is_some();
        recrawl
            .asked
            .insert(job.fetch_url.as_str().to_owned(), (entry, asks));
        let some = !earlier.validators.is_empty() || earlier.archived_as.is_some();
        Consulted::Fetch(Box::new(job), some.then(|| Box::new(earlier)))
    }

    /// A `304 Not Modified` for `job`: its earlier record again, if the request asked with
    /// the validators of an entry the cache has. `false` if not (the 304 is recorded as the
    /// response it is: a server that says "not modified" to a question never asked has said
    /// nothing about the page).
    pub(super) fn not_modified(&mut self, job: &Job, worker: WorkerId, revisit: &Revisit) -> bool {
        let Some(recrawl) = &mut self.recrawl else {
            return false;
        };
        match recrawl.take(&job.fetch_url) {
            Ok(Some((entry, true))) => {
                self.again(job.clone(), entry, Same::NotModified, Some(worker), revisit);
                true
            }
            Ok(_) => false,
            Err(e) => {
                self.fail(e.into());
                true
            }
        }
    }

    /// Writes `entry`'s record again for `job` (marked unchanged), with its item, and offers
    /// the links the page had. A `304` that says something new of the page (a freshness,
    /// another validator) updates the entry, as RFC 9111 says a cache does with its headers.
    fn again(
        &mut self,
        job: Job,
        mut entry: Entry,
        how: Same,
        worker: Option<WorkerId>,
        revisit: &Revisit,
    ) {
        let Some(recrawl) = &mut self.recrawl else {
            return;
        };
        recrawl.report.bytes_saved += entry.record.bytes;
        // A 304 that says something new of the page (a freshness, another validator) updates
        // the entry; one that says nothing new leaves it as it is, unwritten: rewriting every
        // entry of an unchanged site would cost a recrawl a third of its time.
        let kept = (how == Same::NotModified)
            .then(|| freshen(&mut entry, revisit))
            .filter(|&changed| changed)
            .map(|_| entry.clone());
        // This crawl's record and item are the entry's own, moved out: no copy per page.
        let links = std::mem::take(&mut entry.links);
        let item = entry.item.take();
        let mut record = entry.record;
        // This crawl's facts: what was admitted, how deep, what it cost now.
        let now = Record::of(&job, worker);
        record.url = now.url;
        record.depth = now.depth;
        record.attempts = now.attempts;
        record.fetch_ms = now.fetch_ms;
        record.parse_ms = now.parse_ms;
        record.worker = now.worker;
        // A page this crawl has answered already is marked as it was then.
        let fp = fingerprint(&job.fetch_url);
        let mark = *recrawl.marked.entry(fp).or_insert(Mark::Unchanged(how));
        recrawl.apply(mark, &mut record);
        if record.status.is_some_and(|s| (200..300).contains(&s)) {
            // Against the page they were found on: its final URL (parsed only if a redirect
            // led elsewhere).
            let links = match record.final_url.as_deref() {
                Some(u) if u != job.fetch_url.as_str() => Url::parse(u)
                    .map(|base| Entry::unpack_links(&links, &base))
                    .unwrap_or_default(),
                _ => Entry::unpack_links(&links, &job.fetch_url),
            };
            self.frontier.offer_kept_links(job.depth, links);
        }
        let written = self.emit_page(record, item, &job);
        if let (true, Some(entry)) = (written, kept) {
            self.keep(&job, Keep::Entry(Box::new(entry)));
        }
    }

    /// Marks `record` (a response just recorded for `job`) against what the cache held, and
    /// says what to keep of it (with [`Self::keep`], once the record is written): its
    /// `revisit`, the `links` it offered and its `item`. `record` has no item in it yet.
    pub(super) fn compare(
        &mut self,
        job: &Job,
        record: &mut Record,
        revisit: Revisit,
        links: &[Url],
        item: Option<&serde_json::Value>,
    ) -> Option<Keep> {
        let recrawl = self.recrawl.as_mut()?;
        let status = record.status?;
        let before = match recrawl.take(&job.fetch_url) {
            Ok(before) => before.map(|(entry, _)| entry),
            Err(e) => {
                self.fail(e.into());
                return None;
            }
        };
        // A server's passing trouble says nothing about the page: no mark, and what the cache
        // held stays for the next crawl.
        if status >= 500 || status == 429 {
            return None;
        }
        let fp = fingerprint(&job.fetch_url);
        if let Some(&mark) = recrawl.marked.get(&fp) {
            // This crawl has answered the URL already (and kept what it is).
            recrawl.apply(mark, record);
            return None;
        }
        let ok = |s: u16| (200..300).contains(&s);
        let mark = match &before {
            Some(before) if ok(before.status) && ok(status) => {
                if before.digest.is_some() && before.digest == revisit.digest {
                    Mark::Unchanged(Same::Digest)
                } else {
                    Mark::Changed
                }
            }
            Some(before) if ok(before.status) && matches!(status, 404 | 410) => Mark::Gone,
            // An error page that is still that error: nothing new to say.
            Some(before) if before.status == status => Mark::Unchanged(Same::Digest),
            Some(_) => Mark::Changed,
            None => Mark::New,
        };
        recrawl.marked.insert(fp, mark);
        recrawl.apply(mark, record);
        if revisit.no_store {
            return Some(Keep::Forget);
        }
        let now = unix_now();
        let mut kept = record.clone();
        kept.new = None;
        kept.changed = None;
        kept.unchanged = None;
        kept.gone = None;
        let page = match record.final_url.as_deref() {
            Some(u) if u != job.fetch_url.as_str() => {
                Url::parse(u).unwrap_or_else(|_| job.fetch_url.clone())
            }
            _ => job.fetch_url.clone(),
        };
        Some(Keep::Entry(Box::new(Entry {
            status,
            fresh_until: revisit.fresh_secs.map(|secs| now.saturating_add(secs)),
            validators: revisit.validators,
            fetched: now,
            digest: revisit.digest,
            record: kept,
            item: item.cloned(),
            links: Entry::pack_links(&page, links),
            archived_as: revisit.archived_as,
        })))
    }

    /// Keeps what `keep` says for `job`'s URL, for the next crawl. Called once the page's
    /// record is written: a crawl killed between the two has the page's record and the
    /// cache's older entry, so the next crawl asks again (and may call it changed) rather
    /// than taking a page it never recorded as unchanged. Once a second, the records are
    /// flushed and what was kept is committed.
    pub(super) fn keep(&mut self, job: &Job, keep: Keep) {
        let Some(recrawl) = &mut self.recrawl else {
            return;
        };
        let kept = match keep {
            Keep::Entry(entry) => recrawl.cache.put(&job.fetch_url, &entry),
            Keep::Forget => recrawl.cache.remove(&job.fetch_url),
        };
        if let Err(e) = kept {
            self.fail(e.into());
            return;
        }
        if recrawl.cache.commit_due() {
            // The records first: a committed entry never says more than the output.
            if let Err(e) = self.ledger.flush() {
                self.fail(e.into());
                return;
            }
            if let Some(recrawl) = &mut self.recrawl
                && let Err(e) = recrawl.cache.commit()
            {
                self.fail(e.into());
            }
        }
    }

    /// Whether `record` is to be left out of the output (`--changed-only`, unchanged).
    pub(super) fn leaves_out(&self, record: &Record) -> bool {
        self.recrawl
            .as_ref()
            .is_some_and(|r| r.changed_only && record.unchanged == Some(true))
    }

    /// [`Self::leaves_out`], counted: the record is being left out.
    pub(super) fn left_out(&mut self, record: &Record) -> bool {
        let out = self.leaves_out(record);
        if let (true, Some(recrawl)) = (out, &mut self.recrawl) {
            recrawl.report.left_out += 1;
        }
        out
    }

    /// A fatal error: the first one stops the crawl.
    fn fail(&mut self, e: CoordinatorError) {
        if self.fatal.is_none() {
            self.fatal = Some(e);
        }
    }
}

/// Takes what a `304`'s headers say of the page into `entry` (a freshness, another validator),
/// as RFC 9111 says a cache does; whether that changed anything.
fn freshen(entry: &mut Entry, revisit: &Revisit) -> bool {
    let mut changed = false;
    let now = unix_now();
    if let Some(secs) = revisit.fresh_secs {
        entry.fresh_until = Some(now.saturating_add(secs));
        entry.fetched = now;
        changed = true;
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
            changed = true;
        }
    }
    changed
}
