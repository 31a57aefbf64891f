//! The console's events explorer (`/admin/events`, docs/admin.md): the gate (signed in, admin,
//! second factor, not idle), each filter narrowing the view, the rows' risk details, cursor
//! pagination (every event exactly once, also when events share a timestamp and while new
//! ones arrive) and bad input answered 400. The admin API's cursor is checked here too.

use authd::config::Config;
use authd::domain::clock::Clock;
use authd::domain::context::RequestContext;
use authd::events::decision::Decision;
use authd::events::{AuthEvent, EventKind, Risk};
use reqwest::StatusCode;
use time::{Duration, OffsetDateTime};

use crate::admin_api::admin_token;
use crate::admin_console::{admin, admin_signed_in};
use crate::helpers::{TestApp, new_client, spawn_app, spawn_app_with, urlenc};

pub(crate) fn ctx(ip: &str) -> RequestContext {
    RequestContext::new(ip.parse().unwrap(), "test agent", "req-1".into())
}

pub(crate) async fn record(app: &TestApp, e: AuthEvent) -> String {
    let id = e.id.clone();
    app.state.events.record(e).await.unwrap();
    id
}

/// The event ids a page lists, in order.
pub(crate) fn ids(body: &str) -> Vec<String> {
    body.split("data-event=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

/// The "next page" link, if any.
fn next_link(body: &str) -> Option<String> {
    let end = body.find("\" id=\"events-next\"")?;
    let start = body[..end].rfind("href=\"")? + "href=\"".len();
    Some(body[start..end].replace("&#38;", "&"))
}

async fn explore(app: &TestApp, query: &str) -> Vec<String> {
    let page = app.get(&format!("/admin/events?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
    ids(&page.body)
}

fn rfc3339(t: OffsetDateTime) -> String {
    urlenc(
        &t.format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    )
}

#[tokio::test]
async fn the_explorer_and_its_export_are_for_admins_with_a_second_factor() {
    let app = spawn_app_with(|c: &mut Config| {
        c.session_idle_timeout = Duration::hours(1);
        c.admin_idle = Duration::minutes(10);
    })
    .await;
    let paths = [
        "/admin/events?kind=login_failed",
        "/admin/events/export?format=csv",
    ];
    for path in paths {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(page.location().starts_with("/login?next=%2Fadmin%2Fevents"));
    }
    let user = app.user().await;
    app.post_login(&user.email, &user.password).await;
    let nowhere = app.get("/no-such-page").await;
    for path in paths {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(page.body, nowhere.body, "{path}");
    }
    app.post_logout().await;
    // An admin signed in with the password only: the step-up page, no events.
    let password_only = admin(&app).await;
    app.post_login(&password_only.email, &password_only.password)
        .await;
    for path in paths {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("id=\"admin-step-up\""), "{path}");
        assert!(!page.body.contains("data-event="), "{path}");
    }
    app.post_logout().await;
    admin_signed_in(&app).await;
    assert_eq!(app.get(paths[0]).await.status, StatusCode::OK);
    assert_eq!(app.get(paths[1]).await.status, StatusCode::OK);
    // Idle past the console's timeout: signed out, sent to sign in, back to the explorer after.
    app.clock.advance(Duration::minutes(11));
    let page = app.get(paths[1]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login?next=%2Fadmin%2Fevents%2Fexport");
    assert_eq!(app.get(paths[0]).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn each_filter_narrows_the_view_and_rows_open_to_their_risk() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let target = app.user().await;
    let target_id = app
        .state
        .accounts
        .find_by_email(&target.email)
        .await
        .unwrap()
        .unwrap()
        .id;
    let now = app.clock.now();
    let failed = record(
        &app,
        AuthEvent::new(
            EventKind::LoginFailed,
            &ctx("198.51.100.1"),
            now - Duration::hours(2),
        )
        .user(&target_id)
        .decision(Decision::Deny),
    )
    .await;
    let limited = record(
        &app,
        AuthEvent::new(
            EventKind::RateLimited,
            &ctx("198.51.100.2"),
            now - Duration::hours(1),
        )
        .decision(Decision::RateLimitedIp),
    )
    .await;
    let mut issued = AuthEvent::new(
        EventKind::TokenIssued,
        &ctx("198.51.100.1"),
        now - Duration::minutes(30),
    )
    .user(&target_id)
    .decision(Decision::IssuedAuthorizationCode);
    issued.client_id = Some("reports-app".into());
    let issued = record(&app, issued).await;
    let risky = record(
        &app,
        AuthEvent::new(
            EventKind::LoginFailed,
            &ctx("198.51.100.3"),
            now - Duration::minutes(10),
        )
        .username("ghost@example.com")
        .risk(Some(Risk {
            score: 0.91,
            reasons: vec!["new network".into(), "<impossible travel>".into()],
            features: None,
        }))
        .decision(Decision::HighRiskWrongPassword),
    )
    .await;

    assert_eq!(
        explore(&app, "kind=rate_limited").await,
        vec![limited.to_owned()]
    );
    let by_email = explore(&app, &format!("user={}", urlenc(&target.email))).await;
    assert_eq!(by_email, [issued.clone(), failed.clone()]);
    assert_eq!(explore(&app, &format!("user={target_id}")).await, by_email);
    assert!(explore(&app, "user=nobody%40example.com").await.is_empty());
    assert_eq!(
        explore(&app, "ip=198.51.100.3").await,
        vec![risky.to_owned()]
    );
    assert_eq!(
        explore(&app, "client=reports-app").await,
        vec![issued.to_owned()]
    );
    assert_eq!(
        explore(&app, "decision=deny").await,
        vec![failed.to_owned()]
    );
    // A decision by the text events show.
    assert_eq!(
        explore(&app, "decision=rate_limited%3Aip").await,
        vec![limited.to_owned()]
    );
    let window = format!(
        "since={}&until={}",
        rfc3339(now - Duration::minutes(90)),
        rfc3339(now - Duration::minutes(20))
    );
    assert_eq!(
        explore(&app, &window).await,
        [issued.clone(), limited.clone()]
    );
    assert_eq!(
        explore(&app, "kind=login_failed&ip=198.51.100.1").await,
        vec![failed.to_owned()]
    );
    // Unfiltered: every event, newest written first (the admin's own sign-in below).
    let all = explore(&app, "").await;
    assert!(all.len() > 4);
    assert_eq!(&all[..4], [risky.clone(), issued, limited, failed]);

    // The row opens to its decision and risk; the form keeps the filters.
    let page = app.get("/admin/events?ip=198.51.100.3").await;
    let row = &page.body[page.body.find(&format!("data-event=\"{risky}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<details><summary>0.91</summary>"), "{row}");
    assert!(row.contains("data-score=\"0.91\""));
    assert!(
        row.contains("<li>new network</li><li>&#60;impossible travel&#62;</li>"),
        "{row}"
    );
    assert!(
        row.contains("data-decision=\"high_risk_wrong_password\""),
        "{row}"
    );
    assert!(row.contains("ghost@example.com"));
    assert!(page.body.contains("name=\"ip\" value=\"198.51.100.3\""));
    assert!(
        page.body
            .contains("href=\"/admin/events/export?ip=198.51.100.3&#38;format=csv\"")
    );
    assert!(next_link(&page.body).is_none());

    // Linked from the overview and from the user's page.
    assert!(
        app.get("/admin")
            .await
            .body
            .contains("href=\"/admin/events\"")
    );
    let user_page = app.get(&format!("/admin/users/{target_id}")).await;
    assert!(
        user_page
            .body
            .contains(&format!("href=\"/admin/events?user={target_id}\"")),
        "{}",
        user_page.body
    );
}

#[tokio::test]
async fn bad_filters_and_cursors_are_a_400_page() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    for (query, message) in [
        ("kind=nope", "unknown event kind"),
        ("since=yesterday", "since must be RFC 3339"),
        ("until=2026-13-01", "until must be RFC 3339"),
        (
            "since=2026-01-02&until=2026-01-01",
            "since must be before until",
        ),
        ("decision=maybe", "unknown decision"),
        ("cursor=abc", "cursor is not one this server gave"),
        ("cursor=-5", "cursor is not one this server gave"),
        ("user=a%00b", "must be printable and short"),
        ("kind=a&kind=b", "could not be read"),
    ] {
        for path in ["/admin/events", "/admin/events/export"] {
            let page = app.get(&format!("{path}?format=csv&{query}")).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path}?{query}");
            assert!(page.body.contains(message), "{query}: {}", page.body);
        }
    }
    for format in ["", "xlsx"] {
        let page = app
            .get(&format!("/admin/events/export?format={format}"))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.body.contains("must be csv or jsonl"));
    }
}

#[tokio::test]
async fn pages_hold_every_event_once_even_with_one_timestamp_and_new_arrivals() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let at = app.clock.now() - Duration::minutes(1);
    let mut made = Vec::new();
    for _ in 0..120 {
        let e = AuthEvent::new(EventKind::LoginBlocked, &ctx("203.0.113.9"), at)
            .decision(Decision::Blocked);
        made.push(record(&app, e).await);
    }
    made.reverse(); // newest first
    let mut seen = Vec::new();
    let mut next = Some("/admin/events?ip=203.0.113.9".to_owned());
    let mut sizes = Vec::new();
    while let Some(path) = next {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let got = ids(&page.body);
        sizes.push(got.len());
        seen.extend(got);
        next = next_link(&page.body);
        if sizes.len() == 1 {
            // Newer events arriving meanwhile shift no page.
            let late = AuthEvent::new(EventKind::LoginBlocked, &ctx("203.0.113.9"), at);
            record(&app, late).await;
            let link = next.as_deref().unwrap();
            assert!(
                link.starts_with("/admin/events?ip=203.0.113.9&cursor="),
                "{link}"
            );
        }
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(seen, made);

    // The admin API pages the same way, with its own page size.
    let token = admin_token(&app, &["admin"]).await;
    let mut api_seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = app.url("/admin/api/events?ip=203.0.113.9&limit=40");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let body: serde_json::Value = new_client()
            .get(url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for e in body["events"].as_array().unwrap() {
            api_seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        api_seen.len(),
        121,
        "the late event is on the first page now"
    );
    assert_eq!(&api_seen[1..], made.as_slice());
    let bad = new_client()
        .get(app.url("/admin/api/events?cursor=abc"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}
