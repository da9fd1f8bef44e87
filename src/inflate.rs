//! Content-Encoding undone by the crawl itself, for `--warc` only: reqwest's own decoders
//! hide the bytes as sent, which the archive must keep, so with an archive the client decodes
//! nothing and the fetch runs the body through one of these (gzip, deflate, br: the encodings
//! reqwest would have undone) for the parser, while the raw bytes go to the archive.
//!
//! They decode what reqwest's decoders decode (tower-http's): one gzip member, one zlib
//! stream, one brotli stream; what follows the end of the stream is not part of the page.
//!
//! The caller says how much output it still has room for, and a compression bomb costs at
//! most a bounded step of output past it: deflate is fed in small pieces (it inflates at most
//! about 1032:1), and brotli, where one command can copy 16 MiB whatever the input, is run
//! a fixed output buffer at a time.

use std::io::{self, Write};

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};

/// Input fed to a deflate decoder at a time: deflate inflates at most about 1032:1, so one
/// piece makes at most about a megabyte.
const PIECE: usize = 1024;

/// Brotli's output step: the most it decodes past the room.
const BROTLI_STEP: usize = 64 * 1024;

/// A streaming decoder for one response body.
pub struct Inflate {
    decoder: Decoder,
    /// Whether any input came: an empty body (a 204, a 304) is empty whatever it claims.
    fed: bool,
    /// Whether the encoded stream has ended: what follows is not part of the body.
    ended: bool,
}

enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    /// HTTP's `deflate` is zlib-wrapped (RFC 9110), as reqwest reads it.
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
    Brotli(Box<Brotli>),
}

/// Brotli run step by step (`DecompressorWriter` decodes all a write's input at once, however
/// much it makes).
struct Brotli {
    /// With large windows allowed, as reqwest's brotli decoder has them.
    state: BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    step: Box<[u8]>,
    out: Vec<u8>,
    total_out: usize,
}

impl Inflate {
    /// The decoder for a `Content-Encoding` value; `None` for identity, an absent header, or
    /// an encoding reqwest would not have undone either (the body is then passed on as is).
    pub fn for_encoding(value: Option<&http::HeaderValue>) -> Option<Inflate> {
        let value = value?.to_str().ok()?.trim();
        let decoder = if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip")
        {
            Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new()))
        } else if value.eq_ignore_ascii_case("deflate") {
            Decoder::Deflate(flate2::write::ZlibDecoder::new(Vec::new()))
        } else if value.eq_ignore_ascii_case("br") {
            Decoder::Brotli(Box::new(Brotli {
                state: BrotliState::new(
                    StandardAlloc::default(),
                    StandardAlloc::default(),
                    StandardAlloc::default(),
                ),
                step: vec![0; BROTLI_STEP].into_boxed_slice(),
                out: Vec::new(),
                total_out: 0,
            }))
        } else {
            return None;
        };
        Some(Inflate {
            decoder,
            fed: false,
            ended: false,
        })
    }

    /// Whether the encoded stream has ended (more input is ignored).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Feeds `input` and returns what it decoded to, stopping early once more than `room`
    /// bytes have come out (the caller cuts there and reads no further).
    pub fn push(&mut self, input: &[u8], room: u64) -> io::Result<Vec<u8>> {
        self.fed |= !input.is_empty();
        if self.ended {
            return Ok(Vec::new());
        }
        let (out, ended) = match &mut self.decoder {
            Decoder::Gzip(w) => feed(w, input, room, |w| w.get_mut())?,
            Decoder::Deflate(w) => feed(w, input, room, |w| w.get_mut())?,
            Decoder::Brotli(br) => {
                let ended = br.decode(input, Some(room))?;
                (std::mem::take(&mut br.out), ended)
            }
        };
        self.ended = ended;
        Ok(out)
    }

    /// Ends the stream (the body is complete) and returns the last of the output.
    pub fn finish(mut self) -> io::Result<Vec<u8>> {
        if !self.fed {
            return Ok(Vec::new());
        }
        match &mut self.decoder {
            Decoder::Gzip(w) => w.try_finish()?,
            Decoder::Deflate(w) => w.try_finish()?,
            Decoder::Brotli(br) => {
                if !self.ended && !br.decode(&[], None)? {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the brotli stream ends early",
                    ));
                }
            }
        }
        Ok(std::mem::take(self.output()))
    }

    fn output(&mut self) -> &mut Vec<u8> {
        match &mut self.decoder {
            Decoder::Gzip(w) => w.get_mut(),
            Decoder::Deflate(w) => w.get_mut(),
            Decoder::Brotli(br) => &mut br.out,
        }
    }
}

/// Feeds `input` to a deflate decoder a piece at a time, stopping once its output (`output`)
/// holds more than `room`; returns the output and whether the stream ended.
fn feed<W: Write>(
    writer: &mut W,
    input: &[u8],
    room: u64,
    output: impl Fn(&mut W) -> &mut Vec<u8>,
) -> io::Result<(Vec<u8>, bool)> {
    let mut ended = false;
    'pieces: for piece in input.chunks(PIECE) {
        let mut rest = piece;
        while !rest.is_empty() {
            let n = writer.write(rest)?;
            if n == 0 {
                // The stream ended; what follows it is not part of the body.
                ended = true;
                break 'pieces;
            }
            rest = &rest[n..];
        }
        writer.flush()?;
        if output(writer).len() as u64 > room {
            break;
        }
    }
    writer.flush()?;
    Ok((std::mem::take(output(writer)), ended))
}

