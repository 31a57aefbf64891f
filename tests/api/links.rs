//! The mailed links and what they leave behind (issue #15, items 12, 13 and the probable ones):
//! `/unlock` asks on GET and acts once on POST, lifting the owner's lock but not the attacker's
//! block; "wasn't you?" works once; a reset spends every older reset link; device cookies end
//! with a reset or "wasn't you?"; one network cannot use up the owner's reset mails; the
//! new-device alert names the browser, never the raw User-Agent.

use reqwest::StatusCode;

use authd::config::{CaptchaKind, Config};
use authd::events::EventKind;

use crate::helpers::{Page, TestApp, new_client, read, spawn_app_with};
use crate::smtp::{decode_qp, reset_link};

fn setup(c: &mut Config) {
    c.captcha = CaptchaKind::Test;
    c.captcha_test_answer = Some("open-sesame".into());
    c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
}

/// Whether a page set a new device cookie (the browser was not a known device).
fn new_device_cookie(page: &Page) -> bool {
    page.headers
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("authd_device="))
}

/// The token of the first `marker` link (`/unlock?token=`) in a mail.
fn token_after(mail: &str, marker: &str) -> String {
    let mail = decode_qp(mail);
    let start = mail.find(marker).unwrap() + marker.len();
    mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect()
}

