//! Processes-mode benchmarks: what sharing nothing costs (the article's points 4 and 5).
//!
//! Run with `cargo bench --bench processes`. Each case runs the real `crawl` binary against the
//! fixture server on 127.0.0.1 and reads its `--summary-json`; every case runs `REPS` times and
//! the median is reported, all in one run so the ratios are comparable. The tables are printed
//! and written to `target/bench-results/processes.md`.
//!
//! 1. **Dedupe across processes**: the coordinator-owned set (every link crosses the socket,
//!    the "manager" pattern) against workers checking a shared-memory fingerprint table first
//!    (`--dedupe shared`), on a site with many links per page.
//! 2. **Start-up cost** (the article's 1,000 tiny tasks): one fork per page against a prefork
//!    pool, beside sequential and the in-process modes.

mod common;

use std::fmt::Write as _;

use common::{machine, num as f, publish};
use crawl_fixture::{FixtureServer, Options};
use serde_json::Value;

const REPS: usize = 3;

/// The median of `REPS` crawls of the generated site from /gen/0.
fn median(server: &FixtureServer, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--ignore-robots");
    common::median(REPS, || common::crawl(&[server.url("/gen/0")], &all))
}

fn dedupe_table(out: &mut String) {
    let server = FixtureServer::start(Options {
        pages: 3000,
        links: 40,
        ..Options::default()
    })
    .expect("fixture server");
    writeln!(
        out,
        "### Dedupe across processes: coordinator set vs shared-memory set\n"
    )
    .ok();
    writeln!(out, "3,000 generated pages of 3 KB with 40 links each, `--mode processes -j 4 -d 1000`, median of {REPS}.\n").ok();
    writeln!(out, "| dedupe | pages/s | bytes in per page | bytes out per page | coordinator µs per page | round-trip overhead µs |").ok();
    writeln!(out, "|---|---:|---:|---:|---:|---:|").ok();
    for dedupe in ["coordinator", "shared"] {
        let s = median(
            &server,
            &[
                "-m",
                "processes",
                "-j",
                "4",
                "-d",
                "1000",
                "--dedupe",
                dedupe,
            ],
        );
        let trips = f(&s, &["ipc", "round_trips"]).max(1.0);
        writeln!(
            out,
            "| {dedupe} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} |",
            f(&s, &["pages_per_s"]),
            f(&s, &["ipc", "bytes_in"]) / trips,
            f(&s, &["ipc", "bytes_out"]) / trips,
            f(&s, &["ipc", "coordinator_ms"]) * 1000.0 / trips,
            f(&s, &["ipc", "overhead_ms"]) * 1000.0 / trips,
        )
        .ok();
    }
    writeln!(out).ok();
}

fn startup_table(out: &mut String) {
    let server = FixtureServer::start(Options {
        pages: 1000,
        links: 2,
        page_kb: 1,
        ..Options::default()
    })
    .expect("fixture server");
    writeln!(
        out,
        "### Start-up cost: 1,000 tiny pages (1 KB, 2 links), median of {REPS}\n"
    )
    .ok();
    writeln!(
        out,
        "| how | pages/s | elapsed s | forks | coordinator µs per fork | round-trip overhead µs |"
    )
    .ok();
    writeln!(out, "|---|---:|---:|---:|---:|---:|").ok();
    let cases: [(&str, &[&str]); 6] = [
        ("sequential", &["-m", "sequential"]),
        ("threads, 4", &["-m", "threads", "-j", "4"]),
        ("async, 4", &["-m", "async", "-j", "4"]),
        (
            "processes, prefork pool of 4",
            &["-m", "processes", "-j", "4"],
        ),
        (
            "processes, fork per page, 4 at a time",
            &["-m", "processes", "-j", "4", "--fork-per-page"],
        ),
        (
            "processes, fork per page, 1 at a time",
            &["-m", "processes", "-j", "1", "--fork-per-page"],
        ),
    ];
    let mut bars: Vec<(String, f64)> = Vec::new();
    for (name, args) in cases {
        let mut all = args.to_vec();
        all.extend_from_slice(&["-d", "1000"]);
        let s = median(&server, &all);
        bars.push((name.to_owned(), f(&s, &["pages_per_s"])));
        let forks = f(&s, &["ipc", "forks"]);
        let trips = f(&s, &["ipc", "round_trips"]).max(1.0);
        let (fork_us, overhead_us) = if s["ipc"].is_null() {
            ("".to_owned(), "".to_owned())
        } else {
            (
                format!(
                    "{:.0}",
                    f(&s, &["ipc", "fork_ms"]) * 1000.0 / forks.max(1.0)
                ),
                format!("{:.0}", f(&s, &["ipc", "overhead_ms"]) * 1000.0 / trips),
            )
        };
        writeln!(
            out,
            "| {name} | {:.0} | {:.2} | {} | {fork_us} | {overhead_us} |",
            f(&s, &["pages_per_s"]),
            f(&s, &["elapsed_s"]),
            if s["ipc"].is_null() {
                String::new()
            } else {
                format!("{forks:.0}")
            },
        )
        .ok();
    }
    writeln!(out).ok();
    let title = "1,000 tiny pages: pages/s (log scale)";
    match common::bar_chart("processes-startup", title, "pages/s", true, &bars) {
        Ok(path) => writeln!(out, "![{title}]({})\n", path.display()).ok(),
        Err(e) => writeln!(out, "(chart not drawn: {e})\n").ok(),
    };
}

fn main() {
    let mut out = format!(
        "## Processes mode benchmarks\n\nMachine: {}.\n\n",
        machine()
    );
    dedupe_table(&mut out);
    startup_table(&mut out);
    publish("processes", &out);
}
