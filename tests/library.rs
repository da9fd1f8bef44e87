//! The library API (`crawl::scrape`) driven in-process: items in records, key clashes, and
//! what an error or a panic in user code does.
//!
//! These run in the sequential, threads and async modes. Processes mode must fork from a
//! single-threaded program, which a test harness is not; the examples, run as programs by
//! `tests/examples.rs`, cover the same API in processes mode. A crawl handles signals for the
//! whole process, so these tests take turns.

use std::sync::Mutex;

use crawl::Crawl;
use crawl::scrape::{Css, Extracted, Page};
use crawl::{Config, Mode, Output, Url};
use serde_json::{Value, json};

use crate::support::*;

/// The modes these tests run in: every mode but processes, which must fork from a
/// single-threaded program, and a test harness is not one (see the module doc). The `match` has
/// no wildcard, so a new mode must be put on one side or the other here before this compiles.
fn in_process_modes() -> impl Iterator<Item = Mode> {
    Mode::ALL.into_iter().filter(|mode| match mode {
        Mode::Sequential | Mode::Threads | Mode::Async => true,
        Mode::Processes => false,
    })
}

/// One crawl at a time in this process (see the module doc).
static TURN: Mutex<()> = Mutex::new(());

fn config(s: &FixtureServer, mode: Mode, output: Output) -> Config {
    let mut config = Config::new(vec![Url::parse(&s.url("/shop/")).expect("URL")]);
    config.mode = mode;
    config.workers = Some(4); // sequential mode runs one whatever is asked
    config.depth = 10;
    config.output = output;
    config
}

/// Product pages give an object item; category pages a bare number; the front page an
/// object whose key clashes with a record key.
fn extractor() -> impl Fn(&Page<'_>) -> Extracted<Value> + Send + Sync + 'static {
    let name = Css::new("h1.name").expect("selector");
    let category = Css::new("h1.category-name").expect("selector");
    move |page: &Page<'_>| {
        if let Some(name) = page.text(&name) {
            Extracted::item(json!({ "name": name }))
        } else if page.text(&category).is_some() {
            Extracted::item(json!(page.status))
        } else {
            Extracted::item(json!({ "title": "mine", "note": 1 }))
        }
    }
}

#[test]
fn items_land_in_records_and_never_overwrite_a_record_key() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let s = server();
    for mode in in_process_modes() {
        let path =
            std::env::temp_dir().join(format!("crawl-lib-{}-{mode:?}.jsonl", std::process::id()));
        let summary = Crawl::new(config(&s, mode, Output::File(path.clone())), extractor())
            .run()
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(summary.ok, 28, "{mode:?}");
        let text = std::fs::read_to_string(&path).expect("records");
        let _ = std::fs::remove_file(&path);
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        let find = |suffix: &str| {
            records
                .iter()
                .find(|r| r["url"].as_str().is_some_and(|u| u.ends_with(suffix)))
                .unwrap_or_else(|| panic!("{mode:?}: no record for {suffix}"))
        };
        assert_eq!(
            find("/shop/product/sencha")["name"],
            "Sencha",
            "{mode:?}: an object goes inline"
        );
        assert_eq!(
            find("/shop/tea/")["item"],
            200,
            "{mode:?}: a bare value goes under item"
        );
        let front = find("/shop/");
        assert_eq!(
            front["title"], "Shop | Leaf & Bean",
            "{mode:?}: the record's own title stays"
        );
        assert_eq!(
            front["item"],
            json!({ "title": "mine", "note": 1 }),
            "{mode:?}: a clash nests"
        );
        // Every line still reads back as a record (no duplicate keys).
        for line in text.lines() {
            serde_json::from_str::<crawl::Record>(line)
                .unwrap_or_else(|e| panic!("{mode:?}: {e}: {line}"));
        }
    }
}

