//! Tests of the queues on their own, fed as admission would feed them.

use std::time::Duration;

use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).expect("url")
}

/// Queues holding `urls`, admitted in that order at depth 0.
fn queues(robots: bool, urls: &[&str]) -> Queues {
    let mut q = Queues::new(robots);
    for u in urls {
        q.enqueue(url(u), 0);
    }
    q
}

fn pop(q: &mut Queues, now: Instant, l: &Limiter) -> Pop {
    q.pop(
        now,
        l,
        &mut |_, depth| panic!("page at depth {depth} lost"),
        &mut |_| false,
    )
}

fn pop_url(q: &mut Queues, l: &Limiter) -> Option<String> {
    match pop(q, Instant::now(), l) {
        Pop::Job(j) => Some(j.url.to_string()),
        _ => None,
    }
}

#[test]
fn origin_slices_match_origin_keys() {
    for u in [
        "http://a.test/x",
        "https://A.test:8443/y?q",
        "http://u:p@a.test:81/z",
        "http://[::1]:8080/",
    ] {
        let u = url(u);
        assert_eq!(origin_slice(&u), origin_key(&u), "{u}");
    }
}

#[test]
fn origins_are_served_round_robin() {
    let mut q = queues(
        false,
        &["http://a.test/1", "http://a.test/2", "http://b.test/1"],
    );
    let l = Limiter::new(None, None);
    let order: Vec<_> = std::iter::from_fn(|| pop_url(&mut q, &l)).collect();
    assert_eq!(
        order,
        ["http://a.test/1", "http://b.test/1", "http://a.test/2"]
    );
    assert!(matches!(pop(&mut q, Instant::now(), &l), Pop::Empty));
}

#[test]
fn robots_parks_an_origin_until_its_verdict() {
    let mut q = queues(true, &["http://a.test/ok", "http://a.test/private/x"]);
    let l = Limiter::new(None, None);
    let Pop::FetchRobots(r) = pop(&mut q, Instant::now(), &l) else {
        panic!("robots first")
    };
    assert_eq!(r.url.as_str(), "http://a.test/robots.txt");
    assert!(
        matches!(pop(&mut q, Instant::now(), &l), Pop::Empty),
        "parked"
    );
    let rules =
        texting_robots::Robot::new("crawl", b"User-agent: *\nDisallow: /private/").expect("robots");
    q.set_robots(&r.origin, Verdict::Rules(Box::new(rules)));
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://a.test/ok"));
    assert!(
        matches!(pop(&mut q, Instant::now(), &l), Pop::Blocked(j) if j.url.path() == "/private/x")
    );
    assert!(matches!(pop(&mut q, Instant::now(), &l), Pop::Empty));
}

#[test]
fn redirect_hops_go_ahead_of_packed_pages_and_pages_come_back_whole() {
    let mut q = Queues::new(false);
    for u in [
        "http://a.test/1",
        "http://u:p@a.test/2",
        "http://a.test/3?q=x",
    ] {
        q.enqueue(url(u), 2);
    }
    let l = Limiter::new(None, None);
    let Pop::Job(first) = pop(&mut q, Instant::now(), &l) else {
        panic!("job")
    };
    assert_eq!(
        (first.url.as_str(), first.depth, &*first.origin),
        ("http://a.test/1", 2, "http://a.test")
    );
    let mut hop = first.clone();
    hop.fetch_url = url("http://a.test/moved");
    hop.redirects = 1;
    q.follow_redirect(hop);
    let Pop::Job(hop) = pop(&mut q, Instant::now(), &l) else {
        panic!("hop")
    };
    assert_eq!((hop.url, hop.fetch_url.path()), (first.url, "/moved"));
    let rest: Vec<_> = std::iter::from_fn(|| pop_url(&mut q, &l)).collect();
    assert_eq!(rest, ["http://u:p@a.test/2", "http://a.test/3?q=x"]);
    assert_eq!(q.queued(), 0);
}

#[test]
fn retries_wait_for_their_time() {
    let mut q = queues(false, &["http://a.test/"]);
    let l = Limiter::new(None, None);
    let Pop::Job(job) = pop(&mut q, Instant::now(), &l) else {
        panic!("job")
    };
    let at = Instant::now() + Duration::from_secs(60);
    q.retry_at(job, at);
    assert_eq!(q.queued(), 1);
    assert!(
        matches!(pop(&mut q, Instant::now(), &l), Pop::Wait { until, rate_limited: false } if until == at)
    );
    assert!(matches!(pop(&mut q, at, &l), Pop::Job(_)));
    assert_eq!(q.queued(), 0);
}

#[test]
fn per_host_limit_defers_the_origin_not_the_crawl() {
    let mut q = queues(
        false,
        &["http://a.test/1", "http://a.test/2", "http://b.test/1"],
    );
    let l = Limiter::new(None, Some(1.0));
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://a.test/1"));
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://b.test/1"));
    assert!(matches!(
        pop(&mut q, Instant::now(), &l),
        Pop::Wait {
            rate_limited: true,
            ..
        }
    ));
}

