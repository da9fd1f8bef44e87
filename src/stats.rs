//! Where the time went: counters the coordinator keeps as results come back.
//!
//! Time is accounted per worker slot. A crawl with W workers running for T seconds has W x T
//! seconds of worker time, split into: waiting on the network (request sent to last body byte),
//! parsing on the CPU (decode, parse, `--cpu-work`, and waiting for a free core to do so),
//! waiting on the rate limiter, and idle (no work to hand out). The same rule holds in every mode, so the splits are comparable.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::task::WorkerId;
use crate::usage::{own_cpu_ms, own_peak_rss_kb};

/// How often the live window moves on; the live verdict covers the last one to two of these.
const WINDOW: Duration = Duration::from_secs(1);

/// Cumulative counters at one instant, to measure a window against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    at: Instant,
    cpu_ms: f64,
    fetch_ms: f64,
    parse_ms: f64,
    rate_wait_ms: f64,
    requests: u64,
    /// Worker-slot time so far, in ms: the split's denominator, which `-j auto` moves.
    slot_ms: f64,
}

/// Running totals for one crawl.
#[derive(Debug, Clone)]
pub struct Stats {
    pub started: Instant,
    pub workers: usize,
    pub ok: u64,
    pub failed: u64,
    pub bytes: u64,
    pub fetch_ms: f64,
    pub parse_ms: f64,
    pub rate_wait_ms: f64,
    pub retries: u64,
    pub robots_blocked: u64,
    /// Origins given up after a run of connection failures, and the pages recorded as
    /// unreachable because of it.
    pub hosts_given_up: u64,
    pub unreachable: u64,
    /// Times an origin was paused after a run of connection failures, and probes sent to
    /// paused origins (answered or not).
    pub host_pauses: u64,
    pub host_probes: u64,
    /// Times an origin asked the whole crawl to slow down (429 or 503 with Retry-After).
    pub server_holds: u64,
    /// Sitemaps read (`--sitemaps`), and the page URLs they listed.
    pub sitemaps: u64,
    pub sitemap_urls: u64,
    /// Requests completed (every attempt, robots.txt included).
    pub requests: u64,
    /// Tasks given up after a stop (no record written).
    pub abandoned: u64,
    /// Pages an earlier run (`--state`) already finished.
    pub resumed: u64,
    /// Workers that died with a task in hand (processes mode restarts them).
    pub worker_deaths: u64,
    /// Whether the crawl clock has started (at the first task handed out).
    clock_running: bool,
    /// This process's CPU time when the crawl started.
    cpu_start_ms: f64,
    /// Latest cumulative CPU time reported by each worker process (processes mode).
    worker_cpu_ms: HashMap<WorkerId, f64>,
    /// Peak resident memory reported by each live worker process (processes mode).
    worker_rss_kb: HashMap<WorkerId, u64>,
    /// The largest sum of live workers' peaks seen so far.
    workers_rss_peak_kb: u64,
    /// CPU time of worker processes that have exited.
    gone_worker_cpu_ms: f64,
    cores: usize,
    /// The live window: from `marks.0` to now, with `marks.1` the most recent roll.
    marks: (Mark, Mark),
    /// Worker-slot time before `slots_since`, in ms: with `-j auto` the number of slots
    /// changes, and the split's denominator is their sum over time.
    slot_ms: f64,
    slots_since: Instant,
}

/// The figures a verdict is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reading {
    /// CPU time used over elapsed time x cores, in 0..=1.
    pub cpu: f64,
    /// CPU cores this process may use (`std::thread::available_parallelism`).
    pub cores: usize,
    /// How worker time was spent over the same period.
    pub split: Split,
    /// Worker slots (`--workers`; 1 in sequential mode).
    pub workers: usize,
    /// Mean time per request, in milliseconds.
    pub mean_fetch_ms: f64,
}

/// Shares of worker time, each in 0..=1, summing to 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Split {
    /// Waiting on the network: each request (robots.txt and retries included), from sending
    /// it to its last body byte.
    pub network: f64,
    /// Decoding, parsing, `--cpu-work` and a user's extractor, and waiting for a free core
    /// to do so.
    pub parsing: f64,
    /// Idle because a rate limiter (`--rate` or `--per-host-rate`) held back the next request.
    pub rate_limit: f64,
    /// Idle with no work to hand out: the rest.
    pub idle: f64,
}

