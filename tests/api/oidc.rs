//! End to end with an unmodified OpenID Connect relying-party library (`openidconnect`):
//! discovery, authorization with PKCE through the real sign-in form, code exchange, ID-token
//! verification against the JWKS, userinfo, refresh, introspection and revocation.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
    CoreTokenIntrospectionResponse,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EmptyAdditionalClaims,
    IntrospectionUrl, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope,
    TokenIntrospectionResponse, TokenResponse, UserInfoClaims,
};

use crate::helpers::{REDIRECT_URI, query_param, spawn_app};

#[derive(Debug)]
struct HttpError(String);
impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for HttpError {}

/// The library's HTTP seam, served by our reqwest (no redirects followed, as the library asks).
async fn http(req: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, HttpError> {
    let client = crate::helpers::new_client();
    let (parts, body) = req.into_parts();
    let resp = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    let mut out = axum::http::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let bytes = resp.bytes().await.map_err(|e| HttpError(e.to_string()))?;
    out.body(bytes.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

#[tokio::test]
async fn openidconnect_relying_party_end_to_end() {
    let app = spawn_app().await;
    let user = app.user().await;
    let registered = app.web_client().await;

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let raw: serde_json::Value = app.get_json("/.well-known/openid-configuration").await;
    let alias: serde_json::Value = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(raw, alias);
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.id.clone()),
        Some(ClientSecret::new(registered.secret.clone().unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).unwrap())
    .set_introspection_url(
        IntrospectionUrl::new(raw["introspection_endpoint"].as_str().unwrap().to_owned()).unwrap(),
    );
    assert!(
        raw["revocation_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/revoke")
    );

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    // The browser: authorize → sign-in form → back to authorize → redirect to the client.
    let path = format!("{}?{}", auth_url.path(), auth_url.query().unwrap());
    let first = app.get(&path).await;
    assert!(
        first.location().starts_with("/login?next="),
        "{}",
        first.location()
    );
    let signed_in = app
        .post_login_to(first.location(), &user.email, &user.password)
        .await;
    let back = app.get(signed_in.location()).await;
    let location = back.location().to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(app.address.as_str())
    );
    let code = query_param(&location, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies against the JWKS");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some(user.email.as_str())
    );
    assert!(claims.auth_time().is_some());

    let info: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some(user.email.as_str()));

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        tokens.refresh_token().unwrap().secret()
    );

    let active: CoreTokenIntrospectionResponse = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .expect("introspection");
    assert!(active.active());
    assert_eq!(
        active.client_id().map(|c| c.as_str()),
        Some(registered.id.as_str())
    );

    // The library refuses to revoke over plain http (the test server has no TLS), so the
    // revocation request itself goes through the same RFC 7009 form by hand.
    let rt = refreshed.refresh_token().unwrap().secret().clone();
    assert_eq!(app.revoke(&registered, &rt).await, reqwest::StatusCode::OK);
    let after: CoreTokenIntrospectionResponse = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(
        !after.active(),
        "revoking the refresh token revokes its grant's access tokens"
    );
    assert!(
        client
            .exchange_refresh_token(refreshed.refresh_token().unwrap())
            .unwrap()
            .request_async(&http)
            .await
            .is_err()
    );

    // RP-initiated logout with the ID token as hint ends the session and returns.
    let logout = app
        .get(&format!(
            "/end_session?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
            id_token,
            crate::helpers::urlenc("http://127.0.0.1:7777/bye")
        ))
        .await;
    assert_eq!(logout.location(), "http://127.0.0.1:7777/bye?state=bye");
    assert!(app.get("/account").await.location().starts_with("/login"));
}

#[tokio::test]
async fn end_session_refuses_unregistered_targets_and_asks_without_a_hint() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let page = app
        .get("/end_session?client_id=nope&post_logout_redirect_uri=https%3A%2F%2Fevil.example")
        .await;
    assert_eq!(page.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(page.headers.get("location").is_none());
    let page = app.get("/end_session").await;
    assert_eq!(page.status, reqwest::StatusCode::OK);
    assert!(page.body.contains("Sign out?"), "a plain link only asks");
    assert_eq!(app.get("/account").await.status, reqwest::StatusCode::OK);
    let bad_hint = app.get("/end_session?id_token_hint=abc.def.ghi").await;
    assert_eq!(bad_hint.status, reqwest::StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn end_session_takes_a_post_as_its_get() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    let hint = crate::helpers::str_of(&tokens, "id_token");
    // RP-Initiated Logout 1.0 §2: a POST of the same parameters is answered as the GET.
    let form = [
        ("id_token_hint", hint),
        ("post_logout_redirect_uri", "http://127.0.0.1:7777/bye"),
        ("state", "bye"),
    ];
    let sent_on = app.post_form("/end_session", &form).await;
    assert_eq!(sent_on.status, reqwest::StatusCode::SEE_OTHER);
    assert!(
        sent_on.location().starts_with("/end_session?"),
        "{}",
        sent_on.location()
    );
    assert_eq!(
        app.get("/account").await.status,
        reqwest::StatusCode::OK,
        "not yet"
    );
    let logout = app.get(sent_on.location()).await;
    assert_eq!(logout.location(), "http://127.0.0.1:7777/bye?state=bye");
    assert!(app.get("/account").await.location().starts_with("/login"));
    // An unregistered target sent by POST meets the same error page.
    let form = [
        ("client_id", client.id.as_str()),
        ("post_logout_redirect_uri", "https://evil.example/"),
    ];
    let sent_on = app.post_form("/end_session", &form).await;
    let page = app.get(sent_on.location()).await;
    assert_eq!(page.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(page.headers.get("location").is_none());
}
