//! The token endpoint's limits: client authentication comes first, the per-client budget is
//! spent only by the authenticated client (a public client's per network), and failed
//! authentications are limited per client id and network.

use reqwest::StatusCode;

use authd::events::EventKind;

use crate::helpers::{TestApp, TestClient, cidrs, new_client, spawn_app_with};

async fn limited_app() -> TestApp {
    spawn_app_with(|c| {
        c.trusted_proxies = cidrs(&["127.0.0.1/32"]);
        c.rate_limits.token_per_client = 5;
        c.rate_limits.token_auth_failures = 3;
    })
    .await
}

/// A token request as `client` (with `secret`, or as a public client) from `ip`.
async fn token_from(
    app: &TestApp,
    ip: &str,
    client: &TestClient,
    secret: Option<&str>,
    form: &[(&str, &str)],
) -> StatusCode {
    let mut req = new_client()
        .post(app.url("/token"))
        .header("x-forwarded-for", ip);
    let mut form = form.to_vec();
    match secret {
        Some(s) => req = req.basic_auth(&client.id, Some(s)),
        None => form.push(("client_id", &client.id)),
    }
    req.form(&form).send().await.unwrap().status()
}

#[tokio::test]
async fn wrong_secrets_for_a_client_do_not_starve_it_and_the_flooder_is_limited() {
    let app = limited_app().await;
    let x = app
        .add_client(false, false, &["client_credentials"], &["reports"])
        .await;
    let cc = [("grant_type", "client_credentials")];
    // A flood of wrong secrets for X from one network: three failures, then that network is
    // refused before its guesses are even checked.
    let mut flood = Vec::new();
    for i in 0..20 {
        let guess = format!("guess-{i}");
        flood.push(token_from(&app, "203.0.113.9", &x, Some(&guess), &cc).await);
    }
    assert_eq!(&flood[..3], &[StatusCode::UNAUTHORIZED; 3]);
    assert!(
        flood[3..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{flood:?}"
    );
    // The same pair fails at introspection and revocation too.
    let resp = new_client()
        .post(app.url("/introspect"))
        .header("x-forwarded-for", "203.0.113.9")
        .basic_auth(&x.id, Some("another-guess"))
        .form(&[("token", "t")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_some());
    // The real X, from its own network, has its whole budget: the flood spent none of it.
    let secret = x.secret.clone().unwrap();
    for _ in 0..5 {
        assert_eq!(
            token_from(&app, "192.0.2.10", &x, Some(&secret), &cc).await,
            StatusCode::OK
        );
    }
    // Its budget is its own, and still holds.
    assert_eq!(
        token_from(&app, "192.0.2.10", &x, Some(&secret), &cc).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The flooder's refusals are recorded as such.
    let limited = app
        .events()
        .await
        .into_iter()
        .filter(|e| {
            e.kind == EventKind::RateLimited
                && e.ip.as_deref() == Some("203.0.113.9")
                && e.decision
                    .as_deref()
                    .is_some_and(|d| d.contains("failed client authentications"))
        })
        .count();
    assert!(limited >= 1, "{limited}");
    // Forgiven with time.
    app.clock.advance(time::Duration::seconds(60));
    assert_eq!(
        token_from(&app, "203.0.113.9", &x, Some("guess-again"), &cc).await,
        StatusCode::UNAUTHORIZED
    );
}

/// `/introspect` as `client` with `secret` from `ip`: its status.
async fn introspect_from(
    app: &TestApp,
    ip: &str,
    client: &TestClient,
    secret: &str,
    token: &str,
) -> StatusCode {
    new_client()
        .post(app.url("/introspect"))
        .header("x-forwarded-for", ip)
        .basic_auth(&client.id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

/// Two confidential clients of the client-credentials grant, X and Y.
async fn two_machine_clients(app: &TestApp) -> (TestClient, TestClient) {
    let x = app
        .add_client(false, false, &["client_credentials"], &["reports"])
        .await;
    let y = app
        .add_client(false, false, &["client_credentials"], &["reports"])
        .await;
    (x, y)
}

/// An access token issued to `client` (client credentials).
async fn machine_token(app: &TestApp, client: &TestClient) -> String {
    let (status, body) = app
        .token(client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// X's id with five wrong secrets from one network, asking about `tokens` in turn: refused like
/// any wrong secret three times, then that network is limited before the secret is looked at.
async fn guesses_are_limited(app: &TestApp, x: &TestClient, tokens: [&str; 5]) {
    let mut tries = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        tries.push(introspect_from(app, "203.0.113.9", x, &format!("guess-{i}"), token).await);
    }
    assert_eq!(&tries[..3], &[StatusCode::UNAUTHORIZED; 3], "{tries:?}");
    assert_eq!(
        &tries[3..],
        &[StatusCode::TOO_MANY_REQUESTS; 2],
        "{tries:?}"
    );
}

#[tokio::test]
async fn wrong_secrets_with_the_clients_own_token_are_refused_and_counted_at_introspection() {
    let app = limited_app().await;
    let (x, y) = two_machine_clients(&app).await;
    let token = machine_token(&app, &x).await;
    // Someone holding X's token but not its secret.
    guesses_are_limited(&app, &x, [&token; 5]).await;
    // Y's secret with X's id is no better, and Y itself learns nothing of X's token.
    let y_secret = y.secret.clone().unwrap();
    assert_eq!(
        introspect_from(&app, "198.51.100.7", &x, &y_secret, &token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.introspect(&y, &token).await["active"], false);
    // X itself, from its own network, is answered.
    let secret = x.secret.clone().unwrap();
    assert_eq!(
        introspect_from(&app, "192.0.2.10", &x, &secret, &token).await,
        StatusCode::OK
    );
    assert_eq!(app.introspect(&x, &token).await["active"], true);
}

#[tokio::test]
async fn wrong_secrets_with_another_token_are_refused_and_counted_at_introspection() {
    let app = limited_app().await;
    let (x, y) = two_machine_clients(&app).await;
    let ys_token = machine_token(&app, &y).await;
    // About a token that is not X's (Y's, no token at all): the long way, where the token is
    // looked at before the secret; each failure still counts once against the pair.
    let t = ys_token.as_str();
    guesses_are_limited(&app, &x, [t, "not.a.token", t, t, "x"]).await;
    // X itself, from its own network: Y's token is not X's to know about.
    let secret = x.secret.clone().unwrap();
    assert_eq!(
        introspect_from(&app, "192.0.2.10", &x, &secret, &ys_token).await,
        StatusCode::OK
    );
    assert_eq!(app.introspect(&x, &ys_token).await["active"], false);
    assert_eq!(app.introspect(&y, &ys_token).await["active"], true);
}

#[tokio::test]
async fn a_public_clients_budget_is_kept_per_network() {
    let app = limited_app().await;
    let public = app
        .add_client(true, true, &["authorization_code"], &[])
        .await;
    // Anyone can present a public client's id: one network spending its budget...
    let bogus = [
        ("grant_type", "authorization_code"),
        ("code", "not-a-code"),
        ("redirect_uri", crate::helpers::REDIRECT_URI),
    ];
    for _ in 0..5 {
        assert_eq!(
            token_from(&app, "203.0.113.9", &public, None, &bogus).await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        token_from(&app, "203.0.113.9", &public, None, &bogus).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...leaves the client's users elsewhere alone.
    assert_eq!(
        token_from(&app, "192.0.2.10", &public, None, &bogus).await,
        StatusCode::BAD_REQUEST
    );
}
