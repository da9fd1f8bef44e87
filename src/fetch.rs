//! HTTP fetching (the only reqwest user).
//!
//! One async implementation serves every mode: the async mode awaits it on a shared runtime,
//! while the sequential, threads and processes modes drive it with `block_on` on a small
//! current-thread runtime owned by each worker. That is what a blocking client does anyway
//! (reqwest's `blocking` hides a runtime on a background thread); owning the runtime ourselves
//! keeps the I/O on the worker's own thread, which is the point of the threads mode.
//!
//! What it enforces: at most `max_bytes` of decompressed body, and a connect timeout. The
//! whole-request timeout (body included) is the caller's, [`crate::worker::download`]'s, so
//! that time the calling thread spent elsewhere does not count against a request.
//!
//! Pages are fetched **without** following redirects: a 3xx comes back with its resolved
//! `Location`, and the coordinator schedules the next hop as a task like any other, so every
//! hop passes the scope check, robots.txt, and the rate limits (reqwest's own redirect-following
//! would skip all three). robots.txt itself has no robots.txt to obey, so
//! [`Fetcher::get_robots`] follows its redirects here, inside the crawl's [`Scope`] and at most
//! 5 of them, as RFC 9309 suggests.
//!
//! With `--warc`, every request that gets a response is also written down as a
//! [`Capture`] on the caller's tape: the client then decodes no Content-Encoding itself (it
//! would hide the bytes as sent), the body's raw bytes are kept for the archive, and
//! [`crate::inflate`] decodes them for the parser. The raw copy is capped at `max_bytes` like
//! the decoded page (a body that decodes to little or nothing must not grow it until the
//! timeout), and a response that arrived but does not decode is archived before it fails.
//! The bytes of the request and response heads are rebuilt by [`crate::warc::http`].
//! Without `--warc` none of this runs and no raw copy is kept.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::config::Config;
use crate::extract::{Extracted, PageStream};
use crate::inflate::Inflate;
use crate::redirect::{self, Hold, MAX_ROBOTS_REDIRECTS};
use crate::scope::Scope;
use crate::task::{Capture, FetchError, Validators};
use crate::warc::http::{Sent, response_head, sent_defaults};

/// Where a fetch writes down its requests and responses for the archive (see
/// [`crate::warc`]); stays empty without `--warc`.
pub type Tape = Vec<Capture>;

/// What reqwest's decoders would ask for (tower-http's order), sent explicitly when they are
/// off for `--warc`, so a server answers an archiving crawl as it answers any other.
const ACCEPT_ENCODING: &str = "gzip,deflate,br";

/// A response as read off the wire.
#[derive(Debug)]
pub struct Response {
    pub final_url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    /// Every response header, for a user's extractor.
    pub headers: reqwest::header::HeaderMap,
    /// The body, unless it went through a [`PageStream`] (then empty: see `streamed`).
    pub body: Vec<u8>,
    /// How many body bytes arrived (after decompression, at most the cap), kept or not.
    pub len: u64,
    /// What the page yielded when its body was streamed through the link extractor, and the
    /// time that took.
    pub streamed: Option<(Extracted, Duration)>,
    pub truncated: bool,
    pub retry_after: Option<Duration>,
    /// For a 3xx, where it points (resolved against the request URL; any scheme).
    pub location: Option<Url>,
    /// With `--cache`, an xxh3-128 digest of the decoded body bytes taken (kept or streamed),
    /// to tell a changed page from one sent again unchanged.
    pub digest: Option<u128>,
}

/// A response before its body: what decides whether the body is streamed.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
}

/// The client could not be built (a TLS backend failed to initialise, for instance). The cause
/// is kept as a source, without naming reqwest's type in the public API.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct ClientError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl ClientError {
    fn new(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        ClientError(Box::new(err))
    }
}

/// An HTTP client configured for one crawl. Redirects are returned, never followed by
/// reqwest itself.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    /// What built `client`, to build the next worker's (see [`Fetcher::another`]).
    recipe: Arc<Recipe>,
    /// Where robots.txt redirects may lead.
    scope: Arc<Scope>,
}

