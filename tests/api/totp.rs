//! The authenticator app (docs/mfa.md): enrolment on the account security page with
//! INTERFACE's markers, after the page's own re-authentication; the step-up with
//! `data-challenge="totp"`, a code accepted once, recovery codes once each, a wrong code on
//! the ladder; turning it off and new recovery codes (the old ones refused); the old
//! `/account/factors` as an alias; and `authd user mfa reset`.

use authd::events::EventKind;
use reqwest::StatusCode;
use totp_rs::{Algorithm, Builder, Secret};

use crate::helpers::{TestApp, TestUser, spawn_app};
use crate::smtp::decode_qp;

pub(crate) const PAGE: &str = "/account/security";
const FACTORS: &str = "/account/security/factors";

/// Between `data-totp-secret="` and the next quote.
pub(crate) fn secret_of(body: &str) -> String {
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
pub(crate) fn code(app: &TestApp, secret: &str) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = u64::try_from(authd::domain::clock::Clock::now(app.clock.as_ref()).unix_timestamp())
        .unwrap();
    totp.generate(now).to_string()
}

pub(crate) async fn action(app: &TestApp, action: &str, code: &str) -> crate::helpers::Page {
    let csrf = app.get(PAGE).await.csrf();
    app.post_form(
        FACTORS,
        &[
            ("action", action),
            ("totp_code", code),
            ("csrf_token", &csrf),
        ],
    )
    .await
}

/// The security page's re-authentication with `user`'s password (five minutes).
pub(crate) async fn reauth(app: &TestApp, user: &TestUser) {
    reauth_with(app, &user.password).await;
}

