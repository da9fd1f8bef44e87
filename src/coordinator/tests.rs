//! The coordinator's state machine, driven by a fake driver that answers each task from a
//! script instead of the network, with records going to memory. The fake runs one task at a
//! time and never sleeps: when told to wait until a time, it asks again *at* that time (the
//! coordinator and frontier take `now` from their caller).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use url::Url;

use super::ledger::Ledger;
use super::{Coordinator, Next, Outcome, Parts};
use crate::config::{Config, Format, Output};
use crate::journal::{self, Journal};
use crate::progress::Progress;
use crate::record::Record;
use crate::report::Summary;
use crate::scope::Scope;
use crate::sink::Sink;
use crate::task::{FetchError, Fetched, Task, TaskKind, TaskResult, WorkerId};

/// Records written to memory.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<u8>>>);

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Memory {
    fn records(&self) -> Vec<Record> {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a record"))
            .collect()
    }
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("url")
}

fn config(seeds: &[&str]) -> Config {
    let mut config = Config::new(seeds.iter().map(|s| url(s)).collect());
    config.workers = Some(4);
    config.obey_robots = false;
    config.output = Output::Discard;
    config
}

fn coordinator(
    config: &Config,
    memory: &Memory,
    journal: Option<&std::path::Path>,
) -> Coordinator<'static> {
    let config = config.clone().validate().expect("valid config");
    let (journal, resume) = match journal {
        Some(dir) => {
            let id = journal::identity(&config);
            let (journal, resume) = Journal::open(dir, id).expect("journal");
            (Some(journal), Some(resume))
        }
        None => (None, None),
    };
    let sink = Sink::from_writer(
        Box::new(memory.clone()),
        "memory".into(),
        &Format::Jsonl,
        false,
    );
    let scope = Arc::new(Scope::new(&config.seeds, &config.allow_domains));
    let ledger = Ledger::new(sink, journal);
    let (mut queues, resumed) = super::queues_for(
        &config,
        Arc::clone(&scope),
        None,
        resume,
        ledger.journaling(),
    );
    queues.admit_seeds(&config.seeds);
    Coordinator::new(
        &config,
        Parts {
            scope,
            ledger,
            progress: Progress::hidden(),
            frontier: Box::new(queues),
            resumed,
            item_hook: None,
            cookies: None,
            metrics: None,
            cache: None,
        },
    )
}

/// A response with `status` whose page links to `links`.
fn page(status: u16, links: &[&str]) -> Fetched {
    Fetched {
        status,
        links_found: links.len(),
        links: links.iter().map(|l| url(l)).collect(),
        ..Fetched::default()
    }
}

fn redirect(to: &str) -> Fetched {
    Fetched {
        status: 301,
        location: Some(url(to)),
        ..Fetched::default()
    }
}

fn done(fetched: Fetched) -> Outcome {
    TaskResult {
        worker: WorkerId::Main,
        fetch_ms: 1.0,
        parse_ms: 0.0,
        cpu_wait_ms: 0.0,
        worker_cpu_ms: None,
        worker_peak_rss_kb: None,
        outcome: Ok(fetched),
        archived: Vec::new(),
    }
    .into()
}

/// Runs the crawl to the end, one task at a time, answering each with `answer`; returns the
/// summary and the URLs of the tasks in the order they were handed out.
fn drive(
    coordinator: Coordinator,
    answer: impl FnMut(&Task, &mut Coordinator) -> Option<Outcome>,
) -> (Summary, Vec<String>) {
    let (coordinator, asked) = run_to_end(coordinator, answer);
    (coordinator.finish().expect("summary"), asked)
}

/// [`drive`] up to the end, before `finish`, for a crawl that ends in an error.
fn run_to_end(
    mut coordinator: Coordinator,
    mut answer: impl FnMut(&Task, &mut Coordinator) -> Option<Outcome>,
) -> (Coordinator, Vec<String>) {
    let mut asked = Vec::new();
    let mut now = Instant::now();
    for _ in 0..10_000 {
        match coordinator.next(now) {
            Next::Task(task) => {
                asked.push(task.url.to_string());
                if let Some(outcome) = answer(&task, &mut coordinator) {
                    coordinator.complete(task.id, outcome);
                }
            }
            Next::Wait { until: Some(until) } => {
                // Backoffs are skipped (the frontier's clock is ours to move), but the rate
                // limiter keeps real time, so real time must pass too, a little at a time.
                let ahead = until.saturating_duration_since(Instant::now());
                std::thread::sleep(ahead.min(std::time::Duration::from_millis(5)));
                now = now.max(until);
            }
            Next::Wait { until: None } => break,
            Next::Done => break,
        }
    }
    (coordinator, asked)
}

