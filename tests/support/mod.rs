//! Helpers for driving the real `crawl` binary against the fixture server.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crawl::Mode;
pub use crawl::Record;
pub use crawl_fixture::{FixtureServer, Options};

/// The command-line name of every mode, from the library's own list ([`Mode::ALL`]), so a
/// new mode is covered without anyone remembering to add it here.
pub fn modes() -> impl Iterator<Item = &'static str> {
    Mode::ALL.into_iter().map(Mode::name)
}

/// What one run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stderr: String,
    pub records: Vec<Record>,
    pub elapsed: Duration,
}

impl Run {
    /// Records by URL, asserting that no URL has two.
    pub fn by_url(&self) -> BTreeMap<String, Record> {
        let mut map = BTreeMap::new();
        for r in &self.records {
            assert!(
                map.insert(r.url.clone(), r.clone()).is_none(),
                "two records for {}",
                r.url
            );
        }
        map
    }

    /// The record for `url`, which must exist.
    pub fn get(&self, url: &str) -> Record {
        self.records
            .iter()
            .find(|r| r.url == url)
            .cloned()
            .unwrap_or_else(|| panic!("no record for {url}; have {:#?}", self.urls()))
    }

    /// URL -> depth, asserting that no URL has two records.
    pub fn depths(&self) -> BTreeMap<String, u32> {
        self.by_url()
            .into_iter()
            .map(|(url, r)| (url, r.depth))
            .collect()
    }

    pub fn urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = self.records.iter().map(|r| r.url.clone()).collect();
        urls.sort();
        urls
    }

    /// Asserts a clean exit, showing stderr if not.
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "crawl failed:\n{}", self.stderr);
        self
    }
}

/// A path in the temporary directory for this test process, `crawl-PREFIX-PID-MODE-NAME`,
/// with nothing there yet.
pub fn fresh_temp(prefix: &str, name: &str, mode: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "crawl-{prefix}-{}-{mode}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_file(&path);
    path
}

/// The records in a JSON Lines file the binary wrote (none if there is no file yet).
pub fn records_in(path: &std::path::Path) -> Vec<Record> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}")))
        .collect()
}

/// A fixture server with default options.
pub fn server() -> FixtureServer {
    server_with(Options::default())
}

pub fn server_with(opts: Options) -> FixtureServer {
    FixtureServer::start(opts).expect("fixture server starts")
}

/// Runs `crawl --mode MODE ARGS...` with `seeds` on standard input.
pub fn crawl(mode: &str, seeds: &[String], args: &[&str]) -> Run {
    let mut input = String::new();
    for s in seeds {
        input.push_str(s);
        input.push('\n');
    }
    crawl_raw(&["--mode", mode, "--progress", "never"], args, &input)
}

/// Starts the binary with `fixed` then `args`, feeds it `stdin` and closes it.
pub fn spawn(fixed: &[&str], args: &[&str], stdin: &str) -> std::process::Child {
    spawn_with(fixed, args, stdin, &[])
}

/// [`spawn`], with environment variables set (`Some`) or removed (`None`).
pub fn spawn_with(
    fixed: &[&str],
    args: &[&str],
    stdin: &str,
    env: &[(&str, Option<&std::ffi::OsStr>)],
) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crawl"));
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let mut child = command
        .args(fixed)
        .args(args)
        // The fixture servers are on this machine: a proxy set in the environment must not
        // stand between them and the crawler (the proxy tests set their own).
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crawl binary runs");
    if let Some(mut input) = child.stdin.take() {
        // The binary may exit before reading (a bad flag), so a broken pipe is not a failure.
        let _ = input.write_all(stdin.as_bytes());
    }
    child
}

/// Runs `crawl --mode MODE ARGS...` and also returns its `--summary-json`.
pub fn crawl_with_summary(mode: &str, seeds: &[String], args: &[&str]) -> (Run, serde_json::Value) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("crawl-summary-{}-{n}.json", std::process::id()));
    let path_str = path.to_str().expect("UTF-8 temp path").to_owned();
    let mut all = args.to_vec();
    all.extend_from_slice(&["--summary-json", &path_str]);
    let run = crawl(mode, seeds, &all);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no summary ({e}):\n{}", run.stderr));
    let _ = std::fs::remove_file(&path);
    let summary = serde_json::from_str(&text).expect("summary is JSON");
    (run, summary)
}

/// Runs the binary with `fixed` then `args`, feeding `stdin`.
pub fn crawl_raw(fixed: &[&str], args: &[&str], stdin: &str) -> Run {
    crawl_raw_with(fixed, args, stdin, &[])
}

/// [`crawl_raw`], with environment variables set or removed (see [`spawn_with`]).
pub fn crawl_raw_with(
    fixed: &[&str],
    args: &[&str],
    stdin: &str,
    env: &[(&str, Option<&std::ffi::OsStr>)],
) -> Run {
    let started = Instant::now();
    let child = spawn_with(fixed, args, stdin, env);
    let out = child.wait_with_output().expect("crawl finishes");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8(out.stdout).expect("records are UTF-8");
    let records = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}")))
        .collect();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        records,
        elapsed,
    }
}

/// Runs the enclosed test bodies once per mode: `every_mode! { fn name(mode) { ... } }`
/// becomes `name::sequential`, `name::threads`, `name::async_tasks` and `name::processes`, each
/// passing its mode's command-line name ([`Mode::name`]).
///
/// Each generated module also maps every [`Mode`] to its test in a `match` with one arm per
/// variant and no wildcard, so a new variant is a compile error ("non-exhaustive patterns")
/// here until it has a test of its own.
macro_rules! every_mode {
    ($(fn $name:ident($mode:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                fn body($mode: &str) $body
                #[test]
                fn sequential() { body(::crawl::Mode::Sequential.name()) }
                #[test]
                fn threads() { body(::crawl::Mode::Threads.name()) }
                #[test]
                fn async_tasks() { body(::crawl::Mode::Async.name()) }
                #[test]
                fn processes() { body(::crawl::Mode::Processes.name()) }
                /// Which test runs each mode (never called: it exists to be exhaustive).
                const _: fn(::crawl::Mode) -> fn() = |mode| match mode {
                    ::crawl::Mode::Sequential => sequential,
                    ::crawl::Mode::Threads => threads,
                    ::crawl::Mode::Async => async_tasks,
                    ::crawl::Mode::Processes => processes,
                };
            }
        )*
    };
}
pub(crate) use every_mode;
