//! Event exports on the wire, for the admin API (`GET /admin/api/events/export`) and the
//! console (`GET /admin/events/export`) alike: the filtered view streamed as CSV or JSON Lines
//! while `EventExport` reads it in chunks (memory stays one chunk; at most
//! `EXPORT_MAX_ROWS` rows), sent as an attachment. CSV cells are always quoted, and a cell a
//! spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
//! return) gets a leading `'`.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::domain::admin::events::{EXPORT_MAX_ROWS, EventExport};
use crate::events::AuthEvent;

/// The columns of a CSV export, in order.
pub const CSV_COLUMNS: [&str; 12] = [
    "id",
    "ts",
    "kind",
    "user_id",
    "username",
    "ip",
    "user_agent",
    "client_id",
    "decision",
    "risk_score",
    "risk_reasons",
    "request_id",
];

/// An export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Comma-separated values (RFC 4180), a header row first.
    Csv,
    /// JSON Lines: one event per line, as the events API shows it.
    Jsonl,
}

impl ExportFormat {
    /// `csv` or `jsonl`; `None` for anything else (or nothing).
    pub fn parse(s: Option<&str>) -> Option<Self> {
        match s.map(str::trim) {
            Some("csv") => Some(Self::Csv),
            Some("jsonl") => Some(Self::Jsonl),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Jsonl => "application/x-ndjson; charset=utf-8",
        }
    }

    fn disposition(self) -> &'static str {
        match self {
            Self::Csv => "attachment; filename=\"authd-events.csv\"",
            Self::Jsonl => "attachment; filename=\"authd-events.jsonl\"",
        }
    }
}

/// Appends one CSV cell: quoted, quotes doubled, a would-be formula defused with `'`.
fn csv_cell(out: &mut String, v: &str) {
    out.push('"');
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    for c in v.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

fn csv_row<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(out, cell);
    }
    out.push_str("\r\n");
}

/// The CSV header row.
pub fn csv_header() -> String {
    let mut out = String::new();
    csv_row(&mut out, CSV_COLUMNS);
    out
}

/// Appends one event as a CSV row (`CSV_COLUMNS`).
pub fn csv_event(out: &mut String, e: &AuthEvent) {
    let ts =
        e.ts.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
    let score = e
        .risk
        .as_ref()
        .map(|r| format!("{:.4}", r.score))
        .unwrap_or_default();
    let reasons = e
        .risk
        .as_ref()
        .map(|r| r.reasons.join("; "))
        .unwrap_or_default();
    let opt = |v: &Option<String>| v.as_deref().unwrap_or("").to_owned();
    let cells = [
        e.id.clone(),
        ts,
        e.kind.as_str().to_owned(),
        opt(&e.user_id),
        opt(&e.username),
        opt(&e.ip),
        opt(&e.user_agent),
        opt(&e.client_id),
        opt(&e.decision),
        score,
        reasons,
        opt(&e.request_id),
    ];
    csv_row(out, cells.iter().map(String::as_str));
}

/// Appends one event as a JSON line.
fn json_line(out: &mut String, e: &AuthEvent) {
    match serde_json::to_string(e) {
        Ok(line) => {
            out.push_str(&line);
            out.push('\n');
        }
        Err(err) => tracing::error!(error = %err, event = %e.id, "event not serialisable"),
    }
}

fn encode(format: ExportFormat, events: &[AuthEvent]) -> Bytes {
    let mut out = String::with_capacity(events.len() * 256);
    for e in events {
        match format {
            ExportFormat::Csv => csv_event(&mut out, e),
            ExportFormat::Jsonl => json_line(&mut out, e),
        }
    }
    Bytes::from(out)
}

/// The last line of an export the cap cut short: `{"next_cursor":"…"}` (JSON Lines), or one
/// cell `# cut at … rows; resume with cursor=…` (CSV).
fn cut_line(format: ExportFormat, cursor: &str) -> String {
    match format {
        ExportFormat::Jsonl => format!("{}\n", serde_json::json!({ "next_cursor": cursor })),
        ExportFormat::Csv => {
            let mut out = String::new();
            let text = format!("# cut at {EXPORT_MAX_ROWS} rows; resume with cursor={cursor}");
            csv_cell(&mut out, &text);
            out.push_str("\r\n");
            out
        }
    }
}

/// Where the stream is.
enum Step {
    Header(EventExport),
    Rows(EventExport),
    Done,
}

/// The export as a streamed attachment. A failure while reading ends the body early (the
/// client sees a cut transfer, not a short file that looks complete) and is logged.
pub fn export_response(format: ExportFormat, export: EventExport) -> Response {
    let first = match format {
        ExportFormat::Csv => Step::Header(export),
        ExportFormat::Jsonl => Step::Rows(export),
    };
    let stream = futures_util::stream::unfold(first, move |step| async move {
        match step {
            Step::Header(export) => Some((Ok(Bytes::from(csv_header())), Step::Rows(export))),
            Step::Rows(mut export) => match export.next_chunk().await {
                Ok(Some(events)) => Some((Ok(encode(format, &events)), Step::Rows(export))),
                // Cut at the cap with older events still matching: a last line says where to
                // resume, so a file of exactly the cap is told from a cut one.
                Ok(None) => export
                    .cut_at()
                    .map(|cursor| (Ok(Bytes::from(cut_line(format, &cursor))), Step::Done)),
                Err(e) => {
                    tracing::error!(error = ?e, "event export failed");
                    Some((
                        Err(std::io::Error::other("event export failed")),
                        Step::Done,
                    ))
                }
            },
            Step::Done => None,
        }
    });
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(format.disposition()),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-export-row-limit", HeaderValue::from(EXPORT_MAX_ROWS));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventKind, Risk};

    fn cell(v: &str) -> String {
        let mut out = String::new();
        csv_cell(&mut out, v);
        out
    }

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "\"plain\"");
        assert_eq!(cell("a,b\"c\nd"), "\"a,b\"\"c\nd\"");
        for f in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(f), format!("\"'{f}\""), "{f}");
        }
        assert_eq!(cell("a=b"), "\"a=b\"");
    }

    #[test]
    fn an_event_is_one_row_of_every_column() {
        let ctx = crate::domain::context::RequestContext::new(
            "10.0.0.1".parse().unwrap(),
            "=HYPERLINK(\"x\")",
            "rid".into(),
        );
        let e = AuthEvent::new(
            EventKind::LoginFailed,
            &ctx,
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .username("a@b")
        .risk(Some(Risk {
            score: 0.5,
            reasons: vec!["new network".into(), "odd hour".into()],
            features: None,
        }));
        let mut out = String::new();
        csv_event(&mut out, &e);
        assert!(out.ends_with("\r\n"));
        assert!(out.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{out}");
        assert!(
            out.contains("\"0.5000\",\"new network; odd hour\""),
            "{out}"
        );
        assert!(out.starts_with(&format!("\"{}\",\"1970-01-01T00:00:00Z\"", e.id)));
        assert_eq!(ExportFormat::parse(Some("csv")), Some(ExportFormat::Csv));
        assert_eq!(
            ExportFormat::parse(Some("jsonl")),
            Some(ExportFormat::Jsonl)
        );
        assert_eq!(ExportFormat::parse(Some("xlsx")), None);
        assert_eq!(ExportFormat::parse(None), None);
    }
}
