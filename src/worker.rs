//! What a worker does with one task, in two halves: [`download`] (I/O, and for an HTML page
//! with a Content-Type the link extractor too, fed chunk by chunk as the body arrives) and
//! [`Downloaded::finish`] (the rest of the CPU work: a user's extractor, `--cpu-work`, a
//! sitemap, a page that had to be kept whole).
//!
//! The halves are separate so a mode can choose where the CPU half runs: the async mode moves
//! it off the reactor when it is heavy, the other modes run both on the worker's own thread.
//! [`BlockingWorker`] packages both halves for the modes that own a thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::cpu_work::burn;
use crate::decode::decode_html;
use crate::extract::{Extracted, MAX_LINKS, PageStream, extract};
use crate::fetch::{ClientError, Fetcher, Head, Response};
use crate::robots::MAX_ROBOTS_BYTES;
use crate::scope::Scope;
use crate::scrape::{PageExtractor, run_extractor};
use crate::task::{Capture, FetchError, Fetched, Task, TaskKind, TaskResult, WorkerId};
use url::Url;

/// Kept bodies (no Content-Type to say they are HTML, so they were not streamed) up to this
/// size are parsed where they arrive even in async mode: the extractor gets through 64 KiB in
/// well under a millisecond, less than handing the page to another thread and back would cost.
pub const INLINE_PARSE_BYTES: usize = 64 * 1024;

/// Turns true when tasks in flight must be given up (see [`BlockingWorker::run_cancellable`]).
pub type Cancel = tokio::sync::watch::Receiver<bool>;

/// The per-worker settings every task needs.
#[derive(Debug, Clone)]
pub struct TaskLimits {
    /// The whole-request timeout, body included ([`download`] enforces it).
    pub timeout: Duration,
    pub max_bytes: u64,
    pub cpu_work: u64,
    /// A user's extractor (`--field`, or [`crate::Crawl`]), run on every 2xx HTML page.
    pub extractor: Option<Arc<dyn PageExtractor>>,
    /// `--cookies`: hand the responses' `Set-Cookie` values back to the coordinator's jar.
    pub cookies: bool,
    /// `--cache`: read what a page's response says for a later crawl ([`crate::revisit`]).
    pub revisit: bool,
}

impl TaskLimits {
    pub fn from_config(config: &Config) -> Self {
        TaskLimits {
            timeout: config.timeout,
            max_bytes: config.max_bytes,
            cpu_work: config.cpu_work,
            extractor: config.extractor.clone(),
            cookies: config.cookies,
            revisit: config.cache.is_some(),
        }
    }
}

/// A task whose response (or failure) has arrived, not yet parsed.
#[derive(Debug)]
pub struct Downloaded {
    task: Task,
    result: Result<Response, FetchError>,
    fetch_ms: f64,
    /// `--warc`: the exchanges that got a response, for the archive.
    captures: Vec<Capture>,
}

/// Time a thread that runs tasks' I/O spent unable to run it: an async reactor's turns of the
/// coordinator, which may block (a record written to a full pipe, a Redis round trip, a
/// journal sync) while that reactor's own requests wait, their responses arriving unread.
/// [`download`]'s timeout does not count this time, so a stall of the crawler's own making
/// never turns an answered request into a timeout.
#[derive(Debug, Default)]
pub struct Stalls(AtomicU64);

impl Stalls {
    /// Adds `stalled` to the total.
    pub fn add(&self, stalled: Duration) {
        let nanos = u64::try_from(stalled.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Ordering::Relaxed);
    }