fn by_url(records: Vec<Record>) -> HashMap<String, Record> {
    let mut map = HashMap::new();
    for r in records {
        assert!(map.insert(r.url.clone(), r).is_none(), "one record per URL");
    }
    map
}

#[test]
fn links_are_followed_to_depth_with_one_record_each() {
    let mut c = config(&["http://a.test/"]);
    c.depth = 1;
    let memory = Memory::default();
    let (summary, asked) = drive(coordinator(&c, &memory, None), |task, _| {
        Some(done(match task.url.path() {
            "/" => page(
                200,
                &["http://a.test/x", "http://a.test/y", "http://b.test/"],
            ),
            "/x" => page(200, &["http://a.test/z", "http://a.test/"]),
            _ => page(404, &[]),
        }))
    });
    assert_eq!(
        asked,
        ["http://a.test/", "http://a.test/x", "http://a.test/y"]
    );
    let records = by_url(memory.records());
    assert_eq!(records.len(), 3);
    assert_eq!(records["http://a.test/x"].depth, 1);
    assert_eq!(
        records["http://a.test/y"].error.as_deref(),
        Some("http 404")
    );
    assert_eq!((summary.ok, summary.failed), (2, 1));
    let k = summary.skipped;
    assert_eq!((k.duplicate, k.out_of_scope, k.too_deep), (1, 1, 1));
}

#[test]
fn retries_back_off_then_give_up_with_the_last_error() {
    let mut c = config(&["http://a.test/flaky", "http://a.test/down"]);
    c.retries = 2;
    let memory = Memory::default();
    let mut flaky = 0;
    let (summary, _) = drive(coordinator(&c, &memory, None), |task, _| {
        Some(match task.url.path() {
            "/flaky" => {
                flaky += 1;
                done(page(if flaky < 3 { 503 } else { 200 }, &[]))
            }
            _ => TaskResult {
                outcome: Err(FetchError::ConnectRefused),
                ..TaskResult::lost(WorkerId::Thread(1))
            }
            .into(),
        })
    });
    let records = by_url(memory.records());
    let flaky = &records["http://a.test/flaky"];
    assert_eq!((flaky.attempts, flaky.error.as_deref()), (3, None));
    let down = &records["http://a.test/down"];
    assert_eq!(
        (down.attempts, down.error.as_deref(), down.worker.as_deref()),
        (3, Some("connect refused"), Some("thread 1"))
    );
    assert_eq!(summary.retries, 4);
}

#[test]
fn redirects_are_followed_within_scope_and_refused_beyond_it() {
    let c = config(&[
        "http://a.test/moved",
        "http://a.test/away",
        "http://a.test/loop0",
    ]);
    let memory = Memory::default();
    let (_, asked) = drive(coordinator(&c, &memory, None), |task, _| {
        let path = task.url.path();
        Some(done(match path {
            "/moved" => redirect("http://a.test/here"),
            "/here" => page(200, &[]),
            "/away" => redirect("http://b.test/"),
            _ => {
                let n: u32 = path.trim_start_matches("/loop").parse().expect("n");
                redirect(&format!("http://a.test/loop{}", n + 1))
            }
        }))
    });
    let records = by_url(memory.records());
    let moved = &records["http://a.test/moved"];
    assert_eq!((moved.attempts, moved.error.as_deref()), (2, None));
    assert_eq!(
        records["http://a.test/away"].error.as_deref(),
        Some("redirect to disallowed host b.test")
    );
    let looping = &records["http://a.test/loop0"];
    assert_eq!(looping.error.as_deref(), Some("too many redirects"));
    assert_eq!(looping.attempts, 11, "the first request and 10 hops");
    assert!(!asked.contains(&"http://b.test/".to_owned()));
}

#[test]
fn robots_txt_comes_first_and_its_rules_block_pages_unfetched() {
    let mut c = config(&["http://a.test/", "http://a.test/private/x"]);
    c.obey_robots = true;
    let memory = Memory::default();
    let (summary, asked) = drive(coordinator(&c, &memory, None), |task, _| {
        Some(done(match task.kind {
            TaskKind::Robots => Fetched {
                status: 200,
                body: Some(b"User-agent: *\nDisallow: /private/".to_vec()),
                ..Fetched::default()
            },
            TaskKind::Page | TaskKind::Sitemap | TaskKind::Login => page(200, &[]),
        }))
    });
    assert_eq!(asked, ["http://a.test/robots.txt", "http://a.test/"]);
    let records = by_url(memory.records());
    let blocked = &records["http://a.test/private/x"];
    assert_eq!(
        (blocked.attempts, blocked.error.as_deref()),
        (0, Some("blocked by robots.txt"))
    );
    assert_eq!(summary.robots_blocked, 1);
}

