//! OIDC step-up for relying parties (RFC 9470, RFC 8176): `acr_values` forces the second
//! factor when the session only has a password, the ID token's `acr`/`amr` say what happened,
//! discovery lists `acr_values_supported`; `/risk/evaluate` answers `step_up` with the `acr` to
//! ask for when the token's sign-in is too weak for the risk.

use authd::domain::mfa::{ACR_MFA, ACR_PASSWORD};
use reqwest::StatusCode;

use crate::helpers::{
    TestApp, TestClient, id_claims, new_client, pkce, query_param, spawn_app, spawn_app_with,
    str_of, urlenc,
};

/// Redeems the code in `location` for tokens.
async fn redeem(
    app: &TestApp,
    web: &TestClient,
    location: &str,
    verifier: &str,
) -> serde_json::Value {
    let code = query_param(location, "code").expect("a code");
    let (status, tokens) = app
        .token(
            web,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &web.redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

fn authorize_path(web: &TestClient, challenge: &str, acr: Option<&str>) -> String {
    let mut q = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1\
         &nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
        web.id,
        urlenc(&web.redirect_uri)
    );
    if let Some(a) = acr {
        q.push_str(&format!("&acr_values={}", urlenc(a)));
    }
    q
}

#[tokio::test]
async fn discovery_lists_the_acr_values() {
    let app = spawn_app().await;
    let d = app.get_json("/.well-known/openid-configuration").await;
    let acrs: Vec<&str> = d["acr_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        acrs.contains(&ACR_MFA) && acrs.contains(&ACR_PASSWORD),
        "{d}"
    );
}

#[tokio::test]
async fn acr_values_force_the_step_up_and_the_id_token_says_what_happened() {
    let app = spawn_app().await;
    let user = app.user().await;
    let web = app.web_client().await;
    // A password sign-in: acr pwd, amr ["pwd"].
    let tokens = app.tokens_for(&web, &user, "openid").await;
    let claims = id_claims(&tokens);
    assert_eq!(claims["acr"], ACR_PASSWORD);
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));

    // The same session, a client asking for a second factor: sent to sign in with a step-up.
    let (verifier, challenge) = pkce();
    let path = authorize_path(&web, &challenge, Some(ACR_MFA));
    let page = app.get(&path).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let login = page.location().to_owned();
    assert!(login.starts_with("/login"), "{login}");
    let csrf = app.get(&login).await.csrf();
    let stepped = app
        .post_credentials(&login, &user.email, &user.password, &csrf)
        .await;
    assert_eq!(stepped.status, StatusCode::UNAUTHORIZED);
    assert!(
        stepped.body.contains("data-challenge=\"email\""),
        "{}",
        stepped.body
    );
    let code = app.last_code().await;
    let csrf = app.get(&login).await.csrf();
    let passed = app
        .post_form(&login, &[("email_code", &code), ("csrf_token", &csrf)])
        .await;
    assert_eq!(passed.status, StatusCode::SEE_OTHER);
    assert!(
        passed.location().starts_with("/authorize"),
        "{}",
        passed.location()
    );
    let back = app.get(passed.location()).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert!(
        back.location().starts_with(&web.redirect_uri),
        "{}",
        back.location()
    );
    let tokens = redeem(&app, &web, back.location(), &verifier).await;
    let claims = id_claims(&tokens);
    assert_eq!(claims["acr"], ACR_MFA);
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // The session now has the second factor: the next such request needs no new step-up.
    let (verifier, challenge) = pkce();
    let page = app
        .get(&authorize_path(&web, &challenge, Some("mfa")))
        .await;
    assert!(
        page.location().starts_with(&web.redirect_uri),
        "{}",
        page.location()
    );
    let tokens = redeem(&app, &web, page.location(), &verifier).await;
    assert_eq!(id_claims(&tokens)["acr"], ACR_MFA);
}

#[tokio::test]
async fn an_account_without_a_factor_gets_a_truthful_password_acr() {
    let app = spawn_app().await;
    let user = crate::helpers::TestUser::generate();
    app.register(&user).await; // not verified: no factor
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let page = app
        .get(&authorize_path(&web, &challenge, Some(ACR_MFA)))
        .await;
    let login = page.location().to_owned();
    let signed_in = app.post_login_to(&login, &user.email, &user.password).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let back = app.get(signed_in.location()).await;
    assert!(
        back.location().starts_with(&web.redirect_uri),
        "no loop: {}",
        back.location()
    );
    let tokens = redeem(&app, &web, back.location(), &verifier).await;
    assert_eq!(id_claims(&tokens)["acr"], ACR_PASSWORD);
}

