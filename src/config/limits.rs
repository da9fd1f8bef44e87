//! The bounds a configuration must stay within, and the defaults the rules and the command
//! line share.

use std::time::Duration;

pub use crate::ratelimit::MIN_RATE;
/// Longest request timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);
/// Pages of one origin in flight at once by default: Scrapy's default per domain too. Enough
/// to keep a real site's pages coming while no single server sees more than a browser or two
/// would send it, whatever `--workers` is.
pub const DEFAULT_PER_HOST_WORKERS: usize = 8;
/// [`Config::depth`](crate::Config::depth) with no limit (`--depth inf`): more hops than any site has.
pub const UNLIMITED_DEPTH: u32 = u32::MAX;
/// Connection failures or timeouts in a row after which an origin is paused, by default.
pub const DEFAULT_HOST_FAILURES: u32 = 5;
/// Probes of a paused origin before it is given up, by default.
pub const DEFAULT_HOST_PROBES: u32 = 5;
pub use crate::frontier::MAX_HOST_PROBES;
/// Most workers accepted in any mode: far past where more help (see the sweeps in
/// benches/README.md), and low enough that no mode runs out of memory or file descriptors just
/// setting them up.
pub const MAX_WORKERS: usize = 10_000;
/// How long a shared crawl's node keeps a page without renewing its lease, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Shortest lease accepted: a node renews every third of it, and a round trip to Redis across
/// machines must fit with room to spare.
pub const MIN_LEASE: Duration = Duration::from_secs(2);
/// Longest lease accepted: a dead node's pages wait this long for another node.
pub const MAX_LEASE: Duration = Duration::from_secs(86_400);
/// How long a shared crawl's node waits for a Redis it lost before it gives up, by default:
/// long enough for a Sentinel or Cluster failover (seconds to tens of seconds).
pub const DEFAULT_REDIS_WAIT: Duration = Duration::from_secs(60);
/// Most shards a shared crawl's keys may be spread over (`--shards`).
pub const MAX_SHARDS: u32 = 1024;
/// Shards of a crawl on a Redis Cluster by default: enough to spread over a few dozen masters.
pub const DEFAULT_CLUSTER_SHARDS: u32 = 16;
/// Most URLs a shared crawl may say it expects (`--expect-urls`).
pub const MAX_EXPECT_URLS: u64 = 1_000_000_000_000;
/// Longest `--redis-wait` accepted.
pub const MAX_REDIS_WAIT: Duration = Duration::from_secs(86_400);
/// Most `--max-bytes` the processes mode accepts with `--warc`: a page's raw body crosses the
/// wire to the archive's one writer, inside the processes mode's message limit.
pub const MAX_WARC_BYTES: u64 = 128 * 1024 * 1024;
/// Longest grace period accepted after Ctrl-C.
pub const MAX_GRACE: Duration = Duration::from_secs(3600);
