//! This node's handle on a shared crawl's keys: leases, claims, completions, permits, and the
//! sweep over the shards that tells a node the crawl is done or its next depth may begin.
//!
//! The keys and the scripts are laid out in `scripts.lua`; [`super::layout`] names them. With
//! one shard (one Redis, by default) every step is one script on one slot, as before shards
//! existed: a claim also looks at the crawl-wide keys, a completion judges exact depths
//! itself. With several, a node claims from the shards in turn, sends each completion to the
//! shards its links belong to and then to its page's, and sweeps the shards to raise the
//! crawl's gate and to see the end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;
use url::Url;

use super::client::Redis;
use super::layout::{Entry, Levels};
use super::{MAGIC, MAX_CLAIM, POLL, RedisFrontierError, Settings, layout, millis, node_name};
use crate::config::{Config, MAX_SHARDS, SharedCrawl};
use crate::frontier::{SharedReport, Skipped};
use crate::normalize::{fingerprint, normalize, origin_key};
use crate::scope::{Scope, Standing, UrlRules};

/// How often a node with work enough still sweeps the shards (for the progress line, and to
/// let the next depth begin before the queues run dry).
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How often a node short of work sweeps: the next depth begins only when a sweep raises the
/// gate, so a node waiting for it looks often (a sweep is two pipelined reads).
const SWEEP_SHORT: Duration = Duration::from_millis(10);

/// A lease this node holds.
struct Lease {
    entry: String,
    shard: usize,
    /// When it runs out at the latest, by this node's clock (measured from before the request
    /// that granted or renewed it).
    expires: Instant,
    lost: bool,
}

/// A finished page in its shard's `complete` call.
struct Finished {
    /// Its lease entry.
    entry: String,
    /// Its links of that shard, as triples.
    own: Vec<String>,
    /// Whether its record was written (not for a seed origin's /sitemap.xml that its
    /// robots.txt made needless).
    recorded: bool,
}

/// One shard's `complete` call: the shard, links from other shards' pages by level, and the
/// shard's own finished pages.
type Completion = (usize, BTreeMap<u32, Vec<String>>, Vec<Finished>);

/// What one completion round sends to one shard.
#[derive(Default)]
struct Outbox {
    /// Links from pages of other shards, by level, as triples: they go first, before those
    /// pages are finished in their own shards.
    foreign: BTreeMap<u32, Vec<String>>,
    /// This shard's pages finished, each with its links of this shard.
    pages: Vec<Finished>,
}

/// One shard as a sweep (or `crawl status`) read it.
#[derive(Debug, Clone, Default)]
pub(super) struct ShardView {
    /// Calls that admitted or held links, per level: two reads of a shard agree on the
    /// levels where these did not move.
    pub changes: BTreeMap<u32, u64>,
    pub min_out: Option<u32>,
    pub min_held: Option<u32>,
    pub left: u64,
    pub records: u64,
    pub admitted: u64,
    pub queued: u64,
    pub leased: u64,
    /// Pages outstanding (queued or leased) per depth.
    pub out: BTreeMap<u32, u64>,
    /// Links held per level.
    pub held: BTreeMap<u32, u64>,
}

/// This node's handle on the crawl's keys in Redis.
pub(crate) struct Store {
    redis: Redis,
    /// The crawl's own prefix (`crawl:{ID}:`).
    crawl: String,
    /// Each shard's prefix; one shard: the crawl's own.
    shards: Vec<String>,
    buckets_per_shard: u64,
    node: String,
    lease: Duration,
    max_depth: u32,
    max_pages: u64,
    /// Where pages and sitemaps sit in the crawl's levels.
    levels: Levels,
    scope: Arc<Scope>,
    leases: HashMap<String, Lease>,
    renew_at: Instant,
    /// No claim before this (the queues were empty at the last look).
    claim_after: Instant,
    /// No look (a claim of nothing, by a node with work enough) before this.
    look_after: Instant,
    /// When this node last swept the shards.
    swept: Instant,
    /// The shard the next claim starts at.
    cursor: usize,
    /// The crawl's gate as last read (several shards only).
    gate: u32,
    outstanding: u64,
    stopgen: u64,
    joined_stopgen: u64,
    skipped: Skipped,
    report: SharedReport,
    /// The whole crawl's records, as of the last claim or sweep (for the progress line).
    crawl_records: u64,
    holds: Vec<(String, Duration)>,
    gone: Vec<(String, String)>,
    gone_seen: u64,
    live_nodes: u64,
    /// Completions since the last flush, per shard.
    outbox: HashMap<usize, Outbox>,
    /// Origins in a crawl-wide run of failures, as of the last look (or counted here since).
    failing: HashSet<String>,
    /// Cookies shared by any node since the last call, and how many of the crawl's this node
    /// has read (its place in the crawl's list of them).
    cookies: Vec<(Url, Vec<String>)>,
    cookies_seen: u64,
    /// Pages this node finished, and its pace, for `crawl status`: pages/s over the last
    /// second or more, measured from `pace_since` and `pace_count`.
    finished: u64,
    pace: f64,
    pace_since: Instant,
    pace_count: u64,
}

