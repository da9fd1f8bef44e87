//! Throughput beside peers: every mode of `crawl`, a plain keep-alive load generator (wrk), the
//! bare HTTP client crawl is built on (reqwest alone), wget2 and the article-style Python
//! crawlers, against one fixture site in one run.
//!
//! `cargo bench --bench peers`. The site is 5,000 generated pages of about 3 KB with 10 links
//! each, no added latency, so this measures how much CPU each tool spends per page (the server
//! shares the same cores). Tools that are not installed are skipped with a note: `wrk` and
//! `wget2` are Debian packages, the Python crawlers need `requests`. The table is printed and
//! written to `target/bench-results/peers.md`. Each crawl mode's figure is the median of three
//! runs, as is reqwest alone; wrk runs once for 5 s.

mod common;

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{crawl, machine, num, publish};
use crawl_fixture::{FixtureServer, Options};

const PAGES: usize = 5000;
/// The Python crawlers are slow; a smaller crawl gives the same pages/s.
const PYTHON_PAGES: usize = 1500;

fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// wrk's requests/s for one page, keep-alive, 64 connections, 5 s.
fn wrk(server: &FixtureServer) -> Result<f64, String> {
    if !installed("wrk") {
        return Err("wrk not installed (apt-get install wrk)".into());
    }
    let out = Command::new("wrk")
        .args(["-t1", "-c64", "-d5s"])
        .arg(server.url("/gen/1"))
        .output()
        .map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "could not read wrk's Requests/sec".into())
}

/// The HTTP client alone: reqwest on a two-thread tokio runtime, 64 requests in flight, every
/// generated page fetched once and its body read, nothing parsed or recorded. This is the
/// ceiling for any crawler built on reqwest, so it shows how much of the gap to wrk is the
/// client's and how much is the crawler's own.
fn reqwest_alone(server: &FixtureServer) -> Result<f64, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())?;
    let next = Arc::new(AtomicUsize::new(0));
    let base = server.url("/gen/");
    let started = Instant::now();
    let fetched = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let (client, next, base) = (client.clone(), next.clone(), base.clone());
            tasks.spawn(async move {
                let mut ok = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= PAGES {
                        return ok;
                    }
                    let Ok(resp) = client.get(format!("{base}{i}")).send().await else {
                        continue;
                    };
                    if resp.bytes().await.is_ok() {
                        ok += 1;
                    }
                }
            });
        }
        let mut total = 0;
        while let Some(done) = tasks.join_next().await {
            total += done.unwrap_or(0);
        }
        total
    });
    let secs = started.elapsed().as_secs_f64();
    if fetched < PAGES {
        return Err(format!("only {fetched} of {PAGES} pages fetched"));
    }
    Ok(PAGES as f64 / secs)
}

