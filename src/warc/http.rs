//! The HTTP messages of a captured exchange, as bytes for the archive's `request` and
//! `response` records. The client gives back parsed requests and responses, never the bytes it
//! wrote or read, so this module rebuilds them: the request line and headers in the order the
//! client writes them (its defaults included, see [`sent_defaults`]), and the response's status
//! line and headers as received. Both are written in HTTP/1.x form, which is what replay tools
//! parse. It knows nothing of the client itself: [`crate::fetch`] hands it `http` types.

use url::Url;

/// The request a fetch sent, as far as the archive's request record can tell it.
pub struct Sent {
    pub method: http::Method,
    pub url: Url,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Sent {
    /// The request as the archive tells it. reqwest does not give the bytes it wrote, so they
    /// are rebuilt in the order reqwest and hyper write them: the request's own headers (a
    /// Cookie, a login's), then the client's defaults it had not set (`defaults`), then Host,
    /// then a Content-Length for a body. Names are lower-case, as HTTP/2 and hyper send them.
    /// What is not rebuilt: a proxy's absolute-form target and Proxy-Authorization, and
    /// HTTP/2's pseudo-headers (the request line stands for them, in HTTP/1.1 form).
    pub fn to_bytes(&self, version: http::Version, defaults: &http::HeaderMap) -> Vec<u8> {
        let target = match self.url.query() {
            Some(query) => format!("{}?{query}", self.url.path()),
            None => self.url.path().to_owned(),
        };
        let version = http1_version(version);
        let mut out = format!("{} {target} {version}\r\n", self.method).into_bytes();
        let mut line = |name: &str, value: &[u8]| header_line(&mut out, name, value);
        for (name, value) in &self.headers {
            line(name.as_str(), value.as_bytes());
        }
        for (name, value) in defaults {
            if !self.headers.contains_key(name) {
                line(name.as_str(), value.as_bytes());
            }
        }
        if let Some(host) = self.url.host_str() {
            let host = match self.url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            line("host", host.as_bytes());
        }
        if !self.body.is_empty() {
            line("content-length", self.body.len().to_string().as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// The headers an archiving crawl's client adds to every request, in its order: reqwest's
/// `Accept: */*`, the User-Agent, then its default headers (`-H`, then Accept-Encoding).
pub fn sent_defaults(user_agent: &str, defaults: &http::HeaderMap) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::ACCEPT, http::HeaderValue::from_static("*/*"));
    if let Ok(agent) = http::HeaderValue::from_str(user_agent) {
        headers.insert(http::header::USER_AGENT, agent);
    }
    for (name, value) in defaults {
        headers.insert(name.clone(), value.clone());
    }
    headers
}

/// One `name: value` header line of an archived message.
fn header_line(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A response's status line and headers for the archive. reqwest does not give the bytes
/// received, so they are rebuilt from the parsed response: its version, its status with the
/// standard reason phrase (a server's own phrase is not kept), and its headers in the order
/// received, names lower-cased. Transfer-Encoding is left out: the body stored is the
/// de-chunked one, and a replay tool must not try to de-chunk it again.
pub fn response_head(
    version: http::Version,
    status: http::StatusCode,
    headers: &http::HeaderMap,
) -> Vec<u8> {
    let version = http1_version(version);
    let reason = status.canonical_reason().unwrap_or("");
    let mut out = format!("{version} {} {reason}\r\n", status.as_str()).into_bytes();
    for (name, value) in headers {
        if name != http::header::TRANSFER_ENCODING {
            header_line(&mut out, name.as_str(), value.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The version an archived message declares. `application/http` records hold HTTP/1.x
/// messages, which is what replay tools parse, so an HTTP/2 exchange is written in HTTP/1.1
/// form (its headers are the same fields; only the framing differs).
fn http1_version(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    }
}
