//! `GET /admin`: the overview. Sign-in outcomes per window as a server-drawn SVG bar chart
//! (geometry computed here, drawn by the template with auto-escaping; colours are SVG
//! presentation attributes, so no inline style) and the same numbers as a table; the accounts
//! and addresses most failed against in the last day; the attack wave on now. Read-only.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::app::state::AppState;
use crate::domain::admin_console::ConsoleError;
use crate::domain::admin_console::overview::{Outcome, Overview, Window};
use crate::domain::error::Unexpected;
use crate::http::error::HttpError;
use crate::http::pages::admin::AdminSession;
use crate::http::pages::admin::keys::unix_text;
use crate::storage::admin_stats::Counted;

/// The chart's plot width for the longest bar (SVG user units).
const BAR_MAX: i64 = 300;
/// One bar's row height.
const ROW: i64 = 22;
/// Where bars start (room for the labels).
const BAR_X: i64 = 110;

/// Bar colours by outcome (distinct hues; the table carries the numbers without colour).
const COLOURS: [&str; 6] = [
    "#2e7d32", "#c62828", "#ef6c00", "#1565c0", "#6a1b9a", "#546e7a",
];

/// One bar, ready to draw.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bar {
    label: &'static str,
    count: i64,
    y: i64,
    text_y: i64,
    width: i64,
    count_x: i64,
    fill: &'static str,
}

/// One window's chart.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Chart {
    name: &'static str,
    height: i64,
    bars: Vec<Bar>,
}

/// Turns a window's counts into bars scaled to its largest count.
pub fn chart(w: &Window) -> Chart {
    let max = w.counts.iter().copied().max().unwrap_or(0).max(1);
    let bars = Outcome::ALL
        .iter()
        .zip(w.counts)
        .zip(COLOURS)
        .enumerate()
        .map(|(i, ((o, count), fill))| {
            let i = i64::try_from(i).unwrap_or(0);
            let width = if count > 0 {
                (count.saturating_mul(BAR_MAX) / max).max(1)
            } else {
                0
            };
            Bar {
                label: o.label(),
                count,
                y: i * ROW + 4,
                text_y: i * ROW + 18,
                width,
                count_x: BAR_X + width + 6,
                fill,
            }
        })
        .collect();
    Chart {
        name: w.name,
        height: 6 * ROW + 8,
        bars,
    }
}

/// The overview page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/admin/overview.html")]
pub struct OverviewPage {
    email: String,
    labels: Vec<&'static str>,
    charts: Vec<Chart>,
    top_accounts: Vec<Counted>,
    top_sources: Vec<Counted>,
    wave: Option<String>,
    more: super::overview_more::MoreView,
}

crate::page!(
    OverviewPage,
    "pages/admin/overview.html",
    [email, labels, charts, top_accounts, top_sources, wave, more]
);

/// The wave on now in words, its times in RFC 3339 (UTC) like every other time of the console.
fn wave_text(o: &Overview) -> Option<String> {
    let w = o.wave?;
    Some(format!(
        "{} wave since {} (until at least {})",
        w.kind.as_str(),
        unix_text(w.started_at),
        unix_text(w.ends_at)
    ))
}

/// Maps the console's errors to pages.
pub(crate) fn console_error(e: ConsoleError) -> HttpError {
    match e {
        ConsoleError::NotFound => HttpError::NotFound,
        ConsoleError::InvalidInput(m) => HttpError::BadRequest(m),
        ConsoleError::Refused(m) => HttpError::Conflict(m),
        ConsoleError::Unexpected(e) => HttpError::Unexpected(Unexpected(e)),
    }
}

/// `GET /admin`.
pub async fn overview_get(
    State(state): State<AppState>,
    admin: AdminSession,
) -> Result<Response, HttpError> {
    let (o, more) = state
        .admin_console
        .overview_page()
        .await
        .map_err(console_error)?;
    let page = OverviewPage {
        email: admin.admin.email,
        labels: Outcome::ALL.iter().map(|o| o.label()).collect(),
        charts: o.windows.iter().map(chart).collect(),
        wave: wave_text(&o),
        top_accounts: o.top_accounts,
        top_sources: o.top_sources,
        more: super::overview_more::view(more),
    };
    Ok(page.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_count_and_zero_draws_nothing() {
        let c = chart(&Window {
            name: "day",
            counts: [10, 5, 0, 1, 0, 1000],
        });
        let widths: Vec<i64> = c.bars.iter().map(|b| b.width).collect();
        assert_eq!(widths, vec![3, 1, 0, 1, 0, BAR_MAX]);
        assert_eq!(c.bars[0].label, "succeeded");
        assert_eq!(c.bars[5].count, 1000);
        let empty = chart(&Window {
            name: "hour",
            counts: [0; 6],
        });
        assert!(empty.bars.iter().all(|b| b.width == 0));
    }

    #[test]
    fn the_wave_says_its_times_in_rfc3339() {
        let o = Overview {
            windows: Vec::new(),
            top_accounts: Vec::new(),
            top_sources: Vec::new(),
            wave: Some(crate::domain::risk::wave_state::Wave {
                kind: crate::domain::risk::wave::WaveKind::Stuffing,
                started_at: 1_796_089_803,
                ends_at: 1_796_090_412,
            }),
        };
        assert_eq!(
            wave_text(&o).unwrap(),
            "stuffing wave since 2026-12-01T01:50:03Z (until at least 2026-12-01T02:00:12Z)"
        );
        assert_eq!(wave_text(&Overview { wave: None, ..o }), None);
    }
}
