//! The passkey JSON endpoints' refusals (no session, no or a wrong CSRF header, a stale
//! re-authentication, bad JSON, no ceremony, a bogus authenticator answer: each a 4xx that
//! stores nothing), a refused passwordless assertion counted as a failed sign-in, and passkeys
//! off when the public URL is an IP address. The ceremonies themselves run end to end in
//! Chromium's virtual authenticator (tests/browser/passkeys.test.mjs).

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, raw_rows, spawn_app, spawn_app_with};

/// An app whose public URL names `localhost` (passkeys need a domain as relying-party id).
async fn app() -> TestApp {
    spawn_app_with(|c| {
        c.issuer.set_host(Some("localhost")).unwrap();
    })
    .await
}

async fn post_json(
    app: &TestApp,
    path: &str,
    csrf: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(format!("{}{path}", app.address))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = csrf {
        req = req.header("x-csrf-token", token);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let json = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, json)
}

fn error(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A well-formed registration answer that no authenticator made.
fn bogus_registration() -> String {
    json!({
        "name": "bogus",
        "credential": {
            "id": b64(b"cred"), "rawId": b64(b"cred"), "type": "public-key",
            "response": { "attestationObject": b64(b"\xa0"), "clientDataJSON": b64(b"{}") }
        }
    })
    .to_string()
}

/// A well-formed assertion that claims `user_id`'s account but no authenticator signed.
fn bogus_assertion(user_id: &str) -> String {
    let handle = uuid::Uuid::parse_str(user_id).unwrap();
    json!({
        "credential": {
            "id": b64(b"cred"), "rawId": b64(b"cred"), "type": "public-key",
            "response": {
                "authenticatorData": b64(&[0u8; 37]), "clientDataJSON": b64(b"{}"),
                "signature": b64(b"sig"), "userHandle": b64(handle.as_bytes())
            }
        }
    })
    .to_string()
}

async fn stored_passkeys(app: &TestApp) -> usize {
    raw_rows(&app.db, "select id from passkey").await.len()
}

#[tokio::test]
async fn enrolment_refuses_without_session_csrf_reauth_or_json_and_stores_nothing() {
    let app = app().await;
    let start = "/account/security/passkeys/start";
    let finish = "/account/security/passkeys/finish";
    let (status, body) = post_json(&app, start, Some("x"), "{}").await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::UNAUTHORIZED, "sign_in_required")
    );

    app.signed_in_user().await;
    let page = app.get("/account/security").await;
    assert!(page.body.contains(r#"name="action" value="passkey_add""#));
    assert!(page.body.contains(r#"src="/static/passkey.js""#));
    let csrf = page.csrf();
    let (status, body) = post_json(&app, start, None, "{}").await;
    assert_eq!((status, error(&body)), (StatusCode::FORBIDDEN, "csrf"));
    let (status, _) = post_json(&app, start, Some("not-the-token"), "{}").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The options: user verification and a discoverable credential, for this relying party.
    let (status, body) = post_json(&app, start, Some(&csrf), "{}").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pk = &body["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost");
    assert!(pk["challenge"].as_str().is_some_and(|c| c.len() >= 43));
    let sel = &pk["authenticatorSelection"];
    assert_eq!(sel["residentKey"], "required");
    assert_eq!(sel["userVerification"], "required");

    let (status, body) = post_json(&app, finish, Some(&csrf), "{not json").await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    // That spent the ceremony: it cannot be finished any more.
    let (status, body) = post_json(&app, finish, Some(&csrf), &bogus_registration()).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::BAD_REQUEST, "no_ceremony")
    );
    post_json(&app, start, Some(&csrf), "{}").await;
    let (status, body) = post_json(&app, finish, Some(&csrf), &bogus_registration()).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::BAD_REQUEST, "rejected")
    );

    // Five minutes after the password, changes need it again.
    app.clock.advance(time::Duration::minutes(6));
    let (status, body) = post_json(&app, start, Some(&csrf), "{}").await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::FORBIDDEN, "reauth_required")
    );
    let removal = app
        .post_form(
            "/account/security/passkeys/remove",
            &[("csrf_token", &csrf), ("passkey_id", "x")],
        )
        .await;
    assert_eq!(removal.status, StatusCode::SEE_OTHER);
    assert!(
        removal.location().starts_with("/login?reauth=1"),
        "{}",
        removal.location()
    );

    assert_eq!(stored_passkeys(&app).await, 0);
    let events = app.events().await;
    assert!(
        !events
            .iter()
            .any(|e| e.kind == authd::events::EventKind::MfaEnrolled),
        "nothing enrolled"
    );
}

#[tokio::test]
async fn a_refused_passwordless_assertion_is_a_failed_sign_in_on_the_ladder() {
    let app = app().await;
    let user = app.user().await;
    let account = app
        .state
        .accounts
        .find_by_email(&user.email)
        .await
        .unwrap()
        .unwrap();
    let page = app.get_login().await;
    assert!(page.body.contains("data-passkey-signin"));
    let csrf = page.csrf();
    let (start, finish) = ("/login/passkey/start", "/login/passkey/finish");

    let (status, _) = post_json(&app, start, None, "{}").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = post_json(&app, finish, Some(&csrf), &bogus_assertion(&account.id)).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::BAD_REQUEST, "no_ceremony")
    );

    let (status, body) = post_json(&app, start, Some(&csrf), "{}").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["publicKey"]["userVerification"], "required");
    let (status, body) = post_json(&app, finish, Some(&csrf), &bogus_assertion(&account.id)).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::UNAUTHORIZED, "rejected")
    );

    let events = app.events().await;
    let failed = events
        .iter()
        .find(|e| e.kind == authd::events::EventKind::LoginFailed)
        .expect("a login_failed event");
    assert_eq!(failed.user_id.as_deref(), Some(account.id.as_str()));
    assert_eq!(failed.decision.as_deref(), Some("deny; passkey"));
    // Counted on the account's ladder like a wrong password from this network.
    let rows = raw_rows(
        &app.db,
        &format!(
            "select account_key from login_failure where account_key = 'user:{}'",
            account.id
        ),
    )
    .await;
    assert_eq!(rows.len(), 2, "the pair and the account-wide row: {rows:?}");
    assert!(
        app.get("/account").await.status.is_redirection(),
        "not signed in"
    );
}

#[tokio::test]
async fn passkeys_are_off_when_the_public_url_is_an_ip_address() {
    let app = spawn_app().await;
    let page = app.get_login().await;
    assert!(!page.body.contains("data-passkey-signin"));
    let (status, body) = post_json(&app, "/login/passkey/start", Some(&page.csrf()), "{}").await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::NOT_FOUND, "unavailable")
    );
}
