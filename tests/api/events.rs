//! The event log: the expected kinds, with IP and user agent, and no secret anywhere.

use authd::events::{EventFilter, EventKind};

use crate::helpers::{TestUser, new_client, spawn_app, spawn_app_with};

#[tokio::test]
async fn events_hold_the_expected_kinds_and_no_secret() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    app.post_login(&user.email, "wrong password!").await;
    app.post_login("stranger@example.com", &user.password).await;
    let signed_in = app.post_login(&user.email, &user.password).await;
    let cookie = signed_in.session_cookie().unwrap();
    let account = app.get("/account").await;
    let csrf = account.csrf();
    app.post_logout().await;

    let events = app.events().await;
    // The verification mail's `alert_sent` is queued after the registration's answer (its
    // place among the sign-ins is the background's); it is checked on its own.
    let mailed = events
        .iter()
        .filter(|e| e.kind == EventKind::AlertSent)
        .map(|e| e.decision.as_deref())
        .collect::<Vec<_>>();
    assert_eq!(mailed, vec![Some("verification_mailed")]);
    let kinds: Vec<EventKind> = events
        .iter()
        .rev()
        .map(|e| e.kind)
        .filter(|k| *k != EventKind::AlertSent)
        .collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::UserRegistered,
            EventKind::LoginFailed,
            EventKind::LoginFailed,
            EventKind::LoginSucceeded,
            EventKind::SessionCreated,
            EventKind::Logout,
        ]
    );
    let account_id = app
        .state
        .accounts
        .find_by_email(&user.email)
        .await
        .unwrap()
        .unwrap()
        .id;
    for e in &events {
        assert_eq!(e.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(e.user_agent.as_deref(), Some("authd-tests/1.0"));
        assert!(e.request_id.as_deref().is_some_and(|r| !r.is_empty()));
    }
    let failed_unknown = events
        .iter()
        .find(|e| e.username.as_deref() == Some("stranger@example.com"))
        .unwrap();
    assert_eq!(failed_unknown.user_id, None);
    assert_eq!(failed_unknown.decision.as_deref(), Some("deny"));
    let ok = events
        .iter()
        .find(|e| e.kind == EventKind::LoginSucceeded)
        .unwrap();
    assert_eq!(ok.user_id.as_deref(), Some(account_id.as_str()));
    assert_eq!(ok.username.as_deref(), Some(user.email.as_str()));

    let dump = serde_json::to_string(&events).unwrap();
    for secret in [
        user.password.as_str(),
        "wrong password!",
        cookie.as_str(),
        csrf.as_str(),
    ] {
        assert!(!dump.contains(secret), "an event contains a secret");
    }
    // The serialised shape carries every INTERFACE field.
    let v: serde_json::Value = serde_json::to_value(&events[0]).unwrap();
    for field in crate::helpers::EVENT_FIELDS {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    // The filter works on both backends.
    let only = app
        .state_events(EventFilter {
            kind: Some(EventKind::LoginFailed),
            limit: 10,
            ..Default::default()
        })
        .await;
    assert_eq!(only.len(), 2);
}

#[tokio::test]
async fn account_page_lists_own_events_only() {
    let app = spawn_app().await;
    let other = TestUser::generate();
    app.register(&other).await;
    app.post_login(&other.email, "wrong password!").await;
    app.signed_in_user().await;
    let page = app.get("/account").await;
    assert!(page.body.contains("Signed in"));
    assert!(page.body.contains("Session started"));
    assert!(
        !page.body.contains("Failed sign-in attempt"),
        "another user's event leaked"
    );
}

/// Fails a sign-in with a forged `X-Forwarded-For` and returns the IP the event recorded.
async fn recorded_ip_with_forwarded_for(app: &crate::helpers::TestApp) -> Option<String> {
    let client = new_client();
    let csrf = crate::helpers::read(client.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    client
        .post(app.url("/login"))
        .header("x-forwarded-for", "198.51.100.23")
        .form(&[
            ("username", "a@example.com"),
            ("password", "whatever pw"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    app.events().await.first().and_then(|e| e.ip.clone())
}

#[tokio::test]
async fn forwarded_for_only_from_trusted_proxies() {
    let trusting = spawn_app_with(|c| {
        c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    })
    .await;
    assert_eq!(
        recorded_ip_with_forwarded_for(&trusting).await.as_deref(),
        Some("198.51.100.23")
    );
    let untrusting = spawn_app().await;
    assert_eq!(
        recorded_ip_with_forwarded_for(&untrusting).await.as_deref(),
        Some("127.0.0.1")
    );
}
