//! Operators' client commands (`authd client add|list|update|rotate-secret|delete`), the consent
//! page's links, the `profile` claims (`name`, `updated_at`), CORS for public clients' origins,
//! and the OAuth endpoints' precise error descriptions.

use reqwest::StatusCode;

use crate::cli::authd_on;
use crate::helpers::{
    REDIRECT_URI, TestApp, TestClient, claims_of, new_client, pkce, query_param, spawn_app, str_of,
};
use authd::events::EventKind;

/// `authd client …` on the test database, off the async runtime.
async fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let url = app.db.url.clone();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || authd_on(&url).args(&args).output().unwrap())
        .await
        .unwrap()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn refused_with(out: &std::process::Output, words: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.stdout.is_empty(), "{err}");
    assert!(err.contains(words), "stderr names the problem: {err}");
}

#[tokio::test]
async fn client_commands_list_update_rotate_and_delete() {
    let app = spawn_app().await;
    let user = app.user().await;
    let added = json_of(
        &cli(
            &app,
            &[
                "client",
                "add",
                "notes",
                "--redirect-uri",
                REDIRECT_URI,
                "--grant",
                "authorization_code",
                "--grant",
                "refresh_token",
                "--first-party",
                "--name",
                "Notes",
                "--policy-uri",
                "https://notes.example/privacy",
            ],
        )
        .await,
    );
    let first_secret = str_of(&added, "client_secret").to_owned();
    refused_with(
        &cli(
            &app,
            &[
                "client",
                "add",
                "bad",
                "--redirect-uri",
                REDIRECT_URI,
                "--tos-uri",
                "http://notes.example/tos",
            ],
        )
        .await,
        "--tos-uri",
    );

    // list: settings, never a secret or its digest.
    let out = cli(&app, &["client", "list"]).await;
    let list = json_of(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains(&first_secret) && !text.contains("secret"),
        "{text}"
    );
    let clients = list["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 1, "{list}");
    assert_eq!(clients[0]["client_id"], "notes");
    assert_eq!(clients[0]["policy_uri"], "https://notes.example/privacy");
    assert_eq!(
        clients[0]["redirect_uris"],
        serde_json::json!([REDIRECT_URI])
    );

    // A grant to revoke later.
    let client = TestClient {
        id: "notes".into(),
        secret: Some(first_secret.clone()),
        redirect_uri: REDIRECT_URI.into(),
    };
    let tokens = app.tokens_for(&client, &user, "openid").await;
    let access = str_of(&tokens, "access_token").to_owned();
    let refresh = str_of(&tokens, "refresh_token").to_owned();

    // update: a flag replaces that setting; an empty one clears it; the rules still hold.
    let updated = json_of(
        &cli(
            &app,
            &[
                "client",
                "update",
                "notes",
                "--name",
                "Notes 2",
                "--tos-uri",
                "https://notes.example/tos",
                "--policy-uri",
                "",
            ],
        )
        .await,
    );
    assert_eq!(updated["name"], "Notes 2");
    assert_eq!(updated["tos_uri"], "https://notes.example/tos");
    assert_eq!(updated["policy_uri"], serde_json::Value::Null);
    assert_eq!(updated["redirect_uris"], serde_json::json!([REDIRECT_URI]));
    assert_eq!(updated["first_party"], true);
    refused_with(
        &cli(
            &app,
            &[
                "client",
                "update",
                "notes",
                "--redirect-uri",
                "http://app.example/cb",
            ],
        )
        .await,
        "loopback",
    );
    refused_with(
        &cli(&app, &["client", "update", "nosuch", "--name", "x"]).await,
        "no client",
    );
    let stored = app
        .state
        .oauth
        .clients()
        .find("notes")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.profile.name.as_deref(), Some("Notes 2"));
    assert_eq!(stored.redirect_uris, [REDIRECT_URI]);

    // rotate-secret: the new secret works, the old one is refused.
    let rotated = json_of(&cli(&app, &["client", "rotate-secret", "notes"]).await);
    let new_secret = str_of(&rotated, "client_secret").to_owned();
    assert_ne!(new_secret, first_secret);
    let (status, body) = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "old secret: {body}");
    assert_eq!(str_of(&body, "error"), "invalid_client");
    // The old secret is refused at introspection too, even with the client's own token.
    let introspect_with = |secret: String| {
        let (url, access) = (app.url("/introspect"), access.clone());
        async move {
            let resp = new_client()
                .post(url)
                .basic_auth("notes", Some(secret))
                .form(&[("token", access)])
                .send()
                .await
                .unwrap();
            (
                resp.status(),
                resp.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = introspect_with(first_secret.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "old secret: {body}");
    assert_eq!(str_of(&body, "error"), "invalid_client");
    let (status, body) = introspect_with(new_secret.clone()).await;
    assert_eq!(
        (status, &body["active"]),
        (StatusCode::OK, &serde_json::json!(true)),
        "{body}"
    );
    assert_eq!(body["client_id"], "notes");
    let client = TestClient {
        secret: Some(new_secret),
        ..client
    };
    let (status, body) = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "new secret: {body}");
    let refresh = str_of(&body, "refresh_token").to_owned();
    let spa = json_of(
        &cli(
            &app,
            &[
                "client",
                "add",
                "spa",
                "--public",
                "--redirect-uri",
                REDIRECT_URI,
            ],
        )
        .await,
    );
    assert_eq!(spa["client_id"], "spa");
    refused_with(
        &cli(&app, &["client", "rotate-secret", "spa"]).await,
        "public",
    );

    // delete: the grant is revoked, its tokens refused, the client gone.
    assert_eq!(app.userinfo(&access).await.0, StatusCode::OK);
    let deleted = json_of(&cli(&app, &["client", "delete", "notes"]).await);
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["grants_revoked"], 1);
    app.clock.advance(time::Duration::seconds(2)); // past this instance's bearer cache
    assert_eq!(app.userinfo(&access).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    refused_with(
        &cli(&app, &["client", "delete", "notes"]).await,
        "no client",
    );
    let list = json_of(&cli(&app, &["client", "list"]).await);
    let ids: Vec<_> = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].clone())
        .collect();
    assert_eq!(ids, [serde_json::json!("spa")]);

    // Each change is one admin_action event, actor cli.
    let actions: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::AdminAction)
        .collect();
    let mut what: Vec<_> = actions
        .iter()
        .map(|e| e.decision.clone().unwrap_or_default())
        .collect();
    what.sort();
    assert_eq!(
        what,
        [
            "cli:client; add notes",
            "cli:client; add spa",
            "cli:client; delete notes",
            "cli:client; rotate-secret notes",
            "cli:client; update notes",
        ]
    );
    assert!(
        actions
            .iter()
            .all(|e| e.user_agent.as_deref() == Some("authd-cli"))
    );
}

