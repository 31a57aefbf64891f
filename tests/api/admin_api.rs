//! The admin events API: only a client-credentials token with the `admin` scope opens it;
//! filters work; the OpenAPI document is served.

use reqwest::StatusCode;

use crate::helpers::{TestApp, new_client, spawn_app, str_of};

pub(crate) async fn admin_token(app: &TestApp, scopes: &[&str]) -> String {
    let svc = app
        .add_client(false, false, &["client_credentials"], scopes)
        .await;
    let (status, body) = app
        .token(&svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    str_of(&body, "access_token").to_owned()
}

async fn events(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
) -> (StatusCode, serde_json::Value) {
    let mut req = new_client().get(app.url(&format!("/admin/api/events{query}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn only_admin_client_tokens_open_the_events_api() {
    let app = spawn_app().await;
    assert_eq!(events(&app, None, "").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        events(&app, Some("garbage"), "").await.0,
        StatusCode::UNAUTHORIZED
    );
    let plain = admin_token(&app, &["reports"]).await;
    assert_eq!(
        events(&app, Some(&plain), "").await.0,
        StatusCode::FORBIDDEN
    );
    // A user's token never opens it, whatever its scopes.
    let user = app.user().await;
    let web = app.web_client().await;
    let tokens = app.tokens_for(&web, &user, "openid").await;
    assert_eq!(
        events(&app, Some(str_of(&tokens, "access_token")), "")
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    let admin = admin_token(&app, &["admin"]).await;
    let (status, body) = events(&app, Some(&admin), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body["events"].as_array().unwrap();
    assert!(!list.is_empty());
    for e in list {
        for field in crate::helpers::EVENT_FIELDS {
            assert!(e.get(field).is_some(), "missing {field}");
        }
    }
}

#[tokio::test]
async fn event_filters() {
    let app = spawn_app().await;
    let user = app.user().await;
    app.post_login(&user.email, "wrong password").await;
    app.post_login("ghost@example.com", "wrong password").await;
    app.post_login(&user.email, &user.password).await;
    let admin = admin_token(&app, &["admin"]).await;

    let (_, body) = events(&app, Some(&admin), "?kind=login_failed").await;
    assert_eq!(body["events"].as_array().unwrap().len(), 2);
    let (_, by_email) = events(
        &app,
        Some(&admin),
        &format!("?user={}", crate::helpers::urlenc(&user.email)),
    )
    .await;
    let id = app
        .state
        .accounts
        .find_by_email(&user.email)
        .await
        .unwrap()
        .unwrap()
        .id;
    let (_, by_id) = events(&app, Some(&admin), &format!("?user={id}")).await;
    assert_eq!(by_email, by_id);
    assert!(
        by_id["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["user_id"] == id.as_str())
    );
    assert_eq!(by_id["events"].as_array().unwrap().len(), 3);
    let (_, unknown) = events(&app, Some(&admin), "?user=nobody%40example.com").await;
    assert!(unknown["events"].as_array().unwrap().is_empty());
    let (_, limited) = events(&app, Some(&admin), "?limit=1").await;
    let all = events(&app, Some(&admin), "").await.1;
    assert_eq!(
        limited["events"].as_array().unwrap()[0],
        all["events"][0],
        "newest first"
    );
    let (_, by_ip) = events(&app, Some(&admin), "?ip=127.0.0.1&kind=login_succeeded").await;
    assert_eq!(by_ip["events"].as_array().unwrap().len(), 1);
    // The address in another spelling (IPv4-mapped) finds the same events.
    let (_, mapped) = events(
        &app,
        Some(&admin),
        "?ip=%3A%3AFFFF%3A127.0.0.1&kind=login_succeeded",
    )
    .await;
    assert_eq!(mapped["events"], by_ip["events"]);
    // INTERFACE's own template: every filter present and empty is no filter.
    let (status, empty) = events(
        &app,
        Some(&admin),
        "?kind=&user=&ip=&since=&until=&decision=&client=&cursor=&limit=",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty, all);
    let future = (authd::domain::clock::Clock::now(app.clock.as_ref()) + time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, none) = events(
        &app,
        Some(&admin),
        &format!("?since={}", crate::helpers::urlenc(&future)),
    )
    .await;
    assert!(none["events"].as_array().unwrap().is_empty());
    for bad in [
        "?kind=nope",
        "?since=yesterday",
        "?limit=abc",
        "?user=a%00b",
        "?ip=1%002",
        // A misspelt filter is refused, not ignored (it would return every event).
        "?kynd=login_failed",
        "?=false",
    ] {
        assert_eq!(
            events(&app, Some(&admin), bad).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn openapi_document_is_served() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get_json("/openapi.json").await;
    assert!(doc["paths"]["/admin/api/events"]["get"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
