//! crawl's integration tests, in one binary: each former test file is a module here, so CI
//! links reqwest, tokio and axum into one test executable instead of one per file.
//! `support` drives the real `crawl` binary against the fixture server.

mod support;

mod auto;
mod cli;
mod completions;
mod crawl;
mod examples;
mod hostile;
mod interrupt;
mod library;
mod obs;
mod politeness;
mod processes;
mod resume;
mod scrape;
mod sessions;
mod shared;
mod validation;
mod warc;
