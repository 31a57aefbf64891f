//! The overview's further parts as drawn (issue #11): the outcome time series as stacked SVG
//! bars per hour and per day, the risk score histogram with the challenge threshold as a
//! labelled vertical line, and the mail queue, model, network, country, ASN and wave texts. Geometry is
//! computed here; the template draws it with SVG presentation attributes (no inline style).
//! Every chart's numbers are also in a table.

use time::OffsetDateTime;
use time::macros::format_description;

use crate::domain::admin_console::overview_more::{AsnCount, BINS, OverviewMore, Slot};
use crate::http::pages::admin::keys::unix_text;
use crate::storage::admin_stats::Counted;

/// Plot height of the bar charts (SVG user units).
const PLOT_H: i64 = 120;
/// Top margin above the plot.
const TOP: i64 = 10;
/// Left margin (room for the axis).
const LEFT: i64 = 30;
/// Width of the histogram's plot.
const HIST_W: i64 = 400;

/// Segment colours by outcome, as the totals chart's.
const COLOURS: [&str; 6] = [
    "#2e7d32", "#c62828", "#ef6c00", "#1565c0", "#6a1b9a", "#546e7a",
];

/// One coloured piece of a bar.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Segment {
    pub(super) y: i64,
    pub(super) height: i64,
    pub(super) fill: &'static str,
}

/// One time bucket, ready to draw and tabulate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Column {
    /// The bucket's start, as the table shows it.
    pub(super) label: String,
    /// Its label under the bar: the hour as `label` (every sixth), the day as `MM-DD` (a full
    /// date is wider than a day's bar).
    pub(super) tick: String,
    pub(super) x: i64,
    pub(super) text_x: i64,
    pub(super) show_label: bool,
    pub(super) segments: Vec<Segment>,
    pub(super) counts: Vec<i64>,
}

/// A stacked-bar time series.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    pub(super) name: &'static str,
    pub(super) width: i64,
    pub(super) bar: i64,
    pub(super) max: i64,
    pub(super) columns: Vec<Column>,
}

/// One histogram bin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bin {
    pub(super) range: String,
    pub(super) x: i64,
    pub(super) y: i64,
    pub(super) height: i64,
    pub(super) count: i64,
}

/// One autonomous system's row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AsnRow {
    /// `AS15169`, or `unknown`.
    pub(super) asn: String,
    /// The organisation, or empty.
    pub(super) organisation: String,
    pub(super) n: i64,
}

impl From<AsnCount> for AsnRow {
    fn from(a: AsnCount) -> Self {
        Self {
            asn: a
                .asn
                .map_or_else(|| "unknown".to_owned(), |n| format!("AS{n}")),
            organisation: a.organisation.unwrap_or_default(),
            n: a.n,
        }
    }
}

/// The drawn further parts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MoreView {
    pub(super) series: Vec<Series>,
    pub(super) bins: Vec<Bin>,
    pub(super) bin_width: i64,
    pub(super) threshold: String,
    pub(super) threshold_x: i64,
    pub(super) mail_pending: i64,
    pub(super) mail_due: i64,
    pub(super) mail_failing: i64,
    pub(super) mail_oldest: String,
    pub(super) model_version: i64,
    pub(super) model_trained: String,
    pub(super) model_examples: usize,
    pub(super) model_roc_auc: String,
    pub(super) model_log_loss: String,
    pub(super) networks: Vec<Counted>,
    pub(super) countries: Option<Vec<Counted>>,
    pub(super) asns: Option<Vec<AsnRow>>,
    pub(super) wave_detail: Option<String>,
}

/// The bucket starting at `start`: its full label and its tick under the bar.
fn label(start: i64, daily: bool) -> (String, String) {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(start) else {
        return (String::new(), String::new());
    };
    if daily {
        let full = t.format(format_description!("[year]-[month]-[day]"));
        let tick = t.format(format_description!("[month]-[day]"));
        (full.unwrap_or_default(), tick.unwrap_or_default())
    } else {
        let full = t
            .format(format_description!("[year]-[month]-[day] [hour]:00"))
            .unwrap_or_default();
        (full.clone(), full)
    }
}

