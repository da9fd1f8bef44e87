//! Content-Encoding undone by the crawl itself, for `--warc` only: reqwest's own decoders
//! hide the bytes as sent, which the archive must keep, so with an archive the client decodes
//! nothing and the fetch runs the body through one of these (gzip, deflate, br: the encodings
//! reqwest would have undone) for the parser, while the raw bytes go to the archive.
//!
//! Input is fed in small pieces and the caller says how much output it still has room for, so
//! a compression bomb costs at most one piece's worth of output past `--max-bytes`.

use std::io::{self, Write};

/// Input fed to a decoder at a time: deflate inflates at most about 1032:1, so one piece
/// makes at most about a megabyte.
const PIECE: usize = 1024;

/// A streaming decoder for one response body.
pub struct Inflate {
    decoder: Decoder,
    /// Whether any input came: an empty body (a 204, a 304) is empty whatever it claims.
    fed: bool,
}

enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    /// HTTP's `deflate` is zlib-wrapped (RFC 9110), as reqwest reads it.
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Vec<u8>>>),
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
            Decoder::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                Vec::new(),
                4096,
            )))
        } else {
            return None;
        };
        Some(Inflate {
            decoder,
            fed: false,
        })
    }

    /// Feeds `input` and returns what it decoded to, stopping early once more than `room`
    /// bytes have come out (the caller cuts there and reads no further).
    pub fn push(&mut self, input: &[u8], room: u64) -> io::Result<Vec<u8>> {
        self.fed |= !input.is_empty();
        for piece in input.chunks(PIECE) {
            let mut rest = piece;
            while !rest.is_empty() {
                let n = self.writer().write(rest)?;
                if n == 0 {
                    // The stream ended; what follows it is not part of the body.
                    break;
                }
                rest = &rest[n..];
            }
            self.writer().flush()?;
            if self.output().len() as u64 > room {
                break;
            }
        }
        Ok(std::mem::take(self.output()))
    }

    /// Ends the stream (the body is complete) and returns the last of the output.
    pub fn finish(mut self) -> io::Result<Vec<u8>> {
        if !self.fed {
            return Ok(Vec::new());
        }
        match &mut self.decoder {
            Decoder::Gzip(w) => w.try_finish()?,
            Decoder::Deflate(w) => w.try_finish()?,
            Decoder::Brotli(w) => w.close()?,
        }
        Ok(std::mem::take(self.output()))
    }

    fn writer(&mut self) -> &mut dyn Write {
        match &mut self.decoder {
            Decoder::Gzip(w) => w,
            Decoder::Deflate(w) => w,
            Decoder::Brotli(w) => w.as_mut(),
        }
    }

    fn output(&mut self) -> &mut Vec<u8> {
        match &mut self.decoder {
            Decoder::Gzip(w) => w.get_mut(),
            Decoder::Deflate(w) => w.get_mut(),
            Decoder::Brotli(w) => w.get_mut(),
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
