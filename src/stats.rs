//! Where the time went: counters the coordinator keeps as results come back.
//!
//! Time is accounted per worker slot. A crawl with W workers running for T seconds has W x T
//! seconds of worker time, split into: waiting on the network (request sent to last body byte),
//! parsing on the CPU (decode, parse, `--cpu-work`, and waiting for a free core to do so),
//! waiting on the rate limiter, and idle (no work to hand out). The same rule holds in every mode, so the splits are comparable.

use std::time::{Duration, Instant};

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
}

/// Shares of worker time, each in 0..=1, summing to 1.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Split {
    pub network: f64,
    pub parsing: f64,
    pub rate_limit: f64,
    pub idle: f64,
}

impl Stats {
    pub fn new(workers: usize) -> Self {
        Stats {
            started: Instant::now(),
            workers,
            ok: 0,
            failed: 0,
            bytes: 0,
            fetch_ms: 0.0,
            parse_ms: 0.0,
            rate_wait_ms: 0.0,
            retries: 0,
            robots_blocked: 0,
        }
    }

    /// Restarts the clock: called when the first task is handed out, so worker start-up (HTTP
    /// clients, runtimes) is not counted as crawl time.
    pub fn restart_clock(&mut self) {
        self.started = Instant::now();
    }

    /// Records finished, successful or not.
    pub fn done(&self) -> u64 {
        self.ok + self.failed
    }

    /// The split of worker time after `elapsed`.
    pub fn split(&self, elapsed: Duration) -> Split {
        let capacity = elapsed.as_secs_f64() * 1000.0 * self.workers.max(1) as f64;
        if capacity <= 0.0 {
            return Split::default();
        }
        let share = |ms: f64| (ms / capacity).clamp(0.0, 1.0);
        let (network, parsing, rate_limit) = (
            share(self.fetch_ms),
            share(self.parse_ms),
            share(self.rate_wait_ms),
        );
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
