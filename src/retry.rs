//! Which failures are worth another attempt, and how long to wait before it.
//!
//! Retried: connect errors, timeouts (also while reading the body), a body cut off by the
//! peer, HTTP 429 and 5xx. Not retried: other statuses, refused redirects, bad responses that
//! would fail the same way again. The delay doubles from [`BASE`] with "equal jitter" (half
//! fixed, half random) so workers that failed together do not come back together; a server's
//! `Retry-After` replaces it, capped at [`MAX_RETRY_AFTER`].

use std::time::Duration;

/// First backoff delay before jitter.
pub const BASE: Duration = Duration::from_millis(250);
/// Longest backoff we compute ourselves.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest `Retry-After` we honour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Whether an HTTP status is worth retrying.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// The delay before attempt number `attempt + 1`, after `attempt` failed attempts (1-based).
///
/// `entropy` is any varying number (the caller mixes in the URL and the clock); it picks the
/// jitter without needing a random-number crate.
pub fn backoff(attempt: u32, retry_after: Option<Duration>, entropy: u64) -> Duration {
    if let Some(after) = retry_after {
        return after.min(MAX_RETRY_AFTER);
    }
    let exp = BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let full = exp.min(MAX_BACKOFF);
    let jitter = (entropy % 1024) as f64 / 1024.0;
    full.mul_f64(0.5 + 0.5 * jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert!(retryable_status(429));
        assert!(retryable_status(500));
        assert!(retryable_status(503));
        assert!(!retryable_status(404));
        assert!(!retryable_status(200));
        assert!(!retryable_status(301));
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        for attempt in 1..6 {
            let lo = BASE * (1 << (attempt - 1)) / 2;
            let hi = BASE * (1 << (attempt - 1));
            for e in [0, 511, 1023] {
                let d = backoff(attempt, None, e);
                assert!(d >= lo && d <= hi, "attempt {attempt}: {d:?}");
            }
        }
        assert!(backoff(40, None, 1023) <= MAX_BACKOFF);
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        assert_eq!(
            backoff(1, Some(Duration::from_secs(3)), 0),
            Duration::from_secs(3)
        );
        assert_eq!(
            backoff(1, Some(Duration::from_secs(3600)), 0),
            MAX_RETRY_AFTER
        );
    }
}
