//! `crawl status --frontier URL --crawl-id ID [--json] [--watch [SECS]]`: a shared crawl as a
//! whole, printed from what [`crawl::crawl_status`] reads in Redis.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crawl::cli::StatusArgs;

use super::Exit;

/// Prints the crawl's status once, or again every `--watch` seconds until it is finished.
pub fn run(args: &StatusArgs) -> Exit {
    let url = match args.frontier() {
        Ok(url) => url,
        Err(e) => {
            say!("crawl status: {e}");
            return Exit::Usage;
        }
    };
    let every = match args.watch {
        None => None,
        Some(secs) if secs.is_finite() && secs > 0.0 => Some(Duration::from_secs_f64(secs)),
        Some(secs) => {
            say!("crawl status: --watch: must be a number of seconds above 0, got {secs}");
            return Exit::Usage;
        }
    };
    let redraw = every.is_some() && !args.json && std::io::stdout().is_terminal();
    loop {
        let status = match crawl::crawl_status(&url, &args.crawl_id) {
            Ok(status) => status,
            Err(e) => {
                say!("crawl status: {e}");
                return Exit::Fatal;
            }
        };
        let text = if args.json {
            match serde_json::to_string(&status) {
                Ok(json) => format!("{json}\n"),
                Err(e) => {
                    say!("crawl status: {e}");
                    return Exit::Fatal;
                }
            }
        } else {
            status.to_string()
        };
        let mut out = std::io::stdout().lock();
        // Home and clear: the next picture replaces the last one on a terminal.
        let clear = if redraw { "\x1b[H\x1b[2J" } else { "" };
        let written = write!(out, "{clear}{text}").and_then(|()| out.flush());
        if written.is_err() {
            // A closed pipe (`crawl status --watch | head`) is the reader's choice.
            return Exit::Ok;
        }
        match every {
            Some(every) if !status.finished => std::thread::sleep(every),
            _ => return Exit::Ok,
        }
    }
}
