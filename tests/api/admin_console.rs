//! The admin console (`/admin`, docs/admin.md): who gets in (signed in, admin, second factor,
//! not idle), the overview's counts against events made here, the user search and page, and
//! the unlock (CSRF-checked, recorded as `admin_action`).

use authd::config::{CaptchaKind, Config};
use authd::domain::clock::Clock;
use authd::domain::context::RequestContext;
use authd::events::{AuthEvent, EventFilter, EventKind};
use reqwest::StatusCode;
use time::Duration;

use crate::helpers::{TestApp, TestUser, new_client, spawn_app, spawn_app_with};

/// A registered admin (not signed in).
pub(crate) async fn admin(app: &TestApp) -> TestUser {
    let user = TestUser::generate();
    app.state
        .accounts
        .create(
            &user.email,
            user.password.clone().into(),
            true,
            authd::domain::accounts::service::Origin::Cli,
        )
        .await
        .unwrap();
    user
}

/// Signs `user` in with the password only, then through the console's step-up (the e-mailed
/// code), ending on the console.
pub(crate) async fn admin_signed_in(app: &TestApp) -> TestUser {
    let user = admin(app).await;
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    // Password only: refused with the step-up page, not let in.
    let refused = app.get("/admin").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("id=\"admin-step-up\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("data-factors=\"some\""));
    assert!(!refused.body.contains("id=\"outcomes\""));
    let sent = app
        .post_form("/admin/step-up", &[("csrf_token", &refused.csrf())])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let login = sent.location().to_owned();
    assert_eq!(login, "/login?reauth=1&next=%2Fadmin");
    let csrf = app.get(&login).await.csrf();
    let stepped = app
        .post_credentials(&login, &user.email, &user.password, &csrf)
        .await;
    assert_eq!(stepped.status, StatusCode::UNAUTHORIZED);
    assert!(
        stepped.body.contains("data-challenge=\"email\""),
        "{}",
        stepped.body
    );
    let code = app.last_code().await;
    let csrf = app.get(&login).await.csrf();
    let passed = app
        .post_form(&login, &[("email_code", &code), ("csrf_token", &csrf)])
        .await;
    assert_eq!(passed.status, StatusCode::SEE_OTHER);
    assert_eq!(passed.location(), "/admin");
    let console = app.get("/admin").await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.body);
    assert!(console.body.contains("id=\"outcomes\""));
    user
}

#[tokio::test]
async fn a_visitor_not_signed_in_is_sent_to_sign_in() {
    let app = spawn_app().await;
    for path in ["/admin", "/admin/users?q=a"] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            page.location().starts_with("/login?next=%2Fadmin"),
            "{}",
            page.location()
        );
    }
}

