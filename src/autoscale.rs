//! `-j auto`: the crawl sets its own concurrency from what it measures.
//!
//! The controller owns one number, the **limit** on pages in flight, which the coordinator
//! enforces for every mode alike (a worker over the limit gets no task: an async slot stays
//! empty, a thread parks, a worker process waits or is retired). After a change it lets one
//! response time go by (the new slots' first requests are still on their way), then measures
//! an interval: at least two response times, [`MIN_INTERVAL`] and [`MIN_SAMPLES`] completed
//! requests while doubling; three response times, [`STEADY_INTERVAL`] and [`STEADY_SAMPLES`]
//! once growing by small steps (whose gains are small and need more samples to see); at most
//! [`MAX_INTERVAL`]. It reads what the interval showed (pages per second, mean response
//! time, whether a server said "slow down", and the verdict's shares of worker time: network,
//! parsing, rate limiter, idle) and moves the limit by these rules, first match wins:
//!
//! 1. **A server said slow down** (429 or 503) during the interval: halve the limit, as TCP
//!    does on loss, and grow only additively from then on.
//! 2. **The last step up did not pay**: it raised the limit from `a` to `b`, and pages/s rose
//!    by less than half of `b / a - 1`. More in flight bought nothing (the server or the path
//!    is saturating and a queue is building), so go back to `a`, and wait a few intervals
//!    before probing again. This is what acts on latency before a server starts failing.
//!    Unless the rate limiter held pages/s (a tenth of slot time or more spent waiting on it):
//!    then `b` stays, as margin that keeps the limiter busy.
//!    If response time grew with the step (a queue), probe **down** by a quarter next: while
//!    pages/s hold and responses come back faster, the slots given up were only queueing, so
//!    keep going down; when pages/s fall, or nothing got faster (pages/s are set by something
//!    else, such as how fast the frontier grows), go back up and wait a few intervals. So the
//!    limit settles at the fewest pages in flight that keep the most pages/s, whichever side
//!    of a server's capacity it started on.
//! 3. **CPU-bound** (the cores are busy, or parsing is the largest share): hold; more workers
//!    would only add memory and switches.
//! 4. **Rate-limit-bound**: concurrency is not the limit; come down to what keeps the limiter
//!    busy (Little's law: rate x response time, with half again as margin), never up.
//! 5. **Starved**, or network-bound with under [`BUSY_ENOUGH`] of the slots busy (a per-host
//!    cap or the frontier holds the crawl back): hold; the limit is not what binds.
//! 6. **Network-bound**, at the same limit as last interval: if response time rose by half
//!    while pages/s stayed flat, a queue is building that this crawl did not cause by a step:
//!    come down by a quarter. Otherwise go up: doubling while every doubling pays ("slow
//!    start"), then by an eighth at a time once a step has failed.
//!
//! The limit never goes below 1 or above `--max-workers`; the per-host caps and `--rate` still
//! bound what is actually in flight.

use std::fmt;
use std::time::{Duration, Instant};

use crate::bottleneck::{Bottleneck, judge};
use crate::stats::Reading;

/// The shortest control interval while doubling: shorter ones measure noise.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// The shortest once growing by an eighth at a time.
pub const STEADY_INTERVAL: Duration = Duration::from_millis(500);
/// Completed requests an interval needs once growing by an eighth.
pub const STEADY_SAMPLES: u64 = 32;
/// The longest wait for a change to settle (one response time, as measured).
const MAX_SETTLE: Duration = Duration::from_secs(2);
/// The longest: a slow crawl still gets a decision this often.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3);
/// Completed requests an interval needs before it is judged (unless it reaches
/// [`MAX_INTERVAL`]).
pub const MIN_SAMPLES: u64 = 8;
/// The share of slot time that must be busy for more slots to be worth having.
pub const BUSY_ENOUGH: f64 = 0.6;
/// The share of slot time waiting on the rate limiter above which a step up that bought
/// nothing is put down to the limiter, not to the server.
const RATE_BOUND: f64 = 0.1;
/// Intervals to hold after a step up failed, before probing again.
const COOL_DOWN: u32 = 4;

