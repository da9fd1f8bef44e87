//! One book of a documentation site, a record per chapter: README's scraper in under 40 lines.
//!
//! ```text
//! cargo run --release --example chapters                 # the fixture library, no network
//! cargo run --release --example chapters -- URL          # your site: change the rules below
//! ```
//!
//! Writes `chapters.jsonl` (one item per page: url, title, first `main h1`, how many `<h2>`
//! and `<pre>`) and prints the crawl's summary.

use crawl::scrape::{Css, Extracted, Page};
use crawl::{Config, Crawl, ItemsFile, Mode, Output, UNLIMITED_DEPTH, Url};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Chapter {
    url: String,
    title: Option<String>,
    h1: Option<String>,
    h2s: usize,
    pres: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    crawl_fixture::serve_if_child(); // the fixture library: delete for a real site
    let fixture = crawl_fixture::ChildServer::start()?; // delete for a real site
    let seed = std::env::args()
        .nth(1)
        .unwrap_or_else(|| fixture.url("/library/"));
    let mut config = Config::new(vec![Url::parse(&seed)?]);
    config.mode = Mode::Processes; // or Sequential, Threads, Async: the same items
    config.depth = UNLIMITED_DEPTH;
    config.allow_paths = vec!["/library/rust-book/".into()]; // one book, not the whole host
    config.deny = vec!["/print/".into()]; // nor its printable copies
    config.per_host_rate = Some(20.0); // be polite
    config.output = Output::Discard; // no crawl records, only the items:
    config.items = Some(ItemsFile::new("chapters.jsonl"));
    let (title, h1) = (Css::new("title")?, Css::new("main h1")?);
    let (h2, pre) = (Css::new("main h2")?, Css::new("pre")?);
    let chapter = move |page: &Page<'_>| {
        Extracted::item(Chapter {
            url: page.url.to_string(),
            title: page.text(&title),
            h1: page.text(&h1),
            h2s: page.select(&h2).count(),
            pres: page.select(&pre).count(),
        })
    };
    let summary = Crawl::new(config, chapter).run()?;
    eprintln!("{summary}");
    Ok(())
}
