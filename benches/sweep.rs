//! Where the bottleneck moves: crossover sweeps, scaling with workers, and limiter accuracy.
//!
//! `cargo bench --bench sweep` (a few minutes). Every case runs the real `crawl` binary against
//! the fixture server on 127.0.0.1 and reads its `--summary-json`, in one run so the figures are
//! comparable. Tables are printed and written to `target/bench-results/sweep.md`.
//!
//! 1. **Crossover**: one knob at a time — `--cpu-work`, server latency, `--rate` — in every mode,
//!    printing pages/s and the verdict. Where the verdict flips is the article's "I hit the limit
//!    of my internet connection".
//! 2. **Scale**: pages/s and peak memory as workers grow, against a server with 100 ms latency,
//!    beside Little's law (workers / latency).
//! 3. **Limiter accuracy**: achieved rate against `--rate` over about 10 s, in every mode.

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use common::{Series, crawl, line_chart, machine, num, publish};
use crawl_fixture::{FixtureServer, Options};
use serde_json::Value;

/// Every mode, from the library's own list, so a new mode is swept without editing this file.
const MODES: [&str; crawl::Mode::ALL.len()] = {
    let mut names = [""; crawl::Mode::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = crawl::Mode::ALL[i].name();
        i += 1;
    }
    names
};

fn server(latency_ms: u64, pages: usize) -> FixtureServer {
    FixtureServer::start(Options {
        latency: Duration::from_millis(latency_ms),
        pages,
        ..Options::default()
    })
    .expect("fixture server")
}

/// `n` distinct generated pages as seeds, so every worker has work from the first moment.
fn seeds(server: &FixtureServer, n: usize) -> Vec<String> {
    (0..n).map(|i| server.url(&format!("/gen/{i}"))).collect()
}

fn cell(s: &Value) -> String {
    format!(
        "{:.0} ({})",
        num(s, &["pages_per_s"]),
        s["verdict"].as_str().unwrap_or("?")
    )
}

fn crossover(out: &mut String) {
    writeln!(out, "### Crossover: pages/s (verdict) as one knob turns\n").ok();
    writeln!(out, "Default workers per mode (threads 16, async 64, processes 2 x cores); seeds are generated 3 KB pages, depth 0.\n").ok();
    let header = "| knob | sequential | threads | async | processes |\n|---|---:|---:|---:|---:|";

    let fast = server(0, 2000);
    writeln!(out, "`--cpu-work` (rounds per page; 1,000,000 is about 2.4 ms here), no latency, 400 pages:\n\n{header}").ok();
    let mut by_work: Vec<Series> = MODES.iter().map(|m| (m.to_string(), Vec::new())).collect();
    for work in ["0", "100000", "300000", "1000000", "3000000"] {
        let runs: Vec<Value> = MODES
            .iter()
            .map(|m| {
                crawl(
                    &seeds(&fast, 400),
                    &["-m", m, "--ignore-robots", "--cpu-work", work],
                )
            })
            .collect();
        let x = work.parse::<f64>().unwrap_or(0.0) / 1e6;
        for (series, run) in by_work.iter_mut().zip(&runs) {
            series.1.push((x, num(run, &["pages_per_s"])));
        }
        let row: Vec<String> = runs.iter().map(cell).collect();
        writeln!(out, "| {work} | {} |", row.join(" | ")).ok();
    }
    chart(
        out,
        "sweep-cpu-work",
        "pages/s as CPU work per page grows",
        "--cpu-work (millions of rounds per page)",
        false,
        &by_work,
    );

    writeln!(
        out,
        "\nServer latency, no extra work (pages: 400, or 100 at 50 ms and more):\n\n{header}"
    )
    .ok();
    let mut by_latency: Vec<Series> = MODES.iter().map(|m| (m.to_string(), Vec::new())).collect();
    for latency in [0u64, 5, 20, 50, 200] {
        let s = server(latency, 2000);
        let pages = if latency >= 50 { 100 } else { 400 };
        let runs: Vec<Value> = MODES
            .iter()
            .map(|m| crawl(&seeds(&s, pages), &["-m", m, "--ignore-robots"]))
            .collect();
        for (series, run) in by_latency.iter_mut().zip(&runs) {
            series.1.push((latency as f64, num(run, &["pages_per_s"])));
        }
        let row: Vec<String> = runs.iter().map(cell).collect();
        writeln!(out, "| {latency} ms | {} |", row.join(" | ")).ok();
    }
    chart(
        out,
        "sweep-latency",
        "pages/s as server latency grows",
        "server latency (ms)",
        false,
        &by_latency,
    );

    writeln!(
        out,
        "\n`--rate`, no latency, 400 pages (200 at 50/s):\n\n{header}"
    )
    .ok();
    for rate in ["50", "200", "1000", "unlimited"] {
        let pages = if rate == "50" { 200 } else { 400 };
        let row: Vec<String> = MODES
            .iter()
            .map(|m| {
                let mut args = vec!["-m", m, "--ignore-robots"];
                if rate != "unlimited" {
                    args.extend_from_slice(&["--rate", rate]);
                }
                cell(&crawl(&seeds(&fast, pages), &args))
            })
            .collect();
        writeln!(out, "| {rate} | {} |", row.join(" | ")).ok();
    }
    writeln!(out).ok();
}

