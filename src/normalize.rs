//! URL normalisation and fingerprints: what makes two spellings of a URL "the same page".
//!
//! Parsing with the `url` crate already applies the WHATWG rules a crawler wants: scheme and
//! host lower-cased, default ports removed, an empty path made `/`, percent-encoding made
//! canonical. On top of that we drop the fragment, since `page#a` and `page#b` are one fetch.
//! Dedupe stores 64-bit fingerprints rather than strings, so a known URL costs 8 bytes, and the
//! hash is fixed (xxh3) so every process computes the same fingerprint.

use url::Url;

/// The longest link followed, in bytes of its normalised form. 2,048 is the sitemaps
/// protocol's limit and about what many servers and proxies accept in a request line; longer
/// URLs found in pages are nearly always session-id soup or crawler traps that grow by a
/// segment on every hop.
pub const MAX_URL_LEN: usize = 2048;

/// Whether a URL's scheme is one the crawler fetches.
pub fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// The normalised form of `url`: today that means without its fragment.
pub fn normalize(mut url: Url) -> Url {
    url.set_fragment(None);
    url
}

/// `url` normalised, if it is a link the crawler follows: http(s) and at most
/// [`MAX_URL_LEN`] long. The one rule for links from pages and from extractors alike.
pub fn followable(url: Url) -> Option<Url> {
    let url = normalize(url);
    (is_http(&url) && url.as_str().len() <= MAX_URL_LEN).then_some(url)
}

/// `path` at the root of `url`'s origin (`/robots.txt`, `/sitemap.xml`).
pub fn at_root(url: &Url, path: &str) -> Url {
    let mut at = url.clone();
    at.set_path(path);
    at.set_query(None);
    at.set_fragment(None);
    at
}

/// The dedupe key of a normalised URL.
pub fn fingerprint(url: &Url) -> u64 {
    xxhash_rust::xxh3::xxh3_64(url.as_str().as_bytes())
}

/// The origin a URL belongs to (`scheme://host:port`), which keys robots.txt and politeness.
pub fn origin_key(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(Url::parse(s).expect("test URL")).to_string()
    }

    #[test]
    fn spellings_of_one_page_normalise_alike() {
        let want = "http://example.com/a?b=1";
        for s in [
            "http://example.com/a?b=1",
            "HTTP://EXAMPLE.com/a?b=1",
            "http://example.com:80/a?b=1",
            "http://example.com/a?b=1#frag",
            "http://Example.COM/a?b=1#",
        ] {
            assert_eq!(n(s), want, "{s}");
        }
        assert_eq!(n("https://example.com:443"), "https://example.com/");
        assert_eq!(
            n("https://example.com:8443/x"),
            "https://example.com:8443/x"
        );
    }

    #[test]
    fn fingerprints_follow_normalisation() {
        let a = normalize(Url::parse("http://h/x#1").expect("url"));
        let b = normalize(Url::parse("HTTP://H:80/x#2").expect("url"));
        let c = normalize(Url::parse("http://h/y").expect("url"));
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn origin_keys() {
        let u = Url::parse("http://127.0.0.1:8080/a/b").expect("url");
        assert_eq!(origin_key(&u), "http://127.0.0.1:8080");
        let u = Url::parse("https://Example.com/").expect("url");
        assert_eq!(origin_key(&u), "https://example.com");
    }
}
