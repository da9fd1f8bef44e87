//! What limits the crawl right now: the CPU, the rate limiter, the network, or a lack of work.
//!
//! The rule is deliberately simple, so a user can check it against the numbers it prints:
//!
//! 1. **cpu** if the crawl's processes used at least [`CPU_BUSY`] of all cores (CPU time from
//!    getrusage, worker processes included, divided by elapsed time x cores);
//! 2. otherwise, whichever share of worker time is largest (see [`crate::stats`]):
//!    parsing → **cpu** (the workers are busy computing, even if they cannot fill every core),
//!    network → **network**, rate limiter → **rate-limit**, idle → **starved** (workers wait
//!    for pages to reveal new links: fewer workers would do as well).

use std::fmt;

use serde::Serialize;

use crate::stats::Reading;

/// Share of all cores above which the crawl is CPU-bound whatever the split says.
pub const CPU_BUSY: f64 = 0.75;

/// The resource that limits the crawl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bottleneck {
    /// `cpu`: the crawl's processes used at least 75% of all cores, or parsing was the
    /// largest share of worker time.
    Cpu,
    /// `rate-limit`: waiting on the rate limiter was the largest share of worker time.
    RateLimit,
    /// `network`: waiting on responses was the largest share of worker time.
    Network,
    /// `starved`: idle time, with no work to hand out, was the largest share of worker time.
    Starved,
}

impl fmt::Display for Bottleneck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bottleneck::Cpu => "cpu",
            Bottleneck::RateLimit => "rate-limit",
            Bottleneck::Network => "network",
            Bottleneck::Starved => "starved",
        })
    }
}

/// Applies the rule in the module doc.
pub fn judge(r: &Reading) -> Bottleneck {
    if r.cpu >= CPU_BUSY {
        return Bottleneck::Cpu;
    }
    let s = &r.split;
    let candidates = [
        (s.parsing, Bottleneck::Cpu),
        (s.network, Bottleneck::Network),
        (s.rate_limit, Bottleneck::RateLimit),
        (s.idle, Bottleneck::Starved),
    ];
    candidates
        .iter()
        .fold((f64::MIN, Bottleneck::Starved), |best, &(share, b)| {
            if share > best.0 { (share, b) } else { best }
        })
        .1
}

/// One sentence with the numbers behind the verdict and what would help.
pub fn explain(verdict: Bottleneck, r: &Reading) -> String {
    let cpu = format!("CPU {:.0}% of {} cores", r.cpu * 100.0, r.cores);
    let s = &r.split;
    match verdict {
        Bottleneck::Cpu => format!(
            "cpu-bound: {cpu}, parsing {:.0}% of worker time; more workers will not help, more \
             cores or less work per page would",
            s.parsing * 100.0
        ),
        Bottleneck::Network => {
            let ideal = r.workers as f64 * 1000.0 / r.mean_fetch_ms.max(1e-3);
            format!(
                "network-bound: workers waited on responses {:.0}% of the time; {cpu}; adding \
                 workers would help until the CPU or the server saturates (Little's law: {} \
                 workers / {:.1} ms per request = {ideal:.0} pages/s at most)",
                s.network * 100.0,
                r.workers,
                r.mean_fetch_ms
            )
        }
        Bottleneck::RateLimit => format!(
            "rate-limit-bound: workers waited on the rate limiter {:.0}% of the time; {cpu}; \
             only a higher --rate or --per-host-rate would go faster (a host's Crawl-delay or \
             Retry-After is the site's to set)",
            s.rate_limit * 100.0
        ),
        Bottleneck::Starved => format!(
            "starved: workers were idle {:.0}% of the time, waiting for work; {cpu}; either \
             pages reveal new links more slowly than {} workers fetch them (fewer workers would \
             do), --per-host-workers holds each host to fewer pages at once, or the \
             coordinator cannot hand out work faster",
            s.idle * 100.0,
            r.workers
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Split;

    fn reading(cpu: f64, network: f64, parsing: f64, rate_limit: f64) -> Reading {
        Reading {
            cpu,
            cores: 2,
            split: Split {
                network,
                parsing,
                rate_limit,
                idle: 1.0 - network - parsing - rate_limit,
            },
            workers: 8,
            mean_fetch_ms: 20.0,
        }
    }

    #[test]
    fn busy_cores_mean_cpu_whatever_the_split() {
        assert_eq!(judge(&reading(0.9, 0.8, 0.1, 0.0)), Bottleneck::Cpu);
    }

    #[test]
    fn otherwise_the_largest_share_wins() {
        assert_eq!(judge(&reading(0.5, 0.05, 0.9, 0.0)), Bottleneck::Cpu);
        assert_eq!(judge(&reading(0.1, 0.9, 0.05, 0.0)), Bottleneck::Network);
        assert_eq!(judge(&reading(0.1, 0.1, 0.0, 0.8)), Bottleneck::RateLimit);
        assert_eq!(judge(&reading(0.1, 0.1, 0.0, 0.1)), Bottleneck::Starved);
    }

    #[test]
    fn sentences_carry_the_numbers() {
        let r = reading(0.23, 0.91, 0.02, 0.0);
        let text = explain(judge(&r), &r);
        assert!(
            text.starts_with("network-bound: workers waited on responses 91%"),
            "{text}"
        );
        assert!(
            text.contains("CPU 23% of 2 cores") && text.contains("400 pages/s"),
            "{text}"
        );
    }
}
