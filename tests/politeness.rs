//! Politeness toward each host, in every mode: a cap on its pages in flight that holds across
//! all workers, fairness between a slow and a fast host, robots.txt Crawl-delay, a host's
//! Retry-After holding all its pages, and a failing host's breaker: a slow minute ridden out,
//! a host down for a while paused and probed until it is back, a dead host given up as a
//! whole.

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
                .args(["-j", "2", "--host-failures", "3", "--host-probes", "0"])
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
        // With the default 5 failures (robots.txt tried 3 times), a host dead from the start
        // is paused when its robots.txt cannot be reached, not blocked by it; with no probes
        // it is given up at once.
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&seeds[..20])
            .args(["-j", "2", "--host-probes", "0"])
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
            .args(["--host-probes", "0"])
            .run();
        run.assert_ok();
        assert_eq!(run.records.len(), 12);
        for r in &run.records {
            assert_eq!(r.error.as_deref(), Some("host unreachable: 3 consecutive timeouts"), "{r:?}");
        }
        // Three rounds of timeouts gave the host up (the two requests in flight together in a
        // round count once): at most 3 x 2 requests, where 12 pages x 2 attempts would be 24.
        assert!(h.hits("/silent") <= 3 * 2, "{} requests", h.hits("/silent"));
    }
}

/// A port nothing listens on: every connection to it is refused.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A generated site of `pages` pages, each answered after 20 ms, all reachable from `/gen/0`.
fn site_opts(pages: usize) -> Options {
    Options {
        latency: Duration::from_millis(20),
        pages,
        ..Options::default()
    }
}

