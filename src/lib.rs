//! # crawl: one crawler, four ways to run its fetch-and-parse stage
//!
//! A crawl is a pipeline, and the *mode* decides only **where** its fetch-and-parse stage runs
//! (on the calling thread, on N OS threads, on tokio tasks, or in forked worker processes).
//! Everything else exists once, so the modes can be compared honestly.
//!
//! ```text
//!  front door     crawler          validate the Config, open journal/sink/progress, pick a driver
//!      |
//!  drivers        modes            sequential | threads | async | processes: where tasks run
//!      |
//!  coordinator    coordinator      next / complete / stop: the crawl's one decision maker
//!      |             ├─ frontier   one contract: in memory (seen set, depths, per-origin queues)
//!      |             |             or in Redis (--frontier: admission and leases, across processes)
//!      |             ├─ ratelimit, robots, redirect, retry        what may be fetched, and when
//!      |             └─ record, sink, warc, journal, report, progress   what comes out
//!      |
//!  worker         worker           fetch -> decode -> extract (-> your Extractor), one task
//! ```
//!
//! **Imports go one way, down this map**: the front door uses the drivers, the drivers use the
//! coordinator and the worker, the coordinator uses the parts below it, and a part uses only
//! parts more basic than itself (the record uses the frontier's `Job`; the journal restores
//! into the frontier). No module imports one above it except a parent its child, and there is
//! no import circle. At the bottom, `normalize`, `decode`, `retry`, `ratelimit`, `shutdown`,
//! `usage`, `shm_set` and `cpu_work` import nothing of the crate.
//!
//! ## The front door
//! - [`run`]`(&config)`: a crawl whose records go to `config.output`, as the `crawl` binary
//!   runs it. It returns a [`Summary`] (counts, time split, the verdict on what limited it).
//! - [`Crawl`]`::new(config, extractor)`: the same crawl with your own [`scrape::Extractor`],
//!   whose items land in the records or in a callback. A 30-line scraper is in [`scrape`].
//! - A [`Config`] built in code passes the same rules as the command line's flags
//!   ([`Config::validate`]): a bad value is an error naming the setting, never a panic or a
//!   hang. What passes is a [`Plan`] (every default resolved); [`run_plan`] runs one as it
//!   is, as the binary does with its flags' plan.
//!
//! ```
//! use crawl::{Config, CrawlError, Setting, Url};
//!
//! let mut config = Config::new(vec![Url::parse("http://127.0.0.1:8080/")?]);
//! config.depth = 2;
//! config.rate = Some(0.0); // a typo: zero requests per second
//! match crawl::run(&config) {
//!     Err(CrawlError::Config(e)) => {
//!         assert_eq!(e.setting, Setting::Rate);
//!         assert_eq!(e.for_flag(), "--rate: must be a number of requests per second of at \
//!                                   least 1/86400 (one a day), got 0");
//!     }
//!     other => panic!("expected a refusal, got {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What a build brings
//! Cargo features, every one on by default (the `crawl` binary has them all): `cli` (the
//! flags, [`cli`], clap), `man` (`crawl completions`, `crawl man`), `redis` (`--frontier`,
//! `stop_crawl`), `metrics` (`--metrics`) and `warc` (`--warc`). A scraper depends on crawl
//! with `default-features = false`, adding `features = ["cli"]` if it wants every crawl flag
//! (GUIDE.md, "Features: a lean build"). [`Config`] is the same type in every build: a setting
//! whose feature is left out is refused by [`Config::validate`], naming the feature, never
//! ignored.
//!
//! ## The layers
//! Input: [`config`] (the configuration and its rules), [`cli`] (flags to a config), `seeds`
//! (the URLs file).
//!
//! Drivers, the only code that spawns anything: `modes` (one signature, one stop policy); and
//! `--metrics`' listener (`metrics`), a thread of its own beside every driver but processes mode,
//! whose `poll(2)` loop answers scrapes itself.
//!
//! The shared pipeline, no threads and no sockets but one:
//! - `coordinator`: hands out tasks, takes back outcomes, decides retries and redirects, writes
//!   one record per admitted URL (its `ledger` orders records and journal; its `items` hands
//!   extracted items over);
//! - [`frontier`]: what to fetch next and what has been seen, one contract for the in-memory
//!   frontier and Redis's; [`scope`]; `normalize`;
//!   `robots`; [`ratelimit`]; `redirect`; `retry`;
//! - [`frontier`]'s `redis`: with `--frontier`, the same contract with the crawl's admission,
//!   leases and limits in Redis, shared by several crawl processes; its one connection is the
//!   one socket (and a round trip the one blocking call) in this layer;
//! - [`autoscale`]: `-j auto`, the limit on pages in flight that the crawl sets itself;
//! - `record` and `sink` (the output), `warc` (`--warc`: the archive of every request and
//!   response; the worker packs each exchange's records with it, the ledger owns its one
//!   writer), `journal` (`--state`), `stats`, `bottleneck`, `usage`, `progress`, [`report`]
//!   (where the time went, live and at the end), `metrics` (the same figures for Prometheus,
//!   `--metrics`); the coordinator's log events go through `tracing`, and the library never
//!   installs a subscriber (the binary does);
//! - `cache` (`--cache`: what each page was, kept between crawls in redb; the coordinator's
//!   `recrawl` decides with it: a conditional request, a `304` as the earlier record again, a
//!   fresh page not requested);
//! - `shutdown` (SIGINT and SIGTERM as an orderly stop), `shm_set` (the seen set in shared
//!   memory, for processes mode's `--dedupe shared`).
//!
//! One task, the same code in every mode: `task` (the messages), `worker` (fetch, then
//! parse), `fetch` (reqwest), `inflate` (Content-Encoding, when `--warc` keeps bodies as
//! sent), `decode` (charsets), `revisit` (what a response says about
//! fetching it again: validators, freshness), `extract` (title and links, streaming, no
//! DOM), `cpu_work` (`--cpu-work`); [`scrape`] (your extractor's side: the page and its DOM) and
//! `fields` (`--field` as an extractor).
//!
//! The fixture site that tests and benchmarks crawl is a separate crate (`fixtures/`), which
//! this crate never imports.

