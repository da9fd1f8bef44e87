//! The rules of [`Config::validate`], one by one.

use super::*;

fn config() -> Config {
    Config::new(vec![Url::parse("http://a.test/").expect("url")])
}

fn refused(change: impl FnOnce(&mut Config)) -> ConfigError {
    let mut c = config();
    change(&mut c);
    c.validate().expect_err("refused")
}

#[test]
fn the_defaults_are_valid() {
    assert!(config().validate().is_ok());
}

#[test]
fn every_rule_names_its_setting() {
    type Change = fn(&mut Config);
    let cases: [(Change, Setting); 27] = [
        (|c| c.seeds.clear(), Setting::Seeds),
        (
            |c| c.seeds = vec![Url::parse("ftp://a.test/").expect("url")],
            Setting::Seeds,
        ),
        (|c| c.workers = Some(0), Setting::Workers),
        (|c| c.workers = Some(MAX_WORKERS + 1), Setting::Workers),
        (|c| c.rate = Some(0.0), Setting::Rate),
        (|c| c.rate = Some(f64::NAN), Setting::Rate),
        (|c| c.rate = Some(1e-20), Setting::Rate),
        (|c| c.per_host_rate = Some(0.0), Setting::PerHostRate),
        (|c| c.per_host_rate = Some(-1.0), Setting::PerHostRate),
        (|c| c.per_host_workers = Some(0), Setting::PerHostWorkers),
        (|c| c.max_pages = Some(0), Setting::MaxPages),
        (
            |c| c.allow_domains = vec!["http://x.test/".into()],
            Setting::AllowDomains,
        ),
        (
            |c| c.allow_paths = vec!["book/".into()],
            Setting::AllowPaths,
        ),
        (|c| c.allow = vec!["ok".into(), "(".into()], Setting::Allow),
        (|c| c.deny = vec!["[".into()], Setting::Deny),
        // Nothing produces items: no extractor.
        (
            |c| c.items = Some(ItemsFile::new("items.jsonl")),
            Setting::Items,
        ),
        (|c| c.timeout = Duration::ZERO, Setting::Timeout),
        (
            |c| c.timeout = Duration::from_secs(100_000),
            Setting::Timeout,
        ),
        (|c| c.max_bytes = 0, Setting::MaxBytes),
        (|c| c.user_agent = "  ".into(), Setting::UserAgent),
        (
            |c| {
                c.headers.insert(
                    http::header::USER_AGENT,
                    http::HeaderValue::from_static("x"),
                );
            },
            Setting::Headers,
        ),
        (|c| c.fork_per_page = true, Setting::ForkPerPage),
        (
            |c| {
                let url = Url::parse("http://a.test/login").expect("url");
                c.login = vec![crate::request::Request::post_form(url, &[("u", "p")])];
            },
            Setting::Login,
        ),
        (
            |c| {
                c.proxy = Some(ProxyUrl::new(
                    Url::parse("ftp://u:pw@p.test/").expect("url"),
                ))
            },
            Setting::Proxy,
        ),
        (|c| c.grace = Duration::from_secs(4000), Setting::Grace),
        (
            |c| {
                // An address to serve on, where this build can (without the `metrics`
                // feature the address itself is refused first).
                if cfg!(feature = "metrics") {
                    c.metrics = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
                }
                c.metrics_linger = Duration::from_secs(4000);
            },
            Setting::MetricsLinger,
        ),
        // Lingering with nothing to serve is a mistake, not a pause.
        (
            |c| c.metrics_linger = Duration::from_secs(5),
            Setting::MetricsLinger,
        ),
    ];
    for (change, setting) in cases {
        let err = refused(change);
        assert_eq!(err.setting, setting, "{err}");
        assert!(err.to_string().starts_with(setting.field()), "{err}");
        assert!(err.for_flag().starts_with(setting.flag()), "{err}");
    }
    let err = refused(|c| c.dedupe = Dedupe::Shared);
    assert_eq!(err.for_flag(), "--dedupe: applies only to --mode processes");
}

