//! Per-instance rate limits: 429 with Retry-After per network, per account, per registration
//! source and per OAuth client; `X-Forwarded-For` counts only from trusted proxies.

use reqwest::StatusCode;

use authd::events::EventKind;

use crate::helpers::{TestApp, new_client, read, spawn_app_with};

/// A failed sign-in for `username`, as `client`, optionally through a proxy header.
async fn attempt(
    app: &TestApp,
    client: &reqwest::Client,
    username: &str,
    xff: Option<&str>,
) -> (StatusCode, Option<String>) {
    let csrf = read(client.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    let mut req = client.post(app.url("/login"));
    if let Some(ip) = xff {
        req = req.header("x-forwarded-for", ip);
    }
    let resp = req
        .form(&[
            ("username", username),
            ("password", "wrong password"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status(), retry)
}

#[tokio::test]
async fn sign_ins_are_limited_per_network_and_spoofed_headers_do_not_help() {
    let app = spawn_app_with(|c| {
        c.rate_limits.login_per_ip = 5;
    })
    .await;
    let client = new_client();
    for i in 0..5 {
        // Rotating the header changes nothing: this peer is not a trusted proxy.
        let (status, _) = attempt(
            &app,
            &client,
            &format!("u{i}@example.com"),
            Some(&format!("198.51.100.{i}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, retry) = attempt(&app, &client, "u9@example.com", Some("198.51.100.99")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry));
    let e = app
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == EventKind::RateLimited)
        .unwrap();
    assert_eq!(e.decision.as_deref(), Some("rate_limited:ip"));
    assert_eq!(e.username.as_deref(), Some("u9@example.com"));
    // Refused before the decision point: 5 attempts recorded (failed, or challenged once the
    // risk engine saw one wrong password sprayed over several accounts), not 6.
    assert_eq!(
        app.events()
            .await
            .iter()
            .filter(|e| matches!(e.kind, EventKind::LoginFailed | EventKind::LoginChallenged))
            .count(),
        5
    );
}

#[tokio::test]
async fn trusted_proxies_key_the_limit_by_the_real_client() {
    let app = spawn_app_with(|c| {
        c.rate_limits.login_per_ip = 3;
        c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    })
    .await;
    let client = new_client();
    for i in 0..3 {
        assert_eq!(
            attempt(
                &app,
                &client,
                &format!("a{i}@example.com"),
                Some("203.0.113.7")
            )
            .await
            .0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt(&app, &client, "a4@example.com", Some("203.0.113.7"))
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not punished for it.
    assert_eq!(
        attempt(&app, &client, "b@example.com", Some("203.0.113.8"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // IPv6 clients are keyed by their /64.
    assert_eq!(
        attempt(&app, &client, "c@example.com", Some("2001:db8:0:1::1"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    for i in 2..4 {
        attempt(
            &app,
            &client,
            "c@example.com",
            Some(&format!("2001:db8:0:1::{i}")),
        )
        .await;
    }
    assert_eq!(
        attempt(&app, &client, "c@example.com", Some("2001:db8:0:1:ffff::5"))
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn sign_ins_are_limited_per_account_across_sources() {
    let app = spawn_app_with(|c| {
        c.rate_limits.login_per_account = 3;
        c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    })
    .await;
    let client = new_client();
    for i in 0..3 {
        attempt(
            &app,
            &client,
            "Victim@Example.com",
            Some(&format!("192.0.2.{i}")),
        )
        .await;
    }
    let (status, _) = attempt(&app, &client, "victim@example.com", Some("192.0.2.50")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let e = app
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == EventKind::RateLimited)
        .unwrap();
    assert_eq!(e.decision.as_deref(), Some("rate_limited:account"));
}

#[tokio::test]
async fn registrations_and_token_requests_are_limited() {
    let app = spawn_app_with(|c| {
        c.rate_limits.register_per_ip = 2;
        c.rate_limits.token_per_client = 3;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            app.register(&crate::helpers::TestUser::generate())
                .await
                .status,
            StatusCode::SEE_OTHER
        );
    }
    let page = app.register(&crate::helpers::TestUser::generate()).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers.get("retry-after").is_some());

    let svc = app
        .add_client(false, false, &["client_credentials"], &["reports"])
        .await;
    for _ in 0..3 {
        assert_eq!(
            app.token(&svc, &[("grant_type", "client_credentials")])
                .await
                .0,
            StatusCode::OK
        );
    }
    let resp = new_client()
        .post(app.url("/token"))
        .basic_auth(&svc.id, svc.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_some());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}
