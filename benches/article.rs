//! The article's CPU experiment, in Rust and (when python3 is there) in Python, in one run.
//!
//! `cargo bench --bench article`. Two workloads — 100 tasks x 1,000,000 increments (enough work
//! per task for parallelism to pay) and 1,000 tasks x 100 increments (so little that start-up
//! dominates) — under each way of running tasks: sequential, one OS thread per task, one tokio
//! task per task, one forked process per task (the article's `multiprocessing.Process`), and a
//! prefork pool of one process per core (`multiprocessing.Pool`). Beside it, the same experiment
//! in Python (`benches/python/article.py`), so the table shows what the GIL costs Python, that
//! Rust threads have no such limit, and what fork costs everyone.
//!
//! A third workload, 100 tasks x 100,000,000 increments, runs in Rust only (CPython would need
//! about ten minutes): the article's work is so small in Rust that only a heavier one shows
//! threads using both cores.
//!
//! Each cell is the median of 5 runs. The table is printed and written to
//! `target/bench-results/article.md`. Forking happens only while this process has one thread
//! (checked); the threaded experiments run after the forking ones.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

const REPS: usize = 5;
/// The article's two workloads, plus one 100x heavier for Rust alone: the article's work takes
/// Rust milliseconds, too little for threads to beat their own start-up.
const WORKLOADS: [(usize, u64); 3] = [(100, 1_000_000), (1000, 100), (100, 100_000_000)];

/// One task: `increments` dependent increments the optimiser cannot fold.
fn work(increments: u64) -> u64 {
    let mut x = 0u64;
    for _ in 0..increments {
        x = black_box(x + 1);
    }
    x
}

fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).ok() == Some(1)
}

fn sequential(tasks: usize, n: u64) -> u64 {
    (0..tasks).map(|_| work(n)).sum()
}

fn threads(tasks: usize, n: u64) -> u64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..tasks).map(|_| s.spawn(move || work(n))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    })
}

fn tokio_tasks(tasks: usize, n: u64) -> u64 {
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread().build() else {
        return 0;
    };
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|_| tokio::spawn(async move { work(n) }))
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap_or(0);
        }
        sum
    })
}

/// Forks `children` processes; child `k` runs `tasks_of(k)` tasks and reports success in its
/// exit status. Returns the tasks completed correctly.
fn forked(children: usize, tasks_of: impl Fn(usize) -> usize, n: u64) -> u64 {
    let mut pids = Vec::with_capacity(children);
    for k in 0..children {
        // SAFETY: called only while this process is single-threaded (checked by the caller).
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                let count = tasks_of(k);
                let ok = (0..count).all(|_| work(n) == n);
                // SAFETY: _exit ends the child at once, running nothing of the parent's.
                unsafe { nix::libc::_exit(if ok { 0 } else { 1 }) }
            }
            Ok(ForkResult::Parent { child }) => pids.push((child, tasks_of(k))),
            Err(e) => panic!("fork failed: {e}"),
        }
    }
    pids.into_iter()
        .map(|(pid, count)| match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, 0)) => count as u64 * n,
            _ => 0,
        })
        .sum()
}

fn fork_per_task(tasks: usize, n: u64) -> u64 {
    forked(tasks, |_| 1, n)
}

fn fork_pool(tasks: usize, n: u64) -> u64 {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    // Tasks dealt out evenly, as Pool.map does with its chunks.
    forked(cores, |k| tasks / cores + usize::from(k < tasks % cores), n)
}

