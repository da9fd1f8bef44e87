//! Memory at scale: does a crawl's peak memory grow only with what it must remember?
//!
//! `cargo bench --bench scale` (about five minutes; `-- frontier` or `-- crawls` runs one part).
//! Two parts, both written to `target/bench-results/scale.md`:
//!
//! 1. **Whole crawls**: the real `crawl` binary crawls a generated site of 10k to 1,000,000 pages
//!    (10 links each, every page reachable from `/gen/0`) to the end, with no depth or page
//!    limit. Peak memory is the crawl process's own `VmHWM` from its `--summary-json` (the
//!    fixture server runs in this bench process, apart). The fixed baseline (runtime, HTTP
//!    client, buffers) cancels out of the *slope* between sizes: the marginal bytes per known
//!    URL, which is what the ~100 B/URL target is about.
//! 2. **The frontier alone**: a counting allocator measures the bytes the [`MemoryFrontier`] holds
//!    with every URL of a 1,000,000-page site queued, and after all of them were handed out
//!    (only the dedupe set left): the cost of a queued URL and of a known one, free of allocator
//!    slack and of everything else a crawl holds.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use common::{Series, crawl, line_chart, machine, num, publish, wanted_parts};
use crawl::frontier::{MemoryFrontier, Pop};
use crawl::ratelimit::Limiter;
use crawl::scope::Scope;
use crawl_fixture::{FixtureServer, Options};
use url::Url;

/// Counts live heap bytes, so part 2 can weigh a data structure exactly.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Site sizes crawled in part 1.
const SIZES: [usize; 4] = [10_000, 100_000, 300_000, 1_000_000];
/// Modes crawled at every size: async is the fastest; threads shows the frontier's cost does
/// not depend on the mode.
const MODES: [&str; 2] = ["async", "threads"];

/// One whole crawl's figures.
struct Run {
    pages: usize,
    known: f64,
    rss_mb: f64,
    pages_per_s: f64,
}

fn whole_crawls(out: &mut String) {
    let depth = "inf".to_string();
    let mut runs: Vec<(&str, Vec<Run>)> = MODES.iter().map(|m| (*m, Vec::new())).collect();
    for pages in SIZES {
        let server = FixtureServer::start(Options {
            pages,
            ..Options::default()
        })
        .expect("fixture server");
        let seed = server.url("/gen/0");
        for (mode, mode_runs) in &mut runs {
            let s = crawl(
                std::slice::from_ref(&seed),
                &["-m", mode, "-d", &depth, "--ignore-robots"],
            );
            // Every admitted URL yields exactly one record, so records are the known URLs.
            let known = num(&s, &["pages"]);
            assert_eq!(known as usize, pages, "{mode}: every page is reachable");
            mode_runs.push(Run {
                pages,
                known,
                rss_mb: num(&s, &["peak_rss_kb"]) / 1024.0,
                pages_per_s: num(&s, &["pages_per_s"]),
            });
        }
    }

    writeln!(out, "### Whole crawls: peak memory against known URLs\n").ok();
    writeln!(
        out,
        "Generated site of N pages, 10 links each, seed `/gen/0`, `-d {depth} --ignore-robots`, \
         default workers. Peak RSS is the crawl process's `VmHWM`. The slope is the extra memory \
         per extra known URL between this size and the one before it.\n"
    )
    .ok();
    writeln!(
        out,
        "| mode | pages | known URLs | pages/s | peak RSS MB | bytes per known URL | slope B/URL |"
    )
    .ok();
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|").ok();
    let mut series: Vec<Series> = Vec::new();
    for (mode, mode_runs) in &runs {
        let mut previous: Option<&Run> = None;
        for r in mode_runs {
            let bytes = r.rss_mb * 1024.0 * 1024.0;
            let slope = previous.map_or("".to_owned(), |p| {
                let db = (r.rss_mb - p.rss_mb) * 1024.0 * 1024.0;
                format!("{:.0}", db / (r.known - p.known).max(1.0))
            });
            writeln!(
                out,
                "| {mode} | {} | {:.0} | {:.0} | {:.1} | {:.0} | {slope} |",
                r.pages,
                r.known,
                r.pages_per_s,
                r.rss_mb,
                bytes / r.known.max(1.0),
            )
            .ok();
            previous = Some(r);
        }
        series.push((
            (*mode).to_owned(),
            mode_runs
                .iter()
                .map(|r| (r.known / 1000.0, r.rss_mb))
                .collect(),
        ));
    }
    for (mode, mode_runs) in &runs {
        if let (Some(first), Some(last)) = (mode_runs.first(), mode_runs.last()) {
            let slope = (last.rss_mb - first.rss_mb) * 1024.0 * 1024.0
                / (last.known - first.known).max(1.0);
            writeln!(
                out,
                "\n{mode}: {slope:.0} bytes per known URL from {} to {} pages.",
                first.pages, last.pages
            )
            .ok();
        }
    }
    let title = "peak memory against known URLs";
    match line_chart(
        "scale",
        title,
        "known URLs (thousands)",
        "peak RSS (MB)",
        false,
        &series,
    ) {
        Ok(path) => writeln!(out, "\n![{title}]({})\n", path.display()).ok(),
        Err(e) => writeln!(out, "\n(chart scale not drawn: {e})\n").ok(),
    };
}

fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn frontier_alone(out: &mut String) {
    const N: usize = 1_000_000;
    let base = "http://127.0.0.1:8080";
    let urls: Vec<Url> = (0..N)
        .map(|i| Url::parse(&format!("{base}/gen/{i}")).expect("url"))
        .collect();
    let scope = Arc::new(Scope::new(&urls[..1], &[]));
    let before = live_bytes();
    let started = Instant::now();
    let mut frontier = MemoryFrontier::new(scope, u32::MAX, None, false);
    for url in &urls {
        frontier.admit(url.clone(), 1);
    }
    let admit_s = started.elapsed().as_secs_f64();
    let queued = live_bytes() - before;
    let limiter = Limiter::new(None, None);
    let started = Instant::now();
    let mut popped = 0usize;
    while let Pop::Job(job) = frontier.pop(Instant::now(), &limiter) {
        frontier.finished(job.depth);
        popped += 1;
    }
    let pop_s = started.elapsed().as_secs_f64();
    assert_eq!(popped, N, "every admitted URL is handed out");
    let known = live_bytes() - before;
    drop(frontier);

    writeln!(
        out,
        "### The frontier alone: bytes it holds per URL\n\n\
         {N} URLs like `{base}/gen/123456` admitted, then all handed out; heap bytes counted by \
         the bench's allocator (no allocator slack, nothing else).\n"
    )
    .ok();
    writeln!(out, "| state | heap MB | bytes per URL | time |").ok();
    writeln!(out, "|---|---:|---:|---:|").ok();
    writeln!(
        out,
        "| all {N} queued (and known) | {:.1} | {:.0} | admit {:.0} ns/URL |",
        queued as f64 / 1048576.0,
        queued as f64 / N as f64,
        admit_s * 1e9 / N as f64
    )
    .ok();
    writeln!(
        out,
        "| all handed out (known only) | {:.1} | {:.0} | pop {:.0} ns/URL |\n",
        known as f64 / 1048576.0,
        known as f64 / N as f64,
        pop_s * 1e9 / N as f64
    )
    .ok();
}

fn main() {
    let mut out = format!(
        "## Scale: memory against known URLs\n\nMachine: {}. One run per cell; the fixture \
         server shares the machine.\n\n",
        machine()
    );
    let wants = wanted_parts();
    if wants("frontier") {
        frontier_alone(&mut out);
    }
    if wants("crawls") {
        whole_crawls(&mut out);
    }
    publish("scale", &out);
}
