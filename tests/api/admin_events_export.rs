//! Exports of the events explorer's filtered view (`/admin/events/export`) and of the admin
//! API (`/admin/api/events/export`): headers, CSV quoting and formula defusing, one JSON event
//! per line, the same rows as the explorer, and the API's bearer check.

use authd::domain::clock::Clock;
use authd::events::decision::Decision;
use authd::events::{AuthEvent, EventKind, Risk};
use reqwest::StatusCode;
use time::Duration;

use crate::admin_api::admin_token;
use crate::admin_console::admin_signed_in;
use crate::admin_events::{ctx, ids, record};
use crate::helpers::{TestApp, new_client, spawn_app};

const HEADER: &str = "\"id\",\"ts\",\"kind\",\"user_id\",\"username\",\"ip\",\"user_agent\",\
    \"client_id\",\"decision\",\"risk_score\",\"risk_reasons\",\"request_id\"";

/// Three events from 192.0.2.50, one carrying would-be formulas; newest first.
async fn seed(app: &TestApp) -> Vec<String> {
    let now = app.clock.now();
    let mut made = Vec::new();
    for (i, (ua, typed)) in [
        ("plain agent", "alice@example.com"),
        ("=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0"),
        ("agent, with \"quotes\"\nand a newline", "@SUM(1)"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = ctx("192.0.2.50");
        c.user_agent = ua.into();
        let e = AuthEvent::new(
            EventKind::LoginFailed,
            &c,
            now - Duration::minutes(10 - i64::try_from(i).unwrap()),
        )
        .username(typed)
        .risk(Some(Risk {
            score: 0.25,
            reasons: vec!["-new network".into(), "odd hour".into()],
            features: None,
        }))
        .decision(Decision::Deny);
        made.push(record(app, e).await);
    }
    made.reverse();
    made
}

#[tokio::test]
async fn the_csv_export_is_an_attachment_quoted_and_defused() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let made = seed(&app).await;
    let page = app
        .get("/admin/events/export?format=csv&ip=192.0.2.50")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let header = |name: &str| page.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"authd-events.csv\""
    );
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-export-row-limit"), "100000");
    let body = &page.body;
    assert!(body.starts_with(&format!("{HEADER}\r\n")), "{body}");
    // Four records: the header and one per event, newest first (one field holds a newline).
    assert_eq!(body.matches("\r\n").count(), 4);
    let rows: Vec<&str> = body
        .split("\r\n")
        .skip(1)
        .filter(|r| !r.is_empty())
        .collect();
    for (row, id) in rows.iter().zip(&made) {
        assert!(row.starts_with(&format!("\"{id}\",\"")), "{row}");
        assert!(row.contains(",\"login_failed\","), "{row}");
        assert!(
            row.contains(",\"deny\",\"0.2500\",\"'-new network; odd hour\","),
            "{row}"
        );
    }
    assert!(rows[0].contains("\"'@SUM(1)\""), "{}", rows[0]);
    assert!(
        rows[0].contains("\"agent, with \"\"quotes\"\"\nand a newline\""),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""),
        "{}",
        rows[1]
    );
    assert!(rows[1].contains("\"'+cmd|' /C calc'!A0\""), "{}", rows[1]);
    assert!(rows[2].contains(",\"plain agent\","), "{}", rows[2]);

    // No event matches: the header alone.
    let empty = app
        .get("/admin/events/export?format=csv&ip=192.0.2.99")
        .await;
    assert_eq!(empty.body, format!("{HEADER}\r\n"));
}

#[tokio::test]
async fn the_jsonl_export_holds_the_explorers_rows_one_event_a_line() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let made = seed(&app).await;
    let page = app
        .get("/admin/events/export?format=jsonl&ip=192.0.2.50")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers["content-type"].to_str().unwrap(),
        "application/x-ndjson; charset=utf-8"
    );
    assert_eq!(
        page.headers["content-disposition"].to_str().unwrap(),
        "attachment; filename=\"authd-events.jsonl\""
    );
    assert!(page.body.ends_with('\n'));
    let lines: Vec<serde_json::Value> = page
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let exported: Vec<&str> = lines.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(exported, made);
    assert_eq!(lines[1]["user_agent"], "=HYPERLINK(\"http://evil\",\"x\")");
    assert_eq!(lines[0]["risk"]["reasons"][1], "odd hour");
    assert_eq!(lines[0]["decision"], "deny");
    // The same rows as the explorer shows for the same filters.
    let shown = ids(&app.get("/admin/events?ip=192.0.2.50").await.body);
    assert_eq!(shown, made);
    // Every event when unfiltered (the admin's sign-in too), newest first.
    let all = app.get("/admin/events/export?format=jsonl").await.body;
    let all: Vec<&str> = all.lines().collect();
    assert!(all.len() > 5);
    // Each export is itself on record, before it is read: this one, then the filtered one.
    assert!(all[0].contains("events_export; target all"), "{all:?}");
    assert!(
        all[1].contains("events_export; target ip=192.0.2.50"),
        "{all:?}"
    );
    assert!(all[2].contains(&made[0]), "{all:?}");
}

