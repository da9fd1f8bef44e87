//! `-j auto` in every mode, against fixture servers whose latency and capacity are known:
//! which way the crawl moves its concurrency, never how fast (that is `cargo bench`'s).

use crate::support::*;

/// The `concurrency` object of a summary: (min, median, max, final limit).
fn concurrency(summary: &serde_json::Value) -> (u64, u64, u64, u64) {
    let c = &summary["concurrency"];
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("no figure in {c}"));
    (
        n(&c["min"]),
        n(&c["median"]),
        n(&c["max"]),
        n(&summary["workers"]),
    )
}

every_mode! {
    fn auto_goes_up_on_a_latency_bound_site_and_stays_under_its_bound(mode) {
        let s = server_with(Options {
            latency: std::time::Duration::from_millis(40),
            pages: 3000,
            ..Options::default()
        });
        // Sequential mode fetches one page at a time: fewer pages say as much.
        let pages = if mode == "sequential" { 60 } else { 700 };
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/gen/0")])
            .args(["-j", "auto", "--max-workers", "24", "--per-host-workers", "0", "--depth", "50", "--max-pages", &pages.to_string()])
            .run_with_summary();
        run.assert_ok();
        assert_eq!(run.records.len(), pages);
        let (min, _, max, _) = concurrency(&summary);
        assert!(min >= 1);
        if mode == "sequential" {
            // Sequential stays one page at a time, whatever -j says.
            assert_eq!(max, 1);
            assert_eq!(s.max_in_flight(), 1);
        } else {
            // Up from the start (two per core) by doublings, to the bound and never past it.
            assert_eq!(max, 24, "{summary}");
            assert!(s.max_in_flight() <= 24, "{} in flight at once", s.max_in_flight());
            assert!(s.max_in_flight() > 8, "{} in flight at most", s.max_in_flight());
        }
    }

    fn auto_comes_down_on_a_saturating_server(mode) {
        // Eight requests served at once, 40 ms each: past 8 in flight a queue builds, and
        // pages/s stay at 200 whatever the crawl sends (few enough for a debug build on a
        // busy machine to keep up with).
        let s = server_with(Options {
            latency: std::time::Duration::from_millis(40),
            capacity: Some(8),
            pages: 5000,
            ..Options::default()
        });
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/gen/0")])
            .args(["-j", "auto", "--max-workers", "64", "--per-host-workers", "0", "--depth", "50", "--max-pages", if mode == "sequential" { "40" } else { "1200" }])
            .run_with_summary();
        run.assert_ok();
        let (min, median, max, last) = concurrency(&summary);
        assert!(min >= 1);
        if mode == "sequential" {
            assert_eq!(max, 1);
        } else {
            // It probed past the capacity, found nothing there, and came back down.
            assert!(max >= 16, "{summary}");
            assert!(max < 64, "{summary}");
            // Settled near the capacity: where the last interval started. The crawl may end
            // just after a periodic probe upward (8 -> 16 once the cool-down is over), so the
            // final limit itself is not the measure.
            let settled = summary["concurrency"]["steps"]
                .as_array()
                .and_then(|steps| steps.last())
                .and_then(|step| step["limit_before"].as_u64())
                .unwrap_or(last);
            assert!(median <= 12 && settled <= 12, "{summary}");
            let why = summary["concurrency"]["last"].as_str().unwrap_or_default();
            assert!(!why.is_empty(), "{summary}");
        }
    }
}
