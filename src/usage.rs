//! What this process has used so far: CPU time and peak memory, as the summary and the verdict
//! report them (worker processes report their own, read with the same functions).

/// This process's peak resident memory, in kilobytes.
///
/// Read from `VmHWM` in /proc/self/status where it exists: getrusage's `ru_maxrss` survives
/// exec(2) on Linux, so a crawl started by a large parent would report the parent's peak.
pub fn own_peak_rss_kb() -> u64 {
    let from_proc = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        });
    from_proc.unwrap_or_else(|| {
        use nix::sys::resource::{UsageWho, getrusage};
        getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| u64::try_from(u.max_rss()).unwrap_or(0))
    })
}

/// CPU time this process has used (all threads), in milliseconds.
pub fn own_cpu_ms() -> f64 {
    rusage().map_or(0.0, |(cpu_ms, _)| cpu_ms)
}

/// A forked worker process's CPU time (milliseconds) and peak resident memory (kilobytes),
/// from one `getrusage(2)`: cheap enough to report with every page.
///
/// `ru_maxrss` is the right peak here, unlike in [`own_peak_rss_kb`]: what survives exec(2)
/// is the per-process maximum kept beside the memory map, and fork(2) starts a child's at zero,
/// so in a worker that was forked and never exec'd it is the memory map's own high-water mark,
/// the `VmHWM` that /proc/self/status shows (reading and parsing that file for every page cost
/// a worker about as much CPU as the syscalls of the page's request).
pub fn forked_worker_usage() -> (f64, u64) {
    rusage().unwrap_or((0.0, 0))
}

/// This process's CPU time in milliseconds (user + system) and `ru_maxrss` in kilobytes.
fn rusage() -> Option<(f64, u64)> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let ms = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1000.0 + t.tv_usec() as f64 / 1000.0;
    let max_rss = u64::try_from(u.max_rss()).unwrap_or(0);
    Some((ms(u.user_time()) + ms(u.system_time()), max_rss))
}