#![warn(missing_docs)]

// The front door.
mod crawler;

// Drivers.
mod modes;

// The coordinator and the pipeline's parts. A `pub mod` says why it is public: the library's
// API is `Crawl`, `run`, `Config` and `scrape`; the rest is private.
// Public because `Summary` names its `autoscale::Step`s (`-j auto`'s decisions).
pub mod autoscale;
mod cookies;
mod coordinator;
// A bench hook, not API: `benches/scale.rs` weighs the frontier alone.
#[doc(hidden)]
pub mod frontier;
mod journal;
mod metrics;
mod normalize;
mod progress;
// A bench hook, not API: `benches/scale.rs` builds a frontier with its limiter.
#[doc(hidden)]
pub mod ratelimit;
mod record;
mod redirect;
// `scrape::Routes`: an extractor per kind of page.
mod routes;
// Public for the summary's types (`Summary` and its parts), which a crawl returns.
pub mod report;
mod request;
mod retry;
mod robots;
// A bench hook, not API: `benches/scale.rs` builds a frontier with its scope.
mod bottleneck;
// `--cache`: what a crawl keeps of each page for the next (redb).
pub(crate) mod cache;
mod item_sink;
#[doc(hidden)]
pub mod scope;
mod shm_set;
mod shutdown;
mod sink;
mod sitemap;
mod stats;
mod usage;
mod warc;

// One task.
mod cpu_work;
mod decode;
mod extract;
mod fetch;
// `--field`: the command line's extractor.
#[cfg(feature = "cli")]
mod fields;
mod inflate;
mod revisit;
// Public: the scraper's side of the library (the page, selectors, your `Extractor`).
pub mod scrape;
mod task;
mod worker;