/// Everything a crawl's clients are built from, the TLS settings included.
struct Recipe {
    connect_timeout: Duration,
    user_agent: String,
    /// `-H`, and with `capture` the Accept-Encoding the client's decoders would have sent.
    headers: http::HeaderMap,
    /// `None` with `env_proxy` false: no proxy at all, not even the environment's.
    proxy: Option<reqwest::Proxy>,
    env_proxy: bool,
    /// Built once per crawl: building it reads and parses the system's CA roots (3-4 ms for
    /// Debian's store), which reqwest would otherwise do again for every worker's client.
    tls: rustls::ClientConfig,
    /// `--warc`: capture every exchange, bodies as sent.
    capture: bool,
    /// `--cache`: digest every body, to tell a changed page from one sent again unchanged.
    digest: bool,
    /// With `capture`, the headers the client adds to every request, in the order it adds
    /// them, for the archive's request records.
    sent_defaults: http::HeaderMap,
}

impl Recipe {
    fn client(&self) -> Result<reqwest::Client, ClientError> {
        let builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(&self.user_agent)
            // `-H`: on every request, robots.txt included.
            .default_headers(self.headers.clone())
            .tcp_nodelay(true)
            .tls_backend_preconfigured(self.tls.clone());
        let builder = if self.capture {
            // The archive keeps bodies as sent: decoding is the fetch's, not the client's.
            builder.no_gzip().no_brotli().no_deflate()
        } else {
            builder
        };
        let builder = match &self.proxy {
            // Credentials in the URL become Proxy-Authorization (reqwest reads them there).
            Some(proxy) => builder.proxy(proxy.clone()),
            None if !self.env_proxy => builder.no_proxy(),
            None => builder,
        };
        builder
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError::new)
    }
}

/// The TLS settings reqwest's `rustls` feature would build, built by us so that they are built
/// once: certificates checked against the platform's roots (which honours `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`), rustls's safe protocol versions, and HTTP/2 offered before HTTP/1.1.
fn tls_config() -> Result<rustls::ClientConfig, ClientError> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(crypto_provider()));
    let verifier =
        rustls_platform_verifier::Verifier::new(Arc::clone(&provider)).map_err(ClientError::new)?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ClientError::new)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// The rustls provider the `aws-lc` feature (the default) or the `ring` feature chose.
#[cfg(feature = "aws-lc")]
fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// The rustls provider the `aws-lc` feature (the default) or the `ring` feature chose.
#[cfg(all(feature = "ring", not(feature = "aws-lc")))]
fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Makes [`crypto_provider`] the process's rustls provider, unless one is set already (by the
/// program, or by an earlier crawl): a TLS client built without naming one (the Redis client's,
/// for `rediss://`) would otherwise find none when both `aws-lc` and `ring` are on.
pub(crate) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread installed one meanwhile, which serves as well.
        let _ = rustls::crypto::CryptoProvider::install_default(crypto_provider());
    }
}

#[cfg(not(any(feature = "aws-lc", feature = "ring")))]
compile_error!(
    "crawl needs a TLS backend: with `default-features = false`, add `features = [\"ring\"]` \
     (quicker to build) or `features = [\"aws-lc\"]` (the default's)"
);

impl Fetcher {
    /// A client with the crawl's connect timeout, User-Agent and headers; `scope` bounds
    /// robots.txt redirects. (The whole-request timeout is [`crate::worker::download`]'s.)
    /// Build one per crawl and the rest with [`another`](Self::another).
    pub fn new(config: &Config, scope: Arc<Scope>) -> Result<Fetcher, ClientError> {
        let proxy = match &config.proxy {
            Some(proxy) => {
                Some(reqwest::Proxy::all(proxy.url().as_str()).map_err(ClientError::new)?)
            }
            None => None,
        };
        let capture = config.warc.is_some();
        let mut headers = config.headers.clone();
        if capture && !headers.contains_key(http::header::ACCEPT_ENCODING) {
            headers.insert(
                http::header::ACCEPT_ENCODING,
                http::HeaderValue::from_static(ACCEPT_ENCODING),
            );
        }
        let recipe = Arc::new(Recipe {
            connect_timeout: config.timeout.min(Duration::from_secs(10)),
            user_agent: config.user_agent.clone(),
            sent_defaults: if capture {
                sent_defaults(&config.user_agent, &headers)
            } else {
                http::HeaderMap::new()
            },
            headers,
            proxy,
            env_proxy: config.env_proxy,
            tls: tls_config()?,
            capture,
            digest: config.cache.is_some(),
        });
        Ok(Fetcher {
            client: recipe.client()?,
            recipe,
            scope,
        })
    }

