//! `crawl status`: a shared crawl as a whole, read from Redis by anyone, from any machine.
//!
//! It reads the crawl's settings, every shard (the read-only `peek` script), the live nodes
//! and what each last said of itself, the hosts paused or given up, and Redis's memory; it
//! writes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::Value;
use serde::Serialize;

use super::client::Redis;
use super::layout::{Entry, Levels};
use super::store::{peek_all, value_text as text};
use super::{RedisFrontierError, Settings, layout};
use crate::config::{FrontierUrl, MAX_SHARDS};

/// What one depth holds.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DepthStatus {
    /// Pages admitted at this depth and not finished: queued or leased.
    pub outstanding: u64,
    /// Links held for this depth until no shallower page is outstanding.
    pub held: u64,
}

/// A node that looked at the crawl within its lease.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeStatus {
    /// Its name: host, process id and a random suffix.
    pub name: String,
    /// Pages it has finished (records written and the pages completed in Redis).
    pub records: u64,
    /// Its pace over its last second or more.
    pub pages_per_sec: f64,
    /// Milliseconds since it last looked.
    pub last_seen_ms: u64,
}

/// A shared crawl as a whole ([`crawl_status`]).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CrawlStatus {
    /// The crawl id.
    pub crawl_id: String,
    /// Where it is, password hidden.
    pub frontier: String,
    /// Shards its keys are spread over.
    pub shards: u32,
    /// Pages finished by every node: their records are written.
    pub done: u64,
    /// URLs admitted (seeds and links found, each once).
    pub admitted: u64,
    /// Pages queued, not leased.
    pub queued: u64,
    /// Pages leased to a node, in its hands.
    pub leased: u64,
    /// Links held back for exact depths.
    pub held: u64,
    /// Whether nothing is outstanding anywhere.
    pub finished: bool,
    /// Whether `--stop-crawl` was run and no node has looked at the crawl since.
    pub stopped: bool,
    /// By depth.
    pub depths: BTreeMap<u32, DepthStatus>,
    /// Sitemaps not read yet (`--sitemaps`), queued or leased: those admitted, and each seed
    /// host's sitemaps to find until its robots.txt says which they are (those are not
    /// admitted: they stand for the sitemaps that will be).
    pub sitemaps: u64,
    /// Nodes that looked within their lease.
    pub nodes: Vec<NodeStatus>,
    /// Hosts paused crawl-wide (Retry-After, or a node's probe), with the milliseconds left.
    pub held_hosts: BTreeMap<String, u64>,
    /// Hosts given up (their probes kept failing), and why.
    pub gone_hosts: BTreeMap<String, String>,
    /// Redis's memory (every master of a cluster), bytes.
    pub redis_memory: u64,
    /// That memory per URL admitted: what a known URL costs, the crawl's other data included.
    pub memory_per_url: Option<f64>,
}