impl Brotli {
    /// Decodes `input` into `out`, a step at a time, until the input is used up, the stream
    /// ends (then `true`), or `out` holds more than `room`.
    fn decode(&mut self, input: &[u8], room: Option<u64>) -> io::Result<bool> {
        let mut available_in = input.len();
        let mut input_offset = 0;
        loop {
            let mut available_out = self.step.len();
            let mut output_offset = 0;
            let result = BrotliDecompressStream(
                &mut available_in,
                &mut input_offset,
                input,
                &mut available_out,
                &mut output_offset,
                &mut self.step,
                &mut self.total_out,
                &mut self.state,
            );
            self.out.extend_from_slice(&self.step[..output_offset]);
            match result {
                BrotliResult::NeedsMoreOutput => {
                    if room.is_some_and(|room| self.out.len() as u64 > room) {
                        return Ok(false);
                    }
                }
                BrotliResult::NeedsMoreInput => return Ok(false),
                BrotliResult::ResultSuccess => return Ok(true),
                BrotliResult::ResultFailure => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "not a valid brotli stream",
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).expect("gzip");
        gz.finish().expect("gzip")
    }

    #[test]
    fn gzip_decodes_across_chunks() {
        let page = b"<html><title>Zipped</title></html>".repeat(100);
        let packed = gzip(&page);
        let value = http::HeaderValue::from_static("gzip");
        let mut inflate = Inflate::for_encoding(Some(&value)).expect("gzip decoder");
        let mut out = Vec::new();
        for chunk in packed.chunks(7) {
            out.extend(inflate.push(chunk, u64::MAX).expect("push"));
        }
        out.extend(inflate.finish().expect("finish"));
        assert_eq!(out, page);
    }

    #[test]
    fn a_bomb_stops_soon_past_the_room() {
        let packed = gzip(&vec![b'a'; 64 * 1024 * 1024]);
        let value = http::HeaderValue::from_static("gzip");
        let mut inflate = Inflate::for_encoding(Some(&value)).expect("gzip decoder");
        let out = inflate.push(&packed, 1000).expect("push");
        assert!(
            out.len() > 1000 && out.len() < 2 * 1024 * 1024,
            "{}",
            out.len()
        );
    }

    #[test]
    fn a_dense_brotli_bomb_stops_soon_past_the_room() {
        // 52 bytes that make 64 MiB: one piece of input, and one brotli command can copy
        // 16 MiB of it.
        let packed = crawl_fixture::hostile::brotli_zeros(64 << 20);
        let value = http::HeaderValue::from_static("br");
        let mut inflate = Inflate::for_encoding(Some(&value)).expect("br decoder");
        let out = inflate.push(&packed, 1000).expect("push");
        assert!(
            out.len() > 1000 && out.len() <= 1000 + BROTLI_STEP,
            "{}",
            out.len()
        );
        assert!(!inflate.ended());
        // Decoded in full, the same bytes make the whole 64 MiB.
        let mut inflate = Inflate::for_encoding(Some(&value)).expect("br decoder");
        let mut len = inflate.push(&packed, u64::MAX).expect("push").len();
        assert!(inflate.ended());
        len += inflate.finish().expect("finish").len();
        assert_eq!(len, 64 << 20);
    }

    #[test]
    fn the_stream_ends_at_the_end_of_its_first_member() {
        // reqwest's decoder reads one gzip member: so does this one, and what follows is
        // not part of the body.
        let mut body = crawl_fixture::hostile::gzip_members();
        body.extend_from_slice(b"junk");
        let value = http::HeaderValue::from_static("gzip");
        let mut inflate = Inflate::for_encoding(Some(&value)).expect("gzip decoder");
        let mut out = Vec::new();
        for chunk in body.chunks(10) {
            out.extend(inflate.push(chunk, u64::MAX).expect("push"));
        }
        assert!(inflate.ended());
        out.extend(inflate.finish().expect("finish"));
        assert_eq!(out, crawl_fixture::hostile::gzip_members_first().as_bytes());
    }

    #[test]
    fn a_cut_brotli_stream_is_an_error() {
        let packed = crawl_fixture::hostile::brotli_zeros(1 << 20);
        let value = http::HeaderValue::from_static("br");
        let mut inflate = Inflate::for_encoding(Some(&value)).expect("br decoder");
        inflate
            .push(&packed[..packed.len() / 2], u64::MAX)
            .expect("push");
        let err = inflate.finish().expect_err("cut");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let mut inflate = Inflate::for_encoding(Some(&value)).expect("br decoder");
        let err = inflate
            .push(b"\xff\xff\xff\xff not brotli", u64::MAX)
            .expect_err("bad");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn an_empty_body_is_empty_whatever_its_encoding() {
        for encoding in ["gzip", "deflate", "br"] {
            let value = http::HeaderValue::from_static(encoding);
            let inflate = Inflate::for_encoding(Some(&value)).expect("a decoder");
            assert_eq!(inflate.finish().expect(encoding), b"");
        }
    }

    #[test]
    fn identity_and_unknown_encodings_pass_through() {
        assert!(Inflate::for_encoding(None).is_none());
        let identity = http::HeaderValue::from_static("identity");
        assert!(Inflate::for_encoding(Some(&identity)).is_none());
    }
}