    /// Another client for the same crawl, with its own connections (a worker's connections
    /// belong to the runtime that opened them, so workers on different runtimes cannot share a
    /// pool), built without reading the TLS roots again.
    pub fn another(&self) -> Result<Fetcher, ClientError> {
        Ok(Fetcher {
            client: self.recipe.client()?,
            recipe: Arc::clone(&self.recipe),
            scope: Arc::clone(&self.scope),
        })
    }

    /// GETs a page, keeping at most `max_bytes` of the decompressed body. A redirect is
    /// returned as is, with [`Response::location`] set.
    pub async fn get(
        &self,
        url: &Url,
        max_bytes: u64,
        cookie: Option<&str>,
        tape: &mut Tape,
    ) -> Result<Response, FetchError> {
        self.get_if(url, max_bytes, cookie, None, tape).await
    }

    /// [`get`](Self::get), asking only for a changed page when `validators` say what the
    /// crawl has (`If-None-Match`, `If-Modified-Since`): a `304` then says it is unchanged.
    pub async fn get_if(
        &self,
        url: &Url,
        max_bytes: u64,
        cookie: Option<&str>,
        validators: Option<&Validators>,
        tape: &mut Tape,
    ) -> Result<Response, FetchError> {
        let request = conditional(self.client.get(url.clone()), validators);
        fetch_with(&self.recipe, request, max_bytes, cookie, |_| None, tape).await
    }

    /// GETs a page like [`get`](Self::get), but when `stream` answers a [`PageStream`] for
    /// the response's head, the body goes through it as it arrives and is not kept: what the
    /// page yields comes back in [`Response::streamed`].
    pub async fn get_streamed(
        &self,
        url: &Url,
        max_bytes: u64,
        cookie: Option<&str>,
        validators: Option<&Validators>,
        stream: impl FnOnce(Head<'_>) -> Option<PageStream>,
        tape: &mut Tape,
    ) -> Result<Response, FetchError> {
        let request = conditional(self.client.get(url.clone()), validators);
        fetch_with(&self.recipe, request, max_bytes, cookie, stream, tape).await
    }

    /// Sends a request as given (a login's POST, say), without following a redirect.
    pub async fn send(
        &self,
        request: &crate::request::Request,
        max_bytes: u64,
        cookie: Option<&str>,
        tape: &mut Tape,
    ) -> Result<Response, FetchError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            FetchError::Other(format!("{:?} is not an HTTP method", request.method))
        })?;
        let mut builder = self
            .client
            .request(method, request.url.clone())
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        fetch_with(&self.recipe, builder, max_bytes, cookie, |_| None, tape).await
    }

    /// GETs a robots.txt, following up to [`MAX_ROBOTS_REDIRECTS`] redirects under the
    /// crawl's redirect policy ([`crate::redirect`]).
    pub async fn get_robots(
        &self,
        url: &Url,
        max_bytes: u64,
        cookie: Option<&str>,
        tape: &mut Tape,
    ) -> Result<Response, FetchError> {
        let mut url = url.clone();
        let mut hops = 0;
        let origin = url.origin();
        loop {
            // The cookie was chosen for the first URL: it does not follow a hop to another
            // origin.
            let cookie = cookie.filter(|_| url.origin() == origin);
            let resp = self.get(&url, max_bytes, cookie, tape).await?;
            let Some(next) = resp.location else {
                return Ok(resp);
            };
            // No path rule is about robots.txt: only the hosts hold it.
            redirect::check(hops, MAX_ROBOTS_REDIRECTS, &next, &self.scope, Hold::Hosts)?;
            hops += 1;
            url = next;
        }
    }
}

/// Adds the conditional headers `validators` ask for: `If-None-Match` with the ETag, and
/// `If-Modified-Since` with the Last-Modified date (a server that knows ETags uses the first,
/// RFC 9110 section 13.2.2). A value that is not a valid header is left out.
fn conditional(
    mut request: reqwest::RequestBuilder,
    validators: Option<&Validators>,
) -> reqwest::RequestBuilder {
    let Some(validators) = validators else {
        return request;
    };
    let value = |v: &Option<String>| {
        v.as_deref()
            .and_then(|v| reqwest::header::HeaderValue::from_str(v).ok())
    };
    if let Some(etag) = value(&validators.etag) {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(date) = value(&validators.last_modified) {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, date);
    }
    request
}

