//! Issue #13 / INTERFACE: a pending authorization request survives every detour from the
//! sign-in page — registration, the verification link, forgot/reset, step-up, consent — and
//! ends at the client's redirect URI with a code the token endpoint accepts; the pages on the
//! way name the application; a tampered `next` never leads off the site.

use reqwest::StatusCode;

use authd::domain::clients::NewClient;

use crate::helpers::{
    Page, REDIRECT_URI, TestApp, TestClient, TestUser, input_value, new_client, pkce, query_param,
    read, spawn_app, spawn_app_with, urlenc,
};
use crate::smtp::{decode_qp, reset_link};

const APP_NAME: &str = "Notes App";

/// A browser of its own (cookies kept, redirects not followed).
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: new_client(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        read(self.client.get(self.app.url(path)).send().await.unwrap()).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let resp = self.client.post(self.app.url(path)).form(form).send();
        read(resp.await.unwrap()).await
    }

    /// Posts the sign-in form of `page` with `user`'s email and password.
    async fn sign_in_on(&self, page: &Page, user: &TestUser) -> Page {
        let fields = [
            ("username", user.email.as_str()),
            ("password", &user.password),
        ];
        self.submit(page, &fields).await
    }

    /// Posts the page's form (its `action`, its CSRF token) with `fields`.
    async fn submit(&self, page: &Page, fields: &[(&str, &str)]) -> Page {
        let action = attr_after(&page.body, "<form method=\"post\" action=\"");
        let csrf = page.csrf();
        let mut form = fields.to_vec();
        form.push(("csrf_token", &csrf));
        self.post(&action, &form).await
    }
}

/// The attribute value that follows `marker` in `body`, HTML entities for `&` undone.
fn attr_after(body: &str, marker: &str) -> String {
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {body}"))
        + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].replace("&amp;", "&").replace("&#38;", "&")
}

/// The `href` of the link whose text starts with `text`.
fn link_to(body: &str, text: &str) -> String {
    let end = body
        .find(&format!(">{text}"))
        .unwrap_or_else(|| panic!("no link {text:?} in {body}"));
    let start = body[..end].rfind("href=\"").unwrap() + "href=\"".len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].replace("&amp;", "&").replace("&#38;", "&")
}

