//! Sessions: `--cookies` keeps one jar for the crawl, shared by every worker in every mode
//! (worker processes included), with browsers' domain and path rules, and `--state` keeps it
//! across a resume.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::*;

fn title(run: &Run, url: &str) -> String {
    run.get(url).title.unwrap_or_default()
}

fn temp(name: &str, mode: &str) -> PathBuf {
    fresh_temp("sessions", name, mode)
}

every_mode! {
    fn one_cookie_jar_serves_every_worker(mode) {
        let s = server();
        let (run, summary) = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/cookie/set")])
            .args(["--cookies", "-j", "4", "--depth", "1"])
            .run_with_summary();
        run.assert_ok();
        // Set by one page, sent with the next wherever it was fetched (in processes mode,
        // most likely by another worker process); not sent outside its Path.
        assert_eq!(title(&run, &s.url("/cookie/check")), "Cookie: session=abc123");
        assert_eq!(title(&run, &s.url("/elsewhere/check")), "Cookie: none");
        assert_eq!(summary["cookies"], 1);
        // Without --cookies no cookie is kept.
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/cookie/set")])
            .args(["-j", "4", "--depth", "1"])
            .run();
        run.assert_ok();
        assert_eq!(title(&run, &s.url("/cookie/check")), "Cookie: none");
    }

    fn a_resumed_crawl_goes_on_with_its_cookies(mode) {
        let s = server();
        let (state, out) = (temp("state", mode), temp("out.jsonl", mode));
        let (state_arg, out_arg) = (state.to_string_lossy().into_owned(), out.to_string_lossy().into_owned());
        // One request a second: the cookie page is written well before the next is asked for.
        let args = [
            "--cookies", "--depth", "1", "--rate", "1", "--state", &state_arg, "-o", &out_arg,
        ];
        let seeds = format!("{}\n", s.url("/cookie/set"));
        let mut first = CrawlCmd::new().mode(mode).args(args).stdin(&seeds).spawn();
        let started = Instant::now();
        while !std::fs::read_to_string(&out).unwrap_or_default().contains("/cookie/set") {
            assert!(started.elapsed() < Duration::from_secs(20), "the first page never came");
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = first.kill();
        let _ = first.wait();
        assert_eq!(s.hits("/cookie/check"), 0, "killed before the cookie was needed");
        let run = CrawlCmd::new().mode(mode).args(args).stdin(&seeds).run();
        run.assert_ok();
        let text = std::fs::read_to_string(&out).expect("records");
        let check: Record = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Record>(l).ok())
            .find(|r| r.url == s.url("/cookie/check"))
            .expect("the check page was crawled on resume");
        assert_eq!(check.title.as_deref(), Some("Cookie: session=abc123"));
        assert_eq!(s.hits("/cookie/set"), 1, "the page that set it was not fetched again");
        let _ = std::fs::remove_dir_all(&state);
        let _ = std::fs::remove_file(&out);
    }
}

#[test]
fn an_unreadable_cookie_jar_is_a_usage_error() {
    let s = server();
    let state = temp("spoiled", "any");
    std::fs::create_dir_all(&state).expect("state dir");
    std::fs::write(state.join("cookies.json"), "not a jar").expect("spoiled");
    let state_arg = state.to_string_lossy().into_owned();
    let run = CrawlCmd::new()
        .args(["--cookies", "--state", &state_arg])
        .stdin(format!("{}\n", s.url("/")))
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("cookies.json is not a cookie jar"),
        "{}",
        run.stderr
    );
    assert_eq!(s.total_hits(), 0);
    let _ = std::fs::remove_dir_all(&state);
}
