//! Behavioural tests: the real `crawl` binary against the fixture server, in every mode.
//!
//! Each test starts its own fixture server on an ephemeral port, so tests run in parallel and
//! can assert exactly which requests the server saw.

use std::collections::BTreeMap;

use crawl_fixture::{ForwardProxy, TlsFront};

use crate::support::*;

every_mode! {
    fn https_pages_are_crawled_when_their_certificate_is_trusted(mode) {
        let s = server();
        let front = TlsFront::start(s.addr()).expect("TLS front starts");
        let seed = front.url("/gen/0");
        let args = ["-j", "4", "--depth", "2"];
        // The test CA is not among the system's roots: the seed fails on its certificate,
        // and nothing reaches the site.
        let refused = CrawlCmd::new()
            .mode(mode)
            .seeds(std::slice::from_ref(&seed))
            .args(args)
            .run();
        assert_eq!(refused.records.len(), 1, "{}", refused.stderr);
        // A certificate the crawl does not trust is the host's for every page, and a
        // cool-down does not change it: the host is given up at once, without probes.
        let error = refused.records[0].error.clone().unwrap_or_default();
        assert_eq!(
            error,
            "host unreachable: 1 consecutive TLS failures, the last: TLS error: invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(front.handshakes(), 0);
        assert_eq!(s.hits("/gen/0"), 0);
        // Trusted (SSL_CERT_FILE, read once per crawl however many workers there are), the
        // crawl finds what a plain-HTTP crawl of the same site finds, every URL https.
        let ca = front.ca_file();
        let trusted = CrawlCmd::new()
            .mode(mode)
            .args(args)
            .stdin(format!("{seed}\n"))
            .env("SSL_CERT_FILE", &ca)
            .run();
        trusted.assert_ok();
        let plain = CrawlCmd::new().mode(mode).seeds(&[s.url("/gen/0")]).args(args).run();
        plain.assert_ok();
        let https_base = front.url("");
        let expected: BTreeMap<String, (u32, Option<String>)> = plain
            .by_url()
            .into_iter()
            .map(|(url, r)| (url.replace(&s.url(""), &https_base), (r.depth, r.title)))
            .collect();
        let got: BTreeMap<String, (u32, Option<String>)> = trusted
            .by_url()
            .into_iter()
            .map(|(url, r)| (url, (r.depth, r.title)))
            .collect();
        assert_eq!(got, expected);
        assert!(got.len() > 20, "{}", got.len());
        // Connections are kept alive: a handshake per connection, not per page. Not an exact
        // count: with 4 pages in flight, a request sent while the previous response's
        // connection is still on its way back to the pool opens another (seen: 10 with the
        // whole suite running on 2 cores, 8 or fewer alone); one per page would be over 20.
        let handshakes = front.handshakes();
        assert!(handshakes as usize * 2 <= got.len(), "{handshakes} handshakes for {} pages", got.len());
    }
    fn every_request_goes_through_the_proxy_with_its_credentials(mode) {
        let proxy = ForwardProxy::start(Some(("crawler", "s3cret"))).expect("proxy starts");
        let s = server();
        let via = format!("http://crawler:s3cret@127.0.0.1:{}", proxy.port());
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/")])
            .args(["--depth", "1", "--proxy", &via])
            .run();
        run.assert_ok();
        assert!(run.records.len() > 5, "{:?}", run.urls());
        let forwarded = proxy.forwarded();
        // The server saw nothing the proxy did not forward, robots.txt included, and the
        // proxy refused nothing: the credentials went with every request.
        assert_eq!(forwarded.len() as u64, s.total_hits(), "{forwarded:?}");
        assert!(forwarded.contains(&s.url("/robots.txt")), "{forwarded:?}");
        assert!(forwarded.contains(&s.url("/about.html")), "{forwarded:?}");
        assert_eq!(proxy.refused(), 0);
        assert_eq!(run.get(&s.url("/")).error, None);
        let records = serde_json::to_string(&run.records).expect("records");
        assert!(!run.stderr.contains("s3cret") && !records.contains("s3cret"));
    }

    fn the_environment_proxy_applies_unless_no_proxy(mode) {
        let proxy = ForwardProxy::start(None).expect("proxy starts");
        let s = server();
        let run_with_env = |extra: &[&str]| {
            // The harness removes the proxy variables; this one sets its own.
            let out = CrawlCmd::new()
                .mode(mode)
                .args(["-o", "/dev/null"])
                .args(extra)
                .arg("-")
                .env("http_proxy", proxy.url())
                .env_remove("no_proxy")
                .env_remove("NO_PROXY")
                .seeds([s.url("/about.html")])
                .stdout(std::process::Stdio::null())
                .output();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        run_with_env(&[]);
        assert_eq!(proxy.forwarded(), [s.url("/robots.txt"), s.url("/about.html")]);
        run_with_env(&["--no-proxy"]);
        assert_eq!(proxy.forwarded().len(), 2, "--no-proxy went direct");
        assert_eq!(s.total_hits(), 4);
    }

    fn headers_given_with_dash_h_go_with_every_request(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/headers")])
            .args(["-H", "X-Crawl-Test: hello", "-H", "Accept-Language: fr", "--field", "seen=pre"])
            .run();
        run.assert_ok();
        let seen = run.get(&s.url("/headers")).fields["seen"].as_str().unwrap_or_default().to_owned();
        for line in ["x-crawl-test: hello", "accept-language: fr", "user-agent: crawl/"] {
            assert!(seen.contains(line), "{line:?} not in {seen:?}");
        }
        assert!(!run.stderr.contains("hello"), "header values are never printed");
    }

    fn pages_reached_only_through_frames_are_crawled(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/book/")])
            .args(["--depth", "2"])
            .run();
        run.assert_ok();
        let titles: BTreeMap<String, (Option<String>, u32)> = run
            .records
            .iter()
            .map(|r| (r.url.clone(), (r.title.clone(), r.depth)))
            .collect();
        for (path, title, depth) in [
            ("/book/toc.html", "Book: Contents", 1),
            ("/book/chapter-1.html", "Book: Chapter 1", 1),
            ("/book/cover.html", "Book: Cover", 1),
            ("/book/chapter-2.html", "Book: Chapter 2", 2),
        ] {
            assert_eq!(titles.get(&s.url(path)), Some(&(Some(title.to_owned()), depth)), "{path}");
        }
        // The iframe's fallback content is text for browsers without frames, not a link.
        assert_eq!(s.hits("/book/no-frames.html"), 0);
    }

    fn depth_zero_fetches_only_the_seeds(mode) {
        let s = server();
        let run = CrawlCmd::new().mode(mode).seeds(&[s.url("/"), s.url("/contact.html")]).run();
        run.assert_ok();
        assert_eq!(run.urls(), [s.url("/"), s.url("/contact.html")]);
        let home = run.get(&s.url("/"));
        assert_eq!(home.title.as_deref(), Some("Fixture Home"));
        assert_eq!(home.status, Some(200));
        assert_eq!(home.depth, 0);
        assert_eq!(home.attempts, 1);
        assert_eq!(home.error, None);
        // 16 hrefs: mailto and javascript dropped, the fragment and upper-case variants merged.
        assert_eq!(home.links, 12);
        assert_eq!(s.hits("/about.html"), 0, "depth 0 follows no links");
        // Of the home page's 12 links: 2 off-site, 1 a seed already, 9 new pages one hop away.
        assert!(
            run.stderr.contains("1 already seen, 2 off-site, 9 beyond --depth"),
            "{}",
            run.stderr
        );
        assert_eq!(s.hits("/"), 1);
        assert_eq!(s.hits("/robots.txt"), 1, "robots.txt is fetched once per origin");
    }

    fn depth_inf_follows_a_chain_to_its_end(mode) {
        // 60 generated pages, one link each: /gen/0 -> /gen/1 -> ... -> /gen/59 -> /gen/0.
        let s = server_with(Options { pages: 60, links: 1, ..Options::default() });
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/gen/0")])
            .args(["--depth", "inf", "--ignore-robots"])
            .run();
        run.assert_ok();
        let want: BTreeMap<String, u32> =
            (0..60u32).map(|i| (s.url(&format!("/gen/{i}")), i)).collect();
        assert_eq!(run.depths(), want);
        assert!(run.stderr.contains("0 beyond --depth"), "{}", run.stderr);

        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/gen/0")])
            .args(["--depth", "endless"])
            .run();
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains("--depth") && run.stderr.contains("`inf`"), "{}", run.stderr);
    }

    fn full_site_crawl_finds_every_page_once(mode) {
        let s = server();
        let run = CrawlCmd::new().mode(mode).seeds(&[s.url("/")]).args(["--depth", "3"]).run();
        run.assert_ok();
        let by_url = run.by_url();
        let mut want: Vec<String> = [
            "/", "/about.html", "/contact.html", "/docs/guide.html", "/docs/intro.html",
            "/docs/v2/page.html", "/error/500", "/files/data.json", "/flaky", "/index.html", "/latin1.html",
            "/missing.html", "/old-page", "/private/secret.html", "/team/alice.html",
            "/team/members.html",
        ]
        .iter()
        .map(|p| s.url(p))
        .collect();
        want.sort();
        assert_eq!(run.urls(), want);
        assert_eq!(by_url.len(), 16);

        // Each page was requested once; /about.html twice because /old-page redirects to it.
        for path in ["/", "/index.html", "/contact.html", "/docs/guide.html", "/docs/v2/page.html", "/team/members.html"] {
            assert_eq!(s.hits(path), 1, "{path}");
        }
        assert_eq!(s.hits("/about.html"), 2);
        assert_eq!(s.hits("/robots.txt"), 1);
        // Never fetched: off-scope host, robots-disallowed path.
        assert_eq!(s.hits("/other-host.html"), 0);
        assert_eq!(s.hits("/private/secret.html"), 0);

        let secret = run.get(&s.url("/private/secret.html"));
        assert_eq!(secret.error.as_deref(), Some("blocked by robots.txt"));
        assert_eq!((secret.attempts, secret.status), (0, None));

        let old = run.get(&s.url("/old-page"));
        assert_eq!(old.final_url, Some(s.url("/about.html")));
        assert_eq!(old.title.as_deref(), Some("About Us"));

        let guide = run.get(&s.url("/docs/guide.html"));
        assert_eq!(guide.title.as_deref(), Some("Guide"));
        assert_eq!(run.get(&s.url("/docs/v2/page.html")).depth, 2, "<base href> resolved");

        let missing = run.get(&s.url("/missing.html"));
        assert_eq!((missing.status, missing.error.as_deref(), missing.attempts), (Some(404), Some("http 404"), 1));
        assert_eq!(run.get(&s.url("/team/alice.html")).error.as_deref(), Some("http 404"));

        let json = run.get(&s.url("/files/data.json"));
        assert_eq!(json.status, Some(200));
        assert_eq!((json.title.as_deref(), json.links), (None, 0), "non-HTML is not parsed");
        assert!(json.content_type.as_deref().is_some_and(|c| c.starts_with("application/json")));

        let latin = run.get(&s.url("/latin1.html"));
        assert_eq!(latin.title.as_deref(), Some("Café crème – naïve"));
    }

    fn retries_recover_and_give_up(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/flaky"), s.url("/error/500")])
            .args(["--ignore-robots"])
            .run();
        run.assert_ok();
        let flaky = run.get(&s.url("/flaky"));
        assert_eq!((flaky.status, flaky.attempts, flaky.error.as_deref()), (Some(200), 3, None));
        assert_eq!(flaky.title.as_deref(), Some("Flaky OK"));
        assert_eq!(s.hits("/flaky"), 3);
        let err = run.get(&s.url("/error/500"));
        assert_eq!((err.status, err.attempts, err.error.as_deref()), (Some(500), 3, Some("http 500")));
        assert_eq!(s.hits("/error/500"), 3);

        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/flaky-forever")])
            .args(["--ignore-robots", "--retries", "0"])
            .run();
        assert_eq!(run.get(&s.url("/flaky-forever")).attempts, 1);
        assert_eq!(s.hits("/flaky-forever"), 1);
    }

    fn retry_after_is_honoured(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/retry-after")])
            .args(["--ignore-robots"])
            .run();
        run.assert_ok();
        let r = run.get(&s.url("/retry-after"));
        assert_eq!((r.status, r.attempts, r.title.as_deref()), (Some(200), 2, Some("Retry OK")));
        // The server asked for one second; a lower bound is safe on a busy machine.
        assert!(run.elapsed.as_secs_f64() >= 0.95, "{:?}", run.elapsed);
    }

    fn timeouts_cover_headers_and_body(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/slow?ms=5000"), s.url("/slow-body?ms=5000")])
            .args(["--ignore-robots", "--timeout", "0.5", "--retries", "1"])
            .run();
        run.assert_ok();
        for path in ["/slow?ms=5000", "/slow-body?ms=5000"] {
            let r = run.get(&s.url(path));
            assert_eq!((r.error.as_deref(), r.attempts), (Some("timeout"), 2), "{path}");
        }
        // Without the timeout each URL would take 5 s a try; a loose bound keeps a busy machine
        // from failing the test.
        assert!(run.elapsed.as_secs_f64() < 9.0, "timed out promptly: {:?}", run.elapsed);
    }

    fn redirects_stay_in_scope(mode) {
        let s = server();
        let seeds = [
            s.url("/redirect-offsite"),
            s.url("/redirect-loop"),
            s.url("/redirect-chain/5"),
            s.url("/redirect-file"),
        ];
        let run = CrawlCmd::new().mode(mode).seeds(&seeds).args(["--ignore-robots"]).run();
        run.assert_ok();
        assert_eq!(
            run.get(&s.url("/redirect-offsite")).error.as_deref(),
            Some("redirect to disallowed host localhost")
        );
        assert_eq!(s.hits("/other-host.html"), 0);
        assert_eq!(run.get(&s.url("/redirect-loop")).error.as_deref(), Some("too many redirects"));
        assert!(s.hits("/redirect-loop") <= 11);
        let chain = run.get(&s.url("/redirect-chain/5"));
        assert_eq!(chain.title.as_deref(), Some("Chain End"));
        assert_eq!(chain.final_url, Some(s.url("/redirect-chain/0")));
        assert_eq!(
            run.get(&s.url("/redirect-file")).error.as_deref(),
            Some("redirect to unsupported scheme file")
        );

        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/redirect-offsite")])
            .args(["--ignore-robots", "--allow-domain", "localhost"])
            .run();
        let r = run.get(&s.url("/redirect-offsite"));
        assert_eq!((r.error.as_deref(), r.title.as_deref()), (None, Some("Other Host")));
    }

    fn redirects_obey_robots_and_count_as_requests(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/redirect-private"), s.url("/old-page")])
            .run();
        run.assert_ok();
        let r = run.get(&s.url("/redirect-private"));
        assert_eq!(r.error.as_deref(), Some("blocked by robots.txt"));
        assert_eq!(r.final_url, Some(s.url("/private/secret.html")));
        assert_eq!(r.attempts, 1, "one request, to the redirecting URL");
        assert_eq!(s.hits("/private/secret.html"), 0, "never requested");
        let old = run.get(&s.url("/old-page"));
        assert_eq!((old.attempts, old.status, old.title.as_deref()), (2, Some(200), Some("About Us")));
        assert_eq!(s.hits("/robots.txt"), 1);
    }

    fn allow_domain_extends_the_crawl(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/")])
            .args(["--depth", "1", "--allow-domain", "localhost"])
            .run();
        run.assert_ok();
        let other = format!("http://localhost:{}/other-host.html", s.port());
        assert_eq!(run.get(&other).title.as_deref(), Some("Other Host"));
        assert_eq!(s.hits("/other-host.html"), 1);
        assert_eq!(s.hits("/robots.txt"), 2, "one robots.txt per origin");
    }

    fn max_bytes_cuts_and_says_so(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/big?kb=64")])
            .args(["--ignore-robots", "--max-bytes", "10000"])
            .run();
        run.assert_ok();
        let r = run.get(&s.url("/big?kb=64"));
        assert_eq!((r.bytes, r.truncated), (10000, true));
        assert_eq!(r.error.as_deref(), Some("body over 10000 bytes"));
        assert_eq!(r.title.as_deref(), Some("Big"), "the kept part is still parsed");
        assert_eq!(r.links, 1, "only the link before the cut");
    }

    fn max_pages_counts_every_record(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/"), s.url("/gen/0")])
            .args(["--depth", "5", "--max-pages", "7"])
            .run();
        run.assert_ok();
        assert_eq!(run.records.len(), 7);
        run.by_url();
        assert!(run.stderr.contains("over --max-pages"), "{}", run.stderr);
    }

    fn ignore_robots_fetches_disallowed_pages(mode) {
        let s = server();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/private/secret.html")])
            .args(["--ignore-robots"])
            .run();
        run.assert_ok();
        assert_eq!(run.get(&s.url("/private/secret.html")).title.as_deref(), Some("Secret"));
        assert_eq!(s.hits("/robots.txt"), 0);
        assert_eq!(s.hits("/private/secret.html"), 1);
    }

    fn generated_site_is_crawled_completely(mode) {
        let s = server_with(Options { pages: 60, links: 5, ..Options::default() });
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/gen/0")])
            .args(["--depth", "100"])
            .run();
        run.assert_ok();
        let by_url = run.by_url();
        assert_eq!(by_url.len(), 60);
        for i in 0..60 {
            let r = &by_url[&s.url(&format!("/gen/{i}"))];
            assert_eq!(r.title, Some(format!("Generated page {i}")));
            assert_eq!(r.links, 5);
            assert_eq!(s.hits(&format!("/gen/{i}")), 1, "page {i} fetched once");
        }
        assert!(run.stderr.contains("60 pages, 60 ok, 0 failed"), "{}", run.stderr);
    }

    fn connection_refused_is_a_record(mode) {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let url = format!("http://127.0.0.1:{port}/");
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(std::slice::from_ref(&url))
            .args(["--retries", "1", "--host-probes", "0"])
            .run();
        run.assert_ok();
        assert_eq!(run.records.len(), 1, "robots.txt failures make no record of their own");
        let r = run.get(&url);
        // A robots.txt that cannot be reached even with retries pauses the host, and with no
        // probes gives it up: its pages are recorded as unreachable (--host-failures,
        // --host-probes; tests/politeness.rs).
        assert_eq!(r.error.as_deref(), Some("host unreachable: 2 consecutive refused connections"));
        // Without that, an unreachable robots.txt means "disallow all" (RFC 9309).
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(std::slice::from_ref(&url))
            .args(["--retries", "1", "--host-failures", "0"])
            .run();
        run.assert_ok();
        assert_eq!(run.get(&url).error.as_deref(), Some("blocked by robots.txt"));

        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(std::slice::from_ref(&url))
            .args(["--retries", "1", "--ignore-robots"])
            .run();
        let r = run.get(&url);
        assert_eq!((r.error.as_deref(), r.attempts, r.status), (Some("connect refused"), 2, None));
    }

    fn rate_limit_engages(mode) {
        let s = server_with(Options { pages: 500, ..Options::default() });
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/gen/0")])
            .args(["--depth", "50", "--max-pages", "16", "--rate", "20", "--ignore-robots", "-j", "4"])
            .run();
        run.assert_ok();
        assert_eq!(run.records.len(), 16);
        // 16 requests at 20/s need at least 15 gaps of 50 ms; generous lower bound only.
        assert!(run.elapsed.as_secs_f64() >= 0.6, "{:?}", run.elapsed);
        assert!(!run.stderr.contains("rate limiter 0.0%"), "{}", run.stderr);

        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/gen/0")])
            .args(["--depth", "50", "--max-pages", "11", "--per-host-rate", "20", "--ignore-robots"])
            .run();
        assert_eq!(run.records.len(), 11);
        assert!(run.elapsed.as_secs_f64() >= 0.4, "{:?}", run.elapsed);
    }

    fn verdict_names_the_bottleneck(mode) {
        let cpu = server_with(Options { pages: 40, ..Options::default() });
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[cpu.url("/gen/0")])
            .args(["-d", "100", "-j", "2", "--ignore-robots", "--cpu-work", "4000000"])
            .run_with_summary();
        assert_eq!(summary["verdict"], "cpu", "{}", run.stderr);
        assert!(run.stderr.contains("cpu-bound: CPU"), "{}", run.stderr);

        let slow = server_with(Options {
            pages: 30,
            latency: std::time::Duration::from_millis(100),
            ..Options::default()
        });
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[slow.url("/gen/0")])
            .args(["-d", "100", "-j", "2", "--ignore-robots"])
            .run_with_summary();
        assert_eq!(summary["verdict"], "network", "{}", run.stderr);
        assert!(run.stderr.contains("network-bound: workers waited on responses"), "{}", run.stderr);

        let limited = server();
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[limited.url("/gen/0")])
            .args(["-d", "100", "-j", "2", "--ignore-robots", "--rate", "10", "--max-pages", "10"])
            .run_with_summary();
        assert_eq!(summary["verdict"], "rate-limit", "{}", run.stderr);
        assert!(run.stderr.contains("rate-limit-bound"), "{}", run.stderr);
    }

    fn output_file_and_cpu_work(mode) {
        let s = server();
        let dir = std::env::temp_dir().join(format!("crawl-test-{}-{mode}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("out.jsonl");
        let path_str = path.to_str().expect("utf-8 temp path");
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/about.html")])
            .args(["-o", path_str, "--cpu-work", "3000000"])
            .run();
        run.assert_ok();
        assert!(run.records.is_empty(), "stdout is empty with -o");
        let text = std::fs::read_to_string(&path).expect("output written");
        let records: Vec<Record> = text.lines().map(|l| serde_json::from_str(l).expect("record")).collect();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].title.as_deref(), Some("About Us"));
        // Three million dependent multiply rounds cannot take less than half a millisecond.
        assert!(records[0].parse_ms >= 0.5, "cpu work ran: {}", records[0].parse_ms);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The same crawl in every mode gives the same records, timings and workers aside.
#[test]
fn every_mode_yields_the_same_records() {
    let s = server_with(Options {
        pages: 80,
        ..Options::default()
    });
    let key = |r: &Record| {
        (
            r.url.clone(),
            r.final_url.clone(),
            r.status,
            r.depth,
            r.title.clone(),
            r.links,
            r.bytes,
            r.error.clone(),
        )
    };
    let mut results = Vec::new();
    for mode in modes() {
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/"), s.url("/gen/0")])
            .args(["--depth", "4"])
            .run();
        run.assert_ok();
        let mut keys: Vec<_> = run.records.iter().map(key).collect();
        keys.sort();
        results.push((mode, keys));
    }
    let (first_mode, first) = &results[0];
    assert!(first.len() > 50);
    for (mode, keys) in &results[1..] {
        assert_eq!(keys, first, "{mode} differs from {first_mode}");
    }
}

every_mode! {
    fn sitemaps_add_pages_no_link_reaches(mode) {
        let s = server();
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/contact.html")])
            .args(["--sitemaps"])
            .run_with_summary();
        run.assert_ok();
        let get = |path: &str| run.get(&s.url(path));
        // Listed pages are seeds of their host: depth 0, whatever page they sit under.
        for (path, title) in [
            ("/only/sitemap?a=1&b=2", "Only sitemap"),
            ("/only/gzipped", "Only gzipped"),
            ("/only/before-the-break", "Only before-the-break"),
        ] {
            let r = get(path);
            assert_eq!((r.title.as_deref(), r.depth, r.error.as_deref()), (Some(title), 0, None), "{path}");
        }
        assert_eq!(get("/about.html").depth, 0);
        // Every sitemap gets a record; the broken one says why, and what it listed before the
        // break is crawled all the same. The index lists itself and is read once.
        for file in ["index.xml", "pages.xml", "more.xml.gz"] {
            assert_eq!(get(&format!("/sitemaps/{file}")).error, None, "{file}");
        }
        let broken = get("/sitemaps/broken.xml").error.unwrap_or_default();
        assert!(broken.starts_with("bad sitemap: not XML"), "{broken}");
        assert_eq!(s.hits("/sitemaps/index.xml"), 1);
        assert_eq!(s.hits("/sitemap.xml"), 0, "robots.txt named the sitemaps");
        assert_eq!(summary["sitemaps"], 4);
        assert_eq!(summary["skipped"]["out_of_scope"], 1, "the off-site URL is not fetched");
        // Without robots.txt, /sitemap.xml is read.
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/contact.html")])
            .args(["--sitemaps", "--ignore-robots"])
            .run();
        run.assert_ok();
        assert_eq!(run.get(&s.url("/only/fallback")).depth, 0);
        // And without --sitemaps, none is.
        let quiet = server();
        CrawlCmd::new().mode(mode).seeds(&[quiet.url("/contact.html")]).run().assert_ok();
        assert_eq!(quiet.hits("/sitemaps/index.xml") + quiet.hits("/sitemap.xml"), 0);
    }
}

// Records written to a pipe nobody reads block the crawler (in async mode, on the very threads
// that run the requests). The pages in flight meanwhile were answered: when the reader comes
// back, none of them may come out as a timeout.
every_mode! {
    fn a_reader_that_stalls_turns_no_answered_page_into_a_timeout(mode) {
        // Latency keeps requests in flight at every moment, so some are waiting on the
        // threads that block.
        let s = server_with(Options {
            pages: 400,
            latency: std::time::Duration::from_millis(20),
            ..Options::default()
        });
        let child = CrawlCmd::new()
            .mode(mode)
            .args(["--timeout", "2", "--retries", "0", "--depth", "1000", "--per-host-workers", "0"])
            .stdin(format!("{}\n", s.url("/gen/0")))
            .spawn();
        // The pipe holds 64 KB, a few hundred records: the crawler blocks on it well before
        // the end, for more than twice the timeout.
        std::thread::sleep(std::time::Duration::from_secs(5));
        let out = child.wait_with_output().expect("crawl finishes");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let records: Vec<Record> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}")))
            .collect();
        assert_eq!(records.len(), 400, "{stderr}");
        let failed: Vec<_> = records
            .iter()
            .filter(|r| r.error.is_some())
            .map(|r| (&r.url, &r.error))
            .collect();
        assert!(failed.is_empty(), "{} failed: {failed:?}", failed.len());
    }
}