#[tokio::test]
async fn a_non_admin_gets_the_generic_not_found() {
    let app = spawn_app().await;
    let user = app.user().await;
    assert_eq!(
        app.post_login(&user.email, &user.password).await.status,
        StatusCode::SEE_OTHER
    );
    let nowhere = app.get("/no-such-page").await;
    for path in ["/admin", "/admin/users?q=a", "/admin/users/x"] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            page.body, nowhere.body,
            "{path}: same page as any unknown path"
        );
    }
    let csrf = app.get("/account").await.csrf();
    let page = app
        .post_form("/admin/step-up", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_admin_without_a_second_factor_is_stepped_up_before_the_console() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    // The pass is kept: users too.
    assert_eq!(app.get("/admin/users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_console_signs_out_after_its_idle_timeout() {
    let app = spawn_app_with(|c: &mut Config| {
        c.session_idle_timeout = Duration::hours(1);
        c.admin_idle = Duration::minutes(10);
    })
    .await;
    admin_signed_in(&app).await;
    app.clock.advance(Duration::minutes(9));
    assert_eq!(app.get("/admin").await.status, StatusCode::OK);
    // Nine more minutes on other pages: the session lives, the console's clock runs on.
    app.clock.advance(Duration::minutes(9));
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    app.clock.advance(Duration::minutes(2));
    let page = app.get("/admin").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login?next=%2Fadmin");
    // The whole session ended.
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
}

pub(crate) fn ladder(c: &mut Config) {
    c.captcha = CaptchaKind::Test;
    c.captcha_test_answer = Some("open-sesame".into());
    c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    c.protection.challenge_after = 3;
    c.protection.block_after = 6;
    c.protection.block_secs = 300;
}

/// One sign-in from network `ip` in a fresh browser.
pub(crate) async fn try_login(
    app: &TestApp,
    ip: &str,
    email: &str,
    password: &str,
    answer: Option<&str>,
) -> StatusCode {
    let browser = new_client();
    let page = app.sign_in_from(&browser, ip, email, password, answer);
    page.await.status
}

pub(crate) async fn admin_actions(app: &TestApp) -> Vec<AuthEvent> {
    app.state_events(EventFilter {
        kind: Some(EventKind::AdminAction),
        limit: 100,
        ..EventFilter::default()
    })
    .await
}

#[tokio::test]
async fn unlock_needs_the_csrf_token_and_lifts_blocks_recording_admin_action() {
    let app = spawn_app_with(ladder).await;
    let admin = admin_signed_in(&app).await;
    let target = app.user().await;
    let ip = "203.0.113.200";
    for _ in 0..3 {
        try_login(&app, ip, &target.email, "wrong password", None).await;
    }
    for _ in 0..5 {
        try_login(&app, ip, &target.email, "wrong password", Some("bad")).await;
    }
    assert_eq!(
        try_login(&app, ip, &target.email, &target.password, None).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Found by a part of the address, case-insensitively.
    let local = target.email.split('@').next().unwrap().to_uppercase();
    let found = app.get(&format!("/admin/users?q={local}")).await;
    assert_eq!(found.status, StatusCode::OK);
    let marker = "data-user-id=\"";
    let start = found.body.find(marker).expect("a result") + marker.len();
    let id = found.body[start..start + found.body[start..].find('"').unwrap()].to_owned();
    assert!(found.body.contains(&target.email));
    let user_path = format!("/admin/users/{id}");
    let page = app.get(&user_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("data-blocked-sources=\"1\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("login_failed"));

    let unlock = format!("{user_path}/unlock");
    for form in [vec![], vec![("csrf_token", "forged")]] {
        let refused = app.post_form(&unlock, &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    assert!(admin_actions(&app).await.is_empty());
    assert_eq!(
        try_login(&app, ip, &target.email, &target.password, None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "still blocked"
    );

    let done = app
        .post_form(&unlock, &[("csrf_token", &page.csrf())])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), format!("{user_path}?unlocked=1"));
    let after = app.get(done.location()).await;
    assert!(
        after.body.contains("data-blocked-sources=\"0\""),
        "{}",
        after.body
    );
    let actions = admin_actions(&app).await;
    assert_eq!(actions.len(), 1);
    let admin_id = app
        .state
        .accounts
        .find_by_email(&admin.email)
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(actions[0].user_id.as_deref(), Some(admin_id.as_str()));
    assert_eq!(
        actions[0].decision.as_deref(),
        Some(format!("unlock; target {id}").as_str())
    );
    let unlocked = app
        .state_events(EventFilter {
            kind: Some(EventKind::AccountUnlocked),
            user_id: Some(id.clone()),
            limit: 10,
            ..EventFilter::default()
        })
        .await;
    assert_eq!(unlocked[0].decision.as_deref(), Some("admin"));
    assert_eq!(
        try_login(&app, ip, &target.email, &target.password, None).await,
        StatusCode::SEE_OTHER
    );
}

/// The overview table's cell for `window` and `outcome`.
fn cell(body: &str, window: &str, outcome: &str) -> i64 {
    let row = &body[body
        .find(&format!("data-window=\"{window}\""))
        .expect("row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    let marker = format!("data-outcome=\"{outcome}\">");
    let start = row.find(&marker).expect("cell") + marker.len();
    row[start..start + row[start..].find('<').unwrap()]
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_overview_counts_the_events_by_outcome_and_window() {
    let app = spawn_app().await;
    admin_signed_in(&app).await;
    let target = app.user().await;
    let target_id = app
        .state
        .accounts
        .find_by_email(&target.email)
        .await
        .unwrap()
        .unwrap()
        .id;
    let before = app.get("/admin").await.body;
    let now = app.clock.now();
    let ctx = RequestContext {
        ip: "198.51.100.77".parse().unwrap(),
        user_agent: "attacker".into(),
        request_id: "r".into(),
        app: None,
    };
    let at = |kind, ago: Duration| AuthEvent::new(kind, &ctx, now - ago).user(&target_id);
    for _ in 0..3 {
        app.state
            .events
            .record(at(EventKind::LoginFailed, Duration::minutes(5)))
            .await
            .unwrap();
    }
    for _ in 0..2 {
        app.state
            .events
            .record(at(EventKind::LoginSucceeded, Duration::hours(2)))
            .await
            .unwrap();
    }
    app.state
        .events
        .record(at(EventKind::LoginBlocked, Duration::days(3)))
        .await
        .unwrap();
    app.state
        .events
        .record(at(EventKind::RateLimited, Duration::days(9)))
        .await
        .unwrap();
    let page = app.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    let delta = |w: &str, o: &str| cell(&page.body, w, o) - cell(&before, w, o);
    assert_eq!(delta("hour", "failed"), 3);
    assert_eq!(delta("hour", "succeeded"), 0);
    assert_eq!(delta("day", "succeeded"), 2);
    assert_eq!(delta("day", "blocked"), 0);
    assert_eq!(delta("week", "blocked"), 1);
    assert_eq!(delta("week", "failed"), 3);
    assert_eq!(delta("week", "rate limited"), 0, "older than a week");
    // The admin's own step-up counts as stepped up.
    assert!(cell(&page.body, "hour", "stepped up") >= 1);
    assert!(page.body.contains("data-chart=\"week\""));
    // The day's most attacked account and source.
    let top = &page.body[page.body.find("id=\"top-accounts\"").unwrap()..];
    assert!(
        top.contains(&format!("<td>{}</td><td data-count=\"3\">", target.email)),
        "{top}"
    );
    let sources = &page.body[page.body.find("id=\"top-sources\"").unwrap()..];
    assert!(
        sources.contains("<td>198.51.100.77</td><td data-count=\"3\">"),
        "{sources}"
    );
}
