//! The shared frontier: several crawl processes, on one machine or many, crawl one site once,
//! with the crawl's frontier in Redis (`--frontier redis://HOST/DB --crawl-id ID`) or a Redis
//! Cluster (`--frontier redis+cluster://HOST:PORT,...`).
//!
//! ## Where the keys are
//! The crawl-wide keys are in the crawl's own hash slot; the per-URL keys (queue, leases, seen
//! set, outstanding and held pages per depth, a host's rate limit) in shards by host, each in
//! its own slot ([`layout`], `scripts.lua`), so a cluster spreads them over its masters and
//! every script touches one slot. One shard (the default on one Redis) is the crawl's own slot:
//! every step is then one script, as before shards existed. `Store` is a node's handle on
//! them; `status.rs` reads them all for `crawl status`.
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
//! 3. **complete**: once the page's record has reached the operating system, the node offers
//!    the page's links to their shards (admitted, or held until no shallower page is
//!    outstanding anywhere), then removes its lease and counts the page finished in its own
//!    shard. A node that finds its lease gone before writing (it was stopped past its lease)
//!    drops its result: the page is another node's now;
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
mod status;
mod store;

use std::time::Duration;

use crate::config::FrontierUrl;
use client::Redis;
pub(crate) use node::RedisFrontier;
pub(crate) use settings::Settings;
pub use status::{CrawlStatus, DepthStatus, NodeStatus, crawl_status};
pub(crate) use store::Store;