/// Posts the forgot form for `email` as a fresh browser from `ip`.
async fn forgot(app: &TestApp, ip: &str, email: &str) -> Page {
    let c = new_client();
    let csrf = read(c.get(app.url("/password/forgot")).send().await.unwrap())
        .await
        .csrf();
    read(
        c.post(app.url("/password/forgot"))
            .header("x-forwarded-for", ip)
            .form(&[("email", email), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Sets a new password with a reset link's path, as a fresh browser.
async fn reset_with(app: &TestApp, path: &str, token: &str, password: &str) -> Page {
    let c = new_client();
    let csrf = read(c.get(app.url(path)).send().await.unwrap())
        .await
        .csrf();
    read(
        c.post(app.url("/password/reset"))
            .form(&[
                ("token", token),
                ("password", password),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn unlocked_events(events: &[authd::events::AuthEvent]) -> usize {
    events
        .iter()
        .filter(|e| e.kind == EventKind::AccountUnlocked)
        .count()
}

#[tokio::test]
async fn unlock_asks_on_get_acts_once_on_post_and_keeps_the_attacker_blocked() {
    let app = spawn_app_with(|c| {
        setup(c);
        c.protection.challenge_after = 100;
        c.protection.block_after = 4;
        c.protection.lock_after = 5;
    })
    .await;
    let user = app.user().await;
    let attacker = "203.0.113.66";
    // Four failures from the attacker's network, the fifth is blocked there; one more from
    // another network locks the account (five from unknown sources).
    for _ in 0..4 {
        let p = app
            .sign_in_again(&new_client(), attacker, &user.email, "guess")
            .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    }
    let p = app
        .sign_in_again(&new_client(), attacker, &user.email, "guess")
        .await;
    assert_eq!(
        p.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker is blocked"
    );
    app.sign_in_again(&new_client(), "203.0.113.67", &user.email, "guess")
        .await;
    assert!(
        app.events()
            .await
            .iter()
            .any(|e| e.kind == EventKind::AccountLocked)
    );
    // The block mailed the attack alert first; the lock's notice carries the unlock link.
    let mails = app.outbox(2).await;
    let notice = mails
        .iter()
        .find(|m| decode_qp(m).contains("/unlock?token="))
        .expect("the lockout notice");
    let token = token_after(notice, "/unlock?token=");
    let locked =
        |p: &Page| p.status == StatusCode::UNAUTHORIZED && p.body.contains("data-challenge");

    // GET (what a mail scanner does) only asks: nothing is lifted.
    let owner = new_client();
    let ask = read(
        owner
            .get(app.url(&format!("/unlock?token={token}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("name=\"csrf_token\"") && !ask.body.contains("id=\"unlocked\""));
    assert_eq!(
        unlocked_events(&app.events().await),
        0,
        "the GET changed nothing"
    );
    let p = app
        .sign_in_again(&new_client(), "198.51.100.7", &user.email, &user.password)
        .await;
    assert!(locked(&p), "still locked after the GET: {}", p.status);

    // A POST without the form's CSRF token does nothing either.
    let no_csrf = owner
        .post(app.url("/unlock"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(no_csrf.status().is_client_error());
    assert_eq!(unlocked_events(&app.events().await), 0);

    // The POST with the form unlocks, from the owner's own network.
    let done = read(
        owner
            .post(app.url("/unlock"))
            .header("x-forwarded-for", "192.0.2.44")
            .form(&[("token", token.as_str()), ("csrf_token", &ask.csrf())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains("id=\"unlocked\""));
    assert_eq!(unlocked_events(&app.events().await), 1);
    let p = app
        .sign_in_again(&new_client(), "198.51.100.8", &user.email, &user.password)
        .await;
    assert_eq!(
        p.status,
        StatusCode::SEE_OTHER,
        "the owner gets in from a new place"
    );

    // The attacker's network stays blocked, even with the right password.
    let p = app
        .sign_in_again(&new_client(), attacker, &user.email, &user.password)
        .await;
    assert_eq!(
        p.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker's block survives"
    );

    // The link works once: a replay (GET or POST) is refused and records nothing.
    let again = read(
        new_client()
            .get(app.url(&format!("/unlock?token={token}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(!again.body.contains("name=\"token\""));
    let replay = read(
        owner
            .post(app.url("/unlock"))
            .form(&[("token", token.as_str()), ("csrf_token", &ask.csrf())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unlocked_events(&app.events().await),
        1,
        "the replay did nothing"
    );
}

#[tokio::test]
async fn wasnt_me_works_once_and_forgets_every_device() {
    let app = spawn_app_with(setup).await;
    let user = app.user().await;
    let home = new_client();
    let first = app
        .sign_in_again(&home, "192.0.2.1", &user.email, &user.password)
        .await;
    assert!(new_device_cookie(&first));
    // A new browser on the owner's network (from a network the account never used, it would
    // meet the challenge first: docs/risk.md, "The prior").
    let intruder = new_client();
    let p = app
        .sign_in_again(&intruder, "192.0.2.9", &user.email, &user.password)
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let token = token_after(&app.outbox(1).await[0], "/not-me?token=");
    // The home browser is a known device before the report.
    let again = app
        .sign_in_again(&home, "192.0.2.1", &user.email, &user.password)
        .await;
    assert!(!new_device_cookie(&again), "known before the report");

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
    let done = read(
        reporter
            .post(app.url("/not-me"))
            .form(&[("token", token.as_str()), ("csrf_token", &ask.csrf())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    // A confirmation of what was done, with the next step (tests/api/not_me.rs).
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains("Your account is signed out everywhere"));
    assert!(done.body.contains("action=\"/not-me/reset\""));
    let reports = |events: &[authd::events::AuthEvent]| {
        events
            .iter()
            .filter(|e| {
                e.decision
                    .as_deref()
                    .is_some_and(|d| d.starts_with("reported_not_me"))
            })
            .count()
    };
    assert_eq!(reports(&app.events().await), 1);

    // Replayed (days later, or by whoever else has the mail): refused, nothing recorded.
    let other = new_client();
    let get = read(
        other
            .get(app.url(&format!("/not-me?token={token}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        get.status,
        StatusCode::BAD_REQUEST,
        "no confirmation for a used link"
    );
    assert!(!get.body.contains("name=\"token\""));
    let csrf = read(other.get(app.url("/password/forgot")).send().await.unwrap())
        .await
        .csrf();
    let replay = read(
        other
            .post(app.url("/not-me"))
            .form(&[("token", token.as_str()), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(reports(&app.events().await), 1, "the replay did nothing");

    // Neither the intruder's browser nor the home one is a known device any more.
    for (c, ip) in [(&intruder, "192.0.2.9"), (&home, "192.0.2.1")] {
        let p = app.sign_in_again(c, ip, &user.email, &user.password).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert!(
            new_device_cookie(&p),
            "the old device cookie no longer counts"
        );
    }
    let last = app
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == EventKind::LoginSucceeded)
        .unwrap();
    assert_eq!(last.decision.as_deref(), Some("allow"));
}

#[tokio::test]
async fn a_reset_spends_older_links_and_forgets_every_device() {
    let app = spawn_app_with(setup).await;
    let user = app.user().await;
    let home = new_client();
    app.sign_in_again(&home, "192.0.2.1", &user.email, &user.password)
        .await;
    forgot(&app, "192.0.2.1", &user.email).await;
    // A request while the link has ten minutes or more left mails the same link: the second
    // one comes when the first has nine left, so there are two live links.
    app.state.background.settled().await;
    app.clock.advance(time::Duration::minutes(21));
    forgot(&app, "192.0.2.1", &user.email).await;
    let mails = app.outbox(2).await;
    let links: Vec<String> = mails.iter().filter_map(|m| reset_link(m)).collect();
    assert_eq!(links.len(), 2, "two reset mails");
    let paths: Vec<String> = links
        .iter()
        .map(|l| l.trim_start_matches(&app.address).to_owned())
        .collect();
    let tokens: Vec<String> = links.iter().map(|l| token_after(l, "token=")).collect();
    assert_ne!(tokens[0], tokens[1]);

    let done = reset_with(&app, &paths[1], &tokens[1], "the newest passphrase").await;
    assert_eq!(done.location(), "/login?reset=1");
    // The older link is dead too: its page says so and it sets nothing.
    let old = read(new_client().get(app.url(&paths[0])).send().await.unwrap()).await;
    assert_eq!(
        old.status,
        StatusCode::BAD_REQUEST,
        "the older link is spent"
    );
    let c = new_client();
    let csrf = read(c.get(app.url("/password/forgot")).send().await.unwrap())
        .await
        .csrf();
    let refused = read(
        c.post(app.url("/password/reset"))
            .form(&[
                ("token", tokens[0].as_str()),
                ("password", "an attacker's passphrase"),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let p = app
        .sign_in_again(
            &new_client(),
            "192.0.2.2",
            &user.email,
            "an attacker's passphrase",
        )
        .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);

    // The home browser's device cookie ended with the reset.
    let p = app
        .sign_in_again(&home, "192.0.2.1", &user.email, "the newest passphrase")
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        new_device_cookie(&p),
        "the device cookie from before the reset no longer counts"
    );
}

#[tokio::test]
async fn forgot_requests_from_one_network_cannot_use_up_the_owners_reset_mails() {
    let app = spawn_app_with(|c| {
        setup(c);
        // The attacker solves every CAPTCHA the forgot form would ask for.
        c.protection.challenge_after = 100;
        c.protection.block_after = 100;
    })
    .await;
    let user = app.user().await;
    for _ in 0..6 {
        let p = forgot(&app, "203.0.113.66", &user.email).await;
        assert_eq!(p.status, StatusCode::OK);
    }
    app.drain_mail().await;
    let count = |mails: &[String]| mails.iter().filter(|m| reset_link(m).is_some()).count();
    assert_eq!(
        count(&app.outbox(3).await),
        3,
        "three for the asking network"
    );
    // The owner, from their own network, still gets a working link.
    forgot(&app, "192.0.2.10", &user.email).await;
    let mails = app.outbox(4).await;
    assert_eq!(count(&mails), 4, "the owner's request was mailed");
    let events = app.events().await;
    let asked = |ip: &str, decision: &str| {
        events
            .iter()
            .filter(|e| {
                e.kind == EventKind::PasswordResetRequested
                    && e.ip.as_deref() == Some(ip)
                    && e.decision
                        .as_deref()
                        .is_some_and(|d| d.starts_with(decision))
            })
            .count()
    };
    assert_eq!(asked("192.0.2.10", "mailed"), 1, "the owner's request");
    assert_eq!(
        asked("203.0.113.66", "mailed; the live link again"),
        2,
        "one link, mailed three times"
    );
    assert_eq!(asked("203.0.113.66", "mailed"), 3);
    assert_eq!(asked("203.0.113.66", "suppressed:mail_limit"), 3);
    for link in mails.iter().filter_map(|m| reset_link(m)) {
        let path = link.trim_start_matches(&app.address).to_owned();
        let page = read(new_client().get(app.url(&path)).send().await.unwrap()).await;
        assert_eq!(page.status, StatusCode::OK, "every mailed link works");
    }
}

#[tokio::test]
async fn the_new_device_alert_names_the_browser_not_the_raw_user_agent() {
    let app = spawn_app_with(setup).await;
    let user = app.user().await;
    app.sign_in_again(&new_client(), "192.0.2.1", &user.email, &user.password)
        .await;
    let raw = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 \
               Visit-evil.example-to-keep-your-account";
    let intruder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .user_agent(raw)
        .build()
        .unwrap();
    // On the owner's network: from one the account never used, the challenge comes first.
    let p = app
        .sign_in_again(&intruder, "192.0.2.9", &user.email, &user.password)
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let mails = app.outbox(1).await;
    let mail = decode_qp(&mails[0]);
    assert!(mail.contains("Subject: New sign-in to your account"));
    assert!(mail.contains("Browser: Firefox on Linux"), "{mail}");
    assert!(
        !mail.contains("evil.example") && !mail.contains("Mozilla/5.0"),
        "{mail}"
    );
}
