//! Stuffing waves across instances: a wave seen through one instance is on for the other
//! (shared through the database), recorded once as `attack_detected` in the admin events API;
//! during it a valid pair from a context new to the account is challenged (and the challenged
//! owner still gets in), while the owner's known device and home network pass; it ends by
//! itself. Runs on SQLite, and on PostgreSQL with `TEST_POSTGRES_URL`.

use reqwest::StatusCode;

use authd::config::{CaptchaKind, Config};
use authd::events::EventKind;

use crate::helpers::{Page, TestApp, TestDb, new_client, read, spawn_app_on, str_of};

const ANSWER: &str = "open-sesame";

/// The defaults of the wave detector; the score alone never challenges here, so what is
/// challenged is the wave's doing.
pub(crate) fn config(c: &mut Config) {
    c.captcha = CaptchaKind::Test;
    c.captcha_test_answer = Some(ANSWER.into());
    c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    c.risk.challenge_at = 0.999;
    c.risk.block_at = 0.9999;
    c.protection.step_up_at = 0.999;
    // Only the explicit refreshes below (and the early wake-up) move the wave state.
    c.waves.refresh_secs = 3600;
}

/// Signs `client` out (its device cookie stays).
async fn sign_out(app: &TestApp, client: &reqwest::Client) {
    let csrf = read(client.get(app.url("/account")).send().await.unwrap())
        .await
        .csrf();
    client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
}

fn challenged(page: &Page) -> bool {
    page.status == StatusCode::UNAUTHORIZED && page.body.contains("data-challenge=\"captcha\"")
}

async fn admin_token(app: &TestApp) -> String {
    let svc = app
        .add_client(false, false, &["client_credentials"], &["admin"])
        .await;
    let (status, body) = app
        .token(&svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    str_of(&body, "access_token").to_owned()
}

/// A stuffing run through `app`: `networks` addresses in distinct /24s, two leaked pairs each,
/// names with no account here.
pub(crate) async fn stuffing(app: &TestApp, networks: u8) {
    for i in 0..networks {
        let ip = format!("45.{i}.0.7");
        for j in 0..2 {
            let page = app
                .sign_in_from(
                    &new_client(),
                    &ip,
                    &format!("leaked-{i}-{j}@example.org"),
                    &format!("hunter{i}{j}"),
                    None,
                )
                .await;
            assert!(page.status.is_client_error(), "{}", page.status);
        }
    }
}

#[tokio::test]
async fn a_wave_on_one_instance_challenges_new_contexts_on_the_other_until_it_ends() {
    let db = TestDb::new().await;
    let a = spawn_app_on(db.share(), config).await;
    let b = spawn_app_on(db.share(), config).await;
    let (owner, victim) = (a.user().await, a.user().await);
    // Both signed in before: the owner from home with their browser (a known device now).
    let home = new_client();
    let page = a
        .sign_in_from(&home, "192.0.2.10", &owner.email, &owner.password, None)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    sign_out(&a, &home).await;
    let page = a
        .sign_in_from(
            &new_client(),
            "198.51.100.20",
            &victim.email,
            &victim.password,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    // Before any wave, a valid pair from a new network passes (the score alone lets it).
    let page = b
        .sign_in_from(
            &new_client(),
            "100.64.1.9",
            &victim.email,
            &victim.password,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "no wave yet");

    // The wave hits A: 30 networks, two leaked pairs each.
    stuffing(&a, 30).await;
    a.state.waves.refresh().await.unwrap();
    assert!(
        a.state.waves.on().is_some(),
        "{:?}",
        a.state.waves.signals()
    );
    // B sees it through the database.
    b.state.waves.refresh().await.unwrap();
    let wave = b.state.waves.on().expect("the wave is on for B too");
    assert_eq!(wave.kind.as_str(), "stuffing");

    // On B: a valid pair from a context new to the account meets the challenge ...
    let attacker = new_client();
    let page = b
        .sign_in_from(
            &attacker,
            "100.64.2.9",
            &victim.email,
            &victim.password,
            None,
        )
        .await;
    assert!(challenged(&page), "{}: {}", page.status, page.body);
    // ... and past it, the second factor (a stuffing list's right pair and a CAPTCHA solver
    // are not enough), which the owner, when it is them, passes.
    let page = b
        .sign_in_from(
            &attacker,
            "100.64.2.9",
            &victim.email,
            &victim.password,
            Some(ANSWER),
        )
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert!(
        page.body.contains("data-challenge=\"email\""),
        "{}",
        page.body
    );
    // The code mail is in the shared queue: either instance may have delivered it.
    let code = crate::helpers::last_code_in(&[&a, &b]).await;
    let page = b.send_email_code(&attacker, "100.64.2.9", &code).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "a challenged owner gets in"
    );
    // The owner on their known device, or on their home network without it, is not challenged.
    let page = b
        .sign_in_from(&home, "192.0.2.10", &owner.email, &owner.password, None)
        .await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "known device: {}",
        page.body
    );
    let page = b
        .sign_in_from(
            &new_client(),
            "192.0.2.77",
            &owner.email,
            &owner.password,
            None,
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "home network: {}",
        page.body
    );

    // The wave is one `attack_detected` event, in the admin API of either instance.
    a.state.waves.refresh().await.unwrap();
    b.state.waves.refresh().await.unwrap();
    let token = admin_token(&b).await;
    let body: serde_json::Value = new_client()
        .get(b.url("/admin/api/events?kind=attack_detected"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["kind"], "attack_detected");
    let decision = events[0]["decision"].as_str().unwrap();
    assert!(decision.starts_with("stuffing; start "), "{decision}");
    // The size and sources as the wave was detected: by the early wake-up, part-way through
    // the run (each network tries two pairs one after the other, so the one it caught in the
    // middle may have shown one failure so far).
    let each: f64 = decision
        .split("networks (")
        .nth(1)
        .and_then(|r| r.split(" failures each)").next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{decision}"));
    assert!((1.8..=2.0).contains(&each), "{decision}");
    assert!(decision.contains("naming no account"), "{decision}");

    // It ends by itself: no more failures, and past its hold every instance lets new
    // contexts through again, without any refresh. (The two fake clocks started apart, as two
    // machines' clocks are: a minute covers the skew.)
    let past = time::Duration::seconds(b.state.waves.settings().hold_secs + 60);
    a.clock.advance(past);
    b.clock.advance(past);
    assert!(a.state.waves.on().is_none() && b.state.waves.on().is_none());
    let page = b
        .sign_in_from(
            &new_client(),
            "100.64.3.9",
            &victim.email,
            &victim.password,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "the wave is over");
    b.state.waves.refresh().await.unwrap();
    assert!(b.state.waves.on().is_none());
    let detected = b
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::AttackDetected)
        .count();
    assert_eq!(detected, 1);
    drop((a, b));
    drop(db);
}
