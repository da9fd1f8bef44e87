//! The shared frontier (`--frontier redis://...`): several crawl processes crawl one site once.
//!
//! Every test starts its own real `redis-server` (crawl_fixture::RedisServer: an ephemeral
//! port, a temporary directory, stopped on Drop); there is no Redis mock. Where redis-server
//! is not installed the tests fail, saying how to install it.
//!
//! The yardstick is always a one-process crawl of the same site in the same mode: the union of
//! the nodes' records must equal it URL for URL and depth for depth.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crawl_fixture::{CrawlNode, HostileServer, RedisOptions, RedisServer};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::*;

const PAGES: usize = 300;

/// A node of a shared crawl, running in the background (crawl_fixture's [`CrawlNode`], shared
/// with the `shared` bench, started with this file's modes and flags).
pub(crate) struct Node(CrawlNode);

impl Node {
    /// Starts `crawl --mode MODE ARGS --frontier URL --crawl-id ID`, with `seeds` as URLS_FILE
    /// (read from standard input) when given: without, the node joins.
    pub(crate) fn start(
        mode: &str,
        redis: &str,
        id: &str,
        seeds: Option<&str>,
        args: &[&str],
    ) -> Node {
        let command = CrawlCmd::new().mode(mode).args(args).command();
        Node(CrawlNode::start(command, redis, id, seeds))
    }

    /// Starts the node that creates crawl `id` of the generated site on `s` (seed `/gen/0`,
    /// `-d 100`, then `args`), and waits until Redis holds the crawl.
    fn create(mode: &str, redis: &RedisServer, s: &FixtureServer, id: &str, args: &[&str]) -> Node {
        let seeds = format!("{}\n", s.url("/gen/0"));
        let mut all = vec!["-d", "100"];
        all.extend_from_slice(args);
        let mut node = Node::start(mode, &redis.url(), id, Some(&seeds), &all);
        wait_for_crawl(redis, id, &mut node);
        node
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.0.id() as i32)
    }

    pub(crate) fn records(&self) -> usize {
        self.0.records()
    }

    /// Waits for the node to exit: its exit code, stderr and summary (if it wrote one).
    pub(crate) fn finish(self) -> (i32, String, Option<serde_json::Value>, PathBuf) {
        let exit = self.0.finish();
        (exit.code, exit.stderr, exit.summary, exit.out)
    }

    /// Waits until the node has written `n` records.
    pub(crate) fn wait_for_records(&self, n: usize) {
        self.0.wait_for_records(n);
    }
}

/// Waits until the crawl `id` exists in Redis (its creator has admitted the seeds), so that a
/// node started without seeds joins it rather than finding no crawl.
fn wait_for_crawl(redis: &RedisServer, id: &str, creator: &mut Node) {
    crawl_fixture::wait_for_crawl(redis, id, &mut creator.0);
}