fn scale(out: &mut String) {
    let slow = server(100, 20_000);
    writeln!(
        out,
        "### Scale: 100 ms server latency, 20 pages per worker (at least 200)\n"
    )
    .ok();
    writeln!(
        out,
        "| mode | workers | pages/s | Little's law ideal | % of ideal | peak memory MB | verdict |"
    )
    .ok();
    writeln!(out, "|---|---:|---:|---:|---:|---:|---|").ok();
    let plan: [(&str, &[usize]); 3] = [
        ("async", &[1, 4, 16, 64, 256, 512, 1024]),
        ("threads", &[1, 4, 16, 64, 256]),
        ("processes", &[1, 2, 4, 8, 16, 32]),
    ];
    // Share of the Little's-law ideal, and peak memory, per mode.
    let mut efficiency: Vec<Series> = Vec::new();
    let mut memory: Vec<Series> = Vec::new();
    for (mode, workers) in plan {
        let (mut eff, mut mem) = (Vec::new(), Vec::new());
        for &w in workers {
            let pages = (w * 20).max(200);
            let j = w.to_string();
            let s = crawl(
                &seeds(&slow, pages),
                &["-m", mode, "-j", &j, "--ignore-robots"],
            );
            let ideal_rate = w as f64 / 0.1;
            let got = num(&s, &["pages_per_s"]);
            eff.push((w as f64, 100.0 * got / ideal_rate));
            mem.push((w as f64, num(&s, &["peak_rss_kb"]) / 1024.0));
            writeln!(
                out,
                "| {mode} | {w} | {got:.0} | {ideal_rate:.0} | {:.0}% | {:.1} | {} |",
                100.0 * got / ideal_rate,
                num(&s, &["peak_rss_kb"]) / 1024.0,
                s["verdict"].as_str().unwrap_or("?"),
            )
            .ok();
        }
        efficiency.push((mode.to_owned(), eff));
        memory.push((mode.to_owned(), mem));
    }
    writeln!(out).ok();
    chart_y(
        out,
        "sweep-scale",
        "pages/s as a share of Little's law (workers / 100 ms)",
        "workers (log scale)",
        "% of ideal",
        true,
        &efficiency,
    );
    chart_y(
        out,
        "sweep-memory",
        "peak memory against workers",
        "workers (log scale)",
        "MB",
        true,
        &memory,
    );
}

/// Draws a chart and links it from the report; a drawing failure is noted, not fatal.
fn chart(out: &mut String, name: &str, title: &str, x_desc: &str, log_x: bool, series: &[Series]) {
    chart_y(out, name, title, x_desc, "pages/s", log_x, series);
}

fn chart_y(
    out: &mut String,
    name: &str,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    log_x: bool,
    series: &[Series],
) {
    match line_chart(name, title, x_desc, y_desc, log_x, series) {
        Ok(path) => writeln!(out, "\n![{title}]({})\n", path.display()).ok(),
        Err(e) => writeln!(out, "\n(chart {name} not drawn: {e})\n").ok(),
    };
}

fn limiter(out: &mut String) {
    let fast = server(0, 2000);
    writeln!(
        out,
        "### Limiter accuracy: `--rate 50` for about 10 s (500 pages)\n"
    )
    .ok();
    writeln!(out, "| mode | achieved pages/s | error |").ok();
    writeln!(out, "|---|---:|---:|").ok();
    for mode in MODES {
        let s = crawl(
            &seeds(&fast, 500),
            &["-m", mode, "--ignore-robots", "--rate", "50"],
        );
        let got = num(&s, &["pages_per_s"]);
        writeln!(
            out,
            "| {mode} | {got:.2} | {:+.2}% |",
            100.0 * (got - 50.0) / 50.0
        )
        .ok();
    }
    writeln!(out).ok();
}

fn main() {
    let mut out = format!(
        "## Sweeps: where the bottleneck moves\n\nMachine: {}. One run per cell; the fixture server shares the machine.\n\n",
        machine()
    );
    crossover(&mut out);
    scale(&mut out);
    limiter(&mut out);
    publish("sweep", &out);
}
