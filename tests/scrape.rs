//! `--field` and `--format csv` in every mode, against the fixture shop: what the records say
//! is checked against the shop's own catalogue.

use std::collections::BTreeMap;

use crawl_fixture::library::{BOOKS, h2_count, pre_count};
use crawl_fixture::shop::CATALOGUE;
use serde_json::{Value, json};

use crate::support::*;

const FIELDS: &[&str] = &[
    "--field",
    "name=.product-detail h1.name",
    "--field",
    "price=.product-detail .price",
    "--field",
    "img=all(img.photo@src)",
    "--field",
    "stock=.stock@data-stock",
];

/// Front page, 7 category pages, 20 products.
const SHOP_PAGES: usize = 1 + 7 + 20;

every_mode! {
    fn fields_extract_every_product(mode) {
        let s = server();
        let mut args = vec!["-d", "10"];
        args.extend_from_slice(FIELDS);
        let run = CrawlCmd::new().mode(mode).seeds(&[s.url("/shop/")]).args(&args).run();
        run.assert_ok();
        let by_url = run.by_url();
        assert_eq!(by_url.len(), SHOP_PAGES, "{:#?}", run.urls());
        for product in CATALOGUE {
            let r = &by_url[&s.url(&format!("/shop/product/{}", product.slug))];
            assert_eq!(r.fields["name"], product.name);
            assert_eq!(r.fields["price"], product.price_text());
            assert_eq!(r.fields["stock"], product.stock.to_string());
            // `@src` comes resolved against the page, as a scraper wants it.
            // `all()`: a list, one photo or several.
            let images: Vec<String> = product.image_paths().iter().map(|p| s.url(p)).collect();
            assert_eq!(r.fields["img"], json!(images), "{}", product.slug);
            // Keys in the order the flags gave them, after the record's own.
            let keys: Vec<&String> = r.fields.keys().collect();
            assert_eq!(keys, ["name", "price", "img", "stock"]);
        }
        // A listing page has no product detail: null, not missing.
        let tea = &by_url[&s.url("/shop/tea/")];
        assert_eq!(tea.fields["name"], Value::Null);
        assert_eq!(tea.fields["img"], json!([]), "all() of nothing is an empty list");
    }

    fn csv_has_a_column_per_field(mode) {
        let s = server();
        // `.price` alone: the first price; `all(.price)`: every one, one or several.
        let args = [
            "-d", "10", "--format", "csv", "--field", FIELDS[1], "--field", "price=.price",
            "--field", "prices=all(.price)",
        ];
        let input = format!("{}\n", s.url("/shop/"));
        let child = CrawlCmd::new().mode(mode).args(args).stdin(&input).spawn();
        let out = child.wait_with_output().expect("crawl runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        let mut want: Vec<String> = crawl::Record::KEYS.iter().map(|k| (*k).to_owned()).collect();
        want.extend(["name", "price", "prices", "fields"].map(String::from));
        assert_eq!(header, want);
        let rows: BTreeMap<String, csv::StringRecord> = reader
            .records()
            .map(|r| r.expect("a CSV row"))
            .map(|r| (r[0].to_owned(), r))
            .collect();
        assert_eq!(rows.len(), SHOP_PAGES);
        let name_col = header.iter().position(|h| h == "name").expect("name column");
        for product in CATALOGUE {
            let row = &rows[&s.url(&format!("/shop/product/{}", product.slug))];
            assert_eq!(&row[name_col], product.name);
            assert_eq!(&row[name_col + 1], product.price_text());
            let prices: Vec<String> = serde_json::from_str(&row[name_col + 2]).expect("a list");
            assert_eq!(prices, [product.price_text()]);
            assert_eq!(&row[name_col + 3], "", "no undeclared fields");
        }
        // Several matches on a listing page: the first, and a JSON list in one cell.
        let tea = &rows[&s.url("/shop/tea/")];
        assert_eq!(&tea[name_col + 1], "£4.50");
        let prices: Vec<String> = serde_json::from_str(&tea[name_col + 2]).expect("a JSON list");
        assert_eq!(prices, ["£4.50", "£12.95", "£8.75", "£5.25"]);
    }
}

every_mode! {
    fn fields_count_and_pick_on_every_chapter(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/library/")])
            .args(["-d", "inf", "--allow-path", "/library/", "--deny", "/print/|/blog/"])
            .args(["--field", "h1=first(main h1)", "--field", "h2s=count(main h2)"])
            .args(["--field", "pres=count(pre)", "--field", "sections=all(main h2)"])
            .args(["--field", "code=pre"])
            .run();
        run.assert_ok();
        let mut chapters = 0;
        for (book, title, count) in BOOKS {
            for n in 1..=count {
                let r = run.get(&s.url(&format!("/library/{book}/ch{n}.html")));
                assert_eq!(r.fields["h1"], format!("Chapter {n} of {title}"));
                assert_eq!(r.fields["h2s"], h2_count(n), "{book} {n}: blank ones count");
                assert_eq!(r.fields["pres"], pre_count(n));
                let sections = r.fields["sections"].as_array().expect("always a list");
                assert_eq!(sections.len(), h2_count(n));
                if n % 5 == 0 {
                    assert_eq!(sections.last(), Some(&json!("")), "the blank one, as \"\"");
                }
                let code = if pre_count(n) == 0 { Value::Null } else { json!(format!("let example_1 = {n};")) };
                assert_eq!(r.fields["code"], code, "plain: the first, or null");
                chapters += 1;
            }
        }
        assert_eq!(chapters, 30);
        // The book indexes: no h2, no pre.
        let index = run.get(&s.url("/library/rust-book/"));
        assert_eq!((index.fields["h2s"].clone(), index.fields["sections"].clone()), (json!(0), json!([])));
    }
}

#[test]
fn a_bad_field_is_a_usage_error_naming_it() {
    let s = server();
    for (field, says) in [
        ("price=p[", "invalid CSS selector"),
        ("price", "expected NAME=SELECTOR"),
        ("status=p", "already a key"),
    ] {
        let run = CrawlCmd::new()
            .mode("sequential")
            .seeds(&[s.url("/")])
            .args(["--field", field])
            .run();
        assert_eq!(run.code, 2, "{field}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("--field {field:?}")) && run.stderr.contains(says),
            "{field}: {}",
            run.stderr
        );
        assert!(run.records.is_empty());
    }
    assert_eq!(s.total_hits(), 0, "nothing is fetched after a usage error");
}

every_mode! {
    fn items_go_to_their_own_file_without_record_keys(mode) {
        let s = server();
        let dir = fresh_temp("items", "jsonl-csv", mode);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (jsonl, csv_path) = (dir.join("chapters.jsonl"), dir.join("chapters.csv"));
        let fields = ["--field", "h1=first(main h1)", "--field", "h2s=count(main h2)"];
        for (items, format) in [(&jsonl, None), (&csv_path, Some("csv")), (&dir.join("as-csv.out"), Some("csv"))] {
            let mut cmd = CrawlCmd::new()
                .mode(mode)
                .seeds(&[s.url("/library/")])
                .args(crate::paths::ONE_BOOK)
                .args(fields)
                .arg("--items")
                .arg(items);
            if items.extension().is_some_and(|e| e == "out") {
                cmd = cmd.args(["--items-format", format.unwrap_or("jsonl")]);
            }
            let run = cmd.run();
            run.assert_ok();
            // The records still go to standard output, fields inline as before.
            assert_eq!(run.records.len(), 14);
            let said = format!("items: {} (14 written)", items.display());
            assert!(run.stderr.contains(&said), "{}", run.stderr);
        }
        // The book's index, its 12 chapters and the seed: one item each, in record order.
        let want: BTreeMap<String, (String, u64)> = crate::paths::one_book("rust-book")
            .into_iter()
            .map(|path| {
                let h1 = match path.as_str() {
                    "/library/" => "The Library".to_owned(),
                    "/library/rust-book/" => "The Rust Book".to_owned(),
                    chapter => {
                        let n: u32 = chapter
                            .trim_start_matches("/library/rust-book/ch")
                            .trim_end_matches(".html")
                            .parse()
                            .expect("chapter number");
                        format!("Chapter {n} of The Rust Book")
                    }
                };
                let n: u32 = path
                    .strip_prefix("/library/rust-book/ch")
                    .and_then(|p| p.strip_suffix(".html"))
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                (s.url(&path), (h1, if n == 0 { 0 } else { h2_count(n) as u64 }))
            })
            .collect();
        let text = std::fs::read_to_string(&jsonl).expect("items file");
        let mut got = BTreeMap::new();
        for line in text.lines() {
            let item: serde_json::Map<String, Value> = serde_json::from_str(line).expect("an object a line");
            let keys: Vec<&str> = item.keys().map(String::as_str).collect();
            assert_eq!(keys, ["url", "h1", "h2s"], "no record keys: {line}");
            let url = item["url"].as_str().expect("url").to_owned();
            got.insert(url, (item["h1"].as_str().expect("h1").to_owned(), item["h2s"].as_u64().expect("n")));
        }
        assert_eq!(text.lines().count(), 14, "one line per item");
        assert_eq!(got, want);
        for path in [&csv_path, &dir.join("as-csv.out")] {
            let mut reader = csv::Reader::from_path(path).expect("items CSV");
            let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
            assert_eq!(header, ["url", "h1", "h2s", "extra"]);
            let rows: BTreeMap<String, (String, u64)> = reader
                .records()
                .map(|r| r.expect("row"))
                .map(|r| {
                    assert_eq!(&r[3], "", "nothing extra");
                    (r[0].to_owned(), (r[1].to_owned(), r[2].parse().expect("a count")))
                })
                .collect();
            assert_eq!(rows, want, "{}", path.display());
        }
    }
}
