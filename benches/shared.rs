//! The shared frontier in Redis (`--frontier redis://... --crawl-id ID`): how a crawl scales
//! with nodes, what Redis costs a node per page, how many bytes of Redis a URL takes, and
//! one Redis against a Redis Cluster.
//!
//! `cargo bench --bench shared` (about 160 s on 2 cores; `-- scaling`, `-- cost`,
//! `-- link`, `-- memory`, `-- cluster`, `-- masters` or `-- large` runs one part). Every part
//! starts its own `redis-server` (crawl_fixture's RedisServer: an ephemeral port, no
//! persistence) or its own Redis Cluster (crawl_fixture's RedisCluster: three masters, three
//! replicas) and runs the real `crawl` binary. The tables are printed and written to
//! `target/bench-results/shared.md`, the chart to `target/bench-results/shared-scaling.svg`;
//! the committed copy of the chart, which benches/README.md and benches/results/shared.md
//! show, is docs/plots/shared-scaling.svg (as for every bench's charts). The nodes are
//! crawl_fixture's `CrawlNode`s, the harness tests/shared.rs uses too.
//!
//! 1. **Scaling**: 1, 2 and 4 nodes of `--mode async -j 16` crawl a 3,000-page generated site
//!    served with 50 ms of latency, all started together (the first with the seed, the others
//!    as soon as the crawl exists in Redis). Pages/s is the union of the nodes' records over the
//!    wall time from the first start to the last exit (median of three), beside Little's law
//!    (nodes x 16 / 50 ms) and the bound the site's depths set. The union must hold every page
//!    of the site exactly once, or the bench fails.
//! 2. **What Redis costs**: one node, no latency, `-j 64`, a 20,000-page site, with the Redis
//!    frontier and with the in-memory one (median of five each), with round trips per page and
//!    Redis's time per page (`INFO commandstats`, reset before each crawl, and `INFO cpu`);
//!    then (`link`) the same crawl with Redis behind a proxy that delays every chunk.
//! 3. **Memory per URL**: the frontier's layout loaded directly (a 1,000,000-page crawl takes
//!    too long here): N random fingerprints SADDed into the 4096 `seen:B` buckets of one shard
//!    as the scripts store them (`layout::prefix`, `layout::seen`), and N `"DEPTH URL"`
//!    entries RPUSHed into one queue list, each weighed by `used_memory` before and after.
//! 4. **One Redis against a cluster** (`cluster`): one node, no latency, `-j 16`, a
//!    20,000-page site over 24 host names with its 24 seeds, on one Redis with 1 shard, one
//!    Redis with 16, and the 3-master RedisCluster (16 shards); pages/s (median of three),
//!    Redis CPU per page summed over the masters (the replicas' apart), round trips and node
//!    CPU per page.
//! 5. **Keys and memory per master** (`masters`): a 100,000-page crawl of 200 hosts on the
//!    cluster (one node, `-j 32`, `--expect-urls 100000`), then each master's keys, memory
//!    over its empty baseline, shards, hosts and seen-set buckets.
//! 6. **Memory per known URL at 10^6 and 10^7** (`large`): random fingerprints loaded directly
//!    into one shard's seen set with the bucket count a crawl expecting that many URLs gets
//!    (`layout::buckets_for_urls`), and at 10^7 into the fixed 4096 buckets for contrast.
//!
//! After them, from the figures of parts 3, 4 and 6 (when all three ran), a projection for
//! 10^8 and 10^9 known URLs: seen set, queue, masters and hours.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ::crawl::frontier::redis::layout;
use common::{Series, crawl, line_chart, machine, num, publish, wanted_parts};
use crawl_fixture::{
    CrawlNode, FixtureServer, Options, RedisCluster, RedisOptions, RedisServer, wait_for_crawl,
};
use nix::sys::resource::{UsageWho, getrusage};
use serde_json::Value;

/// Node counts of part 1.
const NODES: [usize; 3] = [1, 2, 4];
/// Workers (pages in flight) of each node in part 1.
const WORKERS: usize = 16;
/// Pages of part 1's site: several seconds for one node.
const SCALE_PAGES: usize = 3000;
/// The fixture server's latency in part 1.
const LATENCY: Duration = Duration::from_millis(50);
/// Runs of each node count in part 1 (the median is reported).
const SCALE_REPS: usize = 3;
/// Pages of part 2's site.
const COST_PAGES: usize = 20_000;
/// Runs of each frontier in part 2 (the median is reported).
const COST_REPS: usize = 5;
/// URLs loaded in part 3.
const MEMORY_SIZES: [usize; 2] = [100_000, 1_000_000];
/// The scripts' seen-set buckets, from the library's layout.
const BUCKETS: u64 = layout::BUCKETS;
/// Commands per pipeline in part 3.
const BATCH: usize = 10_000;
/// `--depth` far past any depth of the generated sites.
const DEPTH: &str = "100000";

/// A Redis without persistence: the crawl's own cost, not the disk's.
fn redis_server() -> RedisServer {
    RedisServer::start_with(RedisOptions {
        appendonly: false,
        ..RedisOptions::default()
    })
}

fn connect(redis: &RedisServer) -> redis::Connection {
    redis::Client::open(redis.url())
        .and_then(|c| c.get_connection())
        .expect("the bench connects to its Redis")
}

