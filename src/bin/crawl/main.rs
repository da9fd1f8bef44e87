//! The `crawl` command: a thin shell over the library. It parses flags, reads seeds, runs the
//! crawl through the library's front door, prints the summary, and maps the outcome to an exit
//! status ([`Exit`]). Everything it does is available to library users too.

/// `eprintln!` that cannot panic: with standard error closed (`crawl … 2>&1 | head`), a line
/// that cannot be written is dropped, and the exit status still says how the crawl ended.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod demo;
#[cfg(feature = "man")]
mod generate;
mod logs;
#[cfg(feature = "redis")]
mod status;

use std::process::ExitCode;

use clap::Parser;
use crawl::StopSignal;
use crawl::cli::{Args, Command};

/// Exit statuses, as documented in `--help`.
enum Exit {
    /// The crawl finished (failed pages are records, not exit codes).
    Ok,
    /// A fatal runtime error.
    Fatal,
    /// Bad flags or input.
    Usage,
    /// Stopped in order by a signal: 128 + its number, as shells report it (130 for Ctrl-C,
    /// 143 for SIGTERM).
    Stopped(StopSignal),
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::Fatal => 1,
            Exit::Usage => 2,
            Exit::Stopped(signal) => 128u8.saturating_add(signal.number() as u8),
        })
    }
}

/// `crawl --frontier URL --crawl-id ID --stop-crawl`: asks every node of the crawl to stop.
#[cfg(feature = "redis")]
fn stop_crawl(args: &Args) -> ExitCode {
    let shared = match args.shared_crawl() {
        Ok(Some(shared)) => shared,
        Ok(None) => {
            say!("crawl: --stop-crawl needs --frontier and --crawl-id");
            return Exit::Usage.into();
        }
        Err(e) => {
            say!("crawl: {e}");
            return Exit::Usage.into();
        }
    };
    match crawl::stop_crawl(&shared.url, &shared.crawl_id) {
        Ok(()) => {
            say!(
                "crawl: asked every node of crawl {} to stop; each finishes its pages in flight and writes their records",
                shared.crawl_id
            );
            Exit::Ok.into()
        }
        Err(e) => {
            say!("crawl: {e}");
            Exit::Fatal.into()
        }
    }
}

/// `--stop-crawl` in a build without the `redis` feature: there is no shared crawl to stop.
#[cfg(not(feature = "redis"))]
fn stop_crawl(_args: &Args) -> ExitCode {
    say!(
        "crawl: --stop-crawl: this build of crawl has no Redis frontier; rebuild with the \
         `redis` feature (it is in the default features)"
    );
    Exit::Usage.into()
}

/// `crawl status`: the shared crawl as a whole.
#[cfg(feature = "redis")]
fn status(args: &crawl::cli::StatusArgs) -> ExitCode {
    status::run(args).into()
}

/// `crawl status` in a build without the `redis` feature: there is no shared crawl to read.
#[cfg(not(feature = "redis"))]
fn status(_args: &crawl::cli::StatusArgs) -> ExitCode {
    say!(
        "crawl status: this build of crawl has no Redis frontier; rebuild with the `redis` \
         feature (it is in the default features)"
    );
    Exit::Usage.into()
}

/// `crawl completions SHELL` or `crawl man`: prints it instead of crawling.
#[cfg(feature = "man")]
fn print(command: Command) -> ExitCode {
    let printed = match command {
        Command::Completions { shell } => generate::completions(shell),
        Command::Man => generate::man(),
        Command::Status(args) => return status(&args),
    };
    match printed {
        Ok(()) => Exit::Ok.into(),
        // A closed pipe (`crawl man | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok.into(),
        Err(e) => {
            say!("crawl: cannot write to standard output: {e}");
            Exit::Fatal.into()
        }
    }
}

/// `crawl completions SHELL` or `crawl man` in a build without the `man` feature: the commands
/// parse (the flags and `--help` are the same in every build), and say what is missing.
#[cfg(not(feature = "man"))]
fn print(command: Command) -> ExitCode {
    let what = match command {
        Command::Completions { .. } => "shell completions",
        Command::Man => "man page",
        Command::Status(args) => return status(&args),
    };
    say!(
        "crawl: this build of crawl has no {what}; rebuild with the `man` feature (it is in the \
         default features)"
    );
    Exit::Usage.into()
}

fn main() -> ExitCode {
    // clap prints its own message and exits 2 for unknown or malformed flags.
    let args = Args::parse();
    if let Some(command) = args.command.clone() {
        return print(command);
    }
    if let Err(e) = logs::install(args.verbose, args.log.as_deref(), args.log_format) {
        say!("crawl: {e:#}");
        return Exit::Usage.into();
    }
    if args.stop_crawl {
        return stop_crawl(&args);
    }
    // The fixture server for --demo is a child process; it is stopped when this guard drops.
    let demo = if args.demo {
        match demo::FixtureProcess::start() {
            Ok(server) => Some(server),
            Err(e) => {
                say!("crawl: --demo: {e:#}");
                return Exit::Fatal.into();
            }
        }
    } else {
        None
    };
    let seeds = match &demo {
        Some(server) => server.seeds(),
        None => match args.read_seeds() {
            Ok(seeds) => seeds,
            Err(e) => {
                say!("crawl: {e}");
                return Exit::Usage.into();
            }
        },
    };
    let summary_json = args.summary_json.clone();
    // The flags, validated once: the crawl runs this plan as it is.
    let mut plan = match args.into_plan(seeds) {
        Ok(plan) => plan,
        Err(e) => {
            say!("crawl: {e}");
            return Exit::Usage.into();
        }
    };
    if let Some(server) = &demo {
        say!(
            "crawl: --demo: crawling the fixture site at {} (depth {}, mode {})",
            server.base_url(),
            match plan.depth {
                crawl::UNLIMITED_DEPTH => "inf".to_string(),
                depth => depth.to_string(),
            },
            plan.mode.name()
        );
    }
    // Said on standard error whatever the log level: with port 0 it is the only way to learn
    // the port.
    plan.on_metrics(crawl::config::MetricsListening(std::sync::Arc::new(
        |addr| {
            say!("crawl: metrics on http://{addr}/metrics");
        },
    )));
    match crawl::run_plan(plan) {
        Ok(summary) => {
            say!("{summary}");
            if let Some(path) = summary_json {
                let json = summary.to_json().to_string();
                if let Err(e) = std::fs::write(&path, json + "\n") {
                    say!(
                        "crawl: --summary-json: cannot write {}: {e}",
                        path.display()
                    );
                    return Exit::Fatal.into();
                }
            }
            match summary.interrupted {
                Some(signal) => Exit::Stopped(signal).into(),
                None => Exit::Ok.into(),
            }
        }
        Err(crawl::CrawlError::Config(e)) => {
            // The same rules as a library user's config; here the setting is named by its flag.
            say!("crawl: {}", e.for_flag());
            Exit::Usage.into()
        }
        Err(e) => {
            say!("crawl: {e}");
            if e.is_usage() {
                Exit::Usage.into()
            } else {
                Exit::Fatal.into()
            }
        }
    }
}