#[test]
fn a_proxy_password_never_shows() {
    let proxy = ProxyUrl::new(Url::parse("ftp://user:s3cret@p.test:2121/").expect("url"));
    assert_eq!(proxy.to_string(), "ftp://***@p.test:2121");
    let curl_style = ProxyUrl::new(Url::parse("alice:s3cret@proxy.test:3128").expect("url"));
    assert_eq!(curl_style.to_string(), "(a URL with no host)");
    let mut c = config();
    c.proxy = Some(proxy);
    assert!(!format!("{c:?}").contains("s3cret"));
    let err = c.validate().expect_err("ftp is no proxy scheme");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(err.to_string().contains("ftp://***@p.test:2121"), "{err}");
}

#[test]
fn messages_are_the_same_for_code_and_flags() {
    let err = refused(|c| c.rate = Some(0.0));
    assert_eq!(
        err.to_string(),
        "rate: must be a number of requests per second of at least 1/86400 (one a day), got 0"
    );
    assert_eq!(
        err.for_flag(),
        "--rate: must be a number of requests per second of at least 1/86400 (one a day), got 0"
    );
}

#[test]
fn validation_settles_what_the_mode_implies() {
    let mut c = config();
    c.mode = Mode::Sequential;
    c.workers = Some(0);
    c.allow_domains = vec![".Example.COM.".into()];
    let c = c.validate().expect("valid");
    assert_eq!(c.workers, 1);
    assert_eq!(c.allow_domains, ["example.com"]);
    let mut p = config();
    p.mode = Mode::Processes;
    p.fork_per_page = true;
    p.dedupe = Dedupe::Shared;
    assert!(p.validate().is_ok());
}

// Without the `warc` feature any archive is refused first, whatever is wrong with it (see
// `a_build_without_warc_refuses_an_archive_by_name`).
#[cfg(feature = "warc")]
#[test]
fn archive_rules_name_their_settings() {
    let warc = |path: &str, max_size| {
        Some(WarcConfig {
            path: path.into(),
            max_size,
        })
    };
    assert_eq!(
        refused(|c| c.warc = warc("out/a.warc", None)).setting,
        Setting::Warc
    );
    assert_eq!(
        refused(|c| c.warc = warc("out/.warc.gz", None)).setting,
        Setting::Warc
    );
    let zero = refused(|c| c.warc = warc("a.warc.gz", Some(0)));
    assert_eq!(
        zero.for_flag(),
        "--warc-max-size: must be at least 1 byte (no value means one file)"
    );
    let processes = |c: &mut Config| {
        c.mode = Mode::Processes;
        c.workers = Some(2);
        c.max_bytes = MAX_WARC_BYTES + 1;
    };
    let big = refused(|c| {
        processes(c);
        c.warc = warc("a.warc.gz", None);
    });
    assert_eq!(big.setting, Setting::MaxBytes);
    // Without an archive no raw body crosses the wire, and the same limit is fine.
    let mut c = config();
    processes(&mut c);
    assert!(c.validate().is_ok());
    let mut c = config();
    c.warc = warc("out/a.warc.gz", Some(1));
    assert!(c.validate().is_ok());
}

#[test]
fn an_unset_worker_count_follows_the_mode_into_the_plan_and_back() {
    let mut c = config();
    assert_eq!(c.workers, None);
    assert_eq!(c.clone().validate().expect("valid").workers, 64);
    c.mode = Mode::Sequential;
    let plan = c.validate().expect("valid");
    assert_eq!((plan.workers, plan.config().workers), (1, Some(1)));
    // Back to the config as it was set: unset again, so a new mode brings its own default.
    let mut c = plan.into_config();
    assert_eq!(c.workers, None);
    c.mode = Mode::Processes;
    let processes = c.clone().validate().expect("valid").workers;
    assert_eq!(processes, Mode::Processes.default_workers());
    // -j auto: unset is the mode's ceiling, as on the command line without --max-workers.
    c.autoscale = true;
    let ceiling = c.clone().validate().expect("valid").workers;
    assert_eq!(ceiling, Mode::Processes.default_max_workers());
    c.workers = Some(12);
    assert_eq!(c.validate().expect("valid").workers, 12);
}

