//! `--state DIR` in every mode: a crawl killed mid-way (SIGKILL, or a graceful Ctrl-C) and run
//! again ends with the same records as one uninterrupted crawl, fetching at most the pages
//! that were in flight twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::*;

const PAGES: usize = 400;
const WORKERS: u64 = 4;

fn temp(name: &str, mode: &str) -> PathBuf {
    fresh_temp("resume", name, mode)
}

pub(crate) fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// URL -> depth over every record in the file, asserting a URL's records agree.
fn union(path: &Path) -> BTreeMap<String, u32> {
    let mut map = BTreeMap::new();
    for record in records_in(path) {
        if let Some(depth) = map.insert(record.url.clone(), record.depth) {
            assert_eq!(depth, record.depth, "{} recorded at two depths", record.url);
        }
    }
    map
}

/// Crawls the site once without interruption: URL -> depth.
fn reference(mode: &str, s: &FixtureServer) -> BTreeMap<String, u32> {
    let run = CrawlCmd::new()
        .mode(mode)
        .seeds(&[s.url("/gen/0")])
        .args(["-d", "100", "--ignore-robots"])
        .run();
    run.assert_ok();
    let map = run.depths();
    assert_eq!(map.len(), PAGES);
    s.reset();
    map
}

/// Starts the resumable crawl, stops it with `signal` once `after` records are written, and
/// returns the exit code.
pub(crate) fn start_and_stop(
    mode: &str,
    seeds: &str,
    args: &[&str],
    out: &Path,
    after: usize,
    signal: Signal,
) -> i32 {
    let mut child = CrawlCmd::new().mode(mode).args(args).stdin(seeds).spawn();
    let started = Instant::now();
    while lines(out) < after {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the crawl never got going"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal the crawl");
    let status = child.wait().expect("crawl exits");
    std::os::unix::process::ExitStatusExt::signal(&status)
        .map_or_else(|| status.code().unwrap_or(-1), |s| 128 + s)
}

/// The uninterrupted crawl's records, the union of the resumed crawl's, the server, and how
/// many records the resumed crawl's file holds in all.
fn resume_after(
    mode: &str,
    signal: Signal,
) -> (
    BTreeMap<String, u32>,
    BTreeMap<String, u32>,
    FixtureServer,
    usize,
) {
    let s = server_with(Options {
        pages: PAGES,
        ..Options::default()
    });
    let expected = reference(mode, &s);
    // Named for the signal too: the SIGKILL and Ctrl-C tests of a mode run at the same time.
    let state = temp(&format!("state-{signal}"), mode);
    let out = temp(&format!("records-{signal}.jsonl"), mode);
    let (state_arg, out_arg) = (state.to_str().expect("UTF-8"), out.to_str().expect("UTF-8"));
    let args = [
        "-j",
        "4",
        "-d",
        "100",
        "--ignore-robots",
        "--rate",
        "150",
        "--state",
        state_arg,
        "-o",
        out_arg,
    ];
    let seeds = format!("{}\n", s.url("/gen/0"));
    let code = start_and_stop(mode, &seeds, &args, &out, 60, signal);
    assert_eq!(
        code,
        128 + signal as i32,
        "the first run was not stopped by {signal}"
    );
    let first = lines(&out);
    assert!(first < PAGES, "the first run finished before the signal");

    let second = CrawlCmd::new().mode(mode).args(args).stdin(&seeds).run();
    second.assert_ok();
    assert!(second.stderr.contains("resumed:"), "{}", second.stderr);

    // Once finished, running again fetches nothing.
    let before = s.total_hits();
    let third = CrawlCmd::new().mode(mode).args(args).stdin(&seeds).run();
    third.assert_ok();
    assert_eq!(s.total_hits(), before, "a finished crawl fetched again");

    let got = union(&out);
    let written = lines(&out);
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_file(&out);
    (expected, got, s, written)
}