/// What one control interval showed.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Its length.
    pub secs: f64,
    /// Requests completed in it.
    pub completed: u64,
    /// Their mean response time, in milliseconds.
    pub mean_ms: f64,
    /// How many answered 429 or 503.
    pub slowdowns: u64,
    /// The verdict's inputs over the interval.
    pub reading: Reading,
}

impl Sample {
    fn pages_per_sec(&self) -> f64 {
        self.completed as f64 / self.secs.max(1e-9)
    }
}

/// A change of the limit (or a decision to hold it), and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The limit before.
    pub from: usize,
    /// The limit after (equal to `from` for a hold).
    pub to: usize,
    /// Why, in a few words with the figures behind them.
    pub why: String,
}

impl fmt::Display for Change {
    /// `+8: network-bound, 92% of Little's law`, `-4: ...`, `hold: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to.cmp(&self.from) {
            std::cmp::Ordering::Greater => write!(f, "+{}: {}", self.to - self.from, self.why),
            std::cmp::Ordering::Less => write!(f, "-{}: {}", self.from - self.to, self.why),
            std::cmp::Ordering::Equal => write!(f, "hold: {}", self.why),
        }
    }
}

/// A step up being judged: the limit before it, and what that limit achieved.
#[derive(Debug, Clone, Copy)]
struct Probe {
    from: usize,
    pages_per_sec: f64,
    mean_ms: f64,
}

/// What the current limit achieved in its first interval, to see a queue build at it.
#[derive(Debug, Clone, Copy)]
struct Reference {
    pages_per_sec: f64,
    mean_ms: f64,
}

/// The controller (see the module doc for its rules).
#[derive(Debug)]
pub struct Autoscale {
    limit: usize,
    max: usize,
    /// Doubling while steps pay; false once one has not.
    slow_start: bool,
    /// Past the knee: the next probe goes down, to find the fewest in flight that keep
    /// pages/s.
    probe_down: bool,
    cool_down: u32,
    probe: Option<Probe>,
    reference: Option<Reference>,
    /// The interval being measured started then (after any settling).
    since: Instant,
    /// Mean response time of the last interval, which sets how long the next one is.
    last_mean: Duration,
    completed: u64,
    fetch_ms: f64,
    slowdowns: u64,
    last: Option<Change>,
    /// The limit it started at, and every interval judged since: the summary's time series
    /// and its min / median / max.
    start: usize,
    steps: Vec<Step>,
    created: Instant,
}

/// One judged interval: when it ended, what it showed and the limit decided on it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Step {
    /// Seconds from the controller's start to the interval's end.
    pub at_s: f64,
    /// Pages per second over the interval (requests completed, robots.txt included).
    pub pages_per_s: f64,
    /// Their mean response time, in milliseconds.
    pub mean_ms: f64,
    /// The limit the interval ran at.
    pub limit_before: usize,
    /// The limit decided at its end.
    pub limit: usize,
}

impl Autoscale {
    /// A controller starting at `start` pages in flight (clamped to 1..=`max`).
    pub fn new(start: usize, max: usize, now: Instant) -> Self {
        let max = max.max(1);
        let limit = start.clamp(1, max);
        Autoscale {
            limit,
            max,
            slow_start: true,
            probe_down: false,
            cool_down: 0,
            probe: None,
            reference: None,
            since: now,
            last_mean: Duration::ZERO,
            completed: 0,
            fetch_ms: 0.0,
            slowdowns: 0,
            last: None,
            start: limit,
            steps: Vec::new(),
            created: now,
        }
    }

    /// Pages allowed in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The most recent decision, for the progress line.
    pub fn last(&self) -> Option<&Change> {
        self.last.as_ref()
    }

    /// The limit over the crawl: (min, median, max) of its value at every decision.
    pub fn spread(&self) -> (usize, usize, usize) {
        let mut seen: Vec<usize> = std::iter::once(self.start)
            .chain(self.steps.iter().map(|s| s.limit))
            .collect();
        seen.sort_unstable();
        let min = seen.first().copied().unwrap_or(self.limit);
        let max = seen.last().copied().unwrap_or(self.limit);
        (
            min,
            seen.get(seen.len() / 2).copied().unwrap_or(self.limit),
            max,
        )
    }