    /// All the time stalled so far.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// Fetches `task`'s URL within the crawl's timeout (not counting `stalls`, when the caller's
/// thread has them); the I/O half of a task.
pub async fn download(
    fetcher: &Fetcher,
    task: Task,
    limits: &TaskLimits,
    stalls: Option<&Stalls>,
) -> Downloaded {
    let cap = match task.kind {
        TaskKind::Page => limits.max_bytes,
        TaskKind::Robots => MAX_ROBOTS_BYTES,
        // A .xml.gz is smaller than this; the uncompressed bound is `sitemap::read`'s.
        TaskKind::Sitemap => crate::sitemap::MAX_SITEMAP_BYTES,
        TaskKind::Login => limits.max_bytes,
    };
    let started = Instant::now();
    // Filled by the fetch as responses arrive, so a robots.txt redirect hop that got one is
    // archived even when a later hop fails or the whole fetch times out.
    let mut tape = Vec::new();
    let tape_ref = &mut tape;
    let fetch = async {
        match task.kind {
            // A page's body goes through the link extractor as it arrives, unless the user's
            // extractor wants the whole text (it builds a DOM).
            TaskKind::Page if limits.extractor.is_none() => {
                let stream = |head: Head<'_>| {
                    ((200..300).contains(&head.status) && is_html_type(head.content_type))
                        .then(|| PageStream::new(head.content_type))
                };
                let cookie = task.cookie.as_deref();
                let validators = task.earlier.as_ref().map(|e| &e.validators);
                fetcher
                    .get_streamed(&task.url, cap, cookie, validators, stream, tape_ref)
                    .await
            }
            TaskKind::Page | TaskKind::Sitemap => {
                let validators = task.earlier.as_ref().map(|e| &e.validators);
                fetcher
                    .get_if(&task.url, cap, task.cookie.as_deref(), validators, tape_ref)
                    .await
            }
            TaskKind::Robots => {
                fetcher
                    .get_robots(&task.url, cap, task.cookie.as_deref(), tape_ref)
                    .await
            }
            TaskKind::Login => match &task.request {
                Some(request) => {
                    fetcher
                        .send(request, cap, task.cookie.as_deref(), tape_ref)
                        .await
                }
                None => Err(FetchError::Other(
                    "a login task came without its request".into(),
                )),
            },
        }
    };
    let result = within(limits.timeout, stalls, fetch).await;
    Downloaded {
        task,
        result,
        fetch_ms: started.elapsed().as_secs_f64() * 1000.0,
        captures: tape,
    }
}

/// The least extension of a deadline that [`within`] grants.
const MIN_EXTENSION: Duration = Duration::from_millis(1);

/// Runs `fetch` for at most `timeout` (body included), not counting two kinds of time that are
/// the crawler's, not the server's: what `stalls` grew by meanwhile (the thread was busy
/// elsewhere), and the time spent inside `fetch`'s own polls (decompressing and parsing the
/// body as it arrives). When the timer goes off, those extend the deadline; only a deadline
/// that nothing extends is a timeout.
async fn within<T>(
    timeout: Duration,
    stalls: Option<&Stalls>,
    fetch: impl Future<Output = Result<T, FetchError>>,
) -> Result<T, FetchError> {
    let stalled = || stalls.map_or(Duration::ZERO, Stalls::total);
    let (start, stalled_before) = (tokio::time::Instant::now(), stalled());
    let working = Stalls::default();
    let mut fetch = std::pin::pin!(fetch);
    let mut fetch = std::pin::pin!(std::future::poll_fn(|cx| {
        let polled = Instant::now();
        let poll = fetch.as_mut().poll(cx);
        working.add(polled.elapsed());
        poll
    }));
    let mut deadline = start + timeout;
    loop {
        match tokio::time::timeout_at(deadline, &mut fetch).await {
            Ok(result) => return result,
            Err(_) => {
                let extended = start + timeout + (stalled() - stalled_before) + working.total();
                // Each expiry polls `fetch` once more, which itself adds a few microseconds:
                // an extension that small is that poll, not time owed.
                if extended <= deadline + MIN_EXTENSION {
                    return Err(FetchError::Timeout);
                }
                deadline = extended;
            }
        }
    }
}

fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    match content_type {
        Some(_) => is_html_type(content_type),
        // No Content-Type: sniff, as browsers do, for markup at the start.
        None => body.trim_ascii_start().starts_with(b"<"),
    }
}

/// Whether a Content-Type says HTML (without one, the body must be sniffed, so it is kept).
/// Asked of every response, so it compares in place rather than lower-casing a copy.
fn is_html_type(content_type: Option<&str>) -> bool {
    let mentions =
        |ct: &[u8], what: &[u8]| ct.windows(what.len()).any(|w| w.eq_ignore_ascii_case(what));
    content_type.is_some_and(|ct| {
        mentions(ct.as_bytes(), b"text/html") || mentions(ct.as_bytes(), b"application/xhtml")
    })
}

