//! The coordinator: the one place that decides what happens next in a crawl.
//!
//! A driver (a mode) does three things with it, and nothing else:
//! 1. [`Coordinator::next`] — get a [`Task`] to run, or learn when to ask again, or that the
//!    crawl is done;
//! 2. run the task somewhere (this thread, another thread, a tokio task, another process);
//! 3. [`Coordinator::complete`] — hand back the [`TaskResult`].
//!
//! Everything else lives here once: the global rate limit (checked where tasks are handed out,
//! so it holds across threads and processes alike), retries with backoff, robots.txt verdicts,
//! scheduling the links a page yielded, writing exactly one record per admitted URL, and the
//! statistics behind the progress bar and the summary. It never blocks and never spawns:
//! waiting is the driver's job, because only the driver knows whether it waits on a condition
//! variable, a tokio timer or `poll(2)`.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, Mode};
use crate::fetch::MAX_REDIRECTS;
use crate::frontier::{Frontier, Job, Pop};
use crate::journal::{Journal, JournalError, Resume};
use crate::normalize::fingerprint;
use crate::progress::{Progress, Snapshot};
use crate::ratelimit::Limiter;
use crate::record::{Record, round_ms};
use crate::report::Summary;
use crate::retry::{backoff, retryable_status};
use crate::robots::{Verdict, product_token};
use crate::scope::Scope;
use crate::scrape::ItemHook;
use crate::shared_set::SharedSet;
use crate::sink::Sink;
use crate::stats::Stats;
use crate::task::{FetchError, Task, TaskKind, TaskResult};

/// What a driver should do next.
#[derive(Debug)]
pub enum Next {
    /// Run this task.
    Task(Task),
    /// Nothing to hand out now. Ask again at `until`, or when a task completes if `until` is
    /// `None`. `rate_limited` says whether a limiter is why (for the time split).
    Wait {
        until: Option<Instant>,
        rate_limited: bool,
    },
    /// The crawl is finished (or failed fatally): stop asking.
    Done,
}

/// A fatal error while crawling (individual page failures are records, not errors).
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("writing records to {name}: {source}")]
    Output { name: String, source: io::Error },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the item callback failed on {url}: {message}")]
    Item { url: String, message: String },
}

/// The state of one crawl, shared by every mode.
pub struct Coordinator {
    mode: Mode,
    frontier: Frontier,
    limiter: Limiter,
    in_flight: HashMap<u64, Job>,
    next_id: u64,
    /// When a global-rate permit was taken that no task has spent yet (kept for the next task,
    /// as long as it stays fresh).
    holding_permit: Option<Instant>,
    /// Whether any task has been handed out yet (the crawl clock starts then).
    started: bool,
    retries: u32,
    max_bytes: u64,
    agent: String,
    scope: Arc<Scope>,
    sink: Sink,
    stats: Stats,
    progress: Progress,
    fatal: Option<CoordinatorError>,
    /// Set by [`Coordinator::stop`]: hand out nothing more, let what is in flight finish.
    stopping: bool,
    /// Tasks taken back unfinished by [`Coordinator::abandon`] (no record written).
    abandoned: u64,
    /// With `--state`: where finished pages and newly known URLs are noted.
    journal: Option<Journal>,
    /// Pages an earlier run (`--state`) already finished.
    resumed: u64,
    /// A library user's callback for each extracted item ([`crate::scrape::Crawl::for_each`]).
    item_hook: Option<ItemHook>,
}

impl Coordinator {
    /// A coordinator for `config`'s crawl, with every unique seed admitted.
    pub fn new(config: &Config, sink: Sink, progress: Progress) -> Self {
        Coordinator::resuming(config, sink, progress, None)
    }