/// The consent page of a code request by `client_id`.
async fn consent(
    app: &TestApp,
    user: &crate::helpers::TestUser,
    client_id: &str,
) -> crate::helpers::Page {
    let (_, challenge) = pkce();
    let q = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    app.authorize(&q, user).await
}

/// The `error_description` an authorization request with `q` is sent back with.
async fn authorize_error(
    app: &TestApp,
    user: &crate::helpers::TestUser,
    q: Vec<(&str, String)>,
) -> String {
    let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = app.authorize(&q, user).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    query_param(page.location(), "error_description").unwrap_or_default()
}

/// `/token` with `form`: the status, `error` and `error_description`.
async fn token_error(
    app: &TestApp,
    client: &TestClient,
    form: Vec<(&'static str, String)>,
) -> (StatusCode, String, String) {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = app.token(client, &form).await;
    let field = |k: &str| {
        body.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    (status, field("error"), field("error_description"))
}

#[tokio::test]
async fn the_consent_page_links_the_policy_and_terms_when_registered() {
    let app = spawn_app().await;
    let user = app.user().await;
    let spec = |links: bool| authd::domain::clients::NewClient {
        id: format!("app-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        name: Some("Acme".into()),
        policy_uri: links.then(|| "https://acme.example/privacy".into()),
        tos_uri: links.then(|| "https://acme.example/terms".into()),
        ..Default::default()
    };
    let (with, _) = app.state.oauth.clients().create(spec(true)).await.unwrap();
    let page = consent(&app, &user, &with.id).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("href=\"https://acme.example/privacy\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-client-link=\"policy\""));
    assert!(page.body.contains("href=\"https://acme.example/terms\""));
    assert!(page.body.contains("data-client-link=\"tos\""));
    let (without, _) = app.state.oauth.clients().create(spec(false)).await.unwrap();
    let page = consent(&app, &user, &without.id).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("data-client-link"), "{}", page.body);
    // Only https (or loopback http) links are registered.
    let mut bad = spec(false);
    bad.policy_uri = Some("http://acme.example/privacy".into());
    assert!(app.state.oauth.clients().create(bad).await.is_err());
}

#[tokio::test]
async fn profile_claims_come_with_the_profile_scope_only() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;

    // Without `profile`: no name, no updated_at, anywhere.
    let tokens = app.tokens_for(&client, &user, "openid email").await;
    let id = claims_of(str_of(&tokens, "id_token"));
    assert!(
        id.get("updated_at").is_none() && id.get("name").is_none(),
        "{id}"
    );
    let (_, info) = app.userinfo(str_of(&tokens, "access_token")).await;
    assert!(
        info.get("updated_at").is_none() && info.get("name").is_none(),
        "{info}"
    );

    // With it, before any name: updated_at (the account's creation), no name.
    let tokens = app.tokens_for(&client, &user, "openid profile").await;
    let id = claims_of(str_of(&tokens, "id_token"));
    let created = id["updated_at"].as_i64().expect("updated_at");
    assert!(
        id.get("name").is_none() && id.get("email").is_none(),
        "{id}"
    );

    // The owner sets a name on /account (a CSRF form); updated_at moves.
    app.clock.advance(time::Duration::seconds(90));
    let page = app.get("/account").await;
    let refused = app
        .post_form("/account", &[("name", "Mallory"), ("csrf_token", "forged")])
        .await;
    assert!(refused.status.is_client_error(), "{}", refused.status);
    let saved = app
        .post_form(
            "/account",
            &[("name", "  Ada Lovelace "), ("csrf_token", &page.csrf())],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert!(
        app.get("/account")
            .await
            .body
            .contains("value=\"Ada Lovelace\"")
    );
    let too_long = "x".repeat(101);
    let bad = app
        .post_form(
            "/account",
            &[("name", too_long.as_str()), ("csrf_token", &page.csrf())],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let tokens = app.tokens_for(&client, &user, "openid profile").await;
    let id = claims_of(str_of(&tokens, "id_token"));
    assert_eq!(id["name"], "Ada Lovelace");
    assert_eq!(id["updated_at"].as_i64(), Some(created + 90), "{id}");
    let (status, info) = app.userinfo(str_of(&tokens, "access_token")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["name"], "Ada Lovelace");
    assert_eq!(info["updated_at"].as_i64(), Some(created + 90));
    assert!(info.get("email").is_none(), "{info}");

    let events = app.events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::ProfileUpdated)
            .count(),
        1
    );
    let meta = app.get_json("/.well-known/openid-configuration").await;
    let claims = meta["claims_supported"].as_array().unwrap();
    assert!(claims.contains(&"name".into()) && claims.contains(&"updated_at".into()));
}

