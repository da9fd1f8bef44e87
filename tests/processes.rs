//! What only the processes mode has to prove: workers are real child processes, a killed worker
//! loses no URL, no child outlives the crawl, Ctrl-C flushes and cleans up, and the sharing
//! variants (shared-memory dedupe, fork per page) change costs, not results.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::*;

/// Pids whose parent is `parent`, read from /proc.
fn children_of(parent: u32) -> BTreeSet<i32> {
    let mut kids = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return kids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            kids.insert(pid);
        }
    }
    kids
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn start(seeds: &str, args: &[&str]) -> Child {
    CrawlCmd::new()
        .mode("processes")
        .args(args)
        .stdin(seeds)
        .spawn()
}

/// Waits for `child` while recording every worker pid seen under it.
fn watch(mut child: Child, mut on_workers: impl FnMut(&BTreeSet<i32>)) -> (Run, BTreeSet<i32>) {
    let started = Instant::now();
    let mut seen = BTreeSet::new();
    let status = loop {
        let kids = children_of(child.id());
        seen.extend(&kids);
        on_workers(&kids);
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "crawl hung");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let records = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}")))
        .collect();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stderr,
        records,
        elapsed: started.elapsed(),
    };
    (run, seen)
}

#[test]
fn a_killed_worker_loses_no_url_and_no_child_outlives_the_crawl() {
    let s = server_with(Options {
        pages: 150,
        latency: Duration::from_millis(20),
        ..Options::default()
    });
    let child = start(
        &format!("{}\n", s.url("/gen/0")),
        &["-j", "3", "-d", "100", "--ignore-robots"],
    );
    let crawl_pid = child.id();
    let mut killed = None;
    let (run, seen) = watch(child, |workers| {
        if killed.is_none() && workers.len() == 3 && s.total_hits() > 20 {
            let victim = *workers.iter().next().expect("a worker");
            kill(Pid::from_raw(victim), Signal::SIGKILL).expect("kill worker");
            killed = Some(victim);
        }
    });
    run.assert_ok();
    let victim = killed.expect("a worker was killed mid-crawl");
    assert!(seen.len() >= 4, "the dead worker was replaced: {seen:?}");
    let by_url = run.by_url();
    assert_eq!(by_url.len(), 150, "every page has exactly one record");
    assert!(
        by_url
            .values()
            .all(|r| r.status == Some(200) && r.error.is_none())
    );
    // The victim was almost surely fetching a page; if it was, that page was fetched again.
    // (An idle worker that dies is replaced at no cost to any page.)
    if run
        .stderr
        .contains(&format!("pid {victim} was killed by SIGKILL"))
    {
        assert!(
            run.stderr.contains("1 died with a page in hand"),
            "{}",
            run.stderr
        );
        assert!(
            run.records.iter().any(|r| r.attempts == 2),
            "the lost page was attempted again"
        );
    }
    let pids: BTreeSet<String> = run
        .records
        .iter()
        .filter_map(|r| r.worker.clone())
        .collect();
    assert!(pids.iter().all(|w| w.starts_with("pid ")), "{pids:?}");
    assert!(
        !pids.contains(&format!("pid {crawl_pid}")),
        "the coordinator fetched nothing itself"
    );
    for pid in &seen {
        assert!(!alive(*pid), "worker {pid} outlived the crawl");
    }
}

#[test]
fn a_worker_death_uses_up_retries_then_is_recorded() {
    let s = server_with(Options {
        latency: Duration::from_millis(300),
        ..Options::default()
    });
    let url = s.url("/contact.html");
    // With --retries 0 the page gets one attempt; killing its worker makes that the last.
    let child = start(
        &format!("{url}\n"),
        &["-j", "1", "--retries", "0", "--ignore-robots"],
    );
    let mut killed = false;
    let (run, seen) = watch(child, |workers| {
        if !killed && s.total_hits() > 0 {
            for pid in workers {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                killed = true;
            }
        }
    });
    run.assert_ok();
    let r = run.get(&url);
    assert_eq!((r.error.as_deref(), r.attempts), (Some("worker died"), 1));
    assert_eq!(run.records.len(), 1);
    for pid in &seen {
        assert!(!alive(*pid), "worker {pid} outlived the crawl");
    }
}

#[test]
fn ctrl_c_flushes_records_and_leaves_no_child() {
    let s = server_with(Options {
        pages: 2000,
        latency: Duration::from_millis(50),
        ..Options::default()
    });
    let child = start(
        &format!("{}\n", s.url("/gen/0")),
        &["-j", "4", "-d", "100", "--ignore-robots"],
    );
    let crawl_pid = Pid::from_raw(child.id() as i32);
    let mut sent = false;
    let (run, seen) = watch(child, |_| {
        if !sent && s.total_hits() > 40 {
            kill(crawl_pid, Signal::SIGINT).expect("interrupt");
            sent = true;
        }
    });
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(
        run.stderr.contains("interrupted by SIGINT"),
        "{}",
        run.stderr
    );
    let by_url = run.by_url();
    assert!(
        by_url.len() >= 30 && by_url.len() < 2000,
        "{} records",
        by_url.len()
    );
    assert!(seen.len() >= 4);
    for pid in &seen {
        assert!(!alive(*pid), "worker {pid} outlived the crawl");
    }
}

#[test]
fn sharing_variants_change_costs_not_records() {
    let s = server_with(Options {
        pages: 120,
        ..Options::default()
    });
    let key = |r: &Record| {
        (
            r.url.clone(),
            r.status,
            r.depth,
            r.title.clone(),
            r.links,
            r.error.clone(),
        )
    };
    let mut results = Vec::new();
    for extra in [
        &[][..],
        &["--dedupe", "shared"][..],
        &["--fork-per-page"][..],
    ] {
        let mut args = vec!["-d", "100", "-j", "3"];
        args.extend_from_slice(extra);
        let run = CrawlCmd::new()
            .mode("processes")
            .seeds(&[s.url("/"), s.url("/gen/0")])
            .args(&args)
            .run();
        run.assert_ok();
        assert!(run.stderr.contains("IPC:"), "{}", run.stderr);
        let mut keys: Vec<_> = run.records.iter().map(key).collect();
        keys.sort();
        results.push((extra, keys, run.stderr));
    }
    let (_, first, _) = &results[0];
    assert!(first.len() > 120);
    for (extra, keys, _) in &results[1..] {
        assert_eq!(keys, first, "{extra:?} changed the records");
    }
    // Fork per page forks once per task (pages plus robots.txt); the pool forks 3.
    assert!(
        results[0].2.contains("processes: 3 forked"),
        "{}",
        results[0].2
    );
    assert!(
        !results[2].2.contains("processes: 3 forked"),
        "{}",
        results[2].2
    );
}