#[test]
fn an_origin_refused_by_the_per_host_limiter_waits_then_comes_back() {
    let mut q = queues(
        false,
        &["http://a.test/1", "http://a.test/2", "http://b.test/1"],
    );
    let l = Limiter::new(None, Some(1.0)); // one request per origin a second
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://a.test/1"));
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://b.test/1"));
    let Pop::Wait {
        until,
        rate_limited: true,
    } = pop(&mut q, Instant::now(), &l)
    else {
        panic!("a.test waits for its limiter")
    };
    // The wait is counted for `--metrics`, against a.test alone.
    let waits: Vec<(String, Duration)> = q.host_waits().map(|(o, w)| (o.to_owned(), w)).collect();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].0, "http://a.test");
    assert!(!waits[0].1.is_zero() && waits[0].1 <= Duration::from_secs(1));
    // Until then it is not polled: asked again, the frontier gives the same time (and the
    // wait is not counted twice).
    assert!(matches!(
        pop(&mut q, Instant::now(), &l),
        Pop::Wait { until: again, rate_limited: true } if again == until
    ));
    assert_eq!(
        q.host_waits().map(|(_, w)| w).collect::<Vec<_>>(),
        [waits[0].1]
    );
    assert_eq!((q.waiting.len(), q.ready.len()), (1, 0));
    std::thread::sleep(until.saturating_duration_since(Instant::now()));
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://a.test/2"));
    assert!(matches!(pop(&mut q, Instant::now(), &l), Pop::Empty));
    assert_eq!(q.queued(), 0);
}

#[test]
fn a_robots_verdict_for_an_origin_with_no_pages() {
    let mut q = queues(true, &[]);
    let l = Limiter::new(None, None);
    // For an origin never queued, the verdict is dropped: its first page asks for robots.txt.
    q.set_robots("http://a.test", Verdict::DisallowAll);
    assert!(matches!(pop(&mut q, Instant::now(), &l), Pop::Empty));
    q.enqueue(url("http://a.test/1"), 0);
    let Pop::FetchRobots(r) = pop(&mut q, Instant::now(), &l) else {
        panic!("robots first")
    };
    q.set_robots(&r.origin, Verdict::AllowAll);
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://a.test/1"));
    // For an origin whose queue is empty, the verdict is kept but nothing is scheduled.
    q.set_robots(&r.origin, Verdict::DisallowAll);
    assert!(q.ready.is_empty());
    assert!(matches!(pop(&mut q, Instant::now(), &l), Pop::Empty));
    q.enqueue(url("http://a.test/2"), 0);
    assert!(
        matches!(pop(&mut q, Instant::now(), &l), Pop::Blocked(j) if j.url.path() == "/2"),
        "the kept verdict applies, with no second robots.txt"
    );
    assert_eq!(q.queued(), 0);
}

#[test]
fn a_robots_job_put_back_comes_back_as_robots_and_its_origin_stays_parked() {
    let mut q = queues(true, &["http://a.test/1"]);
    let l = Limiter::new(None, None);
    let now = Instant::now();
    let Pop::FetchRobots(r) = pop(&mut q, now, &l) else {
        panic!("robots first")
    };
    assert_eq!(
        q.queued(),
        1,
        "the page; robots.txt is not counted while out"
    );
    let at = now + Duration::from_secs(5);
    q.retry_at(r, at);
    assert_eq!(q.queued(), 2);
    assert!(matches!(
        pop(&mut q, now, &l),
        Pop::Wait { until, rate_limited: false } if until == at
    ));
    let Pop::FetchRobots(again) = pop(&mut q, at, &l) else {
        panic!("robots.txt again")
    };
    assert_eq!(
        (again.url.as_str(), again.kind),
        ("http://a.test/robots.txt", TaskKind::Robots)
    );
    assert!(matches!(pop(&mut q, at, &l), Pop::Empty), "still parked");
    q.set_robots(&again.origin, Verdict::AllowAll);
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://a.test/1"));
    assert_eq!(q.queued(), 0);
}

#[test]
fn the_per_host_cap_parks_an_origin_until_a_page_comes_back() {
    let mut q = queues(
        false,
        &["http://a.test/1", "http://a.test/2", "http://b.test/1"],
    );
    q.limit_per_host(Some(1));
    let l = Limiter::new(None, None);
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://a.test/1"));
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://b.test/1"));
    assert!(
        matches!(pop(&mut q, Instant::now(), &l), Pop::Empty),
        "a.test is at its cap"
    );
    q.release("http://a.test", Instant::now());
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://a.test/2"));
}