/// The security page's re-authentication with `password`.
async fn reauth_with(app: &TestApp, password: &str) {
    let csrf = app.get(PAGE).await.csrf();
    let page = app
        .post_form(
            "/account/security/reauth",
            &[("csrf_token", &csrf), ("password", password)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

/// A signed-in user with a confirmed app: (user, secret, recovery codes).
pub(crate) async fn enrolled(app: &TestApp) -> (TestUser, String, Vec<String>) {
    let user = app.user().await;
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    reauth(app, &user).await;
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
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("data-totp-secret"), "shown again");
    assert_eq!(secret_of(&wrong.body), secret, "the same key");
    let confirmed = action(app, "totp_confirm", &code(app, &secret)).await;
    let codes = recovery_codes(&confirmed.body);
    assert_eq!(codes.len(), 10, "{}", confirmed.body);
    // Shown once: the page itself lists none.
    let page = app.get(PAGE).await;
    assert!(!page.body.contains("data-recovery-codes"));
    assert!(page.body.contains("data-totp=\"on\""), "{}", page.body);
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
    let mails: Vec<String> = app.outbox(1).await.iter().map(|m| decode_qp(m)).collect();
    assert!(
        mails
            .iter()
            .any(|m| m
                .contains("A new sign-in method was added to your account: an authenticator app")),
        "the one method-changed notice, naming the method: {mails:?}"
    );
    // Ask at every sign-in.
    let on = action(&app, "require_mfa_on", "").await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    assert!(app.get(PAGE).await.body.contains("data-require-mfa=\"on\""));
    let setting = app.events().await;
    assert!(
        setting
            .iter()
            .any(|e| e.kind == EventKind::MfaSettingChanged
                && e.decision.as_deref() == Some("require_mfa:on"))
    );

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
    let v = crate::cli::cli_json(&app.db.url, &["user", "mfa", "reset", &user.email]).await;
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

#[tokio::test]
async fn enrolment_needs_the_pages_reauthentication_and_its_csrf_token() {
    let app = spawn_app().await;
    let user = app.user().await;
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    // Signed in a moment ago, but not re-authenticated on the page: refused, with the form.
    let refused = action(&app, "totp_start", "").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("data-reauth=\"password\""));
    assert!(!refused.body.contains("data-totp-secret"));
    reauth(&app, &user).await;
    // Without the CSRF token, or a forged one: refused.
    let missing = app.post_form(FACTORS, &[("action", "totp_start")]).await;
    assert!(missing.status.is_client_error(), "{}", missing.status);
    let forged = app
        .post_form(
            FACTORS,
            &[("action", "totp_start"), ("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!forged.body.contains("data-totp-secret"));
    // An unknown action is a 400.
    assert_eq!(
        action(&app, "totp_everything", "").await.status,
        StatusCode::BAD_REQUEST
    );
    // Five minutes later the mark is stale.
    app.clock.advance(time::Duration::seconds(301));
    let stale = action(&app, "totp_start", "").await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert!(!stale.body.contains("data-totp-secret"));

    // The old page is an alias: its GET leads to the section, its form posts still work.
    let old = app.get("/account/factors").await;
    assert_eq!(old.status, StatusCode::SEE_OTHER);
    assert_eq!(old.location(), "/account/security#factors");
    reauth(&app, &user).await;
    let csrf = app.get(PAGE).await.csrf();
    let started = app
        .post_form(
            "/account/factors",
            &[("action", "totp_start"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(started.status, StatusCode::OK);
    assert!(started.body.contains("data-totp-secret=\""));
    assert!(
        started
            .body
            .contains("name=\"action\" value=\"totp_confirm\"")
    );
    // Nothing is enrolled until a code confirms it.
    assert!(
        !app.events()
            .await
            .iter()
            .any(|e| e.kind == EventKind::MfaEnrolled)
    );
}

#[tokio::test]
async fn turning_the_app_off_removes_it_and_its_recovery_codes() {
    let app = spawn_app().await;
    let (user, secret, codes) = enrolled(&app).await;
    action(&app, "require_mfa_on", "").await;
    let off = action(&app, "totp_disable", "").await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert_eq!(off.location(), "/account/security?done=totp_off");
    let page = app.get(off.location()).await;
    assert!(page.body.contains("data-totp=\"off\""), "{}", page.body);
    assert!(page.body.contains("name=\"action\" value=\"totp_start\""));
    let events = app.events().await;
    assert!(
        events.iter().any(
            |e| e.kind == EventKind::MfaRemoved && e.decision.as_deref() == Some("factor:totp")
        )
    );
    let mails: Vec<String> = app.outbox(2).await.iter().map(|m| decode_qp(m)).collect();
    assert!(
        mails
            .iter()
            .any(|m| m
                .contains("A sign-in method was removed from your account: an authenticator app")),
        "{mails:?}"
    );
    // The next sign-in is stepped up with the e-mailed code only: neither the app's code nor
    // a recovery code answers it.
    let body = stepped_up(&app, &user).await;
    assert!(body.contains("data-challenge=\"email\""), "{body}");
    assert!(
        !body.contains("value=\"totp\""),
        "the app is no longer offered"
    );
    app.clock.advance(time::Duration::seconds(30));
    assert_eq!(
        answer(&app, &code(&app, &secret)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(answer(&app, &codes[0]).await, StatusCode::UNAUTHORIZED);
    assert_ne!(app.get("/account").await.status, StatusCode::OK);
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones() {
    let app = spawn_app().await;
    let (user, _, old) = enrolled(&app).await;
    let page = action(&app, "recovery_regenerate", "").await;
    assert_eq!(page.status, StatusCode::OK);
    let new = recovery_codes(&page.body);
    assert_eq!(new.len(), 10, "{}", page.body);
    assert!(new.iter().all(|c| !old.contains(c)), "all new");
    assert!(
        app.events()
            .await
            .iter()
            .any(|e| e.kind == EventKind::MfaEnrolled
                && e.decision.as_deref() == Some("factor:recovery_code"))
    );
    // The owner is told (whoever made them holds codes that pass a step-up).
    app.drain_mail().await;
    let told = app.outbox(0).await;
    assert!(
        told.iter()
            .any(|m| decode_qp(m).contains("new recovery codes")),
        "{told:?}"
    );
    action(&app, "require_mfa_on", "").await;
    stepped_up(&app, &user).await;
    assert_eq!(
        answer(&app, &old[0]).await,
        StatusCode::UNAUTHORIZED,
        "an old code is refused"
    );
    assert_ne!(app.get("/account").await.status, StatusCode::OK);
    assert_eq!(answer(&app, &new[0]).await, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    // A change needs the page's re-authentication: without it, no new codes.
    app.clock.advance(time::Duration::seconds(301));
    let refused = action(&app, "recovery_regenerate", "").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains("data-recovery-codes"));
}

/// Chooses another factor on the pending step-up ("choose another factor"): the page.
async fn choose(app: &TestApp, factor: &str) -> crate::helpers::Page {
    let csrf = app.get_login().await.csrf();
    app.post_form("/login", &[("factor", factor), ("csrf_token", &csrf)])
        .await
}

fn code_mails(mails: &[String]) -> usize {
    mails
        .iter()
        .filter(|m| m.contains("Your sign-in code"))
        .count()
}

#[tokio::test]
async fn another_factor_can_be_chosen_during_the_step_up() {
    let app = spawn_app().await;
    let (user, secret, _) = enrolled(&app).await;
    action(&app, "require_mfa_on", "").await;
    let body = stepped_up(&app, &user).await;
    assert!(
        body.contains("data-challenge=\"totp\""),
        "the strongest first"
    );
    assert_eq!(code_mails(&app.outbox(0).await), 0, "no code mailed yet");
    // A factor the account does not have changes nothing.
    let same = choose(&app, "webauthn").await;
    assert_eq!(same.status, StatusCode::UNAUTHORIZED);
    assert!(same.body.contains("data-challenge=\"totp\""));
    // The e-mailed code instead: a code is mailed, the app is offered back.
    let email = choose(&app, "email").await;
    assert_eq!(email.status, StatusCode::UNAUTHORIZED);
    assert!(
        email.body.contains("data-challenge=\"email\""),
        "{}",
        email.body
    );
    assert!(email.body.contains("name=\"email_code\""));
    assert!(email.body.contains("name=\"factor\" value=\"totp\""));
    assert_eq!(code_mails(&app.outbox(1).await), 1);
    // Back to the app, and its code signs in (a later time step than the enrolment's).
    let totp = choose(&app, "totp").await;
    assert!(totp.body.contains("data-challenge=\"totp\""));
    assert_ne!(
        app.get("/account").await.status,
        StatusCode::OK,
        "still nobody"
    );
    app.clock.advance(time::Duration::seconds(30));
    assert_eq!(
        answer(&app, &code(&app, &secret)).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get("/account").await.status, StatusCode::OK);

    // Next sign-in: the e-mailed code, chosen twice (a new code each time): only the newest
    // passes, and the pass is the e-mail factor's.
    stepped_up(&app, &user).await;
    choose(&app, "email").await;
    let older = app.last_code().await;
    let again = choose(&app, "email").await;
    assert!(again.body.contains("data-challenge=\"email\""));
    let newest = app.last_code().await;
    let csrf = app.get_login().await.csrf();
    if older != newest {
        let stale = app
            .post_form("/login", &[("email_code", &older), ("csrf_token", &csrf)])
            .await;
        assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "replaced");
    }
    let csrf = app.get_login().await.csrf();
    let passed = app
        .post_form("/login", &[("email_code", &newest), ("csrf_token", &csrf)])
        .await;
    assert_eq!(passed.status, StatusCode::SEE_OTHER, "{}", passed.body);
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    let events = app.events().await;
    let passes: Vec<_> = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::ChallengePassed
                && e.decision.as_deref() != Some("reauth; password")
        })
        .filter_map(|e| e.decision.clone())
        .collect();
    assert!(passes.contains(&"factor:totp".to_owned()), "{passes:?}");
    assert!(passes.contains(&"factor:email".to_owned()), "{passes:?}");
    assert!(
        events.iter().any(|e| e.kind == EventKind::LoginChallenged
            && e.decision.as_deref() == Some("factor:email")),
        "each code sent on a choice is recorded"
    );
}

/// Account pre-hijacking: someone registers an address that is not theirs (it stays
/// unverified), signs in and enrols an app. The address's owner, resetting the password by
/// the mailed link, proves the mailbox: the address is verified and the app is gone, so the
/// owner signs in with the new password alone and the registrant's factor opens nothing.
#[tokio::test]
async fn a_reset_proving_an_unverified_address_removes_the_factors_set_up_before_it() {
    let app = spawn_app().await;
    let user = app.signed_in_user().await;
    reauth(&app, &user).await;
    let secret = secret_of(&action(&app, "totp_start", "").await.body);
    let confirmed = action(&app, "totp_confirm", &code(&app, &secret)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let always = action(&app, "require_mfa_on", "").await;
    assert!(!always.status.is_client_error(), "{}", always.body);
    assert!(
        stepped_up(&app, &user)
            .await
            .contains("data-challenge=\"totp\"")
    );
    let done = owner_resets(&app, &user).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let account = app.account(&user.email).await;
    assert!(
        account.email_verified_at.is_some(),
        "the reset proved the address"
    );
    assert!(!account.require_mfa);
    // The owner signs in with the new password, no factor asked for.
    let page = app
        .post_login(&user.email, "the owner's own passphrase")
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let removed = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::PasswordChanged)
        .filter_map(|e| e.decision)
        .collect::<Vec<_>>();
    assert!(
        removed.iter().any(|d| d.contains("1 factors removed")),
        "{removed:?}"
    );
}

/// The owner's reset of `user`, from a browser of their own, to "the owner's own passphrase".
pub(crate) async fn owner_resets(app: &TestApp, user: &TestUser) -> crate::helpers::Page {
    let owner = crate::helpers::new_client();
    crate::password_reset::forgot(app, &owner, &user.email).await;
    app.drain_mail().await;
    let mails = app.outbox(0).await;
    let link = mails
        .iter()
        .rev()
        .find_map(|m| crate::smtp::reset_link(m))
        .expect("a reset link");
    let token = crate::helpers::query_param(&link, "token").unwrap();
    let csrf = crate::helpers::read(owner.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    let form = [
        ("token", token.as_str()),
        ("password", "the owner's own passphrase"),
        ("csrf_token", csrf.as_str()),
    ];
    crate::helpers::read(
        owner
            .post(app.url("/password/reset"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_reset_removes_the_factors_set_up_before_the_address_was_verified_and_keeps_later_ones() {
    let app = spawn_app().await;
    // Whoever registered the address (through the form: unverified) sets up an app on it...
    let user = app.signed_in_user().await;
    let id = app.user_id(&user.email).await;
    assert!(app.account(&user.email).await.email_verified_at.is_none());
    reauth(&app, &user).await;
    let secret = secret_of(&action(&app, "totp_start", "").await.body);
    let on = action(&app, "totp_confirm", &code(&app, &secret)).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    // ...and later its owner confirms the verification mail (the click proves a mailbox,
    // not who set the app up).
    app.clock.advance(time::Duration::seconds(60));
    assert!(app.state.accounts.mark_email_verified(&id).await.unwrap());
    let done = owner_resets(&app, &user).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    // The reset ended this browser's session (the first page it asks for says so).
    assert_ne!(app.get("/account").await.status, StatusCode::OK);
    let page = app
        .post_login(&user.email, "the owner's own passphrase")
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    reauth_with(&app, "the owner's own passphrase").await;
    assert!(
        app.get(PAGE).await.body.contains("data-totp=\"off\""),
        "the app went"
    );
    // An app set up after the verification, by a session that passed a factor (the page's
    // step-up with the mailed code), is the owner's own: the next reset keeps it.
    let owner = TestUser {
        email: user.email.clone(),
        password: "the owner's own passphrase".into(),
    };
    crate::factor_changes::pass_the_mailed_code(&app, &owner).await;
    let secret = secret_of(&action(&app, "totp_start", "").await.body);
    app.clock.advance(time::Duration::seconds(30));
    let on = action(&app, "totp_confirm", &code(&app, &secret)).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    app.drain_mail().await;
    let done = owner_resets(&app, &user).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(
        app.state
            .login
            .factors(&app.account(&user.email).await)
            .await
            .unwrap()
            .totp,
        "kept"
    );
}

/// Recovery codes are stored keyed (an HMAC of the account and the code under a sealed server
/// key), not as a plain SHA-256 one search of the codes' space would reverse for every
/// account; a code stored the old way still works, once.
#[tokio::test]
async fn recovery_codes_are_stored_keyed_and_old_plain_digests_still_work() {
    let app = spawn_app().await;
    let (user, _, codes) = enrolled(&app).await;
    let id = app.user_id(&user.email).await;
    let plain = |code: &str| {
        let normal: String = code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        authd::domain::oauth::digest(&normal)
    };
    let stored: Vec<String> = crate::helpers::raw_rows(
        &app.db,
        &format!("select digest from mfa_recovery_code where user_id = '{id}'"),
    )
    .await
    .into_iter()
    .map(|mut r| r.remove(0))
    .collect();
    assert_eq!(stored.len(), 10);
    assert!(
        codes.iter().all(|c| !stored.contains(&plain(c))),
        "{stored:?}"
    );
    // A code an earlier version stored as its plain SHA-256.
    let old = "abcde-fghjk";
    crate::helpers::raw_execute(
        &app.db,
        "insert into mfa_recovery_code (user_id, digest, used_at, created_at) values ($1, $2, null, 0)",
        &[&id, &plain(old)],
    )
    .await;
    action(&app, "require_mfa_on", "").await;
    stepped_up(&app, &user).await;
    assert_eq!(answer(&app, old).await, StatusCode::SEE_OTHER);
    stepped_up(&app, &user).await;
    assert_eq!(answer(&app, old).await, StatusCode::UNAUTHORIZED, "once");
    assert_eq!(answer(&app, &codes[0]).await, StatusCode::SEE_OTHER);
}

/// The account's first factor, set up with the password alone (a low-risk sign-in that needed
/// no factor): whoever holds the password could have added it, so the owner's reset, which
/// proves the mailbox, removes it (with the event saying so).
#[tokio::test]
async fn a_reset_removes_a_first_factor_set_up_with_the_password_alone() {
    let app = spawn_app().await;
    let (user, _, _) = enrolled(&app).await;
    let app = &app;
    let factors = |email: String| async move {
        let account = app.account(&email).await;
        app.state.login.factors(&account).await.unwrap()
    };
    assert!(factors(user.email.clone()).await.totp);
    app.post_logout().await;
    let done = owner_resets(app, &user).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(!factors(user.email.clone()).await.totp, "the app went");
    let changed = app
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == EventKind::PasswordChanged)
        .expect("the reset's event");
    assert!(
        changed.decision.as_deref().is_some_and(
            |d| d.contains("1 factors set up before verification or without a factor removed")
        ),
        "{changed:?}"
    );
}

/// An unfinished app enrolment belongs to the session that started it: another session of the
/// account (someone with the password) is never shown the secret the owner is setting up, its
/// own is replaced (not adopted) when the owner starts one, and it confirms nothing after.
#[tokio::test]
async fn an_enrolment_belongs_to_the_session_that_started_it() {
    let app = spawn_app().await;
    let user = app.user().await;
    let thief = crate::helpers::new_client();
    let page = app
        .sign_in_again(&thief, "127.0.0.1", &user.email, &user.password)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let post = |form: Vec<(&'static str, String)>, path: &'static str| {
        let req = thief.post(app.url(path)).form(&form);
        async move { crate::helpers::read(req.send().await.unwrap()).await }
    };
    let page_csrf = || async {
        let page = thief.get(app.url(PAGE)).send().await.unwrap();
        crate::helpers::read(page).await.csrf()
    };
    let reauth = vec![
        ("csrf_token", page_csrf().await),
        ("password", user.password.clone()),
    ];
    post(reauth, "/account/security/reauth").await;
    // The re-authentication gave the session a new CSRF token.
    let csrf = page_csrf().await;
    let start = vec![
        ("csrf_token", csrf.clone()),
        ("action", "totp_start".into()),
    ];
    let theirs = secret_of(&post(start, FACTORS).await.body);
    // The owner starts one in their own browser: a new secret, not the one in progress.
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    reauth_with(&app, &user.password).await;
    let owners = secret_of(&action(&app, "totp_start", "").await.body);
    assert_ne!(owners, theirs, "another session's secret is never shown");
    // The other session's secret confirms nothing now, nor does the owner's typed there.
    for secret in [&theirs, &owners] {
        let confirm = vec![
            ("csrf_token", csrf.clone()),
            ("action", "totp_confirm".into()),
            ("totp_code", code(&app, secret)),
        ];
        assert_eq!(post(confirm, FACTORS).await.status, StatusCode::BAD_REQUEST);
    }
    let on = action(&app, "totp_confirm", &code(&app, &owners)).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert!(on.body.contains("data-recovery-codes"));
}
