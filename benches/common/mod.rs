//! Shared by the bench binaries: run the real `crawl` binary, read its `--summary-json`, take
//! medians, name the machine, and write result tables under `target/bench-results/`.

#![allow(dead_code)] // each bench binary uses its own subset

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Runs `crawl ARGS` with `seeds` on standard input, records to /dev/null, and returns its
/// summary. Panics if the crawl fails: a benchmark of a broken crawl means nothing.
pub fn crawl(seeds: &[String], args: &[&str]) -> Value {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let summary = std::env::temp_dir().join(format!("crawl-bench-{}-{n}.json", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_crawl"))
        .args(args)
        .args(["--progress", "never", "-o", "/dev/null", "--summary-json"])
        .arg(&summary)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("crawl runs");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for s in seeds {
            writeln!(stdin, "{s}").expect("seed written");
        }
    }
    let status = child.wait().expect("crawl finishes");
    assert!(status.success(), "crawl {args:?} failed");
    let text = std::fs::read_to_string(&summary).expect("summary written");
    let _ = std::fs::remove_file(&summary);
    serde_json::from_str(&text).expect("summary is JSON")
}

/// The run with the median pages/s out of `reps`.
pub fn median(reps: usize, mut run: impl FnMut() -> Value) -> Value {
    let mut runs: Vec<Value> = (0..reps).map(|_| run()).collect();
    runs.sort_by(|a, b| {
        let (a, b) = (num(a, &["pages_per_s"]), num(b, &["pages_per_s"]));
        a.total_cmp(&b)
    });
    runs.swap_remove(reps / 2)
}

/// A number at `path` in a summary (0 if absent).
pub fn num(v: &Value, path: &[&str]) -> f64 {
    path.iter().fold(v, |v, k| &v[*k]).as_f64().unwrap_or(0.0)
}

/// "2 cores, AMD EPYC": what the figures were measured on.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores, {cpu}")
}

/// Prints `text` and writes it to `target/bench-results/NAME.md`.
pub fn publish(name: &str, text: &str) {
    print!("{text}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results");
    let path = dir.join(format!("{name}.md"));
    if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&path, text).is_ok() {
        println!("\nwritten to {}", path.display());
    }
}
