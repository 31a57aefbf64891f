//! Registration: validation, no enumeration, closed mode.

use reqwest::StatusCode;

use crate::helpers::{TestUser, assert_redirect_to, spawn_app, spawn_app_with};

#[tokio::test]
async fn taken_email_gets_the_same_answer_as_a_new_one() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    let first = app.register(&user).await;
    let again = app
        .register(&TestUser {
            email: user.email.to_uppercase(),
            password: "another password".into(),
        })
        .await;
    assert_redirect_to(&first, "/login?registered=1");
    assert_redirect_to(&again, "/login?registered=1");
    // The original password still works; the second registration changed nothing.
    assert_redirect_to(
        &app.post_login(&user.email, &user.password).await,
        "/account",
    );
}

#[tokio::test]
async fn invalid_email_or_password_is_a_400_with_the_form() {
    let app = spawn_app().await;
    for (email, password, msg) in [
        ("not-an-email", "long enough pw", "valid email"),
        ("a@example.com", "short", "at least 8"),
        ("a@example.com", &"x".repeat(129), "at most 128"),
    ] {
        let user = TestUser {
            email: email.into(),
            password: password.into(),
        };
        let page = app.register(&user).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.body.contains(msg), "{}", page.body);
        assert!(page.body.contains("name=\"csrf_token\""));
    }
    assert!(app.events().await.is_empty(), "no account, no event");
}

#[tokio::test]
async fn closed_registration_refuses() {
    let app = spawn_app_with(|c| {
        c.registration_open = false;
    })
    .await;
    assert_eq!(app.get("/register").await.status, StatusCode::FORBIDDEN);
    let csrf = app.get_login().await.csrf();
    assert!(!app.get_login().await.body.contains("/register"));
    let page = app
        .post_form(
            "/register",
            &[
                ("email", "a@example.com"),
                ("password", "long enough pw"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        app.state
            .accounts
            .find_by_email("a@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn emails_are_normalised() {
    let app = spawn_app().await;
    let user = TestUser {
        email: "  Mixed.Case@Example.COM ".into(),
        password: "long enough pw".into(),
    };
    app.register(&user).await;
    let page = app
        .post_login("mixed.case@example.com", "long enough pw")
        .await;
    assert_redirect_to(&page, "/account");
}
