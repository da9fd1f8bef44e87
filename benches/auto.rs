//! `-j auto` beside the best fixed `-j`, in five scenarios (issue 14).
//!
//! `cargo bench --bench auto` (about eight minutes; name scenarios to run fewer: `-- capacity
//! rate`). Every run is the real `crawl` binary against an in-process fixture server, stopped
//! with SIGINT after a fixed time so that slow and fast settings cost the same, and read from
//! its `--summary-json` (pages/s over the whole run, ramp included; `-j auto`'s limit at every
//! control interval). Sequential mode is left out: it stays at one page in flight.
//!
//! 1. `latency`: 100 ms per response, a server with no limit. How close auto comes to the best
//!    fixed `-j`, and how soon its intervals reach 90% of that.
//! 2. `capacity`: `--capacity 32` and 20 ms of work per request: where auto settles, and the
//!    server's mean queueing time (under 20 ms keeps responses under twice the unloaded time).
//! 3. `cpu`: `--cpu-work 1000000` (about 2.4 ms of CPU per page), no latency: auto against the
//!    best fixed `-j`, and where it holds.
//! 4. `rate`: `--rate 200` at 20 ms: pages/s against the rate, and how small auto stays.
//! 5. `shift`: 5 ms per response, then 100 ms from 4 s on: how soon auto's intervals reach 90%
//!    of the best fixed `-j`'s pages/s at 100 ms (scenario 1, same run).
//!
//! Tables go to `target/bench-results/auto.md`; the limit and pages/s over time of scenarios 1
//! and 5 to `auto-*.svg`.

mod common;

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Series, line_chart, machine, num, publish, wanted_parts};
use crawl_fixture::{FixtureServer, Options};
use serde_json::Value;

/// How long each run crawls before SIGINT.
const RUN: Duration = Duration::from_secs(8);
/// Scenario 5's run, and when its latency shifts.
const SHIFT_RUN: Duration = Duration::from_secs(14);
const SHIFT_AT: Duration = Duration::from_secs(4);

/// The fixed `-j` swept per mode.
fn sweep(mode: &str) -> &'static [usize] {
    match mode {
        "threads" => &[4, 16, 64, 256],
        "async" => &[16, 64, 256, 1024],
        _ => &[4, 16, 64],
    }
}

const MODES: [&str; 3] = ["threads", "async", "processes"];

fn server(latency_ms: u64, capacity: Option<usize>) -> FixtureServer {
    FixtureServer::start(Options {
        latency: Duration::from_millis(latency_ms),
        capacity,
        pages: 400_000,
        ..Options::default()
    })
    .expect("fixture server")
}