/// Waits until `node` holds a lease in crawl `id`.
fn wait_for_lease(redis: &RedisServer, id: &str, node: &Node) {
    let mark = format!("-{}-", node.pid());
    let started = Instant::now();
    while !redis
        .cli(&["ZRANGE", &format!("crawl:{{{id}}}:leases"), "0", "-1"])
        .lines()
        .any(|member| member.split(' ').next().is_some_and(|n| n.contains(&mark)))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the node never held a lease"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// URL -> depth over the records in `files`, with how many records each URL has.
pub(crate) fn union(files: &[PathBuf]) -> (BTreeMap<String, u32>, BTreeMap<String, usize>) {
    let mut depths = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for file in files {
        for record in records_in(file) {
            if let Some(depth) = depths.insert(record.url.clone(), record.depth) {
                assert_eq!(depth, record.depth, "{} recorded at two depths", record.url);
            }
            *counts.entry(record.url).or_insert(0) += 1;
        }
        let _ = std::fs::remove_file(file);
    }
    (depths, counts)
}

/// The one-process crawl of the site: URL -> depth.
fn reference(mode: &str, s: &FixtureServer) -> BTreeMap<String, u32> {
    let run = CrawlCmd::new()
        .mode(mode)
        .seeds(&[s.url("/gen/0")])
        .args(["-d", "100", "-j", "4"])
        .run();
    run.assert_ok();
    s.reset();
    run.depths()
}

fn site(latency_ms: u64) -> FixtureServer {
    server_with(Options {
        pages: PAGES,
        latency: Duration::from_millis(latency_ms),
        ..Options::default()
    })
}

/// Paths the server was asked for more than once (robots.txt aside).
fn fetched_twice(s: &FixtureServer) -> Vec<(String, u64)> {
    s.hit_counts()
        .into_iter()
        .filter(|(path, n)| *n > 1 && path != "/robots.txt")
        .collect()
}

/// A node's exit code, stderr and summary.
type Ended = (i32, String, Option<serde_json::Value>);

/// Runs a crawl of the fixture site on a creator in `modes[0]` and joiners in the rest, all
/// started together; returns the exit codes, stderrs and summaries, and the union.
fn crawl_together(
    redis: &RedisServer,
    s: &FixtureServer,
    id: &str,
    modes: &[&str],
    args: &[&str],
) -> (Vec<Ended>, BTreeMap<String, u32>, BTreeMap<String, usize>) {
    let mut nodes = vec![Node::create(modes[0], redis, s, id, args)];
    for mode in &modes[1..] {
        nodes.push(Node::start(mode, &redis.url(), id, None, args));
    }
    let mut results = Vec::new();
    let mut files = Vec::new();
    for node in nodes {
        let (code, stderr, summary, out) = node.finish();
        results.push((code, stderr, summary));
        files.push(out);
    }
    let (depths, counts) = union(&files);
    (results, depths, counts)
}

every_mode! {
    fn two_nodes_crawl_the_site_once(mode) {
        let redis = RedisServer::start();
        let s = site(10);
        let expected = reference(mode, &s);
        assert_eq!(expected.len(), PAGES);
        let (results, got, counts) =
            crawl_together(&redis, &s, "two", &[mode, mode], &["-j", "4"]);
        for (code, stderr, _) in &results {
            assert_eq!(*code, 0, "a node failed:\n{stderr}");
            assert!(stderr.contains(&format!("whole crawl: {PAGES} record(s)")), "{stderr}");
            assert!(stderr.contains("finished"), "{stderr}");
        }
        assert_eq!(got, expected, "the union differs from a one-process crawl");
        assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
        assert!(fetched_twice(&s).is_empty(), "fetched twice: {:?}", fetched_twice(&s));
        // Both nodes did part of it.
        let mine: Vec<u64> = results
            .iter()
            .map(|(_, _, summary)| summary.as_ref().expect("summary")["ok"].as_u64().unwrap_or(0))
            .collect();
        assert_eq!(mine.iter().sum::<u64>(), PAGES as u64, "{mine:?}");
        assert!(mine.iter().all(|&n| n > 0), "a node did nothing: {mine:?}");
    }

    fn a_node_killed_mid_crawl_loses_nothing(mode) {
        let redis = RedisServer::start();
        let s = site(20);
        let expected = reference(mode, &s);
        let url = redis.url();
        // A lease must be at least twice --timeout (a node renews between pages).
        let args = ["-j", "4", "--lease", "4", "--timeout", "2"];
        let a = Node::create(mode, &redis, &s, "kill", &args);
        let b = Node::start(mode, &url, "kill", None, &args);
        b.wait_for_records(20);
        // Killed while it holds leases (node names carry the pid): between two levels of
        // the site a node may hold none, and then there is nothing to lose.
        wait_for_lease(&redis, "kill", &b);
        kill(b.pid(), Signal::SIGKILL).expect("kill node b");
        let (code_b, _, _, out_b) = b.finish();
        assert_eq!(code_b, 128 + Signal::SIGKILL as i32);
        let (code_a, stderr_a, summary, out_a) = a.finish();
        assert_eq!(code_a, 0, "{stderr_a}");
        let (got, counts) = union(&[out_a, out_b]);
        assert_eq!(got, expected, "the union differs from a one-process crawl");
        // What the dead node had in flight may be fetched again; nothing else.
        let in_flight = if mode == "sequential" { 1 } else { 4 };
        let twice = fetched_twice(&s);
        assert!(twice.len() <= in_flight, "fetched twice: {twice:?}");
        let recorded_twice = counts.values().filter(|&&n| n > 1).count();
        assert!(recorded_twice <= in_flight, "{recorded_twice} URLs recorded twice");
        let summary = summary.expect("summary");
        assert!(summary["shared"]["reclaimed"].as_u64().unwrap_or(0) > 0, "{stderr_a}");
    }
}

/// A dead host (it accepts and never answers) and a slow live one, their 100 pages each
/// interleaved as seeds.
fn dead_beside_live() -> (HostileServer, FixtureServer, String) {
    let dead = HostileServer::start().expect("hostile server starts");
    let live = server_with(Options {
        pages: 400,
        latency: Duration::from_millis(100),
        ..Options::default()
    });
    let seeds: String = (0..100)
        .flat_map(|i| {
            [
                dead.url(&format!("/silent?{i}")),
                live.url(&format!("/gen/{i}")),
            ]
        })
        .map(|url| url + "\n")
        .collect();
    (dead, live, seeds)
}

/// One page at a time per node; a host paused at its first timeout, given up after `probes`.
fn breaker_args(probes: &'static str) -> [&'static str; 12] {
    [
        "-j",
        "1",
        "--timeout",
        "1",
        "--retries",
        "0",
        "--lease",
        "2",
        "--host-failures",
        "1",
        "--host-probes",
        probes,
    ]
}

#[test]
fn a_host_one_node_paused_waits_for_its_probe_on_every_node() {
    // Node b joins while node a has the dead host paused: b holds it for as long as a probes
    // it (two probes), then hears it given up. Every request the dead host saw is a's.
    let redis = RedisServer::start();
    let (dead, _live, seeds) = dead_beside_live();
    let args = breaker_args("2");
    let mut a = Node::start("async", &redis.url(), "held", Some(&seeds), &args);
    wait_for_crawl(&redis, "held", &mut a);
    let origin = dead.url("").trim_end_matches('/').to_string();
    let started = Instant::now();
    while redis
        .cli(&["ZSCORE", "crawl:{held}:holds", &origin])
        .trim()
        .is_empty()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "node a never paused the host"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let b = Node::start("processes", &redis.url(), "held", None, &args);
    let (code_a, stderr_a, summary_a, out_a) = a.finish();
    let (code_b, stderr_b, summary_b, out_b) = b.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    assert_eq!(
        dead.hits("/silent"),
        1 + 2,
        "a's timeout and a's two probes, nothing of b's"
    );
    let (a, b) = (summary_a.expect("summary"), summary_b.expect("summary"));
    assert_eq!(
        (a["host_pauses"].as_u64(), a["host_probes"].as_u64()),
        (Some(1), Some(2)),
        "{a}"
    );
    assert_eq!(
        (b["host_pauses"].as_u64(), b["host_probes"].as_u64()),
        (Some(0), Some(0)),
        "{b}"
    );
    let b_gone = records_in(&out_b)
        .into_iter()
        .filter(|r| r.url.starts_with(&origin))
        .count();
    assert!(
        b_gone > 0,
        "node b took pages of the dead host:\n{stderr_b}"
    );
    let (depths, counts) = union(&[out_a, out_b]);
    assert_eq!(depths.len(), 200);
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
}

#[test]
fn a_host_one_node_gave_up_is_given_up_by_every_node_without_asking_it_again() {
    // Node a pauses the dead host after one timeout, probes it once, and gives it up; node b,
    // started only then, takes pages of it and records them at once, with a's reason: no
    // request of b reaches it.
    let redis = RedisServer::start();
    let (dead, _live, seeds) = dead_beside_live();
    let args = breaker_args("1");
    let mut a = Node::start("async", &redis.url(), "gone", Some(&seeds), &args);
    wait_for_crawl(&redis, "gone", &mut a);
    let origin = dead.url("").trim_end_matches('/').to_string();
    let started = Instant::now();
    let reason = loop {
        let reason = redis.cli(&["HGET", "crawl:{gone}:gone", &origin]);
        if !reason.trim().is_empty() {
            break reason.trim().to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "node a never gave the host up"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        reason.starts_with("1 consecutive timeouts; paused, and 1 probe over "),
        "{reason}"
    );
    let asked = dead.hits("/silent");
    assert_eq!(asked, 2, "one timeout, one probe");
    let b = Node::start("threads", &redis.url(), "gone", None, &args);
    let (code_a, stderr_a, _, out_a) = a.finish();
    let (code_b, stderr_b, summary_b, out_b) = b.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    assert_eq!(
        dead.hits("/silent"),
        asked,
        "node b asked the dead host nothing"
    );
    let b_gone: Vec<Record> = records_in(&out_b)
        .into_iter()
        .filter(|r| r.url.starts_with(&origin))
        .collect();
    assert!(
        !b_gone.is_empty(),
        "node b took pages of the dead host:\n{stderr_b}"
    );
    for r in &b_gone {
        assert_eq!(
            r.error.as_deref(),
            Some(&*format!("host unreachable: {reason}")),
            "{r:?}"
        );
        assert_eq!(r.attempts, 0, "{r:?}");
    }
    let summary_b = summary_b.expect("summary");
    assert_eq!(
        summary_b["hosts_given_up"], 0,
        "b heard it, it did not find it: {summary_b}"
    );
    let (depths, counts) = union(&[out_a, out_b]);
    assert_eq!(depths.len(), 200);
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
}

#[test]
fn a_run_of_failures_is_counted_over_every_node() {
    // --host-failures 4 over two nodes: the dead host is paused after 4 timeouts in all, not
    // 4 on one node (as many as 7 before, the other node's 3 not counting), then probed once
    // and given up. Requests it saw: 4, at most one more in flight on the other node when the
    // pause came, and the probe.
    let redis = RedisServer::start();
    let (dead, _live, seeds) = dead_beside_live();
    let mut args = breaker_args("1");
    args[9] = "4";
    let mut a = Node::start("async", &redis.url(), "count", Some(&seeds), &args);
    wait_for_crawl(&redis, "count", &mut a);
    let b = Node::start("threads", &redis.url(), "count", None, &args);
    let (code_a, stderr_a, summary_a, out_a) = a.finish();
    let (code_b, stderr_b, summary_b, out_b) = b.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    let asked = dead.hits("/silent");
    assert!(
        (4 + 1..=4 + 1 + 1).contains(&asked),
        "the dead host saw {asked} requests"
    );
    let pauses: u64 = [&summary_a, &summary_b]
        .iter()
        .filter_map(|s| s.as_ref()?["host_pauses"].as_u64())
        .sum();
    assert_eq!(pauses, 1, "one pause for the whole crawl");
    let origin = dead.url("").trim_end_matches('/').to_string();
    let reason = redis.cli(&["HGET", "crawl:{count}:gone", &origin]);
    assert!(reason.contains("consecutive timeouts"), "{reason}");
    let (depths, counts) = union(&[out_a, out_b]);
    assert_eq!(depths.len(), 200);
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
}

#[test]
fn the_cookie_jar_is_the_whole_crawls() {
    // Node a fetches /cookie/set (session=abc123, for /cookie) and is stopped; node b takes the
    // pages it links to (after a's leases run out) and sends the cookie a was given, only
    // within its Path, as one process does (sessions.rs).
    let redis = RedisServer::start();
    let s = server_with(Options {
        latency: Duration::from_millis(300),
        ..Options::default()
    });
    let seeds = format!("{}\n", s.url("/cookie/set"));
    let args = [
        "--cookies",
        "-j",
        "1",
        "--depth",
        "1",
        "--lease",
        "2",
        "--timeout",
        "1",
    ];
    let mut a = Node::start("async", &redis.url(), "jar", Some(&seeds), &args);
    wait_for_crawl(&redis, "jar", &mut a);
    // Stopped once /cookie/set is finished in Redis, not only written (else its lease runs
    // out and b fetches it again); a is then fetching a linked page (300 ms), which b takes.
    let started = Instant::now();
    while redis
        .cli(&["HGET", "crawl:{jar}:tally", "records"])
        .trim()
        .parse::<u64>()
        .unwrap_or(0)
        < 1
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a never finished /cookie/set"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    kill(a.pid(), Signal::SIGSTOP).expect("stop node a");
    let b = Node::start("threads", &redis.url(), "jar", None, &args);
    let (code_b, stderr_b, summary_b, out_b) = b.finish();
    kill(a.pid(), Signal::SIGCONT).expect("wake node a");
    let (code_a, stderr_a, _, out_a) = a.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    let b_records = records_in(&out_b);
    let title = |path: &str| {
        b_records
            .iter()
            .find(|r| r.url == s.url(path))
            .map(|r| r.title.clone().unwrap_or_default())
    };
    assert_eq!(
        title("/cookie/check").as_deref(),
        Some("Cookie: session=abc123"),
        "{stderr_b}"
    );
    assert_eq!(title("/elsewhere/check").as_deref(), Some("Cookie: none"));
    assert_eq!(
        summary_b.expect("summary")["cookies"],
        1,
        "b's jar holds the cookie it never was sent"
    );
    let (depths, counts) = union(&[out_a, out_b]);
    assert_eq!(depths.len(), 3);
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
}

/// Runs the `account_orders` example as a node of crawl `id`, in `mode`, against the shop on
/// `s`, with `password`, next to `others`: each node's exit code, stdout and stderr.
fn orders_nodes(
    nodes: &[&str],
    redis: &RedisServer,
    s: &FixtureServer,
    id: &str,
    password: &str,
) -> Vec<(i32, String, String)> {
    let children: Vec<_> = nodes
        .iter()
        .map(|mode| {
            std::process::Command::new(crate::examples::example("account_orders"))
                .args([
                    "--mode",
                    mode,
                    "--password",
                    password,
                    "--shop",
                    &s.url("/"),
                ])
                .args(["--frontier", &redis.url(), "--crawl-id", id])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the example starts")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("the example runs");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

#[test]
fn the_login_is_sent_once_for_the_whole_crawl() {
    // As in one process (examples.rs): the login opens the session every page behind it
    // needs, and a wrong password stops the crawl before anything else is fetched. Across
    // nodes started together, one sends the login; the others wait for it (the login is slow
    // here), then send its session's cookie, or stop with its failure.
    let redis = RedisServer::start();
    let s = server_with(Options {
        latency: Duration::from_millis(200),
        ..Options::default()
    });
    let opened = "another node opened the crawl's session";
    for (id, modes) in [
        ("login-1", ["processes", "threads"]),
        ("login-2", ["async", "sequential"]),
    ] {
        let before = s.hits("/shop/login");
        let results = orders_nodes(&modes, &redis, &s, id, "bean");
        let all: String = results.iter().map(|(_, _, e)| e.as_str()).collect();
        for (code, _, stderr) in &results {
            assert_eq!(*code, 0, "{modes:?}: {stderr}");
        }
        assert_eq!(s.hits("/shop/login") - before, 1, "{modes:?}: {all}");
        let waited = results
            .iter()
            .filter(|(_, _, e)| e.contains(opened))
            .count();
        assert_eq!(
            waited, 1,
            "{modes:?}: one node took the other's session\n{all}"
        );
        // Every order once, over the nodes, each read with the session.
        let mut lines: Vec<String> = results
            .iter()
            .flat_map(|(_, out, _)| out.lines().filter(|l| l.starts_with("Order ")))
            .map(str::to_owned)
            .collect();
        lines.sort_unstable();
        let mut want: Vec<String> = crawl_fixture::shop::ORDERS
            .iter()
            .map(|(n, total)| format!("Order {n}: {total}"))
            .collect();
        want.sort_unstable();
        assert_eq!(lines, want, "{modes:?}: {all}");
    }
    // A later run of the crawl (no node of the first is live) opens a session of its own:
    // the first may have expired.
    let before = s.hits("/shop/login");
    let results = orders_nodes(&["async"], &redis, &s, "login-1", "bean");
    assert_eq!(results[0].0, 0, "{}", results[0].2);
    assert_eq!(s.hits("/shop/login") - before, 1, "{}", results[0].2);
    // A wrong password: one login, and both nodes stop with its 401, nothing behind it fetched.
    let (before, account) = (s.hits("/shop/login"), s.hits("/shop/account"));
    let results = orders_nodes(&["threads", "processes"], &redis, &s, "login-3", "wrong");
    let all: String = results.iter().map(|(_, _, e)| e.as_str()).collect();
    assert_eq!(s.hits("/shop/login") - before, 1, "{all}");
    assert_eq!(s.hits("/shop/account"), account, "{all}");
    for (code, out, stderr) in &results {
        assert_eq!(*code, 1, "{stderr}");
        assert!(stderr.contains("/shop/login failed: http 401"), "{stderr}");
        assert!(!out.contains("Order"), "{out}");
    }
}

#[test]
fn a_node_stopped_while_it_logs_in_gives_the_turn_back() {
    // The login takes longer than the 5 s grace period: Ctrl-C abandons it, and the node
    // gives the crawl's turn to log in back at once, rather than holding it for a lease (60 s)
    // while the other nodes wait.
    let redis = RedisServer::start();
    let s = server_with(Options {
        latency: Duration::from_secs(8),
        ..Options::default()
    });
    let node = std::process::Command::new(crate::examples::example("account_orders"))
        .args(["--mode", "async", "--shop", &s.url("/")])
        .args(["--frontier", &redis.url(), "--crawl-id", "turn"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the example starts");
    let started = Instant::now();
    while s.hits("/shop/login") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no login was sent"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let turn = redis.cli(&["GET", "crawl:{turn}:login"]);
    assert!(
        turn.starts_with("run "),
        "the node holds the turn: {turn:?}"
    );
    kill(Pid::from_raw(node.id() as i32), Signal::SIGINT).expect("interrupt the node");
    let out = node.wait_with_output().expect("the node ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert_eq!(
        redis.cli(&["GET", "crawl:{turn}:login"]).trim(),
        "",
        "{stderr}"
    );
}

/// Runs a `--sitemaps` crawl of the hand-written site from `seed` on two nodes (the creator
/// in `modes[0]` with `args`, a joiner without seeds, which takes the crawl's settings): every
/// record, and each node's summary. Counts in `joined` the records the joiner wrote.
fn sitemap_crawl(
    redis: &RedisServer,
    s: &FixtureServer,
    (id, seed): (&str, &str),
    modes: [&str; 2],
    args: &[&str],
    joined: &mut usize,
) -> (Vec<Record>, Vec<serde_json::Value>) {
    let seeds = format!("{}\n", s.url(seed));
    let mut all = vec!["--sitemaps", "-j", "1"];
    all.extend_from_slice(args);
    let mut a = Node::start(modes[0], &redis.url(), id, Some(&seeds), &all);
    wait_for_crawl(redis, id, &mut a);
    let b = Node::start(modes[1], &redis.url(), id, None, &["-j", "1"]);
    let (mut records, mut summaries) = (Vec::new(), Vec::new());
    for (i, node) in [a, b].into_iter().enumerate() {
        let (code, stderr, summary, out) = node.finish();
        assert_eq!(code, 0, "{modes:?}: {stderr}");
        let mine = records_in(&out);
        // A seed host's sitemaps to find (`/sitemap.xml#sitemaps` in Redis) are never a record.
        assert!(mine.iter().all(|r| !r.url.contains('#')), "{mine:?}");
        if i == 1 {
            *joined += mine.len();
        }
        records.extend(mine);
        let _ = std::fs::remove_file(&out);
        summaries.push(summary.expect("summary"));
    }
    (records, summaries)
}

#[test]
fn sitemaps_are_read_once_for_the_whole_crawl() {
    // The assertions of the one-process test (crawl.rs, sitemaps_add_pages_no_link_reaches),
    // over two nodes: each seed origin's sitemaps (those robots.txt names) read once by one of
    // them, the pages they list at depth 0 even where a link reaches them first, and the
    // union the one-process crawl's records, URL for URL and depth for depth.
    let redis = RedisServer::start();
    let mut joined = 0;
    let s = server_with(Options {
        latency: Duration::from_millis(150),
        ..Options::default()
    });
    let one = CrawlCmd::new()
        .mode("async")
        .seeds(&[s.url("/contact.html")])
        .args(["--sitemaps"])
        .run();
    one.assert_ok();
    let expected = one.depths();
    s.reset();
    for (id, modes, args) in [
        ("maps-1", ["processes", "threads"], &[][..]),
        ("maps-2", ["async", "sequential"], &["--shards", "4"][..]),
    ] {
        let (records, summaries) =
            sitemap_crawl(&redis, &s, (id, "/contact.html"), modes, args, &mut joined);
        // Done and admitted count every record, sitemaps too, and not the seed's
        // /sitemap.xml, which robots.txt made needless (one process never admits it).
        let status = status(&redis.url(), id);
        assert_eq!(status["done"], records.len(), "{status}");
        assert_eq!(status["admitted"], records.len(), "{status}");
        assert_eq!(status["finished"], true, "{status}");
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &records {
            *counts.entry(r.url.as_str()).or_default() += 1;
        }
        assert!(
            counts.values().all(|&n| n == 1),
            "{modes:?}: recorded twice: {counts:?}"
        );
        let got: BTreeMap<String, u32> = records.iter().map(|r| (r.url.clone(), r.depth)).collect();
        assert_eq!(
            got, expected,
            "{modes:?}: the union differs from a one-process crawl"
        );
        let get = |path: &str| {
            records
                .iter()
                .find(|r| r.url == s.url(path))
                .unwrap_or_else(|| panic!("{modes:?}: no record of {path}"))
        };
        for (path, title) in [
            ("/only/sitemap?a=1&b=2", "Only sitemap"),
            ("/only/gzipped", "Only gzipped"),
            ("/only/before-the-break", "Only before-the-break"),
        ] {
            let r = get(path);
            assert_eq!(
                (r.title.as_deref(), r.depth, r.error.as_deref()),
                (Some(title), 0, None),
                "{modes:?}: {path}"
            );
        }
        assert_eq!(
            get("/about.html").depth,
            0,
            "{modes:?}: listed, and linked from the seed"
        );
        for file in ["index.xml", "pages.xml", "more.xml.gz"] {
            assert_eq!(
                get(&format!("/sitemaps/{file}")).error,
                None,
                "{modes:?}: {file}"
            );
        }
        let broken = get("/sitemaps/broken.xml")
            .error
            .clone()
            .unwrap_or_default();
        assert!(broken.starts_with("bad sitemap: not XML"), "{broken}");
        assert_eq!(s.hits("/sitemaps/index.xml"), 1, "{modes:?}");
        assert_eq!(
            s.hits("/sitemap.xml"),
            0,
            "{modes:?}: robots.txt named the sitemaps"
        );
        let sum = |key: &dyn Fn(&serde_json::Value) -> &serde_json::Value| {
            summaries
                .iter()
                .map(|v| key(v).as_u64().unwrap_or(0))
                .sum::<u64>()
        };
        assert_eq!(sum(&|v| &v["sitemaps"]), 4, "{modes:?}: {summaries:?}");
        assert_eq!(
            sum(&|v| &v["skipped"]["out_of_scope"]),
            1,
            "{modes:?}: the off-site URL is not fetched"
        );
        s.reset();
    }
    // A page a link reaches first is at depth 0 all the same when a sitemap lists it: the
    // links of the front page (/about.html among them) wait until every sitemap is read.
    let one = CrawlCmd::new()
        .mode("threads")
        .seeds(&[s.url("/index.html")])
        .args(["--sitemaps", "-d", "3"])
        .run();
    one.assert_ok();
    let expected = one.depths();
    assert_eq!(expected.get(&s.url("/about.html")), Some(&0));
    assert!(expected.len() > 20, "{expected:?}");
    s.reset();
    for (id, modes, shards) in [
        ("maps-3", ["threads", "processes"], "1"),
        ("maps-4", ["processes", "async"], "4"),
    ] {
        let args = ["-d", "3", "--shards", shards];
        let (records, _) =
            sitemap_crawl(&redis, &s, (id, "/index.html"), modes, &args, &mut joined);
        let got: BTreeMap<String, u32> = records.iter().map(|r| (r.url.clone(), r.depth)).collect();
        assert_eq!(
            got, expected,
            "{modes:?}, {shards} shards: the union differs"
        );
        assert_eq!(
            records.len(),
            expected.len(),
            "{modes:?}: a URL recorded twice"
        );
        s.reset();
    }
    // Without robots.txt, /sitemap.xml is read, once.
    let (records, _) = sitemap_crawl(
        &redis,
        &s,
        ("maps-5", "/contact.html"),
        ["threads", "async"],
        &["--ignore-robots"],
        &mut joined,
    );
    let fallback = records
        .iter()
        .find(|r| r.url == s.url("/only/fallback"))
        .expect("a record of /only/fallback");
    assert_eq!(fallback.depth, 0);
    assert_eq!(s.hits("/sitemap.xml"), 1);
    s.reset();
    // --max-pages counts sitemaps like pages, the seed first, as one process does; a seed
    // host's /sitemap.xml that robots.txt made needless takes no page of it.
    for max in ["1", "3"] {
        let one = CrawlCmd::new()
            .mode("async")
            .seeds(&[s.url("/contact.html")])
            .args(["--sitemaps", "--max-pages", max])
            .run();
        one.assert_ok();
        s.reset();
        let id = format!("maps-max-{max}");
        let args = ["--max-pages", max];
        let (records, _) = sitemap_crawl(
            &redis,
            &s,
            (&id, "/contact.html"),
            ["async", "processes"],
            &args,
            &mut joined,
        );
        assert_eq!(
            records.len(),
            one.records.len(),
            "--max-pages {max}: {records:?}"
        );
        assert!(
            records.iter().any(|r| r.url == s.url("/contact.html")),
            "the seed"
        );
        s.reset();
    }
    // The joiners shared the work (in some of these crawls at least: one may start late).
    assert!(joined > 0, "no joiner wrote a record");
}

#[test]
fn three_nodes_in_three_modes_crawl_the_site_once() {
    let redis = RedisServer::start();
    let s = site(10);
    let expected = reference("async", &s);
    let modes = ["async", "threads", "processes"];
    let (results, got, counts) = crawl_together(&redis, &s, "three", &modes, &["-j", "4"]);
    for (code, stderr, _) in &results {
        assert_eq!(*code, 0, "a node failed:\n{stderr}");
    }
    assert_eq!(got, expected);
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
    assert!(fetched_twice(&s).is_empty());
}

#[test]
fn a_node_stopped_past_its_lease_drops_its_pages_and_records_nothing_twice() {
    let redis = RedisServer::start();
    let s = site(50);
    let expected = reference("async", &s);
    let url = redis.url();
    let args = ["-j", "4", "--lease", "3", "--timeout", "1.5"];
    let a = Node::create("async", &redis, &s, "pause", &args);
    let b = Node::start("threads", &url, "pause", None, &args);
    b.wait_for_records(10);
    wait_for_lease(&redis, "pause", &b);
    kill(b.pid(), Signal::SIGSTOP).expect("stop node b");
    std::thread::sleep(Duration::from_secs(7));
    kill(b.pid(), Signal::SIGCONT).expect("wake node b");
    let (code_b, stderr_b, summary_b, out_b) = b.finish();
    let (code_a, stderr_a, _, out_a) = a.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    let (got, counts) = union(&[out_a, out_b]);
    assert_eq!(got, expected);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "recorded twice: {twice:?}");
    let summary_b = summary_b.expect("summary");
    assert!(
        summary_b["shared"]["dropped"].as_u64().unwrap_or(0) > 0,
        "the woken node kept results whose lease had gone:\n{stderr_b}"
    );
}

#[test]
fn the_rate_limit_holds_across_three_nodes() {
    let redis = RedisServer::start();
    let s = server_with(Options {
        pages: 400,
        log_requests: true,
        ..Options::default()
    });
    let rate = 30.0;
    let r = "30";
    let modes = ["async", "threads", "processes"];
    let (results, got, _) = crawl_together(
        &redis,
        &s,
        "rate",
        &modes,
        &["-j", "4", "--rate", r, "--max-pages", "330"],
    );
    for (code, stderr, _) in &results {
        assert_eq!(*code, 0, "a node failed:\n{stderr}");
    }
    assert_eq!(got.len(), 330);
    // Over the middle of the crawl (the first and last second aside), the server saw the
    // asked rate from the three nodes together.
    let times: Vec<Instant> = s
        .requests()
        .into_iter()
        .filter(|(p, _)| p.starts_with("/gen/"))
        .map(|(_, t)| t)
        .collect();
    let (first, last) = (times[0], times[times.len() - 1]);
    let (from, to) = (
        first + Duration::from_secs(1),
        last - Duration::from_secs(1),
    );
    let n = times.iter().filter(|t| **t >= from && **t < to).count() as f64;
    let achieved = n / (to - from).as_secs_f64();
    assert!(
        (achieved - rate).abs() <= rate * 0.02 + 1.0 / (to - from).as_secs_f64(),
        "{achieved:.2} requests/s across three nodes, asked {rate}"
    );
}

#[test]
fn a_crawl_survives_a_redis_restart_and_a_stall() {
    let mut redis = RedisServer::start();
    let s = site(20);
    let expected = reference("async", &s);
    let url = redis.url();
    let args = ["-j", "4", "--lease", "10", "--timeout", "5"];
    let a = Node::create("async", &redis, &s, "ride", &args);
    let b = Node::start("processes", &url, "ride", None, &args);
    b.wait_for_records(40);
    redis.stall(Duration::from_secs(3));
    b.wait_for_records(b.records() + 20);
    redis.restart();
    let (code_a, stderr_a, _, out_a) = a.finish();
    let (code_b, stderr_b, _, out_b) = b.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    let (got, counts) = union(&[out_a, out_b]);
    assert_eq!(got, expected);
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
}

#[test]
fn nodes_ride_out_a_redis_outage_longer_than_their_lease() {
    let redis = RedisServer::start();
    let s = site(20);
    let expected = reference("async", &s);
    let args = ["-j", "4", "--lease", "2", "--timeout", "1"];
    let a = Node::create("async", &redis, &s, "outage", &args);
    let b = Node::start("processes", &redis.url(), "outage", None, &args);
    b.wait_for_records(30);
    a.wait_for_records(30);
    // Frozen for more than twice the lease: every lease runs out meanwhile, by Redis's clock.
    redis.pause();
    std::thread::sleep(Duration::from_secs(5));
    let frozen = (a.records(), b.records());
    redis.resume();
    let (code_a, stderr_a, sum_a, out_a) = a.finish();
    let (code_b, stderr_b, sum_b, out_b) = b.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    // The outage was felt: leases ran out and were taken back (or found gone and dropped).
    let felt: u64 = [&sum_a, &sum_b]
        .iter()
        .filter_map(|s| s.as_ref()?.get("shared").cloned())
        .map(|s| s["reclaimed"].as_u64().unwrap_or(0) + s["dropped"].as_u64().unwrap_or(0))
        .sum();
    assert!(felt > 0, "no lease ran out: {sum_a:?} {sum_b:?}");
    assert!(
        frozen.0 + frozen.1 < PAGES,
        "the crawl ended before the outage: {frozen:?}"
    );
    let (got, counts) = union(&[out_a, out_b]);
    assert_eq!(got, expected, "pages lost across the outage");
    // A page recorded twice was in flight when Redis froze: at most 4 a node.
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.len() <= 8, "recorded twice: {twice:?}");
}

#[test]
fn a_crawl_spread_over_shards_gives_the_one_process_records() {
    // Several shards on one Redis: the layout a cluster gets, with its gate for exact depths
    // and its sweep for the end, checked where faults are easy to make.
    let redis = RedisServer::start();
    let s = site(5);
    let expected = reference("async", &s);
    let args = ["-j", "4", "--shards", "4", "--expect-urls", "2000"];
    let (ended, got, counts) = crawl_together(&redis, &s, "spread", &["async", "threads"], &args);
    for (code, stderr, _) in &ended {
        assert_eq!(*code, 0, "{stderr}");
    }
    assert_eq!(got, expected);
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
    // The crawl's own keys in its slot, the pages' in their host's shard.
    assert_eq!(redis.cli(&["EXISTS", "crawl:{spread}:meta"]), "1");
    assert_eq!(redis.cli(&["EXISTS", "crawl:{spread}:queue"]), "0");
    let keys = redis.cli(&["KEYS", "crawl:{spread/*"]);
    assert!(keys.lines().any(|k| k.ends_with(":tally")), "{keys}");
}

/// `crawl status --frontier URL --crawl-id ID --json`: the crawl as a whole.
pub(crate) fn status(frontier: &str, id: &str) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crawl"))
        .args(["status", "--frontier", frontier, "--crawl-id", id, "--json"])
        .output()
        .expect("crawl status runs");
    assert!(
        out.status.success(),
        "crawl status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("crawl status --json prints one object")
}

#[test]
fn crawl_status_shows_the_whole_crawl_and_changes_nothing() {
    let redis = RedisServer::start();
    let s = site(20);
    let args = ["-j", "4"];
    let a = Node::create("async", &redis, &s, "seen", &args);
    let b = Node::start("threads", &redis.url(), "seen", None, &args);
    a.wait_for_records(40);
    b.wait_for_records(10);
    // Mid-crawl: both nodes live, each with its pace; what is done is at most what is written
    // (a record reaches the file before its page is finished in Redis).
    let mid = status(&redis.url(), "seen");
    let written = a.records() + b.records();
    assert_eq!(mid["finished"], false, "{mid}");
    assert_eq!(mid["nodes"].as_array().map(Vec::len), Some(2), "{mid}");
    let done = mid["done"].as_u64().unwrap_or(0);
    assert!(
        done > 0 && done as usize <= written,
        "done {done}, written {written}: {mid}"
    );
    let outstanding: u64 = mid["depths"]
        .as_object()
        .map(|d| {
            d.values()
                .map(|v| v["outstanding"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(
        outstanding,
        mid["queued"].as_u64().unwrap_or(0) + mid["leased"].as_u64().unwrap_or(0),
        "{mid}"
    );
    let (code_a, stderr_a, _, out_a) = a.finish();
    let (code_b, stderr_b, _, out_b) = b.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    let (got, _) = union(&[out_a, out_b]);
    // After: its counts are the records'.
    let keys_before = redis.cli(&["DBSIZE"]);
    let end = status(&redis.url(), "seen");
    assert_eq!(end["finished"], true, "{end}");
    assert_eq!(end["done"].as_u64(), Some(got.len() as u64), "{end}");
    assert_eq!(end["admitted"].as_u64(), Some(PAGES as u64), "{end}");
    assert_eq!(
        (end["queued"].as_u64(), end["leased"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(end["nodes"].as_array().map(Vec::len), Some(0), "{end}");
    assert!(end["memory_per_url"].as_f64().unwrap_or(0.0) > 0.0, "{end}");
    // Read only: nothing written.
    assert_eq!(redis.cli(&["DBSIZE"]), keys_before);
    // A crawl that is not there is said so.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crawl"))
        .args(["status", "--frontier", &redis.url(), "--crawl-id", "nope"])
        .output()
        .expect("crawl status runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--crawl-id nope: no such crawl"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stop_crawl_stops_every_node_and_a_rerun_finishes_the_crawl() {
    let redis = RedisServer::start();
    let s = site(30);
    let expected = reference("async", &s);
    let url = redis.url();
    let a = Node::create("async", &redis, &s, "halt", &["-j", "4"]);
    let b = Node::start("threads", &url, "halt", None, &["-j", "4"]);
    b.wait_for_records(20);
    let stop = CrawlCmd::bare()
        .args(["--frontier", &url, "--crawl-id", "halt", "--stop-crawl"])
        .stdin("")
        .run();
    stop.assert_ok();
    let (code_a, stderr_a, _, out_a) = a.finish();
    let (code_b, stderr_b, _, out_b) = b.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    assert!(stderr_a.contains("stopped with"), "{stderr_a}");
    // Every lease went back: the crawl goes on when a node joins it again.
    assert_eq!(redis.cli(&["ZCARD", "crawl:{halt}:leases"]), "0");
    let c = Node::start("processes", &url, "halt", None, &["-j", "4"]);
    // A node joining after the stop: the stop was for the nodes running then.
    let (code_c, stderr_c, _, out_c) = c.finish();
    assert_eq!(code_c, 0, "{stderr_c}");
    assert!(stderr_c.contains("finished"), "{stderr_c}");
    let (got, counts) = union(&[out_a, out_b, out_c]);
    assert_eq!(got, expected);
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
}

/// Runs one node that should be refused, and returns its exit code and stderr.
fn refused(args: &[&str], stdin: &str) -> (i32, String) {
    let run = CrawlCmd::new().args(args).stdin(stdin).run();
    assert!(run.records.is_empty());
    (run.code, run.stderr)
}

#[test]
fn refusals_name_the_problem_and_never_the_password() {
    let s = site(0);
    let seeds = format!("{}\n", s.url("/gen/0"));
    // Nothing listens: exit 1, the URL named without its password.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dead = format!("redis://:s3cret@127.0.0.1:{port}/0");
    let (code, stderr) = refused(&["--frontier", &dead, "--crawl-id", "x", "-"], &seeds);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach Redis at redis://***@127.0.0.1:{port}/0"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");

    // A wrong password: exit 2, and it is not printed.
    let redis = RedisServer::start_with(RedisOptions {
        password: Some("right-one".into()),
        ..RedisOptions::default()
    });
    let wrong = format!("redis://:wrong-one@127.0.0.1:{}/0", redis.port());
    let (code, stderr) = refused(&["--frontier", &wrong, "--crawl-id", "x", "-"], &seeds);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert!(
        !stderr.contains("wrong-one") && !stderr.contains("right-one"),
        "{stderr}"
    );
    let url = redis.url();

    // A crawl id that is not a name.
    let (code, stderr) = refused(&["--frontier", &url, "--crawl-id", "a b", "-"], &seeds);
    assert_eq!(code, 2);
    assert!(stderr.contains("--crawl-id"), "{stderr}");

    // No patience at all with a lost Redis.
    let (code, stderr) = refused(
        &[
            "--frontier",
            &url,
            "--crawl-id",
            "x",
            "--redis-wait",
            "0",
            "-",
        ],
        &seeds,
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--redis-wait: must be more than 0 and at most 86400 seconds, got 0"),
        "{stderr}"
    );

    // Shards and sizes that are not numbers of them.
    for (flag, value, said) in [
        ("--shards", "0", "--shards: must be from 1 to 1024, got 0"),
        (
            "--expect-urls",
            "0",
            "--expect-urls: must be from 1 to 1000000000000, got 0",
        ),
    ] {
        let (code, stderr) = refused(
            &["--frontier", &url, "--crawl-id", "x", flag, value, "-"],
            &seeds,
        );
        assert_eq!(code, 2);
        assert!(stderr.contains(said), "{stderr}");
    }
    let (code, stderr) = refused(
        &[
            "--frontier",
            &url,
            "--crawl-id",
            "x",
            "--shards",
            "4",
            "--max-pages",
            "9",
            "-",
        ],
        &seeds,
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--shards: 4 shards cannot hold --max-pages"),
        "{stderr}"
    );

    // A crawl id whose key holds something else.
    redis.cli(&["SET", "crawl:{taken}:meta", "someone else's"]);
    let (code, stderr) = refused(&["--frontier", &url, "--crawl-id", "taken", "-"], &seeds);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a crawl of this crawler"), "{stderr}");
    assert_eq!(redis.cli(&["GET", "crawl:{taken}:meta"]), "someone else's");

    // Joining a crawl that does not exist.
    let (code, stderr) = refused(&["--frontier", &url, "--crawl-id", "none"], "");
    assert_eq!(code, 2);
    assert!(stderr.contains("no such crawl"), "{stderr}");

    // Flags that disagree with the crawl's: a joining node's explicit --depth, a node with
    // other seeds, another --format.
    let run = CrawlCmd::new()
        .args([
            "--frontier",
            &url,
            "--crawl-id",
            "set",
            "-d",
            "1",
            "--max-pages",
            "2",
            "-",
        ])
        .stdin(&seeds)
        .run();
    run.assert_ok();
    let (code, stderr) = refused(&["--frontier", &url, "--crawl-id", "set", "-d", "3"], "");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--depth disagrees with crawl set, which has 1; this node has 3"),
        "{stderr}"
    );
    let other = format!("{}\n", s.url("/gen/1"));
    let (code, stderr) = refused(
        &["--frontier", &url, "--crawl-id", "set", "-d", "1", "-"],
        &other,
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("URLS_FILE disagrees"), "{stderr}");
    let (code, stderr) = refused(
        &["--frontier", &url, "--crawl-id", "set", "--format", "csv"],
        "",
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("--format disagrees"), "{stderr}");
    // A joiner without those flags takes the crawl's: it finds the crawl finished.
    let run = CrawlCmd::new()
        .args(["--frontier", &url, "--crawl-id", "set"])
        .stdin("")
        .run();
    run.assert_ok();
    assert!(
        run.stderr.contains("whole crawl: 2 record(s)"),
        "{}",
        run.stderr
    );

    // --state belongs to a one-process crawl.
    let state = fresh_temp("shared", "state", "x");
    let (code, stderr) = refused(
        &[
            "--frontier",
            &url,
            "--crawl-id",
            "y",
            "--state",
            state.to_str().expect("UTF-8"),
            "-",
        ],
        &seeds,
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--frontier: cannot go with --state"),
        "{stderr}"
    );
}

#[test]
fn a_node_that_loses_redis_writes_what_it_fetched_then_exits_1_and_a_rerun_loses_nothing() {
    let mut redis = RedisServer::start();
    let s = site(50);
    let expected = reference("async", &s);
    let a = Node::create(
        "async",
        &redis,
        &s,
        "gone",
        &[
            "-j",
            "4",
            "--lease",
            "2",
            "--timeout",
            "1",
            "--redis-wait",
            "2",
        ],
    );
    a.wait_for_records(10);
    // The append-only file is synced every second: let it hold the crawl before the crash.
    std::thread::sleep(Duration::from_millis(1200));
    redis.kill();
    let (code, stderr, _, out_a) = a.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("lost Redis at redis://127.0.0.1:") && stderr.contains("--redis-wait"),
        "{stderr}"
    );
    // Every page the server answered has its record: the pages in flight were written.
    let written = records_in(&out_a);
    let served: Vec<String> = s
        .hit_counts()
        .into_keys()
        .filter(|p| p.starts_with("/gen/"))
        .collect();
    assert!(
        written.len() < PAGES,
        "the crawl finished before Redis was lost"
    );
    for path in served {
        assert!(
            written.iter().any(|r| r.url == s.url(&path)),
            "{path} was fetched but has no record"
        );
    }
    // Redis comes back (from its append-only file) and a node joins again: the crawl ends
    // with every page recorded, at its depth.
    redis.restart();
    let b = Node::start(
        "threads",
        &redis.url(),
        "gone",
        None,
        &[
            "-j",
            "4",
            "--lease",
            "2",
            "--timeout",
            "1",
            "--redis-wait",
            "2",
        ],
    );
    let (code, stderr, _, out_b) = b.finish();
    assert_eq!(code, 0, "{stderr}");
    let (got, _) = union(&[out_a, out_b]);
    assert_eq!(got, expected, "the crawl lost pages across the Redis crash");
}

/// When each page of the fixture site (`/gen/*` or `/busy/*`) was asked for, in order.
fn page_times(s: &FixtureServer) -> Vec<Instant> {
    s.requests()
        .into_iter()
        .filter(|(p, _)| p.starts_with("/gen/") || p.starts_with("/busy/"))
        .map(|(_, t)| t)
        .collect()
}

/// Starts a creator (async) with `seeds` and a joiner (threads), and waits for both.
fn two_nodes(redis: &RedisServer, id: &str, seeds: &[String], args: &[&str]) -> Vec<PathBuf> {
    let seeds = seeds.join("\n") + "\n";
    let mut a = Node::start("async", &redis.url(), id, Some(&seeds), args);
    wait_for_crawl(redis, id, &mut a);
    let b = Node::start("threads", &redis.url(), id, None, args);
    let mut files = Vec::new();
    for node in [a, b] {
        let (code, stderr, _, out) = node.finish();
        assert_eq!(code, 0, "{stderr}");
        files.push(out);
    }
    files
}

#[test]
fn crawl_delay_paces_the_host_across_nodes() {
    let redis = RedisServer::start();
    let s = server_with(Options {
        crawl_delay: Some(0.3),
        log_requests: true,
        ..Options::default()
    });
    let seeds: Vec<String> = (0..8).map(|i| s.url(&format!("/gen/{i}"))).collect();
    let files = two_nodes(&redis, "delay", &seeds, &["-j", "4"]);
    let (got, _) = union(&files);
    assert_eq!(got.len(), 8);
    let at = page_times(&s);
    assert_eq!(at.len(), 8);
    for pair in at.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        // 300 ms apart by the shared limiter; 100 ms of slack for a loaded machine.
        assert!(
            gap >= Duration::from_millis(200),
            "{gap:?} between two nodes' requests"
        );
    }
}

#[test]
fn retry_after_holds_the_host_on_every_node() {
    let redis = RedisServer::start();
    // 100 ms a response: a node that did not hold the host would ask for its next page well
    // inside the pause.
    let s = server_with(Options {
        latency: Duration::from_millis(100),
        log_requests: true,
        ..Options::default()
    });
    let seeds: Vec<String> = (1..=8).map(|i| s.url(&format!("/busy/{i}"))).collect();
    let args = ["-j", "2", "--per-host-workers", "1", "--ignore-robots"];
    let files = two_nodes(&redis, "hold", &seeds, &args);
    let (got, _) = union(&files);
    assert_eq!(got.len(), 8);
    // The first page got 503 with Retry-After: 1 (after 100 ms). The other node hears of it
    // at its next look at the crawl (every 100 ms while it has work); after that, no page of
    // the host was asked for until the second was over.
    let at = page_times(&s);
    assert_eq!(at.len(), 9, "eight pages and one retry");
    let quiet = (
        at[0] + Duration::from_millis(250),
        at[0] + Duration::from_millis(950),
    );
    let during: Vec<_> = at
        .iter()
        .filter(|t| **t > quiet.0 && **t < quiet.1)
        .map(|t| t.duration_since(at[0]))
        .collect();
    assert!(during.is_empty(), "requests during the pause: {during:?}");
}

/// CPU seconds (user + system) a running process has used so far.
fn cpu_seconds(pid: Pid) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    // /proc counts in USER_HZ, 100 a second on Linux whatever the kernel's tick.
    let hz = 100.0;
    ticks / hz
}

every_mode! {
    fn a_stopped_node_keeps_its_slow_page_and_waits_without_spinning(mode) {
        let redis = RedisServer::start();
        let s = server_with(Options { log_requests: true, ..Options::default() });
        // One page that takes 4 s, more than a third of the lease: the node renews while it
        // waits for it, stopping. A lease must be at least twice --timeout (a node renews
        // between pages), in every mode.
        let seeds = format!("{}\n", s.url("/slow?ms=4000"));
        let url = redis.url();
        let args = ["-j", "2", "--grace", "8", "--ignore-robots", "--lease", "10", "--timeout", "5"];
        let mut a = Node::start(mode, &url, "slow", Some(&seeds), &args);
        wait_for_crawl(&redis, "slow", &mut a);
        let run = CrawlCmd::bare()
            .mode(mode)
            .args(["--frontier", &url, "--crawl-id", "slow", "--lease", "2"])
            .stdin("")
            .run();
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains("--lease: must be at least twice --timeout (30 s)"), "{}", run.stderr);
        let started = Instant::now();
        while s.hits("/slow") == 0 {
            assert!(started.elapsed() < Duration::from_secs(20), "the slow page was never asked for");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Node a has the page; b joins, and must not get it while a finishes it.
        let b = Node::start("async", &url, "slow", None, &["-j", "2", "--lease", "2", "--timeout", "1"]);
        kill(a.pid(), Signal::SIGINT).expect("Ctrl-C node a");
        let before = cpu_seconds(a.pid());
        std::thread::sleep(Duration::from_secs(3));
        let spent = cpu_seconds(a.pid()) - before;
        assert!(spent < 0.5, "the stopping node used {spent:.2} CPU s in 3 s, waiting");
        let (code_a, stderr_a, _, out_a) = a.finish();
        let (code_b, stderr_b, _, out_b) = b.finish();
        assert_eq!(code_a, 130, "{stderr_a}");
        assert_eq!(code_b, 0, "{stderr_b}");
        let (got, counts) = union(&[out_a, out_b]);
        assert_eq!(got.len(), 1);
        assert!(counts.values().all(|&n| n == 1));
        // The stopping node renewed its lease while the page was slow: nobody fetched it again.
        assert_eq!(s.hits("/slow"), 1, "the slow page was fetched twice\n{stderr_a}\n{stderr_b}");
    }
}

#[test]
fn a_crawl_whose_keys_vanish_is_not_taken_for_finished() {
    let mut redis = RedisServer::start_with(RedisOptions {
        appendonly: false,
        ..RedisOptions::default()
    });
    let s = site(30);
    let args = ["-j", "4", "--lease", "5", "--timeout", "2.5"];
    let a = Node::create("threads", &redis, &s, "vanish", &args);
    a.wait_for_records(10);
    // Back at once, but empty: no append-only file.
    redis.restart();
    let (code, stderr, _, out) = a.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("the crawl's keys are gone from Redis"),
        "{stderr}"
    );
    assert!(!stderr.contains("finished"), "{stderr}");
    let (got, _) = union(&[out]);
    assert!(
        got.len() >= 10 && got.len() < PAGES,
        "{} records",
        got.len()
    );
}

#[test]
fn robots_txt_is_read_once_for_the_whole_crawl() {
    let redis = RedisServer::start();
    let s = site(20);
    let expected = reference("threads", &s);
    let url = redis.url();
    let a = Node::create("threads", &redis, &s, "robots", &["-j", "2"]);
    a.wait_for_records(5);
    // Node a has read robots.txt (its pages are recorded); b takes the crawl's verdict.
    let b = Node::start("processes", &url, "robots", None, &["-j", "4"]);
    let (code_b, stderr_b, summary_b, out_b) = b.finish();
    let (code_a, stderr_a, _, out_a) = a.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    let (got, _) = union(&[out_a, out_b]);
    assert_eq!(got, expected);
    assert!(
        summary_b.expect("summary")["ok"].as_u64().unwrap_or(0) > 0,
        "{stderr_b}"
    );
    assert_eq!(
        s.hits("/robots.txt"),
        1,
        "robots.txt read by more than one node"
    );
    assert!(
        redis
            .cli(&["GET", &format!("crawl:{{robots}}:robots:{}", s.url(""))])
            .starts_with('R')
    );
}

#[test]
fn rediss_needs_a_certificate_the_node_trusts() {
    let redis = RedisServer::start_with(RedisOptions {
        tls: true,
        password: Some("tls-secret".into()),
        ..RedisOptions::default()
    });
    let s = site(0);
    let seeds = format!("{}\n", s.url("/gen/0"));
    let url = redis.tls_url();
    assert!(url.starts_with("rediss://"), "{url}");
    // The test CA is not among the system's roots: refused, and said so.
    let (code, stderr) = refused(
        &["--frontier", &url, "--crawl-id", "tls", "-d", "2", "-"],
        &seeds,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("cannot reach Redis at rediss://***@127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(!stderr.contains("tls-secret"), "{stderr}");
    // Trusting it (SSL_CERT_FILE, which rustls-native-certs reads), the crawl runs over TLS.
    let ca = redis.ca_file();
    let run = CrawlCmd::new()
        .args(["--frontier", &url, "--crawl-id", "tls", "-d", "2", "-"])
        .stdin(&seeds)
        .env("SSL_CERT_FILE", &ca)
        .run();
    run.assert_ok();
    let plain = CrawlCmd::new()
        .mode("async")
        .seeds(&[s.url("/gen/0")])
        .args(["-d", "2"])
        .run();
    plain.assert_ok();
    let records = run.records.len();
    assert_eq!(records, plain.records.len(), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("whole crawl: {records} record(s)")),
        "{}",
        run.stderr
    );
    assert_eq!(redis.cli(&["EXISTS", "crawl:{tls}:meta"]), "1");
}

#[test]
fn the_per_host_cap_holds_across_nodes() {
    let redis = RedisServer::start();
    let s = server_with(Options {
        pages: 200,
        latency: Duration::from_millis(50),
        ..Options::default()
    });
    let url = redis.url();
    let args = ["-j", "8", "--per-host-workers", "4", "--ignore-robots"];
    let a = Node::create("async", &redis, &s, "cap", &args);
    let b = Node::start("threads", &url, "cap", None, &args);
    b.wait_for_records(3);
    // Both nodes are live and have looked at the crawl: from here on the cap is shared.
    std::thread::sleep(Duration::from_millis(300));
    s.reset();
    let (code_a, stderr_a, _, out_a) = a.finish();
    let (code_b, stderr_b, _, out_b) = b.finish();
    assert_eq!((code_a, code_b), (0, 0), "{stderr_a}\n{stderr_b}");
    let (got, _) = union(&[out_a, out_b]);
    assert_eq!(got.len(), 200);
    let most = s.max_in_flight();
    assert!(
        most <= 4,
        "{most} pages of one host in flight across two nodes, cap 4"
    );
    assert!(most >= 3, "the nodes never used the cap ({most} at most)");
}

#[test]
fn the_password_can_come_from_the_environment() {
    let redis = RedisServer::start_with(RedisOptions {
        password: Some("env-secret".into()),
        ..RedisOptions::default()
    });
    let s = site(0);
    let seeds = format!("{}\n", s.url("/gen/0"));
    let url = format!("redis://127.0.0.1:{}/0", redis.port());
    let run = |password: Option<&str>| {
        let command = CrawlCmd::new()
            .args(["--frontier", &url, "--crawl-id", "env", "-d", "1", "-"])
            .stdin(&seeds);
        let run = match password {
            Some(password) => command.env("CRAWL_REDIS_PASSWORD", password),
            None => command.env_remove("CRAWL_REDIS_PASSWORD"),
        }
        .run();
        (Some(run.code), run.stderr)
    };
    let (code, stderr) = run(None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    let (code, stderr) = run(Some("env-secret"));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("whole crawl: 11 record(s)"), "{stderr}");
    assert!(!stderr.contains("env-secret"), "{stderr}");
}

#[test]
fn path_rules_hold_for_the_whole_shared_crawl() {
    use crate::paths::{ONE_BOOK, logged, one_book, requested_once};
    let redis = RedisServer::start();
    let s = logged();
    let mut args = vec!["-j", "2"];
    args.extend_from_slice(&ONE_BOOK);
    let files = two_nodes(&redis, "paths", &[s.url("/library/")], &args);
    let (depths, counts) = union(&files);
    let recorded: std::collections::BTreeSet<String> =
        depths.keys().map(|u| u.replace(&s.url(""), "")).collect();
    assert_eq!(recorded, one_book("rust-book"));
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
    assert_eq!(requested_once(&s), one_book("rust-book"));
    // A node that joins with other rules is refused, naming the flag and both values.
    let (code, stderr) = refused(
        &[
            "--frontier",
            &redis.url(),
            "--crawl-id",
            "paths",
            "--allow-path",
            "/library/cargo-guide/",
        ],
        "",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--allow-path") && stderr.contains("/library/rust-book/"),
        "{stderr}"
    );
}
