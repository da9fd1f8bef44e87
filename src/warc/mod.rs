//! WARC archives (`--warc FILE.warc.gz`): the format. [`records`] builds the records (sha1
//! base32 digests, record IDs and dates), [`writer`] owns the files (one gzip member per
//! record, rotation, resume), and [`http`] the bytes of the HTTP messages a capture holds.
//!
//! What a record holds comes from the fetch as a [`Capture`](crate::task::Capture): the request
//! and response of one exchange, the response body as it came off the wire (before any content
//! decoding), cut where `--max-bytes` cut it. The worker that fetched it [`pack`]s it (records,
//! digests, gzip: the CPU work, spread over the workers) and the result travels with the task's
//! outcome; the coordinator hands it to the one [`WarcWriter`], owned beside the sink, so no
//! two workers ever write the file. Each file starts with a `warcinfo` record (the software
//! and the crawl's settings that shape what was captured).
//!
//! `records` and `writer` come with the `warc` feature (their digests, IDs and base32 are its
//! dependencies); without it `Config::validate` refuses `--warc`. `http` is in every build,
//! because the fetch's capture path that uses it is: it runs only with `--warc`, and gating it
//! would save no dependency (see Cargo.toml).

pub mod http;
#[cfg(feature = "warc")]
mod records;
#[cfg(feature = "warc")]
mod writer;

#[cfg(feature = "warc")]
pub use records::{is_whole_record, pack, warcinfo};
#[cfg(feature = "warc")]
pub use writer::{WarcError, WarcWriter};
