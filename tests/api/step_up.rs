//! Step-up after the right password (docs/mfa.md): a risky sign-in of an account with a
//! verified address owes the e-mailed code; only the right code, from the same browser
//! session, in time, once, signs in; the step cannot be skipped; failures count and end the
//! step-up; a pass is `challenge_passed` with the factor. Also the address verification.

use authd::events::EventKind;
use reqwest::StatusCode;

use crate::helpers::{TestApp, TestUser, cidrs, csrf_from, new_client, spawn_app_with};
use crate::smtp::decode_qp;

const RISKY_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

/// An app trusting the test's `X-Forwarded-For`, and a user with a history from one network
/// and browser (the test's own client, which holds the device cookie).
async fn app_with_history() -> (TestApp, TestUser) {
    let app = spawn_app_with(|c| c.trusted_proxies = cidrs(&["127.0.0.1/32"])).await;
    let user = app.user().await;
    history(&app, &user).await;
    (app, user)
}

/// Fifteen sign-ins of `user` from the test's own client.
async fn history(app: &TestApp, user: &TestUser) {
    for _ in 0..15 {
        let page = app.post_login(&user.email, &user.password).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        app.post_logout().await;
    }
}

/// A browser somewhere new: its own cookies, address and User-Agent.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    ip: &'static str,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp, ip: &'static str) -> Self {
        Self {
            app,
            client: new_client(),
            ip,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .client
            .get(self.app.url(path))
            .header("x-forwarded-for", self.ip)
            .header("user-agent", RISKY_UA)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn post_login(&self, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let (_, page) = self.get("/login").await;
        let csrf = csrf_from(&page);
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &csrf));
        let r = self
            .client
            .post(self.app.url("/login"))
            .header("x-forwarded-for", self.ip)
            .header("user-agent", RISKY_UA)
            .form(&form)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn sign_in(&self, user: &TestUser) -> (StatusCode, String) {
        self.post_login(&[("username", &user.email), ("password", &user.password)])
            .await
    }

    async fn signed_in(&self) -> bool {
        self.get("/account").await.0 == StatusCode::OK
    }
}

