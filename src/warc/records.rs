//! The archive's records: each [`Capture`] packed as its `request` and `response` records
//! (one gzip member each, with their sha1 base32 digests, record IDs and dates), and the
//! `warcinfo` record that opens each file.
//!
//! Each capture becomes a `request` record and a `response` record that name each other in
//! `WARC-Concurrent-To`, as wget writes them.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use crate::task::{Archived, Capture, CaptureRef};

/// The version every record declares.
const VERSION: &str = "WARC/1.1";

/// `sha1:` and the base32 of the SHA-1 of `data`, as Heritrix, wget and warcio write digests.
pub fn sha1_base32(data: &[&[u8]]) -> String {
    let mut sha = sha1_smol::Sha1::new();
    for part in data {
        sha.update(part);
    }
    format!(
        "sha1:{}",
        data_encoding::BASE32.encode(&sha.digest().bytes())
    )
}

/// A fresh `WARC-Record-ID`.
fn record_id() -> String {
    format!("<urn:uuid:{}>", uuid::Uuid::new_v4())
}

/// `when` as a WARC-Date: UTC, to the second (`2026-12-02T04:53:41Z`).
pub fn warc_date(when: SystemTime) -> String {
    let secs = when.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`);
/// a dependency for one date format would cost more than these lines.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// One WARC record: its named fields (besides the ones every record has) and its block.
struct Record<'a> {
    kind: &'static str,
    id: String,
    date: String,
    fields: Vec<(&'static str, String)>,
    content_type: &'static str,
    /// The block, in parts (a response's head, then its body), so a body is never copied to
    /// join them: the parts go to the compressor as they are (see [`Record::write`]).
    block: Vec<&'a [u8]>,
}

impl Record<'_> {
    /// Hands the record's bytes, in parts, to `to`: its header, its block, and the two CRLFs
    /// that end a record.
    fn write<R>(&self, to: impl FnOnce(&[&[u8]]) -> R) -> R {
        let header = self.header();
        let mut parts = Vec::with_capacity(self.block.len() + 2);
        parts.push(header.as_bytes());
        parts.extend(self.block.iter().copied());
        parts.push(b"\r\n\r\n");
        to(&parts)
    }

    /// The record's header, through the blank line that ends it.
    fn header(&self) -> String {
        let len: usize = self.block.iter().map(|p| p.len()).sum();
        let mut head = String::with_capacity(512);
        head.push_str(VERSION);
        head.push_str("\r\n");
        let _ = write!(head, "WARC-Type: {}\r\n", self.kind);
        let _ = write!(head, "WARC-Record-ID: {}\r\n", self.id);
        let _ = write!(head, "WARC-Date: {}\r\n", self.date);
        for (name, value) in &self.fields {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let _ = write!(head, "WARC-Block-Digest: {}\r\n", sha1_base32(&self.block));
        let _ = write!(head, "Content-Type: {}\r\n", self.content_type);
        let _ = write!(head, "Content-Length: {len}\r\n\r\n");
        head
    }

    /// The record's bytes in one piece.
    #[cfg(test)]
    fn to_bytes(&self) -> Vec<u8> {
        self.write(|parts| parts.concat())
    }
}

/// The `warcinfo` record that opens a file named `filename`, as a gzip member; `fields` are
/// `name: value` lines describing the crawl.
pub fn warcinfo(filename: &str, fields: &str) -> io::Result<Vec<u8>> {
    let record = Record {
        kind: "warcinfo",
        id: record_id(),
        date: warc_date(SystemTime::now()),
        fields: vec![("WARC-Filename", filename.to_owned())],
        content_type: "application/warc-fields",
        block: vec![fields.as_bytes()],
    };
    GZIP.with_borrow_mut(|gzip| {
        let member = record.write(|parts| gzip.member(parts).map(<[u8]>::to_vec));
        gzip.release();
        member
    })
}

/// `capture`'s `request` and `response` (or `revisit`) records, each one gzip member, ready
/// for the writer, and where its payload is archived (see [`records`]).
pub fn pack(capture: &Capture, earlier: Option<&CaptureRef>) -> (Archived, Option<CaptureRef>) {
    let (records, archived_as) = records(capture, earlier);
    GZIP.with_borrow_mut(|gzip| {
        let mut out = Vec::with_capacity(capture.body.len() / 2 + 1024);
        for record in &records {
            // Compressing into memory fails only if the compressor's own state is broken:
            // then the records go stored uncompressed, still a valid gzip member each.
            record.write(|parts| match gzip.member(parts) {
                Ok(member) => out.extend_from_slice(member),
                Err(_) => out.extend_from_slice(&stored_member(&parts.concat())),
            });
        }
        gzip.release();
        (Archived(out), archived_as)
    })
}

thread_local! {
    /// Each thread's compressor, reused from record to record.
    static GZIP: RefCell<Gzip> = RefCell::new(Gzip::new());
}

/// gzip's fixed header (RFC 1952): deflate, no flags, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// `record` as a gzip member whose deflate blocks are stored, not compressed.
fn stored_member(record: &[u8]) -> Vec<u8> {
    let mut out = GZIP_HEADER.to_vec();
    let mut blocks = record.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let len = block.len() as u16;
        out.push(u8::from(blocks.peek().is_none()));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    gzip_trailer(&mut out, &[record]);
    out
}

/// CRC-32 and length modulo 2^32 of the record in `parts`, as gzip ends a member.
fn gzip_trailer(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let mut crc = Crc::new();
    for part in parts {
        crc.update(part);
    }
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
}

/// The `request` and `response` records of one capture, in that order, as bytes.
#[cfg(test)]
fn exchange(capture: &Capture) -> [Vec<u8>; 2] {
    records(capture, None).0.map(|record| record.to_bytes())
}

/// `revisit` records' profiles (WARC 1.1, section 6.7).
const NOT_MODIFIED: &str = "http://netpreserve.org/warc/1.1/revisit/server-not-modified";
const IDENTICAL: &str = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest";

/// The `request` and `response` records of one capture, in that order, and where its payload
/// is archived. With `earlier` (`--cache`: where an earlier crawl archived this URL), an
/// answer that is the same is a `revisit` record instead of a `response`, its block the
/// response's head alone, as Heritrix writes them: a `304` with the `server-not-modified`
/// profile, a 2xx whose payload digest is the earlier one's with `identical-payload-digest`,
/// each with `WARC-Refers-To`, `-Target-URI` and `-Date` naming the earlier capture. Its
/// payload is then still where `earlier` says; a `response`'s is in the record itself.
fn records<'c>(
    capture: &'c Capture,
    earlier: Option<&CaptureRef>,
) -> ([Record<'c>; 2], Option<CaptureRef>) {
    let date = warc_date(capture.date);
    let (request_id, response_id) = (record_id(), record_id());
    let target = capture.url.as_str().to_owned();
    let mut common = vec![("WARC-Target-URI", target)];
    if let Some(ip) = capture.ip {
        common.push(("WARC-IP-Address", ip.to_string()));
    }
    let mut request_fields = common.clone();
    request_fields.push(("WARC-Concurrent-To", response_id.clone()));
    let request = Record {
        kind: "request",
        id: request_id.clone(),
        date: date.clone(),
        fields: request_fields,
        content_type: "application/http;msgtype=request",
        block: vec![&capture.request],
    };
    let mut response_fields = common;
    response_fields.push(("WARC-Concurrent-To", request_id));
    let payload_digest = sha1_base32(&[&capture.body]);
    // Only with an earlier capture to refer to: a 304 that answered no question of the
    // crawl's is archived as the response it is.
    let revisit = match earlier {
        Some(_) if capture.status == 304 => Some(NOT_MODIFIED),
        Some(e)
            if (200..300).contains(&capture.status)
                && !capture.truncated
                && e.payload_digest == payload_digest =>
        {
            Some(IDENTICAL)
        }
        _ => None,
    };
    if let Some(profile) = revisit {
        response_fields.push(("WARC-Profile", profile.to_owned()));
        if profile == IDENTICAL {
            response_fields.push(("WARC-Payload-Digest", payload_digest.clone()));
        }
        if let Some(e) = earlier {
            response_fields.push(("WARC-Refers-To", e.id.clone()));
            response_fields.push(("WARC-Refers-To-Target-URI", e.target.clone()));
            response_fields.push(("WARC-Refers-To-Date", e.date.clone()));
        }
        let record = Record {
            kind: "revisit",
            id: response_id,
            date,
            fields: response_fields,
            content_type: "application/http;msgtype=response",
            block: vec![&capture.head],
        };
        return ([request, record], earlier.cloned());
    }
    response_fields.push(("WARC-Payload-Digest", payload_digest.clone()));
    if capture.truncated {
        response_fields.push(("WARC-Truncated", "length".to_owned()));
    }
    let archived_as = CaptureRef {
        id: response_id.clone(),
        date: date.clone(),
        target: capture.url.as_str().to_owned(),
        payload_digest,
    };
    let response = Record {
        kind: "response",
        id: response_id,
        date,
        fields: response_fields,
        content_type: "application/http;msgtype=response",
        block: vec![&capture.head, &capture.body],
    };
    ([request, response], Some(archived_as))
}

/// Makes gzip members with one deflate compressor, reset between them. A new `GzEncoder`
/// per record allocates and zeroes the compressor's tables (hundreds of kilobytes) every
/// time: that, not the compressing, made archiving the crawl's bottleneck.
struct Gzip {
    deflate: Compress,
    member: Vec<u8>,
}

impl Gzip {
    fn new() -> Self {
        Gzip {
            // Raw deflate: the gzip framing is written here.
            deflate: Compress::new(Compression::fast(), false),
            member: Vec::new(),
        }
    }

    /// The record in `parts` as one gzip member (borrowed until the next call); the parts
    /// are compressed where they are, not joined first.
    fn member(&mut self, parts: &[&[u8]]) -> io::Result<&[u8]> {
        self.deflate.reset();
        self.member.clear();
        self.member.extend_from_slice(&GZIP_HEADER);
        for part in parts {
            let start = self.deflate.total_in();
            loop {
                let read = usize::try_from(self.deflate.total_in() - start).unwrap_or(usize::MAX);
                let rest = part.get(read..).unwrap_or_default();
                if rest.is_empty() {
                    break;
                }
                self.member.reserve(rest.len() / 2 + 1024);
                self.deflate
                    .compress_vec(rest, &mut self.member, FlushCompress::None)
                    .map_err(io::Error::other)?;
            }
        }
        loop {
            self.member.reserve(32 * 1024);
            let status = self
                .deflate
                .compress_vec(&[], &mut self.member, FlushCompress::Finish)
                .map_err(io::Error::other)?;
            if status == Status::StreamEnd {
                break;
            }
        }
        gzip_trailer(&mut self.member, parts);
        Ok(&self.member)
    }

    /// Lets go of a big record's buffer once it is packed: kept, it would hold the largest
    /// record's size (up to `--max-bytes` and more) per worker thread for the whole crawl.
    fn release(&mut self) {
        if self.member.capacity() > KEEP_BUFFER {
            self.member = Vec::new();
        }
    }
}

/// The largest member buffer a thread keeps between records.
const KEEP_BUFFER: usize = 4 << 20;

/// Whether `data` is exactly one whole WARC record (what a resume keeps of a gzip member).
pub fn is_whole_record(data: &[u8]) -> bool {
    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let Ok(head) = std::str::from_utf8(&data[..end]) else {
        return false;
    };
    if !head.starts_with("WARC/") {
        return false;
    }
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    let Some(length) = length else {
        return false;
    };
    // The length comes from disk: a corrupt one must be a torn record, not an overflow.
    let block_end = (end + 4).checked_add(length);
    block_end.is_some_and(|block_end| {
        data.len().checked_sub(4) == Some(block_end) && data[block_end..] == *b"\r\n\r\n"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_to_the_second() {
        assert_eq!(warc_date(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let when = UNIX_EPOCH + Duration::from_secs(1_796_190_821);
        assert_eq!(warc_date(when), "2026-12-02T05:53:41Z");
        // A leap day.
        let when = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(warc_date(when), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn digests_are_sha1_in_base32() {
        // The digest of nothing, as every WARC tool writes it.
        assert_eq!(sha1_base32(&[]), "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ");
        assert_eq!(sha1_base32(&[b"ab", b"c"]), sha1_base32(&[b"abc"]));
    }

    #[test]
    fn packed_and_stored_members_inflate_to_the_records() {
        use std::io::Read;
        let inflate = |member: &[u8]| {
            let mut gz = flate2::bufread::GzDecoder::new(member);
            let mut out = Vec::new();
            gz.read_to_end(&mut out).expect("a gzip member");
            (out, gz.into_inner().len())
        };
        let big: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        for record in [&b""[..], b"WARC/1.1\r\n", &big] {
            assert_eq!(inflate(&stored_member(record)), (record.to_vec(), 0));
            let member = GZIP.with_borrow_mut(|g| g.member(&[record]).map(<[u8]>::to_vec));
            assert_eq!(inflate(&member.expect("compressed")), (record.to_vec(), 0));
            // In parts, some empty, it is the same record.
            let (a, b) = record.split_at(record.len() / 3);
            let parts = [a, &b""[..], b, b"\r\n\r\n"];
            let member = GZIP.with_borrow_mut(|g| g.member(&parts).map(<[u8]>::to_vec));
            assert_eq!(inflate(&member.expect("compressed")), (parts.concat(), 0));
        }
        let capture = plain_capture(big);
        let Archived(packed) = pack(&capture, None).0;
        let (request, rest) = inflate(&packed);
        assert!(is_whole_record(&request));
        let (response, rest) = inflate(&packed[packed.len() - rest..]);
        assert!(is_whole_record(&response));
        assert_eq!(rest, 0);
    }

    /// A GET of `http://a.test/x` answered 200 with `body`, no headers.
    fn plain_capture(body: Vec<u8>) -> Capture {
        Capture {
            url: url::Url::parse("http://a.test/x").expect("url"),
            date: UNIX_EPOCH,
            status: 200,
            ip: None,
            request: b"GET /x HTTP/1.1\r\n\r\n".to_vec(),
            head: b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
            body,
            truncated: false,
        }
    }

    #[test]
    fn the_same_answer_again_is_a_revisit_referring_to_the_earlier_capture() {
        let first = plain_capture(b"hello".to_vec());
        let (_, earlier) = records(&first, None);
        let earlier = earlier.expect("a response's payload is its own");
        // The same payload: identical-payload-digest, the head alone, the digest kept.
        let (again, at) = records(&first, Some(&earlier));
        assert_eq!(at.as_ref(), Some(&earlier));
        let text = String::from_utf8(again[1].to_bytes()).expect("utf-8");
        assert!(
            text.starts_with("WARC/1.1\r\nWARC-Type: revisit\r\n"),
            "{text}"
        );
        for line in [
            format!("WARC-Profile: {IDENTICAL}"),
            format!("WARC-Refers-To: {}", earlier.id),
            format!("WARC-Refers-To-Target-URI: {}", earlier.target),
            format!("WARC-Refers-To-Date: {}", earlier.date),
            format!("WARC-Payload-Digest: {}", earlier.payload_digest),
        ] {
            assert!(text.contains(&format!("{line}\r\n")), "{line} in {text}");
        }
        assert!(text.ends_with("HTTP/1.1 200 OK\r\n\r\n\r\n\r\n"), "{text}");
        // A 304: server-not-modified, no payload digest.
        let not_modified = Capture {
            status: 304,
            head: b"HTTP/1.1 304 Not Modified\r\n\r\n".to_vec(),
            ..plain_capture(Vec::new())
        };
        let (records304, _) = records(&not_modified, Some(&earlier));
        let text = String::from_utf8(records304[1].to_bytes()).expect("utf-8");
        assert!(
            text.contains(&format!("WARC-Profile: {NOT_MODIFIED}\r\n")),
            "{text}"
        );
        assert!(!text.contains("WARC-Payload-Digest"), "{text}");
        // Another payload: a response of its own.
        let other = plain_capture(b"hello!".to_vec());
        let (changed, at) = records(&other, Some(&earlier));
        assert!(
            String::from_utf8(changed[1].to_bytes())
                .expect("utf-8")
                .contains("WARC-Type: response")
        );
        assert_ne!(at.as_ref(), Some(&earlier));
    }

    #[test]
    fn records_are_whole_and_linked() {
        let capture = Capture {
            url: url::Url::parse("http://a.test/x").expect("url"),
            date: UNIX_EPOCH,
            status: 200,
            ip: Some("127.0.0.1".parse().expect("ip")),
            request: b"GET /x HTTP/1.1\r\nhost: a.test\r\n\r\n".to_vec(),
            head: b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n".to_vec(),
            body: b"hello".to_vec(),
            truncated: true,
        };
        let [request, response] = exchange(&capture);
        assert!(is_whole_record(&request));
        assert!(is_whole_record(&response));
        assert!(!is_whole_record(&response[..response.len() - 1]));
        let text = String::from_utf8(response).expect("utf-8");
        assert!(text.contains("WARC-Truncated: length\r\n"), "{text}");
        assert!(text.contains("WARC-IP-Address: 127.0.0.1\r\n"), "{text}");
        assert!(text.contains("Content-Length: 43\r\n"), "{text}");
        let request = String::from_utf8(request).expect("utf-8");
        let id = |text: &str, field: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(field))
                .map(str::to_owned)
                .expect("field")
        };
        assert_eq!(
            id(&request, "WARC-Concurrent-To: "),
            id(&text, "WARC-Record-ID: ")
        );
        assert_eq!(
            id(&text, "WARC-Concurrent-To: "),
            id(&request, "WARC-Record-ID: ")
        );
    }

    #[test]
    fn a_corrupt_length_is_a_torn_record_not_a_panic() {
        for length in [usize::MAX, usize::MAX - 3, usize::MAX - 20, 6] {
            let data = format!("WARC/1.1\r\nContent-Length: {length}\r\n\r\nhello\r\n\r\n");
            assert!(!is_whole_record(data.as_bytes()), "{length}");
        }
        assert!(is_whole_record(
            b"WARC/1.1\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n"
        ));
    }

    #[test]
    fn a_big_record_does_not_keep_its_buffer() {
        let capture = plain_capture(
            (0..3 * KEEP_BUFFER as u32)
                .map(|n| (n % 251) as u8)
                .collect(),
        );
        pack(&capture, None);
        assert!(GZIP.with_borrow(|g| g.member.capacity()) <= KEEP_BUFFER);
    }
}
