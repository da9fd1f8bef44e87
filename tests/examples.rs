//! The scraper examples, run as a user runs them, in every mode: each starts its own fixture
//! shop, and what it prints or writes is checked against the shop's catalogue.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crawl_fixture::shop::CATALOGUE;

use crate::support::every_mode;

/// `target/<profile>/examples/NAME`, which `cargo test` builds beside the crawl binary.
pub(crate) fn example(name: &str) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_crawl"));
    let path = bin
        .parent()
        .expect("the binary has a directory")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is not built (cargo test builds examples)",
        path.display()
    );
    path
}

every_mode! {
    fn account_orders_logs_in_then_scrapes_the_account(mode) {
        let out = Command::new(example("account_orders"))
            .args(["--mode", mode])
            .output()
            .expect("the example runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let mut lines: Vec<&str> = stdout.lines().collect();
        lines.sort_unstable();
        let mut want: Vec<String> = crawl_fixture::shop::ORDERS
            .iter()
            .map(|(n, total)| format!("Order {n}: {total}"))
            .collect();
        want.push("3 orders".to_owned());
        want.sort_unstable();
        assert_eq!(lines, want);
        // A wrong password: the login's 401 stops the crawl, nothing behind it is fetched.
        let out = Command::new(example("account_orders"))
            .args(["--mode", mode, "--password", "wrong"])
            .output()
            .expect("the example runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains("login request to http://127.0.0.1:"), "{stderr}");
        assert!(stderr.contains("/shop/login failed: http 401"), "{stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Order"));
    }

    fn shop_products_writes_every_product(mode) {
        let csv_path = std::env::temp_dir().join(format!("crawl-example-{}-{mode}.csv", std::process::id()));
        let out = Command::new(example("shop_products"))
            .args(["--mode", mode])
            .arg(&csv_path)
            .output()
            .expect("the example runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("wrote 20 products"), "{stdout}");
        // The scraper follows only category, next-page and product links; the rest of each
        // page's links are counted as its own reason, in every mode (processes too).
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("declined by the extractor"), "{stderr}");
        let mut reader = csv::Reader::from_path(&csv_path).expect("the CSV exists");
        let rows: BTreeMap<String, csv::StringRecord> = reader
            .records()
            .map(|r| r.expect("a CSV row"))
            .map(|r| (r[1].to_owned(), r))
            .collect();
        let _ = std::fs::remove_file(&csv_path);
        assert_eq!(rows.len(), CATALOGUE.len());
        for p in CATALOGUE {
            let row = &rows[p.name];
            assert!(row[0].ends_with(&format!("/shop/product/{}", p.slug)), "{:?}", row);
            assert_eq!(&row[2], p.price_pence.to_string(), "{}", p.name);
            assert_eq!(&row[3], (p.stock > 0).to_string(), "{}", p.name);
            assert_eq!(&row[4], p.stock.to_string(), "{}", p.name);
            assert_eq!(&row[5], p.image_paths().join(" "), "{}", p.name);
        }
    }

    fn follow_pagination_stops_on_the_condition(mode) {
        let out = Command::new(example("follow_pagination"))
            .args(["--mode", mode])
            .output()
            .expect("the example runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("page 1: ") && stdout.contains("/shop/tea/?page=2"), "{stdout}");
        assert!(stdout.contains("stopped on page 2: Rooibos costs £3.95, under £4.00"), "{stdout}");
        // Page 3 (Chamomile) is never fetched, and no product page either.
        assert!(!stdout.contains("Chamomile") && !stdout.contains("page 3"), "{stdout}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("2 pages, 2 ok"), "{stderr}");

        // Without a cheap enough product it reads to the last page.
        let all = Command::new(example("follow_pagination"))
            .args(["--mode", mode, "--under", "100"])
            .output()
            .expect("the example runs");
        let stdout = String::from_utf8_lossy(&all.stdout);
        assert!(all.status.success());
        assert!(stdout.contains("page 3: ") && stdout.contains("Chamomile"), "{stdout}");
        assert!(!stdout.contains("stopped"), "{stdout}");
    }
}

every_mode! {
    fn starter_routes_listings_and_products_to_their_own_items_file(mode) {
        let dir = std::env::temp_dir().join(format!("crawl-starter-{}-{mode}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for in_stock_only in [false, true] {
            let items = dir.join(format!("items-{in_stock_only}.jsonl"));
            let mut cmd = Command::new(example("starter"));
            cmd.args(["--mode", mode, "--progress", "never", "-o", "/dev/null", "--items"])
                .arg(&items);
            if in_stock_only {
                cmd.arg("--in-stock-only");
            }
            let out = cmd.output().expect("the example runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            let text = std::fs::read_to_string(&items).expect("items file");
            let mut products = BTreeMap::new();
            let mut listings = BTreeMap::new();
            for line in text.lines() {
                let item: serde_json::Value = serde_json::from_str(line).expect("JSON a line");
                let url = item["url"].as_str().expect("url first");
                match item["kind"].as_str() {
                    Some("Product") => {
                        assert!(url.contains("/shop/product/"), "{line}");
                        let name = item["name"].as_str().expect("name").to_owned();
                        products.insert(name, (item["price"].clone(), item["stock"].clone()));
                    }
                    Some("Listing") => {
                        assert!(!url.contains("/product/"), "{line}");
                        let n = item["products"].as_u64().expect("a count");
                        *listings.entry(item["category"].as_str().expect("category").to_owned()).or_insert(0) += n;
                    }
                    _ => panic!("an item of no known kind: {line}"),
                }
            }
            let want: BTreeMap<String, (serde_json::Value, serde_json::Value)> = CATALOGUE
                .iter()
                .filter(|p| !in_stock_only || p.stock > 0)
                .map(|p| (p.name.to_owned(), (p.price_text().into(), p.stock.into())))
                .collect();
            assert_eq!(products, want, "in stock only: {in_stock_only}");
            // Every category page, the further ones included: each product listed once.
            let mut per_category: BTreeMap<String, u64> = BTreeMap::new();
            for p in CATALOGUE {
                let title = crawl_fixture::shop::CATEGORIES
                    .iter()
                    .find(|(slug, _)| *slug == p.category)
                    .map(|(_, title)| (*title).to_owned())
                    .expect("a category");
                *per_category.entry(title).or_insert(0) += 1;
            }
            assert_eq!(listings, per_category);
            assert!(stderr.contains(&format!("{} products", want.len())), "{stderr}");
        }
        // Both kinds in one CSV table: the routes name every kind's columns.
        let table = dir.join("items.csv");
        let out = Command::new(example("starter"))
            .args(["--mode", mode, "--progress", "never", "-o", "/dev/null", "--items"])
            .arg(&table)
            .output()
            .expect("the example runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut reader = csv::Reader::from_path(&table).expect("items CSV");
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        assert_eq!(header, ["url", "kind", "category", "products", "name", "price", "stock", "extra"]);
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 27);
        for row in &rows {
            assert_eq!(&row[7], "", "nothing extra: {row:?}");
            match &row[1] {
                "Product" => assert!(!row[4].is_empty() && row[2].is_empty(), "{row:?}"),
                "Listing" => assert!(!row[2].is_empty() && row[4].is_empty(), "{row:?}"),
                other => panic!("kind {other:?}"),
            }
        }
    }
}

#[test]
fn chapters_keeps_one_book_and_writes_only_items() {
    let dir = std::env::temp_dir().join(format!("crawl-chapters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = Command::new(example("chapters"))
        .current_dir(&dir)
        .output()
        .expect("the example runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = std::fs::read_to_string(dir.join("chapters.jsonl")).expect("items file");
    let mut chapters = 0;
    for line in text.lines() {
        let item: serde_json::Value = serde_json::from_str(line).expect("JSON a line");
        let url = item["url"].as_str().expect("url");
        assert!(url.contains("/library/"), "{url}");
        assert!(!url.contains("/print/"), "{url}");
        if let Some(n) = url
            .rsplit_once("/library/rust-book/ch")
            .and_then(|(_, rest)| rest.strip_suffix(".html"))
            .and_then(|n| n.parse::<u32>().ok())
        {
            assert_eq!(item["h2s"], crawl_fixture::library::h2_count(n), "{line}");
            assert_eq!(item["pres"], crawl_fixture::library::pre_count(n), "{line}");
            chapters += 1;
        }
    }
    // The seed, the book's index and its 12 chapters; nothing of the other books.
    assert_eq!((text.lines().count(), chapters), (14, 12), "{text}");
    assert!(stderr.contains("crawl (processes"), "{stderr}");
}