impl Downloaded {
    /// Whether [`finish`](Self::finish) has CPU work to do: an HTML page kept whole or a
    /// sitemap that succeeded (a sitemap can be 50 MB of XML once inflated), or a page parsed
    /// as it streamed in, whose `--cpu-work` is still to do (without it,
    /// [`parse_is_cheap`](Self::parse_is_cheap) says so).
    /// With `--warc`, so is any exchange to digest and compress for the archive.
    pub fn has_cpu_work(&self) -> bool {
        self.needs_parse() || self.is_sitemap() || self.was_streamed() || !self.captures.is_empty()
    }

    /// A page parsed as it streamed in: what is left (`--cpu-work`, packing) is
    /// [`parse_is_cheap`](Self::parse_is_cheap) unless there is `--cpu-work`.
    fn was_streamed(&self) -> bool {
        self.result.as_ref().is_ok_and(|r| r.streamed.is_some())
    }

    fn is_sitemap(&self) -> bool {
        self.task.kind == TaskKind::Sitemap
            && self
                .result
                .as_ref()
                .is_ok_and(|r| (200..300).contains(&r.status))
    }

    /// Whether [`finish`](Self::finish) parses HTML: a page that succeeded and was not
    /// already parsed as it streamed in.
    pub fn needs_parse(&self) -> bool {
        match &self.result {
            Ok(r) => {
                self.task.kind == TaskKind::Page
                    && r.streamed.is_none()
                    && (200..300).contains(&r.status)
                    && is_html(r.content_type.as_deref(), &r.body)
            }
            Err(_) => false,
        }
    }

    /// Whether parsing this page is cheap enough to do wherever it arrived, even on an async
    /// reactor thread: no `--cpu-work`, a body small enough to tokenize in tens of
    /// microseconds ([`INLINE_PARSE_BYTES`]), and (`--warc`) as little to digest and compress
    /// for the archive: a streamed page's body is empty here, but its raw copy may be megabytes.
    pub fn parse_is_cheap(&self, limits: &TaskLimits) -> bool {
        let archived: usize = self.captures.iter().map(|c| c.body.len()).sum();
        // A user's extractor needs a whole DOM and runs code we cannot bound.
        limits.cpu_work == 0
            && limits.extractor.is_none()
            && archived <= INLINE_PARSE_BYTES
            && self
                .result
                .as_ref()
                .is_ok_and(|r| r.body.len() <= INLINE_PARSE_BYTES)
    }

