//! Sign-in, sign-out, CSRF, enumeration resistance and `next` handling.

use std::time::Instant;

use reqwest::StatusCode;

use crate::helpers::{Page, TestApp, TestUser, assert_redirect_to, new_client, read, spawn_app};

/// `GET /account` from a fresh client that sends only the session cookie `id`.
async fn account_with_session(app: &TestApp, id: &str) -> Page {
    let req = new_client()
        .get(app.url("/account"))
        .header("cookie", format!("authd_session={id}"));
    read(req.send().await.unwrap()).await
}

#[tokio::test]
async fn register_sign_in_reach_account_sign_out_and_old_cookie_is_refused() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    let before = app.get_login().await;
    assert!(
        before.session_cookie().is_none(),
        "the sign-in page writes no session"
    );
    assert_redirect_to(&app.register(&user).await, "/login?registered=1");
    let first = app
        .post_credentials("/login", &user.email, &user.password, &before.csrf())
        .await;
    assert_redirect_to(&first, "/account");
    let first = first.session_cookie().expect("a session cookie at sign-in");
    // Signing in again over an existing session (a re-authentication) gives a new id.
    let again = app.get("/login?reauth=1").await.csrf();
    let signed_in = app
        .post_credentials("/login", &user.email, &user.password, &again)
        .await;
    assert_redirect_to(&signed_in, "/account");
    let cookie = signed_in
        .session_cookie()
        .expect("a session cookie at sign-in");
    assert_ne!(cookie, first, "the session id must change at sign-in");
    let old = account_with_session(&app, &first).await;
    assert_eq!(old.status, StatusCode::SEE_OTHER, "the replaced id is dead");

    let account = app.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains(&user.email));

    let out = app.post_logout().await;
    assert_redirect_to(&out, "/login");

    // Replaying the old cookie from another client gets nothing.
    let replay = account_with_session(&app, &cookie).await;
    assert_eq!(replay.status, StatusCode::SEE_OTHER);
    assert!(replay.location().starts_with("/login"));
    // And the browser that signed out is signed out too.
    assert!(app.get("/account").await.location().starts_with("/login"));
}

fn set_cookie(page: &crate::helpers::Page, name: &str) -> String {
    page.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test]
async fn session_and_csrf_cookie_attributes() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let page = read(new_client().get(app.url("/login")).send().await.unwrap()).await;
    let csrf_cookie = set_cookie(&page, "authd_csrf");
    let signed_in = app.post_login(&user.email, &user.password).await;
    for cookie in [csrf_cookie, set_cookie(&signed_in, "authd_session")] {
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "http issuer: no Secure flag");
    }
}

#[tokio::test]
async fn https_issuer_sets_host_prefixed_secure_cookies_and_hsts() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.issuer = "https://id.example.com".parse().unwrap();
    })
    .await;
    let user = app.user().await;
    // The client keeps no Secure cookie over plain http: carry the CSRF cookie by hand.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = read(plain.get(app.url("/login")).send().await.unwrap()).await;
    let csrf_cookie = set_cookie(&page, "__Host-authd_csrf");
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    assert!(page.headers.get("strict-transport-security").is_some());
    let nonce = csrf_cookie.split(';').next().unwrap();
    let signed_in = read(
        plain
            .post(app.url("/login"))
            .header("cookie", nonce)
            .form(&[
                ("username", user.email.as_str()),
                ("password", user.password.as_str()),
                ("csrf_token", &page.csrf()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let session = set_cookie(&signed_in, "__Host-authd_session");
    assert!(session.contains("Secure"), "{session}");
}

/// Before sign-in the form's token is bound to the browser's CSRF cookie: without that
/// cookie, or with another browser's, it is refused.
#[tokio::test]
async fn the_anonymous_csrf_token_works_only_with_its_cookie() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let page = app.get_login().await;
    let form = [
        ("username", user.email.as_str()),
        ("password", "not the password"),
        ("csrf_token", &page.csrf()),
    ];
    let cookieless = reqwest::Client::new()
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cookieless.status(), StatusCode::FORBIDDEN);
    let other = new_client();
    other.get(app.url("/register")).send().await.unwrap();
    let other_cookie = other
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(other_cookie.status(), StatusCode::FORBIDDEN);
    // With its own cookie the token passes (and the wrong password is what is refused).
    let own = app.post_form("/login", &form).await;
    assert_eq!(own.status, StatusCode::UNAUTHORIZED);
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
    // Without the dummy hash an unknown user answers in a fraction of the time. Each side's
    // fastest answer is compared (the least disturbed by the tests running beside this one).
    let (k, u) = (known.iter().min().unwrap(), unknown.iter().min().unwrap());
    assert!(
        *u * 3 > *k,
        "fastest unknown user {u:?} vs fastest wrong password {k:?}"
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

#[tokio::test]
async fn a_planted_session_id_the_store_no_longer_holds_is_never_adopted_at_sign_in() {
    // Session fixation with an id of the right shape: the attacker signs in, signs out (the
    // store drops the row) and plants that id in the victim's browser.
    let app = spawn_app().await;
    let attacker = TestUser::generate();
    app.register(&attacker).await;
    let own = app.post_login(&attacker.email, &attacker.password).await;
    assert_redirect_to(&own, "/account");
    let planted = own.session_cookie().expect("the attacker's own session");
    app.post_logout().await;
    let victim = app.user().await;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let base = reqwest::Url::parse(&app.url("/")).unwrap();
    jar.add_cookie_str(&format!("authd_session={planted}; Path=/"), &base);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let signed_in = app
        .sign_in_from(
            &browser,
            "198.51.100.9",
            &victim.email,
            &victim.password,
            None,
        )
        .await;
    assert_redirect_to(&signed_in, "/account");
    let issued = signed_in.session_cookie().expect("a session cookie");
    assert_ne!(
        issued, planted,
        "the planted id must not become the session"
    );
    // The planted id signs nobody in; the issued one is the victim's.
    let with_planted = account_with_session(&app, &planted).await;
    assert_eq!(with_planted.status, StatusCode::SEE_OTHER);
    let account = read(browser.get(app.url("/account")).send().await.unwrap()).await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains(&victim.email));
}
