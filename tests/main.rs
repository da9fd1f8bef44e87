//! crawl's integration tests, in one binary: each former test file is a module here, so CI
//! links reqwest, tokio and axum into one test executable instead of one per file.

// The harness: `CrawlCmd` runs the real `crawl` binary against the fixture server.
mod support;

// `-j auto`: which way each mode moves its concurrency as latency and capacity change.
mod auto;
// The command line's contract: exit codes and messages for bad input, nothing fetched.
mod cli;
// `crawl completions SHELL` and `crawl man` name the real flags; the shells accept them.
mod completions;
// The shared frontier on a real Redis Cluster: keys spread by host, a failover ridden out.
mod cluster;
// The crawl itself in every mode: depth, scope, redirects, retries, proxies, TLS, sitemaps.
mod crawl;
// The scraper examples, run as a user runs them, against the fixture shop.
mod examples;
// Servers that misbehave (hangs, resets, bombs, broken framing) and pages that are hostile.
mod hostile;
// Ctrl-C and SIGTERM: pages in flight finish within the grace period, the exit code says so.
mod interrupt;
// The library API (`crawl::scrape`) in-process: items, key clashes, errors and panics.
mod library;
// Logs (`-v`, `RUST_LOG`, `--log`) and Prometheus metrics agree with the summary.
mod obs;
// `--allow-path`, `--allow`, `--deny`: exactly the pages the rules let in, every mode.
mod paths;
// Politeness toward each host: per-host caps, fairness, Crawl-delay, Retry-After, dead hosts.
mod politeness;
// What only the processes mode must prove: killed workers lose nothing, no child outlives.
mod processes;
// `--cache`: a second crawl asks only for what changed.
mod recrawl;
// `--state DIR`: a killed or interrupted crawl, run again, ends as one uninterrupted crawl.
mod resume;
// `--field` and `--format csv` against the fixture shop's own catalogue.
mod scrape;
// `--cookies`: one jar per crawl, shared by every worker, kept across a resume.
mod sessions;
// The shared frontier in Redis: several nodes crawl one site once.
mod shared;
// One validation for flags and library settings: refused the same way, before any fetch.
mod validation;
// `--warc`: every exchange archived as sent, resumes append, files rotate.
mod warc;
