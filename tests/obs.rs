//! Logs (`-v`, `RUST_LOG`, `--log`, `--log-format json`) and Prometheus metrics
//! (`--metrics`, `--metrics-linger`), in every mode: what the log says about each request and
//! decision, and what a scrape mid-crawl and at the end says against the summary.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::*;

/// The JSON log lines in `path`, each an object.
fn json_log(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no log at {}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn field<'a>(event: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &event[name]
}

fn message(event: &serde_json::Value) -> &str {
    field(event, "message").as_str().unwrap_or_default()
}

/// Records as (path, status, error, depth), the server's address taken out, for comparing two
/// crawls of two servers.
fn outcomes(run: &Run, base: &str) -> BTreeMap<String, (Option<u16>, Option<String>, u32)> {
    run.by_url()
        .into_iter()
        .map(|(url, r)| (url.replace(base, ""), (r.status, r.error, r.depth)))
        .collect()
}

/// `pages` generated pages of 4 links each, answered after `latency_ms`: a crawl that lasts
/// long enough to scrape, signal or kill during.
fn linked_site(latency_ms: u64, pages: usize) -> FixtureServer {
    server_with(Options {
        latency: Duration::from_millis(latency_ms),
        pages,
        links: 4,
        ..Options::default()
    })
}

every_mode! {
    fn the_json_log_has_one_event_per_request_and_the_decisions(mode) {
        let s = server();
        let log = fresh_temp("obs", "log.jsonl", mode);
        let log_arg = log.to_str().expect("UTF-8 temp path");
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/")])
            .args(["--depth", "1", "-j", "4", "-vv", "--log", log_arg, "--log-format", "json"])
            .run();
        run.assert_ok();
        // Nothing of the log on standard error: it went to the file.
        assert!(!run.stderr.contains("DEBUG") && !run.stderr.contains("\"level\""), "{}", run.stderr);
        let events = json_log(&log);
        let requests: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| matches!(message(e), "request" | "request failed"))
            .collect();
        // One debug event for every request the server saw, robots.txt and retries included.
        assert_eq!(requests.len() as u64, s.total_hits(), "{requests:#?}");
        for e in &requests {
            assert_eq!(field(e, "level"), "DEBUG");
            for name in ["url", "attempt", "ms", "worker", "depth"] {
                assert!(!field(e, name).is_null(), "no {name} in {e}");
            }
            let worker = field(e, "worker").as_str().unwrap_or_default();
            let expected = match mode {
                "sequential" => "main",
                "threads" => "thread ",
                "async" => "task ",
                _ => "pid ",
            };
            assert!(worker.starts_with(expected), "{mode}: worker {worker}");
        }
        let of = |path: &str| -> Vec<(u64, u64)> {
            requests
                .iter()
                .filter(|e| field(e, "url") == s.url(path).as_str())
                .map(|e| {
                    (
                        field(e, "status").as_u64().unwrap_or(0),
                        field(e, "attempt").as_u64().unwrap_or(0),
                    )
                })
                .collect()
        };
        assert_eq!(of("/robots.txt"), [(200, 1)]);
        assert_eq!(of("/"), [(200, 1)]);
        assert_eq!(of("/missing.html"), [(404, 1)]);
        // The flaky page answers 503 twice, then 200: three events, attempts 1 to 3.
        let mut flaky = of("/flaky");
        flaky.sort_by_key(|&(_, attempt)| attempt);
        assert_eq!(flaky, [(503, 1), (503, 2), (200, 3)]);
        let about = requests
            .iter()
            .find(|e| field(e, "url") == s.url("/about.html").as_str())
            .expect("about.html was fetched");
        assert_eq!(field(about, "depth"), 1);
        assert_eq!(
            field(about, "bytes").as_u64(),
            Some(run.get(&s.url("/about.html")).bytes),
        );
        // Info: the retries (why, attempt n of m), the robots.txt read, the page it blocked.
        let retries: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| message(e) == "retrying" && field(e, "url") == s.url("/flaky").as_str())
            .collect();
        assert_eq!(retries.len(), 2, "{events:#?}");
        assert_eq!(field(retries[0], "level"), "INFO");
        assert_eq!(field(retries[0], "why"), "http 503");
        assert_eq!(field(retries[0], "of"), 3);
        assert!(events.iter().any(|e| message(e) == "robots.txt read"
            && field(e, "origin") == s.url("").trim_end_matches('/')
            && field(e, "rules") == "has rules"));
        let blocked: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| message(e) == "blocked by robots.txt")
            .collect();
        assert_eq!(blocked.len(), 1, "{events:#?}");
        assert_eq!(field(blocked[0], "url"), s.url("/private/secret.html").as_str());
        assert_eq!(s.hits("/private/secret.html"), 0);
        let _ = std::fs::remove_file(&log);
    }

    fn verbose_text_goes_to_stderr_and_changes_no_record(mode) {
        let (quiet_server, loud_server) = (server(), server());
        let args = ["--depth", "1", "-j", "4"];
        let (quiet, quiet_summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[quiet_server.url("/")])
            .args(args)
            .run_with_summary();
        let mut loud_args = args.to_vec();
        loud_args.push("-v");
        let (loud, loud_summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[loud_server.url("/")])
            .args(&loud_args)
            .run_with_summary();
        quiet.assert_ok();
        loud.assert_ok();
        assert_eq!(
            outcomes(&quiet, &quiet_server.url("")),
            outcomes(&loud, &loud_server.url(""))
        );
        for key in ["pages", "ok", "failed", "retries", "robots_blocked", "bytes"] {
            assert_eq!(quiet_summary[key], loud_summary[key], "{key}");
        }
        // Without -v, standard error is the summary alone, as before logs existed.
        assert!(!quiet.stderr.contains(" INFO "), "{}", quiet.stderr);
        assert!(quiet.stderr.starts_with(&format!("crawl ({mode}")), "{}", quiet.stderr);
        // With -v: the decisions at info, not every request (that is -vv).
        let info: Vec<&str> = loud.stderr.lines().filter(|l| l.contains(" INFO ")).collect();
        assert!(info.iter().any(|l| l.contains("blocked by robots.txt")
            && l.contains("/private/secret.html")), "{}", loud.stderr);
        assert!(info.iter().any(|l| l.contains("retrying") && l.contains("/flaky")
            && l.contains("why=http 503")), "{}", loud.stderr);
        assert!(!loud.stderr.contains("DEBUG"), "{}", loud.stderr);
        // The summary still ends standard error.
        assert!(loud.stderr.contains(&format!("crawl ({mode}")), "{}", loud.stderr);
    }

    fn rust_log_overrides_the_verbosity(mode) {
        let s = server();
        let command = || CrawlCmd::new().mode(mode).args(["--depth", "0"]);
        let seeds = format!("{}\n", s.url("/about.html"));
        // RUST_LOG alone turns the request events on ...
        let on = command().stdin(&seeds).env("RUST_LOG", "crawl=debug").run();
        on.assert_ok();
        let requests: Vec<&str> = on
            .stderr
            .lines()
            .filter(|l| l.contains("DEBUG") && l.contains(" request "))
            .collect();
        assert_eq!(requests.len(), 2, "robots.txt and the page:\n{}", on.stderr);
        assert!(requests.iter().any(|l| l.contains("/about.html") && l.contains("status=200")));
        // ... and RUST_LOG=off silences -vv.
        let off = command().arg("-vv").stdin(&seeds).env("RUST_LOG", "off").run();
        off.assert_ok();
        assert!(!off.stderr.contains("DEBUG") && !off.stderr.contains(" INFO "), "{}", off.stderr);
        assert_eq!(on.records.len(), 1);
        assert_eq!(off.records.len(), 1);
    }

    fn metrics_scraped_mid_crawl_agree_with_the_summary(mode) {
        // 50 ms a response and two workers: a crawl of a few seconds to scrape during.
        let s = linked_site(50, 100);
        let summary_path = fresh_temp("obs", "summary.json", mode);
        let out = fresh_temp("obs", "records.jsonl", mode);
        let mut child = CrawlCmd::new()
            .mode(mode)
            .args([
                "-j", "2", "--depth", "10",
                "--metrics", "127.0.0.1:0", "--metrics-linger", "60",
                "--summary-json", summary_path.to_str().expect("UTF-8"),
                "-o", out.to_str().expect("UTF-8"),
            ])
            .stdin(format!("{}\n", s.url("/gen/0")))
            .spawn();
        let (addr, reader) = metrics_address(&mut child);
        // Mid-crawl: pages done, the crawl not finished.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mid = loop {
            let scrape = parse(&get(&addr, "/metrics"));
            if scrape.get("crawl_finished") == Some(&1.0) {
                panic!("the crawl ended before a scrape saw it running: {scrape:#?}");
            }
            if scrape.get("crawl_pages_total{outcome=\"ok\"}").is_some_and(|&n| n >= 5.0) {
                break scrape;
            }
            assert!(Instant::now() < deadline, "no page done in time");
            std::thread::sleep(Duration::from_millis(20));
        };
        for name in ["crawl_pages_in_flight", "crawl_pages_queued", "crawl_concurrency_limit"] {
            assert!(mid.contains_key(name), "no {name}: {mid:#?}");
        }
        assert!(mid["crawl_requests_total"] > 0.0 && mid["crawl_body_bytes_total"] > 0.0);
        assert_eq!(
            mid.keys().filter(|k| k.starts_with("crawl_verdict{")).count(),
            4,
            "{mid:#?}"
        );
        assert_eq!(mid.iter().filter(|(k, v)| k.starts_with("crawl_verdict{") && **v == 1.0).count(), 1);
        assert_eq!(mid.contains_key("crawl_worker_restarts_total"), mode == "processes");
        // Anything else is not found.
        assert!(get(&addr, "/").starts_with("HTTP/1.1 404"));
        // The end: the final figures stay up (--metrics-linger) until a signal.
        let last = loop {
            let scrape = parse(&get(&addr, "/metrics"));
            if scrape.get("crawl_finished") == Some(&1.0) {
                break scrape;
            }
            assert!(Instant::now() < deadline, "the crawl did not end in time");
            std::thread::sleep(Duration::from_millis(50));
        };
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("signal the crawl");
        let status = child.wait().expect("crawl exits");
        let stderr = reader.join().expect("stderr read");
        assert_eq!(status.code(), Some(0), "{stderr}");
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&summary_path).unwrap_or_else(|e| panic!("{e}: {stderr}")),
        )
        .expect("summary JSON");
        let n = |key: &str| summary[key].as_f64().unwrap_or(f64::NAN);
        let blocked = n("robots_blocked");
        let unreachable = n("unreachable");
        let expected = [
            ("crawl_pages_total{outcome=\"ok\"}", n("ok")),
            ("crawl_pages_total{outcome=\"error\"}", n("failed") - blocked - unreachable),
            ("crawl_pages_total{outcome=\"robots_blocked\"}", blocked),
            ("crawl_pages_total{outcome=\"unreachable\"}", unreachable),
            ("crawl_body_bytes_total", n("bytes")),
            ("crawl_retries_total", n("retries")),
            ("crawl_pages_in_flight", 0.0),
            ("crawl_pages_queued", n("not_fetched")),
        ];
        for (name, value) in expected {
            assert_eq!(last[name], value, "{name}: {last:#?}\n{summary}");
            // Counters only grow: the mid-crawl figure is at most the final one.
            if name.ends_with("_total") || name.contains("_total{") {
                assert!(mid[name] <= last[name], "{name}");
            }
        }
        assert!(n("ok") >= 20.0, "{summary}");
        // -j 2 (sequential mode has one worker whatever -j says).
        assert_eq!(mid["crawl_concurrency_limit"], n("workers"));
        assert_eq!(n("workers"), if mode == "sequential" { 1.0 } else { 2.0 });
        assert_eq!(records_in(&out).len() as f64, n("pages"));
        let verdict = summary["verdict"].as_str().unwrap_or_default();
        assert_eq!(last[&format!("crawl_verdict{{verdict=\"{verdict}\"}}")], 1.0, "{verdict}");
        for share in ["network", "parsing", "rate_limit", "idle"] {
            let got = last[&format!("crawl_time_share{{share=\"{share}\"}}")];
            assert!((got - summary["split"][share].as_f64().unwrap_or(f64::NAN)).abs() < 1e-9, "{share}");
        }
        if mode == "processes" {
            // No worker died: the restarts counter says so as the summary does (the test
            // below kills one).
            assert_eq!(last["crawl_worker_restarts_total"], 0.0, "{stderr}");
            assert_eq!(summary["ipc"]["deaths"].as_f64(), Some(0.0), "{summary}");
        }
        let _ = std::fs::remove_file(&summary_path);
        let _ = std::fs::remove_file(&out);
    }

    fn a_metrics_client_that_trickles_its_request_holds_up_nothing(mode) {
        let s = linked_site(20, 40);
        let out = fresh_temp("obs", "trickle.jsonl", mode);
        let mut child = CrawlCmd::new()
            .mode(mode)
            .args(["-j", "2", "--depth", "10", "--metrics", "127.0.0.1:0",
              "-o", out.to_str().expect("UTF-8")])
            .stdin(format!("{}\n", s.url("/gen/0")))
            .spawn();
        let (addr, reader) = metrics_address(&mut child);
        // A request head that never ends, a byte every 50 ms: each read is quick, so only a
        // deadline for the whole request cuts it off. Before one, it held the processes-mode
        // coordinator (and the other modes' exit) for minutes.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let trickler = {
            let done = std::sync::Arc::clone(&done);
            std::thread::spawn(move || trickle(&addr, &done))
        };
        let status = wait_at_most(&mut child, Duration::from_secs(60))
            .expect("the crawl ended: a trickling scrape did not hold it up");
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let (cut_off, answer) = trickler.join().expect("trickler");
        let stderr = reader.join().expect("stderr read");
        assert_eq!(status.code(), Some(0), "{stderr}");
        // The crawl crawled everything, and the trickler was cut off without an answer.
        let records = records_in(&out);
        assert_eq!(records.len(), 40, "{stderr}");
        assert!(records.iter().all(|r| r.status == Some(200)), "{records:?}");
        assert!(cut_off, "the trickling connection was never closed");
        assert_eq!(answer, 0, "a request never finished got an answer");
        let _ = std::fs::remove_file(&out);
    }

    fn ctrl_c_mid_crawl_skips_the_metrics_linger(mode) {
        // Long enough that the signal comes mid-crawl: 200 pages, 50 ms each, two workers.
        let s = linked_site(50, 200);
        let summary_path = fresh_temp("obs", "linger-summary.json", mode);
        let out = fresh_temp("obs", "linger.jsonl", mode);
        let mut child = CrawlCmd::new()
            .mode(mode)
            .args(["-j", "2", "--depth", "10", "--metrics", "127.0.0.1:0",
              "--metrics-linger", "60",
              "--summary-json", summary_path.to_str().expect("UTF-8"),
              "-o", out.to_str().expect("UTF-8")])
            .stdin(format!("{}\n", s.url("/gen/0")))
            .spawn();
        let (addr, reader) = metrics_address(&mut child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let scrape = parse(&get(&addr, "/metrics"));
            assert_ne!(scrape.get("crawl_finished"), Some(&1.0), "the crawl ended first");
            if scrape.get("crawl_pages_total{outcome=\"ok\"}").is_some_and(|&n| n >= 2.0) {
                break;
            }
            assert!(Instant::now() < deadline, "no page done in time");
            std::thread::sleep(Duration::from_millis(20));
        }
        kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("Ctrl-C the crawl");
        // Well inside the 60 s linger, which it used to sit out.
        let status = wait_at_most(&mut child, Duration::from_secs(30))
            .expect("the crawl ended without sitting out --metrics-linger");
        let stderr = reader.join().expect("stderr read");
        assert_eq!(status.code(), Some(130), "{stderr}");
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&summary_path).unwrap_or_else(|e| panic!("{e}: {stderr}")),
        )
        .expect("summary JSON");
        assert_eq!(summary["interrupted"], "SIGINT", "{summary}");
        let pages = records_in(&out).len();
        assert!((2..200).contains(&pages), "{pages} records");
        assert_eq!(summary["pages"].as_u64(), Some(pages as u64));
        let _ = std::fs::remove_file(&summary_path);
        let _ = std::fs::remove_file(&out);
    }

    fn a_metrics_port_in_use_is_refused_before_the_crawl(mode) {
        let s = server();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = taken.local_addr().expect("its address").to_string();
        let run = CrawlCmd::new().mode(mode).seeds(&[s.url("/")]).args(["--metrics", &addr]).run();
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!("crawl: --metrics: cannot listen on {addr}: ")),
            "{}",
            run.stderr
        );
        assert_eq!(s.total_hits(), 0);
        assert!(run.records.is_empty());
    }
}