    /// Every interval judged so far, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// A request completed after `fetch_ms`; `slowdown` if it answered 429 or 503.
    /// A request completed at `now` is counted only once a change has settled; a slow-down
    /// answer always is.
    pub fn observe(&mut self, now: Instant, fetch_ms: f64, slowdown: bool) {
        self.slowdowns += u64::from(slowdown);
        if now >= self.since {
            self.completed += 1;
            self.fetch_ms += fetch_ms;
        }
    }

    /// Whether the interval has enough in it to be judged at `now`.
    pub fn due(&self, now: Instant) -> bool {
        if self.slowdowns > 0 {
            return true;
        }
        let age = now.saturating_duration_since(self.since);
        let (least, samples) = if self.slow_start {
            (MIN_INTERVAL.max(self.last_mean * 2), MIN_SAMPLES)
        } else {
            (STEADY_INTERVAL.max(self.last_mean * 3), STEADY_SAMPLES)
        };
        (age >= least && self.completed >= samples) || age >= MAX_INTERVAL
    }

    /// Ends the interval at `now` and decides on it, given the verdict's `reading` over the
    /// same time. Returns the decision (a change, or a hold with its reason).
    pub fn tick(&mut self, now: Instant, reading: Reading) -> Change {
        let sample = Sample {
            secs: now
                .saturating_duration_since(self.since)
                .as_secs_f64()
                .max(1e-3),
            completed: self.completed,
            mean_ms: self.fetch_ms / self.completed.max(1) as f64,
            slowdowns: self.slowdowns,
            reading,
        };
        self.completed = 0;
        self.fetch_ms = 0.0;
        self.slowdowns = 0;
        if sample.completed > 0 {
            self.last_mean = Duration::from_secs_f64(sample.mean_ms.max(0.0) / 1000.0);
        }
        let change = self.decide(&sample);
        self.since = now;
        if change.to != change.from {
            self.limit = change.to;
            self.reference = None;
            // The next interval starts once the new slots' first answers can be back.
            self.since = now + self.last_mean.min(MAX_SETTLE);
        }
        self.steps.push(Step {
            at_s: now.saturating_duration_since(self.created).as_secs_f64(),
            pages_per_s: sample.pages_per_sec(),
            mean_ms: sample.mean_ms,
            limit_before: change.from,
            limit: self.limit,
        });
        self.last = Some(change.clone());
        change
    }

    /// The rules of the module doc, tried in order: the first that decides wins, and an
    /// interval none of them settles grows the limit.
    fn decide(&mut self, s: &Sample) -> Change {
        RULES
            .iter()
            .find_map(|rule| rule(self, s))
            .unwrap_or_else(|| self.grow(s))
    }

    /// A decision from the current limit to `to` (kept within 1..=`--max-workers`).
    fn change(&self, to: usize, why: String) -> Change {
        Change {
            from: self.limit,
            to: to.clamp(1, self.max),
            why,
        }
    }

    /// Rule 1, a server said slow down: halve, as TCP does on loss, and grow only additively
    /// from then on.
    fn slowed_down(&mut self, s: &Sample) -> Option<Change> {
        if s.slowdowns == 0 {
            return None;
        }
        self.slow_start = false;
        self.probe_down = false;
        self.probe = None;
        self.cool_down = COOL_DOWN;
        Some(self.change(
            self.limit / 2,
            format!(
                "{} answer(s) were 429 or 503: the server said slow down",
                s.slowdowns
            ),
        ))
    }

    /// An empty interval shows nothing, and judges no probe.
    fn nothing_completed(&mut self, s: &Sample) -> Option<Change> {
        if s.completed > 0 {
            return None;
        }
        self.probe = None;
        Some(self.change(self.limit, "nothing completed in the interval".into()))
    }

