//! Session lifetime: idle timeout and absolute lifetime, driven by the fake clock.

use reqwest::StatusCode;
use time::Duration;

use crate::helpers::{spawn_app, spawn_app_with};

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
