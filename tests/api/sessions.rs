//! Session lifetime: idle timeout and absolute lifetime, driven by the fake clock; sign-out
//! holding against requests in flight; no session written before sign-in.

use reqwest::StatusCode;
use time::Duration;

use crate::helpers::{TestUser, assert_redirect_to, new_client, read, spawn_app, spawn_app_with};

#[tokio::test]
async fn idle_session_expires() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    app.clock.advance(Duration::minutes(29));
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    // Activity resets the idle clock.
    app.clock.advance(Duration::minutes(29));
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    app.clock.advance(Duration::minutes(31));
    let page = app.get("/account").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with("/login"));
    assert_eq!(
        app.session_revoked_reason().await.as_deref(),
        Some("idle_timeout")
    );
    // The session is gone for good, not just refused once.
    app.clock.advance(Duration::minutes(-31));
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn active_session_ends_at_its_absolute_lifetime() {
    let app = spawn_app_with(|c| {
        c.session_idle_timeout = Duration::seconds(1800);
        c.session_lifetime = Duration::seconds(7200);
    })
    .await;
    app.signed_in_user().await;
    for _ in 0..4 {
        app.clock.advance(Duration::minutes(25));
        assert_eq!(app.get("/account").await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(25)); // 125 min > 120 min, though never idle
    let page = app.get("/account").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.session_revoked_reason().await.as_deref(),
        Some("lifetime_exceeded")
    );
}

/// A network at the challenge rung sees the CAPTCHA up front (issue #13), kept in a session
/// the page load starts: a flood of cookieless page loads from there wrote a session row each.
/// Now a network's cookieless loads start at most its sign-in budget of them per minute; past
/// it the form comes without the challenge (its submit meets it), and a browser that has a
/// session keeps seeing it up front.
#[tokio::test]
async fn cookieless_pages_at_the_challenge_rung_start_a_bounded_number_of_sessions() {
    let app = spawn_app_with(|c| {
        c.protection.challenge_after = 0;
        c.rate_limits.login_per_ip = 5;
    })
    .await;
    let shows = |page: &crate::helpers::Page| page.body.contains("data-challenge=\"captcha\"");
    let before = app.session_rows().await;
    let mut kept = None;
    for i in 0..12 {
        let browser = new_client();
        let page = read(browser.get(app.url("/login")).send().await.unwrap()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(shows(&page), i < 5, "load {i}");
        assert_eq!(page.session_cookie().is_some(), i < 5, "load {i}");
        if i == 0 {
            kept = Some(browser);
        }
    }
    assert_eq!(
        app.session_rows().await,
        before + 5,
        "five sessions, not twelve"
    );
    // A browser holding its session still meets the challenge up front, writing no new row.
    let kept = kept.unwrap();
    let page = read(kept.get(app.url("/login")).send().await.unwrap()).await;
    assert!(shows(&page));
    assert_eq!(app.session_rows().await, before + 5);
    // The budget refills with time.
    app.clock.advance(Duration::minutes(1));
    let page = read(new_client().get(app.url("/login")).send().await.unwrap()).await;
    assert!(shows(&page));
}

/// A passwordless sign-in's ceremony lives in the session too: cookieless `POST
/// /login/passkey/start`s (one CSRF pair is stateless and reusable) wrote a session row each.
/// Now they draw from the same per-network budget; past it `429` with `Retry-After`.
#[tokio::test]
async fn cookieless_passkey_starts_start_a_bounded_number_of_sessions() {
    let app = spawn_app_with(|c| {
        c.issuer.set_host(Some("localhost")).unwrap();
        c.rate_limits.login_per_ip = 5;
    })
    .await;
    let before = app.session_rows().await;
    for i in 0..12 {
        let browser = new_client();
        let csrf = read(browser.get(app.url("/login")).send().await.unwrap())
            .await
            .csrf();
        let r = browser
            .post(app.url("/login/passkey/start"))
            .header("x-csrf-token", csrf)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        if i < 5 {
            assert_eq!(r.status(), StatusCode::OK, "start {i}");
        } else {
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "start {i}");
            assert!(r.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(app.session_rows().await, before + 5, "five, not twelve");
}

/// Issue #15.7: showing a form to a visitor without cookies wrote a session row each time, so
/// a GET flood grew the table. The forms' CSRF token is now stateless until sign-in.
#[tokio::test]
async fn anonymous_form_pages_write_no_session_rows() {
    let app = spawn_app().await;
    let before = app.session_rows().await;
    for _ in 0..10 {
        for path in ["/login", "/register", "/password/forgot"] {
            let page = read(new_client().get(app.url(path)).send().await.unwrap()).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            assert!(page.session_cookie().is_none(), "{path} started a session");
            assert!(!page.csrf().is_empty());
        }
    }
    assert_eq!(
        app.session_rows().await,
        before,
        "cookieless GETs wrote sessions"
    );
    // The forms still work end to end; the sign-in is what creates the one session.
    let user = app.signed_in_user().await;
    assert_eq!(app.session_rows().await, before + 1);
    let csrf = app.get("/password/forgot").await.csrf();
    let sent = app
        .post_form(
            "/password/forgot",
            &[("email", user.email.as_str()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
}

/// Issue #15.4: a request that loaded the session before a sign-out and saved it after (here
/// `/account` writing its last-seen time) inserted the deleted row again, and the old cookie
/// worked after logout. Whether the two interleave is up to the scheduler, so several rounds.
#[tokio::test]
async fn a_request_in_flight_does_not_undo_a_sign_out() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    for round in 0..12 {
        let signed_in = app.post_login(&user.email, &user.password).await;
        assert_redirect_to(&signed_in, "/account");
        let cookie = signed_in.session_cookie().unwrap();
        let csrf = app.get("/account").await.csrf();
        // Past the touch interval: the next `/account` saves the session.
        app.clock.advance(Duration::minutes(2));
        let form = [("csrf_token", csrf.as_str())];
        let (_, out) = tokio::join!(app.get("/account"), app.post_form("/logout", &form));
        assert_redirect_to(&out, "/login");
        let replay = read(
            new_client()
                .get(app.url("/account"))
                .header("cookie", format!("authd_session={cookie}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            replay.status,
            StatusCode::SEE_OTHER,
            "round {round}: the old cookie works after sign-out"
        );
    }
}

/// Issue #13: `GET /logout` (a typed address) answers a page with the sign-out button rather
/// than a bare 405, and never signs out by itself; the button does.
#[tokio::test]
async fn get_logout_asks_with_a_button_and_signs_out_only_on_post() {
    let app = spawn_app().await;
    let anonymous = app.get("/logout").await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert!(
        anonymous.body.contains("You are signed out"),
        "{}",
        anonymous.body
    );

    app.signed_in_user().await;
    let page = app.get("/logout").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("action=\"/logout\""), "{}", page.body);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "GET signs no one out"
    );
    let done = app
        .post_form("/logout", &[("csrf_token", &page.csrf())])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_ne!(
        app.get("/account").await.status,
        StatusCode::OK,
        "signed out"
    );
}
