//! What `--cache DIR` saves on a second crawl: bytes received, CPU and wall time of a recrawl
//! against the first crawl, on the fixture server and on nginx serving a static site.
//!
//! `cargo bench --bench recrawl` (about two minutes; name parts to run fewer: `-- fixture
//! nginx heavy`). For each server, three crawls with one cache directory, every one the real
//! `crawl` binary with the same flags (`-m async -j 16 --per-host-workers 0 -d inf
//! --ignore-robots -o /dev/null --cache DIR`):
//!
//! 1. `first`: a fresh cache directory;
//! 2. `unchanged`: the same site again;
//! 3. `5% changed`: after 5% of the pages got a new body (the fixture's `revise` with
//!    `changed: 0.05`; on nginx, a comment appended to every 20th page file, which changes its
//!    ETag and Last-Modified). The summary must count exactly those pages as changed.
//!
//! Each crawl's wall time is measured around the process, its CPU (user + sys) from
//! `getrusage(RUSAGE_CHILDREN)` before and after, and the bytes it received as the server's
//! bytes sent: status lines, headers and bodies. The fixture counts what its sockets write
//! (`FixtureServer::bytes_sent`); nginx logs `$bytes_sent` for each request into an access
//! log of this bench's own (config and files under /tmp). The cache's size per page is taken
//! after the first crawl.
//!
//! Servers: the fixture's `/gen/` site, 20,000 pages of about 3 KB with 10 links; nginx
//! serving `../shared/peers/gen_site.py`'s `wide` preset (50,000 pages of about 3 KB, 10
//! links: the generator has no 20,000-page preset, and `wide` is the nearest by ratio and the
//! one the peers harness quotes). The `heavy` part adds rows with 150 KB pages (the fixture at
//! `page_kb: 150` and nginx with the `heavy` preset, 1,000 pages each), labelled as such. nginx
//! rows are skipped with a note when nginx is not installed. The table goes to
//! `target/bench-results/recrawl.md`.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{crawl, machine, num, publish, wanted_parts};
use crawl_fixture::{FixtureServer, Options, Revision};
use nix::sys::resource::{UsageWho, getrusage};
use serde_json::Value;

const FIXTURE_PAGES: usize = 20_000;
const HEAVY_PAGES: usize = 1_000;
/// The share of pages changed before the third crawl.
const CHANGED: f64 = 0.05;
/// On nginx, every 20th page file gets this appended (5%).
const CHANGED_EVERY: usize = 20;
const COMMENT: &str = "<!-- revised for the recrawl bench -->\n";
const CRAWL_ARGS: [&str; 10] = [
    "-m",
    "async",
    "-j",
    "16",
    "--per-host-workers",
    "0",
    "-d",
    "inf",
    "--ignore-robots",
    "--cache",
];
const GEN_SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/peers/gen_site.py");

/// One crawl's figures.
struct Run {
    wall: f64,
    cpu: f64,
    /// HTTP response bytes as sent: status line, headers and body.
    bytes: u64,
    /// Responses, and how many of them were 304s.
    responses: u64,
    not_modified: u64,
    summary: Value,
}

/// A server the three crawls run against.
trait Site {
    fn seed(&self) -> String;
    /// Bytes sent so far, responses so far, 304s so far.
    fn sent(&self) -> (u64, u64, u64);
    /// Changes 5% of the pages; returns how many changed.
    fn change(&mut self) -> usize;
}

/// User + sys seconds of every child waited for so far.
fn children_cpu() -> f64 {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    s(usage.user_time()) + s(usage.system_time())
}

fn run(site: &dyn Site, cache: &Path) -> Run {
    let cache = cache.to_str().expect("a UTF-8 temp path");
    let args: Vec<&str> = CRAWL_ARGS.iter().copied().chain([cache]).collect();
    let (bytes0, responses0, nm0) = site.sent();
    let cpu0 = children_cpu();
    let started = Instant::now();
    let summary = crawl(&[site.seed()], &args);
    let wall = started.elapsed().as_secs_f64();
    let cpu = children_cpu() - cpu0;
    let (bytes1, responses1, nm1) = site.sent();
    Run {
        wall,
        cpu,
        bytes: bytes1 - bytes0,
        responses: responses1 - responses0,
        not_modified: nm1 - nm0,
        summary,
    }
}