/// What marks a Redis hash as this crawler's: another program's data (or a future layout) under
/// the same key is refused, never overwritten.
const MAGIC: &str = "crawl-frontier/2";
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
    /// Redis answered a step of the crawl with an error that waiting will not mend (out of
    /// memory, a permission an ACL user lacks, a script error).
    #[error("Redis at {url} refused a step of the crawl: {cause}")]
    Refused {
        /// The URL, password hidden.
        url: FrontierUrl,
        /// Redis's error.
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

/// The crawl's keys in Redis, as the scripts lay them out: the one place that says it, for
/// the store here and for `benches/shared.rs`, which weighs the layout by loading it directly.
#[doc(hidden)]
pub mod layout {
    use crate::config::Config;

    /// What a queue or lease entry is, by its level ("LEVEL URL"; see [`Levels`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Entry {
        /// A seed origin's sitemaps to find (its `/sitemap.xml`, marked `#sitemaps`): never
        /// read itself, it stands for the sitemaps the origin's robots.txt names, else
        /// `/sitemap.xml`.
        SeedSitemap,
        /// A sitemap (or sitemap index) to read.
        Sitemap,
        /// A page at this depth.
        Page(u32),
    }

    /// The levels a crawl's entries sit at in Redis: the depth the exact-depth rule counts.
    /// Without `--sitemaps` a page's level is its depth. With it, two levels come first: the
    /// seed origins' sitemaps to find (0), then sitemaps to read (1); a page at depth D sits at
    /// D + 2. A sitemap is then outstanding below every page, so links found one level down
    /// wait until no sitemap can still list them at depth 0, as [`crate::Config::sitemaps`]
    /// does in one process; and the pages a sitemap lists go in at once (nothing can find
    /// them shallower).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Levels {
        sitemaps: bool,
    }

    impl Levels {
        /// The level of a seed origin's sitemaps to find.
        pub(crate) const SEED_SITEMAP: u32 = 0;
        /// The level of a sitemap to read.
        pub(crate) const SITEMAP: u32 = 1;

        pub(crate) fn new(sitemaps: bool) -> Levels {
            Levels { sitemaps }
        }

        /// Whether the crawl reads sitemaps.
        pub(crate) fn sitemaps(self) -> bool {
            self.sitemaps
        }

        /// The level of a page at `depth`.
        pub(crate) fn page(self, depth: u32) -> u32 {
            if self.sitemaps {
                depth.saturating_add(2)
            } else {
                depth
            }
        }

        /// What an entry at `level` is.
        pub(crate) fn entry(self, level: u32) -> Entry {
            match (self.sitemaps, level) {
                (false, depth) => Entry::Page(depth),
                (true, Self::SEED_SITEMAP) => Entry::SeedSitemap,
                (true, Self::SITEMAP) => Entry::Sitemap,
                (true, level) => Entry::Page(level - 2),
            }
        }
    }

    /// Seen-set buckets over all shards, by default: sets of at most 512 integers stay intsets
    /// (8 bytes a member); at [`PER_BUCKET`] a bucket, 4096 keep about 1.5 million URLs so.
    pub const BUCKETS: u64 = 4096;
    /// URLs a bucket is sized for: three quarters of Redis's 512-member intset limit
    /// (`set-max-intset-entries`), so that the fullest of many buckets (a bucket's count
    /// varies by about its square root) still stays under it.
    pub const PER_BUCKET: u64 = 384;

    /// Seen-set buckets for a new crawl of `config`: `--expect-urls`, else `--max-pages`,
    /// over [`PER_BUCKET`]; [`BUCKETS`] when it says neither.
    pub(crate) fn buckets_for(config: &Config) -> u64 {
        let expected = config
            .shared
            .as_ref()
            .and_then(|s| s.expect_urls)
            .or(config.max_pages);
        match expected {
            Some(n) => buckets_for_urls(n),
            None => BUCKETS,
        }
    }

    /// Seen-set buckets for `n` URLs.
    pub fn buckets_for_urls(n: u64) -> u64 {
        n.div_ceil(PER_BUCKET).max(16)
    }
    /// Hash slots in a Redis Cluster.
    pub const SLOTS: u16 = 16384;

    /// The prefix of crawl `id`'s own keys: one hash slot (`{id}`) for all of them.
    pub fn prefix(id: &str) -> String {
        format!("crawl:{{{id}}}:")
    }

    /// The prefixes of crawl `id`'s `shards` shards: with one, the crawl's own; with more,
    /// `crawl:{ID/K.J}:`, J the first that puts shard K in the K-th of `shards` equal ranges
    /// of hash slots, so that the shards spread evenly over a cluster's masters (which hold
    /// ranges of slots).
    pub fn shard_prefixes(id: &str, shards: u32) -> Vec<String> {
        if shards <= 1 {
            return vec![prefix(id)];
        }
        let shards = u64::from(shards);
        (0..shards)
            .map(|k| {
                let tag = (0..)
                    .map(|j| format!("{id}/{k}.{j}"))
                    .find(|tag| u64::from(slot(tag)) * shards / u64::from(SLOTS) == k)
                    .unwrap_or_else(|| format!("{id}/{k}"));
                format!("crawl:{{{tag}}}:")
            })
            .collect()
    }

    /// The shard of the URLs of `host` (whatever the scheme and port: a host's keys, its
    /// origins' too, are in one slot).
    pub fn shard_of(host: &str, shards: usize) -> usize {
        if shards <= 1 {
            return 0;
        }
        (xxhash_rust::xxh3::xxh3_64(host.as_bytes()) % shards as u64) as usize
    }

    /// How many times its even share of the crawl's URLs a shard's seen set is sized for.
    /// URLs go to shards by host, and hosts do not spread evenly: 200 hosts over 16 shards
    /// put 1.8 times the mean in the fullest (benches/README.md, part 5), whose buckets then
    /// outgrew the intset limit.
    pub const SHARD_HEADROOM: u64 = 4;

    /// Seen-set buckets in each shard: the crawl's, split over its shards with
    /// [`SHARD_HEADROOM`] (one shard: all of them).
    pub fn buckets_per_shard(buckets: u64, shards: u32) -> u64 {
        if shards <= 1 {
            return buckets.max(1);
        }
        (buckets * SHARD_HEADROOM)
            .div_ceil(u64::from(shards))
            .max(1)
    }

    /// The seen-set bucket (`PREFIX seen:B`) and the member a URL's fingerprint `fp` goes in:
    /// the member as a signed integer, so that Redis keeps it in an intset (8 bytes), not as a
    /// string.
    pub fn seen(fp: u64, buckets_per_shard: u64) -> (u64, i64) {
        (fp % buckets_per_shard.max(1), fp as i64)
    }

    /// The shards a new crawl of `config` is spread over: `--shards`, else 1 on one Redis and
    /// [`crate::limits::DEFAULT_CLUSTER_SHARDS`] on a cluster, 1 with `--max-pages` (its
    /// budget is counted in one shard).
    pub(crate) fn shards_for(config: &Config) -> u32 {
        let Some(shared) = &config.shared else {
            return 1;
        };
        match shared.shards {
            Some(n) => n.max(1),
            None if shared.url.is_cluster() && config.max_pages.is_none() => {
                crate::config::DEFAULT_CLUSTER_SHARDS
            }
            None => 1,
        }
    }

    /// The hash slot of a key or tag, as Redis Cluster computes it: CRC16 (XMODEM) of the
    /// part between the first `{` and the next `}` when not empty, else of the whole, mod
    /// 16384.
    pub fn slot(key: &str) -> u16 {
        let bytes = key.as_bytes();
        let tagged = key.find('{').and_then(|open| {
            let close = key[open + 1..].find('}')? + open + 1;
            (close > open + 1).then(|| &bytes[open + 1..close])
        });
        crc16(tagged.unwrap_or(bytes)) % SLOTS
    }

    fn crc16(bytes: &[u8]) -> u16 {
        let mut crc: u16 = 0;
        for &b in bytes {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn sitemaps_sit_below_every_page() {
            let plain = Levels::new(false);
            assert_eq!(plain.page(0), 0);
            assert_eq!(plain.entry(0), Entry::Page(0));
            assert_eq!(plain.entry(7), Entry::Page(7));
            let maps = Levels::new(true);
            assert_eq!(maps.entry(Levels::SEED_SITEMAP), Entry::SeedSitemap);
            assert_eq!(maps.entry(Levels::SITEMAP), Entry::Sitemap);
            for depth in [0, 1, 5] {
                assert_eq!(maps.entry(maps.page(depth)), Entry::Page(depth));
                // A depth-0 page's links wait for every level below its own: the sitemaps.
                assert!(maps.page(depth) > Levels::SITEMAP);
            }
        }

        #[test]
        fn slots_are_redis_clusters() {
            // From the Redis Cluster specification: CRC16 of "123456789" is 0x31C3.
            assert_eq!(crc16(b"123456789"), 0x31C3);
            assert_eq!(slot("foo"), 12182);
            assert_eq!(slot("{user1000}.following"), slot("user1000"));
            assert_eq!(slot("foo{}{bar}"), slot("foo{}{bar}"));
            assert_eq!(slot("foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        }

        #[test]
        fn buckets_are_sized_for_the_urls_expected() {
            // 10^8 URLs at 384 a bucket: each an intset under Redis's 512.
            assert_eq!(buckets_for_urls(100_000_000), 260_417);
            assert_eq!(buckets_for_urls(1), 16);
            assert_eq!(buckets_per_shard(260_417, 16), 65_105);
            assert_eq!(buckets_per_shard(4096, 1), 4096);
        }

        #[test]
        fn shards_fill_equal_ranges_of_slots() {
            let prefixes = shard_prefixes("crawl-1", 16);
            assert_eq!(prefixes.len(), 16);
            for (k, p) in prefixes.iter().enumerate() {
                assert_eq!(usize::from(slot(p)) * 16 / usize::from(SLOTS), k, "{p}");
            }
            assert_eq!(shard_prefixes("x", 1), vec!["crawl:{x}:".to_owned()]);
        }
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
