//! Admission: which URLs the crawl takes on, and when.
//!
//! It owns
//! - **the seen set**: 64-bit fingerprints of normalised URLs (8 bytes per known URL; 10 to 21
//!   with the hash table's control bytes and free slots), and its copy in shared memory
//!   (`known`) for worker processes;
//! - **the verdicts**: scope, `--depth`, `--max-pages` (which counts every admitted URL, seeds
//!   and URLs finished by an earlier run included, because each yields exactly one record), and
//!   the counts of links skipped for each reason;
//! - **exact depths**: a page's depth is its shortest distance from a seed, in every mode, by
//!   holding links back (below) while shallower pages are outstanding;
//! - **the journal log**: with `--state`, every URL taken on, admitted or held.
//!
//! It knows nothing of origins or queues: each admitted URL goes to the `enqueue` its caller
//! passes (the frontier's queues), the moment it is admitted.
//!
//! ## Why depths need care
//! With many pages in flight, a page can be found first along a long path and only later along
//! a short one; first-come depths would then depend on timing, and so would which pages a
//! `--depth` limit cuts. So links found on a page at depth `k` are admitted only once no page at
//! depth `< k` is outstanding (those could still find the same URL at a smaller depth); until
//! then they wait in a per-level buffer, packed like queued pages (see `packed`). Fetching never
//! waits — only the admission of links does, one level behind — and every mode produces the
//! same records.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use url::Url;

use super::packed::PackedUrls;
use crate::normalize::{fingerprint, normalize};
use crate::scope::{Scope, Standing};
use crate::shm_set::ShmSet;

/// Why a URL was or was not scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Admitted and queued: it will be fetched (or blocked by robots.txt) and get a record.
    Scheduled,
    /// Already known: admitted before, or finished by an earlier `--state` run.
    Duplicate,
    /// A link (not a seed) to a host outside the crawl's scope.
    OutOfScope,
    /// A link (not a seed) on the crawl's hosts that `--allow-path`, `--allow` or `--deny`
    /// leave out.
    Excluded,
    /// New and in scope, but deeper than `--depth`.
    TooDeep,
    /// New, in scope and within `--depth`, but `--max-pages` URLs are admitted already.
    OverMaxPages,
}

/// Counts of links not scheduled, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Links to URLs already known ([`Admit::Duplicate`]), those worker processes dropped
    /// against the shared set (`--dedupe shared`) included.
    pub duplicate: u64,
    /// Links off the crawl's hosts ([`Admit::OutOfScope`]).
    pub out_of_scope: u64,
    /// Links on the crawl's hosts left out by `--allow-path`, `--allow` or `--deny`
    /// ([`Admit::Excluded`]).
    pub excluded: u64,
    /// New links beyond `--depth` ([`Admit::TooDeep`]).
    pub too_deep: u64,
    /// New links refused because `--max-pages` was reached ([`Admit::OverMaxPages`]).
    pub over_max_pages: u64,
    /// Links past the per-page cap ([`crate::extract::MAX_LINKS`]): counted, never offered.
    pub over_page_limit: u64,
    /// Links the crawler found that a page's extractor left out of its `follow` list.
    pub declined: u64,
}

impl Skipped {
    /// Counts a verdict other than `Scheduled` under its reason.
    fn count(&mut self, verdict: Admit) {
        match verdict {
            Admit::Scheduled => {}
            Admit::Duplicate => self.duplicate += 1,
            Admit::OutOfScope => self.out_of_scope += 1,
            Admit::Excluded => self.excluded += 1,
            Admit::TooDeep => self.too_deep += 1,
            Admit::OverMaxPages => self.over_max_pages += 1,
        }
    }
}

/// Fingerprints are xxh3 hashes already: hashing them again would only cost time.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the set holds u64s); this keeps any other use correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Fingerprints = HashSet<u64, BuildHasherDefault<AlreadyHashed>>;

/// The crawl's memory of what it has taken on, and its rules for taking on more.
pub(super) struct Admission {
    seen: Fingerprints,
    scope: Arc<Scope>,
    max_depth: u32,
    max_pages: Option<u64>,
    admitted: u64,
    skipped: Skipped,
    /// Admitted pages not yet finished (recorded), by depth.
    outstanding: Vec<u64>,
    /// Links waiting for shallower pages to finish, by the depth they would be admitted at.
    held: BTreeMap<u32, PackedUrls>,
    /// Work that may still admit pages at depth 0 after the seeds: sitemaps to find or to
    /// read (`--sitemaps`). It counts below every level, so no link is admitted one level
    /// down while a sitemap could still list it at depth 0.
    early: u64,
    /// A copy of `seen` in shared memory, for worker processes to consult (processes mode).
    known: Option<Arc<ShmSet>>,
    /// With `--state`: URLs taken on (admitted or held) since the last `drain_log`.
    log: Option<Vec<(u32, Url)>>,
}

