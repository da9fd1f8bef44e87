//! The end-of-crawl summary printed on standard error, and the types it is made of.

use std::fmt;
use std::time::Duration;

pub use crate::bottleneck::Bottleneck;
use crate::bottleneck::{explain, judge};
use crate::config::Mode;
pub use crate::frontier::{SharedReport, Skipped};
use crate::shutdown::StopSignal;
use crate::stats::Stats;
pub use crate::stats::{Reading, Split};

/// What crossing the process boundary cost (processes mode only).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Ipc {
    /// Tasks sent and answered.
    pub round_trips: u64,
    /// Bytes of task messages sent to workers.
    pub bytes_out: u64,
    /// Bytes of result messages received from workers.
    pub bytes_in: u64,
    /// Coordinator time spent encoding, writing, reading and decoding messages.
    pub coordinator_ms: f64,
    /// Round-trip time beyond the worker's own fetch and parse time, summed.
    pub overhead_ms: f64,
    /// Worker processes forked, replacements and `--fork-per-page` workers included.
    pub forks: u64,
    /// Milliseconds of coordinator time the forks took, summed (from before fork(2) to its
    /// return in the coordinator).
    pub fork_ms: f64,
    /// Workers that died with a page in hand.
    pub deaths: u64,
}

/// What a finished crawl did and where its time went.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The mode the crawl ran in.
    pub mode: Mode,
    /// Worker slots: threads, processes or async pages in flight (1 in sequential mode).
    pub workers: usize,
    /// Records without an error: 2xx pages kept whole.
    pub ok: u64,
    /// Records with an error: no response, a redirect not followed, a status other than 2xx,
    /// a body cut at `--max-bytes`, or blocked by robots.txt.
    pub failed: u64,
    /// Wall time from the first task handed out to the end of the crawl (worker start-up
    /// before it is not counted).
    pub elapsed: Duration,
    /// Body bytes kept (after decompression), summed over the pages' final responses;
    /// robots.txt and redirect responses are not counted.
    pub bytes: u64,
    /// How worker time was spent over `elapsed`.
    pub split: Split,
    /// Retries scheduled after a retryable failure, pages and robots.txt alike.
    pub retries: u64,
    /// Pages robots.txt disallowed, never requested (each also counted in `failed`).
    pub robots_blocked: u64,
    /// Origins that asked for a robots.txt `Crawl-delay`.
    pub crawl_delay_hosts: u64,
    /// The longest `Crawl-delay` honoured (capped at [`crate::limits::MAX_CRAWL_DELAY`]).
    pub longest_crawl_delay: Option<Duration>,
    /// Times an origin asked the whole crawl to slow down (429 or 503 with Retry-After), each
    /// holding every page of that origin.
    pub server_holds: u64,
    /// Origins given up after a run of connection failures or timeouts (`--host-failures`).
    pub hosts_given_up: u64,
    /// Times an origin was paused after a run of connection failures (`--host-failures`).
    pub host_pauses: u64,
    /// Probes sent to paused origins (`--host-probes`), answered or not.
    pub host_probes: u64,
    /// Pages recorded as "host unreachable" because their origin was given up.
    pub unreachable: u64,
    /// Sitemaps read with `--sitemaps` (2xx responses).
    pub sitemaps: u64,
    /// Page URLs those sitemaps listed (before dedupe and scope).
    pub sitemap_urls: u64,
    /// With `--cookies`, the cookies the jar held at the end.
    pub cookies: Option<u64>,
    /// Links not followed, by reason.
    pub skipped: Skipped,
    /// Where the records went.
    pub output: String,
    /// With `--items`: the items file, and how many items this run wrote to it.
    pub items: Option<(String, u64)>,
    /// Processes mode: what sharing nothing cost.
    pub ipc: Option<Ipc>,
    /// The signal that stopped the crawl early, if one did.
    pub interrupted: Option<StopSignal>,
    /// Pages that were in flight when a stop's grace period ran out (no record written).
    pub unfinished: u64,
    /// Pages admitted but never handed out, because the crawl was stopped.
    pub not_fetched: u64,
    /// Pages an earlier run finished (`--state`), not fetched again by this one.
    pub resumed: u64,
    /// What limited the crawl, and the figures that say so.
    pub verdict: Bottleneck,
    /// The figures behind `bottleneck`, over the whole crawl.
    pub reading: Reading,
    /// Peak resident memory, worker processes included, in kilobytes.
    pub peak_rss_kb: u64,
    /// A shared crawl (`--frontier`): this node's part and the whole crawl's counts.
    pub shared: Option<SharedReport>,
    /// `-j auto`: the limit on pages in flight over the crawl.
    pub concurrency: Option<AutoscaleReport>,
    /// `--cache`: how this crawl's pages compare with what the cache held.
    pub recrawl: Option<RecrawlReport>,
}

