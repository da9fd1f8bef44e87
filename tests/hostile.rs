//! The real binary, in every mode, against servers that misbehave and pages that are hostile.
//!
//! Two crawls per mode, each seeded with every case at once, so the cases run side by side (and
//! the hangs overlap) instead of costing a crawl each:
//! - transport: [`HostileServer`] hangs, trickles, resets, lies about lengths, inflates to a
//!   gibibyte and breaks HTTP framing;
//! - content: the axum fixture serves binary, untyped, mis-encoded, deeply nested and
//!   link-stuffed pages and odd hrefs, with a second fixture server as the off-site host that
//!   must never be asked for anything.
//!
//! Redirect loops, long chains, `file://` and off-site redirects, `/flaky` (fails twice, then
//! works), 500 and 429 with Retry-After are tested in every mode in `tests/crawl.rs`.

use std::time::Duration;

use crawl::limits::MAX_URL_LEN;
use crawl_fixture::HostileServer;
use crawl_fixture::content::{BAD_UTF8_TITLE, WINDOWS_1252_TITLE};
use crawl_fixture::hostile::titles;

use crate::support::*;

/// Short enough to keep the hangs cheap, long enough that no honest local response misses it.
const TIMEOUT_S: f64 = 1.0;
const RETRIES: u32 = 1;
const MAX_BYTES: u64 = 1 << 20;
/// What a busy shared machine may add to any crawl, on top of what the flags allow.
/// Room for a loaded machine; an unoptimised build parses the 7 MB pages several times slower.
const SLACK: Duration = Duration::from_secs(if cfg!(debug_assertions) { 40 } else { 10 });

/// Peak resident memory of the whole crawl (coordinator plus worker processes), in MB.
fn peak_rss_mb(summary: &serde_json::Value) -> f64 {
    summary["peak_rss_kb"]
        .as_f64()
        .expect("peak_rss_kb in the summary")
        / 1024.0
}

/// A run with its summary ([`CrawlCmd::run_with_summary`]), with the processes mode held to
/// four workers: its peak memory is the sum of its processes', and the default (two per core)
/// would make the memory bounds depend on the machine.
fn crawl_bounded(mode: &str, seeds: &[String], args: &[&str]) -> (Run, serde_json::Value) {
    let mut all = args.to_vec();
    if mode == "processes" {
        all.extend(["-j", "4"]);
    }
    CrawlCmd::new()
        .mode(mode)
        .seeds(seeds)
        .args(&all)
        .run_with_summary()
}

