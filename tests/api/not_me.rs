//! "Wasn't you?" ends on a confirmation (issue #13): after the report, a page that says what was
//! done (every session signed out, every app's access revoked with the count, the browsers
//! forgotten, the sign-in reported) and the next step, a button that mails the account's own
//! address a reset link — once, CSRF-checked, with no address or token in any URL.

use reqwest::StatusCode;

use authd::config::{CaptchaKind, Config};
use authd::events::EventKind;

use crate::helpers::{Page, TestApp, input_value, new_client, read, spawn_app_with};
use crate::smtp::{decode_qp, reset_link};

fn setup(c: &mut Config) {
    c.captcha = CaptchaKind::Test;
    c.captcha_test_answer = Some("open-sesame".into());
    c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
}

/// A form post as `client`.
async fn post(app: &TestApp, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> Page {
    read(client.post(app.url(path)).form(form).send().await.unwrap()).await
}

/// The `/not-me` token of the new-sign-in mail.
fn not_me_token(mail: &str) -> String {
    let mail = decode_qp(mail);
    let start = mail.find("/not-me?token=").unwrap() + "/not-me?token=".len();
    mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect()
}

/// How many password-reset mails went out so far.
async fn reset_mails(app: &TestApp) -> usize {
    app.drain_mail().await;
    app.outbox(0)
        .await
        .iter()
        .filter(|m| reset_link(m).is_some())
        .count()
}

#[tokio::test]
async fn wasnt_me_confirms_what_was_done_and_mails_a_reset_link_once() {
    let app = spawn_app_with(setup).await;
    let user = app.user().await;
    // An app holds a grant (the sign-in for it makes this network the account's own).
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid email").await;
    // A new browser signs in: the alert carries the "wasn't you?" link.
    let intruder = new_client();
    let csrf = read(intruder.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    let form = [
        ("username", user.email.as_str()),
        ("password", user.password.as_str()),
        ("csrf_token", &csrf),
    ];
    assert_eq!(
        post(&app, &intruder, "/login", &form).await.status,
        StatusCode::SEE_OTHER
    );
    let mails = app.outbox(1).await;
    let token = not_me_token(mails.last().unwrap());

    let reporter = new_client();
    let ask = read(
        reporter
            .get(app.url(&format!("/not-me?token={token}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ask.status, StatusCode::OK);
    // Without the CSRF token nothing happens.
    let forged = post(&app, &reporter, "/not-me", &[("token", &token)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        read(intruder.get(app.url("/account")).send().await.unwrap())
            .await
            .status,
        StatusCode::OK,
        "a refused form ends nothing"
    );

    let done = post(
        &app,
        &reporter,
        "/not-me",
        &[("token", &token), ("csrf_token", &ask.csrf())],
    )
    .await;
    assert_eq!(
        done.status,
        StatusCode::OK,
        "a confirmation, not a redirect"
    );
    let (local, domain) = user.email.split_once('@').unwrap();
    let masked = format!("{}***@{domain}", &local[..1]);
    for says in [
        "Your account is signed out everywhere",
        "Every browser signed in to your authd account is signed out, this one too.",
        "Every app lost its access to your account (1 app&#39;s access was revoked)",
        "We forgot every browser we knew as yours",
        "We recorded the sign-in as not yours",
        "Next: choose a new password",
        masked.as_str(),
        "action=\"/not-me/reset\"",
        "Mail me a link to choose a new password",
        "href=\"/account/security\"",
    ] {
        assert!(
            done.body.contains(says) || done.body.contains(&says.replace("&#39;", "'")),
            "the confirmation says {says:?}: {}",
            done.body
        );
    }
    assert!(!done.body.contains(&user.email), "the address is masked");
    assert!(!done.body.contains(local), "the address is masked");
    let reset_token = input_value(&done.body, "reset_token");
    assert!(!reset_token.is_empty());
    assert!(!done.body.contains("reset_token="), "never in a URL");
    // What it says was done.
    let p = read(intruder.get(app.url("/account")).send().await.unwrap()).await;
    assert!(
        p.location().starts_with("/login"),
        "the intruder is signed out"
    );
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the app's grant is revoked"
    );
    assert_eq!(
        reset_mails(&app).await,
        0,
        "nothing mailed before the button"
    );

    // The button: CSRF-checked.
    let forged = post(
        &app,
        &reporter,
        "/not-me/reset",
        &[("reset_token", &reset_token)],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(reset_mails(&app).await, 0);
    let csrf = done.csrf();
    let button = [("reset_token", reset_token.as_str()), ("csrf_token", &csrf)];
    let sent = post(&app, &reporter, "/not-me/reset", &button).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.body.contains("Check your mail"), "{}", sent.body);
    assert!(sent.body.contains(&masked) && !sent.body.contains(&user.email));
    assert_eq!(reset_mails(&app).await, 1);
    let mail = app
        .outbox(0)
        .await
        .into_iter()
        .rev()
        .find(|m| reset_link(m).is_some());
    let mail = mail.unwrap();
    assert!(
        mail.contains(&format!("To: {}", user.email)),
        "to the account's own address"
    );
    let link = reset_link(&mail).unwrap();
    let path = &link[link.find("/password/reset").unwrap()..];
    let form = read(new_client().get(app.url(path)).send().await.unwrap()).await;
    assert_eq!(
        form.status,
        StatusCode::OK,
        "the mailed link opens the reset form"
    );
    assert!(form.body.contains("name=\"password\""), "{}", form.body);
    assert!(app.events().await.iter().any(|e| {
        e.kind == EventKind::PasswordResetRequested && e.user_id.as_deref().is_some()
    }));

    // Replayed (the same browser, or another one with the page): nothing more is sent.
    let again = post(&app, &reporter, "/not-me/reset", &button).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("This link does not work"));
    let other = new_client();
    let csrf = read(other.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    let replay = [("reset_token", reset_token.as_str()), ("csrf_token", &csrf)];
    assert_eq!(
        post(&app, &other, "/not-me/reset", &replay).await.status,
        StatusCode::BAD_REQUEST
    );
    let made_up = [
        ("reset_token", "u1.99999999999.bm9wZQ"),
        ("csrf_token", &csrf),
    ];
    assert_eq!(
        post(&app, &other, "/not-me/reset", &made_up).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(reset_mails(&app).await, 1, "sent once");
}

#[tokio::test]
async fn the_reset_button_works_for_an_hour_only() {
    let app = spawn_app_with(setup).await;
    let user = app.user().await;
    let token = app.state.login.links().issue(
        authd::domain::signin::links::Purpose::NotMeReset,
        &app.state
            .accounts
            .find_by_email(&user.email)
            .await
            .unwrap()
            .unwrap()
            .id,
    );
    app.clock.advance(time::Duration::minutes(61));
    let c = new_client();
    let csrf = read(c.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    let late = post(
        &app,
        &c,
        "/not-me/reset",
        &[("reset_token", &token), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert_eq!(reset_mails(&app).await, 0);
}

#[tokio::test]
async fn the_reset_button_says_so_when_the_mail_budget_holds_the_link_back() {
    let app = spawn_app_with(setup).await;
    let user = app.user().await;
    let id = app
        .state
        .accounts
        .find_by_email(&user.email)
        .await
        .unwrap()
        .unwrap()
        .id;
    // Reset links asked for from this network until the budget holds them back.
    let ctx = authd::domain::context::RequestContext::new(
        std::net::IpAddr::from([127, 0, 0, 1]),
        "test",
        "budget".to_owned(),
    );
    for _ in 0..6 {
        app.state.resets.mail_link(&ctx, &user.email).await.unwrap();
    }
    let before = reset_mails(&app).await;
    let token = app
        .state
        .login
        .links()
        .issue(authd::domain::signin::links::Purpose::NotMeReset, &id);
    let c = new_client();
    let csrf = read(c.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    let page = post(
        &app,
        &c,
        "/not-me/reset",
        &[("reset_token", &token), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"reset-held\""), "{}", page.body);
    assert!(
        !page.body.contains("id=\"reset-sent\""),
        "no claim of a mail"
    );
    assert_eq!(reset_mails(&app).await, before, "nothing more was mailed");
}