/// `INFO section` as `field -> value`.
fn info(conn: &mut redis::Connection, section: &str) -> HashMap<String, String> {
    let text: String = redis::cmd("INFO")
        .arg(section)
        .query(conn)
        .expect("INFO answers");
    text.lines()
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn info_f64(info: &HashMap<String, String>, field: &str) -> f64 {
    info.get(field).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

/// Seconds of CPU Redis has used since it started.
fn redis_cpu_s(conn: &mut redis::Connection) -> f64 {
    let cpu = info(conn, "cpu");
    info_f64(&cpu, "used_cpu_user") + info_f64(&cpu, "used_cpu_sys")
}

/// `used_memory`, after a round trip that makes sure every earlier reply has been read.
fn used_memory(conn: &mut redis::Connection) -> f64 {
    let _: String = redis::cmd("PING").query(conn).expect("PING");
    info_f64(&info(conn, "memory"), "used_memory")
}

/// Seconds of CPU used by this process (the fixture server runs in it) or by its waited-for
/// children (the crawl nodes; redis-server is waited for only when dropped).
fn cpu_s(who: UsageWho) -> f64 {
    let usage = getrusage(who).expect("getrusage");
    let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    s(usage.user_time()) + s(usage.system_time())
}

/// Starts a node of crawl `id`: `crawl ARGS --progress never` as a crawl_fixture
/// [`CrawlNode`] (the harness crawl's shared-frontier tests use too), the creator with `seeds`
/// on standard input or a node that joins (no URLS_FILE).
fn start_node(redis: &RedisServer, id: &str, seeds: Option<&[String]>, args: &[&str]) -> CrawlNode {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crawl"));
    command.args(args).args(["--progress", "never"]);
    let seeds = seeds.map(|seeds| seeds.iter().map(|s| format!("{s}\n")).collect::<String>());
    CrawlNode::start(command, &redis.url(), id, seeds.as_deref())
}

/// Waits for a node; its summary and records file. Panics, quoting its stderr, if it failed.
fn finish(node: CrawlNode) -> (Value, PathBuf) {
    let exit = node.finish();
    assert!(
        exit.status.success(),
        "a node failed ({}):\n{}",
        exit.status,
        exit.stderr
    );
    (exit.summary.expect("summary written"), exit.out)
}

/// One run of part 1.
struct ScaleRun {
    nodes: usize,
    wall_s: f64,
    pages: usize,
    /// Records per node, in start order.
    per_node: Vec<u64>,
    round_trips: f64,
    /// Pages at each depth.
    depths: Vec<usize>,
    /// CPU seconds: the nodes, the fixture server (this process), Redis.
    cpu: [f64; 3],
}

/// Reads the nodes' records: the union must hold every page of the site once, without errors.
/// Returns the pages at each depth.
fn check_union(files: &[PathBuf], pages: usize, what: &str) -> Vec<usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut depths = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("records written");
        let _ = std::fs::remove_file(file);
        for line in text.lines() {
            let record: Value = serde_json::from_str(line).expect("a JSON record per line");
            let url = record["url"]
                .as_str()
                .expect("a record has a url")
                .to_owned();
            if !record["error"].is_null() {
                errors.push(format!("{url}: {}", record["error"]));
            }
            let depth = record["depth"].as_u64().unwrap_or(0) as usize;
            if depths.len() <= depth {
                depths.resize(depth + 1, 0);
            }
            depths[depth] += 1;
            *seen.entry(url).or_insert(0) += 1;
        }
    }
    let twice: Vec<(&String, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{what}: {} URL(s) recorded more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    assert_eq!(
        seen.len(),
        pages,
        "{what}: the union has {} URLs, the site {pages}",
        seen.len()
    );
    assert!(
        errors.is_empty(),
        "{what}: {} page(s) failed, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    depths
}

fn scale_run(server: &FixtureServer, nodes: usize) -> ScaleRun {
    let redis = redis_server();
    let mut conn = connect(&redis);
    let id = format!("scale-{nodes}");
    let workers = WORKERS.to_string();
    let args = [
        "--mode",
        "async",
        "-j",
        &workers,
        "--per-host-workers",
        "0",
        "--ignore-robots",
        "-d",
        DEPTH,
    ];
    let seeds = [server.url("/gen/0")];
    let (children_before, self_before, redis_before) = (
        cpu_s(UsageWho::RUSAGE_CHILDREN),
        cpu_s(UsageWho::RUSAGE_SELF),
        redis_cpu_s(&mut conn),
    );
    let started = Instant::now();
    let mut running = vec![start_node(&redis, &id, Some(&seeds), &args)];
    if nodes > 1 {
        wait_for_crawl(&redis, &id, &mut running[0]);
        for _ in 1..nodes {
            running.push(start_node(&redis, &id, None, &args));
        }
    }
    let ended: Vec<(Value, PathBuf)> = running.into_iter().map(finish).collect();
    let wall_s = started.elapsed().as_secs_f64();
    let cpu = [
        cpu_s(UsageWho::RUSAGE_CHILDREN) - children_before,
        cpu_s(UsageWho::RUSAGE_SELF) - self_before,
        redis_cpu_s(&mut conn) - redis_before,
    ];
    let summaries: Vec<&Value> = ended.iter().map(|(s, _)| s).collect();
    for s in &summaries {
        assert_eq!(
            num(s, &["shared", "crawl_outstanding"]),
            0.0,
            "{id}: a node ended with pages outstanding"
        );
    }
    let files: Vec<PathBuf> = ended.iter().map(|(_, f)| f.clone()).collect();
    let depths = check_union(&files, SCALE_PAGES, &id);
    let per_node: Vec<u64> = summaries
        .iter()
        .map(|s| num(s, &["pages"]) as u64)
        .collect();
    let round_trips: f64 = summaries
        .iter()
        .map(|s| num(s, &["shared", "round_trips"]))
        .sum();
    ScaleRun {
        nodes,
        wall_s,
        pages: SCALE_PAGES,
        per_node,
        round_trips,
        depths,
        cpu,
    }
}

/// Pages/s if every depth took whole rounds of one latency each, `slots` pages at a time: the
/// most a crawl that admits depth by depth can do, whatever its frontier.
fn level_bound(depths: &[usize], slots: usize) -> f64 {
    let rounds: usize = depths.iter().map(|d| d.div_ceil(slots)).sum();
    depths.iter().sum::<usize>() as f64 / (rounds as f64 * LATENCY.as_secs_f64())
}

fn scaling(out: &mut String) {
    let server = FixtureServer::start(Options {
        pages: SCALE_PAGES,
        latency: LATENCY,
        ..Options::default()
    })
    .expect("fixture server");
    // Every node count once per round, so that a slow moment of the machine does not fall on
    // one count only.
    let mut runs: Vec<Vec<ScaleRun>> = NODES.iter().map(|_| Vec::new()).collect();
    for _ in 0..SCALE_REPS {
        for (i, &n) in NODES.iter().enumerate() {
            runs[i].push(scale_run(&server, n));
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let latency_s = LATENCY.as_secs_f64();

    writeln!(
        out,
        "### 1. Scaling: nodes of one crawl, 50 ms server latency\n\n\
         A generated site of {SCALE_PAGES} pages (10 links each, seed `/gen/0`) served with \
         {} ms of latency; every node `--mode async -j {WORKERS} --per-host-workers 0 \
         --ignore-robots -d {DEPTH}`, all started together (the first with the seed, the others \
         as soon as `crawl:{{ID}}:meta` exists). Pages/s is the union of the records over the \
         wall time from the first start to the last exit; the union held every page exactly \
         once, without errors, in every run. Little's law: nodes x {WORKERS} / {} s. The depth \
         bound is what any crawl that admits depth by depth could do: every depth in whole \
         rounds of {} ms, nodes x {WORKERS} pages a round. Median of {SCALE_REPS} runs (by \
         wall time), each round runs 1, 2 and 4 nodes in turn; CPU is that run's, over its wall \
         time, as a share of the machine's {cores} cores.\n",
        LATENCY.as_millis(),
        latency_s,
        LATENCY.as_millis(),
    )
    .ok();
    writeln!(
        out,
        "| nodes | wall s | pages/s | all runs | Little's law | share | depth bound | share \
         | records per node | Redis round trips per page | CPU: nodes | CPU: fixture server \
         | CPU: Redis |"
    )
    .ok();
    writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
    )
    .ok();
    let mut measured = Vec::new();
    let mut ideal = Vec::new();
    let mut bounded = Vec::new();
    let mut depths = Vec::new();
    for mut reps in runs {
        let all: Vec<String> = reps
            .iter()
            .map(|r| format!("{:.0}", r.pages as f64 / r.wall_s))
            .collect();
        reps.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
        let r = reps.swap_remove(reps.len() / 2);
        let got = r.pages as f64 / r.wall_s;
        let law = (r.nodes * WORKERS) as f64 / latency_s;
        let bound = level_bound(&r.depths, r.nodes * WORKERS);
        let share = |cpu: f64| format!("{:.0}%", 100.0 * cpu / (r.wall_s * cores));
        let per_node: Vec<String> = r.per_node.iter().map(u64::to_string).collect();
        writeln!(
            out,
            "| {} | {:.2} | {got:.0} | {} | {law:.0} | {:.0}% | {bound:.0} | {:.0}% | {} | \
             {:.2} | {} | {} | {} |",
            r.nodes,
            r.wall_s,
            all.join(", "),
            100.0 * got / law,
            100.0 * got / bound,
            per_node.join(" / "),
            r.round_trips / r.pages as f64,
            share(r.cpu[0]),
            share(r.cpu[1]),
            share(r.cpu[2]),
        )
        .ok();
        measured.push((r.nodes as f64, got));
        ideal.push((r.nodes as f64, law));
        bounded.push((r.nodes as f64, bound));
        depths = r.depths;
    }
    let levels: Vec<String> = depths.iter().map(usize::to_string).collect();
    writeln!(
        out,
        "\nPages at each depth from the seed: {}. A depth is admitted only when no shallower \
         page is outstanding anywhere, so the crawl starts with 1, then 10 pages in flight, and \
         every depth ends with a partial round: that, not Redis or the CPU, is most of the gap \
         to Little's law. The rest is starting the processes and the joiners' first look for \
         work.",
        levels.join(", ")
    )
    .ok();
    let title = "shared crawl: pages/s against nodes (16 workers each, 50 ms latency)";
    let series: Vec<Series> = vec![
        ("measured".to_owned(), measured),
        (format!("Little's law: nodes x {WORKERS} / 50 ms"), ideal),
        ("depth bound".to_owned(), bounded),
    ];
    match line_chart("shared-scaling", title, "nodes", "pages/s", false, &series) {
        Ok(path) => writeln!(out, "\n![{title}]({})\n", path.display()).ok(),
        Err(e) => writeln!(out, "\n(chart shared-scaling not drawn: {e})\n").ok(),
    };
}

/// One crawl of part 2.
struct CostRun {
    pages_per_s: f64,
    round_trips: f64,
    scripts: f64,
    script_us: f64,
    redis_cpu_s: f64,
    /// used_memory after the crawl, less before (the first run only).
    memory: f64,
    admitted: f64,
}

/// `(calls, usec)` of every script call (EVALSHA and its EVAL fallback) since CONFIG RESETSTAT.
fn script_stats(conn: &mut redis::Connection) -> (f64, f64) {
    let stats = info(conn, "commandstats");
    let mut total = (0.0, 0.0);
    for name in ["cmdstat_evalsha", "cmdstat_eval"] {
        if let Some(line) = stats.get(name) {
            for part in line.split(',') {
                match part.split_once('=') {
                    Some(("calls", v)) => total.0 += v.parse::<f64>().unwrap_or(0.0),
                    Some(("usec", v)) => total.1 += v.parse::<f64>().unwrap_or(0.0),
                    _ => {}
                }
            }
        }
    }
    total
}

/// Delay added each way by the link stand-in (no netem on this kernel: a proxy instead).
const LINK_DELAY: Duration = Duration::from_micros(250);

/// A TCP proxy on 127.0.0.1 to `target` that holds every chunk for `delay` in each direction:
/// a stand-in for the network between a node and Redis on another machine.
fn delay_proxy(target: u16, delay: Duration) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the link proxy");
    let port = listener.local_addr().expect("proxy address").port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            for (mut from, mut to) in [
                (client.try_clone(), server.try_clone()),
                (server.try_clone(), client.try_clone()),
            ]
            .into_iter()
            .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
            {
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match std::io::Read::read(&mut from, &mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                std::thread::sleep(delay);
                                if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    port
}

/// One node whose Redis is behind a slower link: what the round trips a page costs become.
fn link(out: &mut String) {
    let server = FixtureServer::start(Options {
        pages: COST_PAGES,
        ..Options::default()
    })
    .expect("fixture server");
    let redis = redis_server();
    let port = delay_proxy(redis.port(), LINK_DELAY);
    let url = format!("redis://127.0.0.1:{port}/0");
    let mut conn = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .expect("Redis through the link");
    let mut trips = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let _: String = redis::cmd("PING").query(&mut conn).expect("PING");
        trips.push(t.elapsed().as_secs_f64() * 1e3);
    }
    trips.sort_by(f64::total_cmp);
    let rtt_ms = trips[trips.len() / 2];
    let seeds = [server.url("/gen/0")];
    let args = [
        "-m",
        "async",
        "-j",
        "64",
        "--ignore-robots",
        "-d",
        DEPTH,
        "--frontier",
        &url,
        "--crawl-id",
        "link",
        "-",
    ];
    let s = crawl(&seeds, &args);
    assert_eq!(
        num(&s, &["pages"]) as usize,
        COST_PAGES,
        "crawl through the link"
    );
    let pages_per_s = num(&s, &["pages_per_s"]);
    let per_record = num(&s, &["shared", "round_trips"]) / COST_PAGES as f64;
    writeln!(
        out,
        "### 2b. Redis on the other end of a link\n\n\
         The same one-node crawl as in part 2, with Redis behind a proxy that holds every \
         chunk {} µs each way (netem is not available on this kernel): a PING takes {rtt_ms:.2} \
         ms through it (median of 200). A node that made one round trip per page could not \
         pass {:.0} pages/s here.\n\n\
         | Redis | pages/s | round trips per page |\n|---|---:|---:|\n\
         | through the link | {pages_per_s:.0} | {per_record:.2} |\n",
        LINK_DELAY.as_micros(),
        1e3 / rtt_ms,
    )
    .ok();
}

fn cost(out: &mut String, memory_rows: &mut Vec<String>) {
    let server = FixtureServer::start(Options {
        pages: COST_PAGES,
        ..Options::default()
    })
    .expect("fixture server");
    let redis = redis_server();
    let mut conn = connect(&redis);
    let seeds = [server.url("/gen/0")];
    let url = redis.url();
    let args = ["-m", "async", "-j", "64", "--ignore-robots", "-d", DEPTH];
    let mut memory_runs = Vec::new();
    let mut redis_runs = Vec::new();
    for rep in 0..COST_REPS {
        let s = crawl(&seeds, &args);
        assert_eq!(num(&s, &["pages"]) as usize, COST_PAGES, "in-memory crawl");
        memory_runs.push(num(&s, &["pages_per_s"]));

        let id = format!("cost-{rep}");
        let mut shared_args = args.to_vec();
        shared_args.extend_from_slice(&["--frontier", &url, "--crawl-id", &id, "-"]);
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(&mut conn)
            .expect("CONFIG RESETSTAT");
        let cpu_before = redis_cpu_s(&mut conn);
        let s = crawl(&seeds, &shared_args);
        let (scripts, script_us) = script_stats(&mut conn);
        let cpu_after = redis_cpu_s(&mut conn);
        // What the crawl left in Redis is what dropping its keys frees (used_memory before the
        // crawl would also count Redis's per-command latency histograms, allocated on first use
        // after the RESETSTAT, about 0.7 MB).
        let memory_after = used_memory(&mut conn);
        let _: () = redis::cmd("FLUSHALL").query(&mut conn).expect("FLUSHALL");
        let memory_before = used_memory(&mut conn);
        assert_eq!(num(&s, &["pages"]) as usize, COST_PAGES, "Redis crawl");
        redis_runs.push(CostRun {
            pages_per_s: num(&s, &["pages_per_s"]),
            round_trips: num(&s, &["shared", "round_trips"]),
            scripts,
            script_us,
            redis_cpu_s: cpu_after - cpu_before,
            memory: memory_after - memory_before,
            admitted: num(&s, &["shared", "crawl_admitted"]),
        });
    }
    // Every run, in the order they ran, then the medians.
    let all = |v: &mut dyn Iterator<Item = f64>| {
        v.map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ")
    };
    let memory_all = all(&mut memory_runs.iter().copied());
    let redis_all = all(&mut redis_runs.iter().map(|r| r.pages_per_s));
    memory_runs.sort_by(f64::total_cmp);
    let memory_median = memory_runs[COST_REPS / 2];
    let first_memory = (redis_runs[0].memory, redis_runs[0].admitted);
    redis_runs.sort_by(|a, b| a.pages_per_s.total_cmp(&b.pages_per_s));
    let r = &redis_runs[COST_REPS / 2];
    let pages = COST_PAGES as f64;

    writeln!(
        out,
        "### 2. What Redis costs one node\n\n\
         One node, no server latency, a generated site of {COST_PAGES} pages, `--mode async \
         -j 64 --per-host-workers 0 --ignore-robots -d {DEPTH}`, with the in-memory frontier \
         and with the Redis one (Redis on 127.0.0.1, no persistence). Median of {COST_REPS} \
         runs each, alternated (all runs listed in the order they ran); pages/s is the crawl's own (`pages_per_s` of its summary). \
         Script time is `INFO commandstats`' EVALSHA (and EVAL) microseconds, reset before \
         the crawl; Redis CPU is its `used_cpu_user + used_cpu_sys` over the crawl (network \
         I/O included).\n"
    )
    .ok();
    writeln!(
        out,
        "| frontier | pages/s | all runs | round trips per page | scripts per page | \
         script µs per page | Redis CPU µs per page |"
    )
    .ok();
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|").ok();
    writeln!(
        out,
        "| in memory | {memory_median:.0} | {memory_all} | 0 | 0 | 0 | 0 |"
    )
    .ok();
    writeln!(
        out,
        "| Redis | {:.0} | {} | {:.2} | {:.2} | {:.1} | {:.1} |",
        r.pages_per_s,
        redis_all,
        r.round_trips / pages,
        r.scripts / pages,
        r.script_us / pages,
        r.redis_cpu_s * 1e6 / pages,
    )
    .ok();
    let us = r.redis_cpu_s * 1e6 / pages;
    writeln!(
        out,
        "\nThe Redis frontier runs at {:.0}% of the in-memory one here: {:.0} µs a page \
         against {:.0} µs. The pages a node finishes in one coordinator turn are completed in \
         one script call, and claims come in batches, so round trips are few; on loopback \
         what Redis costs is the CPU its scripts take from the two cores the crawl and the \
         server share. At {us:.0} µs of Redis CPU a page, one Redis core would serve about \
         {:.0} pages/s for all nodes together.\n",
        100.0 * r.pages_per_s / memory_median,
        1e6 / r.pages_per_s,
        1e6 / memory_median,
        1e6 / us.max(1e-9),
    )
    .ok();
    memory_rows.push(format!(
        "| a real crawl of {:.0} pages (part 2), after it finished: what dropping its keys \
         frees | {:.0} known | {:.2} MB | {:.1} |",
        first_memory.1,
        first_memory.1,
        first_memory.0 / 1048576.0,
        first_memory.0 / first_memory.1.max(1.0)
    ));
}

/// splitmix64: random fingerprints without a dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Sends `commands` through pipelines of [`BATCH`]; returns the seconds it took.
fn load(
    conn: &mut redis::Connection,
    n: usize,
    mut command: impl FnMut(usize, &mut redis::Pipeline),
) -> f64 {
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let mut pipe = redis::pipe();
        for j in i..(i + BATCH).min(n) {
            command(j, &mut pipe);
        }
        pipe.exec(conn).expect("pipeline");
        i += BATCH;
    }
    started.elapsed().as_secs_f64()
}

fn memory(out: &mut String, memory_rows: &[String], figures: &mut Figures) {
    let redis = redis_server();
    let mut conn = connect(&redis);
    // Redis 7 allocates a latency histogram for each command on its first use: off, so that
    // only the data is weighed.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking")
        .arg("no")
        .query(&mut conn)
        .expect("CONFIG SET");
    // The library's Redis key layout (crawl::frontier::redis::layout): the prefix, the
    // `seen:B` sets and their members; the `queue` list of "DEPTH URL" entries is named in the
    // key list atop src/frontier/redis/scripts.lua.
    let prefix = layout::prefix("m");
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut rng = 0x5eed_u64;
    // The layout's fixed cost: every bucket with one fingerprint (a set key, its object and
    // the smallest intset).
    let _: () = redis::cmd("FLUSHALL").query(&mut conn).expect("FLUSHALL");
    let before = used_memory(&mut conn);
    load(&mut conn, BUCKETS as usize, |b, pipe| {
        let fp = splitmix(&mut rng) / BUCKETS * BUCKETS + b as u64;
        pipe.cmd("SADD")
            .arg(format!("{prefix}seen:{b}"))
            .arg((fp as i64).to_string())
            .ignore();
    });
    let bucket_cost = (used_memory(&mut conn) - before) / BUCKETS as f64;
    notes.push(format!(
        "The {BUCKETS} buckets themselves: {bucket_cost:.0} bytes each with one fingerprint, \
         {:.2} MB in all, whatever the crawl's size; that is most of what a small crawl leaves \
         in Redis.",
        bucket_cost * BUCKETS as f64 / 1048576.0
    ));
    for n in MEMORY_SIZES {
        let _: () = redis::cmd("FLUSHALL").query(&mut conn).expect("FLUSHALL");
        let before = used_memory(&mut conn);
        let secs = load(&mut conn, n, |_, pipe| {
            let (bucket, member) = layout::seen(splitmix(&mut rng), BUCKETS);
            pipe.cmd("SADD")
                .arg(format!("{prefix}seen:{bucket}"))
                .arg(member.to_string())
                .ignore();
        });
        let after = used_memory(&mut conn);
        // Every bucket's encoding and size: the layout counts on intsets (at most 512 members).
        let mut pipe = redis::pipe();
        for b in 0..BUCKETS {
            let key = format!("{prefix}seen:{b}");
            pipe.cmd("OBJECT").arg("ENCODING").arg(&key);
            pipe.cmd("SCARD").arg(&key);
        }
        let replies: Vec<redis::Value> = pipe.query(&mut conn).expect("encodings");
        let mut intsets = 0;
        let mut largest = 0i64;
        let mut members = 0i64;
        for pair in replies.chunks(2) {
            if let [encoding, card] = pair {
                let encoding: String = redis::from_redis_value_ref(encoding).unwrap_or_default();
                let card: i64 = redis::from_redis_value_ref(card).unwrap_or(0);
                intsets += usize::from(encoding == "intset");
                largest = largest.max(card);
                members += card;
            }
        }
        rows.push(format!(
            "| {n} fingerprints in the 4096 `seen:B` sets (a known URL) | {members} known | \
             {:.2} MB | {:.1} |",
            (after - before) / 1048576.0,
            (after - before) / n as f64
        ));
        notes.push(format!(
            "{n} fingerprints: {intsets} of {BUCKETS} buckets are intsets, the largest holds \
             {largest} members (Redis keeps a set an intset up to `set-max-intset-entries`, \
             512); loaded in {secs:.1} s."
        ));

        let _: () = redis::cmd("FLUSHALL").query(&mut conn).expect("FLUSHALL");
        let before = used_memory(&mut conn);
        let queue = format!("{prefix}queue");
        let mut entry_bytes = 0usize;
        let secs = load(&mut conn, n, |_, pipe| {
            let page = 100_000 + splitmix(&mut rng) % 900_000;
            let entry = format!("4 http://127.0.0.1:8080/gen/{page}");
            entry_bytes = entry.len();
            pipe.cmd("RPUSH").arg(&queue).arg(entry).ignore();
        });
        let after = used_memory(&mut conn);
        let len: i64 = redis::cmd("LLEN")
            .arg(&queue)
            .query(&mut conn)
            .expect("LLEN");
        assert_eq!(len as usize, n, "every entry queued");
        rows.push(format!(
            "| {n} entries like `4 http://127.0.0.1:8080/gen/123456` ({entry_bytes} bytes) in \
             the `queue` list (a queued page) | {len} queued | {:.2} MB | {:.1} |",
            (after - before) / 1048576.0,
            (after - before) / n as f64
        ));
        notes.push(format!("{n} queue entries loaded in {secs:.1} s."));
        figures.queue_entry = Some(((after - before) / n as f64, entry_bytes));
    }
    let _: () = redis::cmd("FLUSHALL").query(&mut conn).expect("FLUSHALL");

    writeln!(
        out,
        "### 3. Redis memory per URL\n\n\
         The frontier's layout loaded directly, as the scripts store it (a crawl of a million \
         pages takes too long on this machine): random 64-bit fingerprints SADDed one by one \
         into `crawl:{{m}}:seen:B`, B = fp mod {BUCKETS}, the member the fingerprint as a signed \
         decimal integer; and `\"DEPTH URL\"` entries RPUSHed into one `queue` list. Bytes are \
         Redis's `used_memory` after, less before, over N; pipelines of {BATCH} commands. A \
         known URL keeps its fingerprint for the whole crawl; a queued one also has its queue \
         entry until a node claims it (then a lease entry until it is finished). The target \
         is at most 100 bytes per known URL.\n"
    )
    .ok();
    writeln!(out, "| what | N | used_memory | bytes per URL |").ok();
    writeln!(out, "|---|---:|---:|---:|").ok();
    for row in rows.iter().chain(memory_rows) {
        writeln!(out, "{row}").ok();
    }
    writeln!(out).ok();
    for note in notes {
        writeln!(out, "- {note}").ok();
    }
    writeln!(out).ok();
}

/// What the sizing projection takes from parts 3, 4 and 6.
#[derive(Default)]
struct Figures {
    /// Part 3: bytes of Redis per queue entry at 10^6, and the entry's length.
    queue_entry: Option<(f64, usize)>,
    /// Part 4: the cluster's pages/s (median run), its masters, and its masters' Redis CPU
    /// seconds per page.
    cluster: Option<(f64, usize, f64)>,
    /// Part 6: bytes per known URL at 10^7, buckets sized for them.
    seen_bytes: Option<f64>,
}

/// Host names of part 4's site.
const CLUSTER_HOSTS: usize = 24;
/// Pages of part 4's site.
const CLUSTER_PAGES: usize = 20_000;
/// Runs of each frontier in part 4 (the median is reported).
const CLUSTER_REPS: usize = 3;
/// Workers of part 4's node.
const CLUSTER_WORKERS: &str = "16";
/// Shards of the sharded frontiers of parts 4 and 5 (a cluster's default).
const SHARDS: u32 = 16;

/// A plain connection to one redis-server (a cluster node answers INFO, FLUSHALL and the
/// commands on its own slots).
fn connect_port(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|c| c.get_connection())
        .expect("the bench connects to a Redis node")
}

/// A frontier of part 4: its URL, its `--shards`, and the redis-server processes behind it.
struct Frontier {
    name: &'static str,
    url: String,
    shards: Option<u32>,
    masters: Vec<redis::Connection>,
    replicas: Vec<redis::Connection>,
}

/// One crawl of part 4.
struct ClusterRun {
    pages_per_s: f64,
    pages: f64,
    round_trips: f64,
    /// CPU seconds of each master over the crawl.
    masters_cpu: Vec<f64>,
    replicas_cpu: f64,
    node_cpu: f64,
    /// CPU seconds of this process: the fixture server (and the bench's few INFO calls).
    server_cpu: f64,
    /// Script calls and their microseconds, summed over the masters (`INFO commandstats`).
    scripts: f64,
    script_us: f64,
}

fn cluster_run(f: &mut Frontier, seeds: &[String], id: &str) -> ClusterRun {
    let shards = f.shards.map(|n| n.to_string());
    let mut args = vec![
        "-m",
        "async",
        "-j",
        CLUSTER_WORKERS,
        "--ignore-robots",
        "-d",
        DEPTH,
        "--frontier",
        &f.url,
        "--crawl-id",
        id,
    ];
    if let Some(shards) = &shards {
        args.extend(["--shards", shards]);
    }
    args.push("-");
    for conn in &mut f.masters {
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(conn)
            .expect("CONFIG RESETSTAT");
    }
    let masters_before: Vec<f64> = f.masters.iter_mut().map(redis_cpu_s).collect();
    let replicas_before: f64 = f.replicas.iter_mut().map(redis_cpu_s).sum();
    let node_before = cpu_s(UsageWho::RUSAGE_CHILDREN);
    let server_before = cpu_s(UsageWho::RUSAGE_SELF);
    let s = crawl(seeds, &args);
    let node_cpu = cpu_s(UsageWho::RUSAGE_CHILDREN) - node_before;
    let server_cpu = cpu_s(UsageWho::RUSAGE_SELF) - server_before;
    let masters_cpu = f
        .masters
        .iter_mut()
        .zip(masters_before)
        .map(|(c, before)| redis_cpu_s(c) - before)
        .collect();
    let replicas_cpu = f.replicas.iter_mut().map(redis_cpu_s).sum::<f64>() - replicas_before;
    let (scripts, script_us) = f
        .masters
        .iter_mut()
        .map(script_stats)
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!(
        num(&s, &["pages"]) as usize,
        CLUSTER_PAGES,
        "{}: every page of the site",
        f.name
    );
    for conn in &mut f.masters {
        let _: () = redis::cmd("FLUSHALL").query(conn).expect("FLUSHALL");
    }
    ClusterRun {
        pages_per_s: num(&s, &["pages_per_s"]),
        pages: num(&s, &["pages"]),
        round_trips: num(&s, &["shared", "round_trips"]),
        masters_cpu,
        replicas_cpu,
        node_cpu,
        server_cpu,
        scripts,
        script_us,
    }
}

/// A generated site of `pages` spread over `hosts` loopback host names, and its seeds, one per
/// host.
fn many_host_site(hosts: usize, pages: usize) -> (FixtureServer, Vec<String>) {
    let server = FixtureServer::start(Options {
        hosts,
        pages,
        ..Options::default()
    })
    .expect("fixture server");
    let seeds = server.gen_seeds();
    assert_eq!(seeds.len(), hosts, "one seed per host");
    (server, seeds)
}

fn cluster(out: &mut String, figures: &mut Figures) {
    // Kept to the end: dropping it stops the server.
    let (_server, seeds) = many_host_site(CLUSTER_HOSTS, CLUSTER_PAGES);
    let redis = redis_server();
    let cluster = RedisCluster::start();
    let masters = cluster.masters();
    let replicas: Vec<u16> = cluster
        .ports()
        .into_iter()
        .filter(|p| !masters.contains(p))
        .collect();
    // What the idle cluster burns (its cron and bus pings), over 2 s.
    let mut idle: Vec<redis::Connection> = cluster.ports().into_iter().map(connect_port).collect();
    let idle_before: f64 = idle.iter_mut().map(redis_cpu_s).sum();
    std::thread::sleep(Duration::from_secs(2));
    let idle_ms_per_s = (idle.iter_mut().map(redis_cpu_s).sum::<f64>() - idle_before) / 2.0 * 1e3;
    drop(idle);
    let mut frontiers = [
        Frontier {
            name: "one Redis, 1 shard",
            url: redis.url(),
            shards: None,
            masters: vec![connect(&redis)],
            replicas: Vec::new(),
        },
        Frontier {
            name: "one Redis, `--shards 16`",
            url: redis.url(),
            shards: Some(SHARDS),
            masters: vec![connect(&redis)],
            replicas: Vec::new(),
        },
        Frontier {
            name: "Redis Cluster, 3 masters + 3 replicas, `--shards 16`",
            url: cluster.urls(),
            shards: Some(SHARDS),
            masters: masters.iter().copied().map(connect_port).collect(),
            replicas: replicas.iter().copied().map(connect_port).collect(),
        },
    ];
    // Every frontier once per round, so that a slow moment of the machine does not fall on
    // one only.
    let mut runs: Vec<Vec<ClusterRun>> = frontiers.iter().map(|_| Vec::new()).collect();
    for rep in 0..CLUSTER_REPS {
        for (i, f) in frontiers.iter_mut().enumerate() {
            runs[i].push(cluster_run(f, &seeds, &format!("hosts-{i}-{rep}")));
        }
    }

    writeln!(
        out,
        "### 4. One Redis against a 3-master Redis Cluster\n\n\
         One node, no server latency, a generated site of {CLUSTER_PAGES} pages spread over \
         {CLUSTER_HOSTS} host names (127.0.0.1 .. 127.0.0.{CLUSTER_HOSTS}, one port, pages \
         linking across hosts), its {CLUSTER_HOSTS} seeds, `crawl -m async -j \
         {CLUSTER_WORKERS} --per-host-workers 0 --ignore-robots -d {DEPTH} -o /dev/null`. \
         Three frontiers: one Redis with one shard (the default on one Redis), the same Redis \
         with `--shards {SHARDS}`, and crawl_fixture's RedisCluster (three masters, each with \
         a replica, all six on this machine; `--frontier` lists the three masters, \
         `--shards {SHARDS}`). Median of {CLUSTER_REPS} runs by pages/s (the crawl's own \
         `pages_per_s`), a fresh crawl id each, the frontiers in turn each round; the other \
         columns are the median run's. Redis CPU is `used_cpu_user + used_cpu_sys` over the \
         crawl, summed over the masters (the replicas' apart); scripts are `INFO \
         commandstats`' EVALSHA and EVAL calls and microseconds, reset before each crawl, \
         summed over the masters; node CPU is the crawl process's user + system time; all \
         CPU adds the fixture server's (the bench process) and Redis's, replicas included, \
         to the node's.\n"
    )
    .ok();
    writeln!(
        out,
        "| frontier | pages/s | all runs | Redis CPU s per 1,000 pages | of it, per master | \
         replicas' CPU s per 1,000 pages | scripts per page | script µs per page | round \
         trips per page | node CPU µs per page | all CPU µs per page |"
    )
    .ok();
    writeln!(
        out,
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    )
    .ok();
    let mut medians = Vec::new();
    for (f, mut reps) in frontiers.iter().zip(runs) {
        let all: Vec<String> = reps
            .iter()
            .map(|r| format!("{:.0}", r.pages_per_s))
            .collect();
        reps.sort_by(|a, b| a.pages_per_s.total_cmp(&b.pages_per_s));
        let r = reps.swap_remove(reps.len() / 2);
        let redis_cpu: f64 = r.masters_cpu.iter().sum();
        let split = if r.masters_cpu.len() > 1 {
            let parts: Vec<String> = r
                .masters_cpu
                .iter()
                .map(|c| format!("{:.3}", c * 1e3 / r.pages))
                .collect();
            parts.join(" / ")
        } else {
            "".to_owned()
        };
        let replicas = if f.replicas.is_empty() {
            "".to_owned()
        } else {
            format!("{:.3}", r.replicas_cpu * 1e3 / r.pages)
        };
        writeln!(
            out,
            "| {} | {:.0} | {} | {:.3} | {split} | {replicas} | {:.2} | {:.1} | {:.3} | {:.0} | \
             {:.0} |",
            f.name,
            r.pages_per_s,
            all.join(", "),
            redis_cpu * 1e3 / r.pages,
            r.scripts / r.pages,
            r.script_us / r.pages,
            r.round_trips / r.pages,
            r.node_cpu * 1e6 / r.pages,
            (r.node_cpu + r.server_cpu + redis_cpu + r.replicas_cpu) * 1e6 / r.pages,
        )
        .ok();
        medians.push((r.pages_per_s, redis_cpu / r.pages, f.masters.len()));
    }
    writeln!(
        out,
        "\nThe idle cluster (cron and bus pings of all six nodes) used {idle_ms_per_s:.1} ms of \
         CPU a second, measured over 2 s before the runs; it is in the cluster's figures.\n"
    )
    .ok();
    if let Some(&(pages_per_s, cpu_per_page, masters)) = medians.last() {
        figures.cluster = Some((pages_per_s, masters, cpu_per_page));
    }
}

/// Host names of part 5's site.
const SPREAD_HOSTS: usize = 200;
/// Pages of part 5's site.
const SPREAD_PAGES: usize = 100_000;
/// Workers of part 5's node.
const SPREAD_WORKERS: &str = "32";

/// Of `conns`, the index of the master that serves `key`'s slot: the others answer MOVED.
fn owner(conns: &mut [(u16, redis::Connection)], key: &str) -> usize {
    conns
        .iter_mut()
        .position(|(_, c)| redis::cmd("EXISTS").arg(key).query::<i64>(c).is_ok())
        .unwrap_or_else(|| panic!("no master serves {key}"))
}

/// What one master of part 5 holds.
#[derive(Default, Clone)]
struct MasterLoad {
    shards: Vec<usize>,
    hosts: usize,
    urls: i64,
    buckets: usize,
    intsets: usize,
    largest: i64,
    own: bool,
}

fn masters(out: &mut String) {
    let cluster = RedisCluster::start();
    // Redis 7 allocates a latency histogram for each command on its first use: off, so that
    // the crawl's data is weighed, not what a first EVALSHA allocates.
    for port in cluster.ports() {
        cluster.cli(port, &["CONFIG", "SET", "latency-tracking", "no"]);
    }
    let empty: HashMap<u16, u64> = cluster.used_memory_per_master().into_iter().collect();
    let mut conns: Vec<(u16, redis::Connection)> = cluster
        .masters()
        .into_iter()
        .map(|port| (port, connect_port(port)))
        .collect();
    // A master's replication backlog (1 MB by default) fills as it writes: not the crawl's keys.
    let backlog = |conns: &mut [(u16, redis::Connection)]| -> Vec<f64> {
        conns
            .iter_mut()
            .map(|(_, c)| info_f64(&info(c, "memory"), "mem_replication_backlog"))
            .collect()
    };
    let backlog_empty = backlog(&mut conns);
    // Kept to the end: dropping it stops the server.
    let (_server, seeds) = many_host_site(SPREAD_HOSTS, SPREAD_PAGES);
    let id = "spread";
    let url = cluster.urls();
    let shards = SHARDS.to_string();
    let expect = SPREAD_PAGES.to_string();
    let started = Instant::now();
    let s = crawl(
        &seeds,
        &[
            "-m",
            "async",
            "-j",
            SPREAD_WORKERS,
            "--ignore-robots",
            "-d",
            DEPTH,
            "--frontier",
            &url,
            "--crawl-id",
            id,
            "--shards",
            &shards,
            "--expect-urls",
            &expect,
            "-",
        ],
    );
    let wall_s = started.elapsed().as_secs_f64();
    assert_eq!(
        num(&s, &["pages"]) as usize,
        SPREAD_PAGES,
        "every page of the 200-host site"
    );
    let keys = cluster.keys_per_master();
    let memory = cluster.used_memory_per_master();

    // Where the shards went, and what their seen sets hold.
    let buckets = layout::buckets_for_urls(SPREAD_PAGES as u64);
    let per_shard = layout::buckets_per_shard(buckets, SHARDS);
    assert_eq!(
        keys.iter().map(|(port, _)| *port).collect::<Vec<_>>(),
        conns.iter().map(|(port, _)| *port).collect::<Vec<_>>(),
        "the masters did not change"
    );
    let mut hosts_of_shard = vec![0usize; SHARDS as usize];
    for k in 1..=SPREAD_HOSTS {
        hosts_of_shard[layout::shard_of(&format!("127.0.0.{k}"), SHARDS as usize)] += 1;
    }
    let mut loads = vec![MasterLoad::default(); conns.len()];
    let own = owner(&mut conns, &format!("{}meta", layout::prefix(id)));
    loads[own].own = true;
    let mut shard_urls = Vec::new();
    for (k, prefix) in layout::shard_prefixes(id, SHARDS).iter().enumerate() {
        let m = owner(&mut conns, &format!("{prefix}tally"));
        let mut pipe = redis::pipe();
        for b in 0..per_shard {
            let key = format!("{prefix}seen:{b}");
            pipe.cmd("OBJECT").arg("ENCODING").arg(&key);
            pipe.cmd("SCARD").arg(&key);
        }
        let replies: Vec<redis::Value> = pipe.query(&mut conns[m].1).expect("encodings");
        let load = &mut loads[m];
        load.shards.push(k);
        load.hosts += hosts_of_shard[k];
        let mut urls = 0;
        for pair in replies.chunks(2) {
            if let [encoding, card] = pair {
                let encoding: String = redis::from_redis_value_ref(encoding).unwrap_or_default();
                let card: i64 = redis::from_redis_value_ref(card).unwrap_or(0);
                load.buckets += usize::from(card > 0);
                load.intsets += usize::from(encoding == "intset");
                load.largest = load.largest.max(card);
                urls += card;
            }
        }
        load.urls += urls;
        shard_urls.push(urls);
    }
    let backlog_grown: Vec<f64> = backlog(&mut conns)
        .iter()
        .zip(&backlog_empty)
        .map(|(after, before)| after - before)
        .collect();
    // What the crawl's keys take: what dropping them frees.
    let freed: Vec<f64> = conns
        .iter_mut()
        .zip(&memory)
        .map(|((_, c), (_, bytes))| {
            let _: () = redis::cmd("FLUSHALL").query(c).expect("FLUSHALL");
            *bytes as f64 - used_memory(c)
        })
        .collect();
    let total_keys: u64 = keys.iter().map(|(_, n)| n).sum();
    let grown: f64 = memory
        .iter()
        .map(|(port, bytes)| *bytes as f64 - empty.get(port).copied().unwrap_or(0) as f64)
        .sum();
    let fullest = keys.iter().map(|(_, n)| *n).max().unwrap_or(0);

    writeln!(
        out,
        "### 5. Keys and memory per master after a 100,000-page crawl of {SPREAD_HOSTS} hosts\n\n\
         The RedisCluster (three masters, each with a replica), `latency-tracking no` on every \
         node, each master's `used_memory` taken right after start (the empty baseline). Then \
         one node, no latency, `-m async -j {SPREAD_WORKERS} --per-host-workers 0 \
         --ignore-robots -d {DEPTH} --shards {SHARDS} --expect-urls {SPREAD_PAGES}` crawls a \
         generated site of {SPREAD_PAGES} pages over {SPREAD_HOSTS} host names with its \
         {SPREAD_HOSTS} seeds: {:.1} s, {:.0} pages/s, {:.2} round trips per page. After it \
         finished: each master's `DBSIZE` and `used_memory`, the shards whose slot it serves, \
         the hosts of those shards (xxh3 of the host name mod {SHARDS}), and their seen-set \
         buckets ({buckets} over {SHARDS} shards: {per_shard} per shard; `OBJECT ENCODING` and \
         `SCARD` of every one).\n",
        wall_s,
        num(&s, &["pages_per_s"]),
        num(&s, &["shared", "round_trips"]) / SPREAD_PAGES as f64,
    )
    .ok();
    writeln!(
        out,
        "| master | shards | hosts | known URLs | keys | share of keys | used_memory MB | over \
         empty MB | of it, replication backlog MB | freed by FLUSHALL MB | seen buckets: \
         intsets / all | largest bucket |"
    )
    .ok();
    writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    .ok();
    for (i, ((port, n), (_, bytes))) in keys.iter().zip(&memory).enumerate() {
        let load = &loads[i];
        let shards: Vec<String> = load.shards.iter().map(usize::to_string).collect();
        let own = if load.own {
            " + the crawl's own keys"
        } else {
            ""
        };
        writeln!(
            out,
            "| {} ({port}) | {}{own} | {} | {} | {n} | {:.0}% | {:.2} | {:.2} | {:.2} | {:.2} | \
             {} / {} | {} |",
            i + 1,
            shards.join(", "),
            load.hosts,
            load.urls,
            100.0 * *n as f64 / total_keys.max(1) as f64,
            *bytes as f64 / 1048576.0,
            (*bytes as f64 - empty.get(port).copied().unwrap_or(0) as f64) / 1048576.0,
            backlog_grown[i] / 1048576.0,
            freed[i] / 1048576.0,
            load.intsets,
            load.buckets,
            load.largest,
        )
        .ok();
    }
    let hosts: Vec<String> = hosts_of_shard.iter().map(usize::to_string).collect();
    let urls: Vec<String> = shard_urls.iter().map(i64::to_string).collect();
    writeln!(
        out,
        "\nAll masters: {total_keys} keys, the fullest holding {:.0}%; {:.2} MB over the empty \
         cluster's baseline, {:.1} bytes per URL ({SPREAD_PAGES} URLs), of which the \
         replication backlogs' growth {:.2} MB; the crawl's keys themselves (what FLUSHALL \
         freed) {:.2} MB, {:.1} bytes per URL. Hosts per shard 0..{}: {}; known URLs per \
         shard: {}.\n",
        100.0 * fullest as f64 / total_keys.max(1) as f64,
        grown / 1048576.0,
        grown / SPREAD_PAGES as f64,
        backlog_grown.iter().sum::<f64>() / 1048576.0,
        freed.iter().sum::<f64>() / 1048576.0,
        freed.iter().sum::<f64>() / SPREAD_PAGES as f64,
        SHARDS - 1,
        hosts.join(", "),
        urls.join(", "),
    )
    .ok();
}

/// Known URLs loaded in part 6.
const LARGE_SIZES: [u64; 2] = [1_000_000, 10_000_000];

/// Loads `n` random fingerprints into `buckets` seen sets of one shard; returns a table row.
fn seen_row(conn: &mut redis::Connection, n: u64, buckets: u64, rng: &mut u64) -> (String, f64) {
    let prefix = layout::prefix("m");
    let _: () = redis::cmd("FLUSHALL").query(conn).expect("FLUSHALL");
    let before = used_memory(conn);
    let secs = load(conn, n as usize, |_, pipe| {
        let (bucket, member) = layout::seen(splitmix(rng), buckets);
        pipe.cmd("SADD")
            .arg(format!("{prefix}seen:{bucket}"))
            .arg(member.to_string())
            .ignore();
    });
    let after = used_memory(conn);
    let (mut intsets, mut largest, mut members) = (0u64, 0i64, 0i64);
    let mut b = 0;
    while b < buckets {
        let mut pipe = redis::pipe();
        for b in b..(b + BATCH as u64).min(buckets) {
            let key = format!("{prefix}seen:{b}");
            pipe.cmd("OBJECT").arg("ENCODING").arg(&key);
            pipe.cmd("SCARD").arg(&key);
        }
        let replies: Vec<redis::Value> = pipe.query(conn).expect("encodings");
        for pair in replies.chunks(2) {
            if let [encoding, card] = pair {
                let encoding: String = redis::from_redis_value_ref(encoding).unwrap_or_default();
                let card: i64 = redis::from_redis_value_ref(card).unwrap_or(0);
                intsets += u64::from(encoding == "intset");
                largest = largest.max(card);
                members += card;
            }
        }
        b += BATCH as u64;
    }
    let per_url = (after - before) / n as f64;
    let sized = if buckets == layout::buckets_for_urls(n) {
        "`buckets_for_urls`"
    } else {
        "the fixed 4096"
    };
    (
        format!(
            "| {n} | {buckets} ({sized}) | {:.0} | {members} | {:.1} | {per_url:.2} | {intsets} of \
             {buckets} | {largest} | {secs:.1} |",
            n as f64 / buckets as f64,
            (after - before) / 1048576.0,
        ),
        per_url,
    )
}

fn large(out: &mut String, figures: &mut Figures) {
    let redis = redis_server();
    let mut conn = connect(&redis);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking")
        .arg("no")
        .query(&mut conn)
        .expect("CONFIG SET");
    let mut rng = 0x1a46e_u64;
    let mut rows = Vec::new();
    for n in LARGE_SIZES {
        let (row, per_url) = seen_row(&mut conn, n, layout::buckets_for_urls(n), &mut rng);
        rows.push(row);
        if n == 10_000_000 {
            figures.seen_bytes = Some(per_url);
        }
    }
    let (row, _) = seen_row(&mut conn, 10_000_000, BUCKETS, &mut rng);
    rows.push(row);
    let _: () = redis::cmd("FLUSHALL").query(&mut conn).expect("FLUSHALL");
    writeln!(
        out,
        "### 6. Memory per known URL at 10^6 and 10^7, loaded directly\n\n\
         One Redis, one shard (`crawl:{{m}}:`), no crawl: N random 64-bit fingerprints SADDed \
         one by one into `seen:B`, B = fp mod buckets (`layout::seen`), in pipelines of \
         {BATCH}; buckets = `layout::buckets_for_urls(N)` (N / {} rounded up, what a crawl \
         started with `--expect-urls N` gets), and for contrast 10^7 in the fixed {BUCKETS} \
         buckets a crawl gets without `--expect-urls`. Bytes are `used_memory` after less \
         before (latency tracking off); every bucket's `OBJECT ENCODING` and `SCARD` after.\n\n\
         | known URLs | buckets | URLs per bucket | members | used_memory MB | bytes per URL | \
         intset buckets | largest bucket | load s |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---:|",
        layout::PER_BUCKET
    )
    .ok();
    for row in rows {
        writeln!(out, "{row}").ok();
    }
    writeln!(out).ok();
}

/// Bytes a Redis Cluster master holds in the projection.
const MASTER_BYTES: f64 = 25e9;

/// 10^8 and 10^9 known URLs from the measured figures: a projection.
fn sizing(out: &mut String, figures: &Figures) {
    let (
        Some((queue_bytes, entry_len)),
        Some((pages_per_s, masters, cpu_per_page)),
        Some(seen_bytes),
    ) = (figures.queue_entry, figures.cluster, figures.seen_bytes)
    else {
        return;
    };
    let per_master = pages_per_s / masters as f64;
    writeln!(
        out,
        "### Sizing: 10^8 and 10^9 known URLs (a projection)\n\n\
         From this run's figures: {seen_bytes:.2} bytes of seen set per known URL (part 6, \
         10^7 with `buckets_for_urls`), {queue_bytes:.1} bytes per queue entry of {entry_len} \
         bytes (part 3; an entry is `DEPTH URL`, so longer URLs cost more), masters of \
         {:.0} GB each, and the cluster's {pages_per_s:.0} pages/s over its {masters} masters \
         in part 4, {per_master:.0} pages/s per master, scaled by the masters needed; beside \
         it, the hours if Redis's CPU were the only limit: part 4's cluster took {:.3} ms of \
         master CPU a page, so a master's core would serve {:.0} pages/s. A projection, not a \
         measurement.\n\n\
         | known URLs | buckets | seen set GB | queue GB if all queued at once | masters at \
         {:.0} GB | hours to crawl them once | hours, Redis CPU the limit |\n\
         |---:|---:|---:|---:|---:|---:|---:|",
        MASTER_BYTES / 1e9,
        cpu_per_page * 1e3,
        1.0 / cpu_per_page,
        MASTER_BYTES / 1e9,
    )
    .ok();
    for n in [1e8f64, 1e9] {
        let seen = n * seen_bytes;
        let queue = n * queue_bytes;
        let needed = ((seen + queue) / MASTER_BYTES).ceil().max(1.0);
        let hours = n / (per_master * needed) / 3600.0;
        let cpu_hours = n * cpu_per_page / needed / 3600.0;
        writeln!(
            out,
            "| 10^{} | {} | {:.1} | {:.1} | {needed:.0} | {hours:.1} | {cpu_hours:.1} |",
            n.log10().round(),
            layout::buckets_for_urls(n as u64),
            seen / 1e9,
            queue / 1e9,
        )
        .ok();
    }
    writeln!(out).ok();
}

fn main() {
    let started = Instant::now();
    let probe = redis_server();
    let version = info(&mut connect(&probe), "server")
        .get("redis_version")
        .cloned()
        .unwrap_or_else(|| "?".into());
    drop(probe);
    // The cpuinfo flag a hypervisor sets: figures on a VM share its host.
    let vm = if std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.contains(" hypervisor")) {
        ", a virtual machine"
    } else {
        ""
    };
    let mut out = format!(
        "## Shared frontier: nodes, Redis's cost, Redis's memory, a Redis Cluster\n\nMachine: {}{vm}; redis-server \
         {version}. The fixture server runs in the bench process and shares the cores with the \
         nodes and Redis.\n\n",
        machine()
    );
    let wants = wanted_parts();
    let mut memory_rows = Vec::new();
    let mut figures = Figures::default();
    if wants("scaling") {
        scaling(&mut out);
    }
    if wants("cost") {
        cost(&mut out, &mut memory_rows);
    }
    if wants("link") {
        link(&mut out);
    }
    if wants("memory") {
        memory(&mut out, &memory_rows, &mut figures);
    }
    if wants("cluster") {
        cluster(&mut out, &mut figures);
    }
    if wants("masters") {
        masters(&mut out);
    }
    if wants("large") {
        large(&mut out, &mut figures);
    }
    sizing(&mut out, &figures);
    writeln!(
        out,
        "The bench took {:.0} s.",
        started.elapsed().as_secs_f64()
    )
    .ok();
    publish("shared", &out);
}
