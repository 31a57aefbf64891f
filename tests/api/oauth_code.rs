//! The authorization endpoint and the code grant: redirect-URI matching, PKCE, code reuse,
//! consent, prompt handling, and errors that must never redirect.

use reqwest::StatusCode;

use authd::events::EventKind;

use crate::helpers::{REDIRECT_URI, TestApp, TestClient, pkce, query_param, spawn_app, str_of};

fn base<'a>(client: &'a TestClient, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", &client.id),
        ("redirect_uri", &client.redirect_uri),
        ("scope", "openid email"),
        ("state", "xyz"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// An authorization request without PKCE.
fn without_pkce(client: &TestClient) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", &client.id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "s"),
    ]
}

async fn exchange(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: Option<&str>,
    redirect: &str,
) -> (StatusCode, serde_json::Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    app.token(client, &form).await
}

#[tokio::test]
async fn code_flow_issues_tokens_and_a_code_works_once() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (code, verifier) = app.code_for(&client, &user, "openid email").await;
    let (status, tokens) = exchange(&app, &client, &code, Some(&verifier), REDIRECT_URI).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(str_of(&tokens, "token_type"), "Bearer");
    assert!(tokens.get("id_token").is_some() && tokens.get("refresh_token").is_some());
    let access = str_of(&tokens, "access_token").to_owned();
    assert_eq!(app.userinfo(&access).await.0, StatusCode::OK);

    // Second use: refused, and what the first use issued is revoked.
    let (status, body) = exchange(&app, &client, &code, Some(&verifier), REDIRECT_URI).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(str_of(&body, "error"), "invalid_grant");
    assert_eq!(app.userinfo(&access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.introspect(&client, &access).await["active"], false);
    let (status, _) = app
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", str_of(&tokens, "refresh_token")),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pkce_is_enforced() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    // Wrong verifier.
    let (code, _) = app.code_for(&client, &user, "openid").await;
    let (other_verifier, _) = pkce();
    assert_eq!(
        exchange(&app, &client, &code, Some(&other_verifier), REDIRECT_URI)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    // Missing verifier.
    let (code, _) = app.code_for(&client, &user, "openid").await;
    assert_eq!(
        exchange(&app, &client, &code, None, REDIRECT_URI).await.0,
        StatusCode::BAD_REQUEST
    );
    // The challenge itself as verifier ("plain").
    let (verifier, challenge) = pkce();
    let page = app.authorize(&base(&client, &challenge), &user).await;
    let code = query_param(page.location(), "code").unwrap();
    assert_eq!(
        exchange(&app, &client, &code, Some(&challenge), REDIRECT_URI)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let _ = verifier;
    // plain is refused at the authorization endpoint.
    let mut q = base(&client, "abcdefghijabcdefghijabcdefghijabcdefghij123");
    q.retain(|(k, _)| *k != "code_challenge_method");
    q.push(("code_challenge_method", "plain"));
    let page = app.authorize(&q, &user).await;
    assert_eq!(
        query_param(page.location(), "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        query_param(page.location(), "state").as_deref(),
        Some("xyz")
    );
}

#[tokio::test]
async fn public_clients_must_use_pkce() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app
        .add_client(true, true, &["authorization_code"], &[])
        .await;
    let q = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "s"),
    ];
    let page = app.authorize(&q, &user).await;
    assert_eq!(
        query_param(page.location(), "error").as_deref(),
        Some("invalid_request")
    );
    // With PKCE it works, and the token request needs no secret.
    let (code, verifier) = app.code_for(&client, &user, "openid").await;
    let (status, body) = exchange(&app, &client, &code, Some(&verifier), REDIRECT_URI).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh_token grant, no refresh token"
    );
}

