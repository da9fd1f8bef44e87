//! The message format between the coordinator and its worker processes.
//!
//! Each message is a 4-byte little-endian length followed by that many bytes of JSON. Tasks go
//! out as [`Task`](crate::task::Task); [`FromWorker`] comes back (the coordinator knows which
//! task each worker holds, so a result need not name it). JSON costs more than a binary
//! encoding, but every byte of it is real serialisation work, which is exactly what the
//! processes mode exists to make visible: the summary reports these bytes and their time.

use std::io::{self, Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::task::TaskResult;

/// Largest message accepted; a robots.txt body (512 KiB as JSON numbers) fits many times over,
/// and so do a `--warc` exchange's records (gzip-compressed, base64: at worst a third over the
/// raw body) at the most `--max-bytes` the processes mode allows with `--warc`
/// ([`crate::config::MAX_WARC_BYTES`]).
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// What a worker process says.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromWorker {
    /// A task's result.
    Done(Box<TaskResult>),
    /// The worker could not start (its HTTP client failed to build, say); it exits next.
    InitFailed(String),
}

/// Writes one framed message; returns the bytes written. `buf` is reused between calls.
pub fn send<T: Serialize>(out: &mut impl Write, msg: &T, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut *buf, msg).map_err(io::Error::other)?;
    let len = u32::try_from(buf.len() - 4)
        .ok()
        .filter(|&n| n as usize <= MAX_MESSAGE)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "message too large"))?;
    buf[..4].copy_from_slice(&len.to_le_bytes());
    out.write_all(buf)?;
    Ok(buf.len())
}

/// Reads one framed message, or `None` at a clean end of stream (the peer closed between
/// messages). Returns the message and its size on the wire.
pub fn recv<T: DeserializeOwned>(
    input: &mut impl Read,
    buf: &mut Vec<u8>,
) -> io::Result<Option<(T, usize)>> {
    let mut len = [0u8; 4];
    match input.read(&mut len[..1])? {
        0 => return Ok(None),
        _ => input.read_exact(&mut len[1..])?,
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes is over the {MAX_MESSAGE}-byte limit"),
        ));
    }
    buf.clear();
    buf.resize(len, 0);
    input.read_exact(buf)?;
    let msg =
        serde_json::from_slice(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some((msg, len + 4)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Fetched, Task, TaskKind, WorkerId};

    #[test]
    fn round_trip_and_clean_eof() {
        let task = Task {
            id: 7,
            kind: TaskKind::Page,
            url: url::Url::parse("http://a.test/x").expect("url"),
            cookie: None,
            request: None,
            earlier: Some(Box::new(crate::task::Earlier {
                validators: crate::task::Validators {
                    etag: Some("\"v1\"".into()),
                    last_modified: None,
                },
                archived_as: None,
            })),
        };
        let done = FromWorker::Done(Box::new(TaskResult {
            worker: WorkerId::Process(1),
            fetch_ms: 1.5,
            parse_ms: 0.25,
            cpu_wait_ms: 0.0,
            worker_cpu_ms: None,
            worker_peak_rss_kb: None,
            outcome: Ok(Fetched {
                status: 200,
                title: Some("T".into()),
                ..Fetched::default()
            }),
            archived: Vec::new(),
        }));
        let mut wire = Vec::new();
        let mut buf = Vec::new();
        let n1 = send(&mut wire, &task, &mut buf).expect("send");
        let n2 = send(&mut wire, &done, &mut buf).expect("send");
        assert_eq!(wire.len(), n1 + n2);
        let mut r = &wire[..];
        let (t, m1): (Task, usize) = recv(&mut r, &mut buf).expect("recv").expect("some");
        assert_eq!((t.id, t.url.as_str(), m1), (7, "http://a.test/x", n1));
        let (d, _): (FromWorker, usize) = recv(&mut r, &mut buf).expect("recv").expect("some");
        assert!(
            matches!(d, FromWorker::Done(r) if r.outcome.as_ref().map(|f| f.status).ok() == Some(200))
        );
        assert!(recv::<Task>(&mut r, &mut buf).expect("eof").is_none());
    }

    #[test]
    fn truncated_and_oversized_messages_are_errors() {
        let mut wire = Vec::new();
        send(&mut wire, &"hello", &mut Vec::new()).expect("send");
        let mut cut = &wire[..wire.len() - 1];
        assert!(recv::<String>(&mut cut, &mut Vec::new()).is_err());
        let huge = ((MAX_MESSAGE + 1) as u32).to_le_bytes();
        assert!(recv::<String>(&mut &huge[..], &mut Vec::new()).is_err());
    }
}
