//! The shared frontier: several crawl processes, on one machine or many, crawl one site once,
//! with the crawl's frontier in Redis (`--frontier redis://HOST/DB --crawl-id ID`).
//!
//! ## Who owns what
//! Redis owns what must be one for the whole crawl: the seen set, the queue of admitted pages,
//! the leases on pages a node is working on, the pages outstanding at each depth, the links held
//! back for exact depths, the crawl's settings and counts, and the shared rate limits. Each step
//! that changes them is one Lua script (`scripts.lua`), so it is atomic: two nodes never both
//! finish a page, and no link is lost between "fetched" and "its links admitted".
//!
//! A node keeps its own in-memory [`crate::frontier::MemoryFrontier`] as the queues of the pages it
//! has leased: per-origin politeness, robots.txt, retries and redirects work as on one machine.
//! Admission (dedupe, `--depth`, `--max-pages`, exact depths) is Redis's, not the node's.
//!
//! ## A page's life
//! 1. **claim**: a node leases a few queued pages (`--lease` seconds), taking back expired
//!    leases of dead or stalled nodes first (their pages go to the front of the queue);
//! 2. it renews its leases every third of a lease while it holds them, so a slow page stays
//!    its own;
//! 3. **complete**: once the page's record has reached the operating system, the node removes
//!    its lease, admits the page's links (or holds them until no shallower page is
//!    outstanding anywhere) and counts the page finished, in one script. A node that finds
//!    its lease gone before writing (it was stopped past its lease) drops its result: the page
//!    is another node's now;
//! 4. **give back**: on Ctrl-C, a node returns the leases of pages it has not finished, at once.
//!
//! The crawl is done when no page is outstanding anywhere: queued, leased or held back.
//!
//! ## What a node that dies costs
//! Its leases expire and other nodes fetch those pages again: at most the pages it held.
//! A node killed between writing a record and completing its page (the rest of its
//! coordinator's turn: the pages finished in one turn are completed together, in one round
//! trip, when the turn ends) leaves a record that another node writes again; the union of
//! the records then has that URL twice.

mod client;
mod node;
mod settings;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use crate::config::{Config, FrontierUrl, SharedCrawl};
use crate::frontier::{SharedReport, Skipped};
use crate::normalize::{fingerprint, normalize};
use crate::scope::{Scope, Standing, UrlRules};
use client::Redis;
pub(crate) use node::RedisFrontier;
pub(crate) use settings::Settings;

/// What marks a Redis hash as this crawler's: another program's data (or a future layout) under
/// the same key is refused, never overwritten.
const MAGIC: &str = "crawl-frontier/1";
/// Pages claimed at once at most.
const MAX_CLAIM: usize = 256;
/// How often an idle node looks for work others may add, or leases that expired.
const POLL: Duration = Duration::from_millis(100);