    /// A coordinator that keeps a journal (`--state`) and first restores what an earlier run
    /// left in it: finished pages count as known, unfinished ones are queued again.
    pub fn resuming(
        config: &Config,
        sink: Sink,
        progress: Progress,
        journal: Option<(Journal, Resume)>,
    ) -> Self {
        let scope = Arc::new(Scope::new(&config.seeds, &config.allow_domains));
        let mut frontier = Frontier::new(
            Arc::clone(&scope),
            config.depth,
            config.max_pages,
            config.obey_robots,
        );
        let mut resumed = 0;
        let journal = journal.map(|(journal, resume)| {
            resumed = resume.finished.len() as u64;
            for &fp in &resume.finished {
                frontier.restore_finished(fp);
            }
            restore_pending(&mut frontier, resume.pending);
            journal
        });
        // From here on, what the frontier takes on goes in the journal (what was restored is
        // in it already).
        frontier.set_logging(journal.is_some());
        for seed in &config.seeds {
            frontier.admit(seed.clone(), 0);
        }
        Coordinator {
            mode: config.mode,
            frontier,
            limiter: Limiter::new(config.rate, config.per_host_rate),
            in_flight: HashMap::new(),
            next_id: 0,
            holding_permit: None,
            started: false,
            retries: config.retries,
            max_bytes: config.max_bytes,
            agent: product_token(&config.user_agent).to_owned(),
            scope,
            sink,
            stats: Stats::new(config.workers),
            progress,
            fatal: None,
            stopping: false,
            abandoned: 0,
            journal,
            resumed,
            item_hook: None,
        }
    }

    /// Hands every extracted item, with its record, to `hook` (on the thread that holds the
    /// coordinator, in record order). An error from it stops the crawl.
    pub(crate) fn set_item_hook(&mut self, hook: Option<ItemHook>) {
        self.item_hook = hook;
    }

    /// The crawl's scope, which workers' redirect policies must share.
    pub fn scope(&self) -> Arc<Scope> {
        Arc::clone(&self.scope)
    }

    /// The next task to run at `now`, or how long to wait.
    pub fn next(&mut self, now: Instant) -> Next {
        if !self.started {
            self.started = true;
            self.stats.restart_clock();
        }
        if self.stopping {
            return if self.in_flight.is_empty() {
                Next::Done
            } else {
                Next::Wait {
                    until: None,
                    rate_limited: false,
                }
            };
        }
        loop {
            if self.fatal.is_some() {
                return Next::Done;
            }
            if self
                .holding_permit
                .is_some_and(|taken| !self.limiter.permit_is_fresh(taken, now))
            {
                self.holding_permit = None;
            }
            if self.holding_permit.is_none() {
                match self.limiter.take_global() {
                    Ok(()) => self.holding_permit = Some(now),
                    Err(until) if self.frontier.queued() > 0 => {
                        return Next::Wait {
                            until: Some(until),
                            rate_limited: true,
                        };
                    }
                    Err(_) => return self.idle(),
                }
            }
            match self.frontier.pop(now, &self.limiter) {
                Pop::Job(job) | Pop::FetchRobots(job) => {
                    self.holding_permit = None;
                    return Next::Task(self.hand_out(job));
                }
                Pop::Blocked(job) => {
                    self.stats.robots_blocked += 1;
                    let record = blocked_record(&job);
                    self.emit(record, false, &job.url);
                }
                Pop::Wait {
                    until,
                    rate_limited,
                } => {
                    return Next::Wait {
                        until: Some(until),
                        rate_limited,
                    };
                }
                Pop::Empty => return self.idle(),
            }
        }
    }

    fn idle(&self) -> Next {
        if self.in_flight.is_empty() && self.frontier.queued() == 0 {
            Next::Done
        } else {
            Next::Wait {
                until: None,
                rate_limited: false,
            }
        }
    }

    fn hand_out(&mut self, mut job: Job) -> Task {
        job.attempts += 1;
        job.hop_attempts += 1;
        self.next_id += 1;
        let task = Task {
            id: self.next_id,
            kind: job.kind,
            url: job.fetch_url.clone(),
        };
        self.in_flight.insert(task.id, job);
        task
    }

    /// Takes back a task's result: retries it, records it, schedules its links.
    pub fn complete(&mut self, result: TaskResult) {
        let Some(mut job) = self.in_flight.remove(&result.id) else {
            // Not ours (a duplicate after a worker restart, say): nothing to account for.
            return;
        };
        job.fetch_ms += result.fetch_ms;
        job.parse_ms += result.parse_ms;
        self.stats.fetch_ms += result.fetch_ms;
        if !matches!(result.outcome, Err(FetchError::WorkerDied)) {
            self.stats.requests += 1;
        }
        if let Some(cpu) = result.worker_cpu_ms {
            self.stats.worker_cpu(&result.worker, cpu);
        }
        if let Some(rss) = result.worker_peak_rss_kb {
            self.stats.worker_rss(&result.worker, rss);
        }
        self.stats.parse_ms += result.parse_ms + result.cpu_wait_ms;

        let (retryable, retry_after) = match &result.outcome {
            Ok(f) => (
                retryable_status(f.status),
                f.retry_after_ms.map(Duration::from_millis),
            ),
            Err(e) => (e.retryable(), None),
        };
        if retryable && job.hop_attempts <= self.retries {
            self.retry(job, retry_after);
        } else {
            match job.kind {
                TaskKind::Robots => {
                    let verdict = Verdict::from_outcome(&result.outcome, &self.agent);
                    self.frontier.set_robots(&job.origin, verdict);
                }
                TaskKind::Page => self.finish_page(job, result),
            }
        }
        self.show_progress();
    }