#[tokio::test]
async fn the_admin_api_exports_the_same_view_behind_its_bearer() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    seed(&app).await;
    let console = app
        .get("/admin/events/export?format=csv&ip=192.0.2.50")
        .await;
    let path = "/admin/api/events/export?format=csv&ip=192.0.2.50";
    let call = |token: Option<String>, path: &'static str| {
        let mut req = new_client().get(app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(
        call(None, path).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let plain = admin_token(&app, &["reports"]).await;
    assert_eq!(
        call(Some(plain), path).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let token = admin_token(&app, &["admin"]).await;
    let resp = call(Some(token.clone()), path).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-disposition"].to_str().unwrap(),
        "attachment; filename=\"authd-events.csv\""
    );
    assert_eq!(resp.text().await.unwrap(), console.body);
    let jsonl = call(
        Some(token.clone()),
        "/admin/api/events/export?format=jsonl&ip=192.0.2.50&decision=deny",
    )
    .await
    .unwrap();
    assert_eq!(jsonl.text().await.unwrap().lines().count(), 3);
    for bad in [
        "/admin/api/events/export?format=xlsx",
        "/admin/api/events/export",
        "/admin/api/events/export?format=csv&cursor=x",
        "/admin/api/events/export?format=csv&kind=nope",
    ] {
        let resp = call(Some(token.clone()), bad).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{bad}");
    }
    let doc = app.get_json("/openapi.json").await;
    assert!(doc["paths"]["/admin/api/events/export"]["get"].is_object());
}

#[tokio::test]
async fn every_export_is_an_admin_action_naming_who_and_which_filters() {
    let app = spawn_app().await;
    let admin = admin_signed_in(&app).await;
    seed(&app).await;
    let page = app
        .get("/admin/events/export?format=csv&ip=192.0.2.50")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let token = admin_token(&app, &["admin"]).await;
    let resp = new_client()
        .get(app.url("/admin/api/events/export?format=jsonl&kind=login_failed"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // A malformed filter exports nothing and records nothing.
    let bad = app.get("/admin/events/export?format=csv&kind=nope").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // Another site's navigation (the admin's cookie goes along) exports and records nothing;
    // the console's own link and a typed URL do (the first export above sent no header).
    for (site, status) in [
        ("cross-site", StatusCode::FORBIDDEN),
        ("same-site", StatusCode::FORBIDDEN),
        ("same-origin", StatusCode::OK),
        ("none", StatusCode::OK),
    ] {
        let resp = app
            .client
            .get(app.url("/admin/events/export?format=csv&ip=192.0.2.50"))
            .header("sec-fetch-site", site)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{site}");
    }

    let exports: Vec<_> = crate::admin_console::admin_actions(&app)
        .await
        .into_iter()
        .filter(|e| e.decision_code == Some(Decision::OpsEventsExported))
        .collect();
    assert_eq!(exports.len(), 4, "{exports:?}");
    let admin_id = app
        .state
        .accounts
        .find_by_email(&admin.email)
        .await
        .unwrap()
        .unwrap()
        .id;
    let by_console = exports
        .iter()
        .find(|e| e.user_id.as_deref() == Some(admin_id.as_str()))
        .expect("the console's export names the admin");
    assert_eq!(
        by_console.decision.as_deref(),
        Some("events_export; target ip=192.0.2.50")
    );
    let by_api = exports
        .iter()
        .find(|e| e.client_id.is_some())
        .expect("the API's export names the client");
    assert_eq!(
        by_api.decision.as_deref(),
        Some("events_export; target kind=login_failed")
    );
}

/// An export stops at its cap (100 000 rows). When older events still match, its last line
/// says where to resume — `{"next_cursor": …}` in JSON Lines, a one-cell row in CSV — and the
/// same export with that `cursor` sends the rest; a view that fits has no such line.
#[tokio::test]
async fn an_export_cut_at_its_cap_says_where_to_resume() {
    let app = spawn_app().await;
    let n = 100_002;
    let seeded = if app.db.is_postgres() {
        format!(
            "insert into event (id, ts, kind, ip, user_agent, username, decision, request_id, \
             created_at, decision_code) select 'seed-' || i, 1800000000000 + i, 'login_failed', \
             '198.51.100.77', 'seed', 'x@example.com', 'deny', 'seed-' || i, 1800000000, 'deny' \
             from generate_series(1, {n}) as i"
        )
    } else {
        format!(
            "insert into event (id, ts, kind, ip, user_agent, username, decision, request_id, \
             created_at, decision_code) with recursive s(i) as (select 1 union all select i + 1 \
             from s where i < {n}) select 'seed-' || i, 1800000000000 + i, 'login_failed', \
             '198.51.100.77', 'seed', 'x@example.com', 'deny', 'seed-' || i, 1800000000, 'deny' \
             from s"
        )
    };
    crate::helpers::raw_execute(&app.db, &seeded, &[]).await;
    let token = admin_token(&app, &["admin"]).await;
    let export = |query: String| {
        let req = new_client()
            .get(app.url(&format!(
                "/admin/api/events/export?ip=198.51.100.77&{query}"
            )))
            .bearer_auth(&token);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    let body = export("format=jsonl".into()).await;
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 100_001, "the cap's rows and the resume line");
    let last: serde_json::Value = serde_json::from_str(lines[100_000]).unwrap();
    let cursor = last["next_cursor"]
        .as_str()
        .expect("a resume line")
        .to_owned();
    let oldest_sent: serde_json::Value = serde_json::from_str(lines[99_999]).unwrap();
    assert_eq!(oldest_sent["id"], "seed-3");
    // Resumed: the two oldest, and no resume line (nothing older matches).
    let rest = export(format!("format=jsonl&cursor={cursor}")).await;
    let ids: Vec<String> = rest
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids, ["\"seed-2\"", "\"seed-1\""]);
    // The CSV says the same in its last row.
    let csv = export("format=csv".into()).await;
    let last = csv.lines().last().unwrap();
    assert_eq!(
        last,
        format!("\"# cut at 100000 rows; resume with cursor={cursor}\"")
    );
}