    /// A probe is judged by pages/s before and after it, which says nothing if every
    /// response got much slower (or faster) at the same time for reasons of the server's
    /// or the path's: a queue this crawl built grows response time at most in proportion to
    /// the step. Then the probe is dropped, and the new limit measured afresh.
    fn probe_unjudgeable(&mut self, s: &Sample) -> Option<Change> {
        let from = self.limit;
        let probe = self.probe.take_if(|p| {
            let step = (from as f64 / p.from as f64).max(p.from as f64 / from as f64);
            let moved = (s.mean_ms / p.mean_ms.max(1e-9)).max(p.mean_ms / s.mean_ms.max(1e-9));
            moved > 1.5 * step
        })?;
        if s.mean_ms > probe.mean_ms {
            // Slower responses: the knee moved up, so grow by doubling again.
            self.slow_start = true;
            self.probe_down = false;
            self.cool_down = 0;
        }
        Some(self.change(
            from,
            format!(
                "response time went from {:.0} to {:.0} ms, more than the step explains: \
                 measuring again",
                probe.mean_ms, s.mean_ms
            ),
        ))
    }

    /// Rule 2b, the last step down: kept if pages/s held, undone if they fell.
    fn step_down_judged(&mut self, s: &Sample) -> Option<Change> {
        let from = self.limit;
        let probe = self.probe.take_if(|p| p.from > from)?;
        let pages = s.pages_per_sec();
        let fell = 1.0 - pages / probe.pages_per_sec.max(1e-9);
        let proportional = 1.0 - from as f64 / probe.from as f64;
        if fell > proportional / 2.0 {
            self.probe_down = false;
            self.cool_down = COOL_DOWN;
            return Some(self.change(
                probe.from,
                format!(
                    "pages/s fell {:.0}% at {from} in flight: back to {}",
                    fell.max(0.0) * 100.0,
                    probe.from
                ),
            ));
        }
        let eased = 1.0 - s.mean_ms / probe.mean_ms.max(1e-9);
        if eased < proportional / 2.0 {
            // Pages/s held, but responses came no faster: nothing was queueing, and
            // pages/s are set by something else (how fast the frontier grows, a few slow
            // pages). Fewer slots would only leave less room when work comes: back up.
            self.probe_down = false;
            self.cool_down = COOL_DOWN;
            return Some(self.change(
                probe.from,
                format!(
                    "fewer in flight changed nothing: pages/s are set elsewhere; back to {}",
                    probe.from
                ),
            ));
        }
        // As many pages/s with fewer in flight, and each answered sooner: the rest was
        // queueing. Keep going down (the rules below decide this interval).
        self.probe_down = true;
        None
    }

    /// Rule 2, the last step up did not pay: back to where it started, unless the rate
    /// limiter held pages/s.
    fn step_up_did_not_pay(&mut self, s: &Sample) -> Option<Change> {
        let from = self.limit;
        let probe = self.probe.take()?;
        let wanted = (from as f64 / probe.from as f64 - 1.0) / 2.0;
        let got = s.pages_per_sec() / probe.pages_per_sec.max(1e-9) - 1.0;
        // A step that paid nearly in proportion is far from any knee (the path slowed
        // down, or the crawl started low): double again.
        if got >= 1.5 * wanted {
            self.slow_start = true;
        }
        if got < wanted {
            self.slow_start = false;
            self.cool_down = COOL_DOWN;
            if s.reading.split.rate_limit >= RATE_BOUND {
                // The limiter held pages/s where they were, not the server: the step
                // stays, as margin that keeps the limiter busy.
                return Some(self.change(
                    from,
                    "rate-limit-bound: the limiter, not concurrency, sets pages/s".into(),
                ));
            }
            let rose = s.mean_ms / probe.mean_ms.max(1e-9) - 1.0;
            let why = if rose > 0.2 {
                format!(
                    "latency rose {:.0}% at {from} in flight, pages/s flat",
                    rose * 100.0
                )
            } else {
                format!("no more pages/s at {from} in flight than at {}", probe.from)
            };
            // Response time grew with the step: a queue, so the knee may be below
            // `probe.from` too; next, see whether fewer do as well. Without that sign
            // (pages/s set by the frontier, say), there is nothing to find below.
            let step = from as f64 / probe.from as f64 - 1.0;
            self.probe_down = rose >= step / 2.0;
            self.cool_down = if self.probe_down { 0 } else { COOL_DOWN };
            return Some(self.change(probe.from, why));
        }
        None
    }

