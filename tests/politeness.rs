//! Politeness toward each host, in every mode: a cap on its pages in flight that holds across
//! all workers, fairness between a slow and a fast host, robots.txt Crawl-delay, a host's
//! Retry-After holding all its pages, and a dead host given up as a whole.

use std::time::{Duration, Instant};

use crawl::Mode;
use crawl_fixture::HostileServer;

use crate::support::*;

/// Generated pages `/gen/FROM` .. `/gen/TO-1` of `s`.
fn gen_pages(s: &FixtureServer, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| s.url(&format!("/gen/{i}"))).collect()
}

/// Arrival times of the requests `s` saw for pages (robots.txt left out), in order.
fn page_arrivals(s: &FixtureServer) -> Vec<Instant> {
    s.requests()
        .into_iter()
        .filter(|(path, _)| path != "/robots.txt")
        .map(|(_, at)| at)
        .collect()
}

fn logged(latency_ms: u64) -> FixtureServer {
    server_with(Options {
        latency: Duration::from_millis(latency_ms),
        log_requests: true,
        ..Options::default()
    })
}

every_mode! {
    fn the_per_host_cap_holds_across_all_workers(mode) {
        let s = logged(50);
        let seeds = gen_pages(&s, 0..16);
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&seeds)
            .args(["-j", "8", "--per-host-workers", "2"])
            .run();
        run.assert_ok();
        assert_eq!(run.records.len(), 16);
        let most = if mode == Mode::Sequential.name() { 1 } else { 2 };
        assert_eq!(s.max_in_flight(), most, "at most the cap, and the cap is used");
        // Without the cap the same workers do put more pages of the host in flight.
        let free = logged(50);
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(gen_pages(&free, 0..16))
            .args(["-j", "8", "--per-host-workers", "0"])
            .run();
        run.assert_ok();
        if mode != Mode::Sequential.name() {
            assert!(free.max_in_flight() > 2, "{}", free.max_in_flight());
        }
    }

    fn a_slow_host_does_not_hold_up_a_fast_one(mode) {
        let slow = logged(300);
        let fast = logged(0);
        let mut seeds = gen_pages(&slow, 0..8);
        seeds.extend(gen_pages(&fast, 0..20));
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&seeds)
            .args(["-j", "4", "--per-host-workers", "2", "--ignore-robots"])
            .run();
        run.assert_ok();
        assert_eq!(run.records.len(), 28);
        let (slow_at, fast_at) = (page_arrivals(&slow), page_arrivals(&fast));
        assert_eq!((slow_at.len(), fast_at.len()), (8, 20));
        if mode == Mode::Sequential.name() {
            // One worker serves the hosts in turn: each fast page waits for one slow page at
            // most, never for the slow host's whole queue.
            for i in 0..7 {
                assert!(fast_at[i] < slow_at[i + 1], "page {i}");
            }
        } else {
            // The slow host holds two workers at most; the other two finish the fast host's
            // twenty pages before the slow host's first two pages (300 ms each) are back.
            assert!(fast_at[19] < slow_at[2], "the fast host waited for the slow one");
        }
    }

    fn robots_crawl_delay_paces_the_host(mode) {
        let s = server_with(Options {
            crawl_delay: Some(0.5),
            log_requests: true,
            ..Options::default()
        });
        // --per-host-rate 10 (0.1 s) is looser than the Crawl-delay: the stricter one wins.
        // (Requests leave 500 ms apart; the 100 ms of slack is for a loaded machine.)
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(gen_pages(&s, 0..4))
            .args(["-j", "4", "--per-host-rate", "10"])
            .run_with_summary();
        run.assert_ok();
        let at = page_arrivals(&s);
        assert_eq!(at.len(), 4);
        for pair in at.windows(2) {
            let gap = pair[1].duration_since(pair[0]);
            assert!(gap >= Duration::from_millis(400), "{gap:?} between requests");
        }
        assert_eq!(summary["crawl_delay_hosts"], 1);
        assert_eq!(summary["longest_crawl_delay_s"], 0.5);
        assert!(run.stderr.contains("Crawl-delay: 1 host asked for one"), "{}", run.stderr);
        assert!(summary["split"]["rate_limit"].as_f64().unwrap_or(0.0) > 0.0, "{summary}");
    }

    fn retry_after_holds_every_page_of_the_host(mode) {
        let s = logged(0);
        let seeds: Vec<String> = (1..=4).map(|i| s.url(&format!("/busy/{i}"))).collect();
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&seeds)
            .args(["-j", "4", "--per-host-workers", "1", "--ignore-robots"])
            .run_with_summary();
        run.assert_ok();
        assert!(run.records.iter().all(|r| r.status == Some(200)), "{:?}", run.records);
        // The first page got 503 with Retry-After: 1; no page of the host, retried or new,
        // was asked for during that second.
        let at = page_arrivals(&s);
        assert_eq!(at.len(), 5, "four pages and one retry");
        for later in &at[1..] {
            assert!(later.duration_since(at[0]) >= Duration::from_millis(950));
        }
        assert_eq!(summary["server_holds"], 1);
    }

    fn a_host_that_refuses_every_connection_is_given_up(mode) {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let s = server();
        let mut seeds: Vec<String> = (0..20)
            .map(|i| format!("http://127.0.0.1:{closed}/page{i}"))
            .collect();
        seeds.push(s.url("/about.html"));
        let (run, summary) =
            CrawlCmd::new()
                .mode(mode)
                .seeds(&seeds)
                .args(["-j", "2", "--host-failures", "3"])
                .run_with_summary();
        run.assert_ok();
        assert_eq!(run.records.len(), 21);
        let down: Vec<&Record> = run
            .records
            .iter()
            .filter(|r| r.url.contains(&format!(":{closed}/")))
            .collect();
        for r in &down {
            assert_eq!(
                r.error.as_deref(),
                Some("host unreachable: 3 consecutive refused connections"),
                "{r:?}"
            );
            // robots.txt took the failures: no page was even tried.
            assert_eq!(r.attempts, 0, "{r:?}");
        }
        assert_eq!(run.get(&s.url("/about.html")).error, None, "other hosts go on");
        assert_eq!((summary["hosts_given_up"].as_u64(), summary["unreachable"].as_u64()), (Some(1), Some(20)));
        assert!(run.stderr.contains("given up: 1 host"), "{}", run.stderr);
        // With the defaults (5 failures; robots.txt tried 3 times), a host dead from the start
        // is given up when its robots.txt cannot be reached, not blocked by it.
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&seeds[..20])
            .args(["-j", "2"])
            .run_with_summary();
        run.assert_ok();
        for r in &run.records {
            assert_eq!(
                r.error.as_deref(),
                Some("host unreachable: 3 consecutive refused connections"),
                "{r:?}"
            );
        }
        assert_eq!(summary["hosts_given_up"], 1);
    }

    fn a_host_that_times_out_is_given_up_without_waiting_out_every_page(mode) {
        let h = HostileServer::start().expect("hostile server starts");
        let seeds: Vec<String> = (0..12).map(|i| h.url(&format!("/silent?{i}"))).collect();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&seeds)
            .args(["-j", "2", "--timeout", "1", "--retries", "1", "--host-failures", "3"])
            .run();
        run.assert_ok();
        assert_eq!(run.records.len(), 12);
        for r in &run.records {
            assert_eq!(r.error.as_deref(), Some("host unreachable: 3 consecutive timeouts"), "{r:?}");
        }
        // Three timeouts gave the host up; at most the pages in flight then were still waiting
        // (12 pages x 2 attempts would be 24 requests without it).
        assert!(h.hits("/silent") <= 3 + 2, "{} requests", h.hits("/silent"));
    }
}
