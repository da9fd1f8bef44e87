//! What the live display says, and how it fits the terminal: two lines (the bar, then the
//! verdict and what feeds it), each built from parts ranked by importance. On a narrow
//! terminal the least important parts go first, then the rest take their short forms, so no
//! line ever reaches the last column (a line that does would wrap, and the redraw would leave
//! fragments behind).
//!
//! Pure functions of a [`Snapshot`] and a width: the bar redraws with them, the tests check
//! them at every width.

use std::time::Duration;

use console::measure_text_width;

use super::Snapshot;
use crate::bottleneck::judge;

/// One field of a line: the texts it can take, longest first, and how much it matters.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// 0 is the most important; a higher rank is dropped first.
    pub rank: u8,
    /// The forms it can be shown in, longest (most detailed) first; never empty.
    pub forms: Vec<String>,
    /// Whether its longest form may be cut short (with "...") to use what room is left: free
    /// text such as `-j auto`'s reason.
    pub cuttable: bool,
}

impl Part {
    fn new(rank: u8, forms: Vec<String>) -> Self {
        Part {
            rank,
            forms,
            cuttable: false,
        }
    }
}

/// One line of the display: its parts in the order they are shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub parts: Vec<Part>,
    /// Between two shown parts.
    pub sep: &'static str,
}

/// The spinner's frames (indicatif's default ones); one a redraw, so it moves while pages
/// complete and stops when they do.
const SPINNER: [char; 8] = ['⠁', '⠂', '⠄', '⡀', '⢀', '⠠', '⠐', '⠈'];
/// The bar's widths: at most this, and not shown below the least.
const BAR_MOST: usize = 30;
const BAR_LEAST: usize = 10;
/// The shortest a cut part may become, "..." included: less says nothing.
const CUT_LEAST: usize = 12;