/// Why the shared frontier could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RedisFrontierError {
    /// The `--frontier` URL is not one the Redis client accepts.
    #[error("--frontier {url}: {why}")]
    Url {
        /// The URL, password hidden.
        url: FrontierUrl,
        /// What is wrong with it.
        why: String,
    },
    /// Redis could not be reached at the start.
    #[error("cannot reach Redis at {url}: {cause}")]
    Unreachable {
        /// The URL, password hidden.
        url: FrontierUrl,
        /// The client's error.
        cause: String,
    },
    /// The server is older than the scripts need.
    #[error(
        "Redis at {url} is version {version}; the shared frontier needs 6.2 or later (LPOP with \
         a count, ZADD GT)"
    )]
    TooOld {
        /// The URL, password hidden.
        url: FrontierUrl,
        /// What the server reports.
        version: String,
    },
    /// Redis refused the password (or wants one and none was given).
    #[error(
        "Redis at {url} refused the credentials: give the password in the URL, \
         redis://:PASSWORD@HOST:PORT/DB (or redis://USER:PASSWORD@... with ACL users)"
    )]
    Auth {
        /// The URL, password hidden.
        url: FrontierUrl,
    },
    /// Redis was lost mid-crawl and did not come back within `--redis-wait`.
    #[error(
        "lost Redis at {url} and it did not come back within {waited} s (--redis-wait): {cause}"
    )]
    Lost {
        /// The URL, password hidden.
        url: FrontierUrl,
        /// Seconds waited.
        waited: f64,
        /// The last error.
        cause: String,
    },
    /// The crawl's keys vanished from Redis mid-crawl.
    #[error(
        "the crawl's keys are gone from Redis at {url} (restarted without appendonly, evicted \
         under maxmemory, or deleted); the records written so far stand"
    )]
    Gone {
        /// The URL, password hidden.
        url: FrontierUrl,
    },
    /// The crawl id's keys hold something that is not a crawl of this crawler.
    #[error(
        "--crawl-id {id}: the key {key} holds {what}, not a crawl of this crawler; \
         choose another --crawl-id"
    )]
    OtherData {
        /// The crawl id.
        id: String,
        /// The key that holds it.
        key: String,
        /// What it holds.
        what: String,
    },
    /// A node without seeds asked to join a crawl that does not exist.
    #[error(
        "--crawl-id {id}: no such crawl at {url}; start it on one node with the seed URLs \
         (URLS_FILE), then start the others without"
    )]
    NoSuchCrawl {
        /// The crawl id.
        id: String,
        /// The URL, password hidden.
        url: FrontierUrl,
    },
    /// The node's flags disagree with the crawl's stored settings.
    #[error("{flag} disagrees with crawl {id}, which has {stored}; this node has {given}")]
    Disagrees {
        /// The crawl id.
        id: String,
        /// The flag that differs.
        flag: &'static str,
        /// The crawl's value.
        stored: String,
        /// This node's.
        given: String,
    },
}

/// A lease this node holds.
struct Lease {
    entry: String,
    /// When it runs out at the latest, by this node's clock (measured from before the request
    /// that granted or renewed it).
    expires: Instant,
    lost: bool,
}

/// This node's handle on the crawl's keys in Redis: leases, claims, completions, permits.
pub(crate) struct Store {
    redis: Redis,
    prefix: String,
    node: String,
    lease: Duration,
    max_depth: u32,
    max_pages: u64,
    scope: Arc<Scope>,
    leases: HashMap<String, Lease>,
    renew_at: Instant,
    /// No claim before this (the queue was empty at the last look).
    claim_after: Instant,
    /// No look (a claim of nothing, by a node with work enough) before this.
    look_after: Instant,
    outstanding: u64,
    stopgen: u64,
    joined_stopgen: u64,
    skipped: Skipped,
    report: SharedReport,
    /// The whole crawl's records, as of the last claim (for the progress line).
    crawl_records: u64,
    /// Origins paused crawl-wide as of the last claim, with the time left.
    holds: Vec<(String, Duration)>,
    /// Origins given up by any node since the last claim, and why; how many this node has
    /// read so far (its place in the crawl's log of them).
    gone: Vec<(String, String)>,
    gone_seen: u64,
    /// Nodes that looked at the crawl within a lease, this one included.
    live_nodes: u64,
    /// Pages finished since the last flush, as the `complete` script's arguments.
    finished: Vec<String>,
}

