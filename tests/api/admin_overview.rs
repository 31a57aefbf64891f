//! The overview's further parts (`/admin`, issue #11) against events, mail and a model made
//! here: the hourly and daily outcome tables (bucket boundaries), the risk histogram's bins
//! and the challenge threshold, the mail queue counts, the model in use, and the hostile
//! sources grouped by network and (with `AUTHD_TEST_GEOIP_ASN_DB`) by ASN, and the wave
//! detector's text while a real stuffing wave is on. SQLite, and PostgreSQL with
//! `TEST_POSTGRES_URL`.

use authd::domain::clock::Clock;
use authd::domain::context::RequestContext;
use authd::domain::risk::model::Model;
use authd::events::{AuthEvent, EventKind, Risk};
use reqwest::StatusCode;
use time::{Duration, OffsetDateTime};

use crate::admin_console::admin_signed_in;
use crate::helpers::{TestApp, spawn_app_with};

/// `text` as askama escapes it in HTML.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

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

/// Hostile sign-ins from a public address: without an ASN database the page says there is
/// none; with `AUTHD_TEST_GEOIP_ASN_DB` (`.ci/run` builds it from `@ip-location-db/asn`) the
/// address's AS number and organisation are listed with its count.
#[tokio::test]
async fn the_overview_lists_sources_by_asn_with_an_asn_database() {
    let ip = "8.8.8.8";
    let app = spawn_app_with(|_| {}).await;
    admin_signed_in(&app).await;
    record(&app, EventKind::LoginFailed, ip, app.clock.now(), None).await;
    let body = app.get("/admin").await.body;
    assert!(body.contains("data-asn-db=\"off\""), "{body}");
    assert!(!body.contains("id=\"top-asns\""));
    drop(app);

    let Some(path) = std::env::var("AUTHD_TEST_GEOIP_ASN_DB")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!("AUTHD_TEST_GEOIP_ASN_DB not set: the ASN part not run");
        return;
    };
    let app = spawn_app_with(|c| c.geoip_asn_db = Some(path.clone().into())).await;
    admin_signed_in(&app).await;
    let now = app.clock.now();
    for kind in [
        EventKind::LoginFailed,
        EventKind::LoginBlocked,
        EventKind::RateLimited,
    ] {
        record(&app, kind, ip, now, None).await;
    }
    // A success is not hostile: not counted.
    record(&app, EventKind::LoginSucceeded, ip, now, None).await;
    let db = authd::domain::risk::geo::GeoDb::open(std::path::Path::new(&path)).unwrap();
    let place = db.place(ip.parse().unwrap());
    let asn = place.asn.expect("the ASN database places 8.8.8.8");
    let body = app.get("/admin").await.body;
    let table = &body[body.find("id=\"top-asns\"").expect("an ASN table")..];
    let row = format!(
        "<tr data-asn=\"AS{asn}\"><td>AS{asn}</td><td>{}</td><td data-count=\"3\">",
        escaped(place.as_org.as_deref().unwrap_or_default())
    );
    assert!(table.contains(&row), "{row} in {table}");
    assert!(!body.contains("data-asn-db=\"off\""));
}

/// A real stuffing wave (`tests/api/waves.rs`'s run through the sign-in form): while it is on
/// the overview shows the detector's text (the `attack_detected` decision); before it and
/// after it ends, none.
#[tokio::test]
async fn the_overview_shows_the_detectors_text_while_a_wave_is_on() {
    let app = spawn_app_with(crate::waves::config).await;
    // Signed in before the wave (during it, a new context is challenged).
    admin_signed_in(&app).await;
    let before = app.get("/admin").await.body;
    assert!(before.contains("data-wave=\"off\""), "{before}");
    assert!(!before.contains("data-wave-detail") && !before.contains("id=\"wave-text\""));

    crate::waves::stuffing(&app, 30).await;
    app.state.waves.refresh().await.unwrap();
    assert!(
        app.state.waves.on().is_some(),
        "{:?}",
        app.state.waves.signals()
    );
    let detected: Vec<String> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::AttackDetected)
        .filter_map(|e| e.decision)
        .collect();
    let [text] = detected.as_slice() else {
        panic!("one attack_detected event: {detected:?}");
    };
    assert!(text.starts_with("stuffing; start "), "{text}");
    let page = app.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-wave=\"on\""));
    assert!(page.body.contains("data-wave-detail=\"on\""));
    let shown = format!("<span id=\"wave-text\">{}</span>", escaped(text));
    assert!(page.body.contains(&shown), "{shown} in {}", page.body);

    // Past its hold (and short of the console's idle timeout) the wave is over: no text.
    let past = Duration::seconds(app.state.waves.settings().hold_secs + 60);
    app.clock.advance(past);
    assert!(app.state.waves.on().is_none());
    let after = app.get("/admin").await;
    assert_eq!(after.status, StatusCode::OK);
    assert!(after.body.contains("data-wave=\"off\""));
    assert!(!after.body.contains("id=\"wave-text\""), "{}", after.body);
}
