//! `--cookies`: one cookie jar for the whole crawl, kept by the coordinator.
//!
//! The jar lives where tasks are handed out, not in the workers: a task carries the `Cookie`
//! header for its URL, and its result carries the response's `Set-Cookie` values back. So a
//! cookie set by a page fetched in one worker process is sent with the next page, whichever
//! thread, task or process fetches it, and the jar needs no sharing between address spaces.
//! Domain, path, expiry and `Secure` rules are `cookie_store`'s, which follows RFC 6265 as
//! reqwest does (without the public-suffix list: a site can set a cookie for its parent
//! domain, as RFC 6265 allows, but the crawl's scope bounds where it goes).
//!
//! With `--state DIR` the jar is kept in `DIR/cookies.json`, session cookies included (a
//! resumed crawl continues the same session), rewritten (to a temporary file, then renamed)
//! whenever a response changes it, so a crawl killed mid-way resumes with its cookies.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use cookie_store::CookieStore;
use url::Url;

/// The jar's file name inside the `--state` directory.
pub const FILE_NAME: &str = "cookies.json";

/// The cookie jar could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    /// The saved jar is unreadable (not ours, or damaged).
    #[error(
        "--state {dir}: {FILE_NAME} is not a cookie jar ({reason}); remove it to start without cookies"
    )]
    Unreadable {
        /// The state directory.
        dir: PathBuf,
        /// What the reader said.
        reason: String,
    },
    /// Writing the jar failed.
    #[error("--state {dir}: cannot save {FILE_NAME}: {source}")]
    Save {
        /// The state directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The crawl's cookies.
pub(crate) struct Jar {
    store: CookieStore,
    /// Where it is kept (`--state`), if anywhere.
    dir: Option<PathBuf>,
}

impl Jar {
    /// An empty jar, or with `dir` (`--state`) the one an earlier run left there.
    pub(crate) fn open(dir: Option<&Path>) -> Result<Jar, CookieError> {
        let store = match dir.map(|d| d.join(FILE_NAME)) {
            Some(path) if path.exists() => {
                let unreadable = |reason: String| CookieError::Unreadable {
                    dir: dir.map(Path::to_path_buf).unwrap_or_default(),
                    reason,
                };
                let file = File::open(&path).map_err(|e| unreadable(e.to_string()))?;
                cookie_store::serde::json::load_all(BufReader::new(file))
                    .map_err(|e| unreadable(e.to_string()))?
            }
            _ => CookieStore::default(),
        };
        Ok(Jar {
            store,
            dir: dir.map(Path::to_path_buf),
        })
    }

    /// The `Cookie` header for a request to `url`, if any cookie applies.
    pub(crate) fn header_for(&self, url: &Url) -> Option<String> {
        let pairs: Vec<String> = self
            .store
            .get_request_values(url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Takes the `Set-Cookie` values of a response to `url`; saves the jar if it changed.
    pub(crate) fn take(&mut self, set_cookies: &[String], url: &Url) -> Result<(), CookieError> {
        // Many sites send the same cookie with every page: only a jar that really changed is
        // written again.
        let before = self.dir.is_some().then(|| self.contents());
        for value in set_cookies {
            // A malformed or foreign cookie is ignored, as a browser ignores it.
            let _ = self.store.parse(value, url);
        }
        if before.is_some_and(|before| before != self.contents()) {
            self.save()?;
        }
        Ok(())
    }

    /// What the jar holds, as a comparable list.
    fn contents(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .store
            .iter_any()
            .map(|c| {
                format!(
                    "{}\t{:?}\t{:?}\t{}\t{:?}",
                    c.name(),
                    c.domain(),
                    c.path(),
                    c.value(),
                    c.expires_datetime()
                )
            })
            .collect();
        all.sort_unstable();
        all
    }

    /// Cookies held now (unexpired).
    pub(crate) fn len(&self) -> usize {
        self.store.iter_unexpired().count()
    }

    fn save(&self) -> Result<(), CookieError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let failed = |source| CookieError::Save {
            dir: dir.clone(),
            source,
        };
        let temp = dir.join(format!("{FILE_NAME}.tmp"));
        // Readable by this user alone: session cookies are credentials.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .map_err(failed)?;
        let mut out = BufWriter::new(file);
        cookie_store::serde::json::save_incl_expired_and_nonpersistent(&self.store, &mut out)
            .map_err(|e| failed(std::io::Error::other(e.to_string())))?;
        let file = out.into_inner().map_err(|e| failed(e.into_error()))?;
        file.sync_all().map_err(failed)?;
        std::fs::rename(&temp, dir.join(FILE_NAME)).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn cookies_follow_domain_and_path_rules() {
        let mut jar = Jar::open(None).expect("jar");
        jar.take(
            &["session=abc; Path=/shop".to_owned()],
            &url("http://a.test/x"),
        )
        .expect("taken");
        // Without a Path, a cookie's path is the directory of the page that set it.
        jar.take(&["lang=fr".to_owned()], &url("http://a.test/home"))
            .expect("taken");
        jar.take(&["cart=1".to_owned()], &url("http://a.test/shop/add"))
            .expect("taken");
        let sent = jar
            .header_for(&url("http://a.test/shop/cart"))
            .unwrap_or_default();
        let mut sent: Vec<&str> = sent.split("; ").collect();
        sent.sort_unstable();
        assert_eq!(sent, ["cart=1", "lang=fr", "session=abc"]);
        assert_eq!(
            jar.header_for(&url("http://a.test/blog")).as_deref(),
            Some("lang=fr")
        );
        assert_eq!(jar.header_for(&url("http://b.test/shop/cart")), None);
        // A cookie for another domain is refused, as a browser refuses it.
        jar.take(
            &["evil=1; Domain=b.test".to_owned()],
            &url("http://a.test/"),
        )
        .expect("taken");
        assert_eq!(jar.header_for(&url("http://b.test/")), None);
        assert_eq!(jar.len(), 3);
    }

    #[test]
    fn a_jar_in_a_state_directory_outlives_its_crawl() {
        let dir = std::env::temp_dir().join(format!("crawl-cookies-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut jar = Jar::open(Some(&dir)).expect("jar");
        jar.take(&["session=abc".to_owned()], &url("http://a.test/"))
            .expect("saved");
        let again = Jar::open(Some(&dir)).expect("reopened");
        assert_eq!(
            again.header_for(&url("http://a.test/x")).as_deref(),
            Some("session=abc")
        );
        std::fs::write(dir.join(FILE_NAME), "not json").expect("spoiled");
        let err = Jar::open(Some(&dir))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("cookies.json is not a cookie jar"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
