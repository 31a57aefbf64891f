//! "Keep me signed in": a longer idle timeout for that session (`AUTHD_REMEMBER_IDLE_SECS`)
//! and a persistent cookie of that length; without the box the usual 30 minutes; never for an
//! admin account. Driven by the fake clock.

use reqwest::StatusCode;
use time::Duration;

use authd::domain::accounts::service::Origin;

use crate::helpers::{Page, TestApp, TestUser, new_client, read, spawn_app, spawn_app_with};

/// Signs `user` in through the form as `client`, ticking the box when `remember`.
async fn sign_in(app: &TestApp, client: &reqwest::Client, user: &TestUser, remember: bool) -> Page {
    let login = read(client.get(app.url("/login")).send().await.unwrap()).await;
    assert!(
        login.body.contains("name=\"remember\""),
        "the box is offered"
    );
    let csrf = login.csrf();
    let mut form = vec![
        ("username", user.email.as_str()),
        ("password", user.password.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    if remember {
        form.push(("remember", "1"));
    }
    let page = read(
        client
            .post(app.url("/login"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page
}

/// Whether the session cookie the answer set lives about `secs` (`Max-Age` is counted down
/// from the moment the store computed the expiry).
fn cookie_lives(page: &Page, secs: i64) -> bool {
    session_max_age(page).is_some_and(|age| (secs - 5..=secs).contains(&age))
}

/// The `Max-Age` of the session cookie the answer set, in seconds.
fn session_max_age(page: &Page) -> Option<i64> {
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("authd_session="))?;
    cookie
        .split(';')
        .find_map(|p| p.trim().strip_prefix("Max-Age="))
        .and_then(|v| v.parse().ok())
}

async fn account_status(app: &TestApp, client: &reqwest::Client) -> StatusCode {
    client
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn keep_me_signed_in_gives_that_session_the_longer_idle_timeout() {
    let app = spawn_app().await;
    let user = app.user().await;
    let kept = new_client();
    let page = sign_in(&app, &kept, &user, true).await;
    assert!(
        cookie_lives(&page, 30 * 86_400),
        "a persistent cookie {:?}",
        session_max_age(&page)
    );
    let usual = new_client();
    let page = sign_in(&app, &usual, &user, false).await;
    assert!(cookie_lives(&page, 1800), " {:?}", session_max_age(&page));

    // Two hours unused: the usual session is over, the kept one is not.
    app.clock.advance(Duration::hours(2));
    assert_eq!(account_status(&app, &usual).await, StatusCode::SEE_OTHER);
    assert_eq!(account_status(&app, &kept).await, StatusCode::OK);
    // Past the usual absolute lifetime (12 h) too, while used within the idle timeout.
    for _ in 0..3 {
        app.clock.advance(Duration::days(9));
        assert_eq!(account_status(&app, &kept).await, StatusCode::OK);
    }
    // Unused for longer than 30 days: over.
    app.clock.advance(Duration::days(30));
    assert_eq!(account_status(&app, &kept).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn admin_accounts_are_never_kept_signed_in() {
    let app = spawn_app().await;
    let admin = TestUser::generate();
    app.state
        .accounts
        .create(
            &admin.email,
            admin.password.clone().into(),
            true,
            Origin::Cli,
        )
        .await
        .unwrap();
    let c = new_client();
    let page = sign_in(&app, &c, &admin, true).await;
    assert!(
        cookie_lives(&page, 1800),
        "the usual cookie {:?}",
        session_max_age(&page)
    );
    app.clock.advance(Duration::minutes(31));
    assert_eq!(account_status(&app, &c).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_remember_timeout_is_configurable_and_can_be_turned_off() {
    let app = spawn_app_with(|c| c.remember_idle = Duration::hours(3)).await;
    let user = app.user().await;
    let c = new_client();
    let page = sign_in(&app, &c, &user, true).await;
    assert!(
        cookie_lives(&page, 3 * 3600),
        " {:?}",
        session_max_age(&page)
    );
    app.clock.advance(Duration::hours(2));
    assert_eq!(account_status(&app, &c).await, StatusCode::OK);
    app.clock.advance(Duration::hours(3));
    assert_eq!(account_status(&app, &c).await, StatusCode::SEE_OTHER);

    let off = spawn_app_with(|c| c.remember_idle = Duration::ZERO).await;
    let page = read(new_client().get(off.url("/login")).send().await.unwrap()).await;
    assert!(!page.body.contains("name=\"remember\""), "not offered");
}

/// The hourly retention once dropped a session's index row a day after it was last seen, though
/// a kept session lives 30 idle days: the page stopped listing it and "sign out everywhere
/// else" (which walks the index) left it signed in. The index keeps a row while its session may
/// live.
#[tokio::test]
async fn retention_keeps_a_kept_session_listed_so_signing_out_elsewhere_ends_it() {
    let app = spawn_app().await;
    let user = app.user().await;
    let kept = new_client();
    sign_in(&app, &kept, &user, true).await;
    app.clock.advance(Duration::days(2));
    let store: std::sync::Arc<dyn authd::storage::retention::RetentionStore> =
        authd::storage::connect(&app.db.url, 1)
            .await
            .unwrap()
            .retention;
    let clock: std::sync::Arc<dyn authd::domain::clock::Clock> = app.clock.clone();
    let idle = app.state.session_policy.longest().0.whole_seconds();
    let keep = authd::domain::retention::Keep {
        event_days: 90,
        session_idle_secs: idle,
        failure_window_secs: app.state.config.protection.window_secs,
    };
    authd::domain::retention::prune(&store, &clock, keep)
        .await
        .unwrap();
    assert_eq!(account_status(&app, &kept).await, StatusCode::OK);
    // The owner, on another browser: "sign out everywhere else".
    let main = app.post_login(&user.email, &user.password).await;
    assert_eq!(main.status, StatusCode::SEE_OTHER);
    let csrf = app.get("/account/security").await.csrf();
    let reauth = [("csrf_token", csrf.as_str()), ("password", &user.password)];
    let page = app.post_form("/account/security/reauth", &reauth).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let csrf = app.get("/account/security").await.csrf();
    let form = [("csrf_token", csrf.as_str()), ("action", "sign_out_others")];
    let page = app.post_form("/account/security/sessions", &form).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(account_status(&app, &kept).await, StatusCode::SEE_OTHER);
}
