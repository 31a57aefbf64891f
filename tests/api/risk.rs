//! The risk engine end to end: the traffic simulator drives a test server through the real
//! sign-in form (small size), trains a model through the admin API, and its report must meet
//! the targets, so a regression in features, scoring or the decision point fails CI.

use std::sync::Arc;

use crate::helpers::{TestApp, spawn_app_with};

const ANSWER: &str = "sim-answer";

async fn simulated_server() -> TestApp {
    spawn_app_with(|v| {
        v.insert("trusted_proxies".into(), "127.0.0.1/32".into());
        v.insert("captcha".into(), "test".into());
        v.insert("captcha_test_answer".into(), ANSWER.into());
        // The simulator compresses days into seconds: per-instance request rates are not what
        // is measured here.
        v.insert("rate_login_per_ip".into(), "100000".into());
        v.insert("rate_login_per_account".into(), "100000".into());
        v.insert("rate_register_per_ip".into(), "100000".into());
        v.insert("risk_train_secs".into(), "0".into());
    })
    .await
}

async fn admin_pair(app: &TestApp) -> String {
    let svc = app
        .add_client(false, false, &["client_credentials"], &["admin"])
        .await;
    format!("{}:{}", svc.id, svc.secret.unwrap())
}

#[tokio::test]
async fn simulated_attacks_are_stopped_and_users_are_not() {
    let app = simulated_server().await;
    let args = authd::simulate::SimulateArgs {
        target: app.address.clone(),
        seed: 7,
        users: 30,
        days: 5,
        attacks: 40,
        captcha_answer: ANSWER.into(),
        admin_client: Some(admin_pair(&app).await),
    };
    let clock = app.clock.clone();
    let advance: authd::simulate::Advance =
        Arc::new(move |secs| clock.advance(time::Duration::seconds(secs)));
    let report = authd::simulate::run_with(&args, Some(advance))
        .await
        .unwrap();
    let mut shown = report.clone();
    shown.scores.clear();
    eprintln!("{}", serde_json::to_string_pretty(&shown).unwrap());
    let model = app.state.risk.model();
    eprintln!(
        "model {} weights {:?} intercept {}",
        model.version, model.weights, model.intercept
    );
    let s = |name: &str| report.scenarios.get(name).unwrap().clone();
    assert!(
        report.legit_friction <= 0.02,
        "friction {}",
        report.legit_friction
    );
    assert!(
        report.model_version.unwrap_or(0) >= 1,
        "a model was trained"
    );
    assert!(s("takeover_new_country").challenged_or_blocked >= 0.995);
    assert!(s("takeover_vpn_new_browser").challenged_or_blocked >= 0.95);
    assert!(s("takeover_exact_agent").challenged_or_blocked >= 0.85);
    for campaign in ["brute_force", "credential_stuffing", "password_spraying"] {
        let found = s(campaign).attempts_until_detected;
        assert!(found.is_some_and(|n| n <= 50), "{campaign}: {found:?}");
    }
    for (name, sc) in &report.scenarios {
        if !name.starts_with("train_") {
            assert!(sc.roc_auc.is_some(), "{name}: AUC reported");
        }
    }
}