/// How a crawl with `--cache` compares with the crawls before it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecrawlReport {
    /// The cache directory.
    pub cache: String,
    /// Pages the cache held when the crawl began.
    pub held: u64,
    /// Pages not in the cache (on the first crawl of a cache, every page, unmarked).
    pub new: u64,
    /// Pages that differ from what the cache held.
    pub changed: u64,
    /// Pages the server said were not modified (`304`).
    pub not_modified: u64,
    /// Pages sent again whole, whose body's digest was the cache's.
    pub same_digest: u64,
    /// Pages still fresh by their `Cache-Control` or `Expires`, not requested at all.
    pub fresh: u64,
    /// Pages there before and gone now (404 or 410).
    pub gone: u64,
    /// Body bytes not downloaded: the cached size of every `304` and fresh page.
    pub bytes_saved: u64,
    /// Records left out by `--changed-only` (the unchanged pages').
    pub left_out: u64,
}

impl RecrawlReport {
    /// Pages unchanged, however that was learnt.
    pub fn unchanged(&self) -> u64 {
        self.not_modified + self.same_digest + self.fresh
    }
}

/// How `-j auto` set the limit on pages in flight over a crawl: its value at every decision,
/// summarised, and the last decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AutoscaleReport {
    /// The lowest limit.
    pub min: usize,
    /// The median of the limit's values at each decision.
    pub median: usize,
    /// The highest limit.
    pub max: usize,
    /// The last decision, as the progress line showed it (`hold: cpu-bound at 2 cores`).
    pub last: Option<String>,
    /// Every control interval, in order: the limit over time.
    pub steps: Vec<crate::autoscale::Step>,
}

/// The counts a summary takes from beyond the statistics.
pub(crate) struct Tally {
    pub skipped: Skipped,
    /// Origins with a `Crawl-delay`, and the longest.
    pub crawl_delays: (u64, Option<Duration>),
    /// Cookies in the jar, with `--cookies`.
    pub cookies: Option<u64>,
    pub unfinished: u64,
    pub not_fetched: u64,
    pub resumed: u64,
    pub output: String,
    pub items: Option<(String, u64)>,
    pub concurrency: Option<AutoscaleReport>,
    pub recrawl: Option<RecrawlReport>,
}

impl Summary {
    /// The summary of a crawl that ran in `mode`, from its statistics at the end. The driver's
    /// own figures ([`Summary::ipc`]) and the signal that stopped it are added by the caller.
    pub(crate) fn new(mode: Mode, stats: &Stats, tally: Tally) -> Summary {
        let elapsed = stats.started.elapsed();
        let reading = stats.reading();
        Summary {
            verdict: judge(&reading),
            reading,
            peak_rss_kb: stats.peak_rss_kb(),
            mode,
            workers: stats.workers,
            ok: stats.ok,
            failed: stats.failed,
            elapsed,
            bytes: stats.bytes,
            split: stats.split(elapsed),
            retries: stats.retries,
            robots_blocked: stats.robots_blocked,
            crawl_delay_hosts: tally.crawl_delays.0,
            longest_crawl_delay: tally.crawl_delays.1,
            server_holds: stats.server_holds,
            hosts_given_up: stats.hosts_given_up,
            host_pauses: stats.host_pauses,
            host_probes: stats.host_probes,
            unreachable: stats.unreachable,
            cookies: tally.cookies,
            sitemaps: stats.sitemaps,
            sitemap_urls: stats.sitemap_urls,
            skipped: tally.skipped,
            output: tally.output,
            items: tally.items,
            ipc: None,
            shared: None,
            concurrency: tally.concurrency,
            recrawl: tally.recrawl,
            interrupted: None,
            unfinished: tally.unfinished,
            not_fetched: tally.not_fetched,
            resumed: tally.resumed,
        }
    }

