//! A failing host, paused and probed before it is given up (issue 27), in every mode.
//!
//! `cargo bench --bench breaker` (about nine minutes; name cases to run fewer: `-- spike
//! outage`). Every run is the real `crawl` binary against servers on 127.0.0.1 started here,
//! read from its `--summary-json`:
//!
//! 1. `spike`: 2000 generated pages at 20 ms; one second in, every answer takes 2.5 s for 3 s,
//!    over `--timeout 2` (`-j 16 -d 1000`, the default per-host cap of 8).
//! 2. `outage`: the same site, gone for 5 s one second in (connections refused), then back on
//!    its port.
//! 3. `dead`: 400 pages on a server that accepts and never answers (`-j 4 --timeout 1
//!    --retries 1 --ignore-robots`).
//! 4. `closed`: 400 pages on a closed port (same flags, robots.txt obeyed).
//!
//! The table goes to `target/bench-results/breaker.md`.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::{crawl, machine, num, publish, wanted_parts};
use crawl_fixture::{FixtureServer, HostileServer, Options};
use serde_json::Value;

const MODES: [&str; 4] = ["sequential", "threads", "async", "processes"];
const PAGES: usize = 2000;

fn site() -> Options {
    Options {
        latency: Duration::from_millis(20),
        pages: PAGES,
        ..Options::default()
    }
}

/// `-j 16 -d 1000 --timeout 2` with the per-host cap a real site gets.
const SITE_ARGS: [&str; 8] = [
    "-j",
    "16",
    "-d",
    "1000",
    "--timeout",
    "2",
    "--per-host-workers",
    "8",
];
const DEAD_ARGS: [&str; 8] = [
    "-j",
    "4",
    "--timeout",
    "1",
    "--retries",
    "1",
    "--per-host-workers",
    "8",
];

fn spike(mode: &str) -> Value {
    let s = FixtureServer::start(site()).expect("fixture server");
    let seed = s.url("/gen/0");
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_secs(1));
            s.set_latency(Duration::from_millis(2500));
            std::thread::sleep(Duration::from_secs(3));
            s.set_latency(Duration::from_millis(20));
        });
        crawl(
            std::slice::from_ref(&seed),
            &[&["-m", mode][..], &SITE_ARGS].concat(),
        )
    })
}

fn outage(mode: &str) -> Value {
    let s = FixtureServer::start(site()).expect("fixture server");
    let (port, seed) = (s.port(), s.url("/gen/0"));
    std::thread::scope(|scope| {
        let back = scope.spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            drop(s);
            std::thread::sleep(Duration::from_secs(5));
            FixtureServer::start_on(port, site()).expect("the site comes back on its port")
        });
        let summary = crawl(&[seed], &[&["-m", mode][..], &SITE_ARGS].concat());
        drop(back.join());
        summary
    })
}

fn dead(mode: &str) -> Value {
    let h = HostileServer::start().expect("hostile server");
    let seeds: Vec<String> = (0..400).map(|i| h.url(&format!("/silent?{i}"))).collect();
    crawl(
        &seeds,
        &[&["-m", mode, "--ignore-robots"][..], &DEAD_ARGS].concat(),
    )
}

fn closed(mode: &str) -> Value {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let seeds: Vec<String> = (0..400)
        .map(|i| format!("http://127.0.0.1:{port}/p{i}"))
        .collect();
    crawl(&seeds, &[&["-m", mode][..], &DEAD_ARGS].concat())
}

/// A case's name, and the crawl it runs in a given mode.
type Case = (&'static str, fn(&str) -> Value);

fn main() {
    let wanted = wanted_parts();
    let cases: [Case; 4] = [
        ("spike", spike),
        ("outage", outage),
        ("dead", dead),
        ("closed", closed),
    ];
    let mut table = format!(
        "# A failing host: paused, probed, given up\n\n{}, one run each; \
         `cargo bench --bench breaker`.\n\n\
         | case | mode | pages | ok | unreachable | other failures | pauses | probes | given up | wall |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        machine()
    );
    for (name, run) in cases {
        if !wanted(name) {
            continue;
        }
        for mode in MODES {
            let started = Instant::now();
            let s = run(mode);
            let (ok, failed, unreachable) = (
                num(&s, &["ok"]),
                num(&s, &["failed"]),
                num(&s, &["unreachable"]),
            );
            let _ = writeln!(
                table,
                "| {name} | {mode} | {} | {ok} | {unreachable} | {} | {} | {} | {} | {:.1} s |",
                ok + failed,
                failed - unreachable,
                num(&s, &["host_pauses"]),
                num(&s, &["host_probes"]),
                num(&s, &["hosts_given_up"]),
                started.elapsed().as_secs_f64(),
            );
            eprintln!("{name} {mode}: done");
        }
    }
    publish("breaker", &table);
}