    /// Puts a task whose worker vanished back in the queue (or records it as failed once its
    /// retries are used up), so no URL is ever lost.
    pub fn requeue_lost(&mut self, id: u64, worker: String) {
        if self.in_flight.contains_key(&id) {
            self.complete(TaskResult {
                id,
                worker,
                fetch_ms: 0.0,
                parse_ms: 0.0,
                cpu_wait_ms: 0.0,
                worker_cpu_ms: None,
                worker_peak_rss_kb: None,
                outcome: Err(FetchError::WorkerDied),
            });
        }
    }

    /// Takes back a task that never reached a worker (its worker was already gone): it goes
    /// back in the queue as if it had not been handed out, costing no attempt.
    pub fn requeue_unsent(&mut self, id: u64) {
        if let Some(mut job) = self.in_flight.remove(&id) {
            job.attempts -= 1;
            job.hop_attempts -= 1;
            self.frontier.retry_at(job, Instant::now());
        }
    }

    /// Stops the crawl early (Ctrl-C, SIGTERM): from now on [`Coordinator::next`] hands out
    /// nothing and answers `Done` once the tasks in flight have come back. Their results are
    /// still recorded; queued pages are left unfetched.
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// Takes back a task that will never complete (its grace period ran out after a stop): no
    /// record is written for it, and the summary counts it as unfinished.
    pub fn abandon(&mut self, id: u64) {
        if self.in_flight.remove(&id).is_some() {
            self.abandoned += 1;
        }
    }

    /// Forgets a worker process that has exited: its memory no longer counts as resident, and
    /// its CPU time is kept under no name (a later process may reuse its pid).
    pub fn worker_gone(&mut self, worker: &str) {
        self.stats.forget_worker(worker);
    }

