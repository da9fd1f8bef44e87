//! What a response says about fetching it again (`--cache`): its validators (`ETag`,
//! `Last-Modified`) and how long it stays fresh (`Cache-Control`, `Expires`, RFC 9111).
//!
//! Read by the worker off the response's headers, so the coordinator gets plain data back in
//! every mode. The rules are a private cache's, kept simple: `no-store` keeps nothing,
//! `no-cache` (or `max-age=0`) is asked about every time, `max-age` (less the `Age` the
//! response already had) or `Expires` (against the response's `Date`) says how long a later
//! crawl may skip the page, and a response that says none of these is asked about every time:
//! a crawler has no business guessing a freshness the server did not give.

use http::HeaderMap;
use http::header::{AGE, CACHE_CONTROL, DATE, ETAG, EXPIRES, LAST_MODIFIED};

use crate::task::{Revisit, Validators};

/// What `headers` (and a body whose digest is `digest`) say for a later crawl.
pub fn read(headers: &HeaderMap, digest: Option<u128>) -> Revisit {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let directives = cache_control(headers);
    let no_store = directives.iter().any(|(name, _)| name == "no-store");
    let validators = if no_store {
        Validators::default()
    } else {
        Validators {
            etag: text(ETAG),
            last_modified: text(LAST_MODIFIED),
        }
    };
    Revisit {
        validators,
        fresh_secs: if no_store {
            None
        } else {
            fresh_secs(headers, &directives)
        },
        no_store,
        digest: digest.map(|d| format!("{d:032x}")),
        archived_as: None,
    }
}

/// The `Cache-Control` directives, lower-cased, each with its value if it has one.
fn cache_control(headers: &HeaderMap) -> Vec<(String, Option<String>)> {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|d| {
            let d = d.trim();
            if d.is_empty() {
                return None;
            }
            Some(match d.split_once('=') {
                Some((name, value)) => (
                    name.trim().to_ascii_lowercase(),
                    Some(value.trim().trim_matches('"').to_owned()),
                ),
                None => (d.to_ascii_lowercase(), None),
            })
        })
        .collect()
}

/// How many seconds from now the response stays fresh, if it says: `max-age` less its `Age`,
/// else `Expires` less `Date`; 0 for `no-cache`, a bad `max-age` or a bad or past `Expires`.
fn fresh_secs(headers: &HeaderMap, directives: &[(String, Option<String>)]) -> Option<u64> {
    if directives.iter().any(|(name, _)| name == "no-cache") {
        return Some(0);
    }
    let age = headers
        .get(AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if let Some((_, value)) = directives.iter().find(|(name, _)| name == "max-age") {
        let max_age = value.as_deref().and_then(|v| v.parse::<u64>().ok());
        return Some(max_age.map_or(0, |m| m.saturating_sub(age)));
    }
    let date = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
    };
    if headers.contains_key(EXPIRES) {
        // An Expires that does not parse means already expired (RFC 9111, 5.3).
        let Some(expires) = date(EXPIRES) else {
            return Some(0);
        };
        let now = date(DATE).unwrap_or_else(std::time::SystemTime::now);
        let left = expires.duration_since(now).map_or(0, |d| d.as_secs());
        return Some(left.saturating_sub(age));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("a header value"));
        }
        map
    }

    #[test]
    fn validators_and_max_age() {
        let r = read(
            &headers(&[
                ("etag", "\"v1\""),
                ("last-modified", "Thu, 01 Jan 2026 00:00:00 GMT"),
                ("cache-control", "public, max-age=3600"),
                ("age", "600"),
            ]),
            Some(0xab),
        );
        assert_eq!(r.validators.etag.as_deref(), Some("\"v1\""));
        assert_eq!(
            r.validators.last_modified.as_deref(),
            Some("Thu, 01 Jan 2026 00:00:00 GMT")
        );
        assert_eq!(r.fresh_secs, Some(3000));
        assert_eq!(
            r.digest.as_deref(),
            Some("000000000000000000000000000000ab")
        );
        assert!(!r.no_store);
    }

    #[test]
    fn expires_against_date() {
        let r = read(
            &headers(&[
                ("date", "Thu, 01 Jan 2026 00:00:00 GMT"),
                ("expires", "Thu, 01 Jan 2026 01:00:00 GMT"),
            ]),
            None,
        );
        assert_eq!(r.fresh_secs, Some(3600));
        let bad = read(&headers(&[("expires", "0")]), None);
        assert_eq!(bad.fresh_secs, Some(0));
    }

    #[test]
    fn max_age_wins_over_expires_and_no_cache_over_both() {
        let r = read(
            &headers(&[
                ("cache-control", "max-age=60"),
                ("date", "Thu, 01 Jan 2026 00:00:00 GMT"),
                ("expires", "Thu, 01 Jan 2026 01:00:00 GMT"),
            ]),
            None,
        );
        assert_eq!(r.fresh_secs, Some(60));
        let r = read(&headers(&[("cache-control", "max-age=60, no-cache")]), None);
        assert_eq!(r.fresh_secs, Some(0));
        let r = read(&headers(&[("cache-control", "max-age=soon")]), None);
        assert_eq!(r.fresh_secs, Some(0));
    }

    #[test]
    fn no_store_keeps_nothing_and_silence_is_not_freshness() {
        let r = read(
            &headers(&[("cache-control", "no-store"), ("etag", "\"x\"")]),
            None,
        );
        assert!(r.no_store);
        assert!(r.validators.is_empty());
        assert_eq!(r.fresh_secs, None);
        let r = read(&headers(&[("etag", "\"x\"")]), None);
        assert_eq!(r.fresh_secs, None);
    }
}
