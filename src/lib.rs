//! # crawl: one crawler, four ways to run its fetch-and-parse stage
//!
//! A crawl is a loop: take a job from the frontier, wait for the rate limiter, fetch, extract,
//! hand the outcome back, schedule the new links. The *mode* decides only **where** fetch and
//! extract run — on the calling thread, on N OS threads, on tokio tasks, or in forked worker
//! processes. Everything else exists once, so the modes can be compared honestly.
//!
//! ## Write your own scraper in 30 lines
//!
//! Describe a page with CSS selectors, return your own `serde` item and the links worth
//! following, and [`scrape::Crawl`] does the crawling: robots.txt, scope, depth, rate limits,
//! retries, redirects, Ctrl-C, `--state`-style resume, in whichever [`Mode`] you pick.
//!
//! ```no_run
//! use crawl::scrape::{Crawl, Css, Extracted, Page};
//! use crawl::{Config, Mode, Output, Url};
//! use serde::{Deserialize, Serialize}; // serde = { version = "1", features = ["derive"] }
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Product {
//!     name: String,
//!     price: String,
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (name, price) = (Css::new("h1.name")?, Css::new(".price")?);
//!     let onward = Css::new("a.category, a[rel=next], a.product-link")?;
//!     let mut config = Config::new(vec![Url::parse("https://shop.example/")?]);
//!     config.mode = Mode::Threads;
//!     config.workers = 8;
//!     config.depth = 10;
//!     config.per_host_rate = Some(2.0); // be polite
//!     config.output = Output::Discard; // items come to the closure below
//!     let extractor = move |page: &Page| {
//!         let product = page.text(&name).map(|name| Product {
//!             name,
//!             price: page.text(&price).unwrap_or_default(),
//!         });
//!         Extracted::maybe(product).follow(page.links_in(&onward))
//!     };
//!     let summary = Crawl::new(config, extractor).for_each(|record, product| {
//!         println!("{}\t{}\t{}", product.name, product.price, record.url);
//!         Ok(())
//!     })?;
//!     eprintln!("{summary}");
//!     Ok(())
//! }
//! ```
//!
//! Two complete versions run against the fixture shop: `cargo run --example shop_products`
//! (typed structs into CSV) and `cargo run --example follow_pagination` (next-page links only,
//! stopping on a condition). Without code, `crawl --field price=.price --field img=img@src`
//! does the same for flat fields ([`fields`]), and `--format csv` writes a table.
//!
//! ## Map of the crate
//!
//! Input and configuration
//! - [`cli`]: the raw command-line flags (clap) and their one conversion into a [`Config`].
//! - [`config`]: the validated configuration; the only place flag errors are reported.
//! - [`seeds`]: reads the URLs file, naming the line of any bad entry.
//! - [`scrape`]: the scraper's API — [`scrape::Page`], [`scrape::Extractor`],
//!   [`scrape::Crawl`]; [`fields`]: `--field` as an extractor.
//!
//! The shared pipeline (no threads, no sockets: every mode drives these)
//! - [`coordinator`]: the crawl's brain — hands out tasks, takes back results, decides retries,
//!   writes records. Drivers call [`coordinator::Coordinator::next`] and
//!   [`coordinator::Coordinator::complete`] and nothing else.
//! - [`frontier`]: per-origin queues, dedupe by fingerprint, depth, scope, robots verdicts;
//!   waiting URLs are kept as packed text, so memory at scale is mostly the dedupe set.
//! - [`scope`]: which hosts a crawl may touch (links and redirects alike).
//! - [`normalize`]: URL normalisation and fingerprints.
//! - [`robots`]: robots.txt verdicts (RFC 9309 status rules).
//! - [`ratelimit`]: the global and per-host limiters (the only `governor` user).
//! - [`retry`]: which failures are retried, and how long to back off.
//! - [`record`], [`sink`]: the output, JSON Lines or CSV.
//! - [`journal`]: `--state`, the crash-safe journal a crawl resumes from.
//! - [`stats`], [`progress`], [`report`]: where the time went, live and at the end.
//! - [`verdict`]: what limits the crawl — cpu, rate-limit, network or starved — and why.
//! - [`shutdown`]: SIGINT and SIGTERM as an orderly stop.
//! - [`shared_set`]: a fingerprint set in shared memory, for the processes mode.
//!
//! What a worker does with one task (the same code in every mode)
//! - [`task`]: the messages between coordinator and worker.
//! - [`worker`]: fetch a task, then parse it; the two halves are separate so a mode can choose
//!   where the CPU-bound half runs.
//! - [`fetch`]: HTTP with reqwest (the only reqwest user): timeouts, redirects, size cap.
//! - [`decode`]: charset detection and decoding (header, BOM, `<meta>`, then UTF-8).
//! - [`extract`]: title and links from HTML in one streaming pass, with no DOM (a DOM is built
//!   only for a user's extractor, in [`scrape`]).
//! - [`work`]: the synthetic CPU load behind `--cpu-work`.
//!
//! The drivers
//! - [`modes`]: `sequential`, `threads`, `tasks` (async) and `processes`, the only code that
//!   spawns anything.
//!
//! The fixture site that tests and benchmarks crawl is a separate crate (`fixtures/`), which
//! this crate never imports.

pub mod cli;
pub mod config;
pub mod coordinator;
pub mod decode;
pub mod extract;
pub mod fetch;
pub mod fields;
pub mod frontier;
pub mod journal;
pub mod modes;
pub mod normalize;
pub mod progress;
pub mod ratelimit;
pub mod record;
pub mod report;
pub mod retry;
pub mod robots;
pub mod scope;
pub mod scrape;
pub mod seeds;
pub mod shared_set;
pub mod shutdown;
pub mod sink;
pub mod stats;
pub mod task;
pub mod verdict;
pub mod work;
pub mod worker;

pub use config::{Config, Format, Mode, Output};
pub use modes::run;
pub use record::Record;
pub use report::Summary;
/// The URL type every API here takes, so a scraper needs no `url` dependency of its own.
pub use url::Url;

#[cfg(test)]
mod proptests;
