//! Waiting URLs packed as text: what keeps a large frontier small.
//!
//! A breadth-first crawl of a well-linked site can have most of the site queued at once. As a
//! [`Job`](super::Job) a queued page costs about 230 bytes plus two copies of its text on the
//! heap; packed here it costs its text after the origin plus two or three bytes, and becomes a
//! [`Url`] again only when it is handed out (one parse, a fraction of a microsecond).

use std::collections::VecDeque;

use url::Url;

/// How an entry's text reads back.
const AFTER_PREFIX: u64 = 0;
const WHOLE_TEXT: u64 = 1;
const KEPT_AS_URL: u64 = 2;
const KIND_BITS: u32 = 2;
/// Buffer capacity a drained queue may keep, in bytes: enough for a few hundred entries, so a
/// queue that empties often does not reallocate each time.
const KEEP_WHEN_DRAINED: usize = 4096;

/// A first-in first-out queue of (URL, depth) pairs stored as bytes.
///
/// Each entry is a varint depth, a varint header (text length and kind), then the text: the
/// URL after the queue's prefix (its origin) when it starts with it, else the whole URL.
#[derive(Debug, Default)]
pub(super) struct PackedUrls {
    bytes: VecDeque<u8>,
    /// URLs whose text would not parse back to the same URL. The URL standard says that never
    /// happens for http(s); if it did, keeping the URL whole means it is still never lost.
    kept: VecDeque<Url>,
    len: usize,
}

/// An entry [`PackedUrls::pop`] could not turn back into a URL, with the depth it had.
///
/// [`PackedUrls::push`] checks that every text it stores parses back, and parsing is
/// deterministic, so this is not expected; it exists so that reading back needs no panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unreadable(pub u32);

impl PackedUrls {
    /// Appends `url` at `depth`. `prefix` is what every URL of this queue usually starts with
    /// (its origin), stored once by the caller rather than in each entry.
    pub(super) fn push(&mut self, url: Url, depth: u32, prefix: &str) {
        self.len += 1;
        push_varint(&mut self.bytes, u64::from(depth));
        let text = url.as_str();
        // `Url`'s equality is its text: same text back means the same URL back.
        if !Url::parse(text).is_ok_and(|back| back == url) {
            push_varint(&mut self.bytes, KEPT_AS_URL);
            self.kept.push_back(url);
            return;
        }
        let (kind, stored) = match text.strip_prefix(prefix) {
            Some(rest) => (AFTER_PREFIX, rest),
            None => (WHOLE_TEXT, text),
        };
        push_varint(&mut self.bytes, ((stored.len() as u64) << KIND_BITS) | kind);
        self.bytes.extend(stored.as_bytes());
    }

    /// The oldest entry, with `prefix` the same as it was pushed with; `None` when empty.
    pub(super) fn pop(&mut self, prefix: &str) -> Option<Result<(Url, u32), Unreadable>> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        let entry = self.read(prefix);
        if self.len == 0 && self.bytes.capacity() > KEEP_WHEN_DRAINED {
            // A drained queue gives its peak back rather than holding it for the whole crawl.
            self.bytes = VecDeque::new();
        }
        Some(entry)
    }

    fn read(&mut self, prefix: &str) -> Result<(Url, u32), Unreadable> {
        let depth = u32::try_from(pop_varint(&mut self.bytes)).unwrap_or(u32::MAX);
        let header = pop_varint(&mut self.bytes);
        let kind = header & ((1 << KIND_BITS) - 1);
        if kind == KEPT_AS_URL {
            return self
                .kept
                .pop_front()
                .map(|u| (u, depth))
                .ok_or(Unreadable(depth));
        }
        let n = usize::try_from(header >> KIND_BITS)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        let mut text = Vec::with_capacity(n + prefix.len());
        if kind == AFTER_PREFIX {
            text.extend_from_slice(prefix.as_bytes());
        }
        text.extend(self.bytes.drain(..n));
        std::str::from_utf8(&text)
            .ok()
            .and_then(|t| Url::parse(t).ok())
            .map(|u| (u, depth))
            .ok_or(Unreadable(depth))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// LEB128: seven bits a byte, low bits first; depths and short lengths take one byte.
fn push_varint(out: &mut VecDeque<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push_back((v as u8) | 0x80);
        v >>= 7;
    }
    out.push_back(v as u8);
}

fn pop_varint(from: &mut VecDeque<u8>) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(b) = from.pop_front() {
        if shift < 64 {
            v |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn urls_come_back_in_order_with_their_depths() {
        let mut q = PackedUrls::default();
        let prefix = "http://a.test";
        let urls = [
            (url("http://a.test/"), 0),
            (url("http://a.test/x?q=1#frag"), 7),
            (url("http://u:p@a.test/private"), 300),
            (url("https://b.test/elsewhere"), u32::MAX),
            (url(&format!("http://a.test/{}", "long/".repeat(100))), 2),
        ];
        for (u, d) in &urls {
            q.push(u.clone(), *d, prefix);
        }
        for (u, d) in &urls {
            assert_eq!(q.pop(prefix), Some(Ok((u.clone(), *d))));
        }
        assert!(q.is_empty());
        assert_eq!(q.pop(prefix), None);
    }

    #[test]
    fn an_entry_is_a_few_bytes_beyond_its_path() {
        let mut q = PackedUrls::default();
        q.push(
            url("http://127.0.0.1:8080/gen/123456"),
            5,
            "http://127.0.0.1:8080",
        );
        assert_eq!(q.bytes.len(), "/gen/123456".len() + 2);
    }

    #[test]
    fn a_drained_queue_gives_its_buffer_back() {
        let mut q = PackedUrls::default();
        for i in 0..1000 {
            q.push(url(&format!("http://a.test/gen/{i}")), 1, "http://a.test");
        }
        assert!(q.bytes.capacity() > KEEP_WHEN_DRAINED);
        while q.pop("http://a.test").is_some() {}
        assert_eq!(q.bytes.capacity(), 0);
    }

    #[test]
    fn varints_round_trip() {
        let mut q = VecDeque::new();
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            push_varint(&mut q, v);
            assert_eq!(pop_varint(&mut q), v);
            assert!(q.is_empty());
        }
    }
}