/// Reads a script's reply element as text.
fn text(reply: &[Value], i: usize) -> String {
    reply.get(i).map(value_text).unwrap_or_default()
}

/// A reply value as text (a number as its digits; anything else empty).
pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) | Value::VerbatimString { text: s, .. } => s.clone(),
        Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

fn int(reply: &[Value], i: usize) -> i64 {
    match reply.get(i) {
        Some(Value::Int(n)) => *n,
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).parse().unwrap_or(0),
        _ => 0,
    }
}

fn list(reply: &[Value], i: usize) -> Vec<String> {
    match reply.get(i) {
        Some(Value::Array(items)) => (0..items.len()).map(|j| text(items, j)).collect(),
        _ => Vec::new(),
    }
}

fn pairs(flat: &[String]) -> BTreeMap<u32, u64> {
    flat.chunks(2)
        .filter_map(|p| match p {
            [a, b] => Some((a.parse().ok()?, b.parse().ok()?)),
            _ => None,
        })
        .collect()
}

impl Store {
    /// Connects, and creates or joins the crawl `shared.crawl_id`. A node with seeds creates
    /// it (or joins it, if its settings agree); a node without joins it.
    pub(crate) fn open(
        config: &Config,
        shared: &SharedCrawl,
    ) -> Result<(Store, Settings), RedisFrontierError> {
        let (url, id, lease) = (&shared.url, shared.crawl_id.as_str(), shared.lease);
        let mut redis = Redis::connect(url, lease, shared.redis_wait)?;
        let crawl = layout::prefix(id);
        let mine = Settings::of(config);
        let max_pages = config.max_pages.unwrap_or(0);
        let has_seeds = !config.seeds.is_empty();
        // A node with seeds agrees with the crawl on --sitemaps (`Settings::check`), so its
        // own setting places its seeds, whether it creates the crawl or joins it.
        let levels = Levels::new(mine.sitemaps);
        let open = |redis: &mut Redis, create: bool, seeds: Option<&[String]>| {
            redis.call(|conn, s| {
                let mut call = s.open.key(&crawl);
                // A crawl with --sitemaps is marked apart: its levels are not depths, and a
                // crawler that predates them must refuse it.
                let mark = if mine.sitemaps {
                    format!("{MAGIC}+sitemaps")
                } else {
                    MAGIC.to_owned()
                };
                call.arg(MAGIC)
                    .arg(mine.to_json())
                    .arg(u8::from(create))
                    .arg(mark);
                if let Some(seeds) = seeds {
                    call.arg(max_pages);
                    for part in seeds {
                        call.arg(part);
                    }
                }
                call.invoke::<Vec<Value>>(conn)
            })
        };
        let other = |what: String| RedisFrontierError::OtherData {
            id: id.to_owned(),
            key: format!("{crawl}meta"),
            what,
        };
        // A crawl of one shard is created with its seeds in one step. One of several has its
        // seeds admitted on every shard first, then its meta written: a node that finds the
        // meta finds the seeds.
        let mut reply = open(&mut redis, false, None)?;
        if text(&reply, 0) == "missing" && has_seeds {
            if mine.shards > 1 {
                let prefixes = layout::shard_prefixes(id, mine.shards);
                let per_shard = seed_parts(&config.seeds, &prefixes, mine.buckets, levels);
                for (prefix, parts) in prefixes.iter().zip(&per_shard) {
                    let _: Vec<u64> = redis.call(|conn, s| {
                        let mut call = s.seed.key(prefix);
                        call.arg(1).arg(max_pages);
                        for part in parts {
                            call.arg(part);
                        }
                        call.invoke(conn)
                    })?;
                }
                reply = open(&mut redis, true, None)?;
            } else {
                let seeds = seed_parts(
                    &config.seeds,
                    std::slice::from_ref(&crawl),
                    mine.buckets,
                    levels,
                );
                reply = open(&mut redis, true, Some(&seeds[0]))?;
            }
        }
        let stored = match text(&reply, 0).as_str() {
            "created" | "joined" => Settings::from_json(&text(&reply, 1))
                .ok_or_else(|| other("settings this crawler cannot read".into()))?,
            "missing" => {
                return Err(RedisFrontierError::NoSuchCrawl {
                    id: id.to_owned(),
                    url: url.clone(),
                });
            }
            _ => return Err(other(text(&reply, 1))),
        };
        let created = text(&reply, 0) == "created";
        if !(1..=MAX_SHARDS).contains(&stored.shards) || stored.buckets == 0 {
            return Err(other(format!(
                "a layout this crawler cannot use ({} shards, {} buckets)",
                stored.shards, stored.buckets
            )));
        }
        stored.check(&mine, &shared.explicit, id)?;
        let node = node_name();
        let stopgen: Option<u64> = redis.call(|conn, _| {
            ::redis::cmd("GET")
                .arg(format!("{crawl}stopgen"))
                .query(conn)
        })?;
        let rules = UrlRules::of(&stored.allow_paths, &stored.allow, &stored.deny)
            .map_err(|e| other(format!("scope rules this crawler cannot use ({e})")))?;
        let scope = Arc::new(Scope::new(&stored.seeds, &stored.allow_domains).with_rules(rules));
        let shards = layout::shard_prefixes(id, stored.shards.max(1));
        let buckets_per_shard = layout::buckets_per_shard(stored.buckets, stored.shards);
        let now = Instant::now();
        let mut store = Store {
            redis,
            crawl,
            shards,
            buckets_per_shard,
            node: node.clone(),
            lease,
            max_depth: stored.depth,
            max_pages: stored.max_pages.unwrap_or(0),
            levels: Levels::new(stored.sitemaps),
            scope,
            leases: HashMap::new(),
            renew_at: now + lease / 3,
            claim_after: now,
            look_after: now,
            swept: now,
            cursor: 0,
            gate: 0,
            outstanding: 1,
            stopgen: stopgen.unwrap_or(0),
            joined_stopgen: stopgen.unwrap_or(0),
            skipped: Skipped::default(),
            crawl_records: 0,
            holds: Vec::new(),
            gone: Vec::new(),
            gone_seen: 0,
            live_nodes: 1,
            outbox: HashMap::new(),
            failing: HashSet::new(),
            cookies: Vec::new(),
            cookies_seen: 0,
            finished: 0,
            pace: 0.0,
            pace_since: now,
            pace_count: 0,
            report: SharedReport {
                crawl_id: id.to_owned(),
                node,
                created,
                ..SharedReport::default()
            },
        };
        if !created && has_seeds {
            // Joining with the same seeds: they are duplicates unless this is a new run of a
            // crawl whose seeds were never admitted (they were, by the creator).
            let per_shard = seed_parts(&config.seeds, &store.shards, stored.buckets, levels);
            for (k, parts) in per_shard.iter().enumerate() {
                if parts.is_empty() {
                    continue;
                }
                let prefix = store.shards[k].clone();
                let _: Vec<u64> = store.redis.call(|conn, s| {
                    let mut call = s.seed.key(&prefix);
                    call.arg(0).arg(max_pages);
                    for part in parts {
                        call.arg(part);
                    }
                    call.invoke(conn)
                })?;
            }
        }
        Ok((store, stored))
    }