    /// Rule 3, CPU-bound: hold; more workers would only add memory and switches.
    fn cpu_bound(&mut self, s: &Sample) -> Option<Change> {
        let reading = &s.reading;
        (judge(reading) == Bottleneck::Cpu).then(|| {
            self.change(
                self.limit,
                format!(
                    "cpu-bound at {} cores (CPU {:.0}%)",
                    reading.cores,
                    reading.cpu * 100.0
                ),
            )
        })
    }

    /// Rule 4, rate-limit-bound: come down to what keeps the limiter busy (Little's law, with
    /// half again as margin), never up.
    fn rate_limit_bound(&mut self, s: &Sample) -> Option<Change> {
        if judge(&s.reading) != Bottleneck::RateLimit {
            return None;
        }
        let needed = (s.pages_per_sec() * s.mean_ms / 1000.0 * 1.5).ceil() as usize + 1;
        Some(if needed < self.limit {
            self.change(
                needed,
                "rate-limit-bound: enough to keep the limiter busy".into(),
            )
        } else {
            self.change(self.limit, "rate-limit-bound".into())
        })
    }

    /// Rule 5, not what binds: starved, or network-bound with under [`BUSY_ENOUGH`] of the
    /// slots busy (a per-host cap or the frontier holds the crawl back). Hold.
    fn not_what_binds(&mut self, s: &Sample) -> Option<Change> {
        let split = &s.reading.split;
        match judge(&s.reading) {
            Bottleneck::Starved => Some(self.change(
                self.limit,
                format!(
                    "starved: slots idle {:.0}% of the time, no work for more",
                    split.idle * 100.0
                ),
            )),
            Bottleneck::Network => {
                let busy = 1.0 - split.idle - split.rate_limit;
                (busy < BUSY_ENOUGH).then(|| {
                    self.change(
                        self.limit,
                        format!(
                            "{:.0}% of slots busy (rate limiter {:.0}%, idle {:.0}%): more \
                             would not be used",
                            busy * 100.0,
                            split.rate_limit * 100.0,
                            split.idle * 100.0
                        ),
                    )
                })
            }
            Bottleneck::Cpu | Bottleneck::RateLimit => None,
        }
    }

    /// Rule 6: from here on the interval is network-bound with the slots busy (the rules
    /// above decided every other case). A queue building at this limit (response time up by
    /// half, pages/s flat) comes down by a quarter; a path that slowed (pages/s down with it)
    /// is measured again, then grown by doubling. The first interval at a limit is its
    /// reference.
    fn queue_building(&mut self, s: &Sample) -> Option<Change> {
        let from = self.limit;
        let pages = s.pages_per_sec();
        let r = match self.reference {
            None => {
                self.reference = Some(Reference {
                    pages_per_sec: pages,
                    mean_ms: s.mean_ms,
                });
                return None;
            }
            Some(r) if s.mean_ms > 1.5 * r.mean_ms && pages < 1.2 * r.pages_per_sec => r,
            Some(_) => return None,
        };
        // A latency rise that halves pages/s is the path slowing down, which more in
        // flight makes up for; one with pages/s flat is a queue.
        if pages <= 0.8 * r.pages_per_sec {
            // Every response slower, pages/s down with it: the path slowed, and the knee
            // moved up. Grow by doubling again, from a clean measure of this limit on the
            // slower path (this interval may hold some of each).
            self.slow_start = true;
            self.probe_down = false;
            self.cool_down = 0;
            self.reference = None;
            Some(self.change(
                from,
                format!(
                    "response time rose from {:.0} to {:.0} ms with pages/s down: the path \
                     slowed; measuring again",
                    r.mean_ms, s.mean_ms
                ),
            ))
        } else {
            self.slow_start = false;
            Some(self.change(
                from * 3 / 4,
                format!(
                    "latency rose {:.0}% at {from} in flight, pages/s flat",
                    (s.mean_ms / r.mean_ms - 1.0) * 100.0
                ),
            ))
        }
    }

    /// Rule 2, after a failed step up: hold a few intervals at the knee before probing
    /// again.
    fn cooling_down(&mut self, _: &Sample) -> Option<Change> {
        if self.cool_down == 0 {
            return None;
        }
        self.cool_down -= 1;
        Some(self.change(self.limit, "network-bound, at the knee".into()))
    }

