//! Reading the seed list: one URL a line, blank lines and `#` comments ignored.
//!
//! The whole list is validated before anything is fetched, and the first bad line stops the run
//! with its line number, so a typo on line 9,000 is not discovered an hour into a crawl.

use std::io::{self, BufRead};
use std::path::Path;

use url::Url;

use crate::normalize::{is_http, normalize};

/// Why the seed list could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be opened, or the file or standard input could not be read.
    #[error("cannot read {name}: {source}")]
    Read {
        /// The file's path as given, or "standard input".
        name: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// A line is not an http(s) URL with a host, or not UTF-8.
    #[error("{name}, line {line}: {reason}: {text:?}")]
    BadLine {
        /// The file's path as given, or "standard input".
        name: String,
        /// The line's number, counted from 1 (blank and comment lines included).
        line: usize,
        /// The line, trimmed (one that is not UTF-8: as read, with U+FFFD for bad bytes).
        text: String,
        /// What is wrong with it ("not a URL (...)", "URL has no host", ...).
        reason: String,
    },
    /// No line holds a URL.
    #[error("{name}: no seed URLs (blank lines and # comments are ignored)")]
    Empty {
        /// The file's path as given, or "standard input".
        name: String,
    },
}

/// Reads seeds from `path`, or from standard input when `path` is `None` or `-`.
pub fn read_seeds(path: Option<&Path>) -> Result<Vec<Url>, SeedError> {
    match path {
        None => read_from(io::stdin().lock(), "standard input"),
        Some(p) if p == Path::new("-") => read_from(io::stdin().lock(), "standard input"),
        Some(p) => {
            let name = p.display().to_string();
            let file = std::fs::File::open(p).map_err(|source| SeedError::Read {
                name: name.clone(),
                source,
            })?;
            read_from(io::BufReader::new(file), &name)
        }
    }
}

/// Reads seeds from any reader; `name` is how error messages refer to it.
pub fn read_from(mut reader: impl BufRead, name: &str) -> Result<Vec<Url>, SeedError> {
    let mut seeds = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| SeedError::Read {
                name: name.to_owned(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line += 1;
        let bad = |text: &str, reason: &str| SeedError::BadLine {
            name: name.to_owned(),
            line,
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(&buf)
            .map_err(|_| bad(&String::from_utf8_lossy(&buf), "not valid UTF-8"))?;
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        seeds.push(parse_seed(text).map_err(|reason| bad(text, &reason))?);
    }
    if seeds.is_empty() {
        return Err(SeedError::Empty {
            name: name.to_owned(),
        });
    }
    Ok(seeds)
}

/// Parses one seed URL, accepting only absolute http(s) URLs with a host.
///
/// Whitespace or control characters inside the URL are refused rather than cleaned up the way
/// the URL standard does (tabs and line breaks silently removed, spaces encoded): on a seed
/// line they mean two URLs on one line, a comment after the URL, or a file with old Mac (CR)
/// line endings, and "cleaning" them would crawl a URL nobody wrote.
pub fn parse_seed(text: &str) -> Result<Url, String> {
    if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{c:?} inside the URL (one URL a line; write a space as %20)"
        ));
    }
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    if !is_http(&url) {
        return Err(format!(
            "scheme {:?} is not supported (only http and https)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("URL has no host".to_owned());
    }
    Ok(normalize(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Vec<Url>, SeedError> {
        read_from(s.as_bytes(), "urls.txt")
    }

    #[test]
    fn comments_blanks_and_whitespace_are_skipped() {
        let seeds = read("# seeds\n\n  http://a.test/x  \r\nhttps://B.test#frag\n").expect("ok");
        let got: Vec<&str> = seeds.iter().map(Url::as_str).collect();
        assert_eq!(got, ["http://a.test/x", "https://b.test/"]);
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        let err = read("http://a.test/\n# c\nnot a url\n").expect_err("bad");
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("not a url"), "{msg}");

        let err = read("http://a.test/\nftp://a.test/file\n").expect_err("bad scheme");
        let msg = err.to_string();
        assert!(msg.contains("line 2") && msg.contains("ftp"), "{msg}");
    }

    #[test]
    fn whitespace_inside_a_url_is_refused_not_cleaned() {
        for (input, line) in [
            ("http://a.test/ http://b.test/\n", 1),
            ("http://a.test/\nhttp://b.test/x\ty\n", 2),
            // Old Mac line endings: the whole file is one line.
            ("http://a.test/\rhttp://b.test/\r", 1),
        ] {
            let err = read(input).expect_err("refused").to_string();
            assert!(err.contains(&format!("line {line}:")), "{err}");
            assert!(err.contains("inside the URL"), "{err}");
        }
        assert!(read("  http://a.test/x%20y \t\r\n").is_ok());
    }

    #[test]
    fn empty_list_is_an_error() {
        assert!(matches!(
            read("# nothing\n\n"),
            Err(SeedError::Empty { .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_reported_not_panicked() {
        let err = read_from(&b"http://a.test/\n\xff\xfe\n"[..], "f").expect_err("bad");
        assert!(err.to_string().contains("line 2"));
    }
}