/// A request from `origin` to `path` (a preflight with `OPTIONS`).
async fn from_origin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    origin: &str,
) -> reqwest::Response {
    let mut req = new_client()
        .request(method.clone(), app.url(path))
        .header("origin", origin);
    if method == reqwest::Method::OPTIONS {
        req = req.header("access-control-request-method", "POST").header(
            "access-control-request-headers",
            "authorization, content-type",
        );
    }
    req.send().await.unwrap()
}

fn no_cors_headers(res: &reqwest::Response) {
    let names: Vec<_> = res
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[tokio::test]
async fn cors_allows_exactly_the_public_clients_origins() {
    let app = spawn_app().await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let spa = format!("https://spa-{tag}.example");
    let server = format!("https://web-{tag}.example");
    let clients = app.state.oauth.clients();
    for (public, origin) in [(true, &spa), (false, &server)] {
        let spec = authd::domain::clients::NewClient {
            id: format!("c-{public}-{tag}"),
            redirect_uris: vec![format!("{origin}/callback")],
            is_public: public,
            ..Default::default()
        };
        clients.create(spec).await.unwrap();
    }
    for path in [
        "/token",
        "/userinfo",
        "/revoke",
        "/jwks.json",
        "/.well-known/openid-configuration",
    ] {
        // Preflight from the public client's origin: answered, exactly that origin.
        let pre = from_origin(&app, reqwest::Method::OPTIONS, path, &spa).await;
        assert_eq!(pre.status(), StatusCode::NO_CONTENT, "{path}");
        let h = pre.headers();
        assert_eq!(h["access-control-allow-origin"], spa.as_str(), "{path}");
        let methods = h["access-control-allow-methods"].to_str().unwrap();
        assert!(
            methods.contains("POST") && methods.contains("GET"),
            "{methods}"
        );
        let allowed = h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert!(h.get("access-control-allow-credentials").is_none());
        assert!(
            h["vary"]
                .to_str()
                .unwrap()
                .to_lowercase()
                .contains("origin")
        );
        // The confidential client's origin, a look-alike and an unknown one: nothing.
        let others = [
            server.clone(),
            "https://evil.example".to_owned(),
            format!("{spa}:8443"),
            format!("http://spa-{tag}.example"),
            "null".to_owned(),
        ];
        for other in &others {
            let res = from_origin(&app, reqwest::Method::OPTIONS, path, other).await;
            assert_ne!(res.status(), StatusCode::NO_CONTENT, "{path} {other}");
            no_cors_headers(&res);
        }
    }
    // Actual requests.
    let res = from_origin(&app, reqwest::Method::GET, "/jwks.json", &spa).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], spa.as_str());
    assert!(res.headers()["vary"].to_str().unwrap().contains("Origin"));
    let res = from_origin(&app, reqwest::Method::POST, "/token", &spa).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], spa.as_str());
    for other in [server.as_str(), "https://evil.example"] {
        let res = from_origin(&app, reqwest::Method::GET, "/jwks.json", other).await;
        assert_eq!(res.status(), StatusCode::OK);
        no_cors_headers(&res);
    }
    // Pages get none.
    let res = from_origin(&app, reqwest::Method::GET, "/login", &spa).await;
    no_cors_headers(&res);

    // A change through this process takes effect at once…
    let late = format!("https://late-{tag}.example");
    let spec = authd::domain::clients::NewClient {
        id: format!("late-{tag}"),
        redirect_uris: vec![format!("{late}/cb")],
        is_public: true,
        ..Default::default()
    };
    clients.create(spec).await.unwrap();
    let res = from_origin(&app, reqwest::Method::GET, "/jwks.json", &late).await;
    assert_eq!(res.headers()["access-control-allow-origin"], late.as_str());
    // …one made by the CLI (another process) within the cache's lifetime.
    let out = cli(&app, &["client", "delete", &format!("late-{tag}")]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = from_origin(&app, reqwest::Method::GET, "/jwks.json", &late).await;
    assert!(
        res.headers().get("access-control-allow-origin").is_some(),
        "still cached"
    );
    app.clock
        .advance(time::Duration::seconds(authd::domain::cors::TTL_SECS));
    let res = from_origin(&app, reqwest::Method::GET, "/jwks.json", &late).await;
    no_cors_headers(&res);
}