    fn whole(&self) -> bool {
        self.shards.len() == 1
    }

    /// The gate a shard script is given: -1 (judge it there) with one shard.
    fn gate_arg(&self) -> i64 {
        if self.whole() {
            -1
        } else {
            i64::from(self.gate)
        }
    }

    fn shard_of(&self, url: &Url) -> usize {
        layout::shard_of(url.host_str().unwrap_or(""), self.shards.len())
    }

    /// What `crawl status` shows of this node, as the `look` script keeps it.
    fn stats(&mut self, now: Instant) -> String {
        let span = now.saturating_duration_since(self.pace_since);
        if span >= Duration::from_secs(1) {
            self.pace = (self.finished - self.pace_count) as f64 / span.as_secs_f64();
            self.pace_since = now;
            self.pace_count = self.finished;
        }
        format!("{} {:.1} {}", self.finished, self.pace, millis(self.lease))
    }

    /// Takes in a look at the crawl-wide keys: {stopgen, holds, nodes, gone, gate}.
    fn take_look(&mut self, look: &[Value]) {
        if look.is_empty() {
            return;
        }
        self.stopgen = int(look, 0).max(0) as u64;
        self.holds = list(look, 1)
            .chunks(2)
            .filter_map(|pair| match pair {
                [origin, ms] => Some((origin.clone(), Duration::from_millis(ms.parse().ok()?))),
                _ => None,
            })
            .collect();
        self.live_nodes = (int(look, 2).max(1)) as u64;
        let gone = list(look, 3);
        self.gone_seen += (gone.len() / 2) as u64;
        self.gone
            .extend(gone.chunks(2).filter_map(|pair| match pair {
                [origin, reason] => Some((origin.clone(), reason.clone())),
                _ => None,
            }));
        let gate = int(look, 4).max(0) as u32;
        self.gate = self.gate.max(gate);
        self.failing = list(look, 5).into_iter().collect();
        self.take_cookie_entries(list(look, 6));
    }

    /// The crawl's cookie entries ("URL\nSET-COOKIE\n...") read from this node's place in
    /// the list on: kept for the jar, and the place moved past them.
    fn take_cookie_entries(&mut self, entries: Vec<String>) {
        self.cookies_seen += entries.len() as u64;
        self.cookies.extend(entries.iter().filter_map(|entry| {
            let mut lines = entry.split('\n');
            let url = Url::parse(lines.next()?).ok()?;
            Some((url, lines.map(str::to_owned).collect()))
        }));
    }

