//! Sign-in, sign-out, CSRF, enumeration resistance and `next` handling.

use std::time::Instant;

use reqwest::StatusCode;

use crate::helpers::{TestUser, assert_redirect_to, new_client, read, spawn_app};

#[tokio::test]
async fn register_sign_in_reach_account_sign_out_and_old_cookie_is_refused() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    let before = app.get_login().await;
    let anon_cookie = before
        .session_cookie()
        .expect("login page starts a session");
    assert_redirect_to(&app.register(&user).await, "/login?registered=1");
    let signed_in = app
        .post_credentials("/login", &user.email, &user.password, &before.csrf())
        .await;
    assert_redirect_to(&signed_in, "/account");
    let cookie = signed_in
        .session_cookie()
        .expect("a session cookie at sign-in");
    assert_ne!(cookie, anon_cookie, "the session id must change at sign-in");

    let account = app.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains(&user.email));

    let out = app.post_logout().await;
    assert_redirect_to(&out, "/login");

    // Replaying the old cookie from another client gets nothing.
    let replay = new_client()
        .get(app.url("/account"))
        .header("cookie", format!("authd_session={cookie}"))
        .send()
        .await
        .unwrap();
    let replay = read(replay).await;
    assert_eq!(replay.status, StatusCode::SEE_OTHER);
    assert!(replay.location().starts_with("/login"));
    // And the browser that signed out is signed out too.
    assert!(app.get("/account").await.location().starts_with("/login"));
}

#[tokio::test]
async fn session_cookie_attributes() {
    let app = spawn_app().await;
    let page = app.get_login().await;
    let set_cookie = page
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"));
    assert!(set_cookie.contains("SameSite=Lax"));
    assert!(set_cookie.contains("Path=/"));
    assert!(
        !set_cookie.contains("Secure"),
        "http issuer: no Secure flag"
    );
}

#[tokio::test]
async fn https_issuer_sets_host_prefixed_secure_cookie_and_hsts() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.issuer = "https://id.example.com".parse().unwrap();
    })
    .await;
    let page = app.get_login().await;
    let set_cookie = page
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.starts_with("__Host-authd_session="),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("Secure"));
    assert!(page.headers.get("strict-transport-security").is_some());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_identical() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let unknown = "nobody-here@example.com";
    // Same username length, so even the echoed value cannot differ in size.
    let known = &user.email;

    let csrf = app.get_login().await.csrf();
    let wrong = app
        .post_credentials("/login", known, "wrong-password-1", &csrf)
        .await;
    let missing = app
        .post_credentials("/login", unknown, "wrong-password-1", &csrf)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.body.replace(known.as_str(), "<user>"),
        missing.body.replace(unknown, "<user>")
    );
    assert!(wrong.body.contains("Incorrect email or password."));
}

#[tokio::test]
async fn unknown_user_costs_a_password_hash() {
    // Measure the password path itself: no challenge may short-cut it here.
    let app = crate::helpers::spawn_app_with(|c| {
        c.protection.challenge_after = 1000;
        c.protection.block_after = 1000;
    })
    .await;
    let user = TestUser::generate();
    app.register(&user).await;
    let csrf = app.get_login().await.csrf();
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..9 {
        for (email, out) in [
            (user.email.as_str(), &mut known),
            ("ghost@example.com", &mut unknown),
        ] {
            let started = Instant::now();
            let page = app
                .post_form(
                    "/login",
                    &[
                        ("username", email),
                        ("password", &format!("wrong-{i}-password")),
                        ("csrf_token", &csrf),
                    ],
                )
                .await;
            out.push(started.elapsed());
            assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        }
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[4], unknown[4]);
    // Without the dummy hash an unknown user answers in a fraction of the time.
    assert!(
        u * 3 > k,
        "unknown user median {u:?} vs wrong password median {k:?}"
    );
}

#[tokio::test]
async fn forms_without_or_with_wrong_csrf_are_refused() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    app.get_login().await;
    let none = app
        .post_form(
            "/login",
            &[("username", &user.email), ("password", &user.password)],
        )
        .await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    let wrong = app
        .post_credentials("/login", &user.email, &user.password, "forged")
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // A token from another session is wrong too.
    let other = crate::helpers::new_client();
    let other_page = read(other.get(app.url("/login")).send().await.unwrap()).await;
    let stolen = app
        .post_credentials("/login", &user.email, &user.password, &other_page.csrf())
        .await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN);
    assert!(none.session_cookie().is_none() && wrong.session_cookie().is_none());
    // Nothing signed in.
    assert!(app.get("/account").await.location().starts_with("/login"));
    // Register and logout are protected the same way.
    let reg = app
        .post_form(
            "/register",
            &[("email", "x@example.com"), ("password", "long enough pw")],
        )
        .await;
    assert_eq!(reg.status, StatusCode::FORBIDDEN);
    let out = app.post_form("/logout", &[("csrf_token", "nope")]).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn next_only_redirects_to_local_paths() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    for (next, expected) in [
        ("%2F%2Fevil.example", "/account"),
        ("https%3A%2F%2Fevil.example", "/account"),
        ("%2F%5Cevil.example", "/account"),
        ("%2F%09%2Fevil.example", "/account"),
        ("%2Faccount%3Ftab%3Devents", "/account?tab=events"),
    ] {
        let page = app
            .post_login_to(&format!("/login?next={next}"), &user.email, &user.password)
            .await;
        assert_redirect_to(&page, expected);
        // Already signed in: GET /login?next= follows the same rule.
        let again = app.get(&format!("/login?next={next}")).await;
        assert_redirect_to(&again, expected);
        app.post_logout().await;
    }
}

#[tokio::test]
async fn login_form_keeps_a_safe_next_in_its_action() {
    let app = spawn_app().await;
    let page = app.get("/login?next=%2Faccount%3Fa%3D1").await;
    assert!(
        page.body
            .contains("action=\"/login?next=%2Faccount%3Fa%3D1\""),
        "{}",
        page.body
    );
    let evil = app.get("/login?next=%2F%2Fevil.example").await;
    assert!(evil.body.contains("action=\"/login\""));
}

#[tokio::test]
async fn account_requires_sign_in() {
    let app = spawn_app().await;
    let page = app.get("/account").await;
    assert_redirect_to(&page, "/login?next=%2Faccount");
}