/// A client registered with `--name`, first-party (no consent page) or not.
async fn named_client(app: &TestApp, first_party: bool) -> TestClient {
    let spec = NewClient {
        id: format!("notes-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        is_first_party: first_party,
        name: Some(APP_NAME.to_owned()),
        ..Default::default()
    };
    let (made, secret) = app.state.oauth.clients().create(spec).await.unwrap();
    TestClient {
        id: made.id,
        secret,
        redirect_uri: REDIRECT_URI.to_owned(),
    }
}

/// The client's authorization request (PKCE, `state`); returns its path and the verifier.
fn authorize_path(client: &TestClient) -> (String, String) {
    let (verifier, challenge) = pkce();
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("scope", "openid email"),
        ("state", "st-detour"),
        ("nonce", "n-detour"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    (format!("/authorize?{query}"), verifier)
}

/// Starts the client's request in `b`: the sign-in page it is sent to, naming the app.
async fn start(b: &Browser<'_>, authorize: &str) -> Page {
    let asked = b.get(authorize).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert_eq!(
        asked.location(),
        format!("/login?next={}", urlenc(authorize))
    );
    let login = b.get(asked.location()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_names_the_app(&login);
    login
}

fn assert_names_the_app(page: &Page) {
    assert!(
        page.body.contains(&format!("data-client-name>{APP_NAME}<")),
        "the page names the app: {}",
        page.body
    );
}

/// Signs in on `login` (a sign-in page continuing to `authorize`) and follows the way back to
/// the client: the redirect URI with `state` and a code, which the token endpoint accepts.
async fn sign_in_and_redeem(
    b: &Browser<'_>,
    login: &Page,
    user: &TestUser,
    client: &TestClient,
    authorize: &str,
    verifier: &str,
) {
    let signed_in = b
        .submit(
            login,
            &[("username", &user.email), ("password", &user.password)],
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(signed_in.location(), authorize);
    let back = b.get(authorize).await;
    assert_redeems(b.app, &back, client, verifier).await;
}

/// Follows a confirmation page's "Continue to <app>" (`done`) back to the request
/// (`authorize`): to the sign-in page naming the app, and signed in to the client's code.
async fn continue_and_redeem(
    b: &Browser<'_>,
    done: &Page,
    user: &TestUser,
    client: &TestClient,
    authorize: &str,
    verifier: &str,
) {
    let way_on = link_to(&done.body, "Continue to");
    assert_eq!(way_on, authorize);
    let again = b.get(&way_on).await;
    assert_eq!(
        again.location(),
        format!("/login?next={}", urlenc(authorize))
    );
    let login = b.get(again.location()).await;
    assert_names_the_app(&login);
    sign_in_and_redeem(b, &login, user, client, authorize, verifier).await;
}

/// `page` is the redirect to the client with `state` and a code the token endpoint accepts.
async fn assert_redeems(app: &TestApp, page: &Page, client: &TestClient, verifier: &str) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(query_param(location, "state").as_deref(), Some("st-detour"));
    let code = query_param(location, "code").expect("a code");
    let (status, tokens) = app
        .token(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["id_token"].is_string(), "{tokens}");
}

/// Follows the sign-in page's "Create an account" and registers `user`; returns the page
/// the registration leads to (the sign-in page, still continuing to `authorize`).
async fn register_from(b: &Browser<'_>, login: &Page, user: &TestUser, authorize: &str) -> Page {
    let link = link_to(&login.body, "Create an account");
    assert_eq!(link, format!("/register?next={}", urlenc(authorize)));
    let form = b.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_names_the_app(&form);
    let done = b
        .submit(
            &form,
            &[("email", &user.email), ("password", &user.password)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location(),
        format!("/login?registered=1&next={}", urlenc(authorize))
    );
    let login = b.get(done.location()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_names_the_app(&login);
    login
}

/// The verification link mailed to `email`.
async fn verification_path(app: &TestApp, email: &str) -> String {
    let mails: Vec<String> = app.outbox(1).await.iter().map(|m| decode_qp(m)).collect();
    let mail = mails
        .iter()
        .find(|m| m.contains(&format!("To: {email}")) && m.contains("/verify-email?token="))
        .expect("a verification mail");
    let start = mail.find("/verify-email?token=").unwrap();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_.?=".contains(*c))
        .collect()
}

#[tokio::test]
async fn registering_from_an_apps_sign_in_page_ends_at_the_client_with_a_code() {
    let app = spawn_app().await;
    let client = named_client(&app, true).await;
    let (authorize, verifier) = authorize_path(&client);
    let b = Browser::new(&app);
    let login = start(&b, &authorize).await;
    let user = TestUser::generate();
    let login = register_from(&b, &login, &user, &authorize).await;
    sign_in_and_redeem(&b, &login, &user, &client, &authorize, &verifier).await;
}

#[tokio::test]
async fn the_verification_link_continues_to_the_pending_request() {
    let app = spawn_app().await;
    let client = named_client(&app, true).await;
    let (authorize, verifier) = authorize_path(&client);
    let b = Browser::new(&app);
    let login = start(&b, &authorize).await;
    let user = TestUser::generate();
    register_from(&b, &login, &user, &authorize).await;

    // The mailed link carries only its token; the request waits in this browser's session.
    let link = verification_path(&app, &user.email).await;
    assert!(!link.contains("next"), "{link}");
    let ask = b.get(&link).await;
    assert_eq!(ask.status, StatusCode::OK);
    assert_names_the_app(&ask);
    let token = input_value(&ask.body, "token");
    let done = b
        .post(
            "/verify-email",
            &[("token", &token), ("csrf_token", &ask.csrf())],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains("id=\"email-verified\""));
    continue_and_redeem(&b, &done, &user, &client, &authorize, &verifier).await;

    // Reached: the session no longer holds the request, so a later link leads nowhere old.
    let later = b.get("/verify-email?token=spent").await;
    assert_eq!(later.status, StatusCode::BAD_REQUEST);
    assert_eq!(link_to(&later.body, "Continue to"), "/login");

    // Another browser opening the same kind of link knows of no request.
    let other = Browser::new(&app).get(&link).await;
    assert_eq!(link_to(&other.body, "Continue to"), "/login");
}

#[tokio::test]
async fn forgot_and_reset_from_an_apps_sign_in_page_end_at_the_client_with_a_code() {
    let app = spawn_app().await;
    let client = named_client(&app, true).await;
    let user = app.user().await;
    let (authorize, verifier) = authorize_path(&client);
    let b = Browser::new(&app);
    let login = start(&b, &authorize).await;

    let link = link_to(&login.body, "Forgot your password?");
    assert_eq!(
        link,
        format!("/password/forgot?next={}", urlenc(&authorize))
    );
    let forgot = b.get(&link).await;
    assert_eq!(forgot.status, StatusCode::OK);
    assert_names_the_app(&forgot);
    let sent = b.submit(&forgot, &[("email", &user.email)]).await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(sent.body.contains("forgot-sent"));
    assert_names_the_app(&sent);

    let mails = app.outbox(1).await;
    let mail = mails
        .iter()
        .find(|m| m.contains("Subject: Reset your password"))
        .expect("a reset mail");
    let link = reset_link(mail).expect("a reset link");
    assert!(
        !link.contains("next"),
        "the mail carries no request: {link}"
    );
    let reset = b.get(link.trim_start_matches(&app.address)).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_names_the_app(&reset);
    let new_password = "a brand new passphrase";
    let token = input_value(&reset.body, "token");
    let done = b
        .submit(&reset, &[("token", &token), ("password", new_password)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location(),
        format!("/login?reset=1&next={}", urlenc(&authorize))
    );
    let login = b.get(done.location()).await;
    assert!(login.body.contains("Your password was changed"));
    assert_names_the_app(&login);
    let user = TestUser {
        email: user.email,
        password: new_password.to_owned(),
    };
    sign_in_and_redeem(&b, &login, &user, &client, &authorize, &verifier).await;
}

#[tokio::test]
async fn step_up_and_consent_return_to_the_pending_request() {
    let app = spawn_app().await;
    let client = named_client(&app, false).await;
    let user = app.user().await;
    let account = app
        .state
        .accounts
        .find_by_email(&user.email)
        .await
        .unwrap()
        .unwrap();
    app.state
        .accounts
        .set_require_mfa(&account.id, true)
        .await
        .unwrap();
    let (authorize, verifier) = authorize_path(&client);
    let b = Browser::new(&app);
    let login = start(&b, &authorize).await;

    let stepped = b.sign_in_on(&login, &user).await;
    assert_eq!(stepped.status, StatusCode::UNAUTHORIZED);
    assert!(stepped.body.contains("data-challenge=\"email\""));
    assert_names_the_app(&stepped);
    let code = app.last_code().await;
    let code = code.as_str();
    let passed = b
        .submit(&stepped, &[("username", &user.email), ("email_code", code)])
        .await;
    assert_eq!(passed.status, StatusCode::SEE_OTHER, "{}", passed.body);
    assert_eq!(passed.location(), authorize);

    let consent = b.get(&authorize).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(
        consent
            .body
            .contains(&format!("id=\"consent-client\">{APP_NAME}<"))
    );
    let request_id = input_value(&consent.body, "request_id");
    let allowed = b
        .post(
            "/authorize/consent",
            &[
                ("csrf_token", &consent.csrf()),
                ("request_id", &request_id),
                ("consent", "allow"),
            ],
        )
        .await;
    assert_redeems(&app, &allowed, &client, &verifier).await;
}

/// An absolute URL, a protocol-relative one, a backslash one, one with a tab browsers strip.
const TAMPERED: [&str; 5] = [
    "https://evil.example/x",
    "//evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "http:/evil.example",
];

fn assert_stays(location: &str) {
    assert!(
        location.starts_with('/') && !location.starts_with("//") && !location.contains("evil"),
        "off-site: {location}"
    );
}

#[tokio::test]
async fn a_tampered_next_never_leads_off_site() {
    // Five registrations from one network: no CAPTCHA in the way of what is tested here.
    let app = spawn_app_with(|c| c.protection.challenge_after = 100).await;
    for bad in TAMPERED {
        let b = Browser::new(&app);
        let next = urlenc(bad);
        for page in ["/login", "/register", "/password/forgot"] {
            let shown = b.get(&format!("{page}?next={next}")).await;
            assert_eq!(shown.status, StatusCode::OK, "{page}");
            assert!(!shown.body.contains("evil"), "{page} passes {bad:?} on");
            assert!(!shown.body.contains("data-client-name"));
        }
        let register = b.get(&format!("/register?next={next}")).await;
        let user = TestUser::generate();
        let done = b
            .post(
                &format!("/register?next={next}"),
                &[
                    ("email", &user.email),
                    ("password", &user.password),
                    ("csrf_token", &register.csrf()),
                ],
            )
            .await;
        assert_eq!(done.location(), "/login?registered=1", "{bad:?}");
        // Nothing was kept for the verification link's page either.
        let link = verification_path(&app, &user.email).await;
        let verify = b.get(&link).await;
        assert_eq!(link_to(&verify.body, "Continue to"), "/login");
        let login = b.get(&format!("/login?next={next}")).await;
        let signed_in = b
            .post(
                &format!("/login?next={next}"),
                &[
                    ("username", &user.email),
                    ("password", &user.password),
                    ("csrf_token", &login.csrf()),
                ],
            )
            .await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.body
        );
        assert_eq!(signed_in.location(), "/account", "{bad:?}");
    }
}

#[tokio::test]
async fn a_tampered_next_on_forgot_or_on_the_reset_link_is_ignored() {
    let app = spawn_app().await;
    let user = app.user().await;
    let b = Browser::new(&app);
    let forgot = b
        .get(&format!("/password/forgot?next={}", urlenc(TAMPERED[1])))
        .await;
    let sent = b
        .post(
            &format!("/password/forgot?next={}", urlenc(TAMPERED[1])),
            &[("email", &user.email), ("csrf_token", &forgot.csrf())],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    let mails = app.outbox(1).await;
    let link = reset_link(mails.last().unwrap()).expect("a reset link");
    // Whatever is added to the mailed link, the reset does not read it.
    let path = format!(
        "{}&next={}",
        link.trim_start_matches(&app.address),
        urlenc(TAMPERED[0])
    );
    let reset = b.get(&path).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert!(!reset.body.contains("evil"));
    let token = input_value(&reset.body, "token");
    let done = b
        .post(
            &format!("/password/reset?next={}", urlenc(TAMPERED[0])),
            &[
                ("token", &token),
                ("password", "a brand new passphrase"),
                ("csrf_token", &reset.csrf()),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/login?reset=1");
    assert_stays(done.location());
}

/// The sign-in page of an application's request offers a way back: its "Cancel" link answers
/// the client `access_denied` with its `state` and `iss`, instead of leaving it waiting. Only
/// an authorization request can be cancelled so; anything else is refused.
#[tokio::test]
async fn cancelling_the_sign_in_answers_the_client_access_denied() {
    let app = spawn_app().await;
    let client = named_client(&app, true).await;
    let (authorize, _) = authorize_path(&client);
    let b = Browser::new(&app);
    let login = start(&b, &authorize).await;
    let cancel = attr_after(&login.body, "<a href=\"/authorize/cancel");
    let cancel = format!("/authorize/cancel{}", cancel.replace("&amp;", "&"));
    assert!(login.body.contains("data-cancel"), "{}", login.body);
    let back = b.get(&cancel).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert!(
        back.location().starts_with(REDIRECT_URI),
        "{}",
        back.location()
    );
    assert_eq!(
        query_param(back.location(), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(back.location(), "state").as_deref(),
        Some("st-detour")
    );
    assert_eq!(
        query_param(back.location(), "iss").as_deref(),
        Some(app.address.as_str())
    );
    for next in ["/account", "//evil.example/authorize?x=1", ""] {
        let page = b
            .get(&format!("/authorize/cancel?next={}", urlenc(next)))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{next}");
    }
    assert!(
        !app.get("/login").await.body.contains("data-cancel"),
        "no app, no cancel"
    );
}

/// The path of the first `/unlock?token=` link mailed so far.
async fn unlock_path(app: &TestApp) -> String {
    let mails: Vec<String> = app.outbox(1).await.iter().map(|m| decode_qp(m)).collect();
    let mail = mails
        .iter()
        .find(|m| m.contains("/unlock?token="))
        .expect("the lockout notice");
    let start = mail.find("/unlock?token=").unwrap();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_.?=".contains(*c))
        .collect()
}

#[tokio::test]
async fn the_unlock_link_continues_to_the_request_the_lock_refused() {
    let app = spawn_app_with(|c| {
        c.captcha = authd::config::CaptchaKind::Test;
        c.captcha_test_answer = Some("open-sesame".into());
        c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
        c.protection.challenge_after = 100;
        c.protection.block_after = 100;
        c.protection.lock_after = 3;
    })
    .await;
    let user = app.user().await;
    // Guesses from other networks lock the account (it mails the owner an unlock link).
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        app.sign_in_again(&new_client(), ip, &user.email, "guess")
            .await;
    }
    let client = named_client(&app, true).await;
    let (authorize, verifier) = authorize_path(&client);
    let b = Browser::new(&app);
    let login = start(&b, &authorize).await;
    // The owner, from a new place, meets the lock's extra check.
    let refused = b.sign_in_on(&login, &user).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert!(refused.body.contains("data-challenge"), "{}", refused.body);

    // The mailed link carries only its token; the unlock page continues to the request.
    let link = unlock_path(&app).await;
    assert!(!link.contains("next"), "{link}");
    let ask = b.get(&link).await;
    assert_eq!(ask.status, StatusCode::OK, "{}", ask.body);
    assert_names_the_app(&ask);
    assert_eq!(link_to(&ask.body, "Continue to"), authorize);
    let token = input_value(&ask.body, "token");
    let done = b
        .post("/unlock", &[("token", &token), ("csrf_token", &ask.csrf())])
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains("id=\"unlocked\""), "{}", done.body);
    continue_and_redeem(&b, &done, &user, &client, &authorize, &verifier).await;

    // Another browser opening a link knows of no request: the plain sign-in page.
    let other = Browser::new(&app);
    let page = other.get(&link).await;
    assert_eq!(link_to(&page.body, "Go to sign in"), "/login");
}
