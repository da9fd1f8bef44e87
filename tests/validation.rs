//! One validation for every path: a bad setting is refused with the same rule whether it comes
//! from code (`crawl::run`, `crawl::Crawl`) or from flags (the binary), in every mode, before
//! anything is fetched. A library call never panics or hangs on a bad configuration.
//!
//! Processes mode runs here in the test harness too: a bad config is refused before the driver
//! checks that it may fork, so nothing forks. (A good config in processes mode is exercised
//! through the binary and the examples, which are single-threaded programs.)

use std::sync::mpsc;
use std::time::Duration;

use crawl::scrape::{Extracted, Page};
use crawl::{Config, Crawl, CrawlError, Mode, Setting, Url};

use crate::support::*;

/// Each bad setting a library user might write, and the setting the error must name.
fn bad_configs(seed: &str) -> Vec<(&'static str, Setting, Config)> {
    let base = || Config::new(vec![Url::parse(seed).expect("seed URL")]);
    let with = |change: fn(&mut Config)| {
        let mut c = base();
        change(&mut c);
        c
    };
    vec![
        ("rate = 0", Setting::Rate, with(|c| c.rate = Some(0.0))),
        (
            "workers = 0",
            Setting::Workers,
            with(|c| c.workers = Some(0)),
        ),
        (
            "per_host_rate = 0",
            Setting::PerHostRate,
            with(|c| c.per_host_rate = Some(0.0)),
        ),
        (
            "max_bytes = 0",
            Setting::MaxBytes,
            with(|c| c.max_bytes = 0),
        ),
        ("no seeds", Setting::Seeds, with(|c| c.seeds.clear())),
        (
            "a non-http seed",
            Setting::Seeds,
            with(|c| c.seeds = vec![Url::parse("ftp://127.0.0.1/file").expect("URL")]),
        ),
    ]
}

/// Runs `call` on its own thread, failing the test (instead of hanging it) if it takes long.
fn within_seconds<T: Send + 'static>(what: &str, call: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(call());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what}: no answer in 20 s (a hang, or a panic)"))
}

fn refused_setting(result: Result<crawl::Summary, CrawlError>, what: &str) -> Setting {
    match result {
        Err(CrawlError::Config(e)) => {
            assert!(e.to_string().starts_with(e.setting.field()), "{what}: {e}");
            e.setting
        }
        Err(other) => panic!("{what}: refused for the wrong reason: {other}"),
        Ok(summary) => panic!(
            "{what}: crawled {} pages instead of refusing",
            summary.pages()
        ),
    }
}

#[test]
fn the_library_refuses_bad_settings_in_every_mode() {
    let s = server();
    for mode in Mode::ALL {
        for (what, setting, mut config) in bad_configs(&s.url("/")) {
            config.mode = mode;
            let what = format!("{what} in {} mode", mode.name());
            // Sequential mode always has one worker: `workers` is not its setting to refuse.
            // (Checked without crawling: a crawl here would race the library tests for the
            // process's signal handlers.)
            if mode == Mode::Sequential && setting == Setting::Workers {
                assert_eq!(config.validate().map(|c| c.workers), Ok(1), "{what}");
                continue;
            }
            let run = config.clone();
            let result = within_seconds(&what, move || crawl::run(&run));
            assert_eq!(refused_setting(result, &what), setting, "{what}");
            let scraper = move |_: &Page<'_>| Extracted::item(1);
            let result = within_seconds(&what, move || Crawl::new(config, scraper).run());
            assert_eq!(
                refused_setting(result, &what),
                setting,
                "{what}, with Crawl"
            );
        }
    }
    assert_eq!(s.total_hits(), 0, "nothing is fetched for a bad config");
}

every_mode! {
    fn the_binary_refuses_the_same_settings_by_flag(mode) {
        let s = server();
        let seed = format!("{}\n", s.url("/"));
        let mut cases = vec![
            (&["--rate", "0"][..], seed.as_str(), "--rate: must be"),
            (&["--per-host-rate", "0"][..], &seed, "--per-host-rate: must be"),
            (&["--max-bytes", "0"][..], &seed, "--max-bytes: must be at least 1"),
            (&[][..], "# none\n", "no seed URLs"),
            (&[][..], "ftp://127.0.0.1/file\n", "line 1"),
        ];
        if mode != "sequential" {
            cases.push((&["--workers", "0"][..], &seed, "--workers: must be at least 1"));
        }
        for (args, stdin, message) in cases {
            let run = CrawlCmd::new().mode(mode).args(args).stdin(stdin).run();
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        }
        assert_eq!(s.total_hits(), 0);
    }
}
