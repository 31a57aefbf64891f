//! The overview's further parts (`/admin`, issue #11) against events, mail and a model made
//! here: the hourly and daily outcome tables (bucket boundaries), the risk histogram's bins
//! and the challenge threshold, the mail queue counts, the model in use, and the hostile
//! sources grouped by network.

use authd::domain::clock::Clock;
use authd::domain::context::RequestContext;
use authd::domain::risk::model::Model;
use authd::events::{AuthEvent, EventKind, Risk};
use reqwest::StatusCode;
use time::{Duration, OffsetDateTime};

use crate::admin_console::admin_signed_in;
use crate::helpers::{TestApp, spawn_app_with};

/// Runs `sql` on the test's database (SQLite or PostgreSQL).
async fn exec(app: &TestApp, sql: &str) {
    let url = &app.db.url;
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
}

/// The cells of the row `marker` opens (`data-slot="…"`, `data-bin="…"`), as numbers.
fn row(body: &str, marker: &str) -> Vec<i64> {
    let at = body.find(marker).unwrap_or_else(|| panic!("{marker}"));
    let row = &body[at..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td>")
        .skip(1)
        .map(|c| c[..c.find('<').unwrap()].parse().unwrap())
        .collect()
}

fn ctx(ip: &str) -> RequestContext {
    RequestContext {
        ip: ip.parse().unwrap(),
        user_agent: "t".into(),
        request_id: "r".into(),
        app: None,
    }
}

async fn record(app: &TestApp, kind: EventKind, ip: &str, at: OffsetDateTime, score: Option<f64>) {
    let risk = score.map(|score| Risk {
        score,
        reasons: vec![],
        features: None,
    });
    app.state
        .events
        .record(AuthEvent::new(kind, &ctx(ip), at).risk(risk))
        .await
        .unwrap();
}

fn hour_label(t: OffsetDateTime) -> String {
    format!(
        "data-slot=\"{:04}-{:02}-{:02} {:02}:00\"",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour()
    )
}

#[tokio::test]
async fn the_overview_shows_series_risk_mail_model_and_networks() {
    let app = spawn_app_with(|c| c.risk.challenge_at = 0.7).await;
    admin_signed_in(&app).await;
    let now = app.clock.now();
    let hour = now.replace_minute(0).unwrap().replace_second(0).unwrap();
    let hour = hour.replace_nanosecond(0).unwrap();
    let first = hour - Duration::hours(23);
    let before = app.get("/admin").await.body;
    // Each section once, in the page's body, under a plain title.
    assert!(before.contains("<title>Admin console · "), "{before}");
    for id in [
        "id=\"series\"",
        "id=\"risk-scores\"",
        "id=\"mail-queue\"",
        "id=\"signins\"",
    ] {
        assert_eq!(before.matches(id).count(), 1, "{id} once");
    }
    let ip = "198.51.100.7";
    // On the current hour's first millisecond: this hour; one millisecond earlier: the last.
    record(&app, EventKind::LoginFailed, ip, hour, None).await;
    record(
        &app,
        EventKind::LoginFailed,
        ip,
        hour - Duration::milliseconds(1),
        None,
    )
    .await;
    // The 24-hour window's first bucket starts exactly 23 hours before this one.
    record(&app, EventKind::LoginSucceeded, ip, first, None).await;
    record(
        &app,
        EventKind::LoginSucceeded,
        ip,
        first - Duration::milliseconds(1),
        None,
    )
    .await;
    // Scores: bins 0, 13 (two) and 19 (1.0 is in the last bin).
    for s in [0.01, 0.65, 0.699, 1.0] {
        record(
            &app,
            EventKind::LoginChallenged,
            "203.0.113.5",
            now,
            Some(s),
        )
        .await;
    }
    record(&app, EventKind::LoginFailed, "203.0.113.9", now, None).await;
    record(&app, EventKind::LoginFailed, "2001:db8:1:2::5", now, None).await;
    record(
        &app,
        EventKind::LoginFailed,
        "2001:db8:1:ffff::1",
        now,
        None,
    )
    .await;
    let t = now.unix_timestamp();
    for (id, attempts, next, sent, created) in [
        ("m1", 0, t - 10, "null", t - 100),
        ("m2", 2, t + 600, "null", t - 700),
        ("m3", 1, t - 50, &*(t - 5).to_string(), t - 900),
    ] {
        exec(
            &app,
            &format!(
                "insert into mail_queue (id, message_id, kind, recipient, subject, text_body, \
             html_body, attempts, next_attempt_at, locked_until, sent_at, created_at) values \
             ('{id}', '<{id}@x>', 'test', 'a@example.com', 's', '', '', {attempts}, {next}, \
             {}, {sent}, {created})",
                t + 600
            ),
        )
        .await;
    }
    let mut model = Model::prior();
    model.version = 7;
    let json = serde_json::to_string(&model).unwrap().replace('\'', "''");
    exec(
        &app,
        &format!(
            "insert into risk_model (version, model, created_at) values (7, '{json}', {})",
            t - 3600
        ),
    )
    .await;
    let csrf = app.get("/admin/model").await.csrf();
    let promoted = app
        .post_form("/admin/model/7/promote", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER, "{}", promoted.body);

    let page = app.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    let delta = |marker: &str| -> Vec<i64> {
        let (a, b) = (row(body, marker), row(&before, marker));
        a.iter().zip(b).map(|(a, b)| a - b).collect()
    };
    // Columns: succeeded, failed, challenged, stepped up, blocked, rate limited.
    assert_eq!(delta(&hour_label(hour))[..3], [0, 4, 4]);
    assert_eq!(delta(&hour_label(hour - Duration::hours(1)))[..2], [0, 1]);
    assert_eq!(delta(&hour_label(first))[..2], [1, 0]);
    assert!(!body.contains(&hour_label(first - Duration::hours(1))));
    assert!(body.contains("data-series=\"hours\"") && body.contains("data-series=\"days\""));
    // The risk bins and the threshold.
    assert_eq!(delta("data-bin=\"0\""), [1]);
    assert_eq!(delta("data-bin=\"13\""), [2]);
    assert_eq!(delta("data-bin=\"14\""), [0]);
    assert_eq!(delta("data-bin=\"19\""), [1]);
    assert!(
        body.contains("<span id=\"challenge-at\">0.70</span>"),
        "{body}"
    );
    assert!(body.contains("challenge at 0.70</text>"));
    // The mail queue: m1 and m2 wait (leased elsewhere, so this instance's sender leaves
    // them), m1 is due, m2 failed; m3 was sent.
    let mail = |k: &str| {
        let m = format!("data-mail=\"{k}\">");
        let s = &body[body.find(&m).unwrap() + m.len()..];
        s[..s.find('<').unwrap()].to_owned()
    };
    assert_eq!(mail("pending"), "2");
    assert_eq!(mail("due"), "1");
    assert_eq!(mail("failing"), "1");
    assert_eq!(mail("oldest"), "700 s");
    // The model in use.
    assert!(body.contains("<td data-model=\"version\">7</td>"), "{body}");
    assert!(body.contains("href=\"/admin/model\">All versions"));
    // Networks: two /24 addresses and two /48 addresses, no GeoIP.
    let nets = &body[body.find("id=\"top-networks\"").unwrap()..];
    assert!(
        nets.contains("<td>203.0.113.0/24</td><td data-count=\"5\">"),
        "{nets}"
    );
    assert!(
        nets.contains("<td>2001:db8:1::/48</td><td data-count=\"2\">"),
        "{nets}"
    );
    assert!(nets.contains("data-geoip=\"off\""));
}