impl Admission {
    pub(super) fn new(scope: Arc<Scope>, max_depth: u32, max_pages: Option<u64>) -> Self {
        Admission {
            seen: Fingerprints::default(),
            scope,
            max_depth,
            max_pages,
            admitted: 0,
            skipped: Skipped::default(),
            outstanding: Vec::new(),
            held: BTreeMap::new(),
            early: 0,
            known: None,
            log: None,
        }
    }

    pub(super) fn set_logging(&mut self, on: bool) {
        self.log = on.then(Vec::new);
    }

    pub(super) fn drain_log(&mut self) -> Vec<(u32, Url)> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Counts `fp` as known and as admitted (a record exists), without queueing anything.
    pub(super) fn restore_finished(&mut self, fp: u64) {
        if self.seen.insert(fp) {
            self.admitted += 1;
            if let Some(known) = &self.known {
                known.insert(fp);
            }
        }
    }

    /// Judges `url` found at `depth`; if it is admitted, its normalised form goes to `enqueue`.
    pub(super) fn admit(
        &mut self,
        url: Url,
        depth: u32,
        enqueue: &mut impl FnMut(Url, u32),
    ) -> Admit {
        let (verdict, fp) = self.check(&url, depth);
        self.skipped.count(verdict);
        if verdict == Admit::Scheduled {
            let url = normalize(url);
            if let Some(log) = &mut self.log {
                log.push((depth, url.clone()));
            }
            self.seen.insert(fp);
            if let Some(known) = &self.known {
                known.insert(fp);
            }
            self.admitted += 1;
            let level = depth as usize;
            if self.outstanding.len() <= level {
                self.outstanding.resize(level + 1, 0);
            }
            self.outstanding[level] += 1;
            enqueue(url, depth);
        }
        verdict
    }

    /// Admits `url` at depth 0 like a seed, but only within scope: a URL a sitemap lists.
    pub(super) fn admit_listed(&mut self, url: Url, enqueue: &mut impl FnMut(Url, u32)) -> Admit {
        let verdict = match self.scope.standing(&url) {
            Standing::Within => return self.admit(url, 0, enqueue),
            Standing::OffSite => Admit::OutOfScope,
            Standing::Excluded => Admit::Excluded,
        };
        self.skipped.count(verdict);
        verdict
    }

    /// Admits a sitemap file at depth 0, without a journal line. Only its host is judged: no
    /// `--allow-path`, `--allow` or `--deny` rule is about a sitemap (as none is about
    /// robots.txt), and the pages it lists are judged by them one by one.
    pub(super) fn admit_unlogged(&mut self, url: Url, enqueue: &mut impl FnMut(Url, u32)) -> Admit {
        if self.scope.standing(&url) == Standing::OffSite {
            self.skipped.count(Admit::OutOfScope);
            return Admit::OutOfScope;
        }
        let log = self.log.take();
        let verdict = self.admit(url, 0, enqueue);
        self.log = log;
        verdict
    }

    /// Work began that may still admit depth-0 pages (see `early`).
    pub(super) fn early_started(&mut self) {
        self.early += 1;
    }

    /// Such work ended; releases held links it no longer holds back.
    pub(super) fn early_done(&mut self, enqueue: &mut impl FnMut(Url, u32)) {
        self.early = self.early.saturating_sub(1);
        self.release_held(enqueue);
    }

    pub(super) fn publish_known(&mut self, known: Arc<ShmSet>) {
        for &fp in &self.seen {
            known.insert(fp);
        }
        self.known = Some(known);
    }

    pub(super) fn count_known_links(&mut self, n: usize) {
        self.skipped.duplicate += n as u64;
    }

    pub(super) fn count_links_over_limit(&mut self, n: usize) {
        self.skipped.over_page_limit += n as u64;
    }

    pub(super) fn count_declined_links(&mut self, n: usize) {
        self.skipped.declined += n as u64;
    }

    /// Admits the links of a page at `depth` at `depth + 1` now, or holds them (module doc).
    pub(super) fn offer_links(
        &mut self,
        depth: u32,
        links: Vec<Url>,
        enqueue: &mut impl FnMut(Url, u32),
    ) {
        let level = depth.saturating_add(1);
        // Links past the depth limit are only counted; holding them back would change nothing.
        if level > self.max_depth || self.outstanding_below(depth) == 0 {
            for link in links {
                self.admit(link, level, enqueue);
            }
            return;
        }
        for link in links {
            // Settle whatever does not depend on timing now, so held lists stay short.
            match self.check(&link, level).0 {
                Admit::Scheduled => {
                    if let Some(log) = &mut self.log {
                        log.push((level, normalize(link.clone())));
                    }
                    self.held.entry(level).or_default().push(link, level, "");
                }
                verdict => self.skipped.count(verdict),
            }
        }
    }