/// `/risk/evaluate` about `token`, as the resource server holding `rs_token` saw it from `ip`
/// with `ua`.
async fn evaluate(
    app: &TestApp,
    rs_token: &str,
    token: &str,
    (ip, ua): (&str, &str),
) -> serde_json::Value {
    let resp = new_client()
        .post(app.url("/risk/evaluate"))
        .bearer_auth(rs_token)
        .json(&serde_json::json!({ "token": token, "ip": ip, "user_agent": ua }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// The answers about `token` seen from its owner's network, then from two others: the third
/// network makes it a token used from three networks (a score of at least 0.9).
async fn evaluated_from_three_networks(
    app: &TestApp,
    rs_token: &str,
    token: &str,
) -> [serde_json::Value; 3] {
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    let mut out = Vec::new();
    for seen in [
        ("127.0.0.1", ""),
        ("203.0.113.7", chrome),
        ("198.51.100.9", chrome),
    ] {
        out.push(evaluate(app, rs_token, token, seen).await);
    }
    out.try_into().unwrap()
}

#[tokio::test]
async fn the_risk_api_asks_for_a_step_up_when_the_tokens_sign_in_is_too_weak() {
    // Nothing is blocked outright here: the scores that would challenge are what is tested.
    let app = spawn_app_with(|c| c.risk.block_at = 1.0).await;
    let user = app.user().await;
    for _ in 0..12 {
        let page = app.post_login(&user.email, &user.password).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        app.post_logout().await;
    }
    // The resource server is the tokens' audience (a confidential first-party client).
    let rs = app
        .add_client(
            false,
            true,
            &["authorization_code", "client_credentials"],
            &[],
        )
        .await;
    let (_, body) = app
        .token(&rs, &[("grant_type", "client_credentials")])
        .await;
    let rs_token = str_of(&body, "access_token").to_owned();

    // A password sign-in's token, used from three networks: step up, to the mfa acr.
    let tokens = app.tokens_for(&rs, &user, "openid").await;
    assert_eq!(id_claims(&tokens)["acr"], ACR_PASSWORD);
    let weak = str_of(&tokens, "access_token").to_owned();
    let [home, _, third] = evaluated_from_three_networks(&app, &rs_token, &weak).await;
    assert_eq!(home["decision"], "allow", "{home}");
    assert!(home.get("acr").is_none(), "{home}");
    assert_eq!(third["decision"], "step_up", "{third}");
    assert_eq!(third["acr"], ACR_MFA, "{third}");
    assert!(third["score"].as_f64().unwrap() >= 0.5, "{third}");
    assert!(
        third["reasons"][0].as_str().unwrap().contains("3 networks"),
        "{third}"
    );

    // The same account after the step-up the client asked for (acr_values): the token's sign-in
    // passed a second factor, so the same risk is a plain challenge, with no acr to ask for.
    let (verifier, challenge) = pkce();
    let page = app
        .get(&authorize_path(&rs, &challenge, Some(ACR_MFA)))
        .await;
    let login = page.location().to_owned();
    assert!(login.starts_with("/login"), "{login}");
    let csrf = app.get(&login).await.csrf();
    let stepped = app
        .post_credentials(&login, &user.email, &user.password, &csrf)
        .await;
    assert!(
        stepped.body.contains("data-challenge=\"email\""),
        "{}",
        stepped.body
    );
    let code = app.last_code().await;
    let csrf = app.get(&login).await.csrf();
    let passed = app
        .post_form(&login, &[("email_code", &code), ("csrf_token", &csrf)])
        .await;
    let back = app.get(passed.location()).await;
    let tokens = redeem(&app, &rs, back.location(), &verifier).await;
    assert_eq!(id_claims(&tokens)["acr"], ACR_MFA);
    let strong = str_of(&tokens, "access_token").to_owned();
    let [_, _, third] = evaluated_from_three_networks(&app, &rs_token, &strong).await;
    assert_eq!(third["decision"], "challenge", "{third}");
    assert!(third.get("acr").is_none(), "{third}");
}