    /// The CPU half: decodes and parses a successful HTML page (plus `--cpu-work`), and packs
    /// the result. Cheap for anything that needs no parsing.
    pub fn finish(self, limits: &TaskLimits, worker: WorkerId) -> TaskResult {
        let started = Instant::now();
        let parse = self.needs_parse();
        let cpu_work = self.has_cpu_work();
        let Downloaded {
            task,
            result,
            fetch_ms,
            captures,
        } = self;
        // Packed here, in the CPU half, so that every worker shares the compressing.
        #[cfg(feature = "warc")]
        let (archived, archived_as) = {
            // A page task has one exchange; its payload's place is what a later crawl's
            // revisit record refers to (`--cache`).
            let mut archived_as = None;
            let earlier = task.earlier.as_ref().and_then(|e| e.archived_as.as_ref());
            let archived = captures
                .iter()
                .map(|capture| {
                    let (packed, at) = crate::warc::pack(capture, earlier);
                    archived_as = at;
                    packed
                })
                .collect();
            (archived, archived_as)
        };
        // Nothing is captured without an archive, and this build has none (`--warc` is
        // refused).
        #[cfg(not(feature = "warc"))]
        let (archived, archived_as) = {
            debug_assert!(captures.is_empty());
            (Vec::new(), None)
        };
        let mut streamed_ms = 0.0;
        let outcome = result.map(|mut r| {
            let mut fetched = Fetched {
                status: r.status,
                bytes: r.len,
                truncated: r.truncated,
                retry_after_ms: r
                    .retry_after
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                ..Fetched::default()
            };
            if let Some((extracted, took)) = r.streamed.take() {
                streamed_ms = took.as_secs_f64() * 1000.0;
                yielded(&mut fetched, extracted, limits, r.len ^ task.id);
            }
            if parse {
                let text = decode_html(&r.body, r.content_type.as_deref());
                let extracted = extract(&text, &r.final_url);
                yielded(&mut fetched, extracted, limits, r.len ^ task.id);
                if let Some(extractor) = &limits.extractor {
                    // A panic in the user's extractor costs that page its item, not the worker
                    // (in processes mode, the worker process) or a retry.
                    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_extractor(
                            extractor.as_ref(),
                            &r.final_url,
                            r.status,
                            &r.headers,
                            &text,
                            &fetched.links,
                            r.truncated,
                        )
                    }));
                    match ran {
                        Ok(out) => {
                            fetched.item = out.item;
                            fetched.stop = out.stop;
                            if let Some(mut follow) = out.follow {
                                fetched.links_declined = declined(&fetched.links, &follow);
                                // An extractor's links obey the same per-page bound as the
                                // crawler's own ("what one page can cost").
                                if follow.len() > MAX_LINKS {
                                    fetched.links_over_limit += follow.len() - MAX_LINKS;
                                    follow.truncate(MAX_LINKS);
                                }
                                fetched.links = follow;
                            }
                        }
                        Err(panic) => {
                            let why = format!("extractor panicked: {}", panic_message(&*panic));
                            fetched.item = Some(serde_json::json!({ "extract_error": why }));
                        }
                    }
                }
            }
            if task.kind == TaskKind::Sitemap && (200..300).contains(&r.status) {
                let listed = crate::sitemap::read(&r.body, &r.final_url);
                fetched.links_found = listed.pages.len() + listed.sitemaps.len();
                fetched.links = listed.pages;
                fetched.sitemaps = listed.sitemaps;
                fetched.sitemap_error = listed.error;
            }
            if task.kind == TaskKind::Robots {
                fetched.body = Some(r.body);
            }
            if limits.cookies {
                fetched.set_cookies = r
                    .headers
                    .get_all(reqwest::header::SET_COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect();
            }
            if limits.revisit && task.kind == TaskKind::Page {
                // A body was read unless the response had none to give (a 304, a HEAD).
                let digest = r
                    .digest
                    .filter(|_| r.len > 0 || !matches!(r.status, 204 | 304));
                fetched.revisit = crate::revisit::read(&r.headers, digest);
                fetched.revisit.archived_as = archived_as;
            }
            fetched.final_url = Some(r.final_url);
            fetched.location = r.location;
            fetched.content_type = r.content_type;
            fetched
        });
        let parse_ms = if cpu_work {
            started.elapsed().as_secs_f64() * 1000.0
        } else {
            0.0
        };
        TaskResult {
            worker,
            // A streamed page was parsed while it downloaded: that time was CPU, not waiting.
            fetch_ms: (fetch_ms - streamed_ms).max(0.0),
            parse_ms: parse_ms + streamed_ms,
            cpu_wait_ms: 0.0,
            worker_cpu_ms: None,
            worker_peak_rss_kb: None,
            outcome,
            archived,
        }
    }
}

/// Fills `fetched` with what an HTML page yielded, streamed or parsed whole, after its
/// `--cpu-work`, seeded by the page (`seed`) so the work cannot be hoisted out and shared.
fn yielded(fetched: &mut Fetched, extracted: Extracted, limits: &TaskLimits, seed: u64) {
    if limits.cpu_work > 0 {
        burn(limits.cpu_work, seed);
    }
    fetched.title = extracted.title;
    fetched.links_found = extracted.links_found;
    fetched.links_over_limit = extracted.links_found - extracted.links.len();
    fetched.links = extracted.links;
}

/// How many of the crawler's `found` links an extractor's `follow` list leaves out (the
/// summary's "declined by the extractor"); links it adds of its own are not counted.
fn declined(found: &[Url], follow: &[Url]) -> usize {
    let kept: std::collections::HashSet<&str> = follow.iter().map(Url::as_str).collect();
    found.iter().filter(|u| !kept.contains(u.as_str())).count()
}

/// The text a panic carried, if it was a string (as `panic!` and `unwrap` make it).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// A worker that owns its thread: a current-thread tokio runtime and an HTTP client, used by
/// the sequential, threads and processes modes. Both halves of a task run on the caller's
/// thread, one task at a time.
pub struct BlockingWorker {
    /// Always `Some` until dropped (see the `Drop` impl).
    runtime: Option<tokio::runtime::Runtime>,
    fetcher: Fetcher,
    limits: TaskLimits,
    id: WorkerId,
}

impl Drop for BlockingWorker {
    /// Dropping a runtime waits for its blocking threads, where a DNS lookup may hang for as
    /// long as the resolver likes; a stopped crawl must not wait for that.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The worker's own tokio runtime (current-thread) could not be built.
    #[error("cannot start the worker's I/O runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

impl BlockingWorker {
    /// Worker `id` of `config`'s crawl.
    pub fn new(config: &Config, scope: Arc<Scope>, id: WorkerId) -> Result<Self, WorkerError> {
        let fetcher = Fetcher::new(config, scope)?;
        Self::with_fetcher(fetcher, TaskLimits::from_config(config), id)
    }

