//! Ctrl-C and SIGTERM in every mode: stop scheduling, let pages in flight finish within the
//! grace period, write every finished record, exit 130 (SIGINT) or 143 (SIGTERM).

use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::*;

/// What an interrupted crawl left behind.
struct Stopped {
    run: Run,
    summary: serde_json::Value,
    /// From the (last) signal to the exit.
    after_signal: Duration,
}

/// Starts a crawl of `seeds` in `mode`, waits until `ready` says so, sends each of `signals`
/// (100 ms apart), and collects what the crawl wrote.
fn interrupt(
    mode: &str,
    seeds: &[String],
    args: &[&str],
    ready: impl Fn() -> bool,
    signals: &[Signal],
) -> Stopped {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let summary_path = std::env::temp_dir().join(format!(
        "crawl-interrupt-{}-{mode}-{n}.json",
        std::process::id()
    ));
    let summary_arg = summary_path.to_str().expect("UTF-8 temp path").to_owned();
    let mut all = vec!["--summary-json", &summary_arg];
    all.extend_from_slice(args);
    let input: String = seeds.iter().map(|s| format!("{s}\n")).collect();
    let child: Child = CrawlCmd::new().mode(mode).args(&all).stdin(&input).spawn();
    let pid = Pid::from_raw(child.id() as i32);
    let waiting = Instant::now();
    while !ready() {
        assert!(
            waiting.elapsed() < Duration::from_secs(20),
            "the crawl never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for (i, &signal) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        kill(pid, signal).expect("signal the crawl");
    }
    let signalled = Instant::now();
    let out = child.wait_with_output().expect("crawl exits");
    let after_signal = signalled.elapsed();
    let stdout = String::from_utf8(out.stdout).expect("records are UTF-8");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        records: stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}")))
            .collect(),
        elapsed: after_signal,
    };
    let text = std::fs::read_to_string(&summary_path)
        .unwrap_or_else(|e| panic!("no summary ({e}):\n{}", run.stderr));
    let _ = std::fs::remove_file(&summary_path);
    let summary = serde_json::from_str(&text).expect("summary is JSON");
    Stopped {
        run,
        summary,
        after_signal,
    }
}

/// A long crawl: 3,000 pages at 40 pages/s, so a signal always lands mid-way.
fn long_site() -> FixtureServer {
    server_with(Options {
        pages: 3000,
        ..Options::default()
    })
}

const LONG: &[&str] = &["-j", "4", "-d", "100", "--ignore-robots", "--rate", "40"];

every_mode! {
    fn sigint_lets_pages_in_flight_finish(mode) {
        let s = long_site();
        let slow = s.url("/slow?ms=1500");
        let seeds = [slow.clone(), s.url("/gen/0")];
        let mut args = LONG.to_vec();
        args.extend_from_slice(&["--grace", "10"]);
        // Sequential mode fetches one page at a time: the slow one is all there is in flight.
        let ready = || s.hits("/slow") >= 1 && (mode == "sequential" || s.total_hits() >= 5);
        let stopped = interrupt(mode, &seeds, &args, ready, &[Signal::SIGINT]);
        let run = &stopped.run;
        assert_eq!(run.code, 130, "{}", run.stderr);
        assert!(run.stderr.contains("interrupted by SIGINT"), "{}", run.stderr);
        assert_eq!(stopped.summary["interrupted"], "SIGINT");
        assert_eq!(stopped.summary["unfinished"], 0, "{}", run.stderr);
        assert!(stopped.after_signal < Duration::from_secs(9), "took {:?}", stopped.after_signal);
        // The slow page was in flight when the signal came, and finished within the grace.
        let record = run.get(&slow);
        assert_eq!(record.status, Some(200), "{record:?}");
        // Nothing lost: every request the server saw produced a record, and no request was made
        // after the crawl said it had stopped.
        let hits = s.total_hits();
        assert_eq!(run.by_url().len() as u64, hits, "{}", run.stderr);
        assert!(hits < 3001, "the crawl did not stop: {hits} requests");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(s.total_hits(), hits, "requests after exit");
        assert!(stopped.summary["not_fetched"].as_u64().unwrap_or(0) > 0);
    }

    fn sigterm_gives_up_pages_after_the_grace_period(mode) {
        let s = long_site();
        let stuck = s.url("/slow?ms=30000");
        let seeds = [stuck.clone(), s.url("/gen/0")];
        let mut args = LONG.to_vec();
        args.extend_from_slice(&["--grace", "1", "--timeout", "60"]);
        let ready = || s.hits("/slow") >= 1 && (mode == "sequential" || s.total_hits() >= 5);
        let stopped = interrupt(mode, &seeds, &args, ready, &[Signal::SIGTERM]);
        let run = &stopped.run;
        assert_eq!(run.code, 143, "{}", run.stderr);
        assert_eq!(stopped.summary["interrupted"], "SIGTERM");
        assert_eq!(stopped.summary["unfinished"], 1, "{}", run.stderr);
        assert!(stopped.after_signal < Duration::from_secs(8), "took {:?}", stopped.after_signal);
        assert!(run.records.iter().all(|r| r.url != stuck), "a record for the cut-off page");
        // Every other request that was made has its record.
        assert_eq!(run.by_url().len() as u64 + 1, s.total_hits(), "{}", run.stderr);
    }

    fn a_second_ctrl_c_stops_at_once(mode) {
        let s = long_site();
        let seeds = [s.url("/slow?ms=30000"), s.url("/gen/0")];
        let mut args = LONG.to_vec();
        args.extend_from_slice(&["--grace", "60", "--timeout", "60"]);
        let ready = || s.hits("/slow") >= 1;
        let stopped = interrupt(mode, &seeds, &args, ready, &[Signal::SIGINT, Signal::SIGINT]);
        assert_eq!(stopped.run.code, 130, "{}", stopped.run.stderr);
        assert!(stopped.after_signal < Duration::from_secs(8), "took {:?}", stopped.after_signal);
        // The stuck page at least; in processes mode a worker busy with another page when the
        // second signal lands is cut off too.
        assert!(stopped.summary["unfinished"].as_u64().is_some_and(|n| n >= 1), "{}", stopped.run.stderr);
        let stuck = s.url("/slow?ms=30000");
        assert!(stopped.run.records.iter().all(|r| r.url != stuck), "a record for the cut-off page");
    }
}
