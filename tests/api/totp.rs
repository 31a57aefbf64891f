//! The authenticator app (docs/mfa.md): enrolment with INTERFACE's markers, the step-up with
//! `data-challenge="totp"`, a code accepted once, recovery codes once each, a wrong code on
//! the ladder, and `authd user mfa reset`.

use authd::events::EventKind;
use reqwest::StatusCode;
use totp_rs::{Algorithm, Builder, Secret};

use crate::helpers::{TestApp, TestUser, spawn_app};

/// Between `data-totp-secret="` and the next quote.
fn secret_of(body: &str) -> String {
    let marker = "data-totp-secret=\"";
    let start = body.find(marker).expect("data-totp-secret") + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

/// The codes listed in the `data-recovery-codes` element, one per child.
fn recovery_codes(body: &str) -> Vec<String> {
    let start = body
        .find("data-recovery-codes")
        .expect("data-recovery-codes");
    let list = &body[start..start + body[start..].find("</ul>").unwrap()];
    list.split("<code>")
        .skip(1)
        .map(|c| c[..c.find("</code>").unwrap()].to_owned())
        .collect()
}

/// The app's code for `secret` at the app's (fake) time.
fn code(app: &TestApp, secret: &str) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = u64::try_from(authd::domain::clock::Clock::now(app.clock.as_ref()).unix_timestamp())
        .unwrap();
    totp.generate(now).to_string()
}

async fn action(app: &TestApp, action: &str, code: &str) -> crate::helpers::Page {
    let csrf = app.get("/account/factors").await.csrf();
    app.post_form(
        "/account/factors",
        &[
            ("action", action),
            ("totp_code", code),
            ("csrf_token", &csrf),
        ],
    )
    .await
}

/// A signed-in user with a confirmed app: (user, secret, recovery codes).
async fn enrolled(app: &TestApp) -> (TestUser, String, Vec<String>) {
    let user = app.user().await;
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let started = action(app, "totp_start", "").await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert!(started.body.contains("name=\"totp_code\""));
    assert!(started.body.contains("value=\"totp_confirm\""));
    assert!(
        started.body.contains("data:image/svg+xml;base64,"),
        "the QR code"
    );
    let secret = secret_of(&started.body);
    let wrong = action(app, "totp_confirm", "000000").await;
    assert!(wrong.body.contains("data-totp-secret"), "shown again");
    let confirmed = action(app, "totp_confirm", &code(app, &secret)).await;
    let codes = recovery_codes(&confirmed.body);
    assert_eq!(codes.len(), 10, "{}", confirmed.body);
    (user, secret, codes)
}

/// Signs out, and signs in with the password: the step-up page.
async fn stepped_up(app: &TestApp, user: &TestUser) -> String {
    app.post_logout().await;
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    page.body
}

async fn answer(app: &TestApp, totp_code: &str) -> StatusCode {
    let csrf = app.get_login().await.csrf();
    app.post_form("/login", &[("totp_code", totp_code), ("csrf_token", &csrf)])
        .await
        .status
}

#[tokio::test]
async fn enrolment_then_the_app_steps_up_and_a_code_works_once() {
    let app = spawn_app().await;
    let (user, secret, _) = enrolled(&app).await;
    let events = app.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::MfaEnrolled
                && e.decision.as_deref() == Some("factor:totp"))
    );
    let mails = app.outbox(1).await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("A new sign-in method was added"))
    );
    // Ask at every sign-in.
    let on = action(&app, "require_mfa_on", "").await;
    assert!(on.body.contains("data-require-mfa=\"on\""));

    let body = stepped_up(&app, &user).await;
    assert!(
        body.contains("data-challenge=\"totp\""),
        "the strongest first: {body}"
    );
    assert!(
        body.contains("name=\"factor\" value=\"email\""),
        "another factor offered"
    );
    // The code that confirmed the enrolment was this time step's: spent already.
    assert_eq!(
        answer(&app, &code(&app, &secret)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_ne!(app.get("/account").await.status, StatusCode::OK);
    app.clock.advance(time::Duration::seconds(30));
    let fresh = code(&app, &secret);
    assert_eq!(answer(&app, &fresh).await, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    // Replayed in a new sign-in: refused.
    stepped_up(&app, &user).await;
    assert_eq!(answer(&app, &fresh).await, StatusCode::UNAUTHORIZED);
    assert_ne!(app.get("/account").await.status, StatusCode::OK);
    let events = app.events().await;
    assert!(
        events.iter().any(|e| e.kind == EventKind::ChallengePassed
            && e.decision.as_deref() == Some("factor:totp"))
    );
    let failed = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::ChallengeFailed && e.decision.as_deref() == Some("factor:totp")
        })
        .count();
    assert_eq!(failed, 2, "each wrong answer recorded");
}

#[tokio::test]
async fn a_recovery_code_works_once_and_a_wrong_code_counts() {
    let app = spawn_app().await;
    let (user, _, codes) = enrolled(&app).await;
    action(&app, "require_mfa_on", "").await;
    stepped_up(&app, &user).await;
    assert_eq!(answer(&app, "123456").await, StatusCode::UNAUTHORIZED);
    assert_eq!(answer(&app, &codes[3]).await, StatusCode::SEE_OTHER);
    stepped_up(&app, &user).await;
    assert_eq!(
        answer(&app, &codes[3]).await,
        StatusCode::UNAUTHORIZED,
        "used"
    );
    assert_eq!(
        answer(&app, &codes[4].to_uppercase()).await,
        StatusCode::SEE_OTHER
    );
    let events = app.events().await;
    assert!(events.iter().any(|e| e.kind == EventKind::ChallengePassed
        && e.decision.as_deref() == Some("factor:recovery_code")));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::ChallengeFailed)
            .count(),
        2
    );
}

#[tokio::test]
async fn mfa_reset_on_the_command_line_removes_the_app() {
    let app = spawn_app().await;
    let (user, _, _) = enrolled(&app).await;
    action(&app, "require_mfa_on", "").await;
    let (url, email) = (app.db.url.clone(), user.email.clone());
    let out = tokio::task::spawn_blocking(move || {
        crate::cli::authd_on(&url)
            .args(["user", "mfa", "reset", &email])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["removed"], true);
    // The password alone signs in again.
    app.post_logout().await;
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let events = app.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::MfaRemoved
                && e.decision.as_deref() == Some("mfa_reset:cli"))
    );
}
