//! Tokens in use: refresh rotation and reuse detection (also under a race), revocation,
//! introspection, client credentials, forged and broken tokens, and key rotation across
//! instances.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;

use authd::domain::tokens::alg::SigningAlg;
use authd::domain::tokens::jwt::{AccessClaims, sign_access};
use authd::events::EventKind;

use crate::helpers::{TestApp, id_claims, new_client, spawn_app, spawn_app_on, str_of};

async fn refresh(
    app: &TestApp,
    client: &crate::helpers::TestClient,
    rt: &str,
) -> (StatusCode, serde_json::Value) {
    app.token(
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let first = app.tokens_for(&client, &user, "openid email").await;
    let rt1 = str_of(&first, "refresh_token").to_owned();
    let (status, second) = refresh(&app, &client, &rt1).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rt2 = str_of(&second, "refresh_token").to_owned();
    assert_ne!(rt1, rt2);
    let at2 = str_of(&second, "access_token").to_owned();
    assert_eq!(app.userinfo(&at2).await.0, StatusCode::OK);
    assert_eq!(app.introspect(&client, &rt2).await["active"], true);
    assert_eq!(
        app.introspect(&client, &rt1).await["active"],
        false,
        "a spent token is inactive"
    );

    // Replaying the spent token: refused, and the whole family dies.
    let (status, body) = refresh(&app, &client, &rt1).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(str_of(&body, "error"), "invalid_grant");
    assert_eq!(
        refresh(&app, &client, &rt2).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.introspect(&client, &rt2).await["active"], false);
    assert_eq!(app.introspect(&client, &at2).await["active"], false);
    assert_eq!(app.userinfo(&at2).await.0, StatusCode::UNAUTHORIZED);
    let events = app.events().await;
    let reuse = events
        .iter()
        .find(|e| e.kind == EventKind::RefreshReuseDetected)
        .expect("reuse event");
    assert_eq!(reuse.client_id.as_deref(), Some(client.id.as_str()));
    assert!(events.iter().any(|e| e.kind == EventKind::TokenRefreshed));
    assert!(
        events.iter().any(|e| e.kind == EventKind::TokenIssued
            && e.client_id.as_deref() == Some(client.id.as_str()))
    );
    let dump = serde_json::to_string(&events).unwrap();
    for secret in [
        rt1.as_str(),
        rt2.as_str(),
        at2.as_str(),
        client.secret.as_deref().unwrap(),
    ] {
        assert!(
            !dump.contains(secret),
            "a token or secret leaked into events"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_refreshes_on_two_instances_have_exactly_one_winner() {
    let a = spawn_app().await;
    let b = spawn_app_on(a.db.share(), |c| {
        // Instances behind one name share one issuer.
        c.issuer = a.address.parse().unwrap();
    })
    .await;
    let user = a.user().await;
    let client = a.web_client().await;
    for _ in 0..3 {
        let tokens = a.tokens_for(&client, &user, "openid").await;
        let rt = str_of(&tokens, "refresh_token").to_owned();
        let (ra, rb, rc, rd) = tokio::join!(
            refresh(&a, &client, &rt),
            refresh(&b, &client, &rt),
            refresh(&a, &client, &rt),
            refresh(&b, &client, &rt)
        );
        let wins = [ra.0, rb.0, rc.0, rd.0]
            .iter()
            .filter(|s| **s == StatusCode::OK)
            .count();
        assert_eq!(wins, 1, "{:?}", [ra.0, rb.0, rc.0, rd.0]);
    }
}

#[tokio::test]
async fn refresh_tokens_expire_idle_and_absolute() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.refresh_idle = 3600;
        c.refresh_lifetime = 7200;
    })
    .await;
    let user = app.user().await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    app.clock.advance(time::Duration::seconds(3601));
    assert_eq!(
        refresh(&app, &client, str_of(&tokens, "refresh_token"))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    let tokens = app.tokens_for(&client, &user, "openid").await;
    let mut rt = str_of(&tokens, "refresh_token").to_owned();
    for _ in 0..3 {
        app.clock.advance(time::Duration::seconds(2000));
        let (status, body) = refresh(&app, &client, &rt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        rt = str_of(&body, "refresh_token").to_owned();
    }
    app.clock.advance(time::Duration::seconds(1300)); // 7300 s after sign-in
    assert_eq!(refresh(&app, &client, &rt).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn revocation_and_introspection() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let other = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    let at = str_of(&tokens, "access_token").to_owned();
    let rt = str_of(&tokens, "refresh_token").to_owned();
    // Only the token's audience may introspect it (introspection_answers_only_the_tokens_audience).
    assert_eq!(app.introspect(&other, &at).await["active"], false);
    let info = app.introspect(&client, &at).await;
    assert_eq!(info["active"], true);
    // RFC 7662 §2.2: the type of RFC 6749 §5.1.
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["token_use"], "access_token");
    let refresh_info = app.introspect(&client, &rt).await;
    assert_eq!(refresh_info["active"], true);
    assert_eq!(refresh_info["token_use"], "refresh_token");
    assert!(refresh_info.get("token_type").is_none(), "{refresh_info}");
    assert_eq!(info["client_id"], client.id.as_str());
    assert_eq!(
        info["sub"],
        app.state
            .accounts
            .find_by_email(&user.email)
            .await
            .unwrap()
            .unwrap()
            .id
            .as_str()
    );

    // Another client cannot revoke it (200, nothing happens).
    assert_eq!(app.revoke(&other, &at).await, StatusCode::OK);
    assert_eq!(app.introspect(&client, &at).await["active"], true);
    // The owner can.
    assert_eq!(app.revoke(&client, &at).await, StatusCode::OK);
    assert_eq!(app.introspect(&client, &at).await["active"], false);
    assert_eq!(app.userinfo(&at).await.0, StatusCode::UNAUTHORIZED);
    // Revoking the refresh token ends the grant.
    assert_eq!(app.revoke(&client, &rt).await, StatusCode::OK);
    assert_eq!(refresh(&app, &client, &rt).await.0, StatusCode::BAD_REQUEST);
    // Unknown tokens: 200 at revocation, inactive at introspection.
    assert_eq!(app.revoke(&client, "never-issued").await, StatusCode::OK);
    assert_eq!(
        app.introspect(&client, "never-issued").await["active"],
        false
    );
    assert!(
        app.events()
            .await
            .iter()
            .any(|e| e.kind == EventKind::TokenRevoked)
    );
    // Introspection needs client authentication.
    let resp = new_client()
        .post(app.url("/introspect"))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_credentials_are_limited_to_the_clients_scopes() {
    let app = spawn_app().await;
    let svc = app
        .add_client(false, false, &["client_credentials"], &["reports", "admin"])
        .await;
    let (status, body) = app
        .token(
            &svc,
            &[("grant_type", "client_credentials"), ("scope", "reports")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(str_of(&body, "scope"), "reports");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let (status, body) = app
        .token(
            &svc,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "reports billing"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(str_of(&body, "error"), "invalid_scope");
    // A client without the grant.
    let web = app.web_client().await;
    let (status, body) = app
        .token(&web, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(str_of(&body, "error"), "unauthorized_client");
    let (status, body) = app.token(&web, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, str_of(&body, "error")),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn parts(token: &str) -> (serde_json::Value, serde_json::Value, String) {
    let mut it = token.split('.');
    let h = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    let p = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    (h, p, it.next().unwrap().to_owned())
}

#[tokio::test]
async fn forged_and_broken_tokens_are_rejected_without_5xx() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    let good = str_of(&tokens, "access_token").to_owned();
    assert_eq!(app.userinfo(&good).await.0, StatusCode::OK);
    let (header, payload, sig) = parts(&good);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let jwks: serde_json::Value = app.get_json("/jwks.json").await;
    let rsa_jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "RS256")
        .unwrap()
        .clone();

    let mut forged: Vec<(&str, String)> = Vec::new();
    // alg none
    let mut h = header.clone();
    h["alg"] = "none".into();
    forged.push(("alg none", format!("{}.{}.", b64(&h), b64(&payload))));
    // HS256 keyed with the public RSA key
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = rsa_jwk["kid"].as_str().map(str::to_owned);
    let secret = serde_json::to_vec(&rsa_jwk).unwrap();
    forged.push((
        "HS256 with the public key",
        jsonwebtoken::encode(
            &hs,
            &payload,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap(),
    ));
    // changed payload, original signature
    let mut p = payload.clone();
    p["scope"] = "openid admin".into();
    forged.push((
        "changed payload",
        format!("{}.{}.{}", b64(&header), b64(&p), sig),
    ));
    // unknown kid / kid with path characters / jku
    for (name, value) in [
        ("unknown kid", "no-such-kid"),
        ("kid with path", "../../etc/passwd"),
    ] {
        let mut h = header.clone();
        h["kid"] = value.into();
        forged.push((name, format!("{}.{}.{}", b64(&h), b64(&payload), sig)));
    }
    let claims: AccessClaims = serde_json::from_value(payload.clone()).unwrap();
    let keys = app.state.oauth.keys();
    let alg = SigningAlg::ES256;
    let key = keys.signer(alg).unwrap();
    let mut jku = jsonwebtoken::Header::new(alg.to_jwt());
    jku.typ = Some("at+jwt".into());
    jku.kid = Some(key.kid.clone());
    jku.jku = Some("https://evil.example/jwks.json".into());
    forged.push((
        "jku header",
        jsonwebtoken::encode(&jku, &claims, &key.encoding).unwrap(),
    ));
    // Properly signed by our key but with wrong claims.
    let wrong_aud = AccessClaims {
        aud: "someone-else".into(),
        ..claims.clone()
    };
    forged.push(("wrong aud", sign_access(keys, alg, &wrong_aud).unwrap()));
    let wrong_iss = AccessClaims {
        iss: "https://evil.example".into(),
        ..claims.clone()
    };
    forged.push(("wrong iss", sign_access(keys, alg, &wrong_iss).unwrap()));
    let not_yet = AccessClaims {
        nbf: claims.nbf + 3600,
        ..claims.clone()
    };
    forged.push((
        "nbf in the future",
        sign_access(keys, alg, &not_yet).unwrap(),
    ));
    // An ID token is not an access token.
    forged.push((
        "id token as access token",
        str_of(&tokens, "id_token").to_owned(),
    ));
    forged.push(("garbage", "abc.def.ghi".into()));
    forged.push(("not even a jwt", "hello".into()));
    forged.push(("16 KB", "a".repeat(16 * 1024)));
    let _ = kid;

    for (name, token) in &forged {
        let (status, _) = app.userinfo(token).await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status.is_client_error(),
            "{name}: {status}"
        );
        assert_eq!(
            app.introspect(&client, token).await["active"],
            false,
            "{name}"
        );
    }
    let rejected = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::TokenRejected)
        .collect::<Vec<_>>();
    assert!(rejected.len() >= forged.len() - 1, "each refusal recorded");
    for e in &rejected {
        assert!(
            e.decision.as_deref().is_some_and(|d| !d.is_empty()),
            "a reason is recorded"
        );
    }
    // A 1 MB token: refused before it reaches us, still no 5xx.
    let huge = "a".repeat(1 << 20);
    match new_client()
        .get(app.url("/userinfo"))
        .bearer_auth(&huge)
        .send()
        .await
    {
        Ok(r) => assert!(r.status().is_client_error(), "{}", r.status()),
        Err(e) => assert!(!e.is_status(), "{e}"),
    }
    let r = new_client()
        .post(app.url("/introspect"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", huge.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());

    // Expired: the good token, an hour later.
    app.clock.advance(time::Duration::hours(1));
    assert_eq!(app.userinfo(&good).await.0, StatusCode::UNAUTHORIZED);
    assert!(
        app.events()
            .await
            .iter()
            .any(|e| e.decision.as_deref() == Some("expired"))
    );
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_reaches_other_instances() {
    let a = spawn_app().await;
    let b = spawn_app_on(a.db.share(), |c| {
        // Instances behind one name share one issuer.
        c.issuer = a.address.parse().unwrap();
    })
    .await;
    let user = a.user().await;
    let client = a.web_client().await;
    let before = a.tokens_for(&client, &user, "openid").await;
    let old_at = str_of(&before, "access_token").to_owned();
    let old_kid = parts(&old_at).0["kid"].as_str().unwrap().to_owned();

    let new_kids = a.state.oauth.keys().rotate().await.unwrap();
    assert!(!new_kids.contains(&old_kid));
    assert_eq!(
        a.userinfo(&old_at).await.0,
        StatusCode::OK,
        "old tokens still verify"
    );
    let after = a.tokens_for(&client, &user, "openid").await;
    let new_at = str_of(&after, "access_token").to_owned();
    let new_kid = parts(&new_at).0["kid"].as_str().unwrap().to_owned();
    assert!(new_kids.contains(&new_kid), "new tokens use the new key");
    let id_kid = parts(str_of(&after, "id_token")).0["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new_kids.contains(&id_kid));
    let jwks: serde_json::Value = a.get_json("/jwks.json").await;
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(published.contains(&old_kid.as_str()) && published.contains(&new_kid.as_str()));
    for k in jwks["keys"].as_array().unwrap() {
        assert_eq!(k["use"], "sig");
        assert!(
            k.get("alg").is_some() && k.get("d").is_none(),
            "public keys only"
        );
    }
    // Instance B never restarted, yet verifies tokens signed with the new key (it re-reads
    // the key set on an unknown kid, at most every 5 s).
    b.clock.advance(time::Duration::seconds(6));
    let new_on_b = b.userinfo(&new_at).await.0;
    assert_eq!(
        new_on_b,
        StatusCode::OK,
        "{:?}",
        b.events().await.first().map(|e| e.decision.clone())
    );
    let old_on_b = b.userinfo(&old_at).await.0;
    assert_eq!(
        old_on_b,
        StatusCode::OK,
        "{:?}",
        b.events().await.first().map(|e| e.decision.clone())
    );
    // Once every old token has expired the retired keys leave the JWKS.
    a.clock.advance(time::Duration::hours(2));
    a.state.oauth.keys().reload().await.unwrap();
    let jwks: serde_json::Value = a.get_json("/jwks.json").await;
    assert!(!jwks.to_string().contains(&old_kid));
}

#[tokio::test]
async fn signing_keys_are_sealed_with_the_master_key() {
    use authd::domain::seal::MasterKey;
    use base64::engine::general_purpose::STANDARD;
    let key = STANDARD.encode([7u8; 32]);
    let a = crate::helpers::spawn_app_with(|c| {
        c.master_key = Some(MasterKey::parse(&key).unwrap());
    })
    .await;
    let store = authd::storage::connect(&a.db.url, 1).await.unwrap();
    let records = store.keys.list_published(0).await.unwrap();
    assert_eq!(records.len(), 3);
    for r in &records {
        assert!(r.private_key.starts_with("v2:"), "stored sealed");
    }
    let user = a.user().await;
    let client = a.web_client().await;
    let tokens = a.tokens_for(&client, &user, "openid").await;
    assert_eq!(
        a.userinfo(str_of(&tokens, "access_token")).await.0,
        StatusCode::OK
    );

    // Without the key, or with another one, an instance refuses to start.
    for other in [None, Some(STANDARD.encode([8u8; 32]))] {
        let mut config = crate::helpers::base_config(&a.db, std::path::Path::new("/tmp"));
        config.master_key = other.map(|k| MasterKey::parse(&k).unwrap());
        let err = authd::app::build_state(config, authd::app::Deps::default())
            .await
            .err()
            .expect("refused");
        assert!(format!("{err:#}").contains("AUTHD_MASTER_KEY"), "{err:#}");
    }
}

#[tokio::test]
async fn a_revocation_on_one_instance_reaches_the_others_within_the_bearer_cache_ttl() {
    let a = spawn_app().await;
    let b = spawn_app_on(a.db.share(), |c| {
        c.issuer = a.address.parse().unwrap();
    })
    .await;
    let user = a.user().await;
    let client = a.web_client().await;
    let tokens = a.tokens_for(&client, &user, "openid").await;
    let at = str_of(&tokens, "access_token").to_owned();
    assert_eq!(b.userinfo(&at).await.0, StatusCode::OK); // B now caches the passed check
    assert_eq!(a.revoke(&client, &at).await, StatusCode::OK);
    assert_eq!(
        a.userinfo(&at).await.0,
        StatusCode::UNAUTHORIZED,
        "at once where it was revoked"
    );
    assert_eq!(
        b.introspect(&client, &at).await["active"],
        false,
        "introspection never uses the cache"
    );
    b.clock.advance(time::Duration::seconds(2));
    assert_eq!(
        b.userinfo(&at).await.0,
        StatusCode::UNAUTHORIZED,
        "elsewhere within the TTL"
    );
}

#[tokio::test]
async fn client_secret_post_and_userinfo_by_post() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (code, verifier) = app.code_for(&client, &user, "openid email").await;
    let secret = client.secret.clone().unwrap();
    let resp = new_client()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("client_id", client.id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    let resp = new_client()
        .post(app.url("/userinfo"))
        .bearer_auth(str_of(&body, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let info: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(info["email"], user.email.as_str());
    // Both methods at once is refused.
    let resp = new_client()
        .post(app.url("/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // No token at all: 401 with the bare Bearer challenge (RFC 6750 §3.1: no error code).
    let resp = new_client().get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer realm=\"authd\"");
    // A token that is not valid: the error code.
    let (status, _) = app.userinfo("not.a.token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let resp = new_client()
        .get(app.url("/userinfo"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"authd\", error=\"invalid_token\""
    );
    // The scheme's name in any case (RFC 7235 §2.1) authenticates the client: what is wrong
    // is then the refresh token, not the client.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", client.id));
    for (scheme, error) in [("BASIC", "invalid_grant"), ("Basicx", "invalid_client")] {
        let resp = new_client()
            .post(app.url("/token"))
            .header("authorization", format!("{scheme} {basic}"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], error, "{scheme}: {body}");
    }
}

#[tokio::test]
async fn a_flood_of_refused_tokens_is_counted_not_written_row_by_row() {
    let app = spawn_app().await;
    for i in 0..80 {
        let (status, _) = app.userinfo(&format!("garbage.{i}.token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let stored = app
        .events()
        .await
        .iter()
        .filter(|e| e.kind == EventKind::TokenRejected)
        .count();
    assert!(
        (1..=authd::events::sink::REFUSALS_PER_IP_PER_MINUTE as usize).contains(&stored),
        "{stored} token_rejected rows for 80 refusals from one address"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("authd_events_suppressed_total"),
        "the rest are counted"
    );
}

#[tokio::test]
async fn introspection_answers_only_the_tokens_audience() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let stranger = app.web_client().await;
    let svc = app
        .add_client(false, false, &["client_credentials"], &["reports"])
        .await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    let at = str_of(&tokens, "access_token").to_owned();
    let rt = str_of(&tokens, "refresh_token").to_owned();
    let (_, body) = app
        .token(&svc, &[("grant_type", "client_credentials")])
        .await;
    let machine = str_of(&body, "access_token").to_owned();
    // Another client learns nothing about them: exactly the answer for an unknown token.
    for token in [&at, &rt, &machine] {
        assert_eq!(
            app.introspect(&stranger, token).await,
            serde_json::json!({ "active": false })
        );
    }
    assert_eq!(
        app.introspect(&svc, &at).await,
        serde_json::json!({ "active": false })
    );
    // Their audience does.
    for token in [&at, &rt] {
        let info = app.introspect(&client, token).await;
        assert_eq!(info["active"], true, "{info}");
        assert_eq!(info["client_id"], client.id.as_str());
    }
    assert_eq!(app.introspect(&svc, &machine).await["active"], true);
}

#[tokio::test]
async fn introspection_without_a_confidential_clients_secret_is_refused() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let public = app
        .add_client(true, true, &["authorization_code"], &[])
        .await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    let at = str_of(&tokens, "access_token").to_owned();
    let spa = app.tokens_for(&public, &user, "openid").await;
    let spa_at = str_of(&spa, "access_token").to_owned();
    let ask = |id: Option<&str>, token: &str| {
        let mut form = vec![("token", token.to_owned())];
        if let Some(id) = id {
            form.push(("client_id", id.to_owned()));
        }
        new_client().post(app.url("/introspect")).form(&form).send()
    };
    // A public client about its own token, the confidential one without its secret, nobody:
    // each refused as client authentication, nothing said about the token.
    for (id, token) in [
        (Some(public.id.as_str()), spa_at.as_str()),
        (Some(client.id.as_str()), at.as_str()),
        (None, at.as_str()),
    ] {
        let resp = ask(id, token).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{id:?}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{body}");
        assert!(body.get("active").is_none(), "{body}");
    }
    // With its secret the confidential client is answered.
    assert_eq!(app.introspect(&client, &at).await["active"], true);
}

#[tokio::test]
async fn polling_a_cached_token_never_extends_the_bearer_cache_ttl() {
    let a = spawn_app().await;
    let b = spawn_app_on(a.db.share(), |c| {
        c.issuer = a.address.parse().unwrap();
        c.bearer_cache_secs = 3;
    })
    .await;
    let user = a.user().await;
    let client = a.web_client().await;
    let tokens = a.tokens_for(&client, &user, "openid").await;
    let at = str_of(&tokens, "access_token").to_owned();
    assert_eq!(b.userinfo(&at).await.0, StatusCode::OK); // the full check, cached for 3 s
    assert_eq!(a.revoke(&client, &at).await, StatusCode::OK);
    b.clock.advance(time::Duration::seconds(1));
    for _ in 0..3 {
        assert_eq!(
            b.userinfo(&at).await.0,
            StatusCode::OK,
            "still the cached check (within the documented TTL, before half of it)"
        );
    }
    b.clock.advance(time::Duration::seconds(1));
    assert_eq!(
        b.userinfo(&at).await.0,
        StatusCode::UNAUTHORIZED,
        "past half the TTL the next use is checked in full again (refresh ahead), and the \
         uses in between did not push that back"
    );
    assert_eq!(
        b.userinfo(&at).await.0,
        StatusCode::UNAUTHORIZED,
        "the refused token is forgotten, not served to the others for the rest of the TTL"
    );
    // A token altered in its signature never hits the cache of the genuine one.
    let c = spawn_app_on(a.db.share(), |c| c.issuer = a.address.parse().unwrap()).await;
    let fresh = a.tokens_for(&client, &user, "openid").await;
    let good = str_of(&fresh, "access_token").to_owned();
    assert_eq!(c.userinfo(&good).await.0, StatusCode::OK);
    // One character inside the signature (not its last, whose low bits may be padding).
    let at_ = good.len() - 10;
    let flipped = if &good[at_..=at_] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &good[..at_], &good[at_ + 1..]);
    assert_eq!(c.userinfo(&forged).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn userinfo_says_of_the_address_what_the_id_token_says() {
    let app = spawn_app().await;
    let client = app.web_client().await;
    // Added on the command line: an operator vouched for the address.
    let user = app.user().await;
    for verified in [true, false] {
        if !verified {
            app.execute_sql(&format!(
                "update account set email_verified_at = null where email = '{}'",
                user.email
            ))
            .await;
        }
        let tokens = app.tokens_for(&client, &user, "openid email").await;
        assert_eq!(
            id_claims(&tokens)["email_verified"],
            serde_json::json!(verified)
        );
        let (status, info) = app.userinfo(str_of(&tokens, "access_token")).await;
        assert_eq!(status, StatusCode::OK, "{info}");
        assert_eq!(info["email"], serde_json::json!(user.email));
        assert_eq!(
            info["email_verified"],
            serde_json::json!(verified),
            "{info}"
        );
    }
}