/// The two lines for `snap`, `elapsed` into the crawl, at spinner frame `frame`.
pub fn lines(snap: &Snapshot, elapsed: Duration, frame: usize) -> [Line; 2] {
    let (pos, len) = match snap.crawl {
        Some((records, outstanding)) => (records, records + outstanding),
        None => (snap.done, snap.done + (snap.in_flight + snap.queued) as u64),
    };
    let secs = elapsed.as_secs();
    let rate = snap.done as f64 / elapsed.as_secs_f64().max(1e-3);
    let fraction = if len == 0 {
        0.0
    } else {
        pos as f64 / len as f64
    };
    let mut first = vec![
        Part::new(4, vec![SPINNER[frame % SPINNER.len()].to_string()]),
        Part::new(
            1,
            vec![format!(
                "{:02}:{:02}:{:02}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            )],
        ),
        Part::new(
            3,
            (BAR_LEAST..=BAR_MOST)
                .rev()
                .map(|w| bar(fraction, w))
                .collect(),
        ),
        Part::new(
            0,
            vec![format!("{pos}/{len} pages"), format!("{pos}/{len}")],
        ),
        Part::new(2, vec![format!("{rate:.0}/s")]),
    ];
    if snap.crawl.is_some() {
        // The bar counts every node's records; without this a user reads them as this node's.
        first.push(Part::new(
            1,
            vec!["(whole crawl)".to_string(), "(all)".to_string()],
        ));
    }

    let live = &snap.live;
    let s = live.split;
    let pct = |x: f64| x * 100.0;
    let verdict = judge(live);
    let mut second = vec![Part::new(
        0,
        vec![format!("verdict: {verdict}"), verdict.to_string()],
    )];
    if snap.crawl.is_some() {
        second.push(Part::new(
            2,
            vec![
                format!("this node {} pages", snap.done),
                format!("node {}", snap.done),
            ],
        ));
    }
    let in_flight = snap.in_flight;
    second.push(Part::new(
        1,
        match &snap.auto {
            Some((limit, _)) => vec![
                format!("in flight {in_flight} of {limit}"),
                format!("in flight {in_flight}"),
            ],
            None => vec![format!("in flight {in_flight}")],
        },
    ));
    second.push(Part::new(3, vec![format!("queued {}", snap.queued)]));
    if let Some((hosts, probe_in)) = snap.paused {
        // A paused host is why pages stop coming: said before the split that shows it.
        let what = if hosts == 1 { "host" } else { "hosts" };
        second.push(Part::new(
            1,
            vec![
                format!(
                    "paused {hosts} {what}, next probe in {}s",
                    probe_in.as_secs_f64().ceil() as u64
                ),
                format!("paused {hosts}"),
            ],
        ));
    }
    second.push(Part::new(4, vec![format!("cpu {:.0}%", pct(live.cpu))]));
    let shares = [
        ("network", s.network),
        ("parsing", s.parsing),
        ("limiter", s.rate_limit),
        ("idle", s.idle),
    ];
    // The largest share alone is the evidence for the verdict when the four do not fit.
    let (top, top_share) = shares
        .iter()
        .fold(shares[0], |best, &x| if x.1 > best.1 { x } else { best });
    second.push(Part::new(
        5,
        vec![
            format!(
                "network {:.0}% parsing {:.0}% limiter {:.0}% idle {:.0}%",
                pct(s.network),
                pct(s.parsing),
                pct(s.rate_limit),
                pct(s.idle)
            ),
            format!(
                "net {:.0}% parse {:.0}% limit {:.0}% idle {:.0}%",
                pct(s.network),
                pct(s.parsing),
                pct(s.rate_limit),
                pct(s.idle)
            ),
            format!("{top} {:.0}%", pct(top_share)),
        ],
    ));
    if let Some((_, why)) = &snap.auto {
        second.push(Part {
            rank: 6,
            forms: match why {
                Some(why) => vec![format!("-j auto {why}"), "-j auto".to_string()],
                None => vec!["-j auto".to_string()],
            },
            cuttable: true,
        });
    }
    [
        Line {
            parts: first,
            sep: " ",
        },
        Line {
            parts: second,
            sep: " | ",
        },
    ]
}

/// `[====>     ]`, `width` columns in all.
fn bar(fraction: f64, width: usize) -> String {
    let inner = width.saturating_sub(2);
    let filled = ((fraction.clamp(0.0, 1.0) * inner as f64) as usize).min(inner);
    let mut s = String::with_capacity(width);
    s.push('[');
    s.extend(std::iter::repeat_n('=', filled));
    if filled < inner {
        s.push('>');
        s.extend(std::iter::repeat_n(' ', inner - filled - 1));
    }
    s.push(']');
    s
}

/// The lines, one per `\n`, each fitted to `width` columns less one.
pub fn fit(lines: &[Line], width: usize) -> String {
    lines
        .iter()
        .map(|line| fit_line(line, width.saturating_sub(1)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn cols(s: &str) -> usize {
    measure_text_width(s)
}

/// `s` in at most `room` columns, ending in "..." if it had to be cut.
fn cut(s: &str, room: usize) -> String {
    if cols(s) <= room {
        return s.to_string();
    }
    if room < 4 {
        return s.chars().take(room).collect();
    }
    let mut out: String = s.chars().take(room - 3).collect();
    out.push_str("...");
    out
}

/// One line in at most `room` columns. First the parts are kept by rank in their shortest
/// forms until one does not fit: it and every less important part are dropped (the most
/// important is cut rather than dropped, so a line always says something). Then each kept
/// part, by rank, takes the longest form that still fits. Last, cuttable parts (free text)
/// take what room is left, if it is enough to say something.
fn fit_line(line: &Line, room: usize) -> String {
    let sep = cols(line.sep);
    let mut order: Vec<usize> = (0..line.parts.len()).collect();
    order.sort_by_key(|&i| line.parts[i].rank);
    // The text shown for each part, if it is shown.
    let mut shown: Vec<Option<String>> = vec![None; line.parts.len()];
    let mut used = 0;
    let mut count = 0;
    for &i in &order {
        let part = &line.parts[i];
        if part.cuttable && count > 0 {
            continue;
        }
        let Some(shortest) = part.forms.last() else {
            continue;
        };
        let extra = if count == 0 { 0 } else { sep };
        let left = room.saturating_sub(used + extra);
        let text = if cols(shortest) <= left {
            shortest.clone()
        } else if count == 0 {
            cut(shortest, left)
        } else {
            break;
        };
        used += extra + cols(&text);
        count += 1;
        shown[i] = Some(text);
    }
    for &i in &order {
        let Some(current) = &shown[i] else { continue };
        let left = room - (used - cols(current));
        if let Some(wider) = line.parts[i].forms.iter().find(|f| cols(f) <= left)
            && cols(wider) > cols(current)
        {
            used = used - cols(current) + cols(wider);
            shown[i] = Some(wider.clone());
        }
    }
    for &i in &order {
        let part = &line.parts[i];
        let (true, None, Some(longest)) = (part.cuttable, &shown[i], part.forms.first()) else {
            continue;
        };
        let left = room.saturating_sub(used + sep);
        if cols(longest) > left && left < CUT_LEAST {
            break;
        }
        let text = cut(longest, left);
        used += sep + cols(&text);
        shown[i] = Some(text);
    }
    shown
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(line.sep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Reading, Split};

    fn snapshot(auto: bool, shared: bool) -> Snapshot {
        Snapshot {
            paused: None,
            done: 1234,
            in_flight: 48,
            queued: 1318,
            live: Reading {
                cpu: 0.12,
                cores: 2,
                split: Split {
                    network: 0.81,
                    parsing: 0.06,
                    rate_limit: 0.0,
                    idle: 0.13,
                },
                workers: 64,
                mean_fetch_ms: 50.0,
            },
            crawl: shared.then_some((2000, 3000)),
            auto: auto.then(|| {
                (
                    64,
                    Some("+16: network-bound, 40% of Little's law".to_string()),
                )
            }),
        }
    }

    fn render(snap: &Snapshot, width: usize) -> Vec<String> {
        let text = fit(&lines(snap, Duration::from_secs(62), 0), width);
        text.split('\n').map(str::to_string).collect()
    }

    /// Every line is within `width - 1` columns, and there are always two.
    fn assert_fits(shown: &[String], width: usize) {
        assert_eq!(shown.len(), 2, "{shown:#?}");
        for line in shown {
            assert!(
                cols(line) < width.max(1),
                "{} columns at width {width}: {line:?}",
                cols(line)
            );
        }
    }

    #[test]
    fn no_line_reaches_the_last_column_at_any_width() {
        for auto in [false, true] {
            for shared in [false, true] {
                let snap = snapshot(auto, shared);
                for width in 0..=260 {
                    assert_fits(&render(&snap, width), width);
                }
            }
        }
    }

    const BAR_LINE: &str = "⠁ 00:01:02 [=============>              ] 1234/2600 pages 20/s";

    #[test]
    fn at_200_columns_everything_is_shown_in_full() {
        assert_eq!(
            render(&snapshot(false, false), 200),
            [
                BAR_LINE,
                "verdict: network | in flight 48 | queued 1318 | cpu 12% | \
                 network 81% parsing 6% limiter 0% idle 13%",
            ]
        );
        assert_eq!(
            render(&snapshot(true, false), 200)[1],
            "verdict: network | in flight 48 of 64 | queued 1318 | cpu 12% | network 81% \
             parsing 6% limiter 0% idle 13% | -j auto +16: network-bound, 40% of Little's law"
        );
        assert_eq!(
            render(&snapshot(false, true), 200),
            [
                "⠁ 00:01:02 [===========>                ] 2000/5000 pages 20/s (whole crawl)",
                "verdict: network | this node 1234 pages | in flight 48 | queued 1318 | \
                 cpu 12% | network 81% parsing 6% limiter 0% idle 13%",
            ]
        );
    }

    #[test]
    fn a_paused_host_is_shown_with_its_next_probe_and_stays_when_room_is_short() {
        let mut snap = snapshot(false, false);
        snap.paused = Some((1, Duration::from_millis(3200)));
        assert_eq!(
            render(&snap, 200)[1],
            "verdict: network | in flight 48 | queued 1318 | paused 1 host, next probe in 4s | \
             cpu 12% | network 81% parsing 6% limiter 0% idle 13%"
        );
        snap.paused = Some((3, Duration::from_secs(10)));
        // At 80 columns it keeps its short form, ahead of the CPU and the shares.
        let narrow = &render(&snap, 80)[1];
        assert!(narrow.contains("| paused 3 |"), "{narrow}");
        assert!(render(&snap, 120)[1].contains("paused 3 hosts, next probe in 10s"));
        for width in 0..=200 {
            assert_fits(&render(&snap, width), width);
        }
    }

    #[test]
    fn at_100_columns_the_auto_reason_goes_and_the_shares_shorten() {
        for auto in [false, true] {
            let of = if auto { " of 64" } else { "" };
            assert_eq!(
                render(&snapshot(auto, false), 100),
                [
                    BAR_LINE.to_string(),
                    format!(
                        "verdict: network | in flight 48{of} | queued 1318 | cpu 12% | \
                         net 81% parse 6% limit 0% idle 13%"
                    ),
                ]
            );
        }
    }

    #[test]
    fn at_80_columns_only_the_largest_share_stays() {
        assert_eq!(
            render(&snapshot(true, false), 80),
            [
                BAR_LINE,
                "verdict: network | in flight 48 of 64 | queued 1318 | cpu 12% | network 81%",
            ]
        );
        assert_eq!(
            render(&snapshot(false, true), 80),
            [
                "⠁ 00:01:02 [===========>                ] 2000/5000 pages 20/s (whole crawl)",
                "network | node 1234 | in flight 48 | queued 1318 | cpu 12% | network 81%",
            ]
        );
    }

    #[test]
    fn at_40_columns_the_shares_and_cpu_go_and_the_bar_shrinks() {
        assert_eq!(
            render(&snapshot(true, false), 40),
            [
                "⠁ 00:01:02 [=====>     ] 1234/2600 20/s",
                "network | in flight 48 | queued 1318",
            ]
        );
        assert_eq!(
            render(&snapshot(false, true), 40),
            [
                "00:01:02 2000/5000 pages 20/s (all)",
                "network | node 1234 | in flight 48",
            ]
        );
    }

    #[test]
    fn a_part_that_cannot_fit_is_dropped_but_the_first_is_cut() {
        let line = Line {
            parts: vec![
                Part::new(0, vec!["important".into()]),
                Part::new(1, vec!["also".into()]),
            ],
            sep: " | ",
        };
        assert_eq!(fit_line(&line, 20), "important | also");
        assert_eq!(fit_line(&line, 12), "important");
        assert_eq!(fit_line(&line, 6), "imp...");
        assert_eq!(fit_line(&line, 0), "");
    }

    #[test]
    fn the_bar_is_its_width_and_full_at_the_end() {
        assert_eq!(bar(0.0, 10), "[>       ]");
        assert_eq!(bar(0.5, 10), "[====>   ]");
        assert_eq!(bar(1.0, 10), "[========]");
        assert_eq!(bar(f64::NAN, 12).len(), 12);
    }
}
