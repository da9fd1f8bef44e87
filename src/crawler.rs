//! The front door: the one place a crawl is assembled and run.
//!
//! [`run`] (and [`Crawl`], for a scraper with its own extractor) does the same five steps
//! whoever calls it, the `crawl` binary or a library user:
//! 1. validate the [`Config`] ([`Config::validate`]: a bad value is an error, never a panic or
//!    a hang), and listen for `--metrics` scrapes (a port in use is refused here);
//! 2. take over SIGINT and SIGTERM for the crawl's duration ([`crate::shutdown`]);
//! 3. open the journal (`--state`), the records' sink and the progress display;
//! 4. build the [`Coordinator`] and hand it to the mode's driver ([`crate::modes`]);
//! 5. flush, serve the final figures for `--metrics-linger`, and return the [`Summary`].

use std::sync::Arc;

use crate::cache::{Cache, CacheError};
use crate::config::{Config, ConfigError, Dedupe, Format, Mode, Plan, Setting};
use crate::cookies::{CookieError, Jar};
use crate::coordinator::items::{ItemError, ItemHook};
use crate::coordinator::ledger::Ledger;
use crate::coordinator::{self, Coordinator, CoordinatorError, Parts};
use crate::frontier::Frontier;
#[cfg(feature = "redis")]
use crate::frontier::redis::{RedisFrontier, RedisFrontierError, Store};
use crate::item_sink::{ItemSink, ItemsOpenError};
use crate::journal::{self, Journal, JournalError};
use crate::metrics::Metrics;
use crate::metrics::serve::Server;
use crate::modes::{self, DriverError, Setup};
use crate::progress::Progress;
use crate::record::Record;
use crate::report::Summary;
use crate::scope::Scope;
use crate::scrape::Extractor;
use crate::shm_set::ShmSet;
use crate::shutdown::{Shutdown, ShutdownError};
use crate::sink::{OpenError, Sink};
#[cfg(feature = "warc")]
use crate::warc::{WarcError, WarcWriter};

/// A build without the `redis` feature joins no shared crawl (`Config::validate` refuses
/// `shared`): a store that cannot exist, so the frontier is chosen in one place in every build.
#[cfg(not(feature = "redis"))]
enum Store {}