impl Store {
    /// Connects, and creates or joins the crawl `config.crawl_id`. A node with seeds creates
    /// it (or joins it, if its settings agree); a node without joins it.
    pub(crate) fn open(
        config: &Config,
        shared: &SharedCrawl,
    ) -> Result<(Store, Settings), RedisFrontierError> {
        let (url, id, lease) = (&shared.url, shared.crawl_id.as_str(), shared.lease);
        let mut redis = Redis::connect(url, lease, shared.redis_wait)?;
        let prefix = layout::prefix(id);
        let mine = Settings::of(config);
        let max_pages = config.max_pages.unwrap_or(0);
        let seeds = triples(config.seeds.iter().cloned());
        let reply: Vec<::redis::Value> = redis.call(|conn, s| {
            let mut call = s.open.key(&prefix);
            call.arg(MAGIC)
                .arg(mine.to_json())
                .arg(u8::from(!config.seeds.is_empty()))
                .arg(max_pages);
            for part in &seeds {
                call.arg(part);
            }
            call.invoke(conn)
        })?;
        let text = |i: usize| -> String {
            match reply.get(i) {
                Some(::redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                Some(::redis::Value::SimpleString(s)) => s.clone(),
                _ => String::new(),
            }
        };
        let stored = match text(0).as_str() {
            "created" | "joined" => {
                Settings::from_json(&text(1)).ok_or_else(|| RedisFrontierError::OtherData {
                    id: id.to_owned(),
                    key: format!("{prefix}meta"),
                    what: "settings this crawler cannot read".into(),
                })?
            }
            "missing" => {
                return Err(RedisFrontierError::NoSuchCrawl {
                    id: id.to_owned(),
                    url: url.clone(),
                });
            }
            _ => {
                return Err(RedisFrontierError::OtherData {
                    id: id.to_owned(),
                    key: format!("{prefix}meta"),
                    what: text(1),
                });
            }
        };
        let created = text(0) == "created";
        stored.check(&mine, &shared.explicit, id)?;
        let node = node_name();
        let stopgen: Option<u64> = redis.call(|conn, _| {
            ::redis::cmd("GET")
                .arg(format!("{prefix}stopgen"))
                .query(conn)
        })?;
        let rules =
            UrlRules::of(&stored.allow_paths, &stored.allow, &stored.deny).map_err(|e| {
                RedisFrontierError::OtherData {
                    id: id.to_owned(),
                    key: format!("{prefix}meta"),
                    what: format!("scope rules this crawler cannot use ({e})"),
                }
            })?;
        let scope = Arc::new(Scope::new(&stored.seeds, &stored.allow_domains).with_rules(rules));
        let mut shared = Store {
            redis,
            prefix,
            node: node.clone(),
            lease,
            max_depth: stored.depth,
            max_pages: stored.max_pages.unwrap_or(0),
            scope,
            leases: HashMap::new(),
            renew_at: Instant::now() + lease / 3,
            claim_after: Instant::now(),
            look_after: Instant::now(),
            outstanding: 1,
            stopgen: stopgen.unwrap_or(0),
            joined_stopgen: stopgen.unwrap_or(0),
            skipped: Skipped::default(),
            crawl_records: 0,
            holds: Vec::new(),
            gone: Vec::new(),
            gone_seen: 0,
            live_nodes: 1,
            finished: Vec::new(),
            report: SharedReport {
                crawl_id: id.to_owned(),
                node,
                created,
                ..SharedReport::default()
            },
        };
        if !created && !config.seeds.is_empty() {
            // Joining with the same seeds: they are duplicates unless this is a new run of a
            // crawl whose seeds were never admitted (they were, by the creator).
            let prefix = shared.prefix.clone();
            let _: Vec<u64> = shared.redis.call(|conn, s| {
                let mut call = s.seed.key(&prefix);
                call.arg(max_pages);
                for part in &seeds {
                    call.arg(part);
                }
                call.invoke(conn)
            })?;
        }
        Ok((shared, stored))
    }

    /// Leases up to `want` pages when it is time to look; returns them as `(url, depth)`.
    pub(crate) fn claim(
        &mut self,
        now: Instant,
        want: usize,
    ) -> Result<Vec<(Url, u32)>, RedisFrontierError> {
        if want > 0 && now < self.claim_after {
            return Ok(Vec::new());
        }
        let want = want.min(MAX_CLAIM);
        if want == 0 {
            // Only a look (stop, pauses, held links to release): at most every POLL.
            if now < self.look_after {
                return Ok(Vec::new());
            }
            self.look_after = now + POLL;
        }
        let (prefix, node, lease_ms) = (&self.prefix, &self.node, millis(self.lease));
        let max_pages = self.max_pages;
        let sent = Instant::now();
        let gone_seen = self.gone_seen;
        type Claimed = (
            Vec<String>,
            u64,
            u64,
            u64,
            u64,
            Vec<String>,
            u64,
            Vec<String>,
        );
        let (entries, reclaimed, outstanding, stopgen, records, holds, nodes, gone): Claimed =
            self.redis.call(|conn, s| {
                s.claim
                    .key(prefix)
                    .arg(node)
                    .arg(want)
                    .arg(lease_ms)
                    .arg(max_pages)
                    .arg(gone_seen)
                    .invoke(conn)
            })?;
        self.gone_seen += (gone.len() / 2) as u64;
        self.gone
            .extend(gone.chunks(2).filter_map(|pair| match pair {
                [origin, reason] => Some((origin.clone(), reason.clone())),
                _ => None,
            }));
        self.report.reclaimed += reclaimed;
        self.outstanding = outstanding;
        self.stopgen = stopgen;
        self.crawl_records = records;
        self.live_nodes = nodes.max(1);
        self.holds = holds
            .chunks(2)
            .filter_map(|pair| match pair {
                [origin, ms] => Some((origin.clone(), Duration::from_millis(ms.parse().ok()?))),
                _ => None,
            })
            .collect();
        if entries.is_empty() && want > 0 {
            self.claim_after = now + POLL;
        }
        let mut pages = Vec::with_capacity(entries.len());
        for entry in entries {
            let Some((depth, url)) = entry.split_once(' ') else {
                continue;
            };
            let (Ok(depth), Ok(parsed)) = (depth.parse::<u32>(), Url::parse(url)) else {
                continue;
            };
            self.report.claimed += 1;
            self.leases.insert(
                parsed.as_str().to_owned(),
                Lease {
                    entry: entry.clone(),
                    expires: sent + self.lease,
                    lost: false,
                },
            );
            pages.push((parsed, depth));
        }
        Ok(pages)
    }

    /// When this node must next talk to Redis even if nothing happens: to renew its leases,
    /// or to look for work.
    /// While `looking` (not stopping), also to look for work.
    pub(crate) fn wake_at(&self, now: Instant, looking: bool) -> Instant {
        let look = self.claim_after.max(now + POLL / 2);
        let at = match (looking, self.leases.is_empty()) {
            (true, true) => look,
            (true, false) => look.min(self.renew_at),
            (false, false) => self.renew_at,
            (false, true) => now + self.lease,
        };
        // Never in the past: a driver told to wake at once would spin.
        at.max(now + Duration::from_millis(1))
    }

    /// Whether the lease on `url` is known to be gone (a renewal found it taken back): the
    /// page is another node's, and must not be fetched here.
    pub(crate) fn lost(&self, url: &Url) -> bool {
        self.leases.get(url.as_str()).is_some_and(|l| l.lost)
    }

    /// Renews this node's leases if a third of a lease has passed since the last renewal.
    pub(crate) fn renew_if_due(&mut self, now: Instant) -> Result<(), RedisFrontierError> {
        if now < self.renew_at || self.leases.is_empty() {
            return Ok(());
        }
        self.renew_at = now + self.lease / 3;
        let entries: Vec<(String, String)> = self
            .leases
            .iter()
            .filter(|(_, l)| !l.lost)
            .map(|(k, l)| (k.clone(), l.entry.clone()))
            .collect();
        let (prefix, node, lease_ms) = (&self.prefix, &self.node, millis(self.lease));
        let sent = Instant::now();
        let lost: Vec<usize> = self.redis.call(|conn, s| {
            let mut call = s.renew.key(prefix);
            call.arg(node).arg(lease_ms);
            for (_, entry) in &entries {
                call.arg(entry);
            }
            call.invoke(conn)
        })?;
        let lost: HashSet<usize> = lost.into_iter().collect();
        for (i, (key, _)) in entries.iter().enumerate() {
            if let Some(lease) = self.leases.get_mut(key) {
                if lost.contains(&(i + 1)) {
                    lease.lost = true;
                } else {
                    lease.expires = sent + self.lease;
                }
            }
        }
        Ok(())
    }

    /// Whether this node still holds the lease on `url`, so that its record may be written.
    /// Asks Redis only when the lease may have run out by this node's clock.
    pub(crate) fn still_mine(
        &mut self,
        url: &Url,
        now: Instant,
    ) -> Result<bool, RedisFrontierError> {
        let margin = self.lease / 4;
        match self.leases.get(url.as_str()) {
            None => Ok(false),
            Some(lease) if lease.lost => Ok(false),
            Some(lease) if now + margin < lease.expires => Ok(true),
            Some(_) => {
                // Past (or near) the lease by this node's clock: renewing says for sure.
                self.renew_at = now;
                self.renew_if_due(now)?;
                Ok(self.leases.get(url.as_str()).is_some_and(|l| !l.lost))
            }
        }
    }

    /// Forgets the lease on `url` without telling Redis: its result was dropped, the page is
    /// another node's.
    pub(crate) fn drop_result(&mut self, url: &Url) {
        if self.leases.remove(url.as_str()).is_some() {
            self.report.dropped += 1;
        }
    }

    /// Finishes the page `url` at `depth` crawl-wide, with the links it yielded (judged here
    /// for scope and `--depth`, and in Redis for dedupe and `--max-pages`). Its record must
    /// have reached the OS. The step itself goes to Redis at [`Store::flush`], with
    /// every page finished since the last one: one round trip for them all.
    pub(crate) fn finish_page(&mut self, url: &Url, depth: u32, links: Vec<Url>) {
        let Some(lease) = self.leases.remove(url.as_str()) else {
            return;
        };
        let level = depth.saturating_add(1);
        let mut unique = HashSet::new();
        let mut parts = Vec::new();
        for link in links {
            match self.scope.standing(&link) {
                Standing::Within => {}
                Standing::OffSite => {
                    self.skipped.out_of_scope += 1;
                    continue;
                }
                Standing::Excluded => {
                    self.skipped.excluded += 1;
                    continue;
                }
            }
            let link = normalize(link);
            let fp = fingerprint(&link);
            if !unique.insert(fp) {
                self.skipped.duplicate += 1;
            } else if level > self.max_depth {
                self.skipped.too_deep += 1;
            } else {
                push_triple(&mut parts, fp, link.as_str());
            }
        }
        self.finished.push(lease.entry);
        self.finished.push((parts.len() / 3).to_string());
        self.finished.extend(parts);
    }

    /// Sends the pages finished since the last flush (see [`Store::finish_page`]),
    /// in the turn that began at `now`.
    pub(crate) fn flush(&mut self, now: Instant) -> Result<(), RedisFrontierError> {
        if self.finished.is_empty() {
            return Ok(());
        }
        let pages = std::mem::take(&mut self.finished);
        let (prefix, node, max_pages) = (&self.prefix, &self.node, self.max_pages);
        let (dropped, dup, over, _admitted): (u64, u64, u64, u64) =
            self.redis.call(|conn, s| {
                let mut call = s.complete.key(prefix);
                call.arg(node).arg(max_pages);
                for part in &pages {
                    call.arg(part);
                }
                call.invoke(conn)
            })?;
        self.skipped.duplicate += dup;
        self.skipped.over_max_pages += over;
        self.report.dropped += dropped;
        // Links went in: there may be work to lease at once, in this very turn (`now`, not
        // the clock after the round trip, which the turn's claim would find in its future).
        self.claim_after = now;
        Ok(())
    }

    /// Gives every lease this node holds back to the crawl (a stop, or the end of a run with
    /// pages still queued here).
    /// This node then leaves: it no longer counts as live.
    pub(crate) fn give_back_all(&mut self) -> Result<(), RedisFrontierError> {
        let entries: Vec<String> = self.leases.drain().map(|(_, l)| l.entry).collect();
        let (prefix, node) = (&self.prefix, &self.node);
        let back: u64 = self.redis.call(|conn, s| {
            let mut call = s.give_back.key(prefix);
            call.arg(node).arg(1);
            for entry in &entries {
                call.arg(entry);
            }
            call.invoke(conn)
        })?;
        self.report.given_back += back;
        Ok(())
    }

    /// Gives back the lease on one page (abandoned after a stop).
    pub(crate) fn give_back(&mut self, url: &Url) -> Result<(), RedisFrontierError> {
        let Some(lease) = self.leases.remove(url.as_str()) else {
            return Ok(());
        };
        let (prefix, node) = (&self.prefix, &self.node);
        let back: u64 = self.redis.call(|conn, s| {
            s.give_back
                .key(prefix)
                .arg(node)
                .arg(0)
                .arg(&lease.entry)
                .invoke(conn)
        })?;
        self.report.given_back += back;
        Ok(())
    }

    /// Takes one permit of the crawl-wide limit `name` (`rate`, or `host:ORIGIN`) of `rate`
    /// requests a second: `None` when the request may go, or how long to wait.
    pub(crate) fn permit(
        &mut self,
        name: &str,
        rate: f64,
    ) -> Result<Option<Duration>, RedisFrontierError> {
        let interval = 1e6 / rate;
        // The same 50 ms of tolerance for timer lateness as the local limiter (`ratelimit`).
        let tolerance = (interval * ((rate * 0.05).ceil().max(1.0) - 1.0)).max(0.0);
        let prefix = &self.prefix;
        let wait_us: u64 = self.redis.call(|conn, s| {
            s.gcra
                .key(prefix)
                .arg(name)
                .arg(format!("{interval:.3}"))
                .arg(format!("{tolerance:.3}"))
                .invoke(conn)
        })?;
        Ok((wait_us > 0).then(|| Duration::from_micros(wait_us)))
    }

    /// The verdict on `origin`'s robots.txt another node found, if one did (in
    /// [`crate::robots::Verdict::portable`] form).
    pub(crate) fn robots(&mut self, origin: &str) -> Result<Option<Vec<u8>>, RedisFrontierError> {
        let key = format!("{}robots:{origin}", self.prefix);
        self.redis
            .call(|conn, _| ::redis::cmd("GET").arg(&key).query(conn))
    }

    /// Offers this node's verdict on `origin`'s robots.txt; returns the crawl's, which is the
    /// first any node offered.
    pub(crate) fn agree_robots(
        &mut self,
        origin: &str,
        verdict: &[u8],
    ) -> Result<Vec<u8>, RedisFrontierError> {
        let prefix = &self.prefix;
        self.redis
            .call(|conn, s| s.robots.key(prefix).arg(origin).arg(verdict).invoke(conn))
    }

    /// Tells every node that `origin` asked for a pause of `pause` (Retry-After).
    pub(crate) fn share_hold(
        &mut self,
        origin: &str,
        pause: Duration,
    ) -> Result<(), RedisFrontierError> {
        let prefix = &self.prefix;
        let _: u64 = self.redis.call(|conn, s| {
            s.hold
                .key(prefix)
                .arg(origin)
                .arg(millis(pause))
                .invoke(conn)
        })?;
        Ok(())
    }

    /// Tells every node that `origin` was given up, for `reason`: their pages of it are
    /// recorded as unreachable at once, without probing it again.
    pub(crate) fn share_gone(
        &mut self,
        origin: &str,
        reason: &str,
    ) -> Result<(), RedisFrontierError> {
        let prefix = &self.prefix;
        let _: u64 = self
            .redis
            .call(|conn, s| s.giveup.key(prefix).arg(origin).arg(reason).invoke(conn))?;
        Ok(())
    }

    /// The origins any node gave up since the last call, and why.
    pub(crate) fn take_gone(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.gone)
    }

