//! The admin API's user search and a user's page (`GET /admin/api/users?q=`,
//! `GET /admin/api/users/{id}`): only a client-credentials token with the `admin` scope; the
//! console's matching (contains, case-insensitive, `%` and `_` literal, at most 50) and the
//! console's page as JSON; an unknown account is a JSON 404, malformed input a JSON 400 that
//! changes nothing, on these routes and on the acts and the model promotion.

use authd::domain::accounts::service::Origin;
use reqwest::StatusCode;
use serde_json::Value;

use crate::admin_api::admin_token;
use crate::admin_console::{admin_actions, admin_signed_in, ladder, try_login};
use crate::helpers::{TestApp, new_client, spawn_app, spawn_app_with, str_of};

async fn get(app: &TestApp, token: Option<&str>, path: &str) -> (StatusCode, Value) {
    let mut req = new_client().get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

async fn post(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let resp = new_client()
        .post(app.url(path))
        .bearer_auth(token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

async fn account(app: &TestApp, email: &str) {
    app.state
        .accounts
        .create(email, "a long enough password".into(), false, Origin::Cli)
        .await
        .unwrap();
}

fn emails(found: &Value) -> Vec<String> {
    found["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn only_an_admin_client_token_reads_users() {
    let app = spawn_app().await;
    let user = app.user().await;
    let paths = ["/admin/api/users?q=user".to_owned(), {
        let a = app.state.accounts.find_by_email(&user.email).await.unwrap();
        format!("/admin/api/users/{}", a.unwrap().id)
    }];
    let plain = admin_token(&app, &["reports"]).await;
    let web = app.web_client().await;
    let tokens = app.tokens_for(&web, &user, "openid").await;
    let users_token = str_of(&tokens, "access_token");
    for path in &paths {
        let (s, body) = get(&app, None, path).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["error"], "invalid_token");
        let (s, body) = get(&app, Some(&plain), path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error"], "insufficient_scope");
        assert_eq!(
            get(&app, Some(users_token), path).await.0,
            StatusCode::FORBIDDEN,
            "{path}: a user's token"
        );
    }
    assert!(admin_actions(&app).await.is_empty());
}

#[tokio::test]
async fn the_search_matches_as_the_console_does() {
    let app = spawn_app().await;
    let admin = admin_token(&app, &["admin"]).await;
    for e in [
        "a_b@example.test",
        "axb@example.test",
        "100%@example.test",
        "1000@example.test",
    ] {
        account(&app, e).await;
    }
    for n in 0..55 {
        account(&app, &format!("bulk{n:02}@many.example")).await;
    }
    // `_` and `%` are taken literally; case does not matter.
    let (s, found) = get(&app, Some(&admin), "/admin/api/users?q=A_B").await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert_eq!(emails(&found), ["a_b@example.test"]);
    assert!(
        found["users"][0]["id"]
            .as_str()
            .is_some_and(|i| !i.is_empty())
    );
    let (_, found) = get(&app, Some(&admin), "/admin/api/users?q=0%25").await;
    assert_eq!(emails(&found), ["100%@example.test"]);
    // At most 50, by email.
    let (_, found) = get(&app, Some(&admin), "/admin/api/users?q=MANY.example").await;
    let many = emails(&found);
    assert_eq!(many.len(), 50);
    assert!(many.windows(2).all(|w| w[0] < w[1]), "{many:?}");
    assert_eq!(many[0], "bulk00@many.example");
    // No text: nothing listed.
    for q in ["", "?q=", "?q=%20"] {
        let (s, found) = get(&app, Some(&admin), &format!("/admin/api/users{q}")).await;
        assert_eq!((s, emails(&found).len()), (StatusCode::OK, 0), "{q}");
    }
    // The console lists the same accounts for the same text.
    admin_signed_in(&app).await;
    let page = app.get("/admin/users?q=A_B").await.body;
    assert!(page.contains("a_b@example.test") && !page.contains("axb@example.test"));
}

#[tokio::test]
async fn bad_search_input_is_a_json_400() {
    let app = spawn_app().await;
    let admin = admin_token(&app, &["admin"]).await;
    let long = "a".repeat(255);
    for query in [
        format!("?q={long}"),
        "?q=a%07b".to_owned(),
        "?x=1".to_owned(),
        "?q=a&q=b".to_owned(),
    ] {
        let (s, body) = get(&app, Some(&admin), &format!("/admin/api/users{query}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "invalid_request", "{query}");
    }
}

#[tokio::test]
async fn a_users_page_shows_state_sessions_grants_and_events() {
    let app = spawn_app_with(ladder).await;
    let admin = admin_token(&app, &["admin"]).await;
    let target = app.user().await;
    let id = {
        let a = app.state.accounts.find_by_email(&target.email).await;
        a.unwrap().unwrap().id
    };
    let web = app.web_client().await;
    app.tokens_for(&web, &target, "openid").await;
    app.post_logout().await;
    // A blocked source: failures from one network past the ladder's block rung.
    let ip = "203.0.113.77";
    for _ in 0..3 {
        try_login(&app, ip, &target.email, "wrong password", None).await;
    }
    for _ in 0..5 {
        try_login(&app, ip, &target.email, "wrong password", Some("bad")).await;
    }

    let (s, page) = get(&app, Some(&admin), &format!("/admin/api/users/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["id"], id.as_str());
    assert_eq!(page["email"], target.email.as_str());
    assert_eq!(page["admin"], false);
    assert_eq!(page["disabled"], false);
    assert_eq!(page["disabled_at"], Value::Null);
    // Made by the operator: the address counts as verified, so the e-mailed code is a factor.
    assert_eq!(page["verified"], true);
    assert_eq!(page["locked"], false);
    assert_eq!(page["blocked_sources"], 1, "{page}");
    assert_eq!(page["factors"], serde_json::json!(["email"]));
    let sessions = page["sessions"].as_array().unwrap();
    let grant = sessions.iter().find(|s| s["kind"] == "app").expect("grant");
    assert_eq!(grant["client_id"], web.id.as_str());
    assert!(grant["id"].as_str().unwrap().starts_with("g-"));
    let events = page["events"].as_array().unwrap();
    assert!(events.len() >= 8, "{events:?}");
    let failed = events
        .iter()
        .find(|e| e["kind"] == "login_challenged")
        .expect("a challenged sign-in");
    assert!(failed["risk"]["score"].is_number(), "{failed}");
    assert!(failed["risk"]["reasons"].is_array());
    let times: Vec<_> = events.iter().map(|e| e["ts"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // By email too; a disabled account says so.
    let (s, _) = post(&app, &admin, &format!("/admin/api/users/{id}/disable")).await;
    assert_eq!(s, StatusCode::OK);
    let path = format!("/admin/api/users/{}", target.email.to_uppercase());
    let (s, page) = get(&app, Some(&admin), &path).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["id"], id.as_str());
    assert_eq!(page["disabled"], true);
    assert!(page["disabled_at"].as_str().is_some());
    assert_eq!(
        page["sessions"],
        serde_json::json!([]),
        "ended by the disable"
    );
}

#[tokio::test]
async fn unknown_is_404_malformed_is_400_and_nothing_changes() {
    let app = spawn_app().await;
    let admin = admin_token(&app, &["admin"]).await;
    for path in [
        "/admin/api/users/nosuch",
        "/admin/api/users/no@such.example",
    ] {
        let (s, body) = get(&app, Some(&admin), path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"], "not_found");
    }
    let long = "a".repeat(255);
    for id in ["a%01b", "%FF%FE", long.as_str()] {
        let (s, body) = get(&app, Some(&admin), &format!("/admin/api/users/{id}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{id}: {body}");
        assert_eq!(body["error"], "invalid_request");
        for act in ["unlock", "disable", "mfa/reset", "sessions/revoke"] {
            let (s, body) = post(&app, &admin, &format!("/admin/api/users/{id}/{act}")).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{id} {act}: {body}");
            assert_eq!(body["error"], "invalid_request");
        }
    }
    // The promotion's version must be a number: the same JSON 400.
    for v in ["abc", "1.5", "99999999999999999999"] {
        let (s, body) = post(&app, &admin, &format!("/admin/api/model/{v}/promote")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}: {body}");
        assert_eq!(body["error"], "invalid_request");
    }
    assert!(admin_actions(&app).await.is_empty());
    assert_eq!(app.state.risk.model().version, 0);
}