    fn retry(&mut self, job: Job, retry_after: Option<Duration>) {
        self.stats.retries += 1;
        let entropy = crate::normalize::fingerprint(&job.url)
            ^ u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos()),
            )
            ^ u64::from(job.attempts).rotate_left(17)
            ^ self.next_id;
        let delay = backoff(job.attempts, retry_after, entropy);
        self.frontier.retry_at(job, Instant::now() + delay);
    }

    fn finish_page(&mut self, job: Job, result: TaskResult) {
        let mut record = Record {
            url: job.url.to_string(),
            final_url: None,
            status: None,
            depth: job.depth,
            content_type: None,
            bytes: 0,
            truncated: false,
            title: None,
            links: 0,
            attempts: job.attempts,
            fetch_ms: round_ms(job.fetch_ms),
            parse_ms: round_ms(job.parse_ms),
            worker: Some(result.worker),
            error: None,
            fields: serde_json::Map::new(),
        };
        match result.outcome {
            Err(e) => record.error = Some(e.to_string()),
            Ok(mut page) => {
                if let Some(location) = page.location.take() {
                    match self.refuse_redirect(&job, &location) {
                        None => return self.follow_redirect(job, location),
                        Some(reason) => record.error = Some(reason),
                    }
                }
                let success = (200..300).contains(&page.status);
                record.final_url = page.final_url.as_ref().map(ToString::to_string);
                record.status = Some(page.status);
                record.content_type = page.content_type;
                record.bytes = page.bytes;
                record.truncated = page.truncated;
                record.title = page.title;
                record.links = page.links_found;
                self.stats.bytes += page.bytes;
                record.error = if record.error.is_some() {
                    record.error
                } else if !success {
                    Some(format!("http {}", page.status))
                } else if page.truncated {
                    Some(format!("body over {} bytes", self.max_bytes))
                } else {
                    None
                };
                self.frontier.count_known_links(page.links_known);
                self.frontier.count_links_over_limit(page.links_over_limit);
                if success {
                    self.frontier.offer_links(job.depth, page.links);
                }
                if page.stop {
                    self.note(&format!(
                        "the extractor stopped the crawl at {}",
                        record.url
                    ));
                    self.stop();
                }
                if let Some(item) = page.item {
                    self.hand_over_item(&mut record, item);
                }
            }
        }
        let ok = record.error.is_none();
        self.emit(record, ok, &job.url);
    }

    /// Puts an extracted item in its record and gives it to the item callback, if there is
    /// one. An object's keys go inline, unless one of them is a key of the record itself (an
    /// item with its own `url` or `title`): then, as for anything that is not an object, the
    /// whole item goes under `item`, so no record key is ever overwritten or doubled.
    fn hand_over_item(&mut self, record: &mut Record, item: serde_json::Value) {
        // Copied only when a callback wants it too (`--field` has none): this runs per page.
        let for_hook = self.item_hook.is_some().then(|| item.clone());
        match item {
            serde_json::Value::Object(map)
                if !map
                    .keys()
                    .any(|k| Record::KEYS.contains(&k.as_str()) || k == "fields") =>
            {
                record.fields = map;
            }
            other => {
                record.fields.insert("item".to_owned(), other);
            }
        }
        let (Some(hook), Some(item)) = (self.item_hook.as_mut(), for_hook) else {
            return;
        };
        if self.fatal.is_some() {
            return;
        }
        // A panic in the user's callback must not unwind through the coordinator (in threads
        // mode it would end a worker thread with this page half-recorded): it stops the crawl
        // like an error does.
        let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(record, item)));
        let message = match called {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(panic) => format!("it panicked: {}", crate::worker::panic_message(&*panic)),
        };
        self.fatal = Some(CoordinatorError::Item {
            url: record.url.clone(),
            message,
        });
    }

    /// Why a redirect from `job`'s current hop to `location` may not be followed, if it may not.
    fn refuse_redirect(&self, job: &Job, location: &url::Url) -> Option<String> {
        if job.redirects >= MAX_REDIRECTS {
            return Some("too many redirects".to_owned());
        }
        if location.as_str().len() > crate::normalize::MAX_URL_LEN {
            return Some(format!(
                "redirect to a URL over {} bytes",
                crate::normalize::MAX_URL_LEN
            ));
        }
        if !crate::normalize::is_http(location) {
            return Some(format!(
                "redirect to unsupported scheme {}",
                location.scheme()
            ));
        }
        if !self.scope.allows(location) {
            let host = location.host_str().unwrap_or_default();
            return Some(format!("redirect to disallowed host {host}"));
        }
        None
    }

    /// Schedules the next hop of `job`'s redirect chain, to `location`.
    fn follow_redirect(&mut self, mut job: Job, location: url::Url) {
        job.origin = Arc::from(crate::normalize::origin_key(&location));
        job.fetch_url = crate::normalize::normalize(location);
        job.redirects += 1;
        job.hop_attempts = 0;
        self.frontier.follow_redirect(job);
    }

    /// Writes the record for the admitted URL `url`.
    fn emit(&mut self, record: Record, ok: bool, url: &url::Url) {
        self.frontier.finished(record.depth);
        if ok {
            self.stats.ok += 1;
        } else {
            self.stats.failed += 1;
        }
        if self.fatal.is_some() {
            return;
        }
        if let Err(source) = self.sink.write(&record) {
            self.fatal = Some(CoordinatorError::Output {
                name: self.sink.name().to_owned(),
                source,
            });
            return;
        }
        if self.journal.is_some() {
            let fp = fingerprint(url);
            if let Err(e) = self.journal_commit(Some(fp), false) {
                self.fatal = Some(e);
            }
        }
    }

    /// Notes what the frontier took on and, if given, a finished page, and hands it to the
    /// journal: the record reaches the OS before the journal line that says it is written.
    fn journal_commit(
        &mut self,
        finished: Option<u64>,
        sync: bool,
    ) -> Result<(), CoordinatorError> {
        let Some(journal) = self.journal.as_mut() else {
            return Ok(());
        };
        for (depth, url) in self.frontier.drain_log() {
            journal.known(depth, &url);
        }
        if let Some(fp) = finished {
            journal.finished(fp);
        }
        if let Err(source) = self.sink.flush() {
            return Err(CoordinatorError::Output {
                name: self.sink.name().to_owned(),
                source,
            });
        }
        let sink = &mut self.sink;
        if sync {
            journal.sync(|| sink.sync())?;
        } else {
            journal.commit(|| sink.sync())?;
        }
        Ok(())
    }

    /// Shares the set of known URLs with worker processes: every URL admitted from now on (and
    /// every one admitted so far) is added to `known`, which workers consult before sending
    /// links back.
    pub fn publish_known(&mut self, known: Arc<SharedSet>) {
        self.frontier.publish_known(known);
    }

    /// Prints a line for the user above the progress bar.
    pub fn note(&self, message: &str) {
        self.progress.note(message);
    }

    /// Adds worker time spent waiting on a rate limiter (drivers measure it; see
    /// [`crate::stats`] for how time is split).
    pub fn add_rate_wait(&mut self, waited: Duration) {
        self.stats.rate_wait_ms += waited.as_secs_f64() * 1000.0;
    }

    fn show_progress(&mut self) {
        if !self.progress.wants_update() {
            return;
        }
        let snap = Snapshot {
            done: self.stats.done(),
            in_flight: self.in_flight.len(),
            queued: self.frontier.queued(),
            live: self.stats.live_reading(Instant::now()),
        };
        self.progress.update(&snap);
    }

    /// Flushes the records and returns the summary, or the fatal error that stopped the crawl.
    pub fn finish(mut self) -> Result<Summary, CoordinatorError> {
        self.progress.finish();
        if self.fatal.is_none() {
            self.journal_commit(None, true)?;
        }
        if let Some(err) = self.fatal.take() {
            return Err(err);
        }
        self.sink
            .flush()
            .map_err(|source| CoordinatorError::Output {
                name: self.sink.name().to_owned(),
                source,
            })?;
        let elapsed = self.stats.started.elapsed();
        let reading = self.stats.reading();
        // Anything still in flight here was cut off by a stop, like an abandoned task.
        let unfinished = self.abandoned + self.in_flight.len() as u64;
        Ok(Summary {
            verdict: crate::verdict::judge(&reading),
            reading,
            peak_rss_kb: self.stats.peak_rss_kb(),
            mode: self.mode,
            workers: self.stats.workers,
            ok: self.stats.ok,
            failed: self.stats.failed,
            elapsed,
            bytes: self.stats.bytes,
            split: self.stats.split(elapsed),
            retries: self.stats.retries,
            robots_blocked: self.stats.robots_blocked,
            skipped: self.frontier.skipped(),
            output: self.sink.name().to_owned(),
            ipc: None,
            interrupted: None,
            unfinished,
            not_fetched: self.frontier.queued() as u64,
            resumed: self.resumed,
        })
    }
}

