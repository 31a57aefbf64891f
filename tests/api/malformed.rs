//! Malformed input: 4xx every time, nothing changes, the server stays healthy.

use reqwest::StatusCode;

use crate::helpers::{TestUser, assert_redirect_to, read, spawn_app};

#[tokio::test]
async fn malformed_input_gets_4xx_and_the_server_stays_healthy() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let csrf = app.get_login().await.csrf();
    let big = "a".repeat(10 * 1024);
    let nul = "user\0@example.com";

    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "10 KB username",
            vec![
                ("username", &big),
                ("password", "password1"),
                ("csrf_token", &csrf),
            ],
        ),
        (
            "10 KB password",
            vec![
                ("username", &user.email),
                ("password", &big),
                ("csrf_token", &csrf),
            ],
        ),
        (
            "NUL in username",
            vec![
                ("username", nul),
                ("password", "password1"),
                ("csrf_token", &csrf),
            ],
        ),
        (
            "NUL in password",
            vec![
                ("username", &user.email),
                ("password", "pass\0word1"),
                ("csrf_token", &csrf),
            ],
        ),
        (
            "missing password",
            vec![("username", &user.email), ("csrf_token", &csrf)],
        ),
        ("missing everything", vec![("csrf_token", &csrf)]),
    ];
    for (name, form) in cases {
        let page = app.post_form("/login", &form).await;
        assert!(page.status.is_client_error(), "{name}: {}", page.status);
        // Not signed in (a challenge page may have started an anonymous session).
        let account = app.get("/account").await;
        assert_eq!(account.status, StatusCode::SEE_OTHER, "{name}: signed in?");
    }

    // Invalid UTF-8, a JSON body, a huge body, and a non-form content type.
    let raw = |body: Vec<u8>, ctype: &'static str| {
        app.client
            .post(app.url("/login"))
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let mut invalid = format!("csrf_token={csrf}&username=").into_bytes();
    invalid.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    invalid.extend_from_slice(b"&password=%ff%fe12345678");
    for (name, resp) in [
        (
            "invalid utf-8",
            raw(invalid, "application/x-www-form-urlencoded")
                .await
                .unwrap(),
        ),
        (
            "json",
            raw(
                format!(
                    "{{\"username\":\"{}\",\"password\":\"{}\",\"csrf_token\":\"{csrf}\"}}",
                    user.email, user.password
                )
                .into_bytes(),
                "application/json",
            )
            .await
            .unwrap(),
        ),
        (
            "1 MB",
            raw(vec![b'a'; 1 << 20], "application/x-www-form-urlencoded")
                .await
                .unwrap(),
        ),
    ] {
        let page = read(resp).await;
        assert!(page.status.is_client_error(), "{name}: {}", page.status);
        assert!(
            !page.body.contains("panicked") && !page.body.contains("at src/"),
            "{name} leaked internals"
        );
    }
    let ua = app
        .client
        .get(app.url("/login"))
        .header("user-agent", "x".repeat(8000))
        .send()
        .await
        .unwrap();
    assert_eq!(ua.status(), StatusCode::OK);

    // Still healthy, and the real owner still signs in.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    assert_redirect_to(
        &app.post_login(&user.email, &user.password).await,
        "/account",
    );
}

#[tokio::test]
async fn unknown_paths_are_404_pages_with_headers() {
    let app = spawn_app().await;
    let page = app.get("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.headers.get("content-security-policy").is_some());
}
