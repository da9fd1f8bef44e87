//! `--warc FILE.warc.gz` in every mode: every exchange that got a response is archived
//! (robots.txt, redirect hops, errors, retries), bodies as sent, cut at `--max-bytes`, a
//! resumed crawl appends after cutting a torn record, and files rotate at `--warc-max-size`.
//!
//! Each archive is read back twice, by readers that share nothing with the writer:
//! - warcio, the Webrecorder reference (`warcio check -v`: every digest; `warcio index`: every
//!   record's URL), installed by `.ci/deps` into `target/warcio-venv` (or named by
//!   `CRAWL_WARCIO`). Without it these tests fail, saying how to install it.
//! - a small reader here, on flate2 and sha1 directly: one gzip member per record, each
//!   digest, and each request and response naming each other in `WARC-Concurrent-To`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// Pages of the generated site the longer crawls here fetch.
const PAGES: usize = 300;

/// The command that installs warcio where these tests look for it (what `.ci/deps` runs).
const INSTALL: &str = "python3 -m venv target/warcio-venv && \
                       target/warcio-venv/bin/pip install -q warcio==1.7.5";

/// The warcio executable: `CRAWL_WARCIO`, else the venv `.ci/deps` makes.
fn warcio() -> PathBuf {
    let path = std::env::var_os("CRAWL_WARCIO").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/warcio-venv/bin/warcio"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "warcio not found at {}: these tests read archives back with it. Install it from the \
         repository's root with:\n    {INSTALL}\n(or set CRAWL_WARCIO to a warcio executable)",
        path.display()
    );
    path
}

/// One record as `warcio index` lists it.
#[derive(Debug, Clone, serde::Deserialize)]
struct Indexed {
    #[serde(rename = "warc-type")]
    kind: String,
    #[serde(rename = "warc-target-uri", default)]
    url: Option<String>,
    #[serde(rename = "http:status", default)]
    status: Option<String>,
}

/// Runs `warcio check -v` on `path` (every digest must pass) and returns `warcio index`.
fn warcio_read(path: &Path) -> Vec<Indexed> {
    let warcio = warcio();
    let check = Command::new(&warcio)
        .args(["check", "-v"])
        .arg(path)
        .output()
        .expect("warcio runs");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "warcio check failed on {}:\n{report}\n{}",
        path.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    let records = report.matches("WARC-Record-ID").count();
    assert_eq!(
        report.matches("digest pass").count(),
        records,
        "every record's digests must be checked and pass:\n{report}"
    );
    let index = Command::new(&warcio)
        .args(["index", "-f", "warc-type,warc-target-uri,http:status"])
        .arg(path)
        .output()
        .expect("warcio runs");
    assert!(index.status.success(), "warcio index failed");
    let listed: Vec<Indexed> = String::from_utf8(index.stdout)
        .expect("UTF-8 index")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("index line {l:?}: {e}")))
        .collect();
    assert_eq!(listed.len(), records);
    listed
}

/// One record as the reader here sees it.
#[derive(Debug)]
struct Raw {
    fields: BTreeMap<String, String>,
    block: Vec<u8>,
}

impl Raw {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// A response's HTTP head and body.
    fn http(&self) -> (String, &[u8]) {
        let end = find(&self.block, b"\r\n\r\n").expect("an HTTP head") + 4;
        let head = String::from_utf8(self.block[..end].to_vec()).expect("UTF-8 head");
        (head, &self.block[end..])
    }
}

fn find(data: &[u8], what: &[u8]) -> Option<usize> {
    data.windows(what.len()).position(|w| w == what)
}

fn sha1_base32(data: &[u8]) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(data);
    format!(
        "sha1:{}",
        data_encoding::BASE32.encode(&sha.digest().bytes())
    )
}