    /// A worker around an HTTP client built earlier. The processes mode builds the client once,
    /// before forking, so each worker inherits it instead of loading the TLS roots again.
    pub fn with_fetcher(
        fetcher: Fetcher,
        limits: TaskLimits,
        id: WorkerId,
    ) -> Result<Self, WorkerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(BlockingWorker {
            runtime: Some(runtime),
            fetcher,
            limits,
            id,
        })
    }

    /// Which worker this is (records carry it).
    pub fn id(&self) -> WorkerId {
        self.id
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        // Only `drop` takes it, and nothing runs after that.
        self.runtime.as_ref().unwrap_or_else(|| unreachable!())
    }

    /// Runs one task to completion on this thread.
    pub fn run(&self, task: Task) -> TaskResult {
        let downloaded = self
            .runtime()
            .block_on(download(&self.fetcher, task, &self.limits, None));
        downloaded.finish(&self.limits, self.id)
    }

    /// Runs one task, unless `cancel` turns true while it is downloading: then the request is
    /// dropped and `None` comes back (a stopped crawl's grace period has run out).
    pub fn run_cancellable(&self, task: Task, cancel: &Cancel) -> Option<TaskResult> {
        let mut cancel = cancel.clone();
        let downloaded = {
            // Entered first, so a download dropped unfinished (cancelled) is dropped in the
            // runtime's context, as it was inside the select; left before parsing, which runs
            // outside it as in `run`.
            let _context = self.runtime().enter();
            // Pinned where it is made: the download's future is kilobytes, and moving it into
            // the runtime's and the select's state would copy it each time (callgrind: memcpy).
            let mut download = std::pin::pin!(download(&self.fetcher, task, &self.limits, None));
            self.runtime().block_on(async {
                tokio::select! {
                    downloaded = &mut download => Some(downloaded),
                    _ = cancel.wait_for(|&cancelled| cancelled) => None,
                }
            })
        }?;
        if *cancel.borrow() {
            // Cancelled while the last bytes arrived: parsing would only delay the exit.
            return None;
        }
        Some(downloaded.finish(&self.limits, self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    }

    /// An answer that takes 250 ms, against a 100 ms timeout.
    async fn slow_answer() -> Result<u8, FetchError> {
        tokio::time::sleep(Duration::from_millis(250)).await;
        Ok(7)
    }

    #[test]
    fn a_request_past_its_timeout_is_a_timeout() {
        let stalls = Stalls::default();
        let got = runtime().block_on(within(
            Duration::from_millis(100),
            Some(&stalls),
            slow_answer(),
        ));
        assert!(matches!(got, Err(FetchError::Timeout)), "{got:?}");
    }

    #[test]
    fn time_spent_working_on_the_response_does_not_count_against_the_timeout() {
        let got = runtime().block_on(within(Duration::from_millis(100), None, async {
            // Parsing a long body: 150 ms of the thread's time, then the answer.
            std::thread::sleep(Duration::from_millis(150));
            tokio::task::yield_now().await;
            Ok::<_, FetchError>(7)
        }));
        assert!(matches!(got, Ok(7)), "{got:?}");
        // Waiting for the server still counts, whatever else the request did.
        let got = runtime().block_on(within(Duration::from_millis(100), None, async {
            std::thread::sleep(Duration::from_millis(20));
            slow_answer().await
        }));
        assert!(matches!(got, Err(FetchError::Timeout)), "{got:?}");
    }

    #[test]
    fn time_the_thread_was_stalled_does_not_count_against_the_timeout() {
        let stalls = Stalls::default();
        let got = runtime().block_on(async {
            let stall = async {
                // The thread's other work held it up for 200 ms while the request waited.
                tokio::time::sleep(Duration::from_millis(50)).await;
                stalls.add(Duration::from_millis(200));
                std::future::pending::<()>().await;
            };
            tokio::select! {
                got = within(Duration::from_millis(100), Some(&stalls), slow_answer()) => got,
                () = stall => unreachable!(),
            }
        });
        assert!(matches!(got, Ok(7)), "{got:?}");
    }
}