    /// Rule 2, past the knee: probe down by a quarter, to find the fewest in flight that keep
    /// pages/s.
    fn probing_down(&mut self, s: &Sample) -> Option<Change> {
        let from = self.limit;
        if !self.probe_down || from <= 1 {
            return None;
        }
        let pages = s.pages_per_sec();
        self.probe = Some(Probe {
            from,
            pages_per_sec: pages,
            mean_ms: s.mean_ms,
        });
        Some(self.change(
            from - (from / 4).max(1),
            format!("probing down: {pages:.0} pages/s with fewer in flight?"),
        ))
    }

    /// Rule 6, with no room left: `--max-workers` is the ceiling.
    fn at_max(&mut self, _: &Sample) -> Option<Change> {
        (self.limit >= self.max)
            .then(|| self.change(self.limit, "network-bound, at --max-workers".into()))
    }

    /// Rule 6, otherwise: go up, doubling while every doubling pays ("slow start"), then by
    /// an eighth at a time once a step has failed. The step is a probe, judged next interval.
    fn grow(&mut self, s: &Sample) -> Change {
        let from = self.limit;
        let pages = s.pages_per_sec();
        let step = if self.slow_start {
            from
        } else {
            (from / 8).max(1)
        };
        self.probe = Some(Probe {
            from,
            pages_per_sec: pages,
            mean_ms: s.mean_ms,
        });
        let little = from as f64 * 1000.0 / s.mean_ms.max(1e-3);
        self.change(
            from + step,
            format!(
                "network-bound, {:.0}% of Little's law",
                (pages / little * 100.0).min(999.0)
            ),
        )
    }
}

/// One rule of the module doc: the decision it makes on an interval, or `None` to leave the
/// interval to the rules after it (having noted what it saw, for some).
type Rule = fn(&mut Autoscale, &Sample) -> Option<Change>;