// Input.
// Public for the binary, and for a scraper binary that wants every crawl flag; the `cli`
// feature (on by default) brings it and clap.
#[cfg(feature = "cli")]
pub mod cli;
// Public: the crawl's settings (`Config` and its types) and their rules.
pub mod config;
// The URLs file (`URLS_FILE` or standard input).
#[cfg(feature = "cli")]
mod seeds;

pub use cache::CacheError;
pub use config::{
    Config, ConfigError, Dedupe, Format, FrontierUrl, ItemsFile, ItemsFormat, Mode, Output, Plan,
    ProgressMode, ProxyUrl, Setting, SharedCrawl, UNLIMITED_DEPTH, WarcConfig,
};
pub use coordinator::items::ItemError;
pub use crawler::{Crawl, CrawlError, run, run_plan};
/// Stops a crawl shared through Redis on every node (`crawl --stop-crawl`).
#[cfg(feature = "redis")]
pub use frontier::redis::stop_crawl;
/// A crawl shared through Redis as a whole, read from anywhere (`crawl status`).
#[cfg(feature = "redis")]
pub use frontier::redis::{CrawlStatus, DepthStatus, NodeStatus, crawl_status};
pub use progress::suspend_bar;
pub use record::Record;
pub use report::Summary;
pub use request::Request;
pub use shutdown::StopSignal;
/// The `url` crate itself, for its error types and helpers.
pub use url;
/// The URL type every API here takes, so a scraper needs no `url` dependency of its own.
pub use url::Url;

/// The bounds a crawl enforces whatever the configuration, so that one page, link or server
/// cannot cost more than this (GUIDE.md, "What one page can cost").
pub mod limits {
    pub use crate::config::{
        DEFAULT_CLUSTER_SHARDS, DEFAULT_LEASE, DEFAULT_REDIS_WAIT, MAX_GRACE, MAX_LEASE,
        MAX_REDIS_WAIT, MAX_SHARDS, MAX_TIMEOUT, MIN_LEASE, MIN_RATE,
    };
    pub use crate::extract::{MAX_LINKS, MAX_TITLE_BYTES};
    pub use crate::normalize::MAX_URL_LEN;
    pub use crate::redirect::{MAX_REDIRECTS, MAX_ROBOTS_REDIRECTS};
    pub use crate::retry::{MAX_BACKOFF, MAX_RETRY_AFTER};
    pub use crate::robots::{MAX_CRAWL_DELAY, MAX_ROBOTS_BYTES};
    pub use crate::sitemap::{MAX_SITEMAP_BYTES, MAX_SITEMAP_URLS, MAX_SITEMAPS_PER_ORIGIN};
}

/// Every error a crawl can end with, for matching on the cause. [`CrawlError`] wraps them.
pub mod errors {
    pub use crate::config::ConfigError;
    pub use crate::cookies::CookieError;
    pub use crate::coordinator::CoordinatorError;
    pub use crate::coordinator::ledger::LedgerError;
    pub use crate::crawler::CrawlError;
    pub use crate::fetch::ClientError;
    #[cfg(feature = "cli")]
    pub use crate::fields::FieldError;
    #[cfg(feature = "redis")]
    pub use crate::frontier::redis::RedisFrontierError;
    pub use crate::item_sink::ItemsOpenError;
    pub use crate::journal::JournalError;
    pub use crate::modes::DriverError;
    pub use crate::record::RecordError;
    pub use crate::redirect::RedirectRefusal;
    pub use crate::scrape::CssError;
    #[cfg(feature = "cli")]
    pub use crate::seeds::SeedError;
    pub use crate::shutdown::ShutdownError;
    pub use crate::sink::OpenError;
    pub use crate::task::FetchError;
    #[cfg(feature = "warc")]
    pub use crate::warc::WarcError;
    pub use crate::worker::WorkerError;
}

#[cfg(test)]
mod proptests;