impl Stats {
    pub fn new(workers: usize) -> Self {
        let now = Instant::now();
        let mark = Mark {
            at: now,
            cpu_ms: 0.0,
            fetch_ms: 0.0,
            parse_ms: 0.0,
            rate_wait_ms: 0.0,
            requests: 0,
            slot_ms: 0.0,
        };
        Stats {
            started: now,
            workers,
            ok: 0,
            failed: 0,
            bytes: 0,
            fetch_ms: 0.0,
            parse_ms: 0.0,
            rate_wait_ms: 0.0,
            retries: 0,
            robots_blocked: 0,
            hosts_given_up: 0,
            unreachable: 0,
            host_pauses: 0,
            host_probes: 0,
            server_holds: 0,
            sitemaps: 0,
            sitemap_urls: 0,
            requests: 0,
            abandoned: 0,
            resumed: 0,
            worker_deaths: 0,
            clock_running: false,
            cpu_start_ms: own_cpu_ms(),
            worker_cpu_ms: HashMap::new(),
            worker_rss_kb: HashMap::new(),
            workers_rss_peak_kb: 0,
            gone_worker_cpu_ms: 0.0,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            marks: (mark, mark),
            slot_ms: 0.0,
            slots_since: now,
        }
    }

    /// Starts the crawl clock when the first task is handed out (later calls do nothing), so
    /// worker start-up (HTTP clients, runtimes) is not counted as crawl time.
    pub fn start_clock(&mut self) {
        if std::mem::replace(&mut self.clock_running, true) {
            return;
        }
        self.started = Instant::now();
        self.cpu_start_ms = own_cpu_ms();
        let mark = self.mark(self.started);
        self.marks = (mark, mark);
        self.slot_ms = 0.0;
        self.slots_since = self.started;
    }

    /// The number of worker slots changed at `now` (`-j auto`).
    pub fn set_workers(&mut self, workers: usize, now: Instant) {
        let held = now
            .saturating_duration_since(self.slots_since)
            .as_secs_f64()
            * 1000.0;
        self.slot_ms += held * self.workers.max(1) as f64;
        self.slots_since = now;
        self.workers = workers;
    }

    /// Records a worker process's cumulative CPU time, as it reported it.
    pub fn worker_cpu(&mut self, worker: WorkerId, cpu_ms: f64) {
        self.worker_cpu_ms.insert(worker, cpu_ms);
    }

    /// Records a worker process's peak resident memory, as it reported it.
    pub fn worker_rss(&mut self, worker: WorkerId, kb: u64) {
        self.worker_rss_kb.insert(worker, kb);
        let live: u64 = self.worker_rss_kb.values().sum();
        self.workers_rss_peak_kb = self.workers_rss_peak_kb.max(live);
    }

    /// Drops an exited worker process from the live set, keeping its CPU time.
    pub fn forget_worker(&mut self, worker: WorkerId) {
        self.worker_rss_kb.remove(&worker);
        if let Some(cpu) = self.worker_cpu_ms.remove(&worker) {
            self.gone_worker_cpu_ms += cpu;
        }
    }

    /// Peak resident memory of the crawl: this process plus the largest sum of the worker
    /// processes alive at once (an upper bound: pages shared copy-on-write after fork count
    /// once per process).
    pub fn peak_rss_kb(&self) -> u64 {
        own_peak_rss_kb() + self.workers_rss_peak_kb
    }

    /// CPU time the crawl has used so far: this process since the start, plus worker processes.
    pub fn cpu_ms(&self) -> f64 {
        (own_cpu_ms() - self.cpu_start_ms).max(0.0)
            + self.worker_cpu_ms.values().sum::<f64>()
            + self.gone_worker_cpu_ms
    }

    pub(crate) fn mark(&self, at: Instant) -> Mark {
        Mark {
            at,
            cpu_ms: self.cpu_ms(),
            fetch_ms: self.fetch_ms,
            parse_ms: self.parse_ms,
            rate_wait_ms: self.rate_wait_ms,
            requests: self.requests,
            slot_ms: self.slot_ms
                + at.saturating_duration_since(self.slots_since).as_secs_f64()
                    * 1000.0
                    * self.workers.max(1) as f64,
        }
    }