#[test]
fn lost_tasks_are_retried_and_unsent_ones_cost_no_attempt() {
    let mut c = config(&[
        "http://a.test/lost",
        "http://a.test/unsent",
        "http://a.test/dies",
    ]);
    c.retries = 1;
    let memory = Memory::default();
    let mut seen: HashMap<String, u32> = HashMap::new();
    let (summary, _) = drive(coordinator(&c, &memory, None), |task, _| {
        let n = seen.entry(task.url.path().to_owned()).or_default();
        *n += 1;
        let lost = Outcome::Lost {
            worker: WorkerId::Process(42),
            why: Some("was killed by SIGKILL".into()),
        };
        Some(match (task.url.path(), *n) {
            ("/lost", 1) | ("/dies", _) => lost,
            ("/unsent", 1..=3) => Outcome::Unsent,
            _ => done(page(200, &[])),
        })
    });
    let records = by_url(memory.records());
    assert_eq!(records["http://a.test/lost"].attempts, 2);
    assert_eq!(
        records["http://a.test/unsent"].attempts, 1,
        "unsent costs nothing"
    );
    let dies = &records["http://a.test/dies"];
    assert_eq!(
        (dies.attempts, dies.error.as_deref(), dies.worker.as_deref()),
        (2, Some("worker died"), Some("pid 42"))
    );
    assert_eq!((summary.ok, summary.failed), (2, 1));
}

#[test]
fn a_stop_lets_pages_in_flight_finish_and_fetches_nothing_more() {
    let c = config(&["http://a.test/1", "http://a.test/2", "http://a.test/3"]);
    let memory = Memory::default();
    let (summary, asked) = drive(coordinator(&c, &memory, None), |task, coordinator| {
        // The first page is in flight when the stop comes; it is still recorded.
        coordinator.stop();
        assert_eq!(task.url.path(), "/1");
        Some(done(page(200, &[])))
    });
    assert_eq!(asked, ["http://a.test/1"]);
    assert_eq!(memory.records().len(), 1);
    assert_eq!(
        (summary.ok, summary.not_fetched, summary.unfinished),
        (1, 2, 0)
    );
}

#[test]
fn abandoned_pages_get_no_record_and_count_as_unfinished() {
    let c = config(&["http://a.test/1", "http://a.test/2"]);
    let memory = Memory::default();
    let (summary, _) = drive(coordinator(&c, &memory, None), |task, coordinator| {
        coordinator.stop();
        Some(match task.url.path() {
            "/1" => Outcome::Abandoned,
            _ => done(page(200, &[])),
        })
    });
    assert!(memory.records().is_empty());
    assert_eq!((summary.unfinished, summary.not_fetched), (1, 1));
}