/// Runs `crawl ARGS` against `server` for `run`, then SIGINT, and returns its summary. With
/// `during`, calls it once `at` into the run (scenario 5's shift).
fn crawl_for(
    server: &FixtureServer,
    args: &[&str],
    run: Duration,
    during: Option<(Duration, &dyn Fn())>,
) -> Value {
    let summary =
        std::env::temp_dir().join(format!("crawl-bench-auto-{}.json", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_crawl"))
        .args([
            "--per-host-workers",
            "0",
            "--ignore-robots",
            "--depth",
            "1000",
        ])
        .args(args)
        .args(["--progress", "never", "-o", "/dev/null", "--summary-json"])
        .arg(&summary)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("crawl runs");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        // Many seeds far apart in the generated site: every worker has work from the start.
        for i in 0..500 {
            writeln!(stdin, "{}", server.url(&format!("/gen/{}", i * 797))).expect("seed");
        }
    }
    let started = Instant::now();
    if let Some((at, what)) = during {
        std::thread::sleep(at);
        what();
    }
    std::thread::sleep(run.saturating_sub(started.elapsed()));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let status = child.wait().expect("crawl ends");
    // 130 is the exit of an interrupted crawl that wrote its summary.
    assert!(
        status.success() || status.code() == Some(130),
        "crawl {args:?}: {status}"
    );
    let text = std::fs::read_to_string(&summary).expect("summary written");
    let _ = std::fs::remove_file(&summary);
    serde_json::from_str(&text).expect("summary is JSON")
}

/// (seconds, limit, pages/s) at every control interval of an auto run.
fn steps(summary: &Value) -> Vec<(f64, f64, f64)> {
    summary["concurrency"]["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| {
                    (
                        num(s, &["at_s"]),
                        num(s, &["limit"]),
                        num(s, &["pages_per_s"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The first time at or after `from` s when an interval's pages/s reached `target`.
fn reached(summary: &Value, from: f64, target: f64) -> Option<f64> {
    steps(summary)
        .into_iter()
        .find(|&(at, _, pages)| at >= from && pages >= target)
        .map(|(at, _, _)| at - from)
}

/// The best fixed `-j` of the sweep: (j, pages/s).
fn best_fixed(mode: &str, run: impl Fn(&str) -> Value) -> (usize, f64, Vec<(usize, f64)>) {
    let mut all = Vec::new();
    for &j in sweep(mode) {
        let s = run(&j.to_string());
        all.push((j, num(&s, &["pages_per_s"])));
    }
    let (j, pages) = all
        .iter()
        .copied()
        .fold((0, 0.0), |b, c| if c.1 > b.1 { c } else { b });
    (j, pages, all)
}

fn sweep_cells(all: &[(usize, f64)]) -> String {
    all.iter()
        .map(|(j, p)| format!("{j}: {p:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    let wanted = wanted_parts();
    let mut out = String::new();
    writeln!(out, "## `-j auto` against the best fixed `-j`\n").ok();
    writeln!(
        out,
        "Machine: {}. Each run crawls for {} s (ramp included) and is stopped with SIGINT; \
         pages/s over the whole run. One run per cell.\n",
        machine(),
        RUN.as_secs()
    )
    .ok();
    // Scenario 1's best fixed pages/s per mode, which scenario 5 aims at after its shift.
    let mut best_at_100 = std::collections::HashMap::new();

    if wanted("latency") || wanted("shift") {
        writeln!(out, "### 1. 100 ms latency, no server limit\n").ok();
        writeln!(out, "| mode | fixed -j: pages/s | best fixed | auto pages/s | auto / best | auto reached 90% of best after | auto limit min / median / max |\n|---|---|--:|--:|--:|--:|--:|").ok();
        let mut limit_series: Vec<Series> = Vec::new();
        let mut pages_series: Vec<Series> = Vec::new();
        for mode in MODES {
            let s = server(100, None);
            let (j, best, all) =
                best_fixed(mode, |j| crawl_for(&s, &["-m", mode, "-j", j], RUN, None));
            let auto = crawl_for(&s, &["-m", mode, "-j", "auto"], RUN, None);
            let pages = num(&auto, &["pages_per_s"]);
            let to90 =
                reached(&auto, 0.0, 0.9 * best).map_or("never".to_owned(), |t| format!("{t:.1} s"));
            let c = &auto["concurrency"];
            writeln!(
                out,
                "| {mode} | {} | {best:.0} (-j {j}) | {pages:.0} | {:.2} | {to90} | {} / {} / {} |",
                sweep_cells(&all),
                pages / best.max(1e-9),
                c["min"],
                c["median"],
                c["max"]
            )
            .ok();
            best_at_100.insert(mode, best);
            let st = steps(&auto);
            limit_series.push((
                mode.to_owned(),
                st.iter().map(|&(t, l, _)| (t, l)).collect(),
            ));
            pages_series.push((
                mode.to_owned(),
                st.iter().map(|&(t, _, p)| (t, p)).collect(),
            ));
        }
        chart(
            &mut out,
            "auto-latency-limit",
            "-j auto at 100 ms: the limit over time",
            "pages in flight",
            &limit_series,
        );
        chart(
            &mut out,
            "auto-latency-pages",
            "-j auto at 100 ms: pages/s over time",
            "pages/s",
            &pages_series,
        );
    }

    if wanted("capacity") {
        writeln!(out, "\n### 2. `--capacity 32`, 20 ms of work per request\n").ok();
        writeln!(out, "The server answers at most 32 at once: 1,600 pages/s at most, and past 32 in flight the rest queue. Queue: the server's mean wait for a turn.\n").ok();
        writeln!(out, "| mode | fixed -j: pages/s (queue ms) | auto pages/s | auto queue ms | auto limit min / median / max |\n|---|---|--:|--:|--:|").ok();
        for mode in MODES {
            let mut cells = Vec::new();
            for &j in sweep(mode) {
                let s = server(20, Some(32));
                let fixed = crawl_for(&s, &["-m", mode, "-j", &j.to_string()], RUN, None);
                cells.push(format!(
                    "{j}: {:.0} ({:.0})",
                    num(&fixed, &["pages_per_s"]),
                    s.mean_queue_wait().as_secs_f64() * 1000.0
                ));
            }
            let s = server(20, Some(32));
            let auto = crawl_for(&s, &["-m", mode, "-j", "auto"], RUN, None);
            let c = &auto["concurrency"];
            writeln!(
                out,
                "| {mode} | {} | {:.0} | {:.1} | {} / {} / {} |",
                cells.join(", "),
                num(&auto, &["pages_per_s"]),
                s.mean_queue_wait().as_secs_f64() * 1000.0,
                c["min"],
                c["median"],
                c["max"]
            )
            .ok();
        }
    }

    if wanted("cpu") {
        writeln!(out, "\n### 3. `--cpu-work 1000000`, no latency\n").ok();
        writeln!(out, "| mode | fixed -j: pages/s | best fixed | auto pages/s | auto / best | auto limit min / median / max | last decision |\n|---|---|--:|--:|--:|--:|---|").ok();
        for mode in MODES {
            let s = server(0, None);
            let work = ["--cpu-work", "1000000"];
            let (j, best, all) = best_fixed(mode, |j| {
                crawl_for(
                    &s,
                    &[&["-m", mode, "-j", j][..], &work[..]].concat(),
                    RUN,
                    None,
                )
            });
            let auto = crawl_for(
                &s,
                &[&["-m", mode, "-j", "auto"][..], &work[..]].concat(),
                RUN,
                None,
            );
            let pages = num(&auto, &["pages_per_s"]);
            let c = &auto["concurrency"];
            writeln!(
                out,
                "| {mode} | {} | {best:.0} (-j {j}) | {pages:.0} | {:.2} | {} / {} / {} | {} |",
                sweep_cells(&all),
                pages / best.max(1e-9),
                c["min"],
                c["median"],
                c["max"],
                c["last"].as_str().unwrap_or("-")
            )
            .ok();
        }
    }

    if wanted("rate") {
        writeln!(out, "\n### 4. `--rate 200`, 20 ms latency\n").ok();
        writeln!(out, "| mode | auto pages/s | of the rate | auto limit min / median / max | last decision |\n|---|--:|--:|--:|---|").ok();
        for mode in MODES {
            let s = server(20, None);
            let auto = crawl_for(&s, &["-m", mode, "-j", "auto", "--rate", "200"], RUN, None);
            let pages = num(&auto, &["pages_per_s"]);
            let c = &auto["concurrency"];
            writeln!(
                out,
                "| {mode} | {pages:.1} | {:.1}% | {} / {} / {} | {} |",
                pages / 2.0,
                c["min"],
                c["median"],
                c["max"],
                c["last"].as_str().unwrap_or("-")
            )
            .ok();
        }
    }

    if wanted("shift") {
        writeln!(
            out,
            "\n### 5. 5 ms, then 100 ms from {} s on\n",
            SHIFT_AT.as_secs()
        )
        .ok();
        writeln!(
            out,
            "Target: 90% of scenario 1's best fixed pages/s at 100 ms, same mode.\n"
        )
        .ok();
        writeln!(out, "| mode | limit just before the shift | limit at the end | target pages/s | reached after the shift in |\n|---|--:|--:|--:|--:|").ok();
        let mut limit_series: Vec<Series> = Vec::new();
        for mode in MODES {
            let s = server(5, None);
            let shift = || s.set_latency(Duration::from_millis(100));
            let auto = crawl_for(
                &s,
                &["-m", mode, "-j", "auto"],
                SHIFT_RUN,
                Some((SHIFT_AT, &shift)),
            );
            let st = steps(&auto);
            let at = SHIFT_AT.as_secs_f64();
            let before = st.iter().rev().find(|s| s.0 <= at).map_or(0.0, |s| s.1);
            let end = st.last().map_or(0.0, |s| s.1);
            let target = 0.9 * best_at_100.get(mode).copied().unwrap_or(0.0);
            let when = reached(&auto, at + 0.5, target)
                .map_or("never".to_owned(), |t| format!("{:.1} s", t + 0.5));
            writeln!(
                out,
                "| {mode} | {before:.0} | {end:.0} | {target:.0} | {when} |"
            )
            .ok();
            limit_series.push((
                mode.to_owned(),
                st.iter().map(|&(t, l, _)| (t, l)).collect(),
            ));
        }
        chart(
            &mut out,
            "auto-shift-limit",
            "-j auto: 5 ms, then 100 ms from 4 s",
            "pages in flight",
            &limit_series,
        );
    }
    publish("auto", &out);
}

fn chart(out: &mut String, name: &str, title: &str, y: &str, series: &[Series]) {
    match line_chart(name, title, "seconds", y, false, series) {
        Ok(path) => writeln!(out, "\n(chart: {})\n", path.display()).ok(),
        Err(e) => writeln!(out, "\n(chart {name} not drawn: {e})\n").ok(),
    };
}