/// Reads `path` member by member: each member must be exactly one whole record whose block
/// digest (and payload digest, for a response) is right; requests and responses must name
/// each other.
fn read_back(path: &Path) -> Vec<Raw> {
    let data = std::fs::read(path).expect("archive exists");
    let mut rest = &data[..];
    let mut records = Vec::new();
    while !rest.is_empty() {
        let mut gz = flate2::bufread::GzDecoder::new(rest);
        let mut member = Vec::new();
        gz.read_to_end(&mut member).expect("a whole gzip member");
        rest = gz.into_inner();
        let end = find(&member, b"\r\n\r\n").expect("a WARC header") + 4;
        let head = std::str::from_utf8(&member[..end]).expect("UTF-8 header");
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("WARC/1.1"));
        let fields: BTreeMap<String, String> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (name, value) = l.split_once(':').expect("name: value");
                (name.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        let length: usize = fields["content-length"].parse().expect("length");
        assert_eq!(member.len(), end + length + 4, "one record per member");
        assert!(member.ends_with(b"\r\n\r\n"));
        let record = Raw {
            fields,
            block: member[end..end + length].to_vec(),
        };
        assert_eq!(
            record.field("WARC-Block-Digest"),
            Some(sha1_base32(&record.block).as_str())
        );
        if record.field("WARC-Type") == Some("response") {
            let (_, body) = record.http();
            assert_eq!(
                record.field("WARC-Payload-Digest"),
                Some(sha1_base32(body).as_str())
            );
        }
        records.push(record);
    }
    let ids: BTreeMap<&str, &Raw> = records
        .iter()
        .map(|r| (r.field("WARC-Record-ID").expect("an id"), r))
        .collect();
    assert_eq!(ids.len(), records.len(), "record ids are unique");
    for record in &records {
        if let Some(other) = record.field("WARC-Concurrent-To") {
            let other = ids[other];
            assert_eq!(
                other.field("WARC-Concurrent-To"),
                record.field("WARC-Record-ID")
            );
            assert_eq!(
                other.field("WARC-Target-URI"),
                record.field("WARC-Target-URI")
            );
        }
    }
    records
}

/// Response records per URL path, as warcio lists them.
fn responses_by_path(listed: &[Indexed]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in listed.iter().filter(|r| r.kind == "response") {
        let url = url::Url::parse(r.url.as_deref().expect("a target")).expect("a URL");
        map.entry(url.path().to_owned())
            .or_default()
            .push(r.status.clone().unwrap_or_default());
    }
    map
}

/// A fresh directory for a test's archive, and the archive's path in it, `FILE.warc.gz`.
fn archive(name: &str, file: &str, mode: &str) -> (PathBuf, PathBuf) {
    let dir = fresh_temp("warc", name, mode);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let warc = dir.join(format!("{file}.warc.gz"));
    (dir, warc)
}

