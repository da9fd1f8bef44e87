//! `--sitemaps` in the coordinator: finding each seed origin's sitemaps (robots.txt's
//! `Sitemap:` lines, else `/sitemap.xml`), admitting them within the per-origin bound, and
//! what a sitemap's response admits. Reading one is [`crate::sitemap`]'s job, in the worker.

use std::collections::HashMap;
use std::sync::Arc;

use url::Url;

use super::Coordinator;
use crate::config::Config;
use crate::frontier::Job;
use crate::record::RecordError;
use crate::sitemap::MAX_SITEMAPS_PER_ORIGIN;
use crate::task::TaskResult;

/// Sitemap discovery state (`--sitemaps`).
#[derive(Default)]
pub(super) struct Sitemaps {
    pending: HashMap<Arc<str>, Url>,
    admitted: HashMap<Arc<str>, usize>,
}

impl Coordinator<'_> {
    /// `--sitemaps`: each seed origin's sitemaps are read once its robots.txt says where they
    /// are (or, without robots.txt, from `/sitemap.xml` at once). A shared crawl put each seed
    /// origin's `/sitemap.xml` in Redis when it was made, for whichever node leases it to find
    /// the origin's sitemaps (`RedisFrontier`): here only what sitemaps list is handled.
    pub(super) fn start_sitemaps(&mut self, config: &Config) {
        if config.shared.is_some() {
            self.sitemaps = Some(Sitemaps::default());
            return;
        }
        let mut sitemaps = Sitemaps::default();
        for seed in &config.seeds {
            let origin: Arc<str> = Arc::from(crate::normalize::origin_key(seed));
            let fallback = crate::normalize::at_root(seed, "/sitemap.xml");
            if let std::collections::hash_map::Entry::Vacant(e) = sitemaps.pending.entry(origin) {
                e.insert(fallback);
                // Until its sitemaps are known, pages they list may still come at depth 0.
                self.frontier.queues().early_started();
            }
        }
        self.sitemaps = Some(sitemaps);
        if !config.obey_robots {
            let origins: Vec<Arc<str>> = self
                .sitemaps
                .as_ref()
                .map(|s| s.pending.keys().cloned().collect())
                .unwrap_or_default();
            for origin in origins {
                self.discover_sitemaps(&origin, Vec::new());
            }
        }
    }

    /// Admits `origin`'s sitemaps, once: `named` (from its robots.txt), else `/sitemap.xml`.
    pub(super) fn discover_sitemaps(&mut self, origin: &Arc<str>, named: Vec<Url>) {
        let Some(fallback) = self
            .sitemaps
            .as_mut()
            .and_then(|s| s.pending.remove(origin))
        else {
            return;
        };
        let urls = if named.is_empty() {
            vec![fallback]
        } else {
            named
        };
        for url in urls {
            self.admit_sitemap(url);
        }
        self.frontier.queues().early_done();
    }

    /// Reads the fallback sitemap of every seed origin still waiting for its robots.txt when
    /// nothing else is left; returns whether there was one.
    pub(super) fn discover_leftover_sitemaps(&mut self) -> bool {
        let origins: Vec<Arc<str>> = self
            .sitemaps
            .as_ref()
            .map(|s| s.pending.keys().cloned().collect())
            .unwrap_or_default();
        for origin in &origins {
            self.discover_sitemaps(origin, Vec::new());
        }
        !origins.is_empty()
    }

    /// Admits one sitemap, within the per-origin bound on sitemap files.
    fn admit_sitemap(&mut self, url: Url) {
        let Some(sitemaps) = self.sitemaps.as_mut() else {
            return;
        };
        let origin: Arc<str> = Arc::from(crate::normalize::origin_key(&url));
        let count = sitemaps.admitted.entry(origin).or_default();
        if *count >= MAX_SITEMAPS_PER_ORIGIN {
            return;
        }
        if self.frontier.admit_sitemap(url) {
            *count += 1;
        }
    }

    /// Records a sitemap, and admits what it lists: pages as seeds of their origin (depth 0,
    /// within scope), sitemaps to read next (within the per-origin bound).
    pub(super) fn finish_sitemap(&mut self, job: Job, result: TaskResult) {
        let Some((mut record, page)) = self.answer(&job, result) else {
            return;
        };
        if let Some(mut page) = page
            && record.error.is_none()
        {
            self.stats.sitemaps += 1;
            self.stats.sitemap_urls += page.links.len() as u64;
            if let Some(why) = page.sitemap_error.take() {
                record.error = Some(RecordError::Sitemap(why).to_string());
            }
            for url in std::mem::take(&mut page.links) {
                self.frontier.admit_listed(url);
            }
            for url in std::mem::take(&mut page.sitemaps) {
                self.admit_sitemap(url);
            }
        }
        let ok = record.error.is_none();
        self.emit(record, ok, &job);
    }
}
