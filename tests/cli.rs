//! The command line's contract: exit codes and messages for bad input, checked against the
//! real binary. Nothing may be fetched when the input is bad.

use crate::support::*;

fn run_with(args: &[&str], stdin: &str) -> Run {
    CrawlCmd::new().args(args).stdin(stdin).run()
}

#[test]
fn bad_line_names_its_number_and_fetches_nothing() {
    let s = server();
    let input = format!("# seeds\n{}\n\nnot a url\n", s.url("/"));
    let run = run_with(&[], &input);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("line 4"), "{}", run.stderr);
    assert!(run.stderr.contains("not a url"), "{}", run.stderr);
    assert_eq!(s.total_hits(), 0);

    let run = run_with(&[], &format!("{}\nftp://127.0.0.1/file\n", s.url("/")));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("line 2") && run.stderr.contains("ftp"),
        "{}",
        run.stderr
    );
    assert_eq!(s.total_hits(), 0);
}

#[test]
fn missing_file_and_empty_list_are_usage_errors() {
    let run = run_with(&["/nonexistent/urls.txt"], "");
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/urls.txt"),
        "{}",
        run.stderr
    );

    let run = run_with(&[], "# only a comment\n\n");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no seed URLs"), "{}", run.stderr);
}

#[test]
fn bad_flags_name_the_flag() {
    for (args, flag) in [
        (&["--rate", "0"][..], "--rate"),
        (&["--workers", "0"][..], "--workers"),
        (&["--allow-domain", "http://x/"][..], "--allow-domain"),
    ] {
        let run = run_with(args, "http://127.0.0.1:9/\n");
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(flag), "{args:?}: {}", run.stderr);
    }
    let run = run_with(&["--mode", "fastest"], "");
    assert_eq!(run.code, 2);
}

#[test]
fn processes_only_flags_are_refused_elsewhere() {
    let s = server();
    for args in [&["--fork-per-page"][..], &["--dedupe", "shared"][..]] {
        let run = run_with(args, &format!("{}\n", s.url("/")));
        assert_eq!(run.code, 2, "{args:?}");
        assert!(
            run.stderr.contains(args[0]) && run.stderr.contains("--mode processes"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(s.total_hits(), 0);
}

#[test]
fn unwritable_output_is_a_usage_error() {
    let s = server();
    let run = run_with(
        &["-o", "/nonexistent/dir/out.jsonl"],
        &format!("{}\n", s.url("/")),
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--output"), "{}", run.stderr);
}

#[test]
fn summary_reports_counts_rates_and_the_time_split() {
    let s = server();
    let run = run_with(&["-d", "1"], &format!("{}\n", s.url("/about.html")));
    run.assert_ok();
    for needle in [
        "pages,",
        "ok,",
        "failed in",
        "pages/s",
        "network",
        "parsing",
        "rate limiter",
        "idle",
    ] {
        assert!(
            run.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn a_malformed_header_is_a_usage_error_that_hides_its_value() {
    let s = server();
    for spec in ["Bearer s3cret", "X-Token: s3cret\u{7f}", "User-Agent: me"] {
        let run = run_with(&["-H", spec], &format!("{}\n", s.url("/")));
        assert_eq!(run.code, 2, "{spec:?}: {}", run.stderr);
        assert!(run.stderr.contains("--header"), "{}", run.stderr);
        assert!(
            !run.stderr.contains("s3c") && !run.stderr.contains("Bearer"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(s.total_hits(), 0);
}

#[test]
fn a_bad_proxy_is_a_usage_error_that_hides_its_password() {
    let s = server();
    for proxy in [
        "ftp://u:s3cret@127.0.0.1:21/",
        "not a url s3cret",
        "socks5://u:s3cret@",
        "alice:s3cret@127.0.0.1:3128",
    ] {
        let run = run_with(&["--proxy", proxy], &format!("{}\n", s.url("/")));
        assert_eq!(run.code, 2, "{proxy:?}: {}", run.stderr);
        assert!(run.stderr.contains("--proxy"), "{}", run.stderr);
        assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    }
    assert_eq!(s.total_hits(), 0);
}

#[test]
fn a_closed_standard_error_costs_no_record_and_no_crash() {
    use std::io::Write;
    use std::process::Stdio;
    let s = server();
    let out = fresh_temp("cli", "closed-stderr.jsonl", "async");
    // The bare command: this test holds standard input open until standard error is closed.
    let mut child = CrawlCmd::new()
        .args(["-d", "3", "-o"])
        .arg(&out)
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crawl starts");
    // The reader is gone before anything is said: every line to standard error fails (EPIPE).
    drop(child.stderr.take());
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{}", s.url("/")).expect("seed written");
    drop(stdin);
    let status = child.wait().expect("crawl ends");
    assert_eq!(
        status.code(),
        Some(0),
        "the summary it could not print is no crash"
    );
    assert_eq!(records_in(&out).len(), 16);
    let _ = std::fs::remove_file(&out);
}
