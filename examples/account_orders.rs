//! Log in, then scrape pages only a session can see: a POST of the login form first, then a
//! crawl that sends the session's cookie with every request, in any mode.
//!
//! ```text
//! cargo run --release --example account_orders -- [--mode MODE] [--password PASSWORD]
//!     [--shop URL] [--frontier redis://HOST:PORT --crawl-id ID]
//! ```
//!
//! It starts the fixture shop itself (or uses the one at `--shop`), logs in to its account page
//! (user `leaf`, password `bean`), and prints each order with its total. With a wrong
//! `--password` the login gets a 401 and the crawl stops before fetching anything else, with
//! that error.
//!
//! With `--frontier`, run it on as many machines as you like with the same `--crawl-id`: they
//! share one crawl, and one of them logs in for all; the others wait for it and then send its
//! session's cookie (a login form is not hammered once per machine, and a wrong password stops
//! them all after one try).
//!
//! To point it at a real site:
//! 1. The login: the form's URL and its field names and values in `Request::post_form` (look
//!    at the `<form action=...>` and its `<input name=...>`s; add a CSRF token field if the
//!    form has one, read from the login page first).
//! 2. The seed: the first page behind the login; delete the two `crawl_fixture` lines
//!    (`serve_if_child` and `ChildServer::start`).
//! 3. The selectors: what marks an order, its number and total.
//!
//! `config.cookies` must stay on: the session lives in the crawl's cookie jar.

use std::error::Error;

use crawl::scrape::{Css, Extracted, Page};
use crawl::{Config, Crawl, FrontierUrl, Mode, Output, Request, SharedCrawl, Url};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    number: String,
    total: String,
}

fn main() -> std::process::ExitCode {
    crawl_fixture::serve_if_child();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Display, not Debug: "login request to ... failed: http 401".
            eprintln!("account_orders: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = args()?;
    let (_child, shop) = match args.shop {
        Some(url) => (None, Url::parse(&url)?),
        None => {
            let child = crawl_fixture::ChildServer::start()?;
            let url = Url::parse(&child.url("/"))?;
            (Some(child), url)
        }
    };

    let mut config = Config::new(vec![shop.join("/shop/account")?]);
    config.mode = args.mode;
    config.workers = Some(4); // sequential mode runs one whatever is asked
    config.depth = 1;
    config.output = Output::Discard;
    config.cookies = true;
    config.login = vec![Request::post_form(
        shop.join("/shop/login")?,
        &[("user", "leaf"), ("password", &args.password)],
    )];
    if let Some((url, id)) = args.shared {
        let url = FrontierUrl::parse(&url).ok_or(format!("--frontier {url:?} is not a URL"))?;
        config.shared = Some(SharedCrawl::new(url, id));
    }

    let number = Css::new("h1.order-number")?;
    let total = Css::new(".total")?;
    let orders = Css::new("a.order")?;
    let extractor = move |page: &Page<'_>| {
        let order = page.text(&number).map(|number| Order {
            number,
            total: page.text(&total).unwrap_or_default(),
        });
        Extracted::maybe(order).follow(page.links_in(&orders))
    };

    let mut orders = 0;
    let summary = Crawl::new(config, extractor).for_each(|_record, order: Order| {
        println!("{}: {}", order.number, order.total);
        orders += 1;
        Ok(())
    })?;
    println!("{orders} orders");
    eprintln!("{summary}");
    Ok(())
}

/// What the command line asks for.
struct Args {
    mode: Mode,
    password: String,
    /// A shop already running, instead of one started here.
    shop: Option<String>,
    /// `--frontier` and `--crawl-id`: a crawl shared with other processes.
    shared: Option<(String, String)>,
}

/// `[--mode MODE] [--password PASSWORD] [--shop URL] [--frontier URL --crawl-id ID]`
fn args() -> Result<Args, Box<dyn Error>> {
    let (mut mode, mut password) = (Mode::Sequential, "bean".to_owned());
    let (mut shop, mut frontier, mut crawl_id) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--mode" => {
                let name = value()?;
                mode = name.parse().map_err(|e| format!("--mode: {e}"))?;
            }
            "--password" => password = value()?,
            "--shop" => shop = Some(value()?),
            "--frontier" => frontier = Some(value()?),
            "--crawl-id" => crawl_id = Some(value()?),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let shared = match (frontier, crawl_id) {
        (Some(url), Some(id)) => Some((url, id)),
        (None, None) => None,
        _ => return Err("--frontier and --crawl-id go together".into()),
    };
    Ok(Args {
        mode,
        password,
        shop,
        shared,
    })
}