/// Waits until `s` has served `hits` requests (the crawl is under way), for at most 60 s.
fn wait_for_hits(s: &FixtureServer, hits: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.total_hits() < hits && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every generated page of a `pages`-page site was recorded, each with a 200.
fn assert_every_page_ok(run: &Run, s_url: impl Fn(&str) -> String, pages: usize) {
    let want: Vec<String> = (0..pages).map(|i| s_url(&format!("/gen/{i}"))).collect();
    let by_url = run.by_url();
    for url in &want {
        let r = by_url
            .get(url)
            .unwrap_or_else(|| panic!("{url} was never recorded"));
        assert_eq!((r.status, r.error.as_deref()), (Some(200), None), "{r:?}");
    }
    assert_eq!(run.records.len(), pages, "each page once");
}

every_mode! {
    fn a_slow_minute_is_not_a_dead_host(mode) {
        // Issue 27: mid-crawl, every answer takes 2.5 s for 3 s, over a 2 s timeout. The 8
        // pages of the host in flight time out together: one failure, not eight, and the
        // pages retried after it find the site healthy again.
        let s = server_with(site_opts(300));
        let seed = s.url("/gen/0");
        let (run, summary) = std::thread::scope(|scope| {
            scope.spawn(|| {
                wait_for_hits(&s, 60);
                s.set_latency(Duration::from_millis(2500));
                std::thread::sleep(Duration::from_secs(3));
                s.set_latency(Duration::from_millis(20));
            });
            CrawlCmd::new()
                .mode(mode)
                .seeds([&seed])
                .args(["-j", "16", "-d", "inf", "--timeout", "2"])
                .run_with_summary()
        });
        run.assert_ok();
        assert_every_page_ok(&run, |p| s.url(p), 300);
        assert!(summary["retries"].as_u64() > Some(0), "the spike was felt: {summary}");
        assert_eq!((summary["hosts_given_up"].as_u64(), summary["unreachable"].as_u64()), (Some(0), Some(0)));
    }

    fn a_host_down_for_a_while_is_paused_and_probed_until_it_is_back(mode) {
        // Mid-crawl the site goes away for 5 s (connections refused), then comes back on the
        // same port. Cool-downs of 1, 2, 4 s from --timeout 1: the third probe finds it.
        let s = server_with(site_opts(300));
        let (port, seed) = (s.port(), s.url("/gen/0"));
        let (run, summary, back) = std::thread::scope(|scope| {
            let outage = scope.spawn(move || {
                wait_for_hits(&s, 60);
                drop(s);
                std::thread::sleep(Duration::from_secs(5));
                FixtureServer::start_on(port, site_opts(300)).expect("the site comes back on its port")
            });
            let (run, summary) = CrawlCmd::new()
                .mode(mode)
                .seeds([&seed])
                .args(["-j", "8", "-d", "inf", "--timeout", "1"])
                .run_with_summary();
            (run, summary, outage.join().expect("outage thread"))
        });
        run.assert_ok();
        assert_every_page_ok(&run, |p| back.url(p), 300);
        assert!(summary["host_pauses"].as_u64() >= Some(1), "{summary}");
        assert!(summary["host_probes"].as_u64() >= Some(1), "{summary}");
        assert_eq!((summary["hosts_given_up"].as_u64(), summary["unreachable"].as_u64()), (Some(0), Some(0)));
        let origin = format!("http://127.0.0.1:{port}");
        assert!(run.stderr.contains(&format!("pausing {origin}")), "{}", run.stderr);
        assert!(run.stderr.contains(&format!("{origin} answered its probe")), "{}", run.stderr);
        assert!(run.stderr.contains("paused: "), "the summary counts pauses: {}", run.stderr);
    }

    fn a_dead_host_is_probed_then_given_up_while_a_live_one_finishes(mode) {
        // Three hosts: one that accepts and never answers (400 pages), one that refuses every
        // connection (50 pages), one alive (100 pages). --timeout 1 --retries 1 -j 4.
        let dead = HostileServer::start().expect("hostile server starts");
        let closed = closed_port();
        let live = server_with(site_opts(100));
        let mut seeds: Vec<String> = (0..400).map(|i| dead.url(&format!("/silent?{i}"))).collect();
        seeds.extend((0..50).map(|i| format!("http://127.0.0.1:{closed}/page{i}")));
        // All seeds: links of the live pages would wait for every seed to be recorded (depths
        // are exact), and so for the dead host.
        seeds.extend((0..100).map(|i| live.url(&format!("/gen/{i}"))));
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&seeds)
            .args(["-j", "4", "--timeout", "1", "--retries", "1"])
            .run_with_summary();
        run.assert_ok();
        assert_eq!(run.records.len(), 400 + 50 + 100);
        let is_live = |r: &Record| r.url.starts_with(&live.url("/"));
        let live_pages: Vec<&Record> = run.records.iter().filter(|r| is_live(r)).collect();
        assert_eq!(live_pages.len(), 100);
        assert!(live_pages.iter().all(|r| r.status == Some(200)), "the live host finished");
        // The dead host: five rounds of timeouts paused it, five probes failed over 1 + 2 + 4
        // + 8 + 16 s, and then its pages were recorded at once. A page is recorded "timeout"
        // only if it spent both its attempts before the pause.
        let mut unreachable = 0;
        for r in run.records.iter().filter(|r| r.url.starts_with(&dead.url("/"))) {
            match r.error.as_deref() {
                Some("timeout") => {}
                Some(e) if e.starts_with("host unreachable: 5 consecutive timeouts; paused, and 5 probes over ") => unreachable += 1,
                other => panic!("{other:?}: {r:?}"),
            }
        }
        assert!(unreachable >= 400 - 20, "{unreachable} of 400 pages given up");
        // Whatever the page count, the requests are bounded: five rounds of at most 4, then
        // five probes (without giving up: 400 pages x 2 attempts).
        assert!(dead.hits("/silent") <= 5 * 4 + 5, "{} requests", dead.hits("/silent"));
        // The closed port: its robots.txt was refused twice (--retries 1), which paused it,
        // and the probes (robots.txt again) were refused too; no page was tried.
        for r in run.records.iter().filter(|r| r.url.contains(&format!(":{closed}/"))) {
            let e = r.error.as_deref().unwrap_or_default();
            assert!(e.starts_with("host unreachable: 2 consecutive refused connections; paused, and 5 probes over "), "{r:?}");
            assert_eq!(r.attempts, 0, "{r:?}");
        }
        // The live host's pages did not wait for the dead ones: all were written before the
        // first page given up.
        let last_live = run.records.iter().rposition(is_live).expect("live pages");
        let first_gone = run
            .records
            .iter()
            .position(|r| r.error.as_deref().is_some_and(|e| e.starts_with("host unreachable")))
            .expect("pages given up");
        assert!(last_live < first_gone, "live pages done at {last_live}, first given up at {first_gone}");
        assert_eq!(summary["hosts_given_up"], 2, "{summary}");
        assert_eq!(summary["host_pauses"], 2, "{summary}");
        assert_eq!(summary["host_probes"], 10, "{summary}");
        assert!(run.stderr.contains("paused: 2 times after a run of connection failures, 10 probes sent; 2 given up"), "{}", run.stderr);
    }
}