    /// The summary as one JSON object (times in seconds, shares in 0..=1).
    pub fn to_json(&self) -> serde_json::Value {
        let s = &self.split;
        let k = &self.skipped;
        serde_json::json!({
            "mode": self.mode.name(),
            "workers": self.workers,
            "pages": self.pages(),
            "ok": self.ok,
            "failed": self.failed,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "pages_per_s": self.pages_per_sec(),
            "bytes": self.bytes,
            "bytes_per_s": self.bytes_per_sec(),
            "split": {
                "network": s.network,
                "parsing": s.parsing,
                "rate_limit": s.rate_limit,
                "idle": s.idle,
            },
            "skipped": {
                "duplicate": k.duplicate,
                "out_of_scope": k.out_of_scope,
                "excluded": k.excluded,
                "too_deep": k.too_deep,
                "over_max_pages": k.over_max_pages,
                "over_page_limit": k.over_page_limit,
                "declined": k.declined,
            },
            "verdict": self.verdict,
            "cpu": self.reading.cpu,
            "cores": self.reading.cores,
            "mean_fetch_ms": self.reading.mean_fetch_ms,
            "peak_rss_kb": self.peak_rss_kb,
            "retries": self.retries,
            "robots_blocked": self.robots_blocked,
            "crawl_delay_hosts": self.crawl_delay_hosts,
            "longest_crawl_delay_s": self.longest_crawl_delay.map(|d| d.as_secs_f64()),
            "server_holds": self.server_holds,
            "hosts_given_up": self.hosts_given_up,
            "host_pauses": self.host_pauses,
            "host_probes": self.host_probes,
            "unreachable": self.unreachable,
            "cookies": self.cookies,
            "sitemaps": self.sitemaps,
            "sitemap_urls": self.sitemap_urls,
            "ipc": self.ipc,
            "shared": self.shared,
            "interrupted": self.interrupted.map(StopSignal::name),
            "unfinished": self.unfinished,
            "not_fetched": self.not_fetched,
            "resumed": self.resumed,
            "output": self.output,
            "items": self.items.as_ref().map(|(file, written)| serde_json::json!({"file": file, "written": written})),
            "concurrency": self.concurrency,
            "recrawl": self.recrawl.as_ref().map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(map) = v.as_object_mut() {
                    map.insert("unchanged".into(), r.unchanged().into());
                }
                v
            }),
        })
    }

    /// Records written: every admitted URL, successful or not.
    pub fn pages(&self) -> u64 {
        self.ok + self.failed
    }

    /// Records written per second of `elapsed`.
    pub fn pages_per_sec(&self) -> f64 {
        self.pages() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Body bytes kept (`bytes`) per second of `elapsed`.
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Bytes in human units (1000-based, as network rates are usually given).
fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.split;
        let workers = match (&self.concurrency, self.workers) {
            (Some(_), n) => format!("-j auto, {n} at the end"),
            (None, 1) => "1 worker".to_owned(),
            (None, n) => format!("{n} workers"),
        };
        writeln!(
            f,
            "crawl ({}, {workers}): {} pages, {} ok, {} failed in {:.2} s",
            self.mode.name(),
            self.pages(),
            self.ok,
            self.failed,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "  {:.1} pages/s, {}/s ({} in all); peak memory {}",
            self.pages_per_sec(),
            human_bytes(self.bytes_per_sec()),
            human_bytes(self.bytes as f64),
            human_bytes(self.peak_rss_kb as f64 * 1024.0)
        )?;
        writeln!(
            f,
            "  worker time: network {:.1}%, parsing {:.1}%, rate limiter {:.1}%, idle {:.1}%",
            s.network * 100.0,
            s.parsing * 100.0,
            s.rate_limit * 100.0,
            s.idle * 100.0
        )?;
        if let Some(c) = &self.concurrency {
            writeln!(
                f,
                "  concurrency (-j auto): min {} / median {} / max {} in flight; last decision: {}",
                c.min,
                c.median,
                c.max,
                c.last
                    .as_deref()
                    .unwrap_or("none (the crawl ended within one interval)")
            )?;
        }
        let k = &self.skipped;
        write!(
            f,
            "  links not followed: {} already seen, {} off-site, {} beyond --depth, {} over --max-pages",
            k.duplicate, k.out_of_scope, k.too_deep, k.over_max_pages
        )?;
        if k.excluded > 0 {
            write!(
                f,
                ", {} left out by --allow-path/--allow/--deny",
                k.excluded
            )?;
        }
        if k.declined > 0 {
            write!(f, ", {} declined by the extractor", k.declined)?;
        }
        writeln!(f)?;
        if k.over_page_limit > 0 {
            writeln!(
                f,
                "  links past the {}-per-page limit, counted but not followed: {}",
                crate::extract::MAX_LINKS,
                k.over_page_limit
            )?;
        }
        writeln!(
            f,
            "  {} {}; {} {} blocked by robots.txt",
            self.retries,
            plural(self.retries, "retry", "retries"),
            self.robots_blocked,
            plural(self.robots_blocked, "page", "pages"),
        )?;
        if self.crawl_delay_hosts > 0 {
            writeln!(
                f,
                "  Crawl-delay: {} {} asked for one in robots.txt (longest {:.1} s between requests); that waiting counts as rate limiter time",
                self.crawl_delay_hosts,
                plural(self.crawl_delay_hosts, "host", "hosts"),
                self.longest_crawl_delay.unwrap_or_default().as_secs_f64()
            )?;
        }
        if self.server_holds > 0 {
            writeln!(
                f,
                "  slowed down: {} {} (429 or 503 with Retry-After); every page of that host waited",
                self.server_holds,
                plural(self.server_holds, "time a host asked", "times a host asked"),
            )?;
        }
        if self.sitemaps > 0 {
            writeln!(
                f,
                "  sitemaps: {} read, listing {} page {}",
                self.sitemaps,
                self.sitemap_urls,
                plural(self.sitemap_urls, "URL", "URLs")
            )?;
        }
        if let Some(r) = &self.recrawl {
            writeln!(
                f,
                "  cache {}: {} new, {} changed, {} unchanged ({} not modified, {} same digest, \
                 {} still fresh), {} gone; {} not downloaded",
                r.cache,
                r.new,
                r.changed,
                r.unchanged(),
                r.not_modified,
                r.same_digest,
                r.fresh,
                r.gone,
                human_bytes(r.bytes_saved as f64)
            )?;
            if r.left_out > 0 {
                writeln!(
                    f,
                    "  --changed-only: {} unchanged {} left out",
                    r.left_out,
                    plural(r.left_out, "record", "records")
                )?;
            }
        }
        if let Some(n) = self.cookies {
            writeln!(
                f,
                "  cookies: {n} in the crawl's jar at the end (--cookies)"
            )?;
        }
        if self.host_pauses > 0 {
            writeln!(
                f,
                "  paused: {} {} after a run of connection failures, {} {} sent; {} given up",
                self.host_pauses,
                plural(self.host_pauses, "time", "times"),
                self.host_probes,
                plural(self.host_probes, "probe", "probes"),
                self.hosts_given_up,
            )?;
        }
        if self.hosts_given_up > 0 {
            writeln!(
                f,
                "  given up: {} {} after a run of connection failures{}; {} {} recorded as host unreachable without waiting out timeouts and retries",
                self.hosts_given_up,
                plural(self.hosts_given_up, "host", "hosts"),
                if self.host_probes > 0 {
                    " and failed probes"
                } else {
                    ""
                },
                self.unreachable,
                plural(self.unreachable, "page", "pages"),
            )?;
        }
        writeln!(f, "  {}", explain(self.verdict, &self.reading))?;
        if let Some(ipc) = &self.ipc {
            let trips = ipc.round_trips.max(1) as f64;
            writeln!(
                f,
                "  IPC: {} round trips, {} out + {} in per page; {:.1} us per round trip beyond the worker's own time, {:.1} us of coordinator time per page",
                ipc.round_trips,
                human_bytes(ipc.bytes_out as f64 / trips),
                human_bytes(ipc.bytes_in as f64 / trips),
                ipc.overhead_ms * 1000.0 / trips,
                ipc.coordinator_ms * 1000.0 / trips,
            )?;
            writeln!(
                f,
                "  processes: {} forked ({:.0} us per fork in the coordinator), {} died with a page in hand",
                ipc.forks,
                ipc.fork_ms * 1000.0 / ipc.forks.max(1) as f64,
                ipc.deaths
            )?;
        }
        if let Some(shared) = &self.shared {
            writeln!(
                f,
                "  shared crawl {} (node {}{}): this node leased {} page(s), dropped {} result(s) whose lease had gone, gave back {}, took back {} expired lease(s); {} Redis round trips ({:.2} per record)",
                shared.crawl_id,
                shared.node,
                if shared.created { ", created it" } else { "" },
                shared.claimed,
                shared.dropped,
                shared.given_back,
                shared.reclaimed,
                shared.round_trips,
                shared.round_trips as f64 / self.pages().max(1) as f64,
            )?;
            writeln!(
                f,
                "  whole crawl: {} record(s) by every node, {} URL(s) admitted, {}",
                shared.crawl_records,
                shared.crawl_admitted,
                match (shared.crawl_outstanding, shared.crawl_stopped) {
                    (0, _) => "finished".to_owned(),
                    (n, true) => format!("stopped with {n} page(s) outstanding"),
                    (n, false) => format!("{n} page(s) outstanding on other nodes"),
                },
            )?;
        }
        if self.resumed > 0 {
            writeln!(
                f,
                "  resumed: {} page(s) finished by earlier runs were not fetched again",
                self.resumed
            )?;
        }
        if let Some(signal) = self.interrupted {
            writeln!(
                f,
                "  interrupted by {signal}: {} page(s) in flight cut off after the grace period, {} queued page(s) not fetched",
                self.unfinished, self.not_fetched
            )?;
        }
        write!(f, "  records: {}", self.output)?;
        if let Some((file, written)) = &self.items {
            write!(f, "\n  items: {file} ({written} written)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bytes(1500.0), "1.5 kB");
        assert_eq!(human_bytes(2_500_000.0), "2.5 MB");
    }
}
