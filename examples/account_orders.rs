//! Log in, then scrape pages only a session can see: a POST of the login form first, then a
//! crawl that sends the session's cookie with every request, in any mode.
//!
//! ```text
//! cargo run --release --example account_orders -- [--mode MODE] [--password PASSWORD]
//! ```
//!
//! It starts the fixture shop itself, logs in to its account page (user `leaf`, password
//! `bean`), and prints each order with its total. With a wrong `--password` the login gets a
//! 401 and the crawl stops before fetching anything else, with that error.
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
use crawl::{Config, Crawl, Mode, Output, Request, Url};
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
    let (mode, password) = args()?;
    let shop = crawl_fixture::ChildServer::start()?;

    let mut config = Config::new(vec![Url::parse(&shop.url("/shop/account"))?]);
    config.mode = mode;
    config.workers = Some(4); // sequential mode runs one whatever is asked
    config.depth = 1;
    config.output = Output::Discard;
    config.cookies = true;
    config.login = vec![Request::post_form(
        Url::parse(&shop.url("/shop/login"))?,
        &[("user", "leaf"), ("password", &password)],
    )];

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

    let summary = Crawl::new(config, extractor).for_each(move |_record, order: Order| {
        println!("{}: {}", order.number, order.total);
        Ok(())
    })?;
    println!("{} orders", summary.ok.saturating_sub(1));
    eprintln!("{summary}");
    Ok(())
}

/// `[--mode MODE] [--password PASSWORD]`
fn args() -> Result<(Mode, String), Box<dyn Error>> {
    let (mut mode, mut password) = (Mode::Sequential, "bean".to_owned());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mode" => {
                let name = args.next().ok_or("--mode needs a value")?;
                mode = name.parse().map_err(|e| format!("--mode: {e}"))?;
            }
            "--password" => password = args.next().ok_or("--password needs a value")?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    Ok((mode, password))
}
