//! The scraper examples, run as a user runs them, in every mode: each starts its own fixture
//! shop, and what it prints or writes is checked against the shop's catalogue.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crawl_fixture::shop::CATALOGUE;

use crate::support::every_mode;

/// `target/<profile>/examples/NAME`, which `cargo test` builds beside the crawl binary.
fn example(name: &str) -> PathBuf {
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
