//! The starting point for your own scraper: every `crawl` flag, your own flags, one route per
//! kind of page, items to their own file.
//!
//! ```text
//! cargo run --release --example starter -- --mode processes -d 10 --items items.jsonl -o /dev/null
//! cargo run --release --example starter -- --help      # every crawl flag, and --in-stock-only
//! ```
//!
//! Without a URLS_FILE it starts the fixture shop ("Leaf & Bean") itself and crawls it, so it
//! runs with no network. It yields one item per category page (`kind: "Listing"`) and one per
//! product (`kind: "Product"`); `--items FILE` writes them alone (`.csv` for a table), and at
//! the end it says how many of each it found.
//!
//! To make it yours: delete the two `crawl_fixture` lines, put your start page in a URLS_FILE,
//! and change `Listing`, `Product` and the selectors in `routes()` (open a page in a browser,
//! "Inspect", copy what identifies the field). Keep `--per-host-rate` low on a real site.

use std::error::Error;

use clap::Parser;
use crawl::scrape::{Css, Extracted, Page, Routes};
use crawl::{Crawl, CrawlError, Url};
use serde::{Deserialize, Serialize};

/// Every crawl flag, and this scraper's own.
#[derive(Parser)]
#[command(about = "Scrapes a shop's listings and products (the fixture shop if no URLS_FILE).")]
struct Cli {
    #[command(flatten)]
    crawl: crawl::cli::Args,
    /// Yield only products in stock
    #[arg(long)]
    in_stock_only: bool,
}

/// A category page.
#[derive(Debug, Serialize, Deserialize)]
struct Listing {
    category: String,
    products: usize,
}

/// A product page.
#[derive(Debug, Serialize, Deserialize)]
struct Product {
    name: String,
    price: String,
    stock: u32,
}

/// The crawl's one item type: a variant per kind of page. Items cross from worker processes to
/// the crawl as JSON (processes mode), hence `Serialize` and `Deserialize`; `kind` says which.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Item {
    Listing(Listing),
    Product(Product),
}

impl From<Listing> for Item {
    fn from(l: Listing) -> Item {
        Item::Listing(l)
    }
}

impl From<Product> for Item {
    fn from(p: Product) -> Item {
        Item::Product(p)
    }
}

fn routes(in_stock_only: bool) -> Result<Routes<Item>, Box<dyn Error>> {
    let (category, listed) = (Css::new("h1.category-name")?, Css::new("li.product")?);
    let onward = Css::new("a.product-link, a[rel=next]")?;
    let (name, price) = (
        Css::new(".product-detail h1.name")?,
        Css::new(".product-detail .price")?,
    );
    let stock = Css::new(".product-detail .stock")?;
    Ok(Routes::new()
        // Two kinds in one CSV table (`--items items.csv`): every kind's keys, `kind` first.
        .columns(&["kind", "category", "products", "name", "price", "stock"])
        // Products: an item, and nothing further from here.
        .on("/shop/product/*", move |page: &Page<'_>| {
            let product = Product {
                name: page.text(&name).unwrap_or_default(),
                price: page.text(&price).unwrap_or_default(),
                stock: page
                    .attr(&stock, "data-stock")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
            };
            let keep = !in_stock_only || product.stock > 0;
            Extracted::maybe(keep.then_some(product)).follow_nothing()
        })
        // Category pages (and their further pages): an item, then products and the next page.
        .on("/shop/*/", move |page: &Page<'_>| {
            let listing = page.text(&category).map(|category| Listing {
                category,
                products: page.select(&listed).count(),
            });
            Extracted::maybe(listing).follow(page.links_in(&onward))
        }))
    // Any other page (the front page): no item, every link followed, within the crawl's scope.
}

fn main() {
    crawl_fixture::serve_if_child(); // the fixture shop: delete for a real site
    if let Err(e) = run() {
        eprintln!("starter: {e}");
        // 2 for what the user can fix in flags or input, as `crawl` says it.
        let usage = e
            .downcast_ref::<CrawlError>()
            .is_none_or(CrawlError::is_usage);
        std::process::exit(if usage { 2 } else { 1 });
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let mut cli = Cli::parse();
    // A shop is a few clicks deep; -d on the command line still wins.
    cli.crawl.depth.get_or_insert(10);
    let (seeds, _shop) = match cli.crawl.urls_file {
        Some(_) => (cli.crawl.read_seeds()?, None),
        None => {
            let shop = crawl_fixture::ChildServer::start()?; // delete for a real site
            (vec![Url::parse(&shop.url("/shop/"))?], Some(shop))
        }
    };
    let config = cli.crawl.into_config(seeds)?;
    let (mut listings, mut products) = (0, 0);
    let crawl = Crawl::new(config, routes(cli.in_stock_only)?);
    let summary = crawl.for_each(|_record, item| {
        match item {
            Item::Listing(_) => listings += 1,
            Item::Product(_) => products += 1,
        }
        Ok(())
    });
    let summary = match summary {
        Ok(summary) => summary,
        // Name the flag, as `crawl` itself does.
        Err(CrawlError::Config(e)) => return Err(e.for_flag().into()),
        Err(e) => return Err(Box::new(e)),
    };
    eprintln!("{summary}");
    eprintln!("{listings} listings, {products} products");
    Ok(())
}