    /// Leases up to `want` pages when it is time to look; returns them as `(url, depth)`.
    pub(crate) fn claim(
        &mut self,
        now: Instant,
        want: usize,
    ) -> Result<Vec<(Url, Entry)>, RedisFrontierError> {
        if want > 0 && now < self.claim_after {
            // Nothing to claim at the last look. Several shards: the next depth may be
            // waiting only for a sweep to raise the gate, which sets `claim_after` to now.
            if !self.whole() && now >= self.swept + SWEEP_SHORT {
                self.swept = now;
                self.sweep()?;
            }
            if now < self.claim_after {
                return Ok(Vec::new());
            }
        }
        let want = want.min(MAX_CLAIM);
        let looking = now >= self.look_after;
        if want == 0 {
            // Only a look (stop, pauses, held links to release): at most every POLL.
            if !looking {
                return Ok(Vec::new());
            }
        }
        if looking {
            self.look_after = now + POLL;
        }
        let whole = self.whole();
        // What `crawl status` shows of this node, only when it goes with a look.
        let stats = if whole || looking {
            self.stats(now)
        } else {
            String::new()
        };
        let mut pages = Vec::new();
        // One shard: one call, which also looks. Several: each in turn from the cursor, until
        // enough or all were asked.
        let rounds = if whole || want > 0 {
            self.shards.len()
        } else {
            0
        };
        let mut short = false;
        for _ in 0..rounds.max(usize::from(whole)) {
            let k = self.cursor % self.shards.len();
            let n = want.saturating_sub(pages.len());
            let sent = Instant::now();
            let reply: Vec<Value> = {
                let (prefix, node, lease_ms) = (&self.shards[k], &self.node, millis(self.lease));
                let (max_pages, gate, gone_seen, cookies_seen) = (
                    self.max_pages,
                    self.gate_arg(),
                    self.gone_seen,
                    self.cookies_seen,
                );
                let look = u8::from(whole);
                self.redis.call(|conn, s| {
                    s.claim
                        .key(prefix)
                        .arg(node)
                        .arg(n)
                        .arg(lease_ms)
                        .arg(max_pages)
                        .arg(gate)
                        .arg(look)
                        .arg(gone_seen)
                        .arg(&stats)
                        .arg(cookies_seen)
                        .invoke(conn)
                })?
            };
            let entries = list(&reply, 0);
            self.report.reclaimed += int(&reply, 1).max(0) as u64;
            if whole {
                self.outstanding = int(&reply, 2).max(0) as u64;
                self.crawl_records = int(&reply, 3).max(0) as u64;
                if let Some(Value::Array(look)) = reply.get(4) {
                    let look = look.clone();
                    self.take_look(&look);
                }
            }
            if entries.len() < n {
                self.cursor += 1;
            }
            for entry in entries {
                let Some((level, url)) = entry.split_once(' ') else {
                    continue;
                };
                let (Ok(level), Ok(parsed)) = (level.parse::<u32>(), Url::parse(url)) else {
                    continue;
                };
                self.report.claimed += 1;
                self.leases.insert(
                    parsed.as_str().to_owned(),
                    Lease {
                        entry: entry.clone(),
                        shard: k,
                        expires: sent + self.lease,
                        lost: false,
                    },
                );
                pages.push((parsed, self.levels.entry(level)));
            }
            if pages.len() >= want {
                break;
            }
            short = true;
        }
        if want > 0 && pages.len() < want {
            short = true;
        }
        // Several shards: the crawl-wide look after the claims, so that what a node shared
        // before its links went in (cookies, above all) is heard before those pages go out.
        if !whole && looking {
            let (crawl, node, lease_ms) = (&self.crawl, &self.node, millis(self.lease));
            let (gone_seen, cookies_seen) = (self.gone_seen, self.cookies_seen);
            let look: Vec<Value> = self.redis.call(|conn, s| {
                s.look
                    .key(crawl)
                    .arg(node)
                    .arg(lease_ms)
                    .arg(gone_seen)
                    .arg(&stats)
                    .arg(cookies_seen)
                    .invoke(conn)
            })?;
            self.take_look(&look);
        }
        if pages.is_empty() && want > 0 {
            self.claim_after = now + POLL;
        }
        // A node short of work sweeps often (the next depth may be waiting for it), one with
        // work enough now and then (for the progress line).
        let due = if short { SWEEP_SHORT } else { SWEEP_EVERY };
        if !whole && now >= self.swept + due {
            self.swept = now;
            self.sweep()?;
        }
        Ok(pages)
    }

    /// Reads every shard once: `peek`, in one pipeline.
    fn peek_all(&mut self) -> Result<Vec<ShardView>, RedisFrontierError> {
        peek_all(&mut self.redis, &self.shards)
    }

