//! The admin JSON API's client, key and model acts (the console's, for scripts): only a
//! client-credentials token with the `admin` scope; each act's effect and its `admin_action`
//! event with the calling client as actor.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_console::admin_actions;
use crate::admin_ops_pages::{cc_token, decisions, store_foreign_model, store_model};
use crate::helpers::{TestApp, new_client, spawn_app, str_of};

/// A client-credentials token and the client's id.
async fn token(app: &TestApp, scopes: &[&str]) -> (String, String) {
    let svc = app
        .add_client(false, false, &["client_credentials"], scopes)
        .await;
    let (status, body) = app
        .token(&svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (str_of(&body, "access_token").to_owned(), svc.id)
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = new_client()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_api_offers_each_console_act() {
    use reqwest::Method as M;
    let app = spawn_app().await;
    let (plain, _) = token(&app, &["reports"]).await;
    for (m, path) in [
        (M::GET, "/admin/api/clients"),
        (M::POST, "/admin/api/keys/rotate"),
        (M::GET, "/admin/api/model"),
        (M::DELETE, "/admin/api/clients/x"),
    ] {
        let (status, _) = call(&app, m, path, &plain, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (admin, actor) = token(&app, &["admin"]).await;
    let spec =
        json!({"client_id": "batch", "grants": ["client_credentials"], "scopes": ["reports"]});
    let (status, made) = call(&app, M::POST, "/admin/api/clients", &admin, Some(spec)).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let secret = str_of(&made, "client_secret").to_owned();
    assert_eq!(cc_token(&app, "batch", &secret).await, StatusCode::OK);
    let (_, list) = call(&app, M::GET, "/admin/api/clients", &admin, None).await;
    let listed = list["clients"].as_array().unwrap();
    let batch = listed.iter().find(|c| c["client_id"] == "batch").unwrap();
    assert_eq!(batch["public"], false);
    assert!(batch.get("client_secret").is_none());
    let (status, rotated) = call(
        &app,
        M::POST,
        "/admin/api/clients/batch/rotate-secret",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = str_of(&rotated, "client_secret");
    assert_eq!(
        cc_token(&app, "batch", &secret).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(cc_token(&app, "batch", new_secret).await, StatusCode::OK);
    let (status, gone) = call(&app, M::DELETE, "/admin/api/clients/batch", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gone["deleted"], true);
    let (status, _) = call(&app, M::DELETE, "/admin/api/clients/batch", &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, ring) = call(&app, M::GET, "/admin/api/keys", &admin, None).await;
    let old = ring["keys"][0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(ring["keys"][0]["state"], "active");
    let (status, rotated) = call(&app, M::POST, "/admin/api/keys/rotate", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !rotated["active_kids"]
            .as_array()
            .unwrap()
            .contains(&json!(old))
    );

    let v1 = store_model(&app).await;
    let v2 = store_model(&app).await;
    app.state.risk.reload().await.unwrap();
    let (_, models) = call(&app, M::GET, "/admin/api/model", &admin, None).await;
    assert_eq!(models["in_use"], v2);
    assert_eq!(models["models"].as_array().unwrap().len(), 2);
    let promote = format!("/admin/api/model/{v1}/promote");
    let (status, _) = call(&app, M::POST, &promote, &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.state.risk.model().version, v1);
    let (status, _) = call(&app, M::POST, "/admin/api/model/77/promote", &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, report) = call(&app, M::POST, "/admin/api/model/train", &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");

    let actions = admin_actions(&app).await;
    assert!(
        actions
            .iter()
            .all(|e| e.client_id.as_deref() == Some(actor.as_str()))
    );
    assert!(actions.iter().all(|e| e.user_id.is_none()));
    let got = decisions(&actions);
    for want in [
        "client_add; target batch".to_owned(),
        "client_rotate_secret; target batch".to_owned(),
        "client_delete; target batch".to_owned(),
        format!("model_promote; target {v1}"),
        format!("model_train; target {}", report["version"]),
    ] {
        assert!(got.contains(&want), "{want}: {got:?}");
    }
    assert!(got.iter().any(|d| d.starts_with("keys_rotate; target ")));
    assert_eq!(got.len(), 6);
}

#[tokio::test]
async fn the_openapi_document_lists_the_new_acts() {
    let app = spawn_app().await;
    let doc = app.get_json("/openapi.json").await;
    for path in [
        "/admin/api/clients",
        "/admin/api/clients/{id}/rotate-secret",
        "/admin/api/clients/{id}",
        "/admin/api/keys",
        "/admin/api/keys/rotate",
        "/admin/api/model",
        "/admin/api/model/{version}/promote",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
}

#[tokio::test]
async fn a_malformed_body_is_the_documented_400_and_changes_nothing() {
    use reqwest::Method as M;
    let app = spawn_app().await;
    let (admin, _) = token(&app, &["admin"]).await;
    let (_, before) = call(&app, M::GET, "/admin/api/clients", &admin, None).await;
    for (path, body) in [
        ("/admin/api/clients", json!({"tos_uri": ""})),
        ("/admin/api/clients", json!({"client_id": 7})),
        ("/admin/api/labels", json!({"attack": "yes"})),
        (
            "/admin/api/users/nobody@example.com/password-reset",
            json!({"end_sessions": "yes"}),
        ),
    ] {
        let (status, answer) = call(&app, M::POST, path, &admin, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(str_of(&answer, "error"), "invalid_request", "{path}");
    }
    // Not JSON at all.
    let resp = new_client()
        .post(app.url("/admin/api/clients"))
        .bearer_auth(&admin)
        .body("client_id=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (_, after) = call(&app, M::GET, "/admin/api/clients", &admin, None).await;
    assert_eq!(before, after, "no client was made");
}

#[tokio::test]
async fn the_api_rolls_back_to_the_prior_and_refuses_a_foreign_model() {
    use reqwest::Method as M;
    let app = spawn_app().await;
    let v1 = store_model(&app).await;
    app.state.risk.reload().await.unwrap();
    assert_eq!(app.state.risk.model().version, v1);
    let (plain, _) = token(&app, &["reports"]).await;
    let resp = new_client()
        .post(app.url("/admin/api/model/0/promote"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (s, _) = call(&app, M::POST, "/admin/api/model/0/promote", &plain, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.state.risk.model().version, v1);

    let (admin, actor) = token(&app, &["admin"]).await;
    let foreign = store_foreign_model(&app).await;
    let (s, body) = call(
        &app,
        M::POST,
        &format!("/admin/api/model/{foreign}/promote"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request");
    let (_, models) = call(&app, M::GET, "/admin/api/model", &admin, None).await;
    let listed = models["models"].as_array().unwrap();
    let row = listed.iter().find(|m| m["version"] == foreign).unwrap();
    assert_eq!(row["usable"], false);
    assert_eq!(app.state.risk.model().version, v1);
    assert!(admin_actions(&app).await.is_empty());

    let (s, body) = call(&app, M::POST, "/admin/api/model/0/promote", &admin, None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 0);
    assert_eq!(app.state.risk.model().version, 0);
    let (_, models) = call(&app, M::GET, "/admin/api/model", &admin, None).await;
    assert_eq!(models["in_use"], 0);
    assert!(
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["in_use"] == false)
    );
    let actions = admin_actions(&app).await;
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].client_id.as_deref(), Some(actor.as_str()));
    assert_eq!(decisions(&actions), ["model_promote; target 0"]);
    // Forward again to a stored version.
    let (s, _) = call(
        &app,
        M::POST,
        &format!("/admin/api/model/{v1}/promote"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.state.risk.model().version, v1);
}
