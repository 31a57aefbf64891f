//! Changing the sign-in methods of an account its second factor guards takes that factor
//! proved in the session, not the password alone (docs/mfa.md): a stolen-password holder on a
//! low-risk sign-in could otherwise swap the owner's app or add a passkey of its own — and an
//! admin's password could set up the very factor that passes the console's step-up. The
//! security page's step-up form proves it; setting a factor up proves it too.

use reqwest::StatusCode;

use crate::helpers::{TestApp, TestUser, spawn_app};
use crate::totp::{PAGE, action, code, enrolled, reauth};

const STEP_UP: &str = "/account/security/step-up";

/// `POST /account/security/passkeys/start` with the page's CSRF token: (status, `error`).
async fn passkey_start(app: &TestApp) -> (StatusCode, String) {
    let csrf = app.get(PAGE).await.csrf();
    let r = app
        .client
        .post(app.url("/account/security/passkeys/start"))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    (status, body["error"].as_str().unwrap_or("").to_owned())
}

/// The security page's step-up, begun: signs in again with the password and meets the
/// `challenge`; the sign-in path to answer it on.
async fn begin_step_up(app: &TestApp, user: &TestUser, challenge: &str) -> String {
    let csrf = app.get(PAGE).await.csrf();
    let sent = app.post_form(STEP_UP, &[("csrf_token", &csrf)]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let login = sent.location().to_owned();
    assert_eq!(login, "/login?reauth=1&next=%2Faccount%2Fsecurity");
    let csrf = app.get(&login).await.csrf();
    let stepped = app
        .post_credentials(&login, &user.email, &user.password, &csrf)
        .await;
    assert_eq!(stepped.status, StatusCode::UNAUTHORIZED);
    let marker = format!("data-challenge=\"{challenge}\"");
    assert!(stepped.body.contains(&marker), "{}", stepped.body);
    login
}

/// The security page's step-up with the mailed code (an account whose strongest factor is its
/// verified address): the session's sign-in has passed a factor after it.
pub(crate) async fn pass_the_mailed_code(app: &TestApp, user: &TestUser) {
    let login = begin_step_up(app, user, "email").await;
    finish_step_up(app, &login, "email_code", &app.last_code().await).await;
}

/// Answers the step-up on `login` with `field` = `answer`: back on the security page.
async fn finish_step_up(app: &TestApp, login: &str, field: &str, answer: &str) {
    let csrf = app.get(login).await.csrf();
    let passed = app
        .post_form(login, &[(field, answer), ("csrf_token", &csrf)])
        .await;
    assert_eq!(passed.status, StatusCode::SEE_OTHER, "{}", passed.body);
    assert_eq!(passed.location(), PAGE);
}

#[tokio::test]
async fn a_password_alone_cannot_change_the_factors_of_an_account_with_an_app() {
    let app = spawn_app().await;
    let (user, secret, _) = enrolled(&app).await;
    // Signed in again with the password alone (the owner's browser, a low risk, "at every
    // sign-in" off), and the page's re-authentication with it.
    app.post_logout().await;
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    reauth(&app, &user).await;
    assert!(app.get(PAGE).await.body.contains("data-reauth=\"factor\""));
    for a in ["totp_disable", "recovery_regenerate", "require_mfa_off"] {
        let refused = action(&app, a, "").await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{a}: {}",
            refused.body
        );
        assert!(refused.body.contains("data-reauth=\"factor\""), "{a}");
        assert!(!refused.body.contains("data-recovery-codes"), "{a}");
    }
    assert_eq!(
        passkey_start(&app).await,
        (StatusCode::FORBIDDEN, "factor_required".to_owned())
    );
    let page = app.get(PAGE).await;
    assert!(page.body.contains("data-totp=\"on\""), "nothing changed");
    // Raising the bar needs no factor.
    assert_eq!(
        action(&app, "require_mfa_on", "").await.status,
        StatusCode::SEE_OTHER
    );
    // The page's step-up: the app's code (a new one: the enrolment's was used).
    app.clock.advance(time::Duration::seconds(30));
    let login = begin_step_up(&app, &user, "totp").await;
    finish_step_up(&app, &login, "totp_code", &code(&app, &secret)).await;
    assert!(!app.get(PAGE).await.body.contains("data-reauth=\"factor\""));
    let off = action(&app, "totp_disable", "").await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    assert!(app.get(PAGE).await.body.contains("data-totp=\"off\""));
}

#[tokio::test]
async fn an_admin_s_password_alone_cannot_set_up_the_factor_that_opens_the_console() {
    let app = spawn_app().await;
    let user = crate::admin_console::admin(&app).await;
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/admin").await.status, StatusCode::FORBIDDEN);
    reauth(&app, &user).await;
    let refused = action(&app, "totp_start", "").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(!refused.body.contains("data-totp-secret"));
    assert_eq!(
        passkey_start(&app).await,
        (StatusCode::FORBIDDEN, "factor_required".to_owned())
    );
    // With the e-mailed code (the admin's factor) proved, both the app and the console.
    let login = begin_step_up(&app, &user, "email").await;
    finish_step_up(&app, &login, "email_code", &app.last_code().await).await;
    let started = action(&app, "totp_start", "").await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert!(started.body.contains("data-totp-secret"));
    assert_eq!(app.get("/admin").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_re_authentication_gives_the_session_a_new_id() {
    let app = spawn_app().await;
    let user = app.user().await;
    let signed_in = app.post_login(&user.email, &user.password).await;
    let old_id = signed_in.session_cookie().expect("a session at sign-in");
    let old_csrf = app.get(PAGE).await.csrf();
    let (app, user) = (&app, &user);
    let reauth_with = |csrf: String| async move {
        let form = [("csrf_token", csrf.as_str()), ("password", &user.password)];
        app.post_form("/account/security/reauth", &form).await
    };
    let done = reauth_with(old_csrf.clone()).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let new_id = done.session_cookie().expect("a new session id");
    assert_ne!(new_id, old_id);
    // The old id is dead; this browser, under the new one, is signed in and re-authenticated.
    let old = crate::helpers::read(
        crate::helpers::new_client()
            .get(app.url("/account"))
            .header("cookie", format!("authd_session={old_id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(old.status, StatusCode::SEE_OTHER, "the replaced id is dead");
    let page = app.get(PAGE).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("data-reauth=\"password\""),
        "re-authenticated"
    );
    // The page's token is the one fetched before (a script's next form works with it).
    assert_eq!(page.csrf(), old_csrf);
    let again = reauth_with(old_csrf).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    // The session list still knows this session as the current one.
    assert!(page.body.contains("data-current"), "{}", page.body);
}
