//! Scrape every product of a shop into a CSV file, as typed Rust structs.
//!
//! ```text
//! cargo run --release --example shop_products -- [--mode MODE] [OUT.csv]
//! ```
//!
//! It starts the fixture shop itself ("Leaf & Bean", served from a child process so that every
//! mode works, processes included), crawls it from the front page through the categories and
//! their pagination to each product page, and writes one CSV row per product (default
//! `products.csv`). The crawl summary goes to standard error.
//!
//! To point it at a real site, change four things:
//! 1. The seed: replace `shop.url("/shop/")` with your start page, and delete the two
//!    `crawl_fixture` lines (`serve_if_child` and `ChildServer::start`).
//! 2. `Product`: the fields you want.
//! 3. The selectors in `ShopScraper::new`: open a product page in a browser, "Inspect", and
//!    copy what identifies the name, the price and so on.
//! 4. `follow`: the links that lead to more products (category links, "next" buttons).
//!
//! And be polite: set `config.per_host_rate` (say `Some(1.0)`) and a `config.user_agent` that
//! says who you are. robots.txt is obeyed unless you turn it off.

use std::error::Error;

use crawl::Crawl;
use crawl::scrape::{Css, CssError, Extracted, Extractor, Page};
use crawl::{Config, Mode, Output};
use serde::{Deserialize, Serialize};

/// One row of the CSV.
#[derive(Debug, Serialize, Deserialize)]
struct Product {
    url: String,
    name: String,
    price_pence: u32,
    in_stock: bool,
    stock: u32,
    /// Photo addresses, separated by spaces (CSV cells are flat).
    images: String,
}

/// The selectors, parsed once.
struct ShopScraper {
    name: Css,
    price: Css,
    stock: Css,
    photos: Css,
    follow: Css,
}

impl ShopScraper {
    fn new() -> Result<Self, CssError> {
        Ok(ShopScraper {
            name: Css::new(".product-detail h1.name")?,
            price: Css::new(".product-detail .price")?,
            stock: Css::new(".product-detail .stock")?,
            photos: Css::new(".gallery img.photo")?,
            // Categories, their further pages, and products: nothing else on the site.
            follow: Css::new("a.category, a[rel=next], a.product-link")?,
        })
    }
}

impl Extractor for ShopScraper {
    type Item = Product;

    fn extract(&self, page: &Page<'_>) -> Extracted<Product> {
        // Only product pages have a name; listing pages yield links and no item.
        let product = page.text(&self.name).map(|name| {
            let stock: u32 = page
                .attr(&self.stock, "data-stock")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            Product {
                url: page.url.to_string(),
                name,
                price_pence: page.text(&self.price).map_or(0, |p| pence(&p)),
                in_stock: stock > 0,
                stock,
                images: page.attrs(&self.photos, "src").join(" "),
            }
        });
        Extracted::maybe(product).follow(page.links_in(&self.follow))
    }

    fn columns(&self) -> Vec<String> {
        ["url", "name", "price_pence", "in_stock", "stock", "images"]
            .map(String::from)
            .to_vec()
    }
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

fn main() -> Result<(), Box<dyn Error>> {
    crawl_fixture::serve_if_child();
    let (mode, out) = args()?;
    let shop = crawl_fixture::ChildServer::start()?;

    let mut config = Config::new(vec![crawl::Url::parse(&shop.url("/shop/"))?]);
    config.mode = mode;
    config.depth = 10;
    // Items come to the callback below; the per-page records are not needed.
    config.output = Output::Discard;

    let mut writer = csv::Writer::from_path(&out)?;
    // The callback borrows `writer` and `rows` from this frame: the crawl is over when
    // `for_each` returns, so nothing needs an Arc.
    let mut rows = 0;
    let summary = Crawl::new(config, ShopScraper::new()?).for_each(|_record, product| {
        writer.serialize(&product)?;
        rows += 1;
        Ok(())
    })?;
    writer.flush()?;
    eprintln!("{summary}");
    println!("wrote {rows} products to {out}");
    Ok(())
}

/// `[--mode MODE] [OUT.csv]`
fn args() -> Result<(Mode, String), Box<dyn Error>> {
    let mut mode = Mode::Async;
    let mut out = "products.csv".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--mode" {
            let name = args.next().ok_or("--mode needs a value")?;
            mode = name.parse().map_err(|e| format!("--mode: {e}"))?;
        } else {
            out = arg;
        }
    }
    Ok((mode, out))
}
