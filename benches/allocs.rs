//! Heap allocations per page: a counting allocator around the system one, and a crawl of a
//! generated site run in this process through the library (`crawl::run`), records written to
//! a file as the binary writes them.
//!
//! Counted: every `alloc` and `realloc` the crawl makes from its start to its summary, on
//! every thread (coordinator, workers, tokio's reactor), divided by the pages crawled. The
//! fixture server runs in a child process ([`crawl_fixture::ChildServer`]), so its
//! allocations are not counted. The processes mode is left out: its workers are other
//! processes, whose allocations this allocator never sees.
//!
//! `cargo bench --bench allocs` (a few seconds); the table goes to
//! `target/bench-results/allocs.md`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use crawl::{Config, Mode, Output, ProgressMode, Url};
use crawl_fixture::{ChildServer, Options};

mod common;

/// The system allocator, counting calls and bytes.
struct Counting;

static CALLS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc` or `realloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: as for `alloc`; `ptr` and `layout` are the caller's, from this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const PAGES: usize = 5_000;

fn main() {
    crawl_fixture::serve_if_child();
    let server = ChildServer::start_with(&Options {
        pages: PAGES,
        links: 10,
        page_kb: 3,
        ..Options::default()
    })
    .expect("fixture server child");
    let out = std::env::temp_dir().join(format!("crawl-allocs-{}.jsonl", std::process::id()));

    let mut table = format!(
        "## Heap allocations per page\n\n{}; {PAGES} generated pages of 3 KB with 10 links \
         each, records to a file.\n\n\
         | mode | -j | pages | allocations per page | bytes allocated per page |\n\
         |---|--:|--:|--:|--:|\n",
        common::machine()
    );
    for (mode, workers) in [
        (Mode::Sequential, 1),
        (Mode::Threads, 16),
        (Mode::Async, 64),
    ] {
        let seed = Url::parse(&server.url("/gen/0")).expect("seed URL");
        let mut config = Config::new(vec![seed]);
        config.mode = mode;
        config.workers = Some(workers);
        config.depth = crawl::UNLIMITED_DEPTH;
        config.per_host_workers = None;
        config.obey_robots = false;
        config.progress = ProgressMode::Never;
        config.output = Output::File(out.clone());
        let (calls, bytes) = (CALLS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
        let summary = crawl::run(&config).expect("crawl runs");
        let calls = CALLS.load(Ordering::Relaxed) - calls;
        let bytes = BYTES.load(Ordering::Relaxed) - bytes;
        assert_eq!(summary.ok as usize, PAGES, "a complete crawl");
        let pages = summary.ok as f64;
        table.push_str(&format!(
            "| {} | {workers} | {} | {:.0} | {:.0} |\n",
            mode.name(),
            summary.ok,
            calls as f64 / pages,
            bytes as f64 / pages
        ));
    }
    let _ = std::fs::remove_file(&out);
    common::publish("allocs", &table);
}
