//! The crawl's session: the cookie jar (`--cookies`) and [`Config::login`]'s requests, sent
//! one at a time before anything else, since the crawl needs the session they open. A shared
//! crawl logs in once: the node whose turn it is ([`Frontier::login_turn`]) sends them, the
//! others wait and then take its cookies from the crawl's jar.
//!
//! [`Frontier::login_turn`]: crate::frontier::Frontier::login_turn
//!
//! [`Config::login`]: crate::Config::login

use std::collections::VecDeque;
use std::time::Instant;

use url::Url;

use super::{Coordinator, CoordinatorError};
use crate::cookies::Jar;
use crate::frontier::Job;
use crate::request::Request;
use crate::task::{Task, TaskKind, TaskResult};

/// The jar and the login requests.
pub(super) struct Session {
    /// `--cookies`: the crawl's jar.
    jar: Option<Jar>,
    /// Login requests not sent yet.
    pending: VecDeque<Request>,
    /// The login request in flight: nothing else is handed out until it is back.
    sending: Option<Request>,
    /// A shared crawl: another node is logging in; ask again at this time.
    pub(super) login_wait: Option<Instant>,
}

impl Session {
    pub(super) fn new(jar: Option<Jar>, login: &[Request]) -> Self {
        Session {
            jar,
            pending: login.iter().cloned().collect(),
            sending: None,
            login_wait: None,
        }
    }

    /// Whether a login request is in flight.
    pub(super) fn logging_in(&self) -> bool {
        self.sending.is_some()
    }

    /// Whether login requests are still to be sent.
    pub(super) fn login_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Another process of a shared crawl logged in (or failed to): nothing is sent here.
    pub(super) fn opened_elsewhere(&mut self) {
        self.pending.clear();
    }

    /// The login request in flight never reached a worker: it goes first again.
    pub(super) fn login_unsent(&mut self) {
        if let Some(request) = self.sending.take() {
            self.pending.push_front(request);
        }
    }

    /// The login request in flight is back, however it ended.
    pub(super) fn login_ended(&mut self) {
        self.sending = None;
    }

    /// The `Cookie` header the jar has for `url`.
    pub(super) fn cookie_for(&self, url: &Url) -> Option<String> {
        self.jar.as_ref().and_then(|jar| jar.header_for(url))
    }

    /// Cookies in the jar, for the summary (`None` without `--cookies`).
    pub(super) fn cookies(&self) -> Option<u64> {
        self.jar.as_ref().map(|jar| jar.len() as u64)
    }
}

impl Coordinator<'_> {
    /// The next login request as a task, if one is waiting.
    pub(super) fn hand_out_login(&mut self) -> Option<Task> {
        let request = self.session.pending.pop_front()?;
        let mut job = Job::for_login(request.url.clone());
        job.attempts = 1;
        job.hop_attempts = 1;
        let task = Task {
            id: 0,
            kind: TaskKind::Login,
            url: request.url.clone(),
            cookie: self.session.cookie_for(&request.url),
            request: Some(Box::new(request.clone())),
            earlier: None,
        };
        self.session.sending = Some(request);
        Some(Task {
            id: self.in_flight.start(job),
            ..task
        })
    }

    /// Ends the login request in flight: the session is open (any status below 400), or the
    /// crawl stops with why it is not.
    pub(super) fn finish_login(&mut self, job: &Job, result: &TaskResult) {
        self.session.login_ended();
        let why = match &result.outcome {
            Ok(response) if response.status < 400 => {
                // The last one: the session is open, for every process of the crawl.
                if !self.session.login_pending() {
                    self.frontier.login_ended(None);
                }
                return;
            }
            Ok(response) => format!("http {}", response.status),
            Err(e) => e.to_string(),
        };
        self.frontier
            .login_ended(Some((job.url.as_str(), why.as_str())));
        if self.fatal.is_none() {
            self.fatal = Some(CoordinatorError::Login {
                url: job.url.to_string(),
                why,
            });
        }
    }

    /// Puts the cookies a response set in the jar (`--cookies`).
    pub(super) fn keep_cookies(&mut self, job: &Job, result: &TaskResult) {
        let (Some(jar), Ok(page)) = (self.session.jar.as_mut(), &result.outcome) else {
            return;
        };
        if page.set_cookies.is_empty() {
            return;
        }
        let url = page.final_url.as_ref().unwrap_or(&job.fetch_url);
        if let Err(e) = jar.take(&page.set_cookies, url)
            && self.fatal.is_none()
        {
            self.fatal = Some(CoordinatorError::Cookies(e));
        }
        self.frontier.share_cookies(url, &page.set_cookies);
    }

    /// Puts in the jar the cookies other processes of a shared crawl were sent.
    pub(super) fn take_shared_cookies(&mut self) {
        let shared = self.frontier.take_cookies();
        let Some(jar) = self.session.jar.as_mut() else {
            return;
        };
        for (url, set_cookies) in shared {
            if let Err(e) = jar.take(&set_cookies, &url)
                && self.fatal.is_none()
            {
                self.fatal = Some(CoordinatorError::Cookies(e));
            }
        }
    }
}