/// Reads the `crawl: metrics on URL` line `child` writes first on standard error, and returns
/// its address (`host:port`) with a thread reading the rest of standard error to the end (so
/// the pipe never fills), whose result is all of it.
fn metrics_address(child: &mut std::process::Child) -> (String, std::thread::JoinHandle<String>) {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("crawl: metrics on http://") {
                let _ = tx.send(addr.trim_end_matches("/metrics").to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the metrics address");
    (addr, reader)
}

/// `child`'s exit status, or `None` (and the child killed) if it runs past `limit`: a bound
/// that only a hang reaches, not a measurement.
fn wait_at_most(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait for the crawl") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Connects to `addr` and sends a request head that never ends, a byte every 50 ms, until
/// the server closes the connection or `done` is set. Returns whether the server closed it,
/// and how many bytes of answer came.
fn trickle(addr: &str, done: &std::sync::atomic::AtomicBool) -> (bool, usize) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let head = b"GET /metrics HTTP/1.1\r\nX-Trickle: ";
    let mut answer = 0;
    let mut sent = 0usize;
    let mut buf = [0u8; 4096];
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let byte = head.get(sent).copied().unwrap_or(b'a');
        if stream.write_all(&[byte]).is_err() {
            return (true, answer);
        }
        sent += 1;
        match stream.read(&mut buf) {
            Ok(0) => return (true, answer),
            Ok(n) => answer += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (true, answer),
        }
    }
    (false, answer)
}

#[test]
fn a_worker_killed_with_a_page_in_hand_is_one_restart() {
    let s = server();
    let summary_path = fresh_temp("obs", "restart-summary.json", "processes");
    let out = fresh_temp("obs", "restart.jsonl", "processes");
    // One worker, one page that takes 2 s: once the server has seen the request, the only
    // worker process is the one holding it.
    let mut child = CrawlCmd::new()
        .mode("processes")
        .args([
            "-j",
            "1",
            "--depth",
            "0",
            "--metrics",
            "127.0.0.1:0",
            "--metrics-linger",
            "60",
            "--summary-json",
            summary_path.to_str().expect("UTF-8"),
            "-o",
            out.to_str().expect("UTF-8"),
        ])
        .stdin(format!("{}\n", s.url("/slow?ms=2000")))
        .spawn();
    let (addr, reader) = metrics_address(&mut child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.hits("/slow") == 0 {
        assert!(
            Instant::now() < deadline,
            "the slow page was never requested"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id();
    let kids =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let workers: Vec<i32> = kids
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(workers.len(), 1, "{kids:?}");
    kill(Pid::from_raw(workers[0]), Signal::SIGKILL).expect("kill the worker");
    let last = loop {
        let scrape = parse(&get(&addr, "/metrics"));
        if scrape.get("crawl_finished") == Some(&1.0) {
            break scrape;
        }
        assert!(Instant::now() < deadline, "the crawl did not end in time");
        std::thread::sleep(Duration::from_millis(50));
    };
    kill(Pid::from_raw(pid as i32), Signal::SIGTERM).expect("end the linger");
    let status = child.wait().expect("crawl exits");
    let stderr = reader.join().expect("stderr read");
    assert_eq!(status.code(), Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&summary_path).unwrap_or_else(|e| panic!("{e}: {stderr}")),
    )
    .expect("summary JSON");
    assert_eq!(summary["ipc"]["deaths"].as_f64(), Some(1.0), "{summary}");
    assert_eq!(last["crawl_worker_restarts_total"], 1.0, "{last:#?}");
    // The page went back in the queue and a new worker fetched it.
    assert_eq!(s.hits("/slow"), 2);
    let records = records_in(&out);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, Some(200), "{records:?}");
    let _ = std::fs::remove_file(&summary_path);
    let _ = std::fs::remove_file(&out);
}

#[test]
fn processes_mode_workers_write_no_log_line() {
    let s = server();
    let log = fresh_temp("obs", "trace.jsonl", "processes");
    let log_arg = log.to_str().expect("UTF-8 temp path");
    // trace for everything: the HTTP stack the workers run (hyper, reqwest) logs too.
    let run = CrawlCmd::new()
        .mode("processes")
        .args(["--depth", "1", "-j", "2"])
        .args(["--log", log_arg, "--log-format", "json"])
        .stdin(format!("{}\n", s.url("/")))
        .env("RUST_LOG", "trace")
        .run();
    run.assert_ok();
    let events = json_log(&log);
    // The coordinator's own events are all there: one a request.
    let requests = events
        .iter()
        .filter(|e| matches!(message(e), "request" | "request failed"))
        .count();
    assert_eq!(requests as u64, s.total_hits());
    // Nothing from the HTTP stack: the coordinator process talks to no server itself, so such
    // lines could only come from a worker.
    let from_workers: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| {
            let target = field(e, "target").as_str().unwrap_or_default();
            ["hyper", "reqwest", "h2", "rustls"]
                .iter()
                .any(|t| target.starts_with(t))
        })
        .collect();
    assert!(from_workers.is_empty(), "{from_workers:#?}");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn a_bad_log_path_or_metrics_address_names_its_flag() {
    let s = server();
    let run = CrawlCmd::new()
        .mode("async")
        .seeds(&[s.url("/")])
        .args(["--log", "/nonexistent-dir/crawl.log"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("crawl: --log: cannot open /nonexistent-dir/crawl.log: "),
        "{}",
        run.stderr
    );
    let run = CrawlCmd::new()
        .mode("async")
        .seeds(&[s.url("/")])
        .args(["--metrics", "not an address"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--metrics"), "{}", run.stderr);
    let run = CrawlCmd::new()
        .mode("async")
        .seeds(&[s.url("/")])
        .args(["--metrics-linger", "5"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--metrics-linger: needs"),
        "{}",
        run.stderr
    );
    assert_eq!(s.total_hits(), 0);
}

/// One HTTP/1.1 GET of `path` at `addr`; the whole answer, head and body.
fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer
}

/// The samples of a 200 answer, `name{labels}` to value, after checking that every line is
/// valid Prometheus (OpenMetrics) text: `# HELP`, `# TYPE`, a sample, and `# EOF` last.
fn parse(answer: &str) -> BTreeMap<String, f64> {
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: application/openmetrics-text"),
        "{head}"
    );
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "{body}");
    let name_ok = |name: &str| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut samples = BTreeMap::new();
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            assert!(name_ok(name) && name.starts_with("crawl_"), "{line}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(name_ok(name), "{line}");
            assert!(matches!(kind, "counter" | "gauge"), "{line}");
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let name = series.split('{').next().unwrap_or_default();
            assert!(name_ok(name) && name.starts_with("crawl_"), "{line}");
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split("\",") {
                    let (key, value) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                    assert!(name_ok(key) && !value.contains('\n'), "{line}");
                }
            }
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}"));
            assert!(
                samples.insert(series.to_owned(), value).is_none(),
                "twice: {line}"
            );
        }
    }
    samples
}

#[test]
fn a_library_crawl_with_its_metrics_port_taken_is_a_config_error() {
    let s = server();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let mut config = crawl::Config::new(vec![crawl::Url::parse(&s.url("/")).expect("url")]);
    config.output = crawl::Output::Discard;
    config.metrics = Some(taken.local_addr().expect("its address"));
    match crawl::run(&config) {
        Err(e @ crawl::CrawlError::Config(_)) => {
            assert!(e.is_usage());
            let crawl::CrawlError::Config(e) = e else {
                unreachable!()
            };
            assert_eq!(e.setting, crawl::Setting::Metrics);
            assert!(
                e.to_string().starts_with("metrics: cannot listen on"),
                "{e}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(s.total_hits(), 0);
}
