//! A solved CAPTCHA passes one submit of the form that showed it. The session that keeps the
//! challenge is read whole by each request and written back at its end, so submits sent at
//! once all found it; the answered challenge is spent in the shared store, and of those only
//! one passes. And a challenge fetched where it is easy (another form, with no failures of
//! its own) passes no other form.

use reqwest::StatusCode;

use authd::events::EventKind;

use crate::challenge_flow::{
    ANSWER, TYPO, count, get, ladder, post, shows_challenge, sign_ins_at_once, to_the_rung,
};
use crate::helpers::{new_client, spawn_app_with};

#[tokio::test]
async fn one_solved_challenge_sent_at_once_passes_one_submit() {
    let app = spawn_app_with(ladder).await;
    let user = app.user().await;
    let (bot, ip) = (new_client(), "198.51.100.70");
    to_the_rung(&app, &bot, ip, &user.email).await;
    // The page shows the challenge (kept in the session) and the form's token.
    let page = get(&app, &bot, ip, "/login").await;
    assert!(shows_challenge(&page), "{}", page.body);
    let csrf = page.csrf();
    let (failed, passed) = (
        count(&app, EventKind::LoginFailed).await,
        count(&app, EventKind::ChallengePassed).await,
    );
    let form = [
        ("username", user.email.as_str()),
        ("password", TYPO),
        ("csrf_token", csrf.as_str()),
        ("captcha_answer", ANSWER),
    ];
    for status in sign_ins_at_once(&app, &bot, ip, &form).await {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        count(&app, EventKind::ChallengePassed).await,
        passed + 1,
        "one challenge, one pass"
    );
    assert_eq!(
        count(&app, EventKind::LoginFailed).await,
        failed + 1,
        "one password checked"
    );
}

/// A form sent before the page's check filled in the answer (an empty `captcha_answer`) is
/// asked again, not failed: no `challenge_failed`, no password checked (a typo here, which
/// would count), and the next submit with an answer is checked.
#[tokio::test]
async fn an_empty_answer_is_asked_again_not_failed() {
    let app = spawn_app_with(ladder).await;
    let user = app.user().await;
    let (owner, ip) = (new_client(), "198.51.100.90");
    to_the_rung(&app, &owner, ip, &user.email).await;
    let before = (
        count(&app, EventKind::ChallengeFailed).await,
        count(&app, EventKind::LoginFailed).await,
    );
    let page = app
        .sign_in_from(&owner, ip, &user.email, TYPO, Some(""))
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(shows_challenge(&page), "{}", page.body);
    assert_eq!(
        (
            count(&app, EventKind::ChallengeFailed).await,
            count(&app, EventKind::LoginFailed).await,
        ),
        before,
        "nothing failed"
    );
    let page = app
        .sign_in_from(&owner, ip, &user.email, TYPO, Some(ANSWER))
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, EventKind::LoginFailed).await, before.1 + 1);
}

#[tokio::test]
async fn a_challenge_another_form_showed_passes_no_sign_in() {
    let app = spawn_app_with(ladder).await;
    let user = app.user().await;
    let bot = new_client();
    // The sign-in from one network is at the rung (brought there by another browser: the
    // bot's session holds no sign-in challenge, which it could answer from any tab) …
    let (hot, cold) = ("198.51.100.80", "203.0.113.80");
    to_the_rung(&app, &new_client(), hot, &user.email).await;
    // … and the register form, from another, shows its own (easier) challenge.
    let short = [("email", "x@example.com"), ("password", "short")];
    let mut last = None;
    for _ in 0..3 {
        last = Some(post(&app, &bot, cold, "/register", &short).await);
    }
    let shown = last.unwrap();
    assert!(shows_challenge(&shown), "{}", shown.body);
    // Its answer, sent to the sign-in (no sign-in page loaded in between): refused before
    // the password is checked, and the sign-in's own challenge shown.
    let failed = count(&app, EventKind::LoginFailed).await;
    let csrf = shown.csrf();
    let form = [
        ("username", user.email.as_str()),
        ("password", TYPO),
        ("csrf_token", csrf.as_str()),
        ("captcha_answer", ANSWER),
    ];
    let r = bot
        .post(app.url("/login"))
        .header("x-forwarded-for", hot)
        .form(&form)
        .send()
        .await
        .unwrap();
    let page = crate::helpers::read(r).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(shows_challenge(&page), "{}", page.body);
    assert_eq!(
        count(&app, EventKind::LoginFailed).await,
        failed,
        "no password checked"
    );
    // The sign-in's own challenge, answered, passes.
    let page = app
        .sign_in_from(&bot, hot, &user.email, TYPO, Some(ANSWER))
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, EventKind::LoginFailed).await, failed + 1);
}