#[test]
fn for_each_borrows_from_the_caller_and_pages_say_whether_they_were_cut() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let s = server();
    for mode in in_process_modes() {
        let mut config = config(&s, mode, Output::Discard);
        config.max_bytes = 1000;
        // Declines every link into /shop/coffee/: counted in the summary, never fetched.
        let extractor = |page: &Page<'_>| {
            let keep = page
                .links
                .iter()
                .filter(|u| !u.path().starts_with("/shop/coffee/"));
            Extracted::item(page.truncated).follow(keep.cloned().collect())
        };
        // Borrowed from this stack frame: no Arc, no 'static.
        let mut seen: Vec<(String, bool, bool)> = Vec::new();
        let summary = Crawl::new(config, extractor)
            .for_each(|record, truncated: bool| {
                seen.push((record.url.clone(), truncated, record.truncated));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert!(!seen.is_empty(), "{mode:?}");
        for (url, page_says, record_says) in &seen {
            assert_eq!(page_says, record_says, "{mode:?}: {url}");
        }
        assert!(
            seen.iter().any(|(_, cut, _)| *cut),
            "{mode:?}: 1000 bytes cut no page"
        );
        assert!(
            seen.iter().all(|(url, ..)| !url.contains("/shop/coffee/")),
            "{mode:?}"
        );
        assert!(
            summary.skipped.declined > 0,
            "{mode:?}: {:?}",
            summary.skipped
        );
        assert!(
            summary.to_string().contains("declined by the extractor"),
            "{mode:?}"
        );
    }
    // A crawl without an extractor declines nothing, and says nothing of it.
    let summary = crawl::run(&config(&s, Mode::Sequential, Output::Discard)).expect("crawl");
    assert_eq!(summary.skipped.declined, 0);
    assert!(!summary.to_string().contains("declined"));
}

#[test]
fn an_error_in_the_item_callback_stops_the_crawl_and_is_returned() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let s = server();
    for mode in in_process_modes() {
        let err = Crawl::new(config(&s, mode, Output::Discard), extractor())
            .for_each(|record, _item| Err(format!("cannot store {}", record.url).into()))
            .expect_err("the callback's error is returned");
        let text = err.to_string();
        assert!(
            text.contains("item callback failed") && text.contains("cannot store"),
            "{mode:?}: {text}"
        );
    }
}

#[test]
fn a_panic_in_the_item_callback_is_an_error_not_a_hang() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let s = server();
    for mode in in_process_modes() {
        let err = Crawl::new(config(&s, mode, Output::Discard), extractor())
            .for_each(|_record, _item| panic!("boom in the callback"))
            .expect_err("the panic becomes an error");
        assert!(
            err.to_string().contains("boom in the callback"),
            "{mode:?}: {err}"
        );
    }
}

#[test]
fn a_panicking_extractor_costs_the_item_not_the_page() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let s = server();
    let name = Css::new("h1.name").expect("selector");
    for mode in in_process_modes() {
        let name = name.clone();
        let extractor = move |page: &Page<'_>| -> Extracted<Value> {
            if page.text(&name).is_some() {
                panic!("boom in the extractor");
            }
            Extracted::item(json!({ "page": page.url.path() }))
        };
        let path = std::env::temp_dir().join(format!(
            "crawl-lib-panic-{}-{mode:?}.jsonl",
            std::process::id()
        ));
        let items = path.with_extension("items.jsonl");
        let mut config = config(&s, mode, Output::File(path.clone()));
        config.items = Some(crawl::ItemsFile::new(&items));
        let summary = Crawl::new(config, extractor)
            .run()
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        let text = std::fs::read_to_string(&path).expect("records");
        let _ = std::fs::remove_file(&path);
        // The items file holds the items, not the failures: the 8 pages that are not products.
        let item_lines = std::fs::read_to_string(&items).expect("items");
        let _ = std::fs::remove_file(&items);
        assert_eq!(item_lines.lines().count(), 8, "{mode:?}: {item_lines}");
        assert!(
            !item_lines.contains("extract_error"),
            "{mode:?}: {item_lines}"
        );
        assert_eq!(summary.ok, 28, "{mode:?}: every page still has its record");
        assert_eq!(summary.retries, 0, "{mode:?}: a panic is not retried");
        let sencha: Value = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
            .find(|r| r["url"].as_str().is_some_and(|u| u.ends_with("/sencha")))
            .expect("a record for a product page");
        assert_eq!(sencha["status"], 200);
        assert_eq!(
            sencha["extract_error"], "extractor panicked: boom in the extractor",
            "{mode:?}"
        );
    }
}