    /// Marks an admitted page at `depth` as finished and admits, in the order they were
    /// offered, the held links that were waiting only for it.
    pub(super) fn finished(&mut self, depth: u32, enqueue: &mut impl FnMut(Url, u32)) {
        if let Some(n) = self.outstanding.get_mut(depth as usize) {
            *n = n.saturating_sub(1);
        }
        self.release_held(enqueue);
    }

    /// Admits the held links no shallower page (or early work) can still find first.
    fn release_held(&mut self, enqueue: &mut impl FnMut(Url, u32)) {
        while let Some(&level) = self.held.keys().next() {
            // Links held for `level` came from pages at `level - 1`.
            if self.outstanding_below(level - 1) > 0 {
                break;
            }
            let mut links = self.held.remove(&level).unwrap_or_default();
            // An unreadable link (see `packed`) was never admitted: nothing waits for it.
            while let Some(link) = links.pop("") {
                if let Ok((link, _)) = link {
                    self.admit(link, level, enqueue);
                }
            }
        }
    }

    fn outstanding_below(&self, depth: u32) -> u64 {
        // Early work (sitemaps) can admit depth-0 pages, so it counts below every level.
        self.early + self.outstanding.iter().take(depth as usize).sum::<u64>()
    }

    /// The admission verdict, in the order the summary reports it (a link off-site is
    /// "off-site" whatever its depth, and "beyond --depth" counts only new, in-scope pages),
    /// with the URL's fingerprint so that it is computed once.
    fn check(&self, url: &Url, depth: u32) -> (Admit, u64) {
        if depth > 0 {
            match self.scope.standing(url) {
                Standing::Within => {}
                Standing::OffSite => return (Admit::OutOfScope, 0),
                Standing::Excluded => return (Admit::Excluded, 0),
            }
        }
        let fp = if url.fragment().is_some() {
            fingerprint(&normalize(url.clone()))
        } else {
            fingerprint(url)
        };
        let verdict = if self.seen.contains(&fp) {
            Admit::Duplicate
        } else if depth > self.max_depth {
            Admit::TooDeep
        } else if self.max_pages.is_some_and(|max| self.admitted >= max) {
            Admit::OverMaxPages
        } else {
            Admit::Scheduled
        };
        (verdict, fp)
    }

    /// Whether the normalised URL whose text is `link` is known already; counted as a
    /// duplicate if so, as [`Admission::offer_links`] would count it, without parsing it. (A
    /// known URL was admitted, so it is in scope: the order of `check`'s verdicts holds, but
    /// for a link to a seed the path rules leave out, counted here as a duplicate.)
    pub(super) fn known(&mut self, link: &str) -> bool {
        let known = self
            .seen
            .contains(&xxhash_rust::xxh3::xxh3_64(link.as_bytes()));
        if known {
            self.skipped.count(Admit::Duplicate);
        }
        known
    }

    pub(super) fn admitted(&self) -> u64 {
        self.admitted
    }