    /// Several shards: reads them all twice, and from the two reads together raises the
    /// crawl's gate or sees its end.
    ///
    /// Each read of each shard is its own moment. Take `t` between the two sweeps: a page
    /// (or held link) at level L that existed at `t` either existed at its shard's first read,
    /// or came in between that shard's two reads, which moved its count of calls at L. So
    /// when those counts did not move at the levels up to the gate, the smallest depths over
    /// *both* reads are no larger than those at `t`, and the gate they give held at `t`, hence
    /// ever after. (The second reads alone would not do: a page finished, its links offered
    /// to a shard already read, shows in neither.) This rests on links being offered while
    /// their page is outstanding, which a node stalled past its lease between writing a page
    /// and finishing it breaks: its late offer of links to other shards can land below the
    /// gate (see docs/design.md, "A completion crosses slots").
    fn sweep(&mut self) -> Result<(), RedisFrontierError> {
        for _ in 0..3 {
            let first = self.peek_all()?;
            let second = self.peek_all()?;
            self.crawl_records = second.iter().map(|v| v.records).sum();
            // Nothing admitted or held at a level up to `up_to` between a shard's two reads.
            let quiet = |up_to: u32| {
                first.iter().zip(&second).all(|(a, b)| {
                    b.changes
                        .range(..=up_to)
                        .all(|(level, n)| a.changes.get(level) == Some(n))
                })
            };
            let both = || first.iter().chain(&second);
            let min_out = both().filter_map(|v| v.min_out).min();
            let min_held = both().filter_map(|v| v.min_held).min();
            // Links of a page at D may go in when no page shallower than D is outstanding and
            // none are held for a level up to D.
            let gate = match (min_out, min_held) {
                (None, None) if quiet(u32::MAX) => {
                    // Nothing outstanding anywhere, and nothing came in meanwhile: the end.
                    self.outstanding = 0;
                    return Ok(());
                }
                (None, None) => continue,
                (Some(o), None) => o,
                (None, Some(h)) => h.saturating_sub(1),
                (Some(o), Some(h)) => o.min(h.saturating_sub(1)),
            };
            self.outstanding = second.iter().map(|v| v.left).sum::<u64>().max(1);
            if gate <= self.gate {
                return Ok(());
            }
            if !quiet(gate) {
                continue;
            }
            let crawl = &self.crawl;
            let raised: i64 = self
                .redis
                .call(|conn, s| s.raise_gate.key(crawl).arg(gate).invoke(conn))?;
            self.gate = self.gate.max(raised.max(0) as u32);
            // Held links may go in now: claim at once.
            self.claim_after = Instant::now();
            return Ok(());
        }
        Ok(())
    }

