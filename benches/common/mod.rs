//! Shared by the bench binaries: run the real `crawl` binary, read its `--summary-json`, take
//! medians, name the machine, and write result tables under `target/bench-results/`.

#![allow(dead_code)] // each bench binary uses its own subset

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Runs `crawl ARGS` with `seeds` on standard input, records to /dev/null, and returns its
/// summary. Panics if the crawl fails: a benchmark of a broken crawl means nothing.
///
/// Every bench crawls its own local server, one origin, to measure the modes: the per-host
/// cap meant for real sites (`--per-host-workers`, 8 by default) is lifted, so `-j` alone
/// sets the concurrency (a bench that wants a cap passes its own `--per-host-workers`).
pub fn crawl(seeds: &[String], args: &[&str]) -> Value {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = |ext: &str| {
        std::env::temp_dir().join(format!("crawl-bench-{}-{n}.{ext}", std::process::id()))
    };
    let (summary, stderr) = (temp("json"), temp("stderr"));
    // Kept to quote if the crawl fails, so a broken run says why.
    let stderr_file = std::fs::File::create(&stderr).expect("stderr file");
    let capped = args.contains(&"--per-host-workers");
    let mut child = Command::new(env!("CARGO_BIN_EXE_crawl"))
        .args(if capped {
            &[][..]
        } else {
            &["--per-host-workers", "0"][..]
        })
        .args(args)
        .args(["--progress", "never", "-o", "/dev/null", "--summary-json"])
        .arg(&summary)
        .stdin(Stdio::piped())
        .stderr(stderr_file)
        .spawn()
        .expect("crawl runs");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for s in seeds {
            writeln!(stdin, "{s}").expect("seed written");
        }
    }
    let status = child.wait().expect("crawl finishes");
    let said = std::fs::read_to_string(&stderr).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr);
    assert!(
        status.success(),
        "crawl {args:?} failed ({status}):\n{said}"
    );
    let text = std::fs::read_to_string(&summary).expect("summary written");
    let _ = std::fs::remove_file(&summary);
    serde_json::from_str(&text).expect("summary is JSON")
}

/// Which parts of a bench to run: cargo passes `--bench`; any other word on the command line
/// names a part (`cargo bench --bench shared -- link`), and none means all.
pub fn wanted_parts() -> impl Fn(&str) -> bool {
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    move |part| parts.is_empty() || parts.iter().any(|p| p == part)
}

/// The run with the median pages/s out of `reps`.
pub fn median(reps: usize, mut run: impl FnMut() -> Value) -> Value {
    let mut runs: Vec<Value> = (0..reps).map(|_| run()).collect();
    runs.sort_by(|a, b| {
        let (a, b) = (num(a, &["pages_per_s"]), num(b, &["pages_per_s"]));
        a.total_cmp(&b)
    });
    runs.swap_remove(reps / 2)
}

/// A number at `path` in a summary (0 if absent).
pub fn num(v: &Value, path: &[&str]) -> f64 {
    path.iter().fold(v, |v, k| &v[*k]).as_f64().unwrap_or(0.0)
}

/// "2 cores, AMD EPYC": what the figures were measured on.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores, {cpu}")
}

/// Prints `text` and writes it to `target/bench-results/NAME.md`.
pub fn publish(name: &str, text: &str) {
    print!("{text}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results");
    let path = dir.join(format!("{name}.md"));
    if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&path, text).is_ok() {
        println!("\nwritten to {}", path.display());
    }
}

/// One line on a chart: a name and its (x, y) points.
pub type Series = (String, Vec<(f64, f64)>);

/// Draws `series` as a line chart to `target/bench-results/NAME.svg`; returns the path.
pub fn line_chart(
    name: &str,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    log_x: bool,
    series: &[Series],
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.svg"));
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let x_max = points.clone().map(|p| p.0).fold(1.0f64, f64::max);
    let x_min = points
        .clone()
        .map(|p| p.0)
        .fold(f64::MAX, f64::min)
        .min(x_max);
    let y_max = points.map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    let root = SVGBackend::new(&path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let colours = [RED, BLUE, GREEN, MAGENTA, BLACK, CYAN];
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .draw()?;
            for (i, (label, pts)) in series.iter().enumerate() {
                let colour = colours[i % colours.len()];
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))?
                    .label(label.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour));
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }};
    }
    if log_x {
        draw!(builder.build_cartesian_2d((x_min.max(1e-9)..x_max).log_scale(), 0f64..y_max)?);
    } else {
        draw!(builder.build_cartesian_2d(x_min..x_max, 0f64..y_max)?);
    }
    root.present()?;
    drop(root);
    Ok(path)
}

/// Draws horizontal bars, one per `(label, value)`, to `target/bench-results/NAME.svg`. With
/// `log_x` the value axis is logarithmic (for timings that span microseconds to seconds).
pub fn bar_chart(
    name: &str,
    title: &str,
    x_desc: &str,
    log_x: bool,
    bars: &[(String, f64)],
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.svg"));
    let max = bars.iter().map(|b| b.1).fold(f64::MIN_POSITIVE, f64::max) * 1.15;
    let min = bars
        .iter()
        .map(|b| b.1)
        .filter(|v| *v > 0.0)
        .fold(max, f64::min)
        / 2.0;
    let height = 80 + 28 * bars.len() as u32;
    let root = SVGBackend::new(&path, (820, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let labels: Vec<&str> = bars.iter().map(|b| b.0.as_str()).collect();
    let n = bars.len() as i32;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(300);
    macro_rules! draw {
        ($chart:expr, $origin:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_labels(bars.len())
                .y_label_formatter(&|y| match y {
                    SegmentValue::CenterOf(i) => labels
                        .get(usize::try_from(n - 1 - *i).unwrap_or(usize::MAX))
                        .map_or(String::new(), |l| (*l).to_owned()),
                    _ => String::new(),
                })
                .disable_y_mesh()
                .draw()?;
            chart.draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                let row = n - 1 - i as i32;
                let mut bar = Rectangle::new(
                    [
                        ($origin, SegmentValue::Exact(row)),
                        (*v, SegmentValue::Exact(row + 1)),
                    ],
                    BLUE.mix(0.6).filled(),
                );
                bar.set_margin(4, 4, 0, 0);
                bar
            }))?;
        }};
    }
    if log_x {
        draw!(
            builder.build_cartesian_2d((min..max).log_scale(), (0..n).into_segmented())?,
            min
        );
    } else {
        draw!(
            builder.build_cartesian_2d(0f64..max, (0..n).into_segmented())?,
            0f64
        );
    }
    root.present()?;
    drop(root);
    Ok(path)
}
