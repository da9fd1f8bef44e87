//! Helpers for driving the real `crawl` binary against the fixture server.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
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

/// One run of the `crawl` binary, built up and then run (after ripgrep's `TestCommand`):
///
/// ```ignore
/// let run = CrawlCmd::new().mode(mode).seeds(&[s.url("/")]).args(["--depth", "1"]).run();
/// ```
///
/// The command line is `[--mode MODE] --progress never ARGS...` ([`CrawlCmd::bare`] leaves
/// out `--progress never`, for `completions`, `man` and the like). The proxy variables of the
/// environment are removed: the fixture servers are on this machine, and a proxy set there
/// must not stand between them and the crawler (a test that wants one sets its own with
/// [`CrawlCmd::env`]). Standard input is what [`CrawlCmd::seeds`] or [`CrawlCmd::stdin`] gave,
/// written and closed, or nothing (`/dev/null`); standard output and error are piped.
pub struct CrawlCmd {
    mode: Option<String>,
    progress_never: bool,
    args: Vec<OsString>,
    stdin: Option<String>,
    env: Vec<(OsString, Option<OsString>)>,
    dir: Option<PathBuf>,
    stdout: Option<Stdio>,
}

impl CrawlCmd {
    /// `crawl --progress never`: no live bar in the stderr that tests read.
    pub fn new() -> CrawlCmd {
        CrawlCmd {
            progress_never: true,
            ..CrawlCmd::bare()
        }
    }

    /// `crawl` with no arguments at all.
    pub fn bare() -> CrawlCmd {
        CrawlCmd {
            mode: None,
            progress_never: false,
            args: Vec::new(),
            stdin: None,
            env: Vec::new(),
            dir: None,
            stdout: None,
        }
    }

    /// `--mode MODE`, first on the command line.
    pub fn mode(mut self, mode: &str) -> CrawlCmd {
        self.mode = Some(mode.to_owned());
        self
    }

    /// The seed URLs on standard input, one a line.
    pub fn seeds<S: AsRef<str>>(self, seeds: impl IntoIterator<Item = S>) -> CrawlCmd {
        let mut input = String::new();
        for s in seeds {
            input.push_str(s.as_ref());
            input.push('\n');
        }
        self.stdin(input)
    }

    /// Standard input, as it is.
    pub fn stdin(mut self, input: impl AsRef<str>) -> CrawlCmd {
        self.stdin = Some(input.as_ref().to_owned());
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> CrawlCmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> CrawlCmd {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (after the proxy variables are removed, so it can set one).
    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> CrawlCmd {
        self.env
            .push((name.into(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, name: &str) -> CrawlCmd {
        self.env.push((name.into(), None));
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> CrawlCmd {
        self.dir = Some(dir.into());
        self
    }

    /// Standard output, instead of a pipe (say `Stdio::null()` when the records go to `-o`).
    pub fn stdout(mut self, stdout: Stdio) -> CrawlCmd {
        self.stdout = Some(stdout);
        self
    }

    /// The command as built, for a test that drives its standard streams itself (standard
    /// input is not written: set it there).
    pub fn command(self) -> Command {
        self.into_parts().0
    }

    fn into_parts(self) -> (Command, Option<String>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crawl"));
        if let Some(mode) = &self.mode {
            command.args(["--mode", mode]);
        }
        if self.progress_never {
            command.args(["--progress", "never"]);
        }
        command.args(&self.args);
        for name in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            command.env_remove(name);
        }
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(self.stdout.unwrap_or_else(Stdio::piped))
            .stderr(Stdio::piped());
        (command, self.stdin)
    }

    /// Starts the binary and feeds it its standard input, then closes it.
    pub fn spawn(self) -> Child {
        let (mut command, input) = self.into_parts();
        let mut child = command.spawn().expect("crawl binary runs");
        if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
            // The binary may exit before reading (a bad flag), so a broken pipe is not a failure.
            let _ = stdin.write_all(input.as_bytes());
        }
        child
    }

    /// Runs the binary to the end: its raw output.
    pub fn output(self) -> Output {
        self.spawn().wait_with_output().expect("crawl finishes")
    }

    /// Runs the binary to the end: its exit code, stderr and the records on stdout.
    pub fn run(self) -> Run {
        let started = Instant::now();
        let out = self.output();
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

    /// [`CrawlCmd::run`] with `--summary-json FILE` last: the run and its summary.
    pub fn run_with_summary(self) -> (Run, serde_json::Value) {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("crawl-summary-{}-{n}.json", std::process::id()));
        let run = self.arg("--summary-json").arg(&path).run();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no summary ({e}):\n{}", run.stderr));
        let _ = std::fs::remove_file(&path);
        let summary = serde_json::from_str(&text).expect("summary is JSON");
        (run, summary)
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