every_mode! {
    fn sigkill_then_resume_matches_one_uninterrupted_crawl(mode) {
        let (expected, got, s, written) = resume_after(mode, Signal::SIGKILL);
        assert_eq!(got, expected, "records (URL and depth) differ from an uninterrupted crawl");
        let in_flight = if mode == "sequential" { 1 } else { WORKERS };
        // A page recorded but not yet noted as done when the kill came is recorded again.
        assert!((written - PAGES) as u64 <= in_flight, "{written} records for {PAGES} pages");
        let hits = s.hit_counts();
        let twice: Vec<_> = hits.iter().filter(|&(_, &n)| n > 1).collect();
        assert!(hits.values().all(|&n| n <= 2), "a page fetched three times: {twice:?}");
        assert!(
            twice.len() as u64 <= in_flight,
            "more pages fetched twice than were in flight: {twice:?}"
        );
    }

    fn ctrl_c_then_resume_fetches_nothing_twice(mode) {
        let (expected, got, s, written) = resume_after(mode, Signal::SIGINT);
        assert_eq!(got, expected, "records (URL and depth) differ from an uninterrupted crawl");
        assert_eq!(written, PAGES, "exactly one record per page after a graceful stop");
        let twice: Vec<_> = s.hit_counts().into_iter().filter(|(_, n)| *n > 1).collect();
        assert!(twice.is_empty(), "fetched twice after a graceful stop: {twice:?}");
    }
}

#[test]
fn a_state_directory_of_other_seeds_is_refused() {
    let s = server();
    let state = temp("other-seeds", "any");
    let state_arg = state.to_str().expect("UTF-8");
    let first = CrawlCmd::new()
        .mode("sequential")
        .seeds(&[s.url("/")])
        .args(["--state", state_arg])
        .run();
    first.assert_ok();
    let other = CrawlCmd::new()
        .mode("sequential")
        .seeds(&[s.url("/about.html")])
        .args(["--state", state_arg])
        .run();
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(
        other.stderr.contains("--state") && other.stderr.contains("other seeds"),
        "{}",
        other.stderr
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_state_directory_in_use_is_refused() {
    let s = server_with(Options {
        pages: 1000,
        ..Options::default()
    });
    let state = temp("in-use", "any");
    let state_arg = state.to_str().expect("UTF-8");
    let seeds = format!("{}\n", s.url("/gen/0"));
    let args = [
        "-d",
        "100",
        "--ignore-robots",
        "--rate",
        "20",
        "--state",
        state_arg,
    ];
    let mut first = CrawlCmd::new().args(args).stdin(&seeds).spawn();
    let started = Instant::now();
    while s.total_hits() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first crawl never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = CrawlCmd::new().args(args).stdin(&seeds).run();
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("another crawl is using"),
        "{}",
        second.stderr
    );
    let _ = std::fs::remove_dir_all(&state);
}

every_mode! {
    fn items_of_a_killed_crawl_resume_in_their_file_each_once_but_for_pages_in_flight(mode) {
        let s = server_with(Options {
            pages: PAGES,
            ..Options::default()
        });
        let (state, items) = (temp("items-state", mode), temp("items.jsonl", mode));
        let (state_arg, items_arg) = (state.to_str().expect("UTF-8"), items.to_str().expect("UTF-8"));
        let args = [
            "-j", "4", "-d", "100", "--ignore-robots", "--rate", "150", "--state", state_arg,
            "-o", "/dev/null", "--field", "name=title", "--items", items_arg,
        ];
        let seeds = format!("{}\n", s.url("/gen/0"));
        let code = start_and_stop(mode, &seeds, &args, &items, 60, Signal::SIGKILL);
        assert_eq!(code, 128 + Signal::SIGKILL as i32);
        assert!(lines(&items) < PAGES, "the first run finished before the signal");
        let second = CrawlCmd::new().mode(mode).args(args).stdin(&seeds).run();
        second.assert_ok();
        let text = std::fs::read_to_string(&items).expect("items file");
        let mut urls = BTreeMap::new();
        for line in text.lines() {
            let item: serde_json::Value = serde_json::from_str(line).expect("whole JSON lines only");
            let title = item["name"].as_str().expect("a title").to_owned();
            *urls.entry((item["url"].as_str().expect("url").to_owned(), title)).or_insert(0) += 1;
        }
        assert_eq!(urls.len(), PAGES, "every page's item, after the resume");
        let in_flight = if mode == "sequential" { 1 } else { WORKERS };
        let twice = urls.values().filter(|&&n| n > 1).count() as u64;
        assert!(twice <= in_flight, "{twice} items written twice");
        let _ = std::fs::remove_dir_all(&state);
        let _ = std::fs::remove_file(&items);
    }
}
