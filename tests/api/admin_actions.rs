//! The admin console's acts on a user's page (docs/admin.md): end every session and grant, end
//! one, force a password reset, reset factors, disable and enable, label a sign-in. Each is
//! refused to a non-admin (404), an admin without a second factor (403), an expired admin
//! session (sent to sign in) and a forged CSRF token (nothing changes); each has its effect
//! and its `admin_action` event. The admin API's equivalents, authorised by the admin scope.

use authd::events::{AuthEvent, EventFilter, EventKind};
use reqwest::StatusCode;
use time::Duration;

use crate::admin_console::{admin, admin_actions, admin_signed_in};
use crate::helpers::{Page, TestApp, TestClient, TestUser, new_client, read, spawn_app, str_of};

/// Another browser, with its own cookies.
struct Browser {
    client: reqwest::Client,
    base: String,
}

impl Browser {
    /// `user` signed in with the password, in a fresh browser.
    async fn signed_in(app: &TestApp, user: &TestUser) -> Self {
        let b = Self {
            client: new_client(),
            base: app.url(""),
        };
        assert_eq!(b.sign_in(user).await, StatusCode::SEE_OTHER);
        b
    }

    async fn sign_in(&self, user: &TestUser) -> StatusCode {
        let page = read(
            self.client
                .get(format!("{}/login", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let csrf = page.csrf();
        let form = [
            ("username", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf_token", csrf.as_str()),
        ];
        let r = self.client.post(format!("{}/login", self.base)).form(&form);
        r.send().await.unwrap().status()
    }

    async fn is_signed_in(&self) -> bool {
        let r = self.client.get(format!("{}/account", self.base));
        r.send().await.unwrap().status() == StatusCode::OK
    }
}

async fn id_of(app: &TestApp, email: &str) -> String {
    let found = app.state.accounts.find_by_email(email).await.unwrap();
    found.unwrap().id
}

/// A user with an app's grant (a refresh token) and, in its own browser, a session.
struct Target {
    user: TestUser,
    id: String,
    client: TestClient,
    refresh: String,
    browser: Browser,
}

async fn target(app: &TestApp) -> Target {
    let user = app.user().await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    app.post_logout().await;
    let browser = Browser::signed_in(app, &user).await;
    Target {
        id: id_of(app, &user.email).await,
        refresh: str_of(&tokens, "refresh_token").to_owned(),
        user,
        client,
        browser,
    }
}

impl Target {
    async fn grant_works(&self, app: &TestApp) -> bool {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh.as_str()),
        ];
        let (status, body) = app.token(&self.client, &form).await;
        status == StatusCode::OK && body["refresh_token"].is_string()
    }
}

/// Every act: its path under `/admin/users/{id}/` and its form fields besides the token.
const ACTS: [(&str, &[(&str, &str)]); 8] = [
    ("unlock", &[]),
    ("sessions/end-all", &[]),
    ("sessions/end", &[("session", "s-nosuch")]),
    ("password-reset", &[("end_sessions", "1")]),
    ("factors/reset", &[]),
    ("disable", &[]),
    ("enable", &[]),
    ("label", &[("event_id", "nosuch"), ("label", "attack")]),
];

async fn act(app: &TestApp, id: &str, path: &str, fields: &[(&str, &str)], csrf: &str) -> Page {
    let mut form = vec![("csrf_token", csrf)];
    form.extend_from_slice(fields);
    app.post_form(&format!("/admin/users/{id}/{path}"), &form)
        .await
}

/// The admin's `admin_action` events about `target` whose decision starts with `what`.
async fn acted(app: &TestApp, what: &str, target: &str) -> Vec<AuthEvent> {
    let prefix = format!("{what}; target {target}");
    let all = admin_actions(app).await;
    all.into_iter()
        .filter(|e| {
            e.decision
                .as_deref()
                .is_some_and(|d| d.starts_with(&prefix))
        })
        .collect()
}

#[tokio::test]
async fn a_non_admin_and_an_admin_without_a_second_factor_are_refused_every_act() {
    let app = spawn_app().await;
    let t = target(&app).await;
    let user = app.user().await;
    assert_eq!(
        app.post_login(&user.email, &user.password).await.status,
        StatusCode::SEE_OTHER
    );
    let csrf = app.get("/account").await.csrf();
    for (path, fields) in ACTS {
        let page = act(&app, &t.id, path, fields, &csrf).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    app.post_logout().await;
    let password_only = admin(&app).await;
    let page = app
        .post_login(&password_only.email, &password_only.password)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let csrf = app.get("/account").await.csrf();
    for (path, fields) in ACTS {
        let page = act(&app, &t.id, path, fields, &csrf).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("id=\"admin-step-up\""), "{path}");
    }
    assert!(admin_actions(&app).await.is_empty());
    assert!(t.browser.is_signed_in().await);
    assert!(t.grant_works(&app).await);
}

#[tokio::test]
async fn an_expired_admin_session_is_sent_to_sign_in() {
    let app = spawn_app().await;
    let t = target(&app).await;
    admin_signed_in(&app).await;
    let csrf = app.get(&format!("/admin/users/{}", t.id)).await.csrf();
    app.clock.advance(Duration::minutes(16));
    for (path, fields) in ACTS {
        let page = act(&app, &t.id, path, fields, &csrf).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(page.location().starts_with("/login?next="), "{path}");
    }
    assert!(admin_actions(&app).await.is_empty());
}

#[tokio::test]
async fn a_forged_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let t = target(&app).await;
    admin_signed_in(&app).await;
    let mails = app.outbox(0).await.len();
    for (path, fields) in ACTS {
        for token in ["", "forged"] {
            let page = act(&app, &t.id, path, fields, token).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    assert!(admin_actions(&app).await.is_empty());
    assert!(t.browser.is_signed_in().await);
    assert!(t.grant_works(&app).await);
    assert_eq!(app.outbox(0).await.len(), mails, "no mail");
    assert!(app.state.risk_store.labels().await.unwrap().is_empty());
    let page = app.get(&format!("/admin/users/{}", t.id)).await;
    assert!(page.body.contains("data-disabled=\"false\""));
}

/// The opaque id of the user page's first session row of `kind` (`s-` or `g-`).
fn row(body: &str, kind: &str) -> String {
    let marker = format!("data-session=\"{kind}");
    let start = body.find(&marker).expect("a row") + "data-session=\"".len();
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn sessions_and_grants_are_listed_and_ended_and_a_reset_is_mailed() {
    let app = spawn_app().await;
    let t = target(&app).await;
    let admin_user = admin_signed_in(&app).await;
    let admin_id = id_of(&app, &admin_user.email).await;
    let user_path = format!("/admin/users/{}", t.id);
    let page = app.get(&user_path).await;
    assert!(page.body.contains("id=\"user-sessions\""), "{}", page.body);
    let (grant, browser) = (row(&page.body, "g-"), row(&page.body, "s-"));
    let csrf = page.csrf();

    let done = act(&app, &t.id, "sessions/end", &[("session", &grant)], &csrf).await;
    assert_eq!(done.location(), format!("{user_path}?done=ended-one"));
    assert!(!t.grant_works(&app).await, "the grant is revoked");
    assert!(t.browser.is_signed_in().await);
    let e = acted(&app, "revoke", &t.id).await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].user_id.as_deref(), Some(admin_id.as_str()));
    assert!(e[0].decision.as_deref().unwrap().contains("one: app grant"));
    // Not (or no longer) one of the account's.
    let again = act(&app, &t.id, "sessions/end", &[("session", &grant)], &csrf).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let done = act(&app, &t.id, "sessions/end", &[("session", &browser)], &csrf).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(!t.browser.is_signed_in().await);
    let page = app.get(done.location()).await;
    assert!(page.body.contains("The session or grant was ended."));
    assert!(page.body.contains("id=\"no-sessions\""), "{}", page.body);

    let second = Browser::signed_in(&app, &t.user).await;
    let done = act(&app, &t.id, "sessions/end-all", &[], &csrf).await;
    assert_eq!(done.location(), format!("{user_path}?done=ended-all"));
    assert!(!second.is_signed_in().await);
    let e = acted(&app, "revoke", &t.id).await;
    assert_eq!(
        e[0].decision.as_deref(),
        Some(format!("revoke; target {}; all: 1 sessions, 0 grants", t.id).as_str())
    );
    let revoked = app
        .state_events(EventFilter {
            kind: Some(EventKind::SessionRevoked),
            user_id: Some(t.id.clone()),
            limit: 10,
            ..EventFilter::default()
        })
        .await;
    assert!(
        revoked[0]
            .decision
            .as_deref()
            .unwrap()
            .starts_with("admin:revoke")
    );

    let third = Browser::signed_in(&app, &t.user).await;
    let before = app.outbox(0).await.len();
    let done = act(
        &app,
        &t.id,
        "password-reset",
        &[("end_sessions", "1")],
        &csrf,
    )
    .await;
    assert_eq!(
        done.location(),
        format!("{user_path}?done=reset-sent-ended")
    );
    assert!(!third.is_signed_in().await);
    let mails = app.outbox(before + 1).await;
    let mail = mails.last().unwrap();
    assert!(mail.contains(&t.user.email));
    assert!(crate::smtp::reset_link(mail).is_some(), "{mail}");
    let e = acted(&app, "force_reset", &t.id).await;
    assert_eq!(
        e[0].decision.as_deref(),
        Some(
            format!(
                "force_reset; target {}; mail sent; 1 sessions, 0 grants ended",
                t.id
            )
            .as_str()
        )
    );
    // Without ending sessions: the same live link again, the session kept.
    let fourth = Browser::signed_in(&app, &t.user).await;
    let done = act(&app, &t.id, "password-reset", &[], &csrf).await;
    assert_eq!(done.location(), format!("{user_path}?done=reset-sent"));
    assert!(fourth.is_signed_in().await);
    let page = app.get(done.location()).await;
    assert!(page.body.contains("A password reset link was mailed"));
}

#[tokio::test]
async fn factors_are_reset_the_account_disabled_and_enabled_and_a_sign_in_labelled() {
    let app = spawn_app().await;
    let t = target(&app).await;
    let admin_user = admin_signed_in(&app).await;
    let admin_id = id_of(&app, &admin_user.email).await;
    let user_path = format!("/admin/users/{}", t.id);
    let page = app.get(&user_path).await;
    let csrf = page.csrf();

    let before = app.outbox(0).await.len();
    let done = act(&app, &t.id, "factors/reset", &[], &csrf).await;
    assert_eq!(done.location(), format!("{user_path}?done=factors-none"));
    let removed = app
        .state_events(EventFilter {
            kind: Some(EventKind::MfaRemoved),
            user_id: Some(t.id.clone()),
            limit: 10,
            ..EventFilter::default()
        })
        .await;
    assert_eq!(removed[0].decision.as_deref(), Some("mfa_reset:admin"));
    let mails = app.outbox(before + 1).await;
    let mail = crate::smtp::decode_qp(mails.last().unwrap());
    assert!(mail.contains("reset by an administrator"), "{mail}");
    assert_eq!(acted(&app, "reset_factors", &t.id).await.len(), 1);

    let done = act(&app, &t.id, "disable", &[], &csrf).await;
    assert_eq!(done.location(), format!("{user_path}?done=disabled"));
    assert!(!t.browser.is_signed_in().await);
    assert!(!t.grant_works(&app).await);
    assert_ne!(
        Browser::signed_in_status(&app, &t.user).await,
        StatusCode::SEE_OTHER
    );
    let page = app.get(done.location()).await;
    assert!(page.body.contains("data-disabled=\"true\""));
    // The CLI's call records the act on the account, naming the admin.
    let disabled = app
        .state_events(EventFilter {
            kind: Some(EventKind::AdminAction),
            user_id: Some(t.id.clone()),
            limit: 10,
            ..EventFilter::default()
        })
        .await;
    let text = disabled[0].decision.as_deref().unwrap();
    assert!(
        text.starts_with(&format!(
            "user_disable; actor admin {admin_id}; 1 sessions ended, 1 grants revoked"
        )),
        "{text}"
    );
    let done = act(&app, &t.id, "enable", &[], &csrf).await;
    assert_eq!(done.location(), format!("{user_path}?done=enabled"));
    assert_eq!(
        Browser::signed_in_status(&app, &t.user).await,
        StatusCode::SEE_OTHER
    );

    let page = app.get(&user_path).await;
    let sign_in = app
        .state_events(EventFilter {
            kind: Some(EventKind::LoginSucceeded),
            user_id: Some(t.id.clone()),
            limit: 1,
            ..EventFilter::default()
        })
        .await;
    let event_id = sign_in[0].id.clone();
    assert!(page.body.contains(&format!("data-event=\"{event_id}\"")));
    let form = [("event_id", event_id.as_str()), ("label", "attack")];
    let done = act(&app, &t.id, "label", &form, &csrf).await;
    assert_eq!(done.location(), format!("{user_path}?done=labelled-attack"));
    let labels = app.state.risk_store.labels().await.unwrap();
    assert_eq!(labels, vec![(event_id.clone(), true)]);
    let e = acted(&app, "label", &t.id).await;
    assert_eq!(
        e[0].decision.as_deref(),
        Some(format!("label; target {}; event {event_id}; attack", t.id).as_str())
    );
    // Relabelled; an event of another account, or a made-up label, is refused.
    let form = [("event_id", event_id.as_str()), ("label", "legitimate")];
    act(&app, &t.id, "label", &form, &csrf).await;
    let labels = app.state.risk_store.labels().await.unwrap();
    assert_eq!(labels, vec![(event_id.clone(), false)]);
    let admins_own = app
        .state_events(EventFilter {
            user_id: Some(admin_id.clone()),
            limit: 1,
            ..EventFilter::default()
        })
        .await;
    let form = [("event_id", admins_own[0].id.as_str()), ("label", "attack")];
    assert_eq!(
        act(&app, &t.id, "label", &form, &csrf).await.status,
        StatusCode::NOT_FOUND
    );
    let form = [("event_id", event_id.as_str()), ("label", "maybe")];
    assert_eq!(
        act(&app, &t.id, "label", &form, &csrf).await.status,
        StatusCode::BAD_REQUEST
    );
}

impl Browser {
    async fn signed_in_status(app: &TestApp, user: &TestUser) -> StatusCode {
        let b = Self {
            client: new_client(),
            base: app.url(""),
        };
        b.sign_in(user).await
    }
}

#[tokio::test]
async fn an_admin_cannot_disable_their_own_account_or_end_their_own_session() {
    let app = spawn_app().await;
    let me = admin_signed_in(&app).await;
    let id = id_of(&app, &me.email).await;
    let page = app.get(&format!("/admin/users/{id}")).await;
    assert!(page.body.contains("your session"), "{}", page.body);
    let at = page
        .body
        .find("your session")
        .expect("the admin's own session marked");
    let start = page.body[..at].rfind("data-session=\"").unwrap() + "data-session=\"".len();
    let mine = page.body[start..start + page.body[start..].find('"').unwrap()].to_owned();
    let csrf = page.csrf();
    for (path, fields) in [
        ("disable", vec![]),
        ("sessions/end-all", vec![]),
        ("sessions/end", vec![("session", mine.as_str())]),
        ("password-reset", vec![("end_sessions", "1")]),
    ] {
        let refused = act(&app, &id, path, &fields, &csrf).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{path}");
        assert!(
            refused.body.contains("own account") || refused.body.contains("session you are using"),
            "{}",
            refused.body
        );
    }
    assert!(admin_actions(&app).await.is_empty());
    assert_eq!(
        app.get("/admin").await.status,
        StatusCode::OK,
        "still signed in"
    );
}

/// An API call with `token`: (status, body).
async fn api(
    app: &TestApp,
    token: Option<&str>,
    get: bool,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let url = app.url(&format!("/admin/api{path}"));
    let mut req = if get {
        new_client().get(url)
    } else {
        new_client().post(url).json(&body)
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

async fn client_token(app: &TestApp, scopes: &[&str]) -> (String, String) {
    let svc = app
        .add_client(false, false, &["client_credentials"], scopes)
        .await;
    let (status, body) = app
        .token(&svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (svc.id, str_of(&body, "access_token").to_owned())
}

#[tokio::test]
async fn the_admin_api_offers_every_act_to_the_admin_scope_only() {
    let app = spawn_app().await;
    let t = target(&app).await;
    let (_, plain) = client_token(&app, &["reports"]).await;
    let (svc, token) = client_token(&app, &["admin"]).await;
    let id = t.id.as_str();
    let calls = [
        (true, format!("/users/{id}/sessions")),
        (false, format!("/users/{id}/unlock")),
        (false, format!("/users/{id}/sessions/revoke")),
        (false, format!("/users/{id}/sessions/s-nosuch/revoke")),
        (false, format!("/users/{id}/password-reset")),
        (false, format!("/users/{id}/mfa/reset")),
        (false, format!("/users/{id}/disable")),
        (false, format!("/users/{id}/enable")),
        (false, "/labels".to_owned()),
    ];
    let body = serde_json::json!({ "event_id": "x", "attack": true, "end_sessions": true });
    for (get, path) in &calls {
        let none = api(&app, None, *get, path, body.clone()).await;
        assert_eq!(none.0, StatusCode::UNAUTHORIZED, "{path}");
        let weak = api(&app, Some(&plain), *get, path, body.clone()).await;
        assert_eq!(weak.0, StatusCode::FORBIDDEN, "{path}");
    }
    assert!(t.browser.is_signed_in().await);
    assert!(t.grant_works(&app).await);

    let call = |get: bool, path: String, body: serde_json::Value| {
        let (app, token) = (&app, token.clone());
        async move { api(app, Some(&token), get, &path, body).await }
    };
    let (s, listed) = call(
        true,
        format!("/users/{}/sessions", t.user.email),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "by email too: {listed}");
    let sessions = listed["sessions"].as_array().unwrap();
    let grant = sessions.iter().find(|s| s["kind"] == "app").unwrap();
    let grant_id = grant["id"].as_str().unwrap();
    assert_eq!(grant["client_id"], t.client.id.as_str());
    let (s, out) = call(
        false,
        format!("/users/{id}/sessions/{grant_id}/revoke"),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert!(out["ended"].as_str().unwrap().starts_with("app grant"));
    assert!(!t.grant_works(&app).await);
    let (s, _) = call(
        false,
        format!("/users/{id}/sessions/{grant_id}/revoke"),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, out) = call(false, format!("/users/{id}/password-reset"), body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["mail"], "sent");
    assert_eq!(out["sessions_ended"], 1);
    assert!(!t.browser.is_signed_in().await);
    let (s, out) = call(false, format!("/users/{id}/sessions/revoke"), body.clone()).await;
    assert_eq!(
        (s, out["sessions_ended"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    let (s, out) = call(false, format!("/users/{id}/mfa/reset"), body.clone()).await;
    assert_eq!((s, out["changed"].as_bool()), (StatusCode::OK, Some(false)));
    let (s, out) = call(false, format!("/users/{id}/unlock"), body.clone()).await;
    assert_eq!((s, out["changed"].as_bool()), (StatusCode::OK, Some(false)));
    let (s, out) = call(false, format!("/users/{id}/disable"), body.clone()).await;
    assert_eq!(
        (s, out["changed"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{out}"
    );
    assert_ne!(
        Browser::signed_in_status(&app, &t.user).await,
        StatusCode::SEE_OTHER
    );
    let (s, out) = call(false, format!("/users/{id}/enable"), body.clone()).await;
    assert_eq!((s, out["changed"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(
        Browser::signed_in_status(&app, &t.user).await,
        StatusCode::SEE_OTHER
    );
    let (s, _) = call(false, "/users/nosuch/unlock".to_owned(), body.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        false,
        "/labels".to_owned(),
        serde_json::json!({"event_id": "e-1", "attack": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // Every act recorded with the client as actor.
    let acts: Vec<String> = admin_actions(&app)
        .await
        .into_iter()
        .filter(|e| e.client_id.as_deref() == Some(svc.as_str()))
        .filter_map(|e| e.decision)
        .collect();
    for what in ["revoke", "force_reset", "reset_factors", "unlock"] {
        let prefix = format!("{what}; target {id}");
        assert!(
            acts.iter().any(|d| d.starts_with(&prefix)),
            "{what}: {acts:?}"
        );
    }
    assert!(
        acts.iter().any(|d| d == "label; event e-1; attack"),
        "{acts:?}"
    );
    let on_account: Vec<String> = app
        .state_events(EventFilter {
            kind: Some(EventKind::AdminAction),
            user_id: Some(t.id.clone()),
            limit: 10,
            ..EventFilter::default()
        })
        .await
        .into_iter()
        .filter_map(|e| e.decision)
        .collect();
    assert!(
        on_account
            .iter()
            .any(|d| d.starts_with(&format!("user_disable; actor client {svc}")))
    );
    assert!(
        on_account
            .iter()
            .any(|d| d.starts_with(&format!("user_enable; actor client {svc}")))
    );
}

/// A console session in use for longer than `ACT_FRESH_SECS` since its sign-in with the factor
/// still reads, but every act asks for the factor again and changes nothing; after the step-up
/// it acts.
#[tokio::test]
async fn an_act_long_after_the_factor_asks_for_it_again() {
    let app = spawn_app().await;
    let t = target(&app).await;
    let admin = admin_signed_in(&app).await;
    // In use all along (never idle), twenty minutes after the sign-in.
    for _ in 0..2 {
        app.clock.advance(Duration::minutes(10));
        assert_eq!(app.get("/admin").await.status, StatusCode::OK);
    }
    let csrf = app.get(&format!("/admin/users/{}", t.id)).await.csrf();
    for (path, fields) in ACTS {
        let page = act(&app, &t.id, path, fields, &csrf).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("data-stale"), "{path}: {}", page.body);
    }
    assert!(admin_actions(&app).await.is_empty(), "nothing done");
    assert!(t.browser.is_signed_in().await);
    // The step-up again (the mailed code): the act goes through.
    let refused = app.get("/admin/keys").await;
    assert_eq!(refused.status, StatusCode::OK, "reads need no new step-up");
    let sent = app
        .post_form("/admin/step-up", &[("csrf_token", &refused.csrf())])
        .await;
    let login = sent.location().to_owned();
    let csrf = app.get(&login).await.csrf();
    let stepped = app
        .post_credentials(&login, &admin.email, &admin.password, &csrf)
        .await;
    assert!(stepped.body.contains("data-challenge=\"email\""));
    let csrf = app.get(&login).await.csrf();
    let code = app.last_code().await;
    let passed = app
        .post_form(&login, &[("email_code", &code), ("csrf_token", &csrf)])
        .await;
    assert_eq!(passed.location(), "/admin");
    let csrf = app.get(&format!("/admin/users/{}", t.id)).await.csrf();
    let page = act(&app, &t.id, "sessions/end-all", &[], &csrf).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(!t.browser.is_signed_in().await);
}
