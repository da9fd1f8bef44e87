//! `--demo`: crawl the built-in fixture site with no network.
//!
//! The fixture site is the `fixture-server` program built beside `crawl` (the crawler never
//! links the fixture code). We start it on an ephemeral port, read the address from its first
//! line of output, crawl its hand-written pages and its generated site, and stop it on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use url::Url;

/// A running fixture-server child process.
pub struct FixtureProcess {
    child: Child,
    base: Url,
}

impl FixtureProcess {
    /// Starts the fixture server found next to this executable.
    pub fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot locate the crawl executable")?;
        let server: PathBuf =
            exe.with_file_name(format!("fixture-server{}", std::env::consts::EXE_SUFFIX));
        if !server.exists() {
            bail!(
                "{} not found; build it with `cargo build --release` (it is part of this workspace)",
                server.display()
            );
        }
        let mut child = Command::new(&server)
            .args(["--port", "0", "--latency-ms", "10", "--pages", "500"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", server.display()))?;
        let line = child
            .stdout
            .take()
            .map(|out| {
                let mut line = String::new();
                BufReader::new(out).read_line(&mut line).map(|_| line)
            })
            .transpose()
            .context("reading the fixture server's address")?
            .unwrap_or_default();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_default();
        let base = match Url::parse(addr) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the fixture server did not say where it listens (it printed {line:?})");
            }
        };
        Ok(FixtureProcess { child, base })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The demo's seeds: the hand-written site and the generated one.
    pub fn seeds(&self) -> Vec<Url> {
        ["/", "/gen/0"]
            .iter()
            .filter_map(|p| self.base.join(p).ok())
            .collect()
    }
}

impl Drop for FixtureProcess {
    fn drop(&mut self) {
        // The server holds no state worth a graceful stop; make sure it is gone and reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