#[tokio::test]
async fn a_risky_right_password_is_stepped_up_and_only_the_right_code_signs_in() {
    let (app, user) = app_with_history().await;
    let b = Browser::new(&app, "203.0.113.50");
    let (status, body) = b.sign_in(&user).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("data-challenge=\"email\""), "{body}");
    assert!(body.contains("name=\"email_code\""));
    assert!(
        !body.contains("name=\"password\""),
        "the password is not asked again"
    );
    let first = app.last_code().await;

    // The step cannot be skipped: the session is signed in as nobody.
    assert!(!b.signed_in().await, "/account");
    let web = app.web_client().await;
    let (_, challenge) = crate::helpers::pkce();
    let authorize = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s\
         &code_challenge={challenge}&code_challenge_method=S256",
        web.id,
        crate::helpers::urlenc(&web.redirect_uri)
    );
    let r = b
        .client
        .get(app.url(&authorize))
        .header("x-forwarded-for", b.ip)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/login"), "{to}");
    // The password again without the code: a new step-up, not a session.
    let (status, body) = b.sign_in(&user).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("data-challenge=\"email\""));
    assert!(!b.signed_in().await);
    let code = app.last_code().await;
    // The first code belonged to the replaced step-up.
    if first != code {
        let (status, _) = b.post_login(&[("email_code", &first)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // A wrong code is refused and recorded.
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let (status, body) = b.post_login(&[("email_code", &wrong)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("data-challenge=\"email\""), "still pending");
    assert!(!b.signed_in().await);

    // The right code (the username may be re-sent) signs in.
    let (status, _) = b
        .post_login(&[("username", &user.email), ("email_code", &code)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(b.signed_in().await);

    let events = app.events().await;
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::ChallengeFailed)
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|e| e.decision.as_deref() == Some("factor:email"))
    );
    let passed: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::ChallengePassed)
        .collect();
    assert_eq!(passed.len(), 1, "{passed:?}");
    assert_eq!(passed[0].decision.as_deref(), Some("factor:email"));
    assert!(passed[0].risk.as_ref().is_some_and(|r| r.score >= 0.5));
}

#[tokio::test]
async fn expired_reused_and_other_sessions_codes_are_refused() {
    let (app, user) = app_with_history().await;
    let a = Browser::new(&app, "203.0.113.50");
    let b = Browser::new(&app, "198.51.100.60");
    assert_eq!(a.sign_in(&user).await.0, StatusCode::UNAUTHORIZED);
    let code_a = app.last_code().await;
    assert_eq!(b.sign_in(&user).await.0, StatusCode::UNAUTHORIZED);
    let code_b = app.last_code().await;
    assert_ne!(code_a, code_b, "(a one-in-a-million coincidence)");
    // B's code in A's session: refused.
    let (status, _) = a.post_login(&[("email_code", &code_b)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!a.signed_in().await);
    // A's code after 11 minutes: refused.
    app.clock.advance(time::Duration::minutes(11));
    let (status, _) = a.post_login(&[("email_code", &code_a)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!a.signed_in().await);
    // B's code in time... B's step-up is as old: a fresh one, passed once.
    assert_eq!(b.sign_in(&user).await.0, StatusCode::UNAUTHORIZED);
    let code = app.last_code().await;
    assert_eq!(
        b.post_login(&[("email_code", &code)]).await.0,
        StatusCode::SEE_OTHER
    );
    assert!(b.signed_in().await);
    // Reused: signed out, the same code again signs nobody in.
    let csrf = csrf_from(&b.get("/account").await.1);
    b.client
        .post(app.url("/logout"))
        .header("x-forwarded-for", b.ip)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(!b.signed_in().await);
    let (status, _) = b
        .post_login(&[("username", &user.email), ("email_code", &code)])
        .await;
    assert!(status.is_client_error(), "{status}");
    assert!(!b.signed_in().await);
}

#[tokio::test]
async fn too_many_wrong_codes_end_the_step_up_and_count_on_the_ladder() {
    let (app, user) = app_with_history().await;
    let b = Browser::new(&app, "203.0.113.50");
    assert_eq!(b.sign_in(&user).await.0, StatusCode::UNAUTHORIZED);
    let code = app.last_code().await;
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 7) % 1_000_000);
    for _ in 0..4 {
        let (_, body) = b.post_login(&[("email_code", &wrong)]).await;
        assert!(body.contains("data-challenge=\"email\""));
    }
    let (status, body) = b.post_login(&[("email_code", &wrong)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.contains("data-challenge=\"email\""), "dropped");
    assert!(body.contains("name=\"password\""), "sign in again");
    // Even the right code is too late now (no step-up: a form without a password, a 4xx).
    let (status, _) = b.post_login(&[("email_code", &code)]).await;
    assert!(status.is_client_error(), "{status}");
    assert!(!b.signed_in().await);
    let failures = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::ChallengeFailed)
        .count();
    assert_eq!(failures, 5);
    // They counted on the pair like wrong passwords: the ladder now asks for the CAPTCHA.
    let (_, body) = b.sign_in(&user).await;
    assert!(body.contains("data-challenge=\"captcha\""), "{body}");
}

#[tokio::test]
async fn wrong_codes_sent_all_at_once_get_no_more_checks_than_one_after_another() {
    let (app, user) = app_with_history().await;
    let b = Browser::new(&app, "203.0.113.50");
    assert_eq!(b.sign_in(&user).await.0, StatusCode::UNAUTHORIZED);
    let code = app.last_code().await;
    let (_, page) = b.get("/login").await;
    let csrf = csrf_from(&page);
    // Twenty guesses in flight at once on the one session: each request reads the step-up
    // from the session before any writes it back.
    let guesses = (1..=20u32).map(|i| {
        let guess = format!("{:06}", (code.parse::<u32>().unwrap() + i) % 1_000_000);
        let form = [("email_code", guess), ("csrf_token", csrf.clone())];
        let post = b
            .client
            .post(app.url("/login"))
            .header("x-forwarded-for", b.ip)
            .header("user-agent", RISKY_UA)
            .form(&form);
        async move { post.send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    assert!(statuses.iter().all(|s| s.is_client_error()), "{statuses:?}");
    let checked = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::ChallengeFailed)
        .count();
    assert!(checked <= 5, "{checked} wrong codes were checked");
    // The step-up's answers are used up: the right code no longer signs in.
    let (status, _) = b.post_login(&[("email_code", &code)]).await;
    assert!(status.is_client_error(), "{status}");
    assert!(!b.signed_in().await);
}

#[tokio::test]
async fn the_owner_on_a_known_device_and_accounts_without_a_factor_are_not_stepped_up() {
    let (app, user) = app_with_history().await;
    // The owner's own browser (device cookie) from a new network: signed in.
    let page = app
        .client
        .get(app.url("/login"))
        .header("x-forwarded-for", "203.0.113.50")
        .send()
        .await
        .unwrap();
    let csrf = csrf_from(&page.text().await.unwrap());
    let r = app
        .client
        .post(app.url("/login"))
        .header("x-forwarded-for", "203.0.113.50")
        .form(&[
            ("username", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.post_logout().await;
    // An account without a verified address meets the CAPTCHA, as before.
    let unverified = TestUser::generate();
    app.register(&unverified).await;
    history(&app, &unverified).await;
    let b = Browser::new(&app, "198.51.100.60");
    let (status, body) = b.sign_in(&unverified).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.contains("data-challenge=\"email\""));
    assert!(body.contains("data-challenge=\"captcha\""), "{body}");
}

#[tokio::test]
async fn the_owners_setting_asks_for_the_factor_at_every_sign_in() {
    let app = spawn_app_with(|_| {}).await;
    let user = app.user().await;
    let account = app
        .state
        .accounts
        .find_by_email(&user.email)
        .await
        .unwrap()
        .unwrap();
    app.state
        .accounts
        .set_require_mfa(&account.id, true)
        .await
        .unwrap();
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("data-challenge=\"email\""));
    let code = app.last_code().await;
    let csrf = app.get_login().await.csrf();
    let page = app
        .post_form("/login", &[("email_code", &code), ("csrf_token", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    let challenged = app
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == EventKind::LoginChallenged)
        .unwrap();
    assert_eq!(challenged.decision.as_deref(), Some("step_up_required"));
}

#[tokio::test]
async fn registration_mails_a_single_use_verification_link() {
    let app = spawn_app_with(|_| {}).await;
    let user = TestUser::generate();
    assert_eq!(app.register(&user).await.status, StatusCode::SEE_OTHER);
    let mails: Vec<String> = app.outbox(1).await.iter().map(|m| decode_qp(m)).collect();
    let mail = mails
        .iter()
        .find(|m| m.contains("/verify-email?token="))
        .expect("a verification mail");
    let start = mail.find("/verify-email?token=").unwrap() + "/verify-email?token=".len();
    let token: String = mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "unverified still signs in"
    );
    assert!(
        app.get("/account")
            .await
            .body
            .contains("data-email-verified=\"false\"")
    );
    let ask = app.get(&format!("/verify-email?token={token}")).await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(
        !app.events()
            .await
            .iter()
            .any(|e| e.kind == EventKind::EmailVerified)
    );
    let form = [("token", token.as_str()), ("csrf_token", &ask.csrf())];
    assert_eq!(
        app.post_form("/verify-email", &form).await.status,
        StatusCode::OK
    );
    assert!(
        app.get("/account")
            .await
            .body
            .contains("data-email-verified=\"true\"")
    );
    let csrf = app.get("/account").await.csrf();
    let again = [("token", token.as_str()), ("csrf_token", &csrf)];
    assert_eq!(
        app.post_form("/verify-email", &again).await.status,
        StatusCode::BAD_REQUEST,
        "single use"
    );
    assert_eq!(
        app.get(&format!("/verify-email?token={token}x"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let verified: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::EmailVerified)
        .collect();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].decision.as_deref(), Some("verified_by_link"));
}

#[tokio::test]
async fn a_step_up_begun_before_the_owner_acts_cannot_finish_after() {
    use authd::domain::account_security::password::RevokedBy;
    let (app, user) = app_with_history().await;
    let id = app.user_id(&user.email).await;
    let ctx =
        authd::domain::context::RequestContext::new([127, 0, 0, 1].into(), "test", "r-1".into());
    // The intruder's password passed; the owner then changes it, or ends everything.
    for owner_acts in 0..2 {
        let b = Browser::new(&app, "203.0.113.50");
        let (status, body) = b.sign_in(&user).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("data-challenge=\"email\""), "{body}");
        let code = app.last_code().await;
        if owner_acts == 0 {
            let password = secrecy::SecretString::from(user.password.clone());
            app.state
                .security
                .change_password(&ctx, &id, &password, password.clone(), None)
                .await
                .unwrap();
        } else {
            app.state
                .security
                .revoke_everything(&ctx, &id, RevokedBy::Admin)
                .await
                .unwrap();
        }
        // Even the right code: the step-up is gone, the sign-in starts again.
        let (status, body) = b.post_login(&[("email_code", &code)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(!body.contains("data-challenge=\"email\""), "{body}");
        assert!(!b.signed_in().await);
    }
}
