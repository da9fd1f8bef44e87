//! [`Plan`]: a [`Config`] that passed every rule, with its defaults resolved. The front door
//! and the drivers take a plan, never a bare config, so nothing downstream checks a setting
//! again or resolves a default of its own (ripgrep's low and high arguments, in small).

use std::ops::Deref;

use super::{Config, MetricsListening};

/// What a crawl runs: made only by [`Config::validate`], read through `Deref` (every
/// [`Config`] field, as validated) and never changed after, but for the callback the
/// command line adds.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Worker slots, resolved: [`Config::workers`], or the mode's default
    /// ([`Mode::default_workers`](super::Mode::default_workers), or with
    /// [`Config::autoscale`] [`Mode::default_max_workers`](super::Mode::default_max_workers)),
    /// and always 1 in sequential mode.
    pub workers: usize,
    config: Config,
    /// [`Config::workers`] as the user left it, for [`Plan::into_config`].
    asked_workers: Option<usize>,
}

impl Plan {
    /// Called by [`Config::validate`] once every rule has passed.
    pub(super) fn new(mut config: Config) -> Self {
        let asked_workers = config.workers;
        let workers = match config.mode {
            super::Mode::Sequential => 1,
            mode => config.workers.unwrap_or_else(|| {
                if config.autoscale {
                    mode.default_max_workers()
                } else {
                    mode.default_workers()
                }
            }),
        };
        config.workers = Some(workers);
        Plan {
            workers,
            config,
            asked_workers,
        }
    }

    /// The configuration as validated.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Back to the configuration as the user set it (to change it and validate it again):
    /// an unset [`Config::workers`] is unset again, so it follows a new mode.
    pub fn into_config(mut self) -> Config {
        self.config.workers = self.asked_workers;
        self.config
    }

    /// Tells `listening` the address `--metrics` listens on (see [`Config::on_metrics`]).
    pub fn on_metrics(&mut self, listening: MetricsListening) {
        self.config.on_metrics = Some(listening);
    }

    /// A node joining a crawl shared through Redis takes the crawl's seeds, scope and limits.
    #[cfg(feature = "redis")]
    pub(crate) fn adopt(&mut self, adopt: impl FnOnce(&mut Config)) {
        adopt(&mut self.config);
    }
}

impl Deref for Plan {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}