fn median_secs(f: impl Fn() -> u64, expect: u64) -> f64 {
    let mut times: Vec<f64> = (0..REPS)
        .map(|_| {
            let started = Instant::now();
            let got = f();
            let secs = started.elapsed().as_secs_f64();
            assert_eq!(got, expect, "a run lost work");
            secs
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[REPS / 2]
}

/// Runs the Python version; (mode, tasks) -> seconds, or why it could not run.
fn python() -> Result<BTreeMap<(String, usize), f64>, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/article.py");
    let out = Command::new("python3")
        .arg(script)
        .output()
        .map_err(|e| format!("python3 not run ({e})"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 {script} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut times = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let (Some(mode), Some(tasks), Some(secs)) = (
            v["mode"].as_str(),
            v["tasks"].as_u64(),
            v["seconds"].as_f64(),
        ) {
            times.insert((mode.to_owned(), tasks as usize), secs);
        }
    }
    Ok(times)
}

fn main() {
    // (label, python mode name, rust function); forking ones first, while single-threaded.
    type Run = fn(usize, u64) -> u64;
    let cases: [(&str, Option<&str>, Run); 5] = [
        ("sequential", Some("sequential"), sequential),
        (
            "one process per task (fork)",
            Some("processes"),
            fork_per_task,
        ),
        (
            "prefork pool, one process per core",
            Some("pool"),
            fork_pool,
        ),
        ("one OS thread per task", Some("threads"), threads),
        ("one tokio task per task", None, tokio_tasks),
    ];
    let mut rust: BTreeMap<(&str, usize, u64), f64> = BTreeMap::new();
    for (label, _, f) in cases {
        for (tasks, n) in WORKLOADS {
            if label.contains("process") && !single_threaded() {
                eprintln!("skipping {label}: this process is not single-threaded");
                continue;
            }
            rust.insert(
                (label, tasks, n),
                median_secs(|| f(tasks, n), tasks as u64 * n),
            );
        }
    }
    let py = python();
    let mut out = String::new();
    writeln!(
        out,
        "### The article's experiment: pure CPU, Rust beside Python\n"
    )
    .ok();
    writeln!(
        out,
        "Machine: {}. Median of {REPS} runs for Rust; one run for Python.\n",
        common::machine()
    )
    .ok();
    writeln!(out, "| how tasks run | Rust 100 x 1,000,000 | Python 100 x 1,000,000 | Rust 1,000 x 100 | Python 1,000 x 100 | Rust 100 x 100,000,000 |").ok();
    writeln!(out, "|---|---:|---:|---:|---:|---:|").ok();
    let cell = |secs: Option<f64>| {
        secs.map_or("—".to_owned(), |s| match s {
            s if s < 1e-3 => format!("{:.0} µs", s * 1e6),
            s if s < 1.0 => format!("{:.1} ms", s * 1e3),
            s => format!("{s:.2} s"),
        })
    };
    for (label, py_mode, _) in cases {
        let pyt = |tasks| {
            py_mode.and_then(|m| {
                py.as_ref()
                    .ok()
                    .and_then(|p| p.get(&(m.to_owned(), tasks)).copied())
            })
        };
        writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} |",
            cell(rust.get(&(label, 100, 1_000_000)).copied()),
            cell(pyt(100)),
            cell(rust.get(&(label, 1000, 100)).copied()),
            cell(pyt(1000)),
            cell(rust.get(&(label, 100, 100_000_000)).copied()),
        )
        .ok();
    }
    if let Err(why) = &py {
        writeln!(out, "\nPython columns empty: {why}.").ok();
    }
    for (tasks, n, name, title) in [
        (
            100usize,
            1_000_000u64,
            "article-large",
            "100 tasks x 1,000,000 increments (log scale)",
        ),
        (
            1000,
            100,
            "article-small",
            "1,000 tasks x 100 increments (log scale)",
        ),
    ] {
        let mut bars = Vec::new();
        for (label, py_mode, _) in cases {
            if let Some(secs) = rust.get(&(label, tasks, n)) {
                bars.push((format!("Rust: {label}"), *secs));
            }
            let py_secs = py_mode.and_then(|m| {
                py.as_ref()
                    .ok()
                    .and_then(|p| p.get(&(m.to_owned(), tasks)).copied())
            });
            if let Some(secs) = py_secs {
                bars.push((format!("Python: {label}"), secs));
            }
        }
        match common::bar_chart(name, title, "seconds", true, &bars) {
            Ok(path) => writeln!(out, "\n![{title}]({})", path.display()).ok(),
            Err(e) => writeln!(out, "\n(chart {name} not drawn: {e})").ok(),
        };
    }
    common::publish("article", &out);
}
