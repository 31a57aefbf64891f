//! Disabling and enabling a client (docs/oauth.md, docs/admin.md), through the admin API, the
//! console and `authd client disable|enable`: a disabled client is refused at `/token` with the
//! very answer a wrong secret gets, `/authorize` shows the error page, its refresh and access
//! tokens stop working (userinfo 401, introspection inactive, the admin API 401); enabling it
//! again lets it ask for new tokens and revives no grant or token. Each act is one
//! `admin_action`; unauthorised or malformed calls change nothing.

use authd::events::EventKind;
use reqwest::StatusCode;
use serde_json::Value;
use time::Duration;

use crate::admin_console::{admin, admin_actions, admin_signed_in};
use crate::admin_ops_pages::{admin_id, cc_token, decisions};
use crate::cli::authd_on;
use crate::helpers::{TestApp, TestClient, TestUser, new_client, spawn_app, str_of};

/// A client-credentials client holding `scopes`, and a token of it.
async fn cc_client(app: &TestApp, scopes: &[&str]) -> (TestClient, String) {
    let c = app
        .add_client(false, false, &["client_credentials"], scopes)
        .await;
    let (status, body) = app.token(&c, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = str_of(&body, "access_token").to_owned();
    (c, token)
}

async fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> (StatusCode, Value) {
    let resp = new_client()
        .request(method, app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

async fn act(app: &TestApp, token: &str, id: &str, what: &str) -> (StatusCode, Value) {
    let path = format!("/admin/api/clients/{id}/{what}");
    api(app, token, reqwest::Method::POST, &path).await
}

async fn refresh(app: &TestApp, c: &TestClient, token: &str) -> (StatusCode, Value) {
    app.token(
        c,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// `/introspect` as `c` itself (only a token's audience may ask): status and body.
async fn introspect(app: &TestApp, c: &TestClient, token: &str) -> (StatusCode, Value) {
    let resp = new_client()
        .post(app.url("/introspect"))
        .basic_auth(&c.id, c.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

async fn authorize_page(app: &TestApp, c: &TestClient) -> (StatusCode, String) {
    let query = [
        ("response_type", "code"),
        ("client_id", c.id.as_str()),
        ("redirect_uri", c.redirect_uri.as_str()),
        ("scope", "openid"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    let qs = serde_urlencoded::to_string(query).unwrap();
    let page = app.get(&format!("/authorize?{qs}")).await;
    (page.status, page.body)
}

/// A user's tokens from `web`, and the user.
async fn user_tokens(app: &TestApp, web: &TestClient) -> (TestUser, String, String) {
    let user = app.user().await;
    let t = app.tokens_for(web, &user, "openid email").await;
    app.post_logout().await;
    let access = str_of(&t, "access_token").to_owned();
    (user, access, str_of(&t, "refresh_token").to_owned())
}

#[tokio::test]
async fn a_disabled_client_is_refused_everywhere_and_enabling_revives_nothing() {
    let app = spawn_app().await;
    let (_, admin) = cc_client(&app, &["admin"]).await;
    let web = app.web_client().await;
    let (user, access, refresh_token) = user_tokens(&app, &web).await;
    assert_eq!(app.userinfo(&access).await.0, StatusCode::OK);
    let wrong_secret = TestClient {
        secret: Some("not the secret".into()),
        ..web.clone()
    };
    let (_, refused_for_secret) = refresh(&app, &wrong_secret, &refresh_token).await;

    let (s, done) = act(&app, &admin, &web.id, "disable").await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(
        (&done["disabled"], &done["changed"], &done["grants_revoked"]),
        (&Value::Bool(true), &Value::Bool(true), &Value::from(1))
    );
    // /token: every grant, answered exactly as a wrong secret is (nothing says why).
    let (s, body) = refresh(&app, &web, &refresh_token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body, refused_for_secret);
    assert_eq!(body["error"], "invalid_client");
    let (s, body) = app
        .token(&web, &[("grant_type", "authorization_code"), ("code", "x")])
        .await;
    assert_eq!(
        (s, body),
        (StatusCode::UNAUTHORIZED, refused_for_secret.clone())
    );
    // /authorize: the error page, never a redirect to the client.
    let (s, page) = authorize_page(&app, &web).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("disabled"), "{page}");
    // Its tokens: userinfo 401; it cannot even authenticate to introspect or revoke.
    assert_eq!(app.userinfo(&access).await.0, StatusCode::UNAUTHORIZED);
    let (s, body) = introspect(&app, &web, &access).await;
    assert_eq!(
        (s, &body["error"]),
        (StatusCode::UNAUTHORIZED, &Value::from("invalid_client"))
    );
    assert_eq!(
        app.revoke(&web, &refresh_token).await,
        StatusCode::UNAUTHORIZED
    );
    let (s, again) = act(&app, &admin, &web.id, "disable").await;
    assert_eq!(
        (s, &again["changed"]),
        (StatusCode::OK, &Value::Bool(false))
    );

    app.clock.advance(Duration::seconds(5));
    let (s, done) = act(&app, &admin, &web.id, "enable").await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(
        (&done["disabled"], &done["changed"]),
        (&Value::Bool(false), &Value::Bool(true))
    );
    assert!(done.get("grants_revoked").is_none());
    // Nothing issued before the disable works again ...
    let (s, body) = refresh(&app, &web, &refresh_token).await;
    assert_eq!(
        (s, &body["error"]),
        (StatusCode::BAD_REQUEST, &Value::from("invalid_grant"))
    );
    assert_eq!(app.userinfo(&access).await.0, StatusCode::UNAUTHORIZED);
    let (s, body) = introspect(&app, &web, &access).await;
    assert_eq!((s, &body["active"]), (StatusCode::OK, &Value::Bool(false)));
    // ... but the client signs its users in again.
    let fresh = app.tokens_for(&web, &user, "openid email").await;
    assert_eq!(
        app.userinfo(str_of(&fresh, "access_token")).await.0,
        StatusCode::OK
    );
    let (s, _) = act(&app, &admin, &web.id, "enable").await;
    assert_eq!(s, StatusCode::OK);

    let got = decisions(&admin_actions(&app).await);
    let want = |what: &str| format!("client_{what}; target {}", web.id);
    assert_eq!(
        got.iter().filter(|d| **d == want("disable")).count(),
        2,
        "{got:?}"
    );
    assert_eq!(got.iter().filter(|d| **d == want("enable")).count(), 2);
    assert_eq!(got.len(), 4);
}

#[tokio::test]
async fn a_disabled_clients_own_tokens_stay_dead_after_it_is_enabled() {
    let app = spawn_app().await;
    let (_, operator) = cc_client(&app, &["admin"]).await;
    let (svc, svc_token) = cc_client(&app, &["admin"]).await;
    let (s, _) = api(&app, &svc_token, reqwest::Method::GET, "/admin/api/clients").await;
    assert_eq!(s, StatusCode::OK);
    let (s, list) = api(&app, &operator, reqwest::Method::GET, "/admin/api/clients").await;
    assert_eq!(s, StatusCode::OK);
    let listed = |list: &Value| {
        let all = list["clients"].as_array().unwrap().clone();
        all.into_iter()
            .find(|c| c["client_id"] == svc.id.as_str())
            .unwrap()
    };
    assert_eq!(listed(&list)["disabled"], false);

    assert_eq!(
        act(&app, &operator, &svc.id, "disable").await.0,
        StatusCode::OK
    );
    let secret = svc.secret.clone().unwrap();
    assert_eq!(
        cc_token(&app, &svc.id, &secret).await,
        StatusCode::UNAUTHORIZED
    );
    let (s, body) = api(&app, &svc_token, reqwest::Method::GET, "/admin/api/clients").await;
    assert_eq!(
        (s, &body["error"]),
        (StatusCode::UNAUTHORIZED, &Value::from("invalid_token"))
    );
    let (_, list) = api(&app, &operator, reqwest::Method::GET, "/admin/api/clients").await;
    assert_eq!(listed(&list)["disabled"], true);
    assert!(listed(&list)["disabled_at"].is_i64());

    app.clock.advance(Duration::seconds(2));
    assert_eq!(
        act(&app, &operator, &svc.id, "enable").await.0,
        StatusCode::OK
    );
    // A client-credentials token belongs to no grant: the cut-off keeps it dead.
    let (s, _) = api(&app, &svc_token, reqwest::Method::GET, "/admin/api/clients").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .token(&svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (s, _) = api(
        &app,
        str_of(&body, "access_token"),
        reqwest::Method::GET,
        "/admin/api/clients",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let actions = admin_actions(&app).await;
    assert!(
        actions
            .iter()
            .all(|e| e.client_id.as_deref() != Some(svc.id.as_str()))
    );
    assert_eq!(actions.len(), 2);
}

#[tokio::test]
async fn unauthorised_or_malformed_calls_change_nothing() {
    let app = spawn_app().await;
    let (svc, _) = cc_client(&app, &["reports"]).await;
    let (_, plain) = cc_client(&app, &["reports"]).await;
    let (_, admin) = cc_client(&app, &["admin"]).await;
    for what in ["disable", "enable"] {
        let path = format!("/admin/api/clients/{}/{what}", svc.id);
        let resp = new_client().post(app.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{what}");
        let (s, body) = act(&app, &plain, &svc.id, what).await;
        assert_eq!(
            (s, &body["error"]),
            (StatusCode::FORBIDDEN, &Value::from("insufficient_scope"))
        );
        let (s, body) = act(&app, &admin, "nosuch", what).await;
        assert_eq!(
            (s, &body["error"]),
            (StatusCode::NOT_FOUND, &Value::from("not_found"))
        );
        let (s, body) = act(&app, &admin, "%FF", what).await;
        assert_eq!(
            (s, &body["error"]),
            (StatusCode::BAD_REQUEST, &Value::from("invalid_request"))
        );
    }
    assert!(admin_actions(&app).await.is_empty());
    let secret = svc.secret.clone().unwrap();
    assert_eq!(cc_token(&app, &svc.id, &secret).await, StatusCode::OK);
}

#[tokio::test]
async fn the_console_disables_with_a_confirmation_and_enables() {
    let app = spawn_app().await;
    let (svc, _) = cc_client(&app, &["reports"]).await;
    let secret = svc.secret.clone().unwrap();
    let disable = format!("/admin/clients/{}/disable", svc.id);
    let enable = format!("/admin/clients/{}/enable", svc.id);
    // A non-admin: the generic 404.
    let user = app.user().await;
    app.post_login(&user.email, &user.password).await;
    let csrf = app.get("/account").await.csrf();
    for path in [&disable, &enable] {
        let form = [("csrf_token", csrf.as_str()), ("confirm", svc.id.as_str())];
        assert_eq!(
            app.post_form(path, &form).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // An admin without a second factor: the step-up page.
    app.post_logout().await;
    let password_only = admin(&app).await;
    app.post_login(&password_only.email, &password_only.password)
        .await;
    let step_up = app.get("/admin/clients").await;
    assert_eq!(step_up.status, StatusCode::FORBIDDEN);
    let step_up_csrf = step_up.csrf();
    for path in [&disable, &enable] {
        let form = [
            ("csrf_token", step_up_csrf.as_str()),
            ("confirm", svc.id.as_str()),
        ];
        assert_eq!(
            app.post_form(path, &form).await.status,
            StatusCode::FORBIDDEN
        );
    }
    app.post_logout().await;
    assert_eq!(cc_token(&app, &svc.id, &secret).await, StatusCode::OK);
    assert!(admin_actions(&app).await.is_empty());

    let signed_in = admin_signed_in(&app).await;
    let admin_id = admin_id(&app, &signed_in.email).await;
    let list = app.get("/admin/clients").await;
    let csrf = list.csrf();
    assert!(list.body.contains("data-state=\"enabled\""));
    // Forged or missing CSRF, or an unconfirmed disable: refused, nothing changes.
    for form in [
        vec![],
        vec![("csrf_token", "forged"), ("confirm", svc.id.as_str())],
    ] {
        assert_eq!(
            app.post_form(&disable, &form).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.post_form(&enable, &form).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let unconfirmed = [("csrf_token", csrf.as_str()), ("confirm", "other")];
    assert_eq!(
        app.post_form(&disable, &unconfirmed).await.status,
        StatusCode::BAD_REQUEST
    );
    let unknown = [("csrf_token", csrf.as_str()), ("confirm", "nosuch")];
    assert_eq!(
        app.post_form("/admin/clients/nosuch/disable", &unknown)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(cc_token(&app, &svc.id, &secret).await, StatusCode::OK);
    assert!(admin_actions(&app).await.is_empty());

    let confirmed = [("csrf_token", csrf.as_str()), ("confirm", svc.id.as_str())];
    let done = app.post_form(&disable, &confirmed).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        done.location(),
        format!("/admin/clients?disabled={}", svc.id)
    );
    let shown = app.get(done.location()).await.body;
    assert!(shown.contains("id=\"admin-notice\""));
    let row = &shown[shown
        .find(&format!("data-client-id=\"{}\"", svc.id))
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("data-state=\"disabled\"") && row.contains("Enable"),
        "{row}"
    );
    assert_eq!(
        cc_token(&app, &svc.id, &secret).await,
        StatusCode::UNAUTHORIZED
    );

    let done = app.post_form(&enable, &[("csrf_token", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        done.location(),
        format!("/admin/clients?enabled={}", svc.id)
    );
    assert_eq!(cc_token(&app, &svc.id, &secret).await, StatusCode::OK);
    let actions = admin_actions(&app).await;
    assert!(
        actions
            .iter()
            .all(|e| e.user_id.as_deref() == Some(admin_id.as_str()))
    );
    let mut got = decisions(&actions);
    got.sort();
    assert_eq!(
        got,
        [
            format!("client_disable; target {}", svc.id),
            format!("client_enable; target {}", svc.id)
        ]
    );
}

async fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let url = app.db.url.clone();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || authd_on(&url).args(&args).output().unwrap())
        .await
        .unwrap()
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn the_command_line_disables_and_enables() {
    let app = spawn_app().await;
    let (svc, _) = cc_client(&app, &["reports"]).await;
    let secret = svc.secret.clone().unwrap();
    let out = json_of(&cli(&app, &["client", "disable", &svc.id]).await);
    assert_eq!(out["client_id"], svc.id.as_str());
    assert_eq!(
        (&out["disabled"], &out["changed"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
    assert_eq!(out["grants_revoked"], 0);
    assert_eq!(
        cc_token(&app, &svc.id, &secret).await,
        StatusCode::UNAUTHORIZED
    );
    let list = json_of(&cli(&app, &["client", "list"]).await);
    let row = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == svc.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["disabled"], true);
    let out = json_of(&cli(&app, &["client", "enable", &svc.id]).await);
    assert_eq!(
        (&out["disabled"], &out["changed"]),
        (&Value::Bool(false), &Value::Bool(true))
    );
    assert_eq!(cc_token(&app, &svc.id, &secret).await, StatusCode::OK);
    let out = cli(&app, &["client", "disable", "nosuch"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no client"));

    let mut what: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::AdminAction)
        .map(|e| e.decision.unwrap_or_default())
        .collect();
    what.sort();
    assert_eq!(
        what,
        [
            format!("cli:client; disable {}", svc.id),
            format!("cli:client; enable {}", svc.id)
        ]
    );
}