    pub(super) fn skipped(&self) -> Skipped {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    fn admission(depth: u32, max_pages: Option<u64>) -> Admission {
        let seeds = [url("http://a.test/")];
        Admission::new(Arc::new(Scope::new(&seeds, &[])), depth, max_pages)
    }

    /// `(path, depth)` pairs as `(URL, depth)` pairs on http://a.test.
    fn in_a(queued: &[(&str, u32)]) -> Vec<(String, u32)> {
        let in_a = |path| format!("http://a.test/{path}");
        queued.iter().map(|&(p, d)| (in_a(p), d)).collect()
    }

    #[test]
    fn admission_rules() {
        let mut a = admission(1, Some(3));
        let mut queued = Vec::new();
        let q = &mut |u: Url, d| queued.push((String::from(u), d));
        assert_eq!(a.admit(url("http://a.test/"), 0, q), Admit::Scheduled);
        assert_eq!(a.admit(url("http://a.test/#top"), 1, q), Admit::Duplicate);
        assert_eq!(a.admit(url("http://b.test/"), 1, q), Admit::OutOfScope);
        assert_eq!(a.admit(url("http://a.test/deep"), 2, q), Admit::TooDeep);
        assert_eq!(a.admit(url("http://a.test/1"), 1, q), Admit::Scheduled);
        assert_eq!(a.admit(url("http://a.test/2#x"), 1, q), Admit::Scheduled);
        assert_eq!(a.admit(url("http://a.test/3"), 1, q), Admit::OverMaxPages);
        assert_eq!(a.admitted(), 3);
        let s = a.skipped();
        assert_eq!(
            (s.duplicate, s.out_of_scope, s.too_deep, s.over_max_pages),
            (1, 1, 1, 1)
        );
        let expected = in_a(&[("", 0), ("1", 1), ("2", 1)]);
        assert_eq!(queued, expected, "admitted URLs are queued normalised");
    }

    #[test]
    fn max_pages_counts_restored_pages() {
        let mut a = admission(5, Some(3));
        let mut queued = Vec::new();
        let q = &mut |u: Url, d| queued.push((String::from(u), d));
        let old = fingerprint(&url("http://a.test/old"));
        a.restore_finished(old);
        a.restore_finished(old); // the same record restored twice is one record
        a.restore_finished(fingerprint(&url("http://a.test/older")));
        assert_eq!(a.admitted(), 2);
        assert_eq!(a.admit(url("http://a.test/old"), 1, q), Admit::Duplicate);
        assert_eq!(a.admit(url("http://a.test/new"), 1, q), Admit::Scheduled);
        assert_eq!(
            a.admit(url("http://a.test/newer"), 1, q),
            Admit::OverMaxPages
        );
        assert_eq!(a.admitted(), 3);
        assert_eq!(queued, in_a(&[("new", 1)]), "restored: not queued");
    }

    #[test]
    fn held_links_are_released_in_order_once_shallower_pages_finish() {
        let mut a = admission(5, None);
        a.set_logging(true);
        let queued = RefCell::new(Vec::new());
        let q = &mut |u: Url, d| queued.borrow_mut().push((String::from(u), d));
        for (u, depth) in [("s1", 0), ("s2", 0), ("p", 1), ("r", 2)] {
            a.admit(url(&format!("http://a.test/{u}")), depth, q);
        }
        a.drain_log();
        // p's links (depth 2) wait for s1 and s2; r's (depth 3) for them and p.
        let links = ["c", "a", "b#x", "a", "http://b.test/off"];
        let links = links.map(|l| url("http://a.test/").join(l).expect("link"));
        a.offer_links(1, links.to_vec(), q);
        a.offer_links(2, vec![url("http://a.test/z")], q);
        assert_eq!(queued.borrow().len(), 4, "all held");
        assert_eq!(a.skipped().out_of_scope, 1, "settled at once");
        // Held links are in the journal as soon as they are held, normalised (a offered twice
        // is there twice: duplicates among held links are found only when they are released).
        let log = a.drain_log().into_iter().map(|(d, u)| (u.into(), d));
        let held = [("c", 2), ("a", 2), ("b", 2), ("a", 2), ("z", 3)];
        assert_eq!(log.collect::<Vec<_>>(), in_a(&held));

        a.finished(0, q);
        assert_eq!(queued.borrow().len(), 4, "s2 is still outstanding");
        a.finished(0, q);
        a.finished(1, q);
        let released = [("c", 2), ("a", 2), ("b", 2), ("z", 3)];
        assert_eq!(queued.borrow()[4..], in_a(&released));
        assert_eq!(a.skipped().duplicate, 1);
        assert_eq!(a.admitted(), 8);
    }

    #[test]
    fn links_past_the_depth_limit_are_counted_not_held() {
        let mut a = admission(1, None);
        let mut queued = 0;
        let q = &mut |_: Url, _| queued += 1;
        a.admit(url("http://a.test/s"), 0, q);
        a.admit(url("http://a.test/p"), 1, q);
        let links = ["http://a.test/deep", "http://a.test/p", "http://b.test/"];
        a.offer_links(1, links.map(url).to_vec(), q);
        let s = a.skipped();
        assert_eq!((s.duplicate, s.out_of_scope, s.too_deep), (1, 1, 1));
        a.count_known_links(5);
        a.count_links_over_limit(2);
        let s = a.skipped();
        assert_eq!((s.duplicate, s.over_page_limit), (6, 2));
        a.finished(0, q);
        a.finished(1, q);
        assert_eq!(queued, 2, "nothing was held");
    }

    #[test]
    fn the_shared_known_set_gets_every_known_url_once_published() {
        let mut a = admission(5, None);
        let q = &mut |_: Url, _| {};
        let fp = |u: &str| fingerprint(&url(u));
        a.restore_finished(fp("http://a.test/restored"));
        a.admit(url("http://a.test/s"), 0, q);
        let known = Arc::new(ShmSet::with_capacity(64).expect("mmap"));
        a.publish_known(Arc::clone(&known));
        a.restore_finished(fp("http://a.test/restored-later"));
        a.admit(url("http://a.test/p#top"), 1, q);
        a.offer_links(1, vec![url("http://a.test/held")], q);
        assert!(
            !known.contains(fp("http://a.test/held")),
            "held, not yet known"
        );
        a.finished(0, q);
        for u in ["restored", "s", "restored-later", "p", "held"] {
            assert!(known.contains(fp(&format!("http://a.test/{u}"))), "{u}");
        }
        assert_eq!(known.len(), 5);
    }
}