/// Why a crawl could not run to the end. (A page that fails is a record, not an error.)
// Non-exhaustive: variants come with features (`redis`, `warc`), and features must only add.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrawlError {
    /// The configuration breaks a rule of [`Config::validate`]; nothing was started.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The output file could not be opened.
    #[error(transparent)]
    Output(#[from] OpenError),
    /// The items file (`--items`) could not be opened, or, on a resume, read.
    #[error(transparent)]
    Items(#[from] ItemsOpenError),
    /// The `--state` directory could not be used: unreadable, locked by another crawl,
    /// holding another crawl's journal, or not a journal.
    #[error(transparent)]
    State(#[from] JournalError),
    /// SIGINT and SIGTERM could not be taken over: another crawl is running in this process,
    /// or the OS refused.
    #[error(transparent)]
    Signals(#[from] ShutdownError),
    /// The mode's driver could not start or keep its workers.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The crawl stopped on a fatal error: records or journal unwritable, or the item
    /// callback failed.
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    /// The `--cookies` jar kept in the state directory cannot be read.
    #[error(transparent)]
    Cookies(#[from] CookieError),
    /// The cache directory (`--cache`) could not be used: unreadable, another crawl's, in use,
    /// of a newer format, or damaged. Nothing in it was written over.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// The Redis frontier (`--frontier`) could not be used: Redis unreachable, a wrong
    /// password, a crawl id holding other data, settings that disagree with the crawl's.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(Box<RedisFrontierError>),
    /// The WARC archive (`--warc`) could not be created, or an earlier run's could not be
    /// read to resume it.
    #[cfg(feature = "warc")]
    #[error(transparent)]
    Warc(#[from] WarcError),
}

#[cfg(feature = "redis")]
impl From<RedisFrontierError> for CrawlError {
    fn from(e: RedisFrontierError) -> Self {
        CrawlError::Redis(Box::new(e))
    }
}

impl CrawlError {
    /// Whether the error is the user's to fix in flags or input (exit status 2).
    pub fn is_usage(&self) -> bool {
        match self {
            CrawlError::Config(_)
            | CrawlError::Output(_)
            | CrawlError::Items(_)
            | CrawlError::Driver(DriverError::Unsupported(_))
            | CrawlError::Cookies(CookieError::Unreadable { .. })
            | CrawlError::Cache(
                CacheError::Locked { .. }
                | CacheError::OtherCrawl { .. }
                | CacheError::Newer { .. }
                | CacheError::Damaged { .. },
            )
            | CrawlError::State(
                JournalError::OtherCrawl { .. }
                | JournalError::Locked { .. }
                | JournalError::Corrupt { .. },
            ) => true,
            #[cfg(feature = "warc")]
            CrawlError::Warc(_) => true,
            #[cfg(feature = "redis")]
            CrawlError::Redis(e) => matches!(
                **e,
                RedisFrontierError::Url { .. }
                    | RedisFrontierError::OtherData { .. }
                    | RedisFrontierError::NoSuchCrawl { .. }
                    | RedisFrontierError::Disagrees { .. }
                    | RedisFrontierError::Auth { .. }
            ),
            _ => false,
        }
    }
}

/// Runs `config`'s crawl to the end in its mode, writing records to its output.
///
/// For its duration, SIGINT and SIGTERM stop the crawl instead of killing the process: no new
/// pages are handed out, pages in flight get `config.grace` to finish, every finished record
/// is written, and the summary's `interrupted` names the signal. The previous handlers are put
/// back before it returns. One crawl runs at a time in a process.
///
/// In processes mode, call it before starting any thread or runtime: workers are forked, and
/// forking a multi-threaded process is refused with [`DriverError::NotSingleThreaded`].
pub fn run(config: &Config) -> Result<Summary, CrawlError> {
    run_plan(config.clone().validate()?)
}

/// [`run`] for a configuration already validated ([`Config::validate`]): the plan runs as it
/// is, with no second check.
pub fn run_plan(plan: Plan) -> Result<Summary, CrawlError> {
    run_with(plan, None)
}

/// [`run_plan`], handing each extracted item to `hook` as well.
fn run_with(config: Plan, hook: Option<ItemHook<'_>>) -> Result<Summary, CrawlError> {
    // The TLS provider the features chose, for the process: rustls' own default picks none
    // when both `aws-lc` and `ring` are on, and the Redis client's TLS (rediss://) asks it.
    crate::fetch::install_crypto_provider();
    // First of all, so a port in use is said before anything is written or taken over (and a
    // crawl refused here does not stand in another crawl's way in this process).
    let metrics = match config.metrics {
        Some(addr) => {
            let server = Server::bind(addr).map_err(|e| {
                ConfigError::new(Setting::Metrics, format!("cannot listen on {addr}: {e}"))
            })?;
            // With port 0 this is the only way to learn the port.
            if let Some(listening) = &config.on_metrics {
                (listening.0)(server.addr());
            }
            Some((Arc::new(server), Arc::new(Metrics::new(config.mode))))
        }
        None => None,
    };
    // Before the journal and the output, so a second crawl in this process is refused before
    // it touches either. It starts no thread, so the processes mode can still fork after it.
    let shutdown = Shutdown::install()?;
    let (journal, resume) = match &config.state {
        Some(dir) => {
            let identity = journal::identity(&config);
            let (journal, resume) = Journal::open(dir, identity)?;
            (Some(journal), Some(resume))
        }
        None => (None, None),
    };
    // Before the output too: a cache of another crawl, or one in use, is refused before
    // anything is written. redb starts no thread (processes mode forks later).
    let cache = match &config.cache {
        Some(dir) => {
            let mut cache = Cache::open(dir, crate::cache::identity(&config))?;
            cache.set_durable(config.state.is_some());
            Some(cache)
        }
        None => None,
    };
    // Before the output is opened: a Redis that cannot be reached, or a crawl this node
    // disagrees with, is said before anything is written. A joining node takes the crawl's
    // seeds and scope. It opens one socket and starts no thread (processes mode forks later).
    #[cfg(feature = "redis")]
    let (config, store) = join(config)?;
    #[cfg(not(feature = "redis"))]
    let store: Option<Store> = None;
    // A resumed crawl adds to the records its earlier runs wrote.
    let resuming = resume.as_ref().is_some_and(|r| r.is_resume());
    let sink = Sink::open_with(&config.output, &config.format, resuming)?;
    #[cfg(feature = "warc")]
    let warc = match &config.warc {
        Some(warc) => Some(WarcWriter::open(warc, resuming, warcinfo(&config))?),
        None => None,
    };
    let cookies = config
        .cookies
        .then(|| Jar::open(config.state.as_deref()))
        .transpose()?;
    // After the Redis join: a joining node crawls the shared crawl's scope.
    let scope = Arc::new(config.scope()?);
    let known = match config.dedupe {
        Dedupe::Coordinator => None,
        Dedupe::Shared => {
            let capacity = config.max_pages.map_or(1 << 20, |n| n as usize);
            let set =
                ShmSet::with_capacity(capacity).map_err(|e| DriverError::Runtime(e.into()))?;
            Some(Arc::new(set))
        }
    };
    let items = match &config.items {
        Some(items) => {
            let declared = config
                .extractor
                .as_ref()
                .map(|e| e.columns())
                .unwrap_or_default();
            Some(ItemSink::open(items, declared, resuming)?)
        }
        None => None,
    };
    let ledger = Ledger::new(sink, journal).with_items(items);
    #[cfg(feature = "warc")]
    let ledger = ledger.archiving(warc);
    let (frontier, resumed) = frontier(&config, &scope, &known, resume, &ledger, store);
    let mut coordinator = Coordinator::new(
        &config,
        Parts {
            scope: Arc::clone(&scope),
            ledger,
            progress: Progress::new(config.progress),
            frontier,
            resumed,
            item_hook: hook,
            cookies,
            metrics: metrics.as_ref().map(|(_, m)| Arc::clone(m)),
            cache,
        },
    );
    // Processes mode answers scrapes from its own poll(2) loop: its coordinator forks, so it
    // must not run a thread. The other modes serve from a thread of their own.
    let background = match (&metrics, config.mode) {
        (Some((server, metrics)), mode) if mode != Mode::Processes => Some(
            server
                .spawn(Arc::clone(metrics))
                .map_err(DriverError::Runtime)?,
        ),
        _ => None,
    };
    let setup = Setup {
        config: &config,
        scope,
        known,
        shutdown: &shutdown,
        metrics: metrics.as_ref().map(|(server, m)| (&**server, &**m)),
    };
    let ran = modes::driver(config.mode)(&mut coordinator, &setup);
    if let Some(background) = background {
        background.stop();
    }
    let ran = match ran {
        Ok(ran) => ran,
        Err(e) => {
            // A shared crawl's finished pages are still sent and its unfinished leases given
            // back, so other nodes need not wait out a lease (or fetch pages again).
            coordinator.leave();
            return Err(e.into());
        }
    };
    // `shutdown` is still installed here, so a signal while flushing cannot lose records.
    let mut summary = coordinator.finish()?;
    summary.ipc = ran.ipc;
    summary.interrupted = shutdown.requested();
    // Not after Ctrl-C or SIGTERM: the user asked the crawl to end (the drivers have drained
    // the signal from `shutdown.fd()`, so the linger would not see it and sit out its time).
    if let Some((server, metrics)) = &metrics
        && !config.metrics_linger.is_zero()
        && summary.interrupted.is_none()
    {
        // The final figures stay up for a scraper's next visit (Prometheus scrapes every
        // 15 s by default; a short crawl would end between two scrapes). A signal ends it.
        tracing::info!(
            linger_s = config.metrics_linger.as_secs_f64(),
            "finished; the final metrics stay up (--metrics-linger; Ctrl-C ends it)"
        );
        server.serve_until(
            metrics,
            shutdown.fd(),
            Some(std::time::Instant::now() + config.metrics_linger),
        );
    }
    Ok(summary)
}

/// With `config.shared`, this node joins the shared crawl in Redis (creating it if it has
/// seeds and the crawl is new), taking the crawl's seeds and scope; the store is its handle.
#[cfg(feature = "redis")]
fn join(mut config: Plan) -> Result<(Plan, Option<Store>), RedisFrontierError> {
    let Some(crawl) = config.shared.clone() else {
        return Ok((config, None));
    };
    let (store, stored) = Store::open(&config, &crawl)?;
    config.adopt(|config| stored.adopt(config));
    Ok((config, Some(store)))
}

/// The crawl's frontier: this process's queues (what an earlier `--state` run left restored,
/// and how many pages that was), on their own, or under the Redis frontier a node `store`
/// joined. The one place that knows which.
fn frontier(
    config: &Config,
    scope: &Arc<Scope>,
    known: &Option<Arc<ShmSet>>,
    resume: Option<journal::Resume>,
    ledger: &Ledger,
    store: Option<Store>,
) -> (Box<dyn Frontier>, u64) {
    let (mut queues, resumed) = coordinator::queues_for(
        config,
        Arc::clone(scope),
        known.clone(),
        resume,
        ledger.journaling(),
    );
    let frontier: Box<dyn Frontier> = match store {
        // A shared crawl's seeds were admitted in Redis when the node joined.
        #[cfg(feature = "redis")]
        Some(store) => Box::new(RedisFrontier::new(store, queues, config)),
        #[cfg(not(feature = "redis"))]
        Some(none) => match none {},
        None => {
            queues.admit_seeds(&config.seeds);
            Box::new(queues)
        }
    };
    (frontier, resumed)
}

/// The `warcinfo` block that opens each archive file: the software, the format, and the
/// settings that shape what the crawl captured.
#[cfg(feature = "warc")]
fn warcinfo(config: &Config) -> String {
    let mut info = format!(
        "software: crawl/{}\r\n\
         format: WARC File Format 1.1\r\n\
         conformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n\
         http-header-user-agent: {}\r\n\
         robots: {}\r\n",
        env!("CARGO_PKG_VERSION"),
        config.user_agent,
        if config.obey_robots { "obey" } else { "ignore" },
    );
    let max_pages = config
        .max_pages
        .map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
    info.push_str(&format!(
        "description: mode {}, depth {}, max-pages {max_pages}, max-bytes {}, retries {}\r\n",
        config.mode.name(),
        config.depth,
        config.max_bytes,
        config.retries,
    ));
    // The first seeds name the crawl; a list of millions would not.
    for seed in config.seeds.iter().take(10) {
        info.push_str(&format!("seed: {seed}\r\n"));
    }
    info.push_str(&format!("seeds: {}\r\n", config.seeds.len()));
    info
}

/// A crawl with your extractor: the front door for scrapers.
///
/// See [`crate::scrape`] for the extractor's side, and a complete scraper.
pub struct Crawl<E: Extractor> {
    config: Config,
    extractor: E,
}

impl<E: Extractor> Crawl<E> {
    /// A crawl of `config` (built in code, with the same options as the flags) that runs
    /// `extractor` on every successful HTML page.
    pub fn new(config: Config, extractor: E) -> Self {
        Crawl { config, extractor }
    }

    /// Runs the crawl; items go into the records (`config.output`, `config.format`).
    pub fn run(self) -> Result<Summary, CrawlError> {
        run_with(self.prepare()?, None)
    }

    /// Runs the crawl and hands every item to `on_item`, typed, with its page's record: one
    /// call at a time, in the order records are written. Records still go to `config.output`;
    /// set it to a file, or to [`crate::Output::Discard`], if you only want the items.
    /// An error (or a panic) in `on_item` stops the crawl and is returned.
    ///
    /// `on_item` runs where the crawl's coordinator runs, so keep it quick and simple: in
    /// threads mode it holds the lock every worker needs; in async mode it runs inside the
    /// tokio runtime (do not `block_on` there); in processes mode it runs in the coordinator,
    /// which must stay single-threaded to fork (start no threads in it). Writing a file, as the
    /// examples do, is fine everywhere; for slow work, send the items down a channel.
    ///
    /// `on_item` may borrow from the caller (a `Vec` to push into, a counter): the crawl is
    /// over, every thread and process of it ended, when `for_each` returns.
    ///
    /// ```no_run
    /// use crawl::scrape::{Extracted, Page};
    /// use crawl::{Config, Crawl, Url};
    ///
    /// let config = Config::new(vec![Url::parse("http://127.0.0.1:8080/")?]);
    /// let status = |page: &Page<'_>| Extracted::item(page.status);
    /// let mut seen: Vec<(String, u16)> = Vec::new();
    /// Crawl::new(config, status).for_each(|record, status| {
    ///     seen.push((record.url.clone(), status));
    ///     Ok(())
    /// })?;
    /// println!("{} pages", seen.len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_each<'h>(
        self,
        mut on_item: impl FnMut(&Record, E::Item) -> Result<(), ItemError> + Send + 'h,
    ) -> Result<Summary, CrawlError> {
        let config = self.prepare()?;
        let hook: ItemHook<'h> = Box::new(move |record, value| {
            let item: E::Item = serde_json::from_value(value)
                .map_err(|e| format!("{}: item does not read back: {e}", record.url))?;
            on_item(record, item)
        });
        run_with(config, Some(hook))
    }

    /// The plan: the config with the extractor (and its CSV columns), validated.
    fn prepare(self) -> Result<Plan, ConfigError> {
        let mut config = self.config;
        if let Format::Csv { columns } = &mut config.format
            && columns.is_empty()
        {
            *columns = Extractor::columns(&self.extractor);
        }
        config.extractor = Some(Arc::new(self.extractor));
        config.validate()
    }
}