/// Queues again the URLs an earlier run knew but did not finish, shallowest first and through
/// the same admission rules as links found live, so depths come out as in one uninterrupted run.
fn restore_pending(frontier: &mut Frontier, pending: Vec<(u32, url::Url)>) {
    let mut level: Vec<url::Url> = Vec::new();
    let mut level_depth = 0;
    let flush = |frontier: &mut Frontier, depth: u32, urls: Vec<url::Url>| match depth {
        0 => urls.into_iter().for_each(|url| {
            frontier.admit(url, 0);
        }),
        d => frontier.offer_links(d - 1, urls),
    };
    for (depth, url) in pending {
        if depth != level_depth && !level.is_empty() {
            flush(frontier, level_depth, std::mem::take(&mut level));
        }
        level_depth = depth;
        level.push(url);
    }
    if !level.is_empty() {
        flush(frontier, level_depth, level);
    }
}

fn blocked_record(job: &Job) -> Record {
    Record {
        url: job.url.to_string(),
        // A redirect may have led here: say where the disallowed hop pointed.
        final_url: (job.redirects > 0).then(|| job.fetch_url.to_string()),
        status: None,
        depth: job.depth,
        content_type: None,
        bytes: 0,
        truncated: false,
        title: None,
        links: 0,
        attempts: job.attempts,
        fetch_ms: round_ms(job.fetch_ms),
        parse_ms: round_ms(job.parse_ms),
        worker: None,
        error: Some("blocked by robots.txt".to_owned()),
        fields: serde_json::Map::new(),
    }
}