/// wget2 --recursive over the whole site as the neutral harness (`../shared/peers`) runs it:
/// 16 threads, each file deleted once parsed: (pages, seconds).
fn wget2(server: &FixtureServer) -> Result<(usize, f64), String> {
    if !installed("wget2") {
        return Err("wget2 not installed (apt-get install wget2)".into());
    }
    let dir = std::env::temp_dir().join(format!("crawl-peers-wget2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let before = server.total_hits();
    let started = Instant::now();
    let status = Command::new("wget2")
        .args([
            "--recursive",
            "--level=inf",
            "--no-robots",
            "--quiet",
            "--no-host-directories",
            "--max-threads=16",
            "--delete-after",
        ])
        .arg("--directory-prefix")
        .arg(&dir)
        .arg(server.url("/gen/0"))
        .status()
        .map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    // wget2 exits non-zero for any 404 on the way; what counts is what it fetched.
    let _ = status;
    Ok(((server.total_hits() - before) as usize, secs))
}

/// An article-style Python crawler: (pages, pages/s).
fn python(script: &str, server: &FixtureServer, workers: usize) -> Result<(f64, f64), String> {
    let path = format!("{}/benches/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(&path)
        .arg(server.url("/gen/0"))
        .args([
            "--max-pages",
            &PYTHON_PAGES.to_string(),
            "--workers",
            &workers.to_string(),
        ])
        .output()
        .map_err(|e| format!("python3 not run: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("bad output: {e}"))?;
    Ok((num(&v, &["pages"]), num(&v, &["pages_per_s"])))
}

fn main() {
    let server = FixtureServer::start(Options {
        pages: PAGES,
        ..Options::default()
    })
    .expect("fixture server");
    let mut out = format!(
        "## Throughput beside peers\n\nMachine: {}. {PAGES} generated pages of about 3 KB, 10 links each, no added latency; the server shares the cores.\n\n",
        machine()
    );
    writeln!(out, "| tool | pages | pages/s | peak memory MB | note |").ok();
    writeln!(out, "|---|---:|---:|---:|---|").ok();
    let mut bars: Vec<(String, f64)> = Vec::new();
    match wrk(&server) {
        Ok(rps) => {
            bars.push(("wrk (HTTP only, no parsing)".to_owned(), rps));
            writeln!(out, "| wrk -t1 -c64 (one page, keep-alive, no parsing) | | {rps:.0} | | the ceiling: HTTP only |").ok()
        }
        Err(why) => writeln!(out, "| wrk | | | | skipped: {why} |").ok(),
    };
    let mut runs = (0..3)
        .map(|_| reqwest_alone(&server))
        .collect::<Result<Vec<f64>, String>>();
    let alone = runs.as_mut().map(|r| {
        r.sort_by(f64::total_cmp);
        r[1]
    });
    match alone {
        Ok(pps) => {
            bars.push(("reqwest alone (no parsing)".to_owned(), pps));
            writeln!(out, "| reqwest alone, 64 in flight (every page once, no parsing) | {PAGES} | {pps:.0} | | the ceiling for a reqwest crawler |").ok()
        }
        Err(why) => writeln!(out, "| reqwest alone | | | | failed: {why} |").ok(),
    };
    let mut best = 0.0f64;
    for (mode, j) in [
        ("sequential", "1"),
        ("threads", "16"),
        ("async", "64"),
        ("processes", "4"),
    ] {
        // Median of three: single runs on a shared 2-core machine vary by a third.
        let s = common::median(3, || {
            crawl(
                &[server.url("/gen/0")],
                &["-m", mode, "-j", j, "-d", "1000", "--ignore-robots"],
            )
        });
        let pps = num(&s, &["pages_per_s"]);
        best = best.max(pps);
        bars.push((format!("crawl --mode {mode} -j {j}"), pps));
        writeln!(
            out,
            "| crawl --mode {mode} -j {j} | {:.0} | {pps:.0} | {:.1} | {} |",
            num(&s, &["pages"]),
            num(&s, &["peak_rss_kb"]) / 1024.0,
            s["verdict"].as_str().unwrap_or("?"),
        )
        .ok();
    }
    match wget2(&server) {
        Ok((pages, secs)) => {
            bars.push(("wget2 --recursive".to_owned(), pages as f64 / secs));
            writeln!(
                out,
                "| wget2 --recursive (16 threads, files deleted after parsing, as ../shared/peers runs it) | {pages} | {:.0} | | one run |",
                pages as f64 / secs
            )
            .ok()
        }
        Err(why) => writeln!(out, "| wget2 | | | | skipped: {why} |").ok(),
    };
    for (script, workers) in [("crawl_threads.py", 16), ("crawl_pool.py", 4)] {
        match python(script, &server, workers) {
            Ok((pages, pps)) => {
                bars.push((format!("python {script} ({workers} workers)"), pps));
                writeln!(
                    out,
                    "| python {script} ({workers} workers) | {pages:.0} | {pps:.0} | | |"
                )
                .ok()
            }
            Err(why) => writeln!(out, "| python {script} | | | | skipped: {why} |").ok(),
        };
    }
    writeln!(out, "\nBest crawl mode: {best:.0} pages/s.").ok();
    match common::bar_chart(
        "peers",
        "pages/s on one fixture site",
        "pages/s",
        false,
        &bars,
    ) {
        Ok(path) => writeln!(out, "\n![pages/s on one fixture site]({})", path.display()).ok(),
        Err(e) => writeln!(out, "\n(chart not drawn: {e})").ok(),
    };
    publish("peers", &out);
}
