//! Branding without forking (docs/branding.md): the product name, accent colour, logo and an
//! override directory change the pages (over HTTP) and the mails (the outbox); a broken
//! override stops start-up naming the file; the mails read as people speak (times with their
//! zone, browser and OS, the app's name) and an alert the rate window holds back is recorded.

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::StatusCode;

use authd::app::{Application, Deps};
use authd::config::Config;
use authd::domain::clock::{Clock, FakeClock, OsRandom};
use authd::events::EventKind;

use crate::helpers::{
    REDIRECT_URI, TestApp, TestDb, base_config, new_client, pkce, read, spawn_app_on,
};
use crate::smtp::decode_qp;

const LOGIN_OVERRIDE: &str = r#"<!doctype html>
<html lang="en"><head><title>{{ product }} sign-in</title>
<link rel="stylesheet" href="/static/brand.css"></head>
<body data-override="login"><h1>Welcome to {{ product }}</h1>
{% if app_name %}<p>for {{ app_name }}</p>{% endif %}
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input name="username" value="{{ username }}"><input name="password" type="password">
<button type="submit">Go</button></form></body></html>
"#;

const RESET_OVERRIDE: &str = "{{ product }} reset link (valid 30 minutes): {{ link }}\n";

/// A directory of overrides.
fn override_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

/// The brand keys parsed as an operator sets them (so `mail_from` is the parser's default).
fn branded(extra: &[(&str, &str)]) -> Result<Config, authd::config::ConfigError> {
    let values: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_values(&values)
}

async fn spawn_branded(db: TestDb, extra: &[(&str, &str)]) -> TestApp {
    let parsed = branded(extra).expect("valid brand");
    spawn_app_on(db, move |c| {
        c.brand = parsed.brand.clone();
        c.mail_from = parsed.mail_from.clone();
    })
    .await
}