/// Apparent and allocated bytes of every file under `dir`.
fn dir_size(dir: &Path) -> (u64, u64) {
    let mut sizes = (0, 0);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            let (a, b) = dir_size(&entry.path());
            sizes = (sizes.0 + a, sizes.1 + b);
        } else {
            sizes = (sizes.0 + meta.len(), sizes.1 + meta.blocks() * 512);
        }
    }
    sizes
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("crawl-bench-recrawl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

struct Fixture(FixtureServer);

impl Site for Fixture {
    fn seed(&self) -> String {
        self.0.url("/gen/0")
    }
    fn sent(&self) -> (u64, u64, u64) {
        (
            self.0.bytes_sent(),
            self.0.total_hits(),
            self.0.not_modified(),
        )
    }
    fn change(&mut self) -> usize {
        self.0
            .revise(&Revision {
                changed: CHANGED,
                seed: 1,
                ..Revision::default()
            })
            .changed
            .len()
    }
}

/// nginx, one worker, serving `root` with an access log of `$status $bytes_sent`.
struct Nginx {
    root: PathBuf,
    state: PathBuf,
    port: u16,
    pid: Option<i32>,
    pages: usize,
}

impl Nginx {
    fn installed() -> bool {
        Command::new("nginx")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Generates `preset` with the peers harness's gen_site.py and serves it.
    fn start(preset: &str) -> Result<Nginx, String> {
        let state = scratch(&format!("nginx-{preset}"));
        let root = state.join("site");
        std::fs::create_dir_all(state.join("tmp")).map_err(|e| e.to_string())?;
        let out = Command::new("python3")
            .arg(GEN_SITE)
            .arg(preset)
            .arg(&root)
            .output()
            .map_err(|e| format!("python3 not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "gen_site.py {preset} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let pages = std::fs::read_dir(root.join("p"))
            .map_err(|e| e.to_string())?
            .count();
        // A free port: bound, read, released, then nginx's.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let d = state.display();
        let conf = format!(
            r#"worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    types {{ text/html html; text/plain txt; }}
    default_type application/octet-stream;
    log_format sent '$status $bytes_sent';
    access_log {d}/access.log sent;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    gzip off;
    server_tokens off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
    }}
}}
"#,
            root = root.display()
        );
        std::fs::write(state.join("nginx.conf"), conf).map_err(|e| e.to_string())?;
        std::fs::write(state.join("access.log"), "").map_err(|e| e.to_string())?;
        let mut nginx = Nginx {
            root,
            state,
            port,
            pid: None,
            pages,
        };
        let out = Command::new("nginx")
            .arg("-e")
            .arg(nginx.state.join("error.log"))
            .arg("-c")
            .arg(nginx.state.join("nginx.conf"))
            .output()
            .map_err(|e| format!("nginx not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "nginx failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        for _ in 0..50 {
            if let Some(pid) = std::fs::read_to_string(nginx.state.join("nginx.pid"))
                .ok()
                .and_then(|p| p.trim().parse().ok())
            {
                nginx.pid = Some(pid);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        nginx.pid.ok_or("nginx wrote no pid file")?;
        Ok(nginx)
    }

    /// Responses by status: (count, bytes sent).
    fn log(&self) -> BTreeMap<u16, (u64, u64)> {
        let text = std::fs::read_to_string(self.state.join("access.log")).unwrap_or_default();
        let mut by_status = BTreeMap::new();
        for line in text.lines() {
            let mut words = line.split(' ');
            let (Some(Ok(status)), Some(Ok(bytes))) = (
                words.next().map(str::parse::<u16>),
                words.next().map(str::parse::<u64>),
            ) else {
                continue;
            };
            let e: &mut (u64, u64) = by_status.entry(status).or_default();
            e.0 += 1;
            e.1 += bytes;
        }
        by_status
    }
}

impl Site for Nginx {
    fn seed(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
    fn sent(&self) -> (u64, u64, u64) {
        let log = self.log();
        let (n, bytes) = log
            .values()
            .fold((0, 0), |(n, b), (n1, b1)| (n + n1, b + b1));
        (bytes, n, log.get(&304).map_or(0, |e| e.0))
    }
    fn change(&mut self) -> usize {
        use std::io::Write as _;
        let mut changed = 0;
        for i in (0..self.pages).step_by(CHANGED_EVERY) {
            let path = self.root.join(format!("p/{i}.html"));
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("page file");
            file.write_all(COMMENT.as_bytes())
                .expect("comment appended");
            changed += 1;
        }
        changed
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
            for _ in 0..50 {
                if nix::sys::signal::kill(pid, None).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// The three crawls against one site, and what they show.
struct Trio {
    label: String,
    runs: [Run; 3],
    expected_changed: usize,
    cache_per_page: (f64, f64),
}

fn trio(label: &str, site: &mut dyn Site, name: &str) -> Trio {
    let cache = scratch(&format!("cache-{name}"));
    let first = run(site, &cache);
    let pages = num(&first.summary, &["pages"]).max(1.0);
    let (apparent, allocated) = dir_size(&cache);
    let unchanged = run(site, &cache);
    let expected_changed = site.change();
    let changed = run(site, &cache);
    let _ = std::fs::remove_dir_all(&cache);
    Trio {
        label: label.to_owned(),
        runs: [first, unchanged, changed],
        expected_changed,
        cache_per_page: (apparent as f64 / pages, allocated as f64 / pages),
    }
}

fn kb(bytes: f64) -> String {
    if bytes >= 1e6 {
        format!("{:.1} MB", bytes / 1e6)
    } else {
        format!("{:.1} kB", bytes / 1e3)
    }
}

fn pct(part: f64, whole: f64) -> f64 {
    100.0 * part / whole.max(1e-9)
}

/// "new 0, changed 1000, unchanged 19000 (304 19000, digest 0, fresh 0), gone 0".
fn said(s: &Value) -> String {
    let r = |k: &str| num(s, &["recrawl", k]);
    format!(
        "new {:.0}, changed {:.0}, unchanged {:.0} (304: {:.0}, same digest: {:.0}, fresh: {:.0}), gone {:.0}",
        r("new"),
        r("changed"),
        r("unchanged"),
        r("not_modified"),
        r("same_digest"),
        r("fresh"),
        r("gone")
    )
}

/// Whether the summary counted what the run should have: every page new, every page
/// unchanged by a 304, or exactly the changed pages changed and the rest 304s.
fn check(t: &Trio, i: usize) -> String {
    let s = &t.runs[i].summary;
    let pages = num(s, &["pages"]);
    let r = |k: &str| num(s, &["recrawl", k]);
    let ok = match i {
        0 => r("new") == pages,
        1 => r("not_modified") == pages && r("changed") == 0.0 && r("new") == 0.0,
        _ => {
            r("changed") == t.expected_changed as f64
                && r("not_modified") == pages - t.expected_changed as f64
                && r("new") == 0.0
        }
    };
    if ok {
        "ok".to_owned()
    } else if i == 2 {
        format!("WRONG: expected {} changed", t.expected_changed)
    } else {
        "WRONG".to_owned()
    }
}

fn main() {
    let started = Instant::now();
    let wanted = wanted_parts();
    let nginx = Nginx::installed();
    let mut trios = Vec::new();
    let mut notes = Vec::new();
    let fixture_site = |pages: usize, page_kb: usize| {
        FixtureServer::start(Options {
            pages,
            page_kb,
            ..Options::default()
        })
        .expect("fixture server")
    };
    if wanted("fixture") {
        let mut site = Fixture(fixture_site(FIXTURE_PAGES, 3));
        trios.push(trio(
            "fixture /gen/, 20,000 pages of ~3 KB",
            &mut site,
            "fixture",
        ));
    }
    if wanted("nginx") {
        if !nginx {
            notes
                .push("nginx rows skipped: nginx not installed (apt-get install nginx)".to_owned());
        } else {
            match Nginx::start("wide") {
                Ok(mut site) => {
                    let label = format!("nginx, gen_site.py wide, {} pages of ~3 KB", site.pages);
                    trios.push(trio(&label, &mut site, "nginx"));
                }
                Err(why) => notes.push(format!("nginx wide skipped: {why}")),
            }
        }
    }
    if wanted("heavy") {
        let mut site = Fixture(fixture_site(HEAVY_PAGES, 150));
        trios.push(trio(
            "heavy pages: fixture /gen/, 1,000 pages of ~150 KB",
            &mut site,
            "fixture-heavy",
        ));
        if !nginx {
            notes.push("nginx heavy skipped: nginx not installed".to_owned());
        } else {
            match Nginx::start("heavy") {
                Ok(mut site) => {
                    let label = format!(
                        "heavy pages: nginx, gen_site.py heavy, {} pages of ~150 KB",
                        site.pages
                    );
                    trios.push(trio(&label, &mut site, "nginx-heavy"));
                }
                Err(why) => notes.push(format!("nginx heavy skipped: {why}")),
            }
        }
    }
    publish("recrawl", &report(&trios, &notes, started.elapsed()));
}

fn report(trios: &[Trio], notes: &[String], elapsed: Duration) -> String {
    let mut out = format!(
        "## Recrawl with --cache: what a second crawl costs\n\nMachine: {}. Every crawl: `crawl -m async -j 16 --per-host-workers 0 -d inf --ignore-robots --progress never -o /dev/null --cache DIR` (release build), one run each; the server shares the cores.\n\n\
         Bytes received are HTTP response bytes as sent (status line, headers and body): on the fixture, what its sockets wrote (`FixtureServer::bytes_sent`); on nginx, the sum of `$bytes_sent` in its access log. CPU is user + sys of the crawl process (`getrusage(RUSAGE_CHILDREN)` deltas); wall is around the process.\n\n",
        machine()
    );
    writeln!(
        out,
        "| site | crawl | pages | wall s | CPU s | bytes received | bytes vs first | CPU vs first | wall vs first | mean bytes per response | summary | check |"
    )
    .ok();
    writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|").ok();
    for t in trios {
        let first = &t.runs[0];
        for (i, (name, r)) in ["first", "unchanged", "5% changed"]
            .iter()
            .zip(&t.runs)
            .enumerate()
        {
            let vs = |a: f64, b: f64| {
                if i == 0 {
                    "".to_owned()
                } else {
                    format!("{:.2}%", pct(a, b))
                }
            };
            writeln!(
                out,
                "| {} | {name} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {:.0} | {} | {} |",
                t.label,
                num(&r.summary, &["pages"]),
                r.wall,
                r.cpu,
                kb(r.bytes as f64),
                vs(r.bytes as f64, first.bytes as f64),
                vs(r.cpu, first.cpu),
                vs(r.wall, first.wall),
                r.bytes as f64 / (r.responses.max(1)) as f64,
                said(&r.summary),
                check(t, i),
            )
            .ok();
        }
    }
    writeln!(out, "\nCache on disk after the first crawl, per page (apparent size of the files / blocks allocated):\n").ok();
    for t in trios {
        writeln!(
            out,
            "- {}: {:.0} / {:.0} bytes per page",
            t.label, t.cache_per_page.0, t.cache_per_page.1
        )
        .ok();
    }
    writeln!(out, "\nThe issue's targets (unchanged: bytes at most 5% of the first crawl's, CPU at most a third; 5% changed: bytes at most 10%):\n").ok();
    for t in trios {
        let [first, same, changed] = &t.runs;
        let met = |ok: bool| if ok { "met" } else { "MISSED" };
        let (b1, c1, b2) = (
            pct(same.bytes as f64, first.bytes as f64),
            same.cpu / first.cpu.max(1e-9),
            pct(changed.bytes as f64, first.bytes as f64),
        );
        // The floor of the unchanged ratio: a 304's bytes against a 200's.
        let per_304 = same.bytes as f64 / same.not_modified.max(1) as f64;
        let per_200 = first.bytes as f64 / first.responses.max(1) as f64;
        writeln!(
            out,
            "- {}: unchanged bytes {b1:.2}% ({}), unchanged CPU {:.2} s / {:.2} s = {c1:.2} ({}), 5% changed bytes {b2:.2}% ({}). A 304 averages {per_304:.0} bytes against {per_200:.0} for a first-crawl response: {:.2}%.",
            t.label,
            met(b1 <= 5.0),
            same.cpu,
            first.cpu,
            met(c1 <= 1.0 / 3.0),
            met(b2 <= 10.0),
            pct(per_304, per_200),
        )
        .ok();
    }
    for n in notes {
        writeln!(out, "\nNote: {n}").ok();
    }
    writeln!(
        out,
        "\nWhole bench: {:.0} s (site generation included).",
        elapsed.as_secs_f64()
    )
    .ok();
    out
}