    /// When to wake, at the latest, for the next renewal (while leases are held), and if
    /// `looking`, also to look for work.
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
        let mut by_shard: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
        for (k, l) in self.leases.iter().filter(|(_, l)| !l.lost) {
            by_shard
                .entry(l.shard)
                .or_default()
                .push((k.clone(), l.entry.clone()));
        }
        for (shard, entries) in by_shard {
            let (prefix, node, lease_ms) = (&self.shards[shard], &self.node, millis(self.lease));
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

    /// Judges a link found on a page (or listed in a sitemap): its scope (only its host, for
    /// a `sitemap`, as for robots.txt) and whether the page already yielded it. Its shard and
    /// its `BUCKET FP URL` triple, or `None`, counted as skipped.
    fn judge(
        &mut self,
        link: Url,
        sitemap: bool,
        unique: &mut HashSet<u64>,
    ) -> Option<(usize, [String; 3])> {
        match self.scope.standing(&link) {
            Standing::Within => {}
            Standing::Excluded if sitemap => {}
            Standing::OffSite => {
                self.skipped.out_of_scope += 1;
                return None;
            }
            Standing::Excluded => {
                self.skipped.excluded += 1;
                return None;
            }
        }
        let link = normalize(link);
        let fp = fingerprint(&link);
        if !unique.insert(fp) {
            self.skipped.duplicate += 1;
            return None;
        }
        let shard = self.shard_of(&link);
        let (bucket, member) = layout::seen(fp, self.buckets_per_shard);
        Some((
            shard,
            [
                bucket.to_string(),
                member.to_string(),
                link.as_str().to_owned(),
            ],
        ))
    }

    /// Finishes the page `url` at `depth` crawl-wide, with the links it yielded (judged here
    /// for scope and `--depth`, and in Redis for dedupe and `--max-pages`). Its record must
    /// have reached the OS. The step itself goes to Redis at [`Store::flush`], with every
    /// page finished since the last one.
    pub(crate) fn finish_page(&mut self, url: &Url, depth: u32, links: Vec<Url>) {
        let Some(lease) = self.leases.remove(url.as_str()) else {
            return;
        };
        let level = self.levels.page(depth.saturating_add(1));
        let too_deep = depth.saturating_add(1) > self.max_depth;
        let mut unique = HashSet::new();
        let mut own = Vec::new();
        for link in links {
            let Some((shard, triple)) = self.judge(link, false, &mut unique) else {
                continue;
            };
            if too_deep {
                self.skipped.too_deep += 1;
                continue;
            }
            let parts = if shard == lease.shard {
                &mut own
            } else {
                let outbox = self.outbox.entry(shard).or_default();
                outbox.foreign.entry(level).or_default()
            };
            parts.extend(triple);
        }
        self.finish_entry(lease, own, true);
    }

    /// Puts the entry of `lease` in its shard's outbox, finished with its `own` links (those
    /// of its shard, as triples); `recorded`: its record was written.
    fn finish_entry(&mut self, lease: Lease, own: Vec<String>, recorded: bool) {
        self.outbox
            .entry(lease.shard)
            .or_default()
            .pages
            .push(Finished {
                entry: lease.entry,
                own,
                recorded,
            });
        if recorded {
            self.finished += 1;
        }
    }

    /// Offers `links` at `level`, each to its shard with the links of other shards' pages:
    /// they go in before any page finished in the same flush.
    fn offer_early(&mut self, level: u32, links: impl IntoIterator<Item = (usize, [String; 3])>) {
        for (shard, triple) in links {
            let outbox = self.outbox.entry(shard).or_default();
            outbox.foreign.entry(level).or_default().extend(triple);
        }
    }

    /// `--sitemaps`: the sitemaps a seed origin's robots.txt names, to read (each once for the
    /// whole crawl: they go through the seen set like pages).
    pub(crate) fn offer_sitemaps(&mut self, sitemaps: Vec<Url>) {
        let mut unique = HashSet::new();
        let judged: Vec<_> = sitemaps
            .into_iter()
            .filter_map(|url| self.judge(url, true, &mut unique))
            .collect();
        self.offer_early(Levels::SITEMAP, judged);
    }

    /// Finishes the sitemap `url` crawl-wide (its record is written, or none is when
    /// `recorded` is false: a seed origin's /sitemap.xml that its robots.txt made needless),
    /// with the pages it `listed` (admitted at depth 0, within scope) and the sitemaps it
    /// named (`found`, to read). Both go in before the sitemap is finished, since the pages
    /// waiting for it must find them admitted.
    pub(crate) fn finish_sitemap(
        &mut self,
        url: &Url,
        listed: Vec<Url>,
        found: Vec<Url>,
        recorded: bool,
    ) {
        let Some(lease) = self.leases.remove(url.as_str()) else {
            return;
        };
        let mut unique = HashSet::new();
        let pages: Vec<_> = listed
            .into_iter()
            .filter_map(|url| self.judge(url, false, &mut unique))
            .collect();
        self.offer_early(self.levels.page(0), pages);
        let sitemaps: Vec<_> = found
            .into_iter()
            .filter_map(|url| self.judge(url, true, &mut unique))
            .collect();
        self.offer_early(Levels::SITEMAP, sitemaps);
        self.finish_entry(lease, Vec::new(), recorded);
    }

    /// Sends the pages finished since the last flush (see [`Store::finish_page`]), in the
    /// turn that began at `now`: first the links bound for shards other than their page's,
    /// then each shard's pages, with the links of its own.
    pub(crate) fn flush(&mut self, now: Instant) -> Result<(), RedisFrontierError> {
        if self.outbox.is_empty() {
            return Ok(());
        }
        let mut outbox: Vec<(usize, Outbox)> =
            std::mem::take(&mut self.outbox).into_iter().collect();
        outbox.sort_by_key(|(k, _)| *k);
        // Links bound for other shards first: a page is finished only once its links are in.
        // Each phase is one pipeline: one round trip (one per master of a cluster), however
        // many shards. One shard: no links of other shards, one call.
        let mut first = Vec::new();
        for (shard, batch) in &mut outbox {
            if !batch.foreign.is_empty() {
                first.push((*shard, std::mem::take(&mut batch.foreign), Vec::new()));
            }
        }
        self.complete(&first)?;
        let second: Vec<_> = outbox
            .into_iter()
            .filter(|(_, b)| !b.pages.is_empty())
            .map(|(shard, b)| (shard, BTreeMap::new(), b.pages))
            .collect();
        self.complete(&second)?;
        // Links went in: there may be work to lease at once, in this very turn (`now`, not
        // the clock after the round trip, which the turn's claim would find in its future).
        self.claim_after = now;
        Ok(())
    }

    /// Runs `complete` on each shard named, with its links and finished pages, in one
    /// pipeline.
    fn complete(&mut self, calls: &[Completion]) -> Result<(), RedisFrontierError> {
        if calls.is_empty() {
            return Ok(());
        }
        let (node, max_pages, gate) = (&self.node, self.max_pages, self.gate_arg());
        let shards = &self.shards;
        let replies: Vec<(u64, u64, u64, u64)> = self.redis.pipeline(|s| {
            let mut cmds = Vec::with_capacity(calls.len());
            for (shard, links, pages) in calls {
                let mut call = ::redis::cmd("EVALSHA");
                call.arg(s.complete.get_hash())
                    .arg(1)
                    .arg(&shards[*shard])
                    .arg(node)
                    .arg(max_pages)
                    .arg(gate)
                    .arg(links.len());
                for (level, parts) in links {
                    call.arg(*level).arg(parts.len() / 3);
                    for part in parts {
                        call.arg(part);
                    }
                }
                for page in pages {
                    // -1 - N: N links, and no record.
                    let n = (page.own.len() / 3) as i64;
                    call.arg(&page.entry)
                        .arg(if page.recorded { n } else { -1 - n });
                    for part in &page.own {
                        call.arg(part);
                    }
                }
                cmds.push(call);
            }
            cmds
        })?;
        for (dropped, dup, over, _admitted) in replies {
            self.skipped.duplicate += dup;
            self.skipped.over_max_pages += over;
            self.report.dropped += dropped;
        }
        Ok(())
    }

    fn give_back_entries(
        &mut self,
        shard: usize,
        entries: &[String],
    ) -> Result<(), RedisFrontierError> {
        let (prefix, node) = (&self.shards[shard], &self.node);
        let back: u64 = self.redis.call(|conn, s| {
            let mut call = s.give_back.key(prefix);
            call.arg(node);
            for entry in entries {
                call.arg(entry);
            }
            call.invoke(conn)
        })?;
        self.report.given_back += back;
        Ok(())
    }

    /// Gives every lease this node holds back to the crawl (a stop, or the end of a run with
    /// pages still queued here). This node then leaves: it no longer counts as live.
    pub(crate) fn give_back_all(&mut self) -> Result<(), RedisFrontierError> {
        let mut by_shard: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (_, l) in self.leases.drain() {
            by_shard.entry(l.shard).or_default().push(l.entry);
        }
        for (shard, entries) in by_shard {
            self.give_back_entries(shard, &entries)?;
        }
        let (crawl, node) = (&self.crawl, &self.node);
        let _: u64 = self
            .redis
            .call(|conn, s| s.leave.key(crawl).arg(node).invoke(conn))?;
        Ok(())
    }

    /// Gives back the lease on one page (abandoned after a stop).
    pub(crate) fn give_back(&mut self, url: &Url) -> Result<(), RedisFrontierError> {
        let Some(lease) = self.leases.remove(url.as_str()) else {
            return Ok(());
        };
        self.give_back_entries(lease.shard, &[lease.entry])
    }

    /// Takes one permit of a crawl-wide limit of `rate` requests a second: `--rate`'s
    /// (`page` `None`, in the crawl's slot) or that of `page`'s origin (in its host's shard):
    /// `None` when the request may go, or how long to wait.
    pub(crate) fn permit(
        &mut self,
        page: Option<&Url>,
        rate: f64,
    ) -> Result<Option<Duration>, RedisFrontierError> {
        let interval = 1e6 / rate;
        // The same 50 ms of tolerance for timer lateness as the local limiter (`ratelimit`).
        let tolerance = (interval * ((rate * 0.05).ceil().max(1.0) - 1.0)).max(0.0);
        let (prefix, name) = match page {
            Some(page) => (
                &self.shards[self.shard_of(page)],
                format!("host:{}", origin_key(page)),
            ),
            None => (&self.crawl, "rate".to_owned()),
        };
        let wait_us: u64 = self.redis.call(|conn, s| {
            s.gcra
                .key(prefix)
                .arg(&name)
                .arg(format!("{interval:.3}"))
                .arg(format!("{tolerance:.3}"))
                .invoke(conn)
        })?;
        Ok((wait_us > 0).then(|| Duration::from_micros(wait_us)))
    }

    /// The verdict on `origin`'s robots.txt another node found, if one did (in
    /// [`crate::robots::Verdict::portable`] form).
    pub(crate) fn robots(&mut self, origin: &str) -> Result<Option<Vec<u8>>, RedisFrontierError> {
        let key = format!("{}robots:{origin}", self.crawl);
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
        let crawl = &self.crawl;
        self.redis
            .call(|conn, s| s.robots.key(crawl).arg(origin).arg(verdict).invoke(conn))
    }

    /// Tells every node that `origin` asked for a pause of `pause` (Retry-After).
    pub(crate) fn share_hold(
        &mut self,
        origin: &str,
        pause: Duration,
    ) -> Result<(), RedisFrontierError> {
        let crawl = &self.crawl;
        let _: u64 = self.redis.call(|conn, s| {
            s.hold
                .key(crawl)
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
        let crawl = &self.crawl;
        let _: u64 = self
            .redis
            .call(|conn, s| s.giveup.key(crawl).arg(origin).arg(reason).invoke(conn))?;
        Ok(())
    }

    /// One more failure in `origin`'s run, counted crawl-wide; returns the crawl's run.
    pub(crate) fn count_failure(&mut self, origin: &str) -> Result<u64, RedisFrontierError> {
        let crawl = &self.crawl;
        let run = self
            .redis
            .call(|conn, s| s.fail.key(crawl).arg(origin).arg(1).invoke(conn))?;
        self.failing.insert(origin.to_owned());
        Ok(run)
    }

    /// `origin` answered: its crawl-wide run of failures, if it is in one (any node's, as of
    /// the last look), is over. One round trip only then.
    pub(crate) fn count_answer(&mut self, origin: &str) -> Result<(), RedisFrontierError> {
        if !self.failing.remove(origin) {
            return Ok(());
        }
        let crawl = &self.crawl;
        let _: u64 = self
            .redis
            .call(|conn, s| s.fail.key(crawl).arg(origin).arg(0).invoke(conn))?;
        Ok(())
    }

    /// The crawl's login (`Config::login`, once per crawl): `what` is "take" (whose turn is
    /// it?), "done" or "failed URL\nWHY"; returns the crawl's state ("mine", "wait", "done" or
    /// "failed URL\nWHY"). "done" on a take brings the crawl's cookies for the jar.
    pub(crate) fn login(&mut self, what: &str) -> Result<String, RedisFrontierError> {
        let (crawl, node, lease_ms, seen) = (
            &self.crawl,
            &self.node,
            millis(self.lease),
            self.cookies_seen,
        );
        let reply: Vec<Value> = self.redis.call(|conn, s| {
            s.login
                .key(crawl)
                .arg(node)
                .arg(lease_ms)
                .arg(what)
                .arg(seen)
                .invoke(conn)
        })?;
        self.take_cookie_entries(list(&reply, 1));
        Ok(text(&reply, 0))
    }

    /// Tells every node that a response from `url` set `set_cookies`.
    pub(crate) fn share_cookies(
        &mut self,
        url: &Url,
        set_cookies: &[String],
    ) -> Result<(), RedisFrontierError> {
        let mut entry = url.as_str().to_owned();
        for value in set_cookies {
            // A header value holds no line break: one separates the values.
            entry.push('\n');
            entry.push_str(value);
        }
        let key = format!("{}cookies", self.crawl);
        let _: u64 = self
            .redis
            .call(|conn, _| ::redis::cmd("RPUSH").arg(&key).arg(&entry).query(conn))?;
        Ok(())
    }

    /// The cookies any node shared since the last call, as of the last look.
    pub(crate) fn take_cookies(&mut self) -> Vec<(Url, Vec<String>)> {
        std::mem::take(&mut self.cookies)
    }

    /// The origins any node gave up since the last call, and why.
    pub(crate) fn take_gone(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.gone)
    }

    /// The pauses other nodes (or this one) shared, as of the last look: each is applied
    /// once.
    pub(crate) fn take_holds(&mut self) -> Vec<(String, Duration)> {
        std::mem::take(&mut self.holds)
    }

    /// This node's share of a crawl-wide cap of `cap` pages of one host in flight: an equal
    /// share per live node, at least one.
    pub(crate) fn share_of(&self, cap: usize) -> usize {
        (cap / self.live_nodes.max(1) as usize).max(1)
    }

    /// The whole crawl's records and outstanding pages, as of the last claim or sweep.
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
        let mut report = self.report.clone();
        if ask && let Ok(views) = self.peek_all() {
            report.crawl_records = views.iter().map(|v| v.records).sum();
            report.crawl_admitted = views.iter().map(|v| v.admitted).sum();
            report.crawl_outstanding = views.iter().map(|v| v.left).sum();
        }
        report.crawl_stopped = self.crawl_stopped();
        report.round_trips = self.redis.round_trips;
        report
    }
}

/// Reads the shards at `prefixes` (the read-only `peek` script), in one pipeline.
pub(super) fn peek_all(
    redis: &mut Redis,
    prefixes: &[String],
) -> Result<Vec<ShardView>, RedisFrontierError> {
    let replies: Vec<Vec<Value>> = redis.pipeline(|s| {
        prefixes
            .iter()
            .map(|prefix| {
                let mut call = ::redis::cmd("EVALSHA");
                call.arg(s.peek.get_hash()).arg(1).arg(prefix);
                call
            })
            .collect()
    })?;
    Ok(replies.iter().map(|r| view(r)).collect())
}

fn view(reply: &[Value]) -> ShardView {
    let opt = |v: i64| (v >= 0).then_some(v as u32);
    ShardView {
        changes: pairs(&list(reply, 10)),
        min_out: opt(int(reply, 1)),
        min_held: opt(int(reply, 2)),
        left: int(reply, 3).max(0) as u64,
        records: int(reply, 4).max(0) as u64,
        admitted: int(reply, 5).max(0) as u64,
        queued: int(reply, 6).max(0) as u64,
        leased: int(reply, 7).max(0) as u64,
        out: pairs(&list(reply, 8)),
        held: pairs(&list(reply, 9)),
    }
}

/// The level a seed origin's sitemaps to find are given to the `seed` and `open` scripts (not a
/// number: without --sitemaps level 0 is a page's), and the fragment of their URL.
const SEED_SITEMAPS: &str = "sitemaps";

/// The seeds as `LEVEL BUCKET FP URL` quads, normalised, one list per shard of `prefixes`;
/// with `--sitemaps`, each seed origin's `/sitemap.xml` too, to find its sitemaps (LEVEL
/// `sitemaps`).
fn seed_parts(
    seeds: &[Url],
    prefixes: &[String],
    buckets: u64,
    levels: Levels,
) -> Vec<Vec<String>> {
    let shards = prefixes.len();
    let per_shard = layout::buckets_per_shard(buckets, shards as u32);
    let mut parts = vec![Vec::new(); shards];
    let mut add = |url: Url, level: String| {
        let mut url = normalize(url);
        let fp = fingerprint(&url);
        if level == SEED_SITEMAPS {
            // Told apart from the sitemap itself, which may be admitted too: no admitted URL
            // has a fragment.
            url.set_fragment(Some(SEED_SITEMAPS));
        }
        let (bucket, member) = layout::seen(fp, per_shard);
        let k = layout::shard_of(url.host_str().unwrap_or(""), shards);
        parts[k].push(level);
        parts[k].push(bucket.to_string());
        parts[k].push(member.to_string());
        parts[k].push(url.as_str().to_owned());
    };
    if levels.sitemaps() {
        let mut origins = HashSet::new();
        for seed in seeds {
            if origins.insert(origin_key(seed)) {
                // Not a level: the script puts it at `Levels::SEED_SITEMAP`, outside the seen
                // set (without --sitemaps, level 0 is a page's).
                add(
                    crate::normalize::at_root(seed, "/sitemap.xml"),
                    SEED_SITEMAPS.to_owned(),
                );
            }
        }
    }
    for url in seeds {
        add(url.clone(), levels.page(0).to_string());
    }
    parts
}