/// What a build without `feature` says about `setting`, as the command line shows it.
#[cfg(not(all(feature = "redis", feature = "metrics", feature = "warc")))]
fn not_built(flag: &str, what: &str, feature: &str) -> String {
    format!(
        "{flag}: this build of crawl has no {what}; rebuild with the `{feature}` feature (it is \
         in the default features)"
    )
}

#[cfg(not(feature = "redis"))]
#[test]
fn a_build_without_redis_refuses_a_shared_crawl_by_name() {
    let url = FrontierUrl::new(Url::parse("redis://127.0.0.1:6379/0").expect("url"));
    let err = refused(|c| c.shared = Some(SharedCrawl::new(url.clone(), "shop")));
    assert_eq!(err.setting, Setting::Frontier);
    assert_eq!(
        err.for_flag(),
        not_built("--frontier", "Redis frontier", "redis")
    );
    assert!(err.to_string().starts_with("shared.url: "), "{err}");
    // Before the shared crawl's own rules, and before the seeds a joining node need not have.
    let err = refused(|c| {
        c.seeds.clear();
        c.shared = Some(SharedCrawl::new(url, "not a crawl id"));
    });
    assert_eq!(err.setting, Setting::Frontier);
}

#[cfg(not(feature = "metrics"))]
#[test]
fn a_build_without_metrics_refuses_a_metrics_address_by_name() {
    let err = refused(|c| c.metrics = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))));
    assert_eq!(err.setting, Setting::Metrics);
    assert_eq!(
        err.for_flag(),
        not_built("--metrics", "Prometheus metrics", "metrics")
    );
    // A linger with nothing to serve is still its own mistake.
    let err = refused(|c| c.metrics_linger = Duration::from_secs(5));
    assert_eq!(err.setting, Setting::MetricsLinger);
}

#[cfg(not(feature = "warc"))]
#[test]
fn a_build_without_warc_refuses_an_archive_by_name() {
    let err = refused(|c| {
        c.warc = Some(WarcConfig {
            path: "out/a.warc.gz".into(),
            max_size: Some(0),
        })
    });
    assert_eq!(err.setting, Setting::Warc);
    assert_eq!(err.for_flag(), not_built("--warc", "WARC archive", "warc"));
    assert!(err.to_string().starts_with("warc.path: "), "{err}");
}

#[cfg(not(feature = "cache"))]
#[test]
fn a_build_without_the_cache_refuses_one_by_name() {
    let err = refused(|c| c.cache = Some("site-cache".into()));
    assert_eq!(err.setting, Setting::Cache);
    assert_eq!(err.for_flag(), not_built("--cache", "crawl cache", "cache"));
}

#[test]
fn the_cache_rules_name_their_settings() {
    for (set, setting) in [
        (
            (|c: &mut Config| c.revalidate = true) as fn(&mut Config),
            Setting::Revalidate,
        ),
        (|c: &mut Config| c.changed_only = true, Setting::ChangedOnly),
    ] {
        let err = refused(set);
        assert_eq!(err.setting, setting);
        assert!(err.for_flag().contains("needs --cache DIR"), "{err}");
    }
    if cfg!(feature = "cache") {
        let err = refused(|c| {
            c.cache = Some("site-cache".into());
            c.mode = Mode::Processes;
            c.dedupe = Dedupe::Shared;
        });
        assert_eq!(err.setting, Setting::Cache);
        assert!(
            err.for_flag()
                .starts_with("--cache: not with --dedupe shared"),
            "{err}"
        );
    }
}