#[test]
fn a_resumed_crawl_fetches_only_what_the_first_run_left() {
    let dir = std::env::temp_dir().join(format!("crawl-coordinator-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut c = config(&["http://a.test/"]);
    c.depth = 2;
    let site = |task: &Task| {
        done(match task.url.path() {
            "/" => page(200, &["http://a.test/a", "http://a.test/b"]),
            "/a" => page(200, &["http://a.test/c"]),
            _ => page(200, &[]),
        })
    };
    // The first run finishes the seed and /a, then stops with /b handed out and lost.
    let first = Memory::default();
    let (summary, _) = drive(coordinator(&c, &first, Some(&dir)), |task, coordinator| {
        if task.url.path() == "/b" {
            coordinator.stop();
            return Some(Outcome::Abandoned);
        }
        Some(site(task))
    });
    assert_eq!(summary.ok, 2);
    let second = Memory::default();
    let (summary, asked) = drive(coordinator(&c, &second, Some(&dir)), |task, _| {
        Some(site(task))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut asked = asked;
    asked.sort();
    assert_eq!(asked, ["http://a.test/b", "http://a.test/c"]);
    assert_eq!(summary.resumed, 2);
    let records = by_url(second.records());
    assert_eq!(
        (
            records["http://a.test/b"].depth,
            records["http://a.test/c"].depth
        ),
        (1, 2)
    );
}

#[test]
fn waiting_on_the_rate_limiter_counts_for_every_idle_worker() {
    let mut c = config(&["http://a.test/1", "http://a.test/2", "http://a.test/3"]);
    // 20 a second is a burst of one (see `ratelimit`): a request every 50 ms.
    c.rate = Some(20.0);
    let memory = Memory::default();
    let started = Instant::now();
    let (summary, _) = drive(coordinator(&c, &memory, None), |_, _| {
        Some(done(page(200, &[])))
    });
    // Two waits of about 50 ms, by four idle workers each (one task at a time is in flight,
    // and only for an instant): nearly all of the crawl's worker time went to the limiter.
    assert!(started.elapsed().as_millis() >= 80);
    assert!(summary.split.rate_limit > 0.5, "{:?}", summary.split);
    assert_eq!(summary.ok, 3);
}

#[test]
fn sitemaps_named_by_robots_txt_add_seeds_and_get_records() {
    let mut c = config(&["http://a.test/"]);
    c.obey_robots = true;
    c.sitemaps = true;
    let memory = Memory::default();
    let (summary, asked) = drive(coordinator(&c, &memory, None), |task, _| {
        Some(done(match (task.kind, task.url.path()) {
            (TaskKind::Robots, _) => Fetched {
                status: 200,
                body: Some(b"User-agent: *\nSitemap: http://a.test/index.xml".to_vec()),
                ..Fetched::default()
            },
            (TaskKind::Sitemap, "/index.xml") => Fetched {
                status: 200,
                // It lists itself too: read once all the same.
                sitemaps: vec![url("http://a.test/s1.xml"), url("http://a.test/index.xml")],
                ..Fetched::default()
            },
            (TaskKind::Sitemap, _) => Fetched {
                sitemap_error: Some("not XML at byte 99".into()),
                ..page(
                    200,
                    &[
                        "http://a.test/listed",
                        "http://b.test/off-site",
                        "http://a.test/",
                    ],
                )
            },
            _ => page(200, &[]),
        }))
    });
    assert_eq!(
        asked,
        [
            "http://a.test/robots.txt",
            "http://a.test/",
            "http://a.test/index.xml",
            "http://a.test/s1.xml",
            "http://a.test/listed"
        ]
    );
    let records = by_url(memory.records());
    assert_eq!(
        records["http://a.test/listed"].depth, 0,
        "a listed page is a seed"
    );
    assert_eq!(
        records["http://a.test/s1.xml"].error.as_deref(),
        Some("bad sitemap: not XML at byte 99")
    );
    assert_eq!(records["http://a.test/index.xml"].error, None);
    assert_eq!((summary.sitemaps, summary.sitemap_urls), (2, 3));
    assert_eq!(summary.skipped.out_of_scope, 1);
}

#[test]
fn a_page_both_linked_and_listed_in_a_sitemap_is_at_depth_0() {
    let mut c = config(&["http://a.test/"]);
    c.obey_robots = true;
    c.sitemaps = true;
    c.depth = 1;
    let memory = Memory::default();
    let (_, asked) = drive(coordinator(&c, &memory, None), |task, _| {
        Some(done(match (task.kind, task.url.path()) {
            (TaskKind::Robots, _) => page(404, &[]),
            // The seed is fetched before the sitemap and links to /listed first.
            (TaskKind::Page, "/") => page(200, &["http://a.test/listed", "http://a.test/other"]),
            (TaskKind::Sitemap, _) => page(200, &["http://a.test/listed"]),
            (_, "/listed") => page(200, &["http://a.test/under-listed"]),
            _ => page(200, &[]),
        }))
    });
    assert_eq!(
        &asked[..3],
        [
            "http://a.test/robots.txt",
            "http://a.test/",
            "http://a.test/sitemap.xml"
        ]
    );
    let records = by_url(memory.records());
    assert_eq!(
        records["http://a.test/listed"].depth, 0,
        "listed, so a seed"
    );
    assert_eq!(records["http://a.test/other"].depth, 1);
    // /listed is at depth 0, so what it links to is within --depth 1.
    assert_eq!(records["http://a.test/under-listed"].depth, 1);
}

#[test]
fn a_login_whose_worker_died_stops_the_crawl_and_is_not_sent_again() {
    let mut c = config(&["http://a.test/"]);
    c.cookies = true;
    c.login = vec![crate::request::Request::post_form(
        url("http://a.test/login"),
        &[("u", "p")],
    )];
    let memory = Memory::default();
    let cookies = Some(crate::cookies::Jar::open(None).expect("jar"));
    let mut coordinator = coordinator(&c, &memory, None);
    coordinator.session = super::session::Session::new(cookies, &c.login);
    let (coordinator, asked) = run_to_end(coordinator, |task, _| {
        assert_eq!(task.kind, TaskKind::Login, "nothing before the login");
        Some(Outcome::Lost {
            worker: WorkerId::Process(7),
            why: None,
        })
    });
    assert_eq!(asked, ["http://a.test/login"], "sent once");
    let err = coordinator
        .finish()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        err,
        "login request to http://a.test/login failed: worker died"
    );
    assert!(memory.records().is_empty());
}
