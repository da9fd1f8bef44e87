//! Follow a listing's "next page" links and nothing else, and stop on a condition.
//!
//! ```text
//! cargo run --release --example follow_pagination -- [--mode MODE] [--under PENCE] [CATEGORY]
//! ```
//!
//! It starts the fixture shop itself, then walks one category (default `tea`) page by page
//! through its `rel="next"` links, printing each product listed with its price. It stops the
//! whole crawl on the first page that lists something cheaper than `--under` (default 400,
//! that is £4.00): the pages after it are never fetched. Without a cheap enough product, it
//! reads to the last page.
//!
//! To point it at a real site:
//! 1. The seed: replace `shop.url(...)` with the first page of your listing, and delete the two
//!    `crawl_fixture` lines (`serve_if_child` and `ChildServer::start`).
//! 2. The selectors in `main`: what marks one entry, its name and price, and the next-page link.
//! 3. The condition in the extractor: whatever should end the walk (a date older than you need,
//!    a result you were looking for, a page count).
//!
//! Set `config.per_host_rate` and `config.user_agent` before crawling someone else's site.

use std::error::Error;

use crawl::Crawl;
use crawl::scrape::{Css, Extracted, Page};
use crawl::{Config, Mode, Output};
use serde::{Deserialize, Serialize};

/// What one listing page holds.
#[derive(Debug, Serialize, Deserialize)]
struct Listing {
    page: String,
    entries: Vec<Entry>,
    /// The entry that ended the walk, if one did.
    cheap: Option<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    name: String,
    price_pence: u32,
}

fn main() -> Result<(), Box<dyn Error>> {
    crawl_fixture::serve_if_child();
    let (mode, under, category) = args()?;
    let shop = crawl_fixture::ChildServer::start()?;

    let mut config = Config::new(vec![crawl::Url::parse(
        &shop.url(&format!("/shop/{category}/")),
    )?]);
    config.mode = mode;
    // A chain of pages: each one names the next, so one worker is all it can use.
    config.workers = Some(1);
    config.depth = 1000;
    config.output = Output::Discard;

    let entry = Css::new("li.product")?;
    let name = Css::new("a.product-link")?;
    let price = Css::new(".price")?;
    let next = Css::new("a[rel=next]")?;
    let extractor = move |page: &Page<'_>| {
        let entries: Vec<Entry> = page
            .select(&entry)
            .map(|li| Entry {
                name: name.text_in(li).unwrap_or_default(),
                price_pence: price.text_in(li).map_or(0, |p| pence(&p)),
            })
            .collect();
        let cheap = entries.iter().find(|e| e.price_pence < under).cloned();
        let stop = cheap.is_some();
        let listing = Listing {
            page: page.url.to_string(),
            entries,
            cheap,
        };
        let out = Extracted::item(listing).follow(page.links_in(&next));
        if stop { out.stop() } else { out }
    };

    let mut pages = 0;
    let summary = Crawl::new(config, extractor).for_each(move |_record, listing: Listing| {
        pages += 1;
        println!("page {pages}: {}", listing.page);
        for e in &listing.entries {
            println!("  {:<28} {}", e.name, money(e.price_pence));
        }
        if let Some(cheap) = listing.cheap {
            println!(
                "stopped on page {pages}: {} costs {}, under {}",
                cheap.name,
                money(cheap.price_pence),
                money(under)
            );
        }
        Ok(())
    })?;
    eprintln!("{summary}");
    Ok(())
}

/// "£4.50" -> 450, "£12" -> 1200; 0 if there is no number.
fn pence(price: &str) -> u32 {
    let number: String = price
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let (pounds, pence) = number.split_once('.').unwrap_or((&number, "0"));
    let pence = format!("{pence:0<2}");
    pounds.parse::<u32>().unwrap_or(0) * 100 + pence[..2].parse::<u32>().unwrap_or(0)
}

fn money(pence: u32) -> String {
    format!("£{}.{:02}", pence / 100, pence % 100)
}

/// `[--mode MODE] [--under PENCE] [CATEGORY]`
fn args() -> Result<(Mode, u32, String), Box<dyn Error>> {
    let (mut mode, mut under, mut category) = (Mode::Sequential, 400, "tea".to_owned());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mode" => {
                let name = args.next().ok_or("--mode needs a value")?;
                mode = name.parse().map_err(|e| format!("--mode: {e}"))?;
            }
            "--under" => {
                let n = args.next().ok_or("--under needs a value in pence")?;
                under = n
                    .parse()
                    .map_err(|_| format!("--under: not a number: {n:?}"))?;
            }
            _ => category = arg,
        }
    }
    Ok((mode, under, category))
}
