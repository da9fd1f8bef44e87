//! The `crawl` command: a thin shell over the library. It parses flags, reads seeds, runs the
//! crawl, prints the summary, and maps errors to exit codes (2: bad flags or input, 1: fatal
//! runtime error, 128 + N: stopped by signal N). Everything it does is available to library users too.

mod demo;

use std::process::ExitCode;

use clap::Parser;
use crawl::cli::Args;

/// Exit statuses, as documented in `--help`.
#[repr(u8)]
enum Exit {
    Ok = 0,
    Fatal = 1,
    Usage = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

fn main() -> ExitCode {
    // clap prints its own message and exits 2 for unknown or malformed flags.
    let args = Args::parse();
    // The fixture server for --demo is a child process; it is stopped when this guard drops.
    let demo = if args.demo {
        match demo::FixtureProcess::start() {
            Ok(server) => Some(server),
            Err(e) => {
                eprintln!("crawl: --demo: {e:#}");
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
                eprintln!("crawl: {e}");
                return Exit::Usage.into();
            }
        },
    };
    let summary_json = args.summary_json.clone();
    let config = match args.into_config(seeds) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("crawl: {e}");
            return Exit::Usage.into();
        }
    };
    if let Some(server) = &demo {
        eprintln!(
            "crawl: --demo: crawling the fixture site at {} (depth {}, mode {})",
            server.base_url(),
            config.depth,
            config.mode.name()
        );
    }
    match crawl::run(&config) {
        Ok(summary) => {
            eprintln!("{summary}");
            if let Some(path) = summary_json {
                let json = summary.to_json().to_string();
                if let Err(e) = std::fs::write(&path, json + "\n") {
                    eprintln!(
                        "crawl: --summary-json: cannot write {}: {e}",
                        path.display()
                    );
                    return Exit::Fatal.into();
                }
            }
            match summary.interrupted {
                // The shell convention: 128 + signal number (130 for Ctrl-C, 143 for SIGTERM).
                Some(signal) => ExitCode::from(128u8.saturating_add(signal as u8)),
                None => Exit::Ok.into(),
            }
        }
        Err(e) => {
            eprintln!("crawl: {e}");
            if e.is_usage() {
                Exit::Usage.into()
            } else {
                Exit::Fatal.into()
            }
        }
    }
}
