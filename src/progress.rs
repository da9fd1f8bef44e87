//! The live progress bar on standard error (the only `indicatif` user): two lines that
//! `layout` fits to the terminal's width, which indicatif draws and clears.
//!
//! It never starts a ticker thread: it redraws only when the coordinator reports progress, so
//! the processes mode can fork with no extra thread alive. When disabled the bar is hidden
//! rather than absent, so callers never branch on it.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::ProgressMode;
use crate::stats::Reading;

mod layout;

/// How often the display is rebuilt.
const MESSAGE_EVERY: Duration = Duration::from_millis(100);

/// The visible bar of the crawl running in this process, if any, for [`suspend_bar`]: the
/// binary's log writer lives outside the crawl, and must find the bar to write above it.
/// Tagged with its [`Progress`]'s number, so a bar dropped clears only its own entry.
static VISIBLE: Mutex<Option<(u64, ProgressBar)>> = Mutex::new(None);

/// The number the next visible [`Progress`] gets in [`VISIBLE`].
static NEXT_BAR: AtomicU64 = AtomicU64::new(1);

/// Runs `write` with the crawl's progress bar (if one is drawn) cleared from the terminal, and
/// redraws the bar after: how a log line reaches standard error without garbling the bar. A
/// plain call when no bar is drawn. Not for use inside `write` itself.
pub fn suspend_bar<R>(write: impl FnOnce() -> R) -> R {
    // Cloned out (a handle), so the slot's lock is not held while the bar redraws.
    let bar = VISIBLE
        .lock()
        .ok()
        .and_then(|slot| slot.as_ref().map(|(_, bar)| bar.clone()));
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// The crawl's progress bar.
pub struct Progress {
    bar: ProgressBar,
    /// Its number in [`VISIBLE`]; `None` when hidden (never put there).
    visible: Option<u64>,
    last_message: Option<Instant>,
    started: Instant,
    /// The spinner's frame: one a redraw.
    frame: usize,
}

/// What the bar shows at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub done: u64,
    pub in_flight: usize,
    pub queued: usize,
    /// The last second or two, for the live split and verdict.
    pub live: Reading,
    /// A shared crawl's records by every node, and pages outstanding anywhere: the bar then
    /// shows the whole crawl, and the message this node.
    pub crawl: Option<(u64, u64)>,
    /// `-j auto`: the limit on pages in flight, and why it last changed.
    pub auto: Option<(usize, Option<String>)>,
    /// Hosts paused after a run of connection failures, and how soon the next is probed.
    pub paused: Option<(usize, Duration)>,
}

impl Progress {
    /// A bar drawn according to `mode` (auto: only when standard error is a terminal).
    pub fn new(mode: ProgressMode) -> Self {
        let visible = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => std::io::stderr().is_terminal(),
        };
        if !visible {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        // The whole display is the message, laid out by `layout` to the terminal's width.
        let style =
            ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        let number = NEXT_BAR.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut slot) = VISIBLE.lock() {
            *slot = Some((number, bar.clone()));
        }
        Progress {
            bar,
            visible: Some(number),
            last_message: None,
            started: Instant::now(),
            frame: 0,
        }
    }

    /// A bar that draws nothing.
    pub fn hidden() -> Self {
        Progress {
            bar: ProgressBar::hidden(),
            visible: None,
            last_message: None,
            started: Instant::now(),
            frame: 0,
        }
    }

    /// Whether [`update`](Self::update) would draw anything (callers skip building a snapshot).
    pub fn wants_update(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Shows `snap`; cheap enough to call on every completed page.
    pub fn update(&mut self, snap: &Snapshot) {
        if self.bar.is_hidden() {
            return;
        }
        let now = Instant::now();
        if self
            .last_message
            .is_none_or(|t| now.duration_since(t) >= MESSAGE_EVERY)
        {
            self.last_message = Some(now);
            self.frame = self.frame.wrapping_add(1);
            let lines = layout::lines(snap, now.duration_since(self.started), self.frame);
            // Read on every redraw, so a resized terminal still fits; 80 when unknown.
            let width = match console::Term::stderr().size_checked() {
                Some((_, cols)) if cols > 0 => usize::from(cols),
                _ => 80,
            };
            self.bar.set_message(layout::fit(&lines, width));
        }
    }

    /// Prints a line on standard error without garbling the bar.
    pub fn note(&self, message: &str) {
        // Not eprintln!, which panics when standard error is closed: a note is not worth a crash.
        self.bar.suspend(|| {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "crawl: {message}");
        });
    }

    /// Removes the bar so the summary prints on a clean line.
    pub fn finish(&self) {
        self.forget();
        self.bar.finish_and_clear();
    }

    /// Takes the bar out of [`VISIBLE`], if it is still the one there.
    fn forget(&self) {
        if let (Some(number), Ok(mut slot)) = (self.visible, VISIBLE.lock())
            && slot.as_ref().is_some_and(|(n, _)| *n == number)
        {
            *slot = None;
        }
    }
}

/// A crawl that ends on an error never calls [`Progress::finish`]: its bar must not stay in
/// [`VISIBLE`] (log lines would go on suspending a dead bar), nor on the terminal above the
/// error message.
impl Drop for Progress {
    fn drop(&mut self) {
        self.forget();
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown() -> Option<u64> {
        VISIBLE
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(|(n, _)| *n))
    }

    #[test]
    fn a_bar_dropped_without_finish_is_no_longer_visible() {
        let first = Progress::new(ProgressMode::Always);
        let number = first.visible;
        assert!(number.is_some());
        assert_eq!(shown(), number);
        // A newer bar took the slot: dropping the older one leaves the newer in place.
        let second = Progress::new(ProgressMode::Always);
        drop(first);
        assert_eq!(shown(), second.visible);
        drop(second);
        assert_eq!(shown(), None);
    }
}