/// The rules, in the order they are tried; [`Autoscale::grow`] decides what none of them does.
const RULES: &[Rule] = &[
    Autoscale::slowed_down,
    Autoscale::nothing_completed,
    Autoscale::probe_unjudgeable,
    Autoscale::step_down_judged,
    Autoscale::step_up_did_not_pay,
    Autoscale::cpu_bound,
    Autoscale::rate_limit_bound,
    Autoscale::not_what_binds,
    Autoscale::queue_building,
    Autoscale::cooling_down,
    Autoscale::probing_down,
    Autoscale::at_max,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Split;

    /// An interval of `secs` seconds in which `pages` requests took `ms` each, judged from
    /// worker-time shares `network`, `idle` and CPU `cpu`.
    fn sample(pages: u64, ms: f64, network: f64, idle: f64, cpu: f64) -> Sample {
        Sample {
            secs: 1.0,
            completed: pages,
            mean_ms: ms,
            slowdowns: 0,
            reading: Reading {
                cpu,
                cores: 2,
                split: Split {
                    network,
                    parsing: 1.0 - network - idle,
                    rate_limit: 0.0,
                    idle,
                },
                workers: 8,
                mean_fetch_ms: ms,
            },
        }
    }

    /// A server with `capacity` requests served at once, each taking `work_ms`: below the
    /// capacity response time is the work; above it requests queue.
    fn server(limit: usize, capacity: usize, work_ms: f64) -> Sample {
        let served = limit.min(capacity) as f64;
        let ms = work_ms * (limit as f64 / served).max(1.0);
        let pages = (served * 1000.0 / work_ms) as u64;
        sample(pages, ms, 0.95, 0.03, 0.2)
    }

    impl Autoscale {
        /// `tick` without the clock: decides on `s` and applies it.
        fn decide_and_apply(&mut self, s: &Sample) -> Change {
            let change = self.decide(s);
            if change.to != change.from {
                self.limit = change.to;
                self.reference = None;
            }
            self.steps.push(Step {
                at_s: 0.0,
                pages_per_s: s.pages_per_sec(),
                mean_ms: s.mean_ms,
                limit_before: change.from,
                limit: self.limit,
            });
            change
        }
    }

    #[test]
    fn network_bound_doubles_then_settles_at_a_servers_capacity() {
        let mut auto = Autoscale::new(4, 512, Instant::now());
        let mut seen = Vec::new();
        for _ in 0..30 {
            let s = server(auto.limit(), 32, 20.0);
            auto.decide_and_apply(&s);
            seen.push(auto.limit());
        }
        // Up by doublings to 64, where nothing was gained: back to 32; probes above it (36)
        // and below it (24) come back too, so it spends most intervals at 32.
        assert_eq!(&seen[..4], &[8, 16, 32, 64], "{seen:?}");
        assert_eq!(seen[4], 32, "{seen:?}");
        let tail = &seen[10..];
        assert!(tail.iter().all(|&l| (24..=36).contains(&l)), "{seen:?}");
        let at_32 = tail.iter().filter(|&&l| l == 32).count();
        assert!(at_32 * 2 > tail.len(), "{seen:?}");
    }

    #[test]
    fn starting_past_a_servers_capacity_it_comes_down_to_it() {
        let mut auto = Autoscale::new(64, 512, Instant::now());
        let mut seen = Vec::new();
        for _ in 0..30 {
            let s = server(auto.limit(), 8, 20.0);
            auto.decide_and_apply(&s);
            seen.push(auto.limit());
        }
        // A doubling that buys nothing, then quarters off while pages/s hold, to the 8 that
        // the server serves at once (and probes around it).
        assert_eq!(&seen[..2], &[128, 64], "{seen:?}");
        assert!(
            seen[10..].iter().all(|&l| (6..=10).contains(&l)),
            "{seen:?}"
        );
    }

    #[test]
    fn pages_set_by_the_frontier_do_not_drag_it_down() {
        // 300 pages/s whatever the limit, at an unchanging 20 ms: the frontier, not the
        // server, sets the pace, and slots are busy (slow pages hold some of them).
        let mut auto = Autoscale::new(16, 512, Instant::now());
        let mut seen = Vec::new();
        for _ in 0..20 {
            auto.decide_and_apply(&sample(300, 20.0, 0.9, 0.05, 0.1));
            seen.push(auto.limit());
        }
        assert_eq!(&seen[..2], &[32, 16], "{seen:?}");
        assert!(seen.iter().all(|&l| l >= 16), "{seen:?}");
    }

    #[test]
    fn small_steps_that_pay_in_full_go_back_to_doubling() {
        // Settled at 64 on a fast path (past the knee), then every response takes 20 times
        // longer: each step now pays in proportion, and growth turns multiplicative again.
        let mut auto = Autoscale::new(64, 1024, Instant::now());
        auto.slow_start = false;
        let mut seen = Vec::new();
        for _ in 0..8 {
            let s = server(auto.limit(), usize::MAX, 100.0);
            auto.decide_and_apply(&s);
            seen.push(auto.limit());
        }
        assert_eq!(&seen[..3], &[72, 144, 288], "{seen:?}");
        assert_eq!(*seen.last().unwrap_or(&0), 1024, "{seen:?}");
    }

    #[test]
    fn an_unbounded_latency_bound_site_goes_to_the_cap() {
        let mut auto = Autoscale::new(4, 100, Instant::now());
        for _ in 0..10 {
            let s = server(auto.limit(), usize::MAX, 100.0);
            auto.decide_and_apply(&s);
        }
        assert_eq!(auto.limit(), 100);
        let hold = auto.decide_and_apply(&server(100, usize::MAX, 100.0));
        assert_eq!(hold.to_string(), "hold: network-bound, at --max-workers");
    }

    #[test]
    fn slow_down_answers_halve_and_never_below_one() {
        let mut auto = Autoscale::new(16, 64, Instant::now());
        let mut s = server(16, usize::MAX, 10.0);
        s.slowdowns = 3;
        let change = auto.decide_and_apply(&s);
        assert_eq!((change.from, change.to), (16, 8));
        assert!(
            change
                .to_string()
                .starts_with("-8: 3 answer(s) were 429 or 503")
        );
        for _ in 0..10 {
            auto.decide_and_apply(&s);
        }
        assert_eq!(auto.limit(), 1);
    }

    #[test]
    fn cpu_bound_holds() {
        let mut auto = Autoscale::new(4, 64, Instant::now());
        let change = auto.decide_and_apply(&sample(400, 2.0, 0.1, 0.05, 0.95));
        assert_eq!(change.to_string(), "hold: cpu-bound at 2 cores (CPU 95%)");
    }

    #[test]
    fn a_latency_rise_with_flat_pages_comes_down_and_a_slower_path_goes_up() {
        // Settled at 32 (a reference interval), then the same pages/s at twice the latency.
        let mut auto = Autoscale::new(32, 64, Instant::now());
        auto.cool_down = 1;
        auto.decide_and_apply(&sample(1600, 20.0, 0.95, 0.03, 0.2));
        let change = auto.decide_and_apply(&sample(1600, 40.0, 0.95, 0.03, 0.2));
        assert_eq!((change.from, change.to), (32, 24), "{change}");
        // The path slows down instead: pages/s fall with it, and more in flight makes up.
        let mut auto = Autoscale::new(32, 64, Instant::now());
        auto.cool_down = 1;
        auto.decide_and_apply(&sample(1600, 20.0, 0.95, 0.03, 0.2));
        let change = auto.decide_and_apply(&sample(320, 100.0, 0.95, 0.03, 0.2));
        assert_eq!(change.to, change.from, "measured again first: {change}");
        let change = auto.decide_and_apply(&sample(320, 100.0, 0.95, 0.03, 0.2));
        assert_eq!(change.to, 2 * change.from, "then doubling: {change}");
    }

    #[test]
    fn idle_slots_and_the_rate_limiter_never_raise_it() {
        let mut auto = Autoscale::new(16, 64, Instant::now());
        let change = auto.decide_and_apply(&sample(100, 10.0, 0.55, 0.45, 0.1));
        assert_eq!(change.to, 16, "{change}");
        let mut limited = sample(200, 10.0, 0.1, 0.1, 0.1);
        limited.reading.split.rate_limit = 0.8;
        limited.reading.split.parsing = 0.0;
        let change = auto.decide_and_apply(&limited);
        // 200 pages/s x 10 ms = 2 in flight, with margin: 4.
        assert_eq!(change.to, 4, "{change}");
    }

    #[test]
    fn a_step_the_rate_limiter_made_useless_stays_as_margin() {
        let mut auto = Autoscale::new(4, 64, Instant::now());
        auto.decide_and_apply(&sample(150, 20.0, 0.95, 0.03, 0.1));
        assert_eq!(auto.limit(), 8);
        // At 8, pages/s stayed at the rate and a fifth of slot time waited on the limiter.
        let mut limited = sample(200, 20.0, 0.7, 0.1, 0.1);
        limited.reading.split.rate_limit = 0.2;
        limited.reading.split.parsing = 0.0;
        let change = auto.decide_and_apply(&limited);
        assert_eq!(change.to, 8, "{change}");
        assert!(change.why.starts_with("rate-limit-bound"), "{change}");
    }

    #[test]
    fn a_probe_that_met_a_slower_path_is_measured_again_then_doubling_resumes() {
        let mut auto = Autoscale::new(96, 1024, Instant::now());
        auto.slow_start = false;
        // Probing 96 -> 108 on a 9 ms path...
        let change = auto.decide_and_apply(&sample(10_000, 9.0, 0.95, 0.03, 0.2));
        assert_eq!(change.to, 108, "{change}");
        // ... when every response starts taking 100 ms: pages/s fall, but not for the step.
        let change = auto.decide_and_apply(&sample(1000, 100.0, 0.95, 0.03, 0.2));
        assert_eq!(change.to, 108, "{change}");
        assert!(change.why.contains("measuring again"), "{change}");
        let change = auto.decide_and_apply(&sample(1080, 100.0, 0.95, 0.03, 0.2));
        assert_eq!(change.to, 216, "doubling again: {change}");
    }

    #[test]
    fn spread_is_min_median_max() {
        let mut auto = Autoscale::new(4, 512, Instant::now());
        for _ in 0..6 {
            let s = server(auto.limit(), 8, 10.0);
            auto.decide_and_apply(&s);
        }
        let (min, median, max) = auto.spread();
        assert_eq!((min, max), (4, 16));
        assert!((4..=16).contains(&median));
    }
}