every_mode! {
    fn every_exchange_with_a_response_is_archived(mode) {
        let s = server();
        let (dir, warc) = archive("all", "crawl", mode);
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/")])
            .args(["-d", "1", "--warc", warc.to_str().expect("path")])
            .run();
        run.assert_ok();
        let listed = warcio_read(&warc);
        let raw = read_back(&warc);
        assert_eq!(listed.len(), raw.len());
        assert_eq!(listed[0].kind, "warcinfo");
        let requests = listed.iter().filter(|r| r.kind == "request").count();
        let responses = responses_by_path(&listed);
        // Every request the server answered is in the archive, once per time it was asked:
        // robots.txt, both hops of the redirect, the 404, the 500 and each of its retries.
        let hits = s.hit_counts();
        let archived: BTreeMap<String, u64> =
            responses.iter().map(|(p, s)| (p.clone(), s.len() as u64)).collect();
        assert_eq!(archived, hits);
        assert_eq!(requests as u64, s.total_hits());
        assert_eq!(responses["/robots.txt"], ["200"]);
        assert_eq!(responses["/old-page"], ["301"]);
        assert_eq!(responses["/missing.html"], ["404"]);
        assert_eq!(responses["/error/500"], ["500", "500", "500"]);
        assert_eq!(run.get(&s.url("/error/500")).attempts, 3);
        assert_eq!(responses["/flaky"], ["503", "503", "200"]);
        // Every record with a status has its response archived.
        for record in &run.records {
            if record.status.is_some() {
                let path = url::Url::parse(&record.url).expect("URL").path().to_owned();
                assert!(responses.contains_key(&path), "{} not archived", record.url);
            }
        }
        // The response block is the response as received.
        let about = raw
            .iter()
            .find(|r| {
                r.field("WARC-Type") == Some("response")
                    && r.field("WARC-Target-URI") == Some(s.url("/about.html").as_str())
            })
            .expect("about.html archived");
        let (head, body) = about.http();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(
            body,
            &std::fs::read(Options::default().root.join("about.html")).expect("page")[..],
        );
        assert_eq!(about.field("WARC-IP-Address"), Some("127.0.0.1"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn compressed_bodies_are_archived_as_sent_and_parsed_decoded(mode) {
        let s = server();
        let (dir, warc) = archive("encoded", "encoded", mode);
        let encodings = ["gzip", "deflate", "br"];
        let seeds: Vec<String> = encodings.iter().map(|e| s.url(&format!("/encoded/{e}"))).collect();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&seeds)
            .args(["--warc", warc.to_str().expect("path")])
            .run();
        run.assert_ok();
        let raw = read_back(&warc);
        warcio_read(&warc);
        for encoding in encodings {
            let url = s.url(&format!("/encoded/{encoding}"));
            // The parser saw the page decoded.
            let record = run.get(&url);
            assert_eq!(record.title.as_deref(), Some(format!("Encoded {encoding}").as_str()));
            assert_eq!(record.links, 1);
            let page = crawl_fixture::encoded_page(encoding);
            assert_eq!(record.bytes, page.len() as u64);
            // The archive kept it as sent.
            let response = raw
                .iter()
                .find(|r| r.field("WARC-Type") == Some("response")
                    && r.field("WARC-Target-URI") == Some(url.as_str()))
                .expect("archived");
            let (head, body) = response.http();
            assert!(head.contains(&format!("content-encoding: {encoding}\r\n")), "{head}");
            assert_ne!(body, page.as_bytes());
            let mut plain = Vec::new();
            match encoding {
                "gzip" => flate2::read::GzDecoder::new(body).read_to_end(&mut plain),
                "deflate" => flate2::read::ZlibDecoder::new(body).read_to_end(&mut plain),
                _ => brotli_decompressor::Decompressor::new(body, 4096).read_to_end(&mut plain),
            }
            .expect("the stored body decodes");
            assert_eq!(plain, page.as_bytes());
            let request = raw
                .iter()
                .find(|r| r.field("WARC-Type") == Some("request")
                    && r.field("WARC-Target-URI") == Some(url.as_str()))
                .expect("request archived");
            let sent = String::from_utf8_lossy(&request.block);
            assert!(sent.starts_with(&format!("GET /encoded/{encoding} HTTP/1.1\r\n")), "{sent}");
            assert!(sent.contains("accept-encoding: gzip,deflate,br\r\n"), "{sent}");
            assert!(sent.contains(&format!("host: 127.0.0.1:{}\r\n", s.port())), "{sent}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn compression_bombs_stay_bounded_when_bodies_are_archived_raw(mode) {
        const MAX: u64 = 1024 * 1024;
        let h = crawl_fixture::HostileServer::start().expect("hostile server starts");
        let (dir, warc) = archive("bombs", "bombs", mode);
        let paths = ["/gzip-bomb", "/br-bomb", "/bad-gzip"];
        let seeds: Vec<String> = paths.iter().map(|p| h.url(p)).collect();
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&seeds)
            .args(["--max-bytes", &MAX.to_string(), "--retries", "0", "--ignore-robots",
              "--warc", warc.to_str().expect("path")])
            .run();
        run.assert_ok();
        warcio_read(&warc);
        let raw = read_back(&warc);
        let titles = [
            crawl_fixture::hostile::titles::GZIP_BOMB,
            crawl_fixture::hostile::titles::BR_BOMB,
        ];
        for (path, title) in paths.iter().zip(titles) {
            // The parser saw the inflated page, cut at --max-bytes, as without an archive.
            let r = run.get(&h.url(path));
            assert_eq!((r.bytes, r.truncated), (MAX, true), "{path}");
            assert_eq!(r.title.as_deref(), Some(title), "{path}");
            // The archive holds the compressed bytes read until then: a small part of them.
            let response = raw
                .iter()
                .find(|x| x.field("WARC-Type") == Some("response")
                    && x.field("WARC-Target-URI") == Some(h.url(path).as_str()))
                .expect("archived");
            assert_eq!(response.field("WARC-Truncated"), Some("length"), "{path}");
            let stored = response.http().1.len() as u64;
            assert!(stored > 0 && stored < MAX, "{path}: {stored} bytes stored");
        }
        // A body that is not the gzip it claims fails as it does without an archive, and the
        // response, which arrived, is archived as sent.
        let bad = run.get(&h.url("/bad-gzip"));
        assert!(
            bad.error.as_deref().is_some_and(|e| e.starts_with("bad response: ")),
            "{bad:?}"
        );
        let response = raw
            .iter()
            .find(|x| x.field("WARC-Type") == Some("response")
                && x.field("WARC-Target-URI") == Some(h.url("/bad-gzip").as_str()))
            .expect("/bad-gzip archived");
        let (head, body) = response.http();
        assert!(head.contains("content-encoding: gzip\r\n"), "{head}");
        assert!(String::from_utf8_lossy(body).contains("<title>Not gzip</title>"));
        assert_eq!(response.field("WARC-Truncated"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn junk_after_a_gzip_stream_is_archived_only_up_to_max_bytes(mode) {
        const MAX: usize = 64 * 1024;
        let h = crawl_fixture::HostileServer::start().expect("hostile server starts");
        let (dir, warc) = archive("junk", "junk", mode);
        let url = h.url("/gzip-junk");
        // The junk never ends: before the raw copy had a cap of its own, only the timeout
        // ended this fetch.
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(std::slice::from_ref(&url))
            .args(["--max-bytes", &MAX.to_string(), "--retries", "0", "--ignore-robots",
              "--timeout", "30", "--warc", warc.to_str().expect("path")])
            .run();
        run.assert_ok();
        // The page is the gzip member, whole, as reqwest reads it without an archive.
        let r = run.get(&url);
        assert_eq!(r.error, None, "{r:?}");
        assert_eq!(r.title.as_deref(), Some(crawl_fixture::hostile::titles::GZIP_JUNK));
        assert!(!r.truncated, "{r:?}");
        warcio_read(&warc);
        let raw = read_back(&warc);
        let response = raw
            .iter()
            .find(|x| x.field("WARC-Type") == Some("response")
                && x.field("WARC-Target-URI") == Some(url.as_str()))
            .expect("archived");
        // The archive holds the body as sent, cut at --max-bytes.
        assert_eq!(response.field("WARC-Truncated"), Some("length"));
        let body = response.http().1;
        assert_eq!(body.len(), MAX);
        assert!(find(body, b"junk after the gzip member").is_some());
        let mut page = String::new();
        flate2::read::GzDecoder::new(body).read_to_string(&mut page).expect("a gzip member");
        assert!(page.contains("<title>Gzip junk</title>"), "{page}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn a_page_of_gzip_members_parses_the_same_with_an_archive(mode) {
        let h = crawl_fixture::HostileServer::start().expect("hostile server starts");
        let (dir, warc) = archive("members", "members", mode);
        let url = h.url("/gzip-members");
        let args = ["--ignore-robots", "--retries", "0"];
        let plain = CrawlCmd::new().mode(mode).seeds(std::slice::from_ref(&url)).args(args).run();
        plain.assert_ok();
        let mut with_warc = args.to_vec();
        with_warc.extend(["--warc", warc.to_str().expect("path")]);
        let archived = CrawlCmd::new()
            .mode(mode)
            .seeds(std::slice::from_ref(&url))
            .args(&with_warc)
            .run();
        archived.assert_ok();
        // reqwest reads the first member only; with an archive the crawl reads the same page.
        let first = crawl_fixture::hostile::gzip_members_first();
        for r in [plain.get(&url), archived.get(&url)] {
            assert_eq!(r.error, None, "{r:?}");
            assert_eq!(r.title.as_deref(), Some(crawl_fixture::hostile::titles::GZIP_MEMBERS));
            assert_eq!((r.bytes, r.links, r.truncated), (first.len() as u64, 1, false), "{r:?}");
        }
        // And the archive holds the body as sent: both members.
        let raw = read_back(&warc);
        let response = raw
            .iter()
            .find(|x| x.field("WARC-Type") == Some("response")
                && x.field("WARC-Target-URI") == Some(url.as_str()))
            .expect("archived");
        assert_eq!(response.http().1, &crawl_fixture::hostile::gzip_members()[..]);
        assert_eq!(response.field("WARC-Truncated"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn max_bytes_cuts_the_archived_body_and_says_so(mode) {
        let s = server();
        let (dir, warc) = archive("cut", "cut", mode);
        let big = s.url("/big?kb=256");
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[big.clone(), s.url("/about.html")])
            .args(["--max-bytes", "5000", "--warc", warc.to_str().expect("path")])
            .run();
        run.assert_ok();
        assert!(run.get(&big).truncated);
        warcio_read(&warc);
        let raw = read_back(&warc);
        let response = |url: &str| {
            raw.iter()
                .find(|r| r.field("WARC-Type") == Some("response")
                    && r.field("WARC-Target-URI") == Some(url))
                .expect("archived")
        };
        let cut = response(&big);
        assert_eq!(cut.field("WARC-Truncated"), Some("length"));
        assert_eq!(cut.http().1.len(), 5000);
        let whole = response(&s.url("/about.html"));
        assert_eq!(whole.field("WARC-Truncated"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn a_resumed_crawl_appends_after_cutting_a_torn_record(mode) {
        // Slow enough pages that the kill below lands mid-crawl.
        let s = server_with(Options {
            pages: PAGES,
            latency: std::time::Duration::from_millis(20),
            ..Options::default()
        });
        let (dir, warc) = archive("resume", "resume", mode);
        let state = dir.join("state");
        let out = dir.join("records.jsonl");
        let args = [
            "-d", "100", "--ignore-robots", "-j", "4",
            "--warc", warc.to_str().expect("path"),
            "--state", state.to_str().expect("path"),
            "-o", out.to_str().expect("path"),
        ];
        let seeds = format!("{}\n", s.url("/gen/0"));
        // The first run is killed once it has written some records.
        let mut child = CrawlCmd::new().mode(mode).args(args).stdin(&seeds).spawn();
        let started = std::time::Instant::now();
        while records_in(&out).len() < 40 {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "no progress");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill");
        let status = child.wait().expect("exits");
        // Killed mid-crawl, not finished before the kill.
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{status:?}");
        assert!(records_in(&out).len() < PAGES);
        // As if it died in the middle of writing a record: half a gzip member at the end.
        let before = std::fs::metadata(&warc).expect("archive").len();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(
            &mut gz,
            format!("WARC/1.1\r\nWARC-Type: response\r\nContent-Length: 9999\r\n\r\n{}", "x".repeat(4000)).as_bytes(),
        )
        .expect("gzip");
        let torn = gz.finish().expect("gzip");
        let mut file = std::fs::OpenOptions::new().append(true).open(&warc).expect("open");
        std::io::Write::write_all(&mut file, &torn[..torn.len() / 2]).expect("append");
        drop(file);
        // The resume finishes the crawl, appending to the archive.
        let resumed = CrawlCmd::new().mode(mode).args(args).stdin(&seeds).run();
        resumed.assert_ok();
        let listed = warcio_read(&warc);
        read_back(&warc);
        assert!(std::fs::metadata(&warc).expect("archive").len() > before);
        assert_eq!(listed.iter().filter(|r| r.kind == "warcinfo").count(), 2);
        let responses = responses_by_path(&listed);
        let urls: std::collections::BTreeSet<String> =
            records_in(&out).into_iter().map(|r| r.url).collect();
        assert_eq!(urls.len(), PAGES);
        for url in &urls {
            let path = url::Url::parse(url).expect("URL").path().to_owned();
            assert!(responses.contains_key(&path), "{url} not archived");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn files_rotate_at_the_size_limit(mode) {
        let s = server_with(Options { pages: PAGES, ..Options::default() });
        let (dir, warc) = archive("rotate", "site", mode);
        let run = CrawlCmd::new()
            .mode(mode)
            .seeds(&[s.url("/gen/0")])
            .args(["-d", "100", "--ignore-robots", "--warc", warc.to_str().expect("path"), "--warc-max-size", "16K"])
            .run();
        run.assert_ok();
        let mut files = vec![warc.clone()];
        for n in 1.. {
            let next = dir.join(format!("site-{n:05}.warc.gz"));
            if !next.exists() {
                break;
            }
            files.push(next);
        }
        assert!(files.len() > 3, "{} files", files.len());
        let mut responses = 0;
        for file in &files {
            let listed = warcio_read(file);
            read_back(file);
            assert_eq!(listed[0].kind, "warcinfo", "{} starts with a warcinfo", file.display());
            assert_eq!(listed.iter().filter(|r| r.kind == "warcinfo").count(), 1);
            responses += listed.iter().filter(|r| r.kind == "response").count();
        }
        assert_eq!(responses as u64, s.total_hits());
        assert_eq!(run.records.len(), PAGES);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn archive_flags_are_checked_and_named() {
    for (args, says) in [
        (
            &["--warc", "out.warc"][..],
            "--warc: out.warc: name a .warc.gz file",
        ),
        (
            &["--warc", "a.warc.gz", "--warc-max-size", "0"][..],
            "--warc-max-size: must be at least 1 byte",
        ),
        (
            &["--warc", "a.warc.gz", "--warc-max-size", "1X"][..],
            "expected a size in bytes",
        ),
        (&["--warc-max-size", "1G"][..], "--warc"),
    ] {
        let run = CrawlCmd::new()
            .args(args)
            .stdin("http://127.0.0.1:9/\n")
            .run();
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

every_mode! {
    fn a_recrawl_archives_what_did_not_change_as_revisit_records(mode) {
        let s = server_with(Options { pages: 60, ..Options::default() });
        let (dir, first) = archive("recrawl", "first", mode);
        let second = dir.join("second.warc.gz");
        let cache = dir.join("cache");
        let crawl = |warc: &Path| {
            CrawlCmd::new()
                .mode(mode)
                .seeds(&[s.url("/gen/0")])
                .args(["-d", "inf", "--ignore-robots", "-o", "/dev/null", "--cache"])
                .arg(&cache)
                .arg("--warc")
                .arg(warc)
                .run()
        };
        crawl(&first).assert_ok();
        let revised = s.revise(&crawl_fixture::Revision {
            changed: 0.1,
            touched: 3,
            seed: 5,
            ..crawl_fixture::Revision::default()
        });
        crawl(&second).assert_ok();

        // warcio reads it whole: every digest it can check passes, and it lists the
        // revisits as such.
        let check = Command::new(warcio()).args(["check", "-v"]).arg(&second).output()
            .expect("warcio runs");
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(check.status.success(), "warcio check failed:\n{report}");
        let records = report.matches("WARC-Record-ID").count();
        assert_eq!(report.matches("digest pass").count()
                   + report.matches("digest present but not checked (revisit)").count(),
                   records, "{report}");
        let index = Command::new(warcio())
            .args(["index", "-f", "warc-type,warc-profile,warc-target-uri"])
            .arg(&second)
            .output()
            .expect("warcio runs");
        let index = String::from_utf8_lossy(&index.stdout);
        assert_eq!(index.matches("\"warc-type\": \"revisit\"").count(), 60 - revised.changed.len(),
                   "{index}");

        let earlier: BTreeMap<String, Raw> = read_back(&first)
            .into_iter()
            .filter(|r| r.field("WARC-Type") == Some("response"))
            .map(|r| (r.field("WARC-Record-ID").unwrap_or("").to_owned(), r))
            .collect();
        let path = |r: &Raw| {
            url::Url::parse(r.field("WARC-Target-URI").expect("a target")).expect("URL")
                .path().to_owned()
        };
        let mut by_profile: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in read_back(&second).iter().filter(|r| r.field("WARC-Type") != Some("request")) {
            if r.field("WARC-Type") == Some("warcinfo") {
                continue;
            }
            let kind = match r.field("WARC-Type") {
                Some("revisit") => {
                    let (head, body) = r.http();
                    assert!(body.is_empty(), "a revisit's block is the head alone");
                    let to = &earlier[r.field("WARC-Refers-To").expect("refers to")];
                    assert_eq!(to.field("WARC-Target-URI"), r.field("WARC-Refers-To-Target-URI"));
                    assert_eq!(to.field("WARC-Date"), r.field("WARC-Refers-To-Date"));
                    assert_eq!(to.field("WARC-Target-URI"), r.field("WARC-Target-URI"));
                    let profile = r.field("WARC-Profile").expect("a profile");
                    if profile.ends_with("/identical-payload-digest") {
                        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                        assert_eq!(to.field("WARC-Payload-Digest"), r.field("WARC-Payload-Digest"));
                    } else {
                        assert!(head.starts_with("HTTP/1.1 304"), "{head}");
                    }
                    profile.rsplit('/').next().unwrap_or("").to_owned()
                }
                other => other.unwrap_or("").to_owned(),
            };
            by_profile.entry(kind).or_default().insert(path(r));
        }
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
        assert_eq!(by_profile.get("response").cloned().unwrap_or_default(), set(&revised.changed));
        assert_eq!(by_profile.get("identical-payload-digest").cloned().unwrap_or_default(),
                   set(&revised.touched));
        assert_eq!(by_profile.get("server-not-modified").map(BTreeSet::len),
                   Some(60 - revised.changed.len() - revised.touched.len()));
    }
}