/// How much parsing a streamed body may do before the task lets the others on its thread run.
const YIELD_EVERY: Duration = Duration::from_millis(2);

/// Sends `request` and reads its response, keeping at most `max_bytes` of the (decoded) body,
/// streamed through what `stream` answers for the head, if anything. With `--warc`, the
/// exchange goes on `tape` once the body is read (or cut).
async fn fetch_with(
    recipe: &Recipe,
    request: reqwest::RequestBuilder,
    max_bytes: u64,
    cookie: Option<&str>,
    stream: impl FnOnce(Head<'_>) -> Option<PageStream>,
    tape: &mut Tape,
) -> Result<Response, FetchError> {
    let (mut resp, capture) = send(recipe, request, cookie).await?;
    let inflate = match capture {
        Some(_) => decode_here(&mut resp),
        None => None,
    };
    let mut out = head_of(&resp);
    let page = stream(Head {
        status: out.status,
        content_type: out.content_type.as_deref(),
    });
    // Size the buffer from Content-Length, but never trust it beyond `max_bytes`.
    let hint = match page {
        Some(_) => 0,
        None => resp
            .content_length()
            .map_or(16 * 1024, |n| n.min(max_bytes)),
    };
    // Moved out, not copied: an extractor may want them, and nothing below reads them.
    out.headers = std::mem::take(resp.headers_mut());
    let mut body = Body {
        max_bytes,
        kept: Vec::with_capacity(usize::try_from(hint).unwrap_or(0)),
        page,
        len: 0,
        truncated: false,
        next_yield: YIELD_EVERY,
        inflate,
        capture,
        digest: recipe.digest.then(xxhash_rust::xxh3::Xxh3::new),
    };
    if let Some(err) = body.read(&mut resp).await? {
        return Err(archive_undecodable(&mut resp, body.capture, max_bytes, tape, err).await);
    }
    if let Some(mut capture) = body.capture {
        capture.truncated |= body.truncated;
        tape.push(capture);
    }
    out.streamed = body.page.map(|page| page.finish(&out.final_url));
    out.body = body.kept;
    out.len = body.len;
    out.truncated = body.truncated;
    out.digest = body.digest.as_ref().map(xxhash_rust::xxh3::Xxh3::digest128);
    Ok(out)
}

/// Sends `request`, with `cookie` if there is one, and waits for the response's head. With
/// `--warc` the request is built before it is sent, so that what was sent can be written
/// down: the exchange's [`Capture`] starts here, with the request and the response's head.
async fn send(
    recipe: &Recipe,
    mut request: reqwest::RequestBuilder,
    cookie: Option<&str>,
) -> Result<(reqwest::Response, Option<Capture>), FetchError> {
    if let Some(cookie) = cookie {
        request = request.header(reqwest::header::COOKIE, cookie);
    }
    if !recipe.capture {
        return Ok((request.send().await.map_err(classify)?, None));
    }
    let (client, built) = request.build_split();
    let built = built.map_err(classify)?;
    let sent = sent(&built);
    let date = std::time::SystemTime::now();
    let resp = client.execute(built).await.map_err(classify)?;
    let capture = Capture {
        url: sent.url.clone(),
        status: resp.status().as_u16(),
        date,
        ip: resp.remote_addr().map(|a| a.ip()),
        request: sent.to_bytes(resp.version(), &recipe.sent_defaults),
        head: response_head(resp.version(), resp.status(), resp.headers()),
        body: Vec::new(),
        truncated: false,
    };
    Ok((resp, Some(capture)))
}

/// With the client's decoders off (`--warc`), the body is decoded here: the decoder for its
/// Content-Encoding, if it has one. The headers that describe the encoded body go, as
/// reqwest's decoders drop them.
fn decode_here(resp: &mut reqwest::Response) -> Option<Inflate> {
    let inflate = Inflate::for_encoding(resp.headers().get(reqwest::header::CONTENT_ENCODING));
    if inflate.is_some() {
        resp.headers_mut().remove(reqwest::header::CONTENT_ENCODING);
        resp.headers_mut().remove(reqwest::header::CONTENT_LENGTH);
    }
    inflate
}

/// The response as far as its head tells: status, type, where it points, when to come back.
/// Its headers and body are filled in once the body is read.
fn head_of(resp: &reqwest::Response) -> Response {
    let headers = resp.headers();
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let final_url = resp.url().clone();
    let location = resp
        .status()
        .is_redirection()
        .then(|| headers.get(reqwest::header::LOCATION))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| final_url.join(loc.trim()).ok());
    Response {
        final_url,
        status: resp.status().as_u16(),
        content_type,
        headers: reqwest::header::HeaderMap::new(),
        body: Vec::new(),
        len: 0,
        streamed: None,
        truncated: false,
        retry_after,
        location,
        digest: None,
    }
}

