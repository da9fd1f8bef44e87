//! The shared frontier on a real Redis Cluster: 3 masters and 3 replicas on ephemeral ports
//! (crawl_fixture's `RedisCluster`, stopped on Drop), `--frontier redis+cluster://...`.
//!
//! The site is the fixture's generated one spread over many loopback host names
//! (127.0.0.1..127.0.0.N, one port), pages linking across hosts, so that the crawl's keys
//! spread over the shards and the shards over the masters, and a page's links go to other
//! shards than its own. The yardstick, as in `shared.rs`: a one-process crawl of the same
//! seeds, URL for URL and depth for depth.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crawl_fixture::RedisCluster;

use crate::shared::{Node, status, union};
use crate::support::*;

const HOSTS: usize = 24;
const PAGES: usize = 600;

fn many_hosts(latency_ms: u64) -> FixtureServer {
    server_with(Options {
        pages: PAGES,
        hosts: HOSTS,
        latency: Duration::from_millis(latency_ms),
        ..Options::default()
    })
}

/// One seed per host (the crawl keeps to its seeds' hosts).
fn seeds(s: &FixtureServer) -> String {
    let mut text = s.gen_seeds().join("\n");
    text.push('\n');
    text
}

/// The one-process crawl of the site: URL -> depth.
fn reference(s: &FixtureServer) -> BTreeMap<String, u32> {
    let run = CrawlCmd::new()
        .mode("async")
        .seeds(s.gen_seeds())
        .args(["-d", "100", "-j", "8"])
        .run();
    run.assert_ok();
    s.reset();
    let depths = run.depths();
    assert_eq!(depths.len(), PAGES, "the reference crawl missed pages");
    depths
}

/// Waits until crawl `id` exists on the cluster (its creator wrote its settings, after its
/// seeds), so that a node without seeds joins it.
fn wait_for_crawl(cluster: &RedisCluster, id: &str) {
    let key = format!("crawl:{{{id}}}:meta");
    let started = Instant::now();
    while !cluster
        .masters()
        .iter()
        .any(|&port| cluster.cli(port, &["EXISTS", &key]).trim() == "1")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "crawl {id} was never created"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts a creator in `modes[0]` with the seeds and joiners in the rest.
fn start(
    cluster: &RedisCluster,
    s: &FixtureServer,
    id: &str,
    modes: &[&str],
    args: &[&str],
) -> Vec<Node> {
    let url = cluster.urls();
    let mut all = vec!["-d", "100"];
    all.extend_from_slice(args);
    let mut nodes = vec![Node::start(modes[0], &url, id, Some(&seeds(s)), &all)];
    wait_for_crawl(cluster, id);
    for mode in &modes[1..] {
        nodes.push(Node::start(mode, &url, id, None, args));
    }
    nodes
}

/// Waits for every node; asserts each exited 0; returns the union and the summaries.
fn finish(
    nodes: Vec<Node>,
) -> (
    BTreeMap<String, u32>,
    BTreeMap<String, usize>,
    Vec<serde_json::Value>,
) {
    let mut files = Vec::new();
    let mut summaries = Vec::new();
    for node in nodes {
        let (code, stderr, summary, out) = node.finish();
        assert_eq!(code, 0, "{stderr}");
        files.push(out);
        summaries.extend(summary);
    }
    let (depths, counts) = union(&files);
    (depths, counts, summaries)
}

#[test]
fn three_nodes_in_three_modes_crawl_a_many_host_site_once_on_a_cluster() {
    let cluster = RedisCluster::start();
    let s = many_hosts(2);
    let expected = reference(&s);
    let nodes = start(
        &cluster,
        &s,
        "wide",
        &["async", "threads", "processes"],
        &["-j", "4"],
    );
    let (got, counts, _) = finish(nodes);
    assert_eq!(got, expected);
    assert!(counts.values().all(|&n| n == 1), "a URL recorded twice");
    // crawl status reads the cluster as a whole: every shard, every master's memory.
    let end = status(&cluster.urls(), "wide");
    assert_eq!(end["done"].as_u64(), Some(PAGES as u64), "{end}");
    assert_eq!(end["shards"].as_u64(), Some(16), "{end}");
    assert_eq!(end["finished"], true, "{end}");
    assert!(end["redis_memory"].as_u64().unwrap_or(0) > 0, "{end}");
    // The keys spread over the three masters: none holds more than half.
    let keys = cluster.keys_per_master();
    let total: u64 = keys.iter().map(|(_, n)| n).sum();
    assert_eq!(keys.len(), 3, "{keys:?}");
    for (port, n) in &keys {
        assert!(
            *n > 0 && *n * 2 <= total,
            "master {port} holds {n} of {total} keys: {keys:?}"
        );
    }
}

#[test]
fn two_nodes_ride_out_a_master_killed_mid_crawl() {
    let mut cluster = RedisCluster::start();
    let s = many_hosts(20);
    let expected = reference(&s);
    let args = ["-j", "4", "--lease", "4", "--timeout", "2"];
    let nodes = start(&cluster, &s, "failover", &["async", "processes"], &args);
    nodes[0].wait_for_records(60);
    let before: usize = nodes.iter().map(Node::records).sum();
    let dead = cluster.masters()[1];
    cluster.kill_master(dead);
    cluster.wait_for_failover(dead, Duration::from_secs(20));
    let (got, counts, _) = finish(nodes);
    assert!(before < PAGES, "the crawl ended before the failover");
    assert_eq!(got, expected, "pages lost across the failover");
    // Twice only what was in flight when the master died: 4 pages a node.
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.len() <= 8, "recorded twice: {twice:?}");
}