#[tokio::test]
async fn oauth_errors_say_precisely_what_is_wrong() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let (_, challenge) = pkce();
    let base = |extra: &[(&'static str, &str)]| {
        let mut q: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", client.id.clone()),
            ("redirect_uri", REDIRECT_URI.into()),
            ("scope", "openid".into()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".into()),
        ];
        for (k, v) in extra {
            q.retain(|(n, _)| n != k);
            if !v.is_empty() {
                q.push((k, (*v).to_owned()));
            }
        }
        q
    };
    for (extra, words) in [
        (vec![("code_challenge", "")], "code_challenge is missing"),
        (
            vec![("code_challenge_method", "")],
            "code_challenge_method is missing",
        ),
        (vec![("code_challenge_method", "plain")], "must be S256"),
        (
            vec![("code_challenge", "short")],
            "code_challenge is malformed",
        ),
        (
            vec![("response_type", "")],
            "response_type parameter is missing",
        ),
        (vec![("scope", "")], "scope parameter is missing"),
        (
            vec![("scope", "openid admin")],
            "not registered for this client",
        ),
        (vec![("max_age", "soon")], "max_age"),
    ] {
        let got = authorize_error(&app, &user, base(&extra)).await;
        assert!(got.contains(words), "{extra:?}: {got}");
    }
    // The redirect URI: missing and unregistered are told apart (on the page, never a redirect).
    let q: Vec<(&str, String)> = base(&[("redirect_uri", "")]);
    let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = app.authorize(&q, &user).await;
    assert!(
        page.body.contains("redirect_uri is missing"),
        "{}",
        page.body
    );
    let q: Vec<(&str, String)> = base(&[("redirect_uri", "http://127.0.0.1:7777/elsewhere")]);
    let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = app.authorize(&q, &user).await;
    assert!(page.body.contains("not registered"), "{}", page.body);

    // /token.
    let (code, verifier) = app.code_for(&client, &user, "openid").await;
    let exchange = |verifier: Option<&str>, redirect: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_owned()));
        }
        if let Some(r) = redirect {
            form.push(("redirect_uri", r.to_owned()));
        }
        form
    };
    // Each failure spends the code, so each gets a fresh one.
    let (_, err, why) = token_error(&app, &client, exchange(None, Some(REDIRECT_URI))).await;
    assert_eq!(err, "invalid_request");
    assert!(why.contains("code_verifier is missing"), "{why}");
    let (code, _) = app.code_for(&client, &user, "openid").await;
    let wrong = "x".repeat(43);
    let form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("code_verifier", wrong),
        ("redirect_uri", REDIRECT_URI.to_owned()),
    ];
    let (_, err, why) = token_error(&app, &client, form).await;
    assert_eq!(err, "invalid_grant");
    assert!(why.contains("does not match the code_challenge"), "{why}");
    let (code, verifier2) = app.code_for(&client, &user, "openid").await;
    let form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("code_verifier", verifier2),
    ];
    let (_, err, why) = token_error(&app, &client, form).await;
    assert_eq!(err, "invalid_request");
    assert!(why.contains("redirect_uri is missing"), "{why}");
    let (code, verifier3) = app.code_for(&client, &user, "openid").await;
    let form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("code_verifier", verifier3),
        ("redirect_uri", "http://127.0.0.1:7777/other?x=1".to_owned()),
    ];
    let (_, err, why) = token_error(&app, &client, form).await;
    assert_eq!(err, "invalid_grant");
    assert!(why.contains("redirect_uri differs"), "{why}");
    let _ = verifier;
    let (_, err, why) = token_error(
        &app,
        &client,
        vec![("grant_type", "client_credentials".to_owned())],
    )
    .await;
    assert_eq!(err, "unauthorized_client");
    assert!(
        why.contains("not registered for the client_credentials grant"),
        "{why}"
    );
    let (_, err, why) =
        token_error(&app, &client, vec![("grant_type", "password".to_owned())]).await;
    assert_eq!(err, "unsupported_grant_type");
    assert!(why.contains("grant_type must be"), "{why}");
    let (_, _, why) = token_error(&app, &client, vec![]).await;
    assert!(why.contains("grant_type parameter is missing"), "{why}");
    // Client authentication never tells an unknown client from a wrong secret.
    let stranger = TestClient {
        id: "no-such-client".into(),
        secret: Some("s".into()),
        redirect_uri: REDIRECT_URI.into(),
    };
    let wrong_secret = TestClient {
        secret: Some("s".into()),
        ..client.clone()
    };
    let form = [("grant_type", "client_credentials")];
    let (s1, b1) = app.token(&stranger, &form).await;
    let (s2, b2) = app.token(&wrong_secret, &form).await;
    assert_eq!((s1, &b1), (s2, &b2));
    assert_eq!(
        str_of(&b1, "error_description"),
        "client authentication failed"
    );
}