#[tokio::test]
async fn redirect_uri_variants_never_redirect() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    for bad in [
        "http://127.0.0.1:7777/callback/other",
        "http://127.0.0.1:7777/callback?extra=1",
        "http://127.0.0.1:7777/other",
        "http://127.0.0.1:7777/other?x=1&y=2",
        "http://evil.example/callback",
        "http://127.0.0.1:7778/callback",
        "http://127.0.0.1:7777/callback#frag",
        "HTTP://127.0.0.1:7777/callback",
        "",
    ] {
        let mut q = base(&client, &challenge);
        q.retain(|(k, _)| *k != "redirect_uri");
        q.push(("redirect_uri", bad));
        let page = app.authorize(&q, &user).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(page.headers.get("location").is_none(), "{bad} redirected");
    }
    // Unknown client: a page too.
    let page = app.get("/authorize?response_type=code&client_id=nope&redirect_uri=http%3A%2F%2F127.0.0.1%3A7777%2Fcallback").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.headers.get("location").is_none());
    // A missing redirect URI or client id is named as missing, not as "not registered".
    let mut q = base(&client, &challenge);
    q.retain(|(k, _)| *k != "redirect_uri");
    let page = app.authorize(&q, &user).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("redirect_uri is missing"),
        "{}",
        page.body
    );
    let page = app.get("/authorize?response_type=code").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("client_id is missing"), "{}", page.body);
    // The code is bound to the redirect URI it was issued for.
    let (code, verifier) = app.code_for(&client, &user, "openid").await;
    let (status, _) = exchange(
        &app,
        &client,
        &code,
        Some(&verifier),
        "http://127.0.0.1:7777/other?x=1",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn codes_are_bound_to_their_client_and_expire() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let other = app.web_client().await;
    let (code, verifier) = app.code_for(&client, &user, "openid").await;
    assert_eq!(
        exchange(&app, &other, &code, Some(&verifier), REDIRECT_URI)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (code, verifier) = app.code_for(&client, &user, "openid").await;
    app.clock.advance(time::Duration::seconds(61));
    assert_eq!(
        exchange(&app, &client, &code, Some(&verifier), REDIRECT_URI)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    // Wrong secret: 401 invalid_client with a Basic challenge.
    let forged = TestClient {
        secret: Some("wrong".into()),
        ..client.clone()
    };
    let (status, body) = app
        .token(
            &forged,
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(str_of(&body, "error"), "invalid_client");
    let rejected = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::TokenRejected)
        .count();
    assert!(rejected >= 3, "refusals are recorded");
}

#[tokio::test]
async fn consent_is_asked_once_and_deny_returns_access_denied() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app
        .add_client(false, false, &["authorization_code"], &[])
        .await;
    let (_, challenge) = pkce();
    let page = app.authorize(&base(&client, &challenge), &user).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&client.id) && page.body.contains("name=\"consent\""));
    let request_id = crate::helpers::input_value(&page.body, "request_id");
    let deny = app
        .post_form(
            "/authorize/consent",
            &[
                ("csrf_token", &page.csrf()),
                ("request_id", &request_id),
                ("consent", "deny"),
            ],
        )
        .await;
    assert_eq!(
        query_param(deny.location(), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(deny.location(), "state").as_deref(),
        Some("xyz")
    );

    let page = app
        .get(&format!(
            "/authorize?{}",
            serde_urlencoded::to_string(base(&client, &challenge)).unwrap()
        ))
        .await;
    let request_id = crate::helpers::input_value(&page.body, "request_id");
    // Without the CSRF token the consent is refused.
    let forged = app
        .post_form(
            "/authorize/consent",
            &[("request_id", &request_id), ("consent", "allow")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let allow = app
        .post_form(
            "/authorize/consent",
            &[
                ("csrf_token", &page.csrf()),
                ("request_id", &request_id),
                ("consent", "allow"),
            ],
        )
        .await;
    assert!(
        query_param(allow.location(), "code").is_some(),
        "{}",
        allow.location()
    );
    // Remembered: no page the second time.
    let again = app
        .get(&format!(
            "/authorize?{}",
            serde_urlencoded::to_string(base(&client, &challenge)).unwrap()
        ))
        .await;
    assert!(query_param(again.location(), "code").is_some());
}

/// Two consent pages open in one browser (two tabs, two apps) each answer their own app; a
/// stale or unknown request id changes nothing. Before, the second page replaced the first's
/// pending request and the first tab's answer threw both away.
#[tokio::test]
async fn two_consent_pages_in_one_session_each_reach_their_app() {
    let app = spawn_app().await;
    let user = app.user().await;
    let grants = ["authorization_code"];
    let (first, second) = (
        app.add_client(false, false, &grants, &[]).await,
        app.add_client(false, false, &grants, &[]).await,
    );
    let (verifier, challenge) = pkce();
    let page_one = app.authorize(&base(&first, &challenge), &user).await;
    let qs = serde_urlencoded::to_string(base(&second, &challenge)).unwrap();
    let page_two = app.get(&format!("/authorize?{qs}")).await;
    assert!(page_two.body.contains(&second.id), "{}", page_two.body);
    let allow = |page: &crate::helpers::Page, id: &str| {
        let form = [
            ("csrf_token", page.csrf()),
            ("request_id", id.to_owned()),
            ("consent", "allow".to_owned()),
        ];
        let url = app.url("/authorize/consent");
        let post = app.client.post(url).form(&form);
        async move { crate::helpers::read(post.send().await.unwrap()).await }
    };
    let unknown = allow(&page_one, "not-a-request").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    for (page, client) in [(&page_one, &first), (&page_two, &second)] {
        let id = crate::helpers::input_value(&page.body, "request_id");
        let done = allow(page, &id).await;
        let code =
            query_param(done.location(), "code").unwrap_or_else(|| panic!("{}", done.location()));
        // The code is the page's own app's.
        let exchange = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
        ];
        let (status, body) = app.token(client, &exchange).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Answered once: the same id again is refused.
        assert_eq!(allow(page, &id).await.status, StatusCode::BAD_REQUEST);
    }
}

/// A consent page left open past the request's `max_age` does not issue a code carrying the
/// old sign-in: the answer sends the user to sign in first.
#[tokio::test]
async fn a_consent_answered_after_max_age_signs_in_again_first() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app
        .add_client(false, false, &["authorization_code"], &[])
        .await;
    let (_, challenge) = pkce();
    let mut q = base(&client, &challenge);
    q.push(("max_age", "60"));
    let page = app.authorize(&q, &user).await;
    assert!(page.body.contains("name=\"consent\""), "{}", page.body);
    app.clock.advance(time::Duration::seconds(61));
    let request_id = crate::helpers::input_value(&page.body, "request_id");
    let form = [
        ("csrf_token", page.csrf()),
        ("request_id", request_id),
        ("consent", "allow".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let late = app.post_form("/authorize/consent", &form).await;
    assert!(
        late.location().starts_with("/login?next=%2Fauthorize%3F"),
        "{}",
        late.location()
    );
    assert!(query_param(late.location(), "code").is_none());
}

/// OIDC Core §3.1.2.1: the authorization endpoint takes its parameters as a POSTed form too;
/// authd answers with the same request as a GET (so the browser brings its `SameSite=Lax`
/// session), and refuses a body that is not a form or repeats a parameter.
#[tokio::test]
async fn a_posted_authorization_request_is_answered_like_the_same_get() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    let form = base(&client, &challenge);
    let posted = app.post_form("/authorize", &form).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    let query = posted
        .location()
        .strip_prefix("/authorize?")
        .unwrap_or_else(|| panic!("{}", posted.location()));
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let expected: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(pairs, expected);
    let answer = app.get(posted.location()).await;
    assert!(
        query_param(answer.location(), "code").is_some(),
        "{}",
        answer.location()
    );
    assert_eq!(
        query_param(answer.location(), "state").as_deref(),
        Some("xyz")
    );

    let json = app
        .client
        .post(app.url("/authorize"))
        .json(&serde_json::json!({"client_id": client.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    let mut twice = form.clone();
    twice.push(("client_id", "another"));
    assert_eq!(
        app.post_form("/authorize", &twice).await.status,
        StatusCode::BAD_REQUEST
    );
}

/// `id_token_hint` (OIDC Core §3.1.2.1): a silent request for the hinted user is answered
/// while that user is signed in; once another user is, `login_required` (not a code for the
/// wrong user), and without `prompt=none` a sign-in first; a hint that is not our ID token is
/// `invalid_request`.
#[tokio::test]
async fn an_id_token_hint_for_another_user_is_not_answered_for_the_signed_in_one() {
    let app = spawn_app().await;
    let client = app.web_client().await;
    let (alice, bob) = (app.user().await, app.user().await);
    let tokens = app.tokens_for(&client, &alice, "openid").await;
    let hint = tokens["id_token"].as_str().unwrap().to_owned();
    let (_, challenge) = pkce();
    let ask = |extra: Vec<(&str, &str)>| {
        let mut q = base(&client, &challenge);
        q.extend(extra);
        format!("/authorize?{}", serde_urlencoded::to_string(q).unwrap())
    };
    let silent_for_alice = ask(vec![("prompt", "none"), ("id_token_hint", &hint)]);
    let page = app.get(&silent_for_alice).await;
    assert!(
        query_param(page.location(), "code").is_some(),
        "{}",
        page.location()
    );
    let forged = app.get(&ask(vec![("id_token_hint", "not.a.token")])).await;
    let error = query_param(forged.location(), "error");
    assert_eq!(
        error.as_deref(),
        Some("invalid_request"),
        "{}",
        forged.location()
    );

    app.post_logout().await;
    assert_eq!(
        app.post_login(&bob.email, &bob.password).await.status,
        StatusCode::SEE_OTHER
    );
    let page = app.get(&silent_for_alice).await;
    let error = query_param(page.location(), "error");
    assert_eq!(
        error.as_deref(),
        Some("login_required"),
        "{}",
        page.location()
    );
    assert_eq!(
        query_param(page.location(), "state").as_deref(),
        Some("xyz")
    );
    let page = app.get(&ask(vec![("id_token_hint", &hint)])).await;
    assert!(
        page.location().starts_with("/login?next="),
        "{}",
        page.location()
    );
    assert!(page.location().contains("reauth=1"), "{}", page.location());
}

/// An authorization request longer than 8 KiB is refused on a page (400), as a GET and as
/// a POST: the pending requests a session keeps stay small.
#[tokio::test]
async fn an_overlong_authorization_request_is_refused() {
    let app = spawn_app().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    let long = "x".repeat(9 * 1024);
    let mut q = base(&client, &challenge);
    q.push(("nonce", long.as_str()));
    let url = format!("/authorize?{}", serde_urlencoded::to_string(&q).unwrap());
    assert_eq!(app.get(&url).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.post_form("/authorize", &q).await.status,
        StatusCode::BAD_REQUEST
    );
}

/// A consent page shown for the user an `id_token_hint` names is not answered for another
/// user who signed in on the same browser meanwhile: `login_required`, no code.
#[tokio::test]
async fn a_consent_for_the_hinted_user_is_not_answered_for_another() {
    let app = spawn_app().await;
    let client = app
        .add_client(false, false, &["authorization_code"], &[])
        .await;
    let (alice, bob) = (app.user().await, app.user().await);
    let (verifier, challenge) = pkce();
    // Alice consents once, for an ID token to hint with.
    let page = app.authorize(&base(&client, &challenge), &alice).await;
    let id = crate::helpers::input_value(&page.body, "request_id");
    let form = [
        ("csrf_token", page.csrf()),
        ("request_id", id),
        ("consent", "allow".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let allowed = app.post_form("/authorize/consent", &form).await;
    let code = query_param(allowed.location(), "code").unwrap();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let (_, tokens) = app.token(&client, &exchange).await;
    let hint = tokens["id_token"].as_str().unwrap().to_owned();
    // A new request hinting Alice and asking consent again shows its page...
    let mut q = base(&client, &challenge);
    q.extend([("id_token_hint", hint.as_str()), ("prompt", "consent")]);
    let url = format!("/authorize?{}", serde_urlencoded::to_string(&q).unwrap());
    let page = app.get(&url).await;
    let id = crate::helpers::input_value(&page.body, "request_id");
    // ...then Bob signs in on this browser (over Alice's session) and answers it.
    let csrf = app.get("/account").await.csrf();
    let signed_in = app
        .post_credentials("/login", &bob.email, &bob.password, &csrf)
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let csrf = app.get("/account").await.csrf();
    let form = [
        ("csrf_token", csrf.as_str()),
        ("request_id", id.as_str()),
        ("consent", "allow"),
    ];
    let answer = app.post_form("/authorize/consent", &form).await;
    let error = query_param(answer.location(), "error");
    assert_eq!(
        error.as_deref(),
        Some("login_required"),
        "{}",
        answer.location()
    );
}

#[tokio::test]
async fn prompt_none_and_prompt_login() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    let mut q = base(&client, &challenge);
    q.push(("prompt", "none"));
    let page = app
        .get(&format!(
            "/authorize?{}",
            serde_urlencoded::to_string(&q).unwrap()
        ))
        .await;
    assert_eq!(
        query_param(page.location(), "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(
        query_param(page.location(), "state").as_deref(),
        Some("xyz")
    );

    // Signed in, prompt=login sends the user to the form again; after it, a code.
    app.code_for(&client, &user, "openid").await;
    let mut q = base(&client, &challenge);
    q.push(("prompt", "login"));
    q.push(("login_hint", &user.email));
    let page = app
        .get(&format!(
            "/authorize?{}",
            serde_urlencoded::to_string(&q).unwrap()
        ))
        .await;
    assert!(
        page.location().starts_with("/login?next="),
        "{}",
        page.location()
    );
    assert!(page.location().contains("reauth=1"));
    let form = app.get(page.location()).await;
    assert!(
        form.body.contains(&format!("value=\"{}\"", user.email)),
        "login_hint prefilled"
    );
    app.clock.advance(time::Duration::seconds(2));
    let signed_in = app
        .post_credentials(page.location(), &user.email, &user.password, &form.csrf())
        .await;
    let back = app.get(signed_in.location()).await;
    assert!(
        query_param(back.location(), "code").is_some(),
        "{}",
        back.location()
    );
}

#[tokio::test]
async fn a_fresh_sign_in_asked_for_is_asked_once_signed_out_or_in_and_in_any_second() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    for (key, value) in [("prompt", "login"), ("max_age", "0")] {
        for signed_in_before in [false, true] {
            if app.get("/account").await.status == StatusCode::OK {
                app.post_logout().await;
            }
            if signed_in_before {
                let page = app.post_login(&user.email, &user.password).await;
                assert_eq!(page.status, StatusCode::SEE_OTHER);
            }
            let mut q = base(&client, &challenge);
            q.push((key, value));
            let url = format!("/authorize?{}", serde_urlencoded::to_string(&q).unwrap());
            let page = app.get(&url).await;
            assert!(
                page.location().starts_with("/login?next="),
                "{key}: {}",
                page.location()
            );
            let signed_in = sign_in_on(&app, page.location(), &user).await;
            // The way back crosses a second: the sign-in still answers the request.
            app.clock.advance(time::Duration::seconds(2));
            let back = app.get(signed_in.location()).await;
            assert!(
                query_param(back.location(), "code").is_some(),
                "{key}={value}, signed in before: {signed_in_before}: one sign-in answers it, \
                 not {}",
                back.location()
            );
        }
    }
}

/// Two tabs each asking for a fresh sign-in (`prompt=login`, two states) before the user signs
/// in once: that one sign-in answers both. Before, the second request's mark replaced the
/// first's, and the first tab was sent to sign in again.
#[tokio::test]
async fn one_sign_in_answers_two_tabs_that_asked_for_a_fresh_one() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    assert_eq!(
        app.post_login(&user.email, &user.password).await.status,
        StatusCode::SEE_OTHER
    );
    let url = |state: &str| {
        let mut q = base(&client, &challenge);
        q.retain(|(k, _)| *k != "state");
        q.extend([("state", state), ("prompt", "login")]);
        format!("/authorize?{}", serde_urlencoded::to_string(&q).unwrap())
    };
    app.clock.advance(time::Duration::seconds(5));
    let first = app.get(&url("tab-one")).await;
    let second = app.get(&url("tab-two")).await;
    for page in [&first, &second] {
        assert!(
            page.location().starts_with("/login?next="),
            "{}",
            page.location()
        );
    }
    sign_in_on(&app, second.location(), &user).await;
    for state in ["tab-one", "tab-two"] {
        let back = app.get(&url(state)).await;
        assert!(
            query_param(back.location(), "code").is_some(),
            "{state}: {}",
            back.location()
        );
        assert_eq!(
            query_param(back.location(), "state").as_deref(),
            Some(state)
        );
    }
}

#[tokio::test]
async fn bad_requests_go_back_with_an_error() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    for (key, value, error) in [
        ("response_type", "token", "unsupported_response_type"),
        ("scope", "openid admin", "invalid_scope"),
        ("scope", "openid unknown", "invalid_scope"),
        ("max_age", "-1", "invalid_request"),
        ("prompt", "none login", "invalid_request"),
    ] {
        let mut q = base(&client, &challenge);
        q.retain(|(k, _)| *k != key);
        q.push((key, value));
        let page = app.authorize(&q, &user).await;
        assert_eq!(
            query_param(page.location(), "error").as_deref(),
            Some(error),
            "{key}={value}"
        );
        assert!(page.location().starts_with(REDIRECT_URI));
    }
    // A repeated parameter is malformed: a page, not a redirect.
    let page = app
        .get(&format!(
            "/authorize?{}&state=again",
            serde_urlencoded::to_string(base(&client, &challenge)).unwrap()
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn offline_access_is_ignored_and_max_age_zero_asks_again() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let tokens = app
        .tokens_for(&client, &user, "openid offline_access")
        .await;
    assert_eq!(str_of(&tokens, "scope"), "openid");
    assert!(
        tokens.get("refresh_token").is_some(),
        "the grant decides, not the scope"
    );
    // Signed in now; max_age=0 still sends the user to the form.
    let (_, challenge) = pkce();
    let mut q = base(&client, &challenge);
    q.push(("max_age", "0"));
    app.clock.advance(time::Duration::seconds(5));
    let page = app
        .get(&format!(
            "/authorize?{}",
            serde_urlencoded::to_string(&q).unwrap()
        ))
        .await;
    assert!(
        page.location().starts_with("/login?next="),
        "{}",
        page.location()
    );
}

#[tokio::test]
async fn nul_bytes_in_oauth_parameters_are_4xx() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    let mut q = base(&client, &challenge);
    q.push(("nonce", "a\0b"));
    let page = app.authorize(&q, &user).await;
    assert_eq!(
        query_param(page.location(), "error").as_deref(),
        Some("invalid_request")
    );
    for form in [
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "a\0b"),
            ("client_secret", "x"),
        ],
        vec![("grant_type", "client_credentials"), ("client_id", "\u{1}")],
    ] {
        let resp = crate::helpers::new_client()
            .post(app.url("/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    let resp = crate::helpers::new_client()
        .post(app.url("/introspect"))
        .basic_auth("a\0b", Some("x"))
        .form(&[("token", "t")])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error());
    let page = app
        .get("/authorize?response_type=code&client_id=a%00b&redirect_uri=x")
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_forged_auth_after_does_not_skip_prompt_login() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    // Signed in a while ago.
    app.code_for(&client, &user, "openid").await;
    app.clock.advance(time::Duration::seconds(600));
    let (_, challenge) = pkce();
    let mut q = base(&client, &challenge);
    q.push(("prompt", "login"));
    let qs = serde_urlencoded::to_string(&q).unwrap();
    let asked = app.get(&format!("/authorize?{qs}")).await;
    assert!(
        asked.location().starts_with("/login?next=") && asked.location().contains("reauth=1"),
        "{}",
        asked.location()
    );
    // The client (or anyone holding the link) skips the form and comes back with a forged
    // `auth_after` older than the existing sign-in: still the form, never a code.
    let now = authd::domain::clock::Clock::now(app.clock.as_ref()).unix_timestamp();
    for forged in ["0", &(now - 3600).to_string(), &now.to_string()] {
        let replay = app
            .get(&format!("/authorize?{qs}&auth_after={forged}"))
            .await;
        assert!(
            replay.location().starts_with("/login?next="),
            "auth_after={forged}: {}",
            replay.location()
        );
        assert!(query_param(replay.location(), "code").is_none());
    }
    // Signing in again answers the request, once.
    app.clock.advance(time::Duration::seconds(2));
    let form = app.get(asked.location()).await;
    let signed_in = app
        .post_credentials(asked.location(), &user.email, &user.password, &form.csrf())
        .await;
    let back = app.get(signed_in.location()).await;
    assert!(
        query_param(back.location(), "code").is_some(),
        "{}",
        back.location()
    );
    // The mark is spent: the same URL later asks again.
    app.clock.advance(time::Duration::seconds(30));
    let again = app.get(signed_in.location()).await;
    assert!(
        again.location().starts_with("/login?next="),
        "{}",
        again.location()
    );
}

#[tokio::test]
async fn request_objects_and_unsupported_response_modes_are_refused_not_ignored() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    for (key, value, error) in [
        (
            "request",
            "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.",
            "request_not_supported",
        ),
        (
            "request_uri",
            "https://rp.example/requests/1",
            "request_uri_not_supported",
        ),
        ("response_mode", "form_post", "invalid_request"),
        ("response_mode", "fragment", "invalid_request"),
    ] {
        let mut q = base(&client, &challenge);
        q.push((key, value));
        let page = app.authorize(&q, &user).await;
        assert!(
            page.location().starts_with(REDIRECT_URI),
            "{key}: {}",
            page.location()
        );
        assert_eq!(
            query_param(page.location(), "error").as_deref(),
            Some(error),
            "{key}={value}"
        );
        assert_eq!(
            query_param(page.location(), "state").as_deref(),
            Some("xyz")
        );
        assert!(query_param(page.location(), "code").is_none());
    }
    // The one mode authd speaks is fine.
    let mut q = base(&client, &challenge);
    q.push(("response_mode", "query"));
    let page = app.authorize(&q, &user).await;
    assert!(query_param(page.location(), "code").is_some());
    // Without a valid client and redirect URI: a page, never a redirect.
    let mut q = base(&client, &challenge);
    q.retain(|(k, _)| *k != "redirect_uri");
    q.push(("redirect_uri", "http://evil.example/cb"));
    q.push(("request_uri", "https://rp.example/requests/1"));
    let page = app.authorize(&q, &user).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.headers.get("location").is_none());
    // Discovery says so.
    let meta = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        meta["response_modes_supported"],
        serde_json::json!(["query"])
    );
    assert_eq!(meta["request_parameter_supported"], false);
    assert_eq!(meta["request_uri_parameter_supported"], false);
}

#[tokio::test]
async fn confidential_clients_must_use_pkce_unless_registered_without_it() {
    let app = spawn_app().await;
    let user = app.user().await;
    // A confidential client, registered the default way: PKCE is required of it too.
    let client = app.web_client().await;
    let page = app.authorize(&without_pkce(&client), &user).await;
    assert!(
        page.location().starts_with(REDIRECT_URI),
        "{}",
        page.location()
    );
    assert_eq!(
        query_param(page.location(), "error").as_deref(),
        Some("invalid_request")
    );
    assert!(query_param(page.location(), "code").is_none());
    // Registered with --no-pkce: the code flow works without it.
    let spec = |public: bool| authd::domain::clients::NewClient {
        id: format!("legacy-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        is_public: public,
        is_first_party: true,
        pkce_optional: true,
        ..Default::default()
    };
    let (legacy, secret) = app.state.oauth.clients().create(spec(false)).await.unwrap();
    assert!(legacy.pkce_optional);
    let legacy = TestClient {
        id: legacy.id,
        secret,
        redirect_uri: REDIRECT_URI.to_owned(),
    };
    let page = app.authorize(&without_pkce(&legacy), &user).await;
    let code =
        query_param(page.location(), "code").unwrap_or_else(|| panic!("{}", page.location()));
    let (status, body) = exchange(&app, &legacy, &code, None, REDIRECT_URI).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A public client cannot opt out.
    assert!(app.state.oauth.clients().create(spec(true)).await.is_err());
}

#[tokio::test]
async fn a_code_replayed_while_its_first_exchange_is_in_flight_revokes_the_grant() {
    use authd::storage::oauth::{CodeRedemption, GrantStart};
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (code, verifier) = app.code_for(&client, &user, "openid").await;
    // Another instance has just spent the code and is still issuing its tokens: its first
    // step, through the store, on the same database.
    let store = authd::storage::connect(&app.db.url, 1).await.unwrap();
    let now = authd::domain::clock::Clock::now(app.clock.as_ref()).unix_timestamp();
    let start = GrantStart {
        family_id: uuid::Uuid::new_v4().to_string(),
        expires_at: now + 3600,
    };
    let hash = authd::domain::oauth::digest(&code);
    let CodeRedemption::Redeemed(first) =
        store.grants.redeem_code(&hash, now, &start).await.unwrap()
    else {
        panic!("the first redemption wins");
    };
    assert_eq!(first.family_id.as_deref(), Some(start.family_id.as_str()));
    // The replay arrives in that window.
    let (status, body) = exchange(&app, &client, &code, Some(&verifier), REDIRECT_URI).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(str_of(&body, "error"), "invalid_grant");
    // The grant the first exchange is issuing from is revoked: its tokens are born dead.
    let family = store
        .grants
        .find_family(&start.family_id)
        .await
        .unwrap()
        .expect("the grant exists from the redemption on");
    assert!(family.revoked_at.is_some(), "{family:?}");
    assert!(
        app.events()
            .await
            .iter()
            .any(|e| e.kind == EventKind::TokenRevoked
                && e.decision.as_deref() == Some("code_reuse")),
        "the reuse is recorded"
    );
}

#[tokio::test]
async fn the_cli_registers_a_client_without_pkce_only_when_asked() {
    let app = spawn_app().await;
    let url = app.db.url.clone();
    let run = move |args: &[&str]| {
        crate::cli::authd_on(&url)
            .args(["client", "add"])
            .args(args)
            .output()
            .unwrap()
    };
    let (legacy, modern, public) = tokio::task::spawn_blocking(move || {
        (
            run(&["legacy", "--redirect-uri", REDIRECT_URI, "--no-pkce"]),
            run(&["modern", "--redirect-uri", REDIRECT_URI]),
            run(&[
                "spa",
                "--public",
                "--redirect-uri",
                REDIRECT_URI,
                "--no-pkce",
            ]),
        )
    })
    .await
    .unwrap();
    assert!(legacy.status.success() && modern.status.success());
    let clients = app.state.oauth.clients();
    let legacy = clients.find("legacy").await.unwrap().unwrap();
    let modern = clients.find("modern").await.unwrap().unwrap();
    assert!(!legacy.pkce_required());
    assert!(modern.pkce_required(), "PKCE is the default");
    assert!(!public.status.success(), "a public client cannot opt out");
    assert!(String::from_utf8_lossy(&public.stderr).contains("PKCE"));
}

/// Issue #13 / INTERFACE: the consent page names the application (`--name`) instead of its
/// raw id and shows its logo (`--logo-uri`), whose origin the page's CSP allows for images on
/// that response only; a bad name or logo is refused at registration.
#[tokio::test]
async fn the_consent_page_names_the_application_and_shows_its_logo() {
    let app = spawn_app().await;
    let user = app.user().await;
    let spec = |name: &str, logo: &str| authd::domain::clients::NewClient {
        id: format!("notes-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        name: Some(name.to_owned()),
        logo_uri: Some(logo.to_owned()),
        ..Default::default()
    };
    let clients = app.state.oauth.clients();
    assert!(
        clients
            .create(spec("", "https://cdn.acme.example/l.png"))
            .await
            .is_err()
    );
    assert!(
        clients
            .create(spec("Acme", "javascript:alert(1)"))
            .await
            .is_err()
    );
    let (made, secret) = clients
        .create(spec("Acme <Notes>", "https://cdn.acme.example/logo.png"))
        .await
        .unwrap();
    let client = TestClient {
        id: made.id,
        secret,
        redirect_uri: REDIRECT_URI.to_owned(),
    };
    let (_, challenge) = pkce();
    let page = app.authorize(&base(&client, &challenge), &user).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("id=\"consent-client\">Acme &#60;Notes&#62;<")
            || page
                .body
                .contains("id=\"consent-client\">Acme &lt;Notes&gt;<"),
        "the name, escaped: {}",
        page.body
    );
    assert!(
        page.body
            .contains("src=\"https://cdn.acme.example/logo.png\"")
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("img-src 'self' data: https://cdn.acme.example;"),
        "{csp}"
    );
    let login = app.get("/login").await;
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(
        !csp.contains("cdn.acme.example"),
        "other pages keep the strict CSP: {csp}"
    );
    assert!(
        !login.body.contains("data-client-name"),
        "no app without a request"
    );

    // Signed out, the authorization request goes through /login, which names the app too.
    let browser = crate::helpers::new_client();
    let qs = serde_urlencoded::to_string(base(&client, &challenge)).unwrap();
    let asked = crate::helpers::read(
        browser
            .get(app.url(&format!("/authorize?{qs}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let to_login = asked.location().to_owned();
    assert!(to_login.starts_with("/login"), "{to_login}");
    let login = crate::helpers::read(browser.get(app.url(&to_login)).send().await.unwrap()).await;
    assert!(
        login
            .body
            .contains("data-client-name>Acme &#60;Notes&#62;<")
            || login.body.contains("data-client-name>Acme &lt;Notes&gt;<"),
        "{}",
        login.body
    );
}

/// Signs `user` in on the sign-in page at `location` (where `/authorize` sent the browser);
/// the answer, a `303` on the way back.
async fn sign_in_on(
    app: &TestApp,
    location: &str,
    user: &crate::helpers::TestUser,
) -> crate::helpers::Page {
    let form = app.get(location).await;
    let signed_in = app
        .post_credentials(location, &user.email, &user.password, &form.csrf())
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    signed_in
}
