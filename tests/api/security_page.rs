//! `/account/security`: signed-in only, linked from `/account`, one section per part with
//! stable ids, and re-authentication (password, five minutes) before any change.

use reqwest::StatusCode;

use crate::helpers::{Page, TestUser, assert_redirect_to, new_client, read, spawn_app};

const PAGE: &str = "/account/security";

#[tokio::test]
async fn the_page_needs_a_sign_in_and_is_linked_from_the_account_page() {
    let app = spawn_app().await;
    let page = app.get(PAGE).await;
    assert_redirect_to(&page, "/login?next=%2Faccount%2Fsecurity");

    app.signed_in_user().await;
    assert!(
        app.get("/account")
            .await
            .body
            .contains("href=\"/account/security\"")
    );
    let page = app.get(PAGE).await;
    assert_eq!(page.status, StatusCode::OK);
    for id in ["factors", "passkeys", "sessions", "password", "events"] {
        assert!(
            page.body.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    assert!(page.body.contains("No authenticator app yet"));
    // Every form carries the CSRF token.
    let forms = page.body.matches("<form").count();
    assert!(forms >= 1);
    assert_eq!(page.body.matches("name=\"csrf_token\"").count(), forms);
}

#[tokio::test]
async fn reauthentication_needs_the_right_password_and_lasts_five_minutes() {
    let app = spawn_app().await;
    let user = app.signed_in_user().await;
    let csrf = app.get(PAGE).await.csrf();
    assert!(
        app.get(PAGE)
            .await
            .body
            .contains("data-reauth=\"password\"")
    );

    let wrong = app
        .post_form(
            "/account/security/reauth",
            &[("csrf_token", &csrf), ("password", "not-the-password")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Incorrect password"));
    assert!(
        app.get(PAGE)
            .await
            .body
            .contains("data-reauth=\"password\"")
    );

    // Without the CSRF token: refused, and nothing changes.
    let missing = app
        .post_form("/account/security/reauth", &[("password", &user.password)])
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let forged = app
        .post_form(
            "/account/security/reauth",
            &[("csrf_token", "forged"), ("password", &user.password)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        app.get(PAGE)
            .await
            .body
            .contains("data-reauth=\"password\"")
    );

    let right = app
        .post_form(
            "/account/security/reauth",
            &[("csrf_token", &csrf), ("password", &user.password)],
        )
        .await;
    assert_redirect_to(&right, PAGE);
    assert!(app.get(PAGE).await.body.contains("data-reauth=\"fresh\""));

    app.clock.advance(time::Duration::minutes(5));
    assert!(
        app.get(PAGE)
            .await
            .body
            .contains("data-reauth=\"password\"")
    );
}

/// A form posted after the session ended goes to sign in, and back to the form's page after
/// (a GET of the POST-only path would answer 405).
#[tokio::test]
async fn a_reauth_post_without_a_session_goes_to_sign_in_and_back_to_the_page() {
    let app = spawn_app().await;
    let res = new_client()
        .post(app.url("/account/security/reauth"))
        .form(&[("password", "x"), ("csrf_token", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap();
    assert_eq!(location, "/login?next=%2Faccount%2Fsecurity");
    // Idle past the timeout in a signed-in browser: the same.
    let user = app.signed_in_user().await;
    let csrf = app.get(PAGE).await.csrf();
    app.clock.advance(time::Duration::hours(2));
    let form = [
        ("csrf_token", csrf.as_str()),
        ("password", user.password.as_str()),
    ];
    let page = app.post_form("/account/security/password", &form).await;
    assert_redirect_to(&page, "/login?next=%2Faccount%2Fsecurity");
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

/// A second browser: its own cookie jar and User-Agent.
struct Browser {
    client: reqwest::Client,
    base: String,
}

impl Browser {
    fn new(app: &crate::helpers::TestApp, ua: &str) -> Self {
        Self::from(app, ua, reqwest::header::HeaderMap::new())
    }

    fn from(app: &crate::helpers::TestApp, ua: &str, headers: reqwest::header::HeaderMap) -> Self {
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .user_agent(ua)
            .build()
            .unwrap();
        Self {
            client,
            base: app.address.clone(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        read(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let url = format!("{}{path}", self.base);
        read(self.client.post(url).form(form).send().await.unwrap()).await
    }

    /// The sign-in form posted with `user`'s password; the answer.
    async fn post_sign_in(&self, user: &TestUser) -> Page {
        let csrf = self.get("/login").await.csrf();
        let form = [
            ("username", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf_token", csrf.as_str()),
        ];
        self.post("/login", &form).await
    }

    async fn sign_in(&self, user: &TestUser) {
        assert_redirect_to(&self.post_sign_in(user).await, "/account");
    }

    async fn is_signed_in(&self) -> bool {
        self.get("/account").await.status == StatusCode::OK
    }
}

/// The opaque ids of the page's session rows, and which one is marked current.
fn rows(body: &str) -> (Vec<String>, Option<String>) {
    let mut ids = Vec::new();
    let mut current = None;
    for part in body.split("data-session=\"").skip(1) {
        let id = part.split('"').next().unwrap().to_owned();
        let tag_rest = part.split('>').next().unwrap();
        if tag_rest.contains("data-current") {
            current = Some(id.clone());
        }
        ids.push(id);
    }
    (ids, current)
}

/// A user signed in on `app.client` (Firefox) and on a second browser (Chrome), with the
/// main browser re-authenticated.
async fn two_browsers(app: &crate::helpers::TestApp) -> (TestUser, Browser, Browser) {
    let user = app.user().await;
    let main = Browser::new(app, FIREFOX);
    let other = Browser::new(app, CHROME);
    main.sign_in(&user).await;
    other.sign_in(&user).await;
    (user, main, other)
}

async fn reauth(b: &Browser, user: &TestUser) {
    let csrf = b.get(PAGE).await.csrf();
    let page = b
        .post(
            "/account/security/reauth",
            &[("csrf_token", &csrf), ("password", &user.password)],
        )
        .await;
    assert_redirect_to(&page, PAGE);
}

async fn act(b: &Browser, action: &str, session: &str) -> Page {
    let csrf = b.get(PAGE).await.csrf();
    b.post(
        "/account/security/sessions",
        &[
            ("csrf_token", &csrf),
            ("action", action),
            ("session", session),
        ],
    )
    .await
}

#[tokio::test]
async fn sessions_are_listed_with_the_current_one_marked() {
    let app = spawn_app().await;
    let (_user, main, other) = two_browsers(&app).await;
    let page = main.get(PAGE).await;
    let (ids, current) = rows(&page.body);
    assert_eq!(ids.len(), 2, "{}", page.body);
    assert!(ids.iter().all(|id| id.starts_with("s-")));
    assert!(page.body.contains("Firefox on Linux"));
    assert!(page.body.contains("Chrome on Windows"));
    // The other browser sees the same two, with its own marked.
    let (other_ids, other_current) = rows(&other.get(PAGE).await.body);
    assert_eq!(other_ids.len(), 2);
    assert!(current.is_some() && other_current.is_some() && current != other_current);
    // No tower-sessions id appears in the page.
    let cookie = main
        .get(PAGE)
        .await
        .headers
        .get_all("set-cookie")
        .iter()
        .count();
    assert_eq!(cookie, 0, "the page itself sets no cookie");
    let session_ids = crate::helpers::raw_rows(
        &app.db,
        if app.db.is_postgres() {
            "select id from \"tower_sessions\".\"session\""
        } else {
            "select id from tower_sessions"
        },
    )
    .await;
    for row in session_ids {
        assert!(
            !page.body.contains(&row[0]),
            "a session id leaked into the page"
        );
    }
    // A plain sign-out drops the row too.
    let csrf = other.get("/account").await.csrf();
    other.post("/logout", &[("csrf_token", &csrf)]).await;
    let (ids, now_current) = rows(&main.get(PAGE).await.body);
    assert_eq!(ids.len(), 1);
    assert_eq!(now_current, current);
}

#[tokio::test]
async fn a_change_without_reauth_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (_user, main, other) = two_browsers(&app).await;
    let (_, current) = rows(&main.get(PAGE).await.body);
    let (ids, _) = rows(&main.get(PAGE).await.body);
    let target = ids.iter().find(|id| Some(*id) != current.as_ref()).unwrap();
    for (action, session) in [
        ("sign_out", target.as_str()),
        ("not_me", target.as_str()),
        ("sign_out_others", ""),
    ] {
        let page = act(&main, action, session).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{action}");
        assert!(page.body.contains("data-reauth=\"password\""));
    }
    assert!(other.is_signed_in().await);
    assert_eq!(rows(&main.get(PAGE).await.body).0.len(), 2);
}

#[tokio::test]
async fn signing_out_a_row_kills_that_browsers_cookie_at_once() {
    let app = spawn_app().await;
    let (user, main, other) = two_browsers(&app).await;
    reauth(&main, &user).await;
    let (ids, current) = rows(&main.get(PAGE).await.body);
    let target = ids.iter().find(|id| Some(*id) != current.as_ref()).unwrap();
    let rows_before = app.session_rows().await;

    // Without the CSRF token: refused, nothing ends.
    let missing = main
        .post(
            "/account/security/sessions",
            &[("action", "sign_out"), ("session", target)],
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let forged = main
        .post(
            "/account/security/sessions",
            &[
                ("csrf_token", "forged"),
                ("action", "sign_out"),
                ("session", target),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(other.is_signed_in().await);

    let done = act(&main, "sign_out", target).await;
    assert_redirect_to(&done, "/account/security?done=signed_out");
    assert_redirect_to(&other.get("/account").await, "/login?next=%2Faccount");
    assert_eq!(
        app.session_rows().await,
        rows_before - 1,
        "the row is deleted"
    );
    assert!(main.is_signed_in().await);
    let (ids, _) = rows(&main.get(PAGE).await.body);
    assert_eq!(ids, vec![current.clone().unwrap()]);
    // An unknown or foreign id is refused.
    let page = act(&main, "sign_out", target).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = act(&main, "sign_out", "s-../../etc").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let event = app
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == authd::events::EventKind::SessionRevoked)
        .unwrap();
    assert!(
        event
            .decision
            .unwrap()
            .starts_with("owner; browser session: Chrome")
    );
}

#[tokio::test]
async fn sign_out_everywhere_else_leaves_only_the_current_session() {
    let app = spawn_app().await;
    let (user, main, other) = two_browsers(&app).await;
    let third = Browser::new(&app, "curl/8.0");
    third.sign_in(&user).await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    reauth(&main, &user).await;
    let (ids, current) = rows(&main.get(PAGE).await.body);
    assert_eq!(
        ids.len(),
        5,
        "three browsers, the test client's and the app's grant"
    );
    assert!(ids.iter().any(|id| id.starts_with("g-")));

    let done = act(&main, "sign_out_others", "").await;
    assert_redirect_to(&done, "/account/security?done=signed_out_others");
    assert!(!other.is_signed_in().await);
    assert!(!third.is_signed_in().await);
    assert!(main.is_signed_in().await);
    let (ids, now_current) = rows(&main.get(PAGE).await.body);
    assert_eq!(ids, vec![current.clone().unwrap()]);
    assert_eq!(now_current, current);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the grant is revoked");
}

#[tokio::test]
async fn not_me_ends_the_session_and_its_grants_labels_the_sign_in_and_alerts() {
    let app = spawn_app().await;
    let user = app.user().await;
    let main = Browser::new(&app, FIREFOX);
    main.sign_in(&user).await;
    // The "attacker" signs in on the test client and grants an app from there.
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    // ...and keeps a code back, to redeem after the report.
    let (code, verifier) = app.code_for(&client, &user, "openid").await;
    reauth(&main, &user).await;
    let page = main.get(PAGE).await;
    let (ids, current) = rows(&page.body);
    let attacker = ids
        .iter()
        .find(|id| id.starts_with("s-") && Some(*id) != current.as_ref())
        .unwrap();
    // The current session cannot be reported (sign out instead).
    let own = act(&main, "not_me", current.as_deref().unwrap()).await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);

    let done = act(&main, "not_me", attacker).await;
    assert_redirect_to(&done, "/account/security?done=not_me");
    let page = main.get("/account/security?done=not_me").await;
    assert!(page.body.contains("id=\"password-prompt\""));
    assert!(page.body.contains("data-password-change"));
    assert_redirect_to(&app.get("/account").await, "/login?next=%2Faccount");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the grant made since is revoked"
    );
    let (status, body) = app
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a code made since is spent: {body}"
    );

    let events = app.events().await;
    let report = events
        .iter()
        .find(|e| e.kind == authd::events::EventKind::SessionRevoked)
        .unwrap();
    assert!(
        report
            .decision
            .as_deref()
            .unwrap()
            .starts_with("reported_not_me")
    );
    // The attacker's sign-in (the test client's, the one without Firefox) is labelled.
    let sign_in = events
        .iter()
        .filter(|e| e.kind == authd::events::EventKind::LoginSucceeded)
        .find(|e| e.user_agent.as_deref() == Some("authd-tests/1.0"))
        .unwrap();
    let labels = app.state.risk_store.labels().await.unwrap();
    assert!(labels.contains(&(sign_in.id.clone(), true)), "{labels:?}");
    let mails = app.outbox(1).await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("We ended the sign-in you reported")),
        "{mails:?}"
    );
}

/// The decision of the newest `login_succeeded` from the browser with User-Agent `ua`.
async fn last_sign_in_decision(app: &crate::helpers::TestApp, ua: &str) -> String {
    // The log lists newest first.
    let events = app.events().await;
    let newest = events
        .iter()
        .filter(|e| e.kind == authd::events::EventKind::LoginSucceeded)
        .find(|e| e.user_agent.as_deref() == Some(ua));
    newest.unwrap().decision.clone().unwrap_or_default()
}

/// Signs `b` out (the account page's form).
async fn sign_out(b: &Browser) {
    let csrf = b.get("/account").await.csrf();
    let out = b.post("/logout", &[("csrf_token", &csrf)]).await;
    assert!(out.status.is_redirection(), "{}", out.status);
}

#[tokio::test]
async fn not_me_ends_the_reported_browsers_standing_as_a_known_device() {
    let app = spawn_app().await;
    let (user, main, other) = two_browsers(&app).await;
    // Both browsers hold device cookies now: a sign-in there again is a known device's.
    for (b, ua) in [(&main, FIREFOX), (&other, CHROME)] {
        sign_out(b).await;
        b.sign_in(&user).await;
        assert_eq!(last_sign_in_decision(&app, ua).await, "allow:known_device");
    }
    reauth(&main, &user).await;
    let (ids, current) = rows(&main.get(PAGE).await.body);
    let reported = ids
        .iter()
        .find(|id| id.starts_with("s-") && Some(*id) != current.as_ref())
        .unwrap();
    let done = act(&main, "not_me", reported).await;
    assert_redirect_to(&done, "/account/security?done=not_me");
    assert!(!other.is_signed_in().await);

    // The reported browser signs in with its cookie (the password is still the same): not a
    // known device any more, so it gets a new cookie (and the owner the new-device alert).
    let again = other.post_sign_in(&user).await;
    let events = app.events().await;
    let newest = events
        .iter()
        .filter(|e| e.kind.as_str().starts_with("login_"))
        .find(|e| e.user_agent.as_deref() == Some(CHROME))
        .unwrap();
    assert_ne!(
        newest.decision.as_deref(),
        Some("allow:known_device"),
        "{:?} {:?}",
        newest.kind,
        newest.decision
    );
    if again.status == StatusCode::SEE_OTHER {
        assert_eq!(last_sign_in_decision(&app, CHROME).await, "allow");
        let new_cookie = again
            .headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("authd_device="));
        assert!(new_cookie, "a new device cookie");
    }
    // The owner's own browser is still a known device.
    sign_out(&main).await;
    main.sign_in(&user).await;
    assert_eq!(
        last_sign_in_decision(&app, FIREFOX).await,
        "allow:known_device"
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    let (user, main, other) = two_browsers(&app).await;
    let csrf = main.get(PAGE).await.csrf();
    let wrong = main
        .post(
            "/account/security/password",
            &[
                ("csrf_token", &csrf),
                ("current_password", "wrong-password"),
                ("new_password", "a-brand-new-password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(other.is_signed_in().await);
    let no_csrf = main
        .post(
            "/account/security/password",
            &[
                ("csrf_token", "forged"),
                ("current_password", &user.password),
                ("new_password", "a-brand-new-password"),
            ],
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let too_short = main
        .post(
            "/account/security/password",
            &[
                ("csrf_token", &csrf),
                ("current_password", &user.password),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(too_short.status, StatusCode::BAD_REQUEST);
    assert!(other.is_signed_in().await);

    let done = main
        .post(
            "/account/security/password",
            &[
                ("csrf_token", &csrf),
                ("current_password", &user.password),
                ("new_password", "a-brand-new-password"),
            ],
        )
        .await;
    assert_redirect_to(&done, "/account/security?done=password_changed");
    assert!(main.is_signed_in().await, "the current session is kept");
    assert!(!other.is_signed_in().await, "every other one ends");
    let (ids, current) = rows(&main.get(PAGE).await.body);
    assert_eq!(ids.len(), 1);
    assert_eq!(current.as_ref(), ids.first());
    let changed = app
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == authd::events::EventKind::PasswordChanged)
        .unwrap();
    assert!(changed.decision.unwrap().starts_with("changed_by_owner"));
    let mails = app.outbox(1).await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Your password was changed"))
    );
    // The new password signs in; the old one does not.
    let fresh = Browser::new(&app, CHROME);
    let csrf = fresh.get("/login").await.csrf();
    let old = fresh
        .post(
            "/login",
            &[
                ("username", &user.email),
                ("password", &user.password),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_cli_lists_sessions_and_revokes_every_session_and_grant() {
    let app = spawn_app().await;
    let (user, main, other) = two_browsers(&app).await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    let (url, email) = (app.db.url.clone(), user.email.clone());
    let out = tokio::task::spawn_blocking(move || {
        crate::cli::authd_on(&url)
            .args(["user", "sessions", &email])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sessions = v["sessions"].as_array().unwrap();
    let kinds: Vec<_> = sessions
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "browser").count(), 3, "{v}");
    assert_eq!(kinds.iter().filter(|k| **k == "app").count(), 1, "{v}");
    assert!(
        sessions
            .iter()
            .any(|s| s["device"] == "Chrome on Windows 10"),
        "{v}"
    );

    let (url, email) = (app.db.url.clone(), user.email.clone());
    let out = tokio::task::spawn_blocking(move || {
        crate::cli::authd_on(&url)
            .args(["user", "revoke", &email])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sessions_ended"], 3, "{v}");
    assert_eq!(v["grants_revoked"], 1, "{v}");
    assert!(!main.is_signed_in().await);
    assert!(!other.is_signed_in().await);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = app
        .token(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let event = app
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == authd::events::EventKind::SessionRevoked)
        .unwrap();
    assert_eq!(
        event.decision.as_deref(),
        Some("cli:revoke; 3 sessions, 1 grants")
    );
}

#[tokio::test]
async fn a_session_shows_its_network_and_with_geoip_its_country() {
    let geoip = std::env::var("AUTHD_TEST_GEOIP_DB")
        .ok()
        .filter(|p| !p.is_empty());
    let app = crate::helpers::spawn_app_with(|c| {
        c.geoip_db = geoip.clone().map(Into::into);
        c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    })
    .await;
    let user = app.user().await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", "8.8.8.8".parse().unwrap());
    let b = Browser::from(&app, FIREFOX, headers);
    b.sign_in(&user).await;
    let page = b.get(PAGE).await;
    let country = geoip.map(|path| {
        let db = authd::domain::risk::geo::GeoDb::open(std::path::Path::new(&path)).unwrap();
        db.place("8.8.8.8".parse().unwrap())
            .country
            .expect("a country for 8.8.8.8")
    });
    let place = match &country {
        Some(c) => format!("8.8.8.8, {c}"),
        None => "8.8.8.8 ·".to_owned(),
    };
    assert!(page.body.contains(&place), "{place} in {}", page.body);
}

/// A stolen session cannot guess the password on this page: the fifth wrong password in a
/// row ends it (`session_revoked`, decision `reauth_failures`), and the owner's own browser,
/// which draws on the same account, still re-authenticates. A right password starts the
/// count again.
#[tokio::test]
async fn a_session_guessing_the_password_here_is_ended_and_the_owner_is_not_held_up() {
    let app = spawn_app().await;
    let (user, main, thief) = two_browsers(&app).await;
    // Four wrong, a right one: the count starts again.
    for _ in 0..4 {
        assert_eq!(wrong(&thief).await.status, StatusCode::UNAUTHORIZED);
    }
    reauth(&thief, &user).await;
    for _ in 0..4 {
        assert_eq!(wrong(&thief).await.status, StatusCode::UNAUTHORIZED);
    }
    // The current password of a change counts the same.
    let csrf = thief.get(PAGE).await.csrf();
    let change = [
        ("csrf_token", csrf.as_str()),
        ("current_password", "another guess"),
        ("new_password", "a password of mine now"),
    ];
    let ended = thief.post("/account/security/password", &change).await;
    assert_redirect_to(&ended, "/login");
    assert!(thief.get(PAGE).await.location().starts_with("/login"));
    let events = app.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == authd::events::EventKind::SessionRevoked
                && e.decision.as_deref() == Some("reauth_failures"))
    );
    // Guesses sent at once are each counted before they are checked: at most five checked.
    let burst = Browser::new(&app, "burst/1.0");
    burst.sign_in(&user).await;
    let failed = |events: &[authd::events::AuthEvent]| {
        let wrong = |e: &&authd::events::AuthEvent| {
            e.kind == authd::events::EventKind::ChallengeFailed
                && e.decision.as_deref() == Some("reauth")
        };
        events.iter().filter(wrong).count()
    };
    let before = failed(&app.events().await);
    let csrf = burst.get(PAGE).await.csrf();
    let form = [("csrf_token", csrf.as_str()), ("password", "a guess at it")];
    let answers = futures_util::future::join_all(
        (0..12).map(|_| burst.post("/account/security/reauth", &form)),
    )
    .await;
    assert!(answers.iter().any(|p| p.status == StatusCode::SEE_OTHER));
    assert!(burst.get(PAGE).await.location().starts_with("/login"));
    let checked = failed(&app.events().await) - before;
    assert!(checked <= 5, "{checked} guesses of a burst were checked");
    // The owner's browser is untouched and re-authenticates at once.
    reauth(&main, &user).await;
    let (ids, _) = rows(&main.get(PAGE).await.body);
    assert_eq!(ids.len(), 1, "the ended sessions left the list");
}

async fn wrong(b: &Browser) -> Page {
    let csrf = b.get(PAGE).await.csrf();
    let form = [("csrf_token", csrf.as_str()), ("password", "a guess at it")];
    b.post("/account/security/reauth", &form).await
}

/// Only checks that gave a verdict count against the session: refusals for the account's
/// rate (`429`) are taken back, so an owner whose other browsers spent the account's budget is
/// not signed out by a sixth try that no password was checked for.
#[tokio::test]
async fn attempts_refused_for_rate_do_not_count_against_the_session() {
    let app = crate::helpers::spawn_app_with(|c| c.rate_limits.login_per_account = 2).await;
    let (_user, main, _other) = two_browsers(&app).await;
    let mut refused = 0;
    for _ in 0..8 {
        let page = wrong(&main).await;
        match page.status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("{other}: {}", page.location()),
        }
    }
    assert!(refused >= 5, "the account's budget refused most: {refused}");
    assert_eq!(
        main.get(PAGE).await.status,
        StatusCode::OK,
        "still signed in"
    );
}