#[tokio::test]
async fn product_name_accent_logo_and_overrides_change_pages_and_mails() {
    let dir = override_dir(&[
        ("pages/login.html", LOGIN_OVERRIDE),
        ("mail/password_reset.txt", RESET_OVERRIDE),
        ("partials/unused.html", "{{ product }}"),
    ]);
    let dir_path = dir.path().display().to_string();
    let app = spawn_branded(
        TestDb::new().await,
        &[
            ("product_name", "Acme ID"),
            ("accent_color", "#FF0066"),
            ("logo_url", "https://cdn.acme.example/logo.svg"),
            ("template_dir", &dir_path),
        ],
    )
    .await;

    // A page without an override: the built-in template with the product, logo and colour.
    let register = app.get("/register").await;
    assert_eq!(register.status, StatusCode::OK);
    let body = &register.body;
    assert!(
        body.contains("<title>Create an account · Acme ID</title>"),
        "{body}"
    );
    assert!(
        body.contains("<h1>Create your Acme ID account</h1>"),
        "{body}"
    );
    assert!(
        body.contains("<span data-product-name>Acme ID</span>"),
        "{body}"
    );
    assert!(
        body.contains("<img class=\"logo\" src=\"https://cdn.acme.example/logo.svg\" alt=\"\">"),
        "{body}"
    );
    assert!(body.contains("href=\"/static/brand.css\""), "{body}");
    assert!(!body.contains(">authd<"), "{body}");
    let csp = register.headers["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("img-src 'self' data: https://cdn.acme.example;")
            && !csp.contains("'unsafe-inline'"),
        "{csp}"
    );
    let css = app.get("/static/brand.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.body, ":root { --accent: #ff0066; }\n");

    // The overridden page, with the same variables; it still signs people in.
    let user = app.user().await;
    let browser = new_client();
    let login = read(browser.get(app.url("/login")).send().await.unwrap()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login.body.contains("data-override=\"login\""),
        "{}",
        login.body
    );
    assert!(
        login.body.contains("<h1>Welcome to Acme ID</h1>"),
        "{}",
        login.body
    );
    assert!(login.body.contains("<title>Acme ID sign-in</title>"));
    let csrf = login.csrf();
    let signed_in = read(
        browser
            .post(app.url("/login"))
            .form(&[
                ("username", user.email.as_str()),
                ("password", user.password.as_str()),
                ("csrf_token", csrf.as_str()),
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

    // A mail: the overridden text part, the built-in HTML part, the product everywhere.
    let asker = new_client();
    let forgot = read(asker.get(app.url("/password/forgot")).send().await.unwrap()).await;
    let csrf = forgot.csrf();
    let sent = read(
        asker
            .post(app.url("/password/forgot"))
            .form(&[
                ("email", user.email.as_str()),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK);
    let mails = app.outbox(1).await;
    let mail = decode_qp(
        mails
            .iter()
            .find(|m| m.contains("Subject: Reset your password for Acme ID"))
            .expect("the reset mail, its subject naming the product"),
    );
    assert!(
        mail.contains("From: \"Acme ID\" <no-reply@localhost>"),
        "{mail}"
    );
    assert!(
        mail.contains(&format!(
            "Acme ID reset link (valid 30 minutes): {}/password/reset?token=",
            app.address
        )),
        "{mail}"
    );
    assert!(
        mail.contains("<p>=E2=80=94 Acme ID</p>"),
        "the HTML part is built in, signed with the product: {mail}"
    );
    assert!(!mail.contains("authd"), "{mail}");
}

#[tokio::test]
async fn a_broken_override_or_a_bad_colour_stops_start_up_naming_it() {
    let dir = override_dir(&[
        ("pages/login.html", LOGIN_OVERRIDE),
        ("mail/lockout.html", "<p>{% if count %}unclosed</p>"),
    ]);
    let db = TestDb::new().await;
    let mail_dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&db, mail_dir.path());
    config.brand.template_dir = Some(dir.path().to_owned());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let deps = Deps {
        clock: Arc::new(FakeClock::new(authd::domain::clock::SystemClock.now())),
        random: Arc::new(OsRandom),
    };
    let err = Application::build_with_listener(config, deps, listener)
        .await
        .err()
        .expect("a template that does not parse stops start-up");
    let msg = format!("{err:#}");
    assert!(msg.contains("AUTHD_TEMPLATE_DIR"), "{msg}");
    assert!(msg.contains("mail/lockout.html"), "{msg}");
    assert!(
        !msg.contains("pages/login.html"),
        "only the broken file: {msg}"
    );

    for (key, value, var) in [
        ("accent_color", "teal", "AUTHD_ACCENT_COLOR"),
        ("accent_color", "#12345", "AUTHD_ACCENT_COLOR"),
        ("logo_url", "javascript:alert(1)", "AUTHD_LOGO_URL"),
        ("product_name", "   ", "AUTHD_PRODUCT_NAME"),
    ] {
        let err = branded(&[(key, value)]).unwrap_err().to_string();
        assert!(err.contains(var), "{key}={value:?}: {err}");
    }
    // The sender follows the product name unless set.
    let c = branded(&[("product_name", "Acme ID")]).unwrap();
    assert_eq!(c.mail_from.to_string(), "Acme ID <no-reply@localhost>");
    let c = branded(&[
        ("product_name", "Acme ID"),
        ("mail_from", "Security <security@acme.example>"),
    ])
    .unwrap();
    assert_eq!(c.mail_from.to_string(), "Security <security@acme.example>");
    assert_eq!(
        branded(&[]).unwrap().mail_from.to_string(),
        "authd <no-reply@localhost>"
    );
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn browser_with(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .user_agent(user_agent)
        .build()
        .unwrap()
}

/// Signs in through `/login` (with `query`, e.g. `?next=` of an authorization request).
async fn sign_in_at(app: &TestApp, browser: &reqwest::Client, path: &str, email: &str, pw: &str) {
    let page = read(browser.get(app.url(path)).send().await.unwrap()).await;
    let csrf = page.csrf();
    let done = read(
        browser
            .post(app.url(path))
            .form(&[("username", email), ("password", pw), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}

#[tokio::test]
async fn the_new_sign_in_mail_speaks_plainly_and_a_held_back_one_is_recorded() {
    let app = spawn_branded(TestDb::new().await, &[("product_name", "Acme ID")]).await;
    let user = app.user().await;
    let client_id = format!("notes-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    app.state
        .oauth
        .clients()
        .create(authd::domain::clients::NewClient {
            id: client_id.clone(),
            redirect_uris: vec![REDIRECT_URI.to_owned()],
            is_first_party: true,
            grants: vec!["authorization_code".into()],
            name: Some("Acme Notes".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // The first sign-in ever sends no alert.
    sign_in_at(&app, &new_client(), "/login", &user.email, &user.password).await;

    // A new browser, signing in for the app.
    let (_, challenge) = pkce();
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let laptop = browser_with(FIREFOX);
    let asked = read(
        laptop
            .get(app.url(&format!("/authorize?{query}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let to_login = asked.location().to_owned();
    assert!(to_login.starts_with("/login"), "{to_login}");
    sign_in_at(&app, &laptop, &to_login, &user.email, &user.password).await;
    let now = app.clock.now();
    let mails = app.outbox(1).await;
    let alert = decode_qp(
        mails
            .iter()
            .find(|m| m.contains("Subject: New sign-in to your account at Acme ID"))
            .expect("the new-sign-in mail"),
    );
    let text = alert
        .split("Content-Type: text/html")
        .next()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("Your Acme ID account was just used to sign in to Acme Notes"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "When: today at {:02}:{:02} UTC",
            now.hour(),
            now.minute()
        )),
        "{text}"
    );
    assert!(
        text.contains("Where: the network 127.0.0.0/24 (approximate), address 127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("Browser: Firefox on Linux"), "{text}");
    assert!(text.contains("App: Acme Notes"), "{text}");
    assert!(
        !text.contains("Mozilla/5.0") && !text.contains("Gecko"),
        "{text}"
    );
    // Exactly one link: the one action.
    assert_eq!(text.matches("http://").count(), 1, "{text}");
    assert!(alert.contains("<strong>Acme Notes</strong>"), "{alert}");

    // Another new browser within the hour: the rate window holds the mail back, and says so.
    sign_in_at(&app, &new_client(), "/login", &user.email, &user.password).await;
    app.drain_mail().await;
    let news = app
        .outbox(0)
        .await
        .iter()
        .filter(|m| m.contains("Subject: New sign-in"))
        .count();
    assert_eq!(news, 1, "one new-sign-in mail an hour");
    let events = app.events().await;
    let kinds = |k: EventKind| {
        events
            .iter()
            .filter(|e| e.kind == k && e.user_id.is_some())
            .filter_map(|e| e.decision.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(EventKind::AlertSent), ["new_device"]);
    assert_eq!(
        kinds(EventKind::AlertSkipped),
        ["new_device; held back by the rate window"]
    );
}