/// Stacks each slot's counts into a bar scaled to the largest slot total.
pub fn series(name: &'static str, slots: &[Slot], daily: bool) -> Series {
    let bar: i64 = if daily { 48 } else { 16 };
    let step = bar + 4;
    let max = slots
        .iter()
        .map(|s| s.counts.iter().sum::<i64>())
        .max()
        .unwrap_or(0);
    let columns = slots.iter().enumerate().map(|(i, s)| {
        let x = LEFT + i64::try_from(i).unwrap_or(0) * step;
        let mut base = TOP + PLOT_H;
        let mut segments = Vec::new();
        for (count, fill) in s.counts.iter().zip(COLOURS) {
            let height = if *count > 0 {
                (count * PLOT_H / max.max(1)).max(1)
            } else {
                0
            };
            base -= height;
            segments.push(Segment {
                y: base,
                height,
                fill,
            });
        }
        let (label, tick) = label(s.start, daily);
        Column {
            label,
            tick,
            x,
            text_x: x,
            show_label: daily || i % 6 == 0,
            segments,
            counts: s.counts.to_vec(),
        }
    });
    let columns: Vec<Column> = columns.collect();
    Series {
        name,
        width: LEFT + i64::try_from(slots.len()).unwrap_or(0) * step + 120,
        bar,
        max,
        columns,
    }
}

/// The histogram's bars and the threshold's x.
pub fn histogram(counts: &[i64; BINS], threshold: f64) -> (Vec<Bin>, i64) {
    let w = HIST_W / i64::try_from(BINS).unwrap_or(1);
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let bins = counts.iter().enumerate().map(|(i, &count)| {
        let i = i64::try_from(i).unwrap_or(0);
        let height = if count > 0 {
            (count * PLOT_H / max).max(1)
        } else {
            0
        };
        Bin {
            range: format!("{:.2}–{:.2}", i as f64 / 20.0, (i + 1) as f64 / 20.0),
            x: LEFT + i * w,
            y: TOP + PLOT_H - height,
            height,
            count,
        }
    });
    // In [0, HIST_W] by the clamp.
    #[allow(clippy::cast_possible_truncation)]
    let x = LEFT + (threshold.clamp(0.0, 1.0) * HIST_W as f64).round() as i64;
    (bins.collect(), x)
}

fn figure(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.3}"))
}

/// Draws the further parts.
pub fn view(m: OverviewMore) -> MoreView {
    let (bins, threshold_x) = histogram(&m.risk_bins, m.challenge_at);
    MoreView {
        series: vec![
            series("hours", &m.hours, false),
            series("days", &m.days, true),
        ],
        bins,
        bin_width: HIST_W / i64::try_from(BINS).unwrap_or(1) - 2,
        threshold: format!("{:.2}", m.challenge_at),
        threshold_x,
        mail_pending: m.mail.pending,
        mail_due: m.mail.due,
        mail_failing: m.mail.failing,
        mail_oldest: m
            .mail_oldest_age
            .map_or_else(|| "–".to_owned(), |s| format!("{s} s")),
        model_version: m.model.version,
        model_trained: m
            .model
            .trained_at
            .map_or_else(|| "built in".to_owned(), unix_text),
        model_examples: m.model.metrics.trained_on,
        model_roc_auc: figure(m.model.metrics.roc_auc),
        model_log_loss: figure(m.model.metrics.log_loss),
        networks: m.networks,
        countries: m.countries,
        asns: m
            .asns
            .map(|rows| rows.into_iter().map(AsnRow::from).collect()),
        wave_detail: m.wave_detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The series' slots starting at `start`, one `step` apart.
    fn slots(start: i64, step: i64, n: i64) -> Vec<Slot> {
        (0..n)
            .map(|i| Slot {
                start: start + i * step,
                counts: [i, 0, 1, 0, 0, 0],
            })
            .collect()
    }

    /// No tick under the bars overlaps the next one shown: at font-size 10 a character of
    /// DejaVu Sans or any system sans is at most 6.5 units wide.
    #[test]
    fn ticks_under_the_bars_do_not_overlap() {
        let day = 1_796_083_200;
        for s in [
            series("hours", &slots(day, 3600, 24), false),
            series("days", &slots(day - 6 * 86_400, 86_400, 7), true),
        ] {
            let shown: Vec<&Column> = s.columns.iter().filter(|c| c.show_label).collect();
            assert!(shown.len() >= 4, "{}", s.name);
            for pair in shown.windows(2) {
                let room = pair[1].text_x - pair[0].text_x;
                let wide = i64::try_from(pair[0].tick.chars().count()).unwrap() * 13 / 2;
                assert!(wide < room, "{}: {:?} in {room}", s.name, pair[0].tick);
            }
        }
        let days = series("days", &slots(day, 86_400, 2), true);
        assert_eq!(days.columns[0].label, "2026-12-01");
        assert_eq!(days.columns[0].tick, "12-01");
        let hours = series("hours", &slots(day, 3600, 2), false);
        assert_eq!(hours.columns[0].tick, "2026-12-01 00:00");
    }
}