    /// The figures for a verdict over the whole crawl so far.
    pub fn reading(&self) -> Reading {
        let start = Mark {
            at: self.started,
            cpu_ms: 0.0,
            fetch_ms: 0.0,
            parse_ms: 0.0,
            rate_wait_ms: 0.0,
            requests: 0,
            slot_ms: 0.0,
        };
        self.reading_since(&start, self.mark(Instant::now()))
    }

    /// The figures for a verdict over the last one to two seconds.
    pub fn live_reading(&mut self, now: Instant) -> Reading {
        let current = self.mark(now);
        if now.duration_since(self.marks.1.at) >= WINDOW {
            self.marks = (self.marks.1, current);
        }
        let since = self.marks.0;
        self.reading_since(&since, current)
    }

    pub(crate) fn reading_since(&self, from: &Mark, to: Mark) -> Reading {
        let elapsed = to.at.saturating_duration_since(from.at);
        let wall_ms = elapsed.as_secs_f64() * 1000.0;
        let requests = to.requests.saturating_sub(from.requests);
        Reading {
            cpu: ((to.cpu_ms - from.cpu_ms) / (wall_ms * self.cores as f64).max(1e-9))
                .clamp(0.0, 1.0),
            cores: self.cores,
            split: split_of(
                to.fetch_ms - from.fetch_ms,
                to.parse_ms - from.parse_ms,
                to.rate_wait_ms - from.rate_wait_ms,
                (to.slot_ms - from.slot_ms).max(0.0),
            ),
            workers: self.workers,
            mean_fetch_ms: (to.fetch_ms - from.fetch_ms) / requests.max(1) as f64,
        }
    }

    /// Records finished, successful or not.
    pub fn done(&self) -> u64 {
        self.ok + self.failed
    }

    /// The split of worker time after `elapsed`.
    pub fn split(&self, elapsed: Duration) -> Split {
        let before = self.slots_since.saturating_duration_since(self.started);
        let capacity = self.slot_ms
            + elapsed.saturating_sub(before).as_secs_f64() * 1000.0 * self.workers.max(1) as f64;
        split_of(self.fetch_ms, self.parse_ms, self.rate_wait_ms, capacity)
    }
}

/// Shares of `capacity` milliseconds of worker time.
fn split_of(fetch_ms: f64, parse_ms: f64, rate_wait_ms: f64, capacity: f64) -> Split {
    if capacity <= 0.0 {
        return Split::default();
    }
    let share = |ms: f64| (ms / capacity).clamp(0.0, 1.0);
    let (network, parsing, rate_limit) = (share(fetch_ms), share(parse_ms), share(rate_wait_ms));
    let busy = network + parsing + rate_limit;
    // Overlapping measurements (a task's fetch timer runs while it waits to be polled) can
    // add up past 100%; scale down rather than report a negative idle time.
    let scale = if busy > 1.0 { 1.0 / busy } else { 1.0 };
    Split {
        network: network * scale,
        parsing: parsing * scale,
        rate_limit: rate_limit * scale,
        idle: (1.0 - busy * scale).max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_shares_worker_time() {
        let mut s = Stats::new(2);
        s.fetch_ms = 1000.0;
        s.parse_ms = 500.0;
        s.rate_wait_ms = 250.0;
        let split = s.split(Duration::from_secs(1));
        assert!((split.network - 0.5).abs() < 1e-9);
        assert!((split.parsing - 0.25).abs() < 1e-9);
        assert!((split.rate_limit - 0.125).abs() < 1e-9);
        assert!((split.idle - 0.125).abs() < 1e-9);
    }

    #[test]
    fn overlapping_time_never_makes_idle_negative() {
        let mut s = Stats::new(1);
        s.fetch_ms = 3000.0;
        let split = s.split(Duration::from_secs(1));
        assert!((split.network - 1.0).abs() < 1e-9);
        assert_eq!(split.idle, 0.0);
    }
}