/// `used_memory` from INFO's text, summed over a cluster's masters.
fn used_memory(info: &Value) -> u64 {
    let one = |t: &str| {
        t.lines()
            .find_map(|l| l.trim().strip_prefix("used_memory:"))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    match info {
        Value::Map(pairs) => pairs.iter().map(|(_, v)| one(&text(v))).sum(),
        other => one(&text(other)),
    }
}

/// Reads crawl `id` at `url` as a whole. Changes nothing.
pub fn crawl_status(url: &FrontierUrl, id: &str) -> Result<CrawlStatus, RedisFrontierError> {
    let mut redis = Redis::connect(url, Duration::from_secs(10), Duration::from_secs(10))?;
    let crawl = layout::prefix(id);
    let meta: BTreeMap<String, String> = redis.call(|conn, _| {
        ::redis::cmd("HGETALL")
            .arg(format!("{crawl}meta"))
            .query(conn)
    })?;
    let Some(settings) = meta.get("settings") else {
        return Err(RedisFrontierError::NoSuchCrawl {
            id: id.to_owned(),
            url: url.clone(),
        });
    };
    let settings = Settings::from_json(settings).ok_or_else(|| RedisFrontierError::OtherData {
        id: id.to_owned(),
        key: format!("{crawl}meta"),
        what: "settings this crawler cannot read".into(),
    })?;
    let shards = layout::shard_prefixes(id, settings.shards.clamp(1, MAX_SHARDS));
    let levels = Levels::new(settings.sitemaps);
    let mut status = CrawlStatus {
        crawl_id: id.to_owned(),
        frontier: url.to_string(),
        shards: settings.shards,
        done: 0,
        admitted: 0,
        queued: 0,
        leased: 0,
        held: 0,
        finished: false,
        stopped: false,
        depths: BTreeMap::new(),
        sitemaps: 0,
        nodes: Vec::new(),
        held_hosts: BTreeMap::new(),
        gone_hosts: BTreeMap::new(),
        redis_memory: 0,
        memory_per_url: None,
    };
    let mut left = 0;
    for view in peek_all(&mut redis, &shards)? {
        status.done += view.records;
        status.admitted += view.admitted;
        status.queued += view.queued;
        status.leased += view.leased;
        left += view.left;
        for (level, n) in view.out {
            match levels.entry(level) {
                Entry::Page(depth) => status.depths.entry(depth).or_default().outstanding += n,
                Entry::Sitemap | Entry::SeedSitemap => status.sitemaps += n,
            }
        }
        for (level, n) in view.held {
            // Only pages are ever held (a sitemap's listed pages among them): sitemaps go in
            // at once.
            if let Entry::Page(depth) = levels.entry(level) {
                status.depths.entry(depth).or_default().held += n;
            }
            status.held += n;
        }
    }
    status.finished = left == 0;
    // The clock of the crawl's own slot's master, which stamped the nodes and the pauses (a
    // bare TIME would go to any node of a cluster).
    let clock = ::redis::Script::new("return redis.call('TIME')");
    let (now_s, now_us): (u64, u64) = redis.call(|conn, _| clock.key(&crawl).invoke(conn))?;
    let now_ms = now_s * 1000 + now_us / 1000;
    let stats: BTreeMap<String, String> = redis.call(|conn, _| {
        ::redis::cmd("HGETALL")
            .arg(format!("{crawl}nodestats"))
            .query(conn)
    })?;
    for (name, said) in stats {
        let mut parts = said.split(' ');
        let mut next = || parts.next().unwrap_or("0");
        let records = next().parse().unwrap_or(0);
        let pages_per_sec = next().parse().unwrap_or(0.0);
        let lease: u64 = next().parse().unwrap_or(0);
        let when: u64 = next().parse().unwrap_or(0);
        let last_seen_ms = now_ms.saturating_sub(when);
        if last_seen_ms <= lease {
            status.nodes.push(NodeStatus {
                name,
                records,
                pages_per_sec,
                last_seen_ms,
            });
        }
    }
    let holds: Vec<(String, f64)> = redis.call(|conn, _| {
        ::redis::cmd("ZRANGEBYSCORE")
            .arg(format!("{crawl}holds"))
            .arg(now_ms)
            .arg("+inf")
            .arg("WITHSCORES")
            .query(conn)
    })?;
    for (origin, until) in holds {
        status
            .held_hosts
            .insert(origin, (until as u64).saturating_sub(now_ms));
    }
    status.gone_hosts = redis.call(|conn, _| {
        ::redis::cmd("HGETALL")
            .arg(format!("{crawl}gone"))
            .query(conn)
    })?;
    let stopgen: Option<u64> = redis.call(|conn, _| {
        ::redis::cmd("GET")
            .arg(format!("{crawl}stopgen"))
            .query(conn)
    })?;
    // Stopped, and no node at work since (a rerun after a stop crawls on).
    status.stopped = stopgen.unwrap_or(0) > 0 && status.nodes.is_empty() && !status.finished;
    let info: Value = redis.call(|conn, _| ::redis::cmd("INFO").arg("memory").query(conn))?;
    status.redis_memory = used_memory(&info);
    status.memory_per_url =
        (status.admitted > 0).then(|| status.redis_memory as f64 / status.admitted as f64);
    Ok(status)
}

impl std::fmt::Display for CrawlStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.finished {
            "finished"
        } else if self.stopped {
            "stopped"
        } else {
            "running"
        };
        writeln!(
            f,
            "crawl {} at {} ({} shard{}): {state}",
            self.crawl_id,
            self.frontier,
            self.shards,
            if self.shards == 1 { "" } else { "s" }
        )?;
        writeln!(
            f,
            "  pages: {} done, {} leased, {} queued, {} links held; {} URLs admitted",
            self.done, self.leased, self.queued, self.held, self.admitted
        )?;
        if self.sitemaps > 0 {
            writeln!(f, "    sitemaps: {} outstanding", self.sitemaps)?;
        }
        for (depth, d) in &self.depths {
            writeln!(
                f,
                "    depth {depth}: {} outstanding, {} held",
                d.outstanding, d.held
            )?;
        }
        let pace = self.nodes.iter().fold(0.0, |sum, n| sum + n.pages_per_sec);
        writeln!(
            f,
            "  nodes: {} live, {pace:.1} pages/s in all",
            self.nodes.len()
        )?;
        for n in &self.nodes {
            writeln!(
                f,
                "    {}: {} records, {:.1} pages/s, seen {:.1} s ago",
                n.name,
                n.records,
                n.pages_per_sec,
                n.last_seen_ms as f64 / 1000.0
            )?;
        }
        if !self.held_hosts.is_empty() {
            writeln!(f, "  hosts paused: {}", self.held_hosts.len())?;
            for (host, ms) in &self.held_hosts {
                writeln!(f, "    {host}: {:.1} s left", *ms as f64 / 1000.0)?;
            }
        }
        if !self.gone_hosts.is_empty() {
            writeln!(f, "  hosts given up: {}", self.gone_hosts.len())?;
            for (host, why) in &self.gone_hosts {
                writeln!(f, "    {host}: {why}")?;
            }
        }
        match self.memory_per_url {
            Some(per) => writeln!(
                f,
                "  Redis memory: {:.1} MB, {per:.0} bytes per URL admitted",
                self.redis_memory as f64 / 1e6
            ),
            None => writeln!(
                f,
                "  Redis memory: {:.1} MB",
                self.redis_memory as f64 / 1e6
            ),
        }
    }
}