    /// The pauses other nodes (or this one) shared, as of the last claim: each is applied
    /// once.
    pub(crate) fn take_holds(&mut self) -> Vec<(String, Duration)> {
        std::mem::take(&mut self.holds)
    }

    /// This node's share of a crawl-wide cap of `cap` pages of one host in flight: an equal
    /// share per live node, at least one.
    pub(crate) fn share_of(&self, cap: usize) -> usize {
        (cap / self.live_nodes.max(1) as usize).max(1)
    }

    /// The whole crawl's records and outstanding pages, as of the last claim.
    pub(crate) fn crawl_progress(&self) -> (u64, u64) {
        (self.crawl_records, self.outstanding)
    }

    /// Whether the whole crawl is finished: nothing outstanding anywhere, as of the last look.
    pub(crate) fn crawl_done(&self) -> bool {
        self.outstanding == 0
    }

    /// Whether `crawl --stop-crawl` was run since this node joined.
    pub(crate) fn crawl_stopped(&self) -> bool {
        self.stopgen > self.joined_stopgen
    }

    /// Links this node did not send on, by reason, and those Redis refused.
    pub(crate) fn skipped(&self) -> Skipped {
        self.skipped
    }

    /// This node's counts and the crawl's, read from Redis now if `ask` (it answered so far).
    pub(crate) fn report(&mut self, ask: bool) -> SharedReport {
        let key = format!("{}tally", self.prefix);
        let tally: Result<HashMap<String, u64>, _> = if ask {
            self.redis
                .call(|conn, _| ::redis::cmd("HGETALL").arg(&key).query(conn))
        } else {
            Ok(HashMap::new())
        };
        let mut report = self.report.clone();
        if let (true, Ok(tally)) = (ask, tally) {
            let get = |k: &str| tally.get(k).copied().unwrap_or(0);
            report.crawl_records = get("records");
            report.crawl_admitted = get("admitted");
            report.crawl_outstanding = get("outstanding");
        }
        report.crawl_stopped = self.crawl_stopped();
        report.round_trips = self.redis.round_trips;
        report
    }
}