/// A body being read: where its bytes go (kept, or through a page's extractor), how many came
/// and whether `max_bytes` cut them, and with `--warc` its decoder and the raw copy.
struct Body {
    max_bytes: u64,
    /// The body, unless it goes through `page`.
    kept: Vec<u8>,
    page: Option<PageStream>,
    /// Decoded bytes taken so far, kept or streamed.
    len: u64,
    truncated: bool,
    /// When the page's parsing next lets the thread's other tasks run.
    next_yield: Duration,
    /// `--warc` with an encoded body: its decoder, until the body ends.
    inflate: Option<Inflate>,
    capture: Option<Capture>,
    /// Every decoded byte taken, for [`Response::digest`] (`--cache`).
    digest: Option<xxhash_rust::xxh3::Xxh3>,
}

/// One chunk of the body, as the page gets it: as read, or as decoded here (`--warc`).
enum Piece<B> {
    Read(B),
    Decoded(Vec<u8>),
}

impl<B: AsRef<[u8]>> Piece<B> {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Read(bytes) => bytes.as_ref(),
            Piece::Decoded(bytes) => bytes,
        }
    }
}

impl Body {
    /// Reads the body to its end or to where `max_bytes` cuts it. Returns why a body that
    /// arrived does not decode as the encoding it claims, if it does not.
    async fn read(
        &mut self,
        resp: &mut reqwest::Response,
    ) -> Result<Option<std::io::Error>, FetchError> {
        let mut ended = false;
        loop {
            // With an encoded body: whether the raw copy is full (see `keep_raw`).
            let (piece, raw_full) = match resp.chunk().await.map_err(classify)? {
                Some(raw) => match self.arrived(raw) {
                    Ok(got) => got,
                    Err(err) => return Ok(Some(err)),
                },
                None if ended => break,
                None => {
                    // The body is complete: a decoder may still hold its last bytes.
                    ended = true;
                    match self.inflate.take().map(Inflate::finish) {
                        Some(Ok(out)) => (Piece::Decoded(out), false),
                        Some(Err(err)) => return Ok(Some(err)),
                        None => break,
                    }
                }
            };
            self.take(piece.bytes()).await;
            if raw_full {
                // Reading stops with the raw copy full: the page is cut there too, unless its
                // encoded stream had already ended (what follows is not part of it).
                self.truncated |= !self.inflate.as_ref().is_some_and(Inflate::ended);
                if let Some(capture) = &mut self.capture {
                    capture.truncated = true;
                }
                break;
            }
            if self.truncated || ended {
                break;
            }
        }
        Ok(None)
    }

    /// A chunk `raw` read off the connection: what of it the page gets, and whether the raw
    /// copy is full. With `--warc` the raw bytes go into the capture first (an encoded body's
    /// to the raw copy's cap, a plain one's up to where the page is cut, as the record says).
    fn arrived<B: AsRef<[u8]>>(&mut self, raw: B) -> std::io::Result<(Piece<B>, bool)> {
        let bytes = raw.as_ref();
        match (&mut self.capture, &mut self.inflate) {
            // No archive: the chunk is the body, as reqwest decoded it.
            (None, _) => Ok((Piece::Read(raw), false)),
            (Some(capture), Some(inflate)) => {
                let kept = keep_raw(capture, bytes, self.max_bytes);
                let decoded = inflate.push(&bytes[..kept], self.max_bytes - self.len)?;
                Ok((Piece::Decoded(decoded), kept < bytes.len()))
            }
            (Some(capture), None) => {
                // Kept up to where the page is cut, as the record says.
                let room = usize::try_from(self.max_bytes - self.len).unwrap_or(usize::MAX);
                capture
                    .body
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
                Ok((Piece::Read(raw), false))
            }
        }
    }