every_mode! {
    fn hostile_transport(mode) {
        let h = HostileServer::start().expect("hostile server starts");
        // Fail by timeout: the response never starts, never finishes its headers, or trickles.
        let hangs = ["/silent", "/stalled-headers", "/trickle"];
        // Fail at once and are retried: the connection is cut, or the head is too big to read.
        let broken = [
            ("/close", "connection broken: connection closed before message completed"),
            ("/short", "connection broken: end of file before message length reached"),
            ("/many-headers", "connection broken: message head is too large"),
            ("/endless-headers", "connection broken: message head is too large"),
        ];
        // Fail at once and are not retried: the same bytes would come back.
        let malformed = [
            ("/bad-chunked", "bad response: Invalid chunk size line: missing size digit"),
            ("/bad-gzip", "bad response: Invalid gzip header"),
        ];
        // Never end, or would inflate to 1 GiB: cut at --max-bytes, title still read.
        let endless = [
            ("/endless", titles::ENDLESS),
            ("/gzip-bomb", titles::GZIP_BOMB),
            ("/br-bomb", titles::BR_BOMB),
        ];
        let mut paths: Vec<&str> = hangs.to_vec();
        paths.extend(broken.iter().map(|(p, _)| *p));
        paths.extend(malformed.iter().map(|(p, _)| *p));
        paths.extend(endless.iter().map(|(p, _)| *p));
        paths.extend(["/reset", "/http10", "/big-header", "/private/never"]);
        let seeds: Vec<String> = paths.iter().map(|p| h.url(p)).collect();
        let max_bytes = MAX_BYTES.to_string();
        let (run, summary) = crawl_bounded(
            mode,
            &seeds,
            &[
                "--timeout", &TIMEOUT_S.to_string(),
                "--retries", &RETRIES.to_string(),
                "--max-bytes", &max_bytes,
                // Each page's own failure is under test here, so the host is never given up
                // for its run of timeouts (that is tests/politeness.rs's subject).
                "--host-failures", "0",
            ],
        );
        run.assert_ok();
        assert_eq!(run.by_url().len(), seeds.len(), "one record per seed, nothing else");
        let attempts = RETRIES + 1;

        for path in hangs {
            let r = run.get(&h.url(path));
            assert_eq!((r.error.as_deref(), r.attempts, r.status), (Some("timeout"), attempts, None), "{path}");
            // Each attempt waited out the timeout, and not much longer: the trickle's page would
            // take two minutes at a byte a second.
            let per_try = r.fetch_ms / 1000.0 / f64::from(attempts);
            assert!((0.95 * TIMEOUT_S..TIMEOUT_S + 4.0).contains(&per_try), "{path}: {per_try} s a try");
            assert_eq!(h.hits(path), u64::from(attempts), "{path}");
        }
        for (path, error) in broken {
            let r = run.get(&h.url(path));
            assert_eq!((r.error.as_deref(), r.attempts, r.status), (Some(error), attempts, None), "{path}");
            assert_eq!(h.hits(path), u64::from(attempts), "{path}");
        }
        // A reset may be read as the reset or as the body ending early, depending on whether it
        // overtakes the bytes before it; either way the connection broke.
        let reset = run.get(&h.url("/reset"));
        assert!(reset.error.as_deref().is_some_and(|e| e.starts_with("connection broken: ")), "{reset:?}");
        assert_eq!((reset.attempts, reset.status, h.hits("/reset")), (attempts, None, u64::from(attempts)));
        for (path, error) in malformed {
            let r = run.get(&h.url(path));
            assert_eq!((r.error.as_deref(), r.attempts, r.status), (Some(error), 1, None), "{path}");
            assert_eq!(h.hits(path), 1, "{path}");
        }
        for (path, title) in endless {
            let r = run.get(&h.url(path));
            assert_eq!(r.status, Some(200), "{path}");
            assert_eq!((r.bytes, r.truncated), (MAX_BYTES, true), "{path}");
            assert_eq!(r.error, Some(format!("body over {MAX_BYTES} bytes")), "{path}");
            assert_eq!(r.title.as_deref(), Some(title), "{path}");
            assert_eq!((r.attempts, h.hits(path)), (1, 1), "{path}: a cut body is not retried");
        }

        let http10 = run.get(&h.url("/http10"));
        assert_eq!((http10.status, http10.error.as_deref()), (Some(200), None));
        assert_eq!((http10.title.as_deref(), http10.links), (Some(titles::HTTP10), 2));
        assert!(!http10.truncated && http10.bytes > 100, "{http10:?}");
        let big = run.get(&h.url("/big-header"));
        assert_eq!((big.status, big.error.as_deref(), big.title.as_deref()), (Some(200), None, Some(titles::BIG_HEADER)));

        let private = run.get(&h.url("/private/never"));
        assert_eq!((private.error.as_deref(), private.attempts), (Some("blocked by robots.txt"), 0));
        assert_eq!(h.hits("/private/never"), 0);
        assert_eq!(h.hits("/robots.txt"), 1);
        // Nothing was requested beyond the seeds' attempts and robots.txt: no link followed at
        // depth 0, no retry of a page that was merely cut.
        let expected: u64 = run.records.iter().map(|r| u64::from(r.attempts)).sum::<u64>() + 1;
        assert_eq!(h.total_hits(), expected, "{:?}", h.hit_counts());

        // Hangs run one after another only in sequential mode; retries back off at most 250 ms.
        let serial_hangs = if mode == "sequential" { hangs.len() } else { 1 };
        let backoff = Duration::from_millis(250) * (paths.len() as u32);
        let budget = Duration::from_secs_f64(TIMEOUT_S * f64::from(attempts) * serial_hangs as f64) + backoff + SLACK;
        assert!(run.elapsed < budget, "{:?} over {budget:?}", run.elapsed);

        // Three bodies of 1 GiB (two of them compressed) and one without end: none is held beyond
        // --max-bytes, so the whole crawl stays small.
        let peak = peak_rss_mb(&summary);
        assert!(peak < 150.0, "peak RSS {peak:.1} MB");
    }

    fn hostile_content(mode) {
        let s = server();
        // The off-site host, reached as `localhost`: scope is by host, so it is off-site even
        // though it shares 127.0.0.1 with the crawled server.
        let off = server();
        let op = off.port();
        let seeds: Vec<String> = [
            "/status/404".to_owned(),
            "/status/503".to_owned(),
            "/status/429".to_owned(),
            "/content/binary".to_owned(),
            "/content/no-type".to_owned(),
            "/content/no-type-binary".to_owned(),
            "/content/windows-1252".to_owned(),
            "/content/bad-utf8".to_owned(),
            "/content/nested".to_owned(),
            format!("/content/many-links?offsite={op}"),
            format!("/content/odd-links?offsite={op}"),
            format!("/redirect-to?url=http%3A%2F%2Flocalhost%3A{op}%2Fredirected"),
            "/redirect-long".to_owned(),
        ]
        .iter()
        .map(|p| s.url(p))
        .collect();
        let (run, summary) = crawl_bounded(mode, &seeds, &["--depth", "1", "--timeout", "10"]);
        run.assert_ok();
        let by_url = run.by_url();

        for (code, attempts) in [(404, 1), (503, 3), (429, 3)] {
            let r = run.get(&s.url(&format!("/status/{code}")));
            assert_eq!((r.status, r.error, r.attempts), (Some(code), Some(format!("http {code}")), attempts), "{code}");
        }

        // Not HTML, so not parsed: counted, typed, no title, no links.
        for (path, content_type) in [("/content/binary", Some("image/png")), ("/content/no-type-binary", None)] {
            let r = run.get(&s.url(path));
            assert_eq!((r.status, r.error.as_deref(), r.bytes), (Some(200), None, 64 * 1024), "{path}");
            assert_eq!((r.content_type.as_deref(), r.title.as_deref(), r.links), (content_type, None, 0), "{path}");
        }
        // No Content-Type, but it starts with markup: parsed, as browsers would.
        let untyped = run.get(&s.url("/content/no-type"));
        assert_eq!((untyped.content_type, untyped.title.as_deref(), untyped.links), (None, Some("No Type"), 1));

        let cp1252 = run.get(&s.url("/content/windows-1252"));
        assert_eq!((cp1252.title.as_deref(), cp1252.links), (Some(WINDOWS_1252_TITLE), 1));
        let bad = run.get(&s.url("/content/bad-utf8"));
        assert_eq!((bad.title.as_deref(), bad.links, bad.error), (Some(BAD_UTF8_TITLE), 1, None));

        let nested = run.get(&s.url("/content/nested"));
        assert_eq!((nested.title.as_deref(), nested.links, nested.error), (Some("Nested"), 1, None));
        assert!(nested.bytes > 2_000_000, "200,000 levels deep: {}", nested.bytes);

        let many = run.get(&s.url(&format!("/content/many-links?offsite={op}")));
        assert_eq!((many.title.as_deref(), many.links, many.error), (Some("Many links"), 500_000, None));
        assert_eq!(summary["skipped"]["over_page_limit"], 500_000 - 20_000, "links past the cap are counted");

        let long = run.get(&s.url("/redirect-long"));
        assert_eq!((long.error.as_deref(), long.attempts), (Some("redirect to a URL over 2048 bytes"), 1));

        let odd = run.get(&s.url(&format!("/content/odd-links?offsite={op}")));
        assert_eq!((odd.title.as_deref(), odd.error), (Some("Odd links"), None));
        assert_eq!(odd.links, 8, "see crawl_fixture::content::odd_links for the eight");

        let redirect = format!("/redirect-to?url=http%3A%2F%2Flocalhost%3A{op}%2Fredirected");
        let r = run.get(&s.url(&redirect));
        assert_eq!((r.error.as_deref(), r.attempts), (Some("redirect to disallowed host localhost"), 1));

        // Depth 1: the in-scope links of those pages, each fetched once however it was spelled
        // (four spellings of /about.html, one protocol-relative /contact.html, one padded with
        // whitespace); the robots-disallowed one recorded and never requested.
        for path in ["/about.html", "/contact.html", "/team/members.html"] {
            assert_eq!(run.get(&s.url(path)).depth, 1, "{path}");
            assert_eq!(s.hits(path), 1, "{path}");
        }
        let secret = run.get(&s.url("/private/secret.html"));
        assert_eq!((secret.error.as_deref(), secret.attempts), (Some("blocked by robots.txt"), 0));
        assert_eq!(s.hits("/private/secret.html"), 0);
        assert_eq!(by_url.len(), seeds.len() + 4, "{:#?}", run.urls());

        // Nothing else was requested: not the 10,000-character href, not a javascript:, mailto:,
        // data:, ftp: or file: one, and nothing at all from the off-site host.
        let mut asked: Vec<String> = s.hit_counts().into_keys().collect();
        asked.sort();
        let mut want: Vec<String> = seeds
            .iter()
            .chain(["/about.html", "/contact.html", "/team/members.html", "/robots.txt"].map(|p| s.url(p)).iter())
            .map(|u| url::Url::parse(u).expect("URL").path().to_owned())
            .collect();
        want.sort();
        want.dedup();
        assert_eq!(asked, want);
        assert_eq!(off.total_hits(), 0, "off-site host asked for {:?}", off.hit_counts());
        for r in &run.records {
            assert!(r.url.starts_with(&s.url("/")), "{}", r.url);
            assert!(r.url.len() <= MAX_URL_LEN, "{}", r.url);
        }

        let budget = Duration::from_secs(3) + SLACK;
        assert!(run.elapsed < budget, "{:?} over {budget:?}", run.elapsed);
        // A 7 MB page of 500,000 links and a 2 MB page 200,000 elements deep, parsed whole.
        let peak = peak_rss_mb(&summary);
        assert!(peak < 150.0, "peak RSS {peak:.1} MB");
    }
}