/// Asks every node of crawl `id` to stop (as Ctrl-C does on one): `crawl --stop-crawl`.
pub fn stop_crawl(url: &FrontierUrl, id: &str) -> Result<(), RedisFrontierError> {
    let mut redis = Redis::connect(url, Duration::from_secs(10), Duration::from_secs(10))?;
    let prefix = layout::prefix(id);
    let (key, meta) = (format!("{prefix}stopgen"), format!("{prefix}meta"));
    let exists: bool = redis.call(|conn, _| ::redis::cmd("EXISTS").arg(&meta).query(conn))?;
    if !exists {
        return Err(RedisFrontierError::NoSuchCrawl {
            id: id.to_owned(),
            url: url.clone(),
        });
    }
    let _: u64 = redis.call(|conn, _| ::redis::cmd("INCR").arg(&key).query(conn))?;
    Ok(())
}

/// `urls` as the `BUCKET FP URL` arguments the scripts take, normalised.
fn triples(urls: impl Iterator<Item = Url>) -> Vec<String> {
    let mut parts = Vec::new();
    for url in urls {
        let url = normalize(url);
        push_triple(&mut parts, fingerprint(&url), url.as_str());
    }
    parts
}

fn push_triple(parts: &mut Vec<String>, fp: u64, url: &str) {
    let (bucket, member) = layout::seen(fp);
    parts.push(bucket.to_string());
    parts.push(member.to_string());
    parts.push(url.to_owned());
}

/// The crawl's keys in Redis, as the scripts lay them out: the one place that says it, for
/// the store here and for `benches/shared.rs`, which weighs the layout by loading it directly.
#[doc(hidden)]
pub mod layout {
    /// Seen-set buckets: sets of at most 512 integers stay intsets (8 bytes a member), so
    /// 4096 buckets keep about 2 million URLs at that size.
    pub const BUCKETS: u64 = 4096;

    /// The prefix of every key of crawl `id`: one hash slot (`{id}`) for all of them.
    pub fn prefix(id: &str) -> String {
        format!("crawl:{{{id}}}:")
    }

    /// The seen-set bucket (`PREFIX seen:B`) and the member a URL's fingerprint `fp` goes in:
    /// the member as a signed integer, so that Redis keeps it in an intset (8 bytes), not as a
    /// string.
    pub fn seen(fp: u64) -> (u64, i64) {
        (fp % BUCKETS, fp as i64)
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// `HOST-PID-RANDOM`: unique per run, readable in `redis-cli ZRANGE ... leases`.
fn node_name() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "node".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let host: String = host
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    format!("{host}-{}-{:06x}", std::process::id(), nanos & 0xff_ffff)
}