fn breaker(failures: u32, probes: u32, first_pause_s: u64) -> Schedule {
    Schedule {
        failures,
        probes,
        first_pause: Duration::from_secs(first_pause_s),
    }
}

#[test]
fn a_host_given_up_while_it_waits_out_a_hold_is_served_at_once() {
    let mut q = queues(
        false,
        &["http://a.test/1", "http://a.test/2", "http://a.test/3"],
    );
    q.set_breaker(breaker(1, 0, 1));
    let l = Limiter::new(None, None);
    let now = Instant::now();
    assert!(matches!(pop(&mut q, now, &l), Pop::Job(_)));
    q.hold("http://a.test", now + Duration::from_secs(60));
    assert!(matches!(
        pop(&mut q, now, &l),
        Pop::Wait {
            rate_limited: true,
            ..
        }
    ));
    let turn = q.host_failed(
        "http://a.test",
        &crate::task::FetchError::ConnectRefused,
        now,
        now,
    );
    assert!(
        matches!(&turn, Some(Turn::Gone { reason, .. }) if &**reason == "1 consecutive refused connections"),
        "{turn:?}"
    );
    for _ in 0..2 {
        assert!(
            matches!(pop(&mut q, now, &l), Pop::HostDown { ref reason, .. } if &**reason == "1 consecutive refused connections"),
            "recorded now, not after the hold"
        );
    }
    assert!(matches!(pop(&mut q, now, &l), Pop::Empty));
    assert_eq!(q.queued(), 0);
}

#[test]
fn giving_up_takes_the_failures_so_far_and_pages_backing_off() {
    let mut q = queues(false, &["http://a.test/1", "http://a.test/2"]);
    q.set_breaker(breaker(5, 0, 1));
    let l = Limiter::new(None, None);
    let now = Instant::now();
    let Pop::Job(first) = pop(&mut q, now, &l) else {
        panic!("a page")
    };
    let timeout = crate::task::FetchError::Timeout;
    assert_eq!(
        q.trip("http://a.test", &timeout, now),
        None,
        "no failure yet"
    );
    let later = now + Duration::from_secs(1);
    q.host_failed("http://a.test", &timeout, now, now);
    q.host_failed("http://a.test", &timeout, later, later);
    q.retry_at(first, now + Duration::from_secs(30));
    assert!(matches!(
        q.trip("http://a.test", &timeout, later),
        Some(Turn::Gone { reason, .. }) if &*reason == "2 consecutive timeouts"
    ));
    let mut down = 0;
    while let Pop::HostDown { .. } = pop(&mut q, now, &l) {
        down += 1;
    }
    assert_eq!(
        (down, q.queued()),
        (2, 0),
        "the retry did not wait its 30 s"
    );
}

#[test]
fn a_paused_host_waits_for_one_probe_and_an_answer_reopens_it_at_its_full_cap() {
    let mut q = queues(
        false,
        &[
            "http://a.test/1",
            "http://a.test/2",
            "http://a.test/3",
            "http://b.test/1",
        ],
    );
    q.set_breaker(breaker(1, 2, 10));
    q.limit_per_host(Some(8));
    let l = Limiter::new(None, None);
    let now = Instant::now();
    let Pop::Job(first) = pop(&mut q, now, &l) else {
        panic!("a page")
    };
    q.release("http://a.test", now);
    let turn = q.host_failed("http://a.test", &crate::task::FetchError::Timeout, now, now);
    let probe_at = now + Duration::from_secs(10);
    assert!(
        matches!(turn, Some(Turn::Paused { until, probe: 1, of: 2, .. }) if until == probe_at),
        "{turn:?}"
    );
    assert!(q.host_paused("http://a.test"));
    assert_eq!(q.paused_hosts(), (1, Some(probe_at)));
    // The page waits for its host, at the front of its queue; the other host goes on.
    q.retry_at(first, now);
    assert_eq!(pop_url(&mut q, &l).as_deref(), Some("http://b.test/1"));
    assert!(
        matches!(pop(&mut q, now, &l), Pop::Wait { until, rate_limited: false } if until == probe_at),
        "nothing of a.test before the probe, and no limiter is why"
    );
    // One probe, and nothing else while it is out.
    let Pop::Job(probe) = pop(&mut q, probe_at, &l) else {
        panic!("the probe")
    };
    assert_eq!(probe.url.as_str(), "http://a.test/1");
    assert!(matches!(pop(&mut q, probe_at, &l), Pop::Empty));
    q.release("http://a.test", probe_at);
    assert_eq!(
        q.host_answered("http://a.test", probe_at),
        Some(Turn::Reopened)
    );
    assert_eq!(q.paused_hosts(), (0, None));
    for page in ["http://a.test/2", "http://a.test/3"] {
        let Pop::Job(job) = pop(&mut q, probe_at, &l) else {
            panic!("{page} at once")
        };
        assert_eq!(job.url.as_str(), page);
    }
}