    /// Takes what of `chunk` fits under `max_bytes` (marking the body cut if not all of it),
    /// into the page's extractor or the kept body.
    async fn take(&mut self, chunk: &[u8]) {
        let room = self.max_bytes - self.len;
        let take = if chunk.len() as u64 > room {
            self.truncated = true;
            &chunk[..usize::try_from(room).unwrap_or(0)]
        } else {
            chunk
        };
        self.len += take.len() as u64;
        if let Some(digest) = &mut self.digest {
            digest.update(take);
        }
        match &mut self.page {
            Some(page) => {
                page.write(take);
                // While chunks keep arriving, reading them never returns to the scheduler
                // until tokio's budget of 128 runs out, and parsing a long body that way can
                // hold the thread for a long while (a second per megabyte in a debug build).
                // Every few milliseconds of parsing, let the thread's other requests run, so
                // an answer already waiting is read in time, not taken for a timeout.
                if page.busy() >= self.next_yield {
                    self.next_yield = page.busy() + YIELD_EVERY;
                    tokio::task::yield_now().await;
                }
            }
            None => self.kept.extend_from_slice(take),
        }
    }
}

/// A response that arrived but does not decode (`err`) is archived as sent, read on to its
/// end or to the raw copy's cap, then it fails as it does without an archive. One that
/// breaks off meanwhile never arrived whole, and is not archived.
async fn archive_undecodable(
    resp: &mut reqwest::Response,
    capture: Option<Capture>,
    max_bytes: u64,
    tape: &mut Tape,
    err: std::io::Error,
) -> FetchError {
    if let Some(mut capture) = capture {
        loop {
            match resp.chunk().await {
                Ok(Some(more)) => {
                    if keep_raw(&mut capture, &more, max_bytes) < more.len() {
                        capture.truncated = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(_) => return protocol(err),
            }
        }
        tape.push(capture);
    }
    protocol(err)
}

/// Keeps what of an encoded body's `raw` chunk fits in the capture's raw copy, at most
/// `max_bytes` like the decoded page, and returns how many bytes that is. The cap is the raw
/// copy's own: a body that decodes to little or nothing (endless empty deflate blocks, junk
/// after the end of the gzip stream) would otherwise grow it until the timeout.
fn keep_raw(capture: &mut Capture, raw: &[u8], max_bytes: u64) -> usize {
    let cap = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let kept = raw.len().min(cap.saturating_sub(capture.body.len()));
    capture.body.extend_from_slice(&raw[..kept]);
    kept
}

/// What the archive's request record needs of a request about to be sent.
fn sent(request: &reqwest::Request) -> Sent {
    Sent {
        method: request.method().clone(),
        url: request.url().clone(),
        headers: request.headers().clone(),
        body: request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
    }
}

/// A body that does not decode as the encoding it claims: the same bytes would come again.
fn protocol(err: std::io::Error) -> FetchError {
    FetchError::Protocol(err.to_string())
}

/// Retry-After as delay-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Maps a reqwest error to the short, stable reasons records carry. The split that matters is
/// retryable or not: a connection that broke ([`FetchError::Broken`]) may work next time, bytes
/// that make no sense ([`FetchError::Protocol`]) will not.
fn classify(err: reqwest::Error) -> FetchError {
    if err.is_timeout() {
        return FetchError::Timeout;
    }
    let root = root_cause(&err);
    if find_source::<rustls::Error>(&err).is_some() {
        return FetchError::Tls(root);
    }
    if let Some(io) = find_source::<std::io::Error>(&err) {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return FetchError::ConnectRefused,
            std::io::ErrorKind::TimedOut => return FetchError::Timeout,
            // The bytes arrived but make no sense (a chunk size that is not hexadecimal, a
            // gzip stream that is not gzip): asking again would get the same bytes.
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput => {
                return FetchError::Protocol(root);
            }
            _ => {}
        }
    }
    if err.is_connect() {
        FetchError::Connect(root)
    } else if err.is_body() || err.is_decode() || err.is_request() {
        FetchError::Broken(root)
    } else {
        FetchError::Other(root)
    }
}

/// The first error of type `T` in `err`'s chain, looking inside I/O errors too: an
/// `io::Error` wrapping another hides it from `source()` (rustls' certificate errors come
/// wrapped so, twice).
fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
