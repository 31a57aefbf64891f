//! The passkey as the step-up's strongest rung (docs/mfa.md), with real assertions from a
//! software passkey (`soft_passkey.rs`): offered first ("ask every time", `acr_values`, a
//! risky sign-in — also for an account whose only factor is a passkey, which no longer meets
//! the CAPTCHA); only an assertion started for this sign-in, by this account's passkey, once,
//! signs in; a refused one is a counted `challenge_failed`; the ID token's `acr`/`amr` say
//! `pwd` + `hwk`/`swk` + `mfa`. Also the passwordless sign-in's `amr` and session index.

use authd::domain::mfa::ACR_MFA;
use authd::events::EventKind;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestClient, TestUser, cidrs, csrf_from, id_claims, new_client, pkce, query_param,
    raw_rows, spawn_app_with, str_of, urlenc,
};
use crate::soft_passkey::{SoftPasskey, b64, enrol, post_json};

const START: &str = "/login/step-up/passkey/start";
const FINISH: &str = "/login/step-up/passkey/finish";

/// An app whose public URL names `localhost` (a relying-party id is never an IP address),
/// trusting the test's `X-Forwarded-For`.
async fn app() -> TestApp {
    spawn_app_with(|c| {
        c.issuer.set_host(Some("localhost")).unwrap();
        c.trusted_proxies = cidrs(&["127.0.0.1/32"]);
    })
    .await
}

/// The value of the first attribute `name` in a page (entities of `&` undone).
fn attr(body: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end]
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
}

fn error(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

async fn account_id(app: &TestApp, user: &TestUser) -> String {
    let a = app.state.accounts.find_by_email(&user.email).await.unwrap();
    a.unwrap().id
}

/// Signs `user` in on the test's own client, enrols a passkey for it, signs out.
async fn with_passkey(app: &TestApp, user: &TestUser, synced: bool) -> SoftPasskey {
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let mut key = SoftPasskey::new(app, synced);
    enrol(app, &mut key).await;
    app.post_logout().await;
    key
}

/// Starts the step-up's assertion on `app.client`; its options.
async fn start(app: &TestApp, csrf: &str) -> Value {
    let (status, body) = post_json(app, &app.client, START, csrf, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["publicKey"].clone()
}

async fn finish(app: &TestApp, path: &str, csrf: &str, credential: &Value) -> (StatusCode, Value) {
    let body = json!({ "credential": credential });
    post_json(app, &app.client, path, csrf, &body).await
}

async fn signed_in(app: &TestApp) -> bool {
    app.get("/account").await.status == StatusCode::OK
}

async fn events_of(app: &TestApp, kind: EventKind) -> Vec<String> {
    app.events()
        .await
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.decision.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_passkey_is_the_first_rung_and_only_a_fresh_assertion_of_the_accounts_own_key_passes() {
    let app = app().await;
    let user = app.user().await; // a verified address: the e-mailed code is on offer too
    let mut key = with_passkey(&app, &user, false).await;
    let other = app.user().await;
    let mut other_key = with_passkey(&app, &other, false).await;
    let id = account_id(&app, &user).await;
    app.state.accounts.set_require_mfa(&id, true).await.unwrap();

    // The password: the passkey is asked for first, the e-mailed code offered as another way.
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let body = &page.body;
    assert!(body.contains(r#"data-challenge="webauthn""#), "{body}");
    assert!(body.contains("data-passkey-assert"));
    assert!(body.contains(r#"src="/static/passkey.js""#));
    assert_eq!(attr(body, "data-start"), START);
    assert_eq!(attr(body, "data-finish"), FINISH);
    assert!(body.contains(r#"name="factor" value="email""#));
    assert!(!body.contains(r#"name="password""#));
    assert!(!signed_in(&app).await, "signed in as nobody meanwhile");
    let csrf = attr(body, "data-csrf");

    // Choosing the e-mail, then the passkey again (the existing "choose" buttons).
    let form = [("factor", "email"), ("csrf_token", csrf.as_str())];
    let chose = app.post_form("/login", &form).await;
    assert!(chose.body.contains(r#"data-challenge="email""#));
    assert!(chose.body.contains(r#"name="factor" value="webauthn""#));
    let form = [("factor", "webauthn"), ("csrf_token", csrf.as_str())];
    let chose = app.post_form("/login", &form).await;
    assert!(chose.body.contains(r#"data-challenge="webauthn""#));

    // A finish without a start: refused, and counted.
    let unasked = json!({ "rpId": "localhost", "challenge": b64(&[7u8; 32]) });
    let (status, body) = finish(&app, FINISH, &csrf, &key.assert(&unasked)).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::BAD_REQUEST, "rejected")
    );

    // Started: only this account's passkey may answer, with user verification.
    let opts = start(&app, &csrf).await;
    assert_eq!(opts["userVerification"], "required");
    let allowed: Vec<&str> = opts["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(allowed, [b64(&key.cred_id)]);
    // Another account's passkey answers: refused.
    let (status, body) = finish(&app, FINISH, &csrf, &other_key.assert(&opts)).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::BAD_REQUEST, "rejected")
    );
    // The right key, for the ceremony that refusal spent: refused too (single use).
    let (status, _) = finish(&app, FINISH, &csrf, &key.assert(&opts)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!signed_in(&app).await);
    // The failures counted on the ladder like wrong passwords.
    let rows = raw_rows(
        &app.db,
        &format!("select source from login_failure where account_key = 'user:{id}'"),
    )
    .await;
    assert!(!rows.is_empty(), "counted");

    // A fresh start and the right assertion: signed in.
    let opts = start(&app, &csrf).await;
    let right = key.assert(&opts);
    let (status, body) = finish(&app, FINISH, &csrf, &right).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["redirect"], "/account");
    assert!(signed_in(&app).await);
    // The session's sign-in: a password and a device-bound key.
    let web = app.web_client().await;
    let claims = id_claims(&app.tokens_for(&web, &user, "openid").await);
    assert_eq!(claims["acr"], ACR_MFA);
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]));

    // Replayed on the signed-in session: no step-up is pending.
    let csrf_now = app.get("/account").await.csrf();
    let (status, body) = finish(&app, FINISH, &csrf_now, &right).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::UNAUTHORIZED, "sign_in_again")
    );
    // Replayed into the next sign-in's step-up: its challenge is another.
    app.post_logout().await;
    let page = app.post_login(&user.email, &user.password).await;
    let csrf = attr(&page.body, "data-csrf");
    start(&app, &csrf).await;
    let (status, _) = finish(&app, FINISH, &csrf, &right).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!signed_in(&app).await);

    let failed = events_of(&app, EventKind::ChallengeFailed).await;
    assert_eq!(failed, ["factor:webauthn"; 4], "{failed:?}");
    let passed = events_of(&app, EventKind::ChallengePassed).await;
    assert_eq!(passed, ["factor:webauthn"]);
}

#[tokio::test]
async fn a_clone_answering_with_a_sign_count_already_used_is_refused() {
    let app = app().await;
    let user = app.user().await;
    let mut key = with_passkey(&app, &user, false).await;
    let id = account_id(&app, &user).await;
    app.state.accounts.set_require_mfa(&id, true).await.unwrap();
    // The step-up's ceremony starts while the stored sign count is the key's (0).
    let page = app.post_login(&user.email, &user.password).await;
    let csrf = attr(&page.body, "data-csrf");
    let opts = start(&app, &csrf).await;
    // Meanwhile the key signs in elsewhere, passwordless: the stored count moves on to 1.
    let elsewhere = new_client();
    let login = elsewhere.get(app.url("/login")).send().await.unwrap();
    let there = csrf_from(&login.text().await.unwrap());
    let path = "/login/passkey/start";
    let (status, body) = post_json(&app, &elsewhere, path, &there, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = json!({ "credential": key.assert(&body["publicKey"]) });
    let path = "/login/passkey/finish";
    let (status, body) = post_json(&app, &elsewhere, path, &there, &answer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A copy of the key as it was before that use answers the step-up with count 1 again:
    // past the count the ceremony started with, but already spent. Refused, and counted.
    key.rewind(1);
    let (status, body) = finish(&app, FINISH, &csrf, &key.assert(&opts)).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::BAD_REQUEST, "rejected")
    );
    assert!(!signed_in(&app).await);
    let failed = events_of(&app, EventKind::ChallengeFailed).await;
    assert_eq!(failed, ["factor:webauthn"], "{failed:?}");
    // The key itself, its count moved on, passes.
    let opts = start(&app, &csrf).await;
    let (status, body) = finish(&app, FINISH, &csrf, &key.assert(&opts)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(signed_in(&app).await);
}

/// `/authorize?…&acr_values=…` for `web`.
fn authorize_path(web: &TestClient, challenge: &str, acr: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1\
         &nonce=n1&code_challenge={challenge}&code_challenge_method=S256&acr_values={}",
        web.id,
        urlenc(&web.redirect_uri),
        urlenc(acr)
    )
}

#[tokio::test]
async fn acr_values_step_a_passkey_only_account_up_to_its_synced_passkey() {
    let app = app().await;
    let user = TestUser::generate();
    app.register(&user).await; // an unverified address: the passkey is its only factor
    let mut key = with_passkey(&app, &user, true).await;
    let web = app.web_client().await;
    let (verifier, challenge) = pkce();
    let page = app.get(&authorize_path(&web, &challenge, ACR_MFA)).await;
    let login = page.location().to_owned();
    assert!(login.starts_with("/login"), "{login}");
    let csrf = app.get(&login).await.csrf();
    let stepped = app
        .post_credentials(&login, &user.email, &user.password, &csrf)
        .await;
    assert_eq!(stepped.status, StatusCode::UNAUTHORIZED);
    assert!(stepped.body.contains(r#"data-challenge="webauthn""#));
    assert!(!stepped.body.contains(r#"name="factor""#), "nothing else");
    // The finish keeps the pending authorization request.
    let finish_path = attr(&stepped.body, "data-finish");
    assert!(finish_path.starts_with(&format!("{FINISH}?next=")));
    let csrf = attr(&stepped.body, "data-csrf");
    let opts = start(&app, &csrf).await;
    let (status, body) = finish(&app, &finish_path, &csrf, &key.assert(&opts)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let back = app.get(str_of(&body, "redirect")).await;
    assert!(
        back.location().starts_with(&web.redirect_uri),
        "{}",
        back.location()
    );
    let code = query_param(back.location(), "code").unwrap();
    let (status, tokens) = app
        .token(
            &web,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &web.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = id_claims(&tokens);
    assert_eq!(claims["acr"], ACR_MFA);
    assert_eq!(claims["amr"], json!(["pwd", "swk", "mfa"]), "a synced key");
}

const RISKY_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

#[tokio::test]
async fn a_risky_right_password_of_a_passkey_only_account_meets_the_passkey_not_the_captcha() {
    let app = app().await;
    let user = TestUser::generate();
    app.register(&user).await; // unverified: no e-mailed code, no app
    let mut key = with_passkey(&app, &user, false).await;
    for _ in 0..15 {
        let page = app.post_login(&user.email, &user.password).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        app.post_logout().await;
    }
    // Somewhere new: another network, browser and cookie jar.
    let b = new_client();
    let ip = "203.0.113.50";
    let send = |req: reqwest::RequestBuilder| {
        req.header("x-forwarded-for", ip)
            .header("user-agent", RISKY_UA)
            .send()
    };
    let login = send(b.get(app.url("/login"))).await.unwrap();
    let csrf = crate::helpers::csrf_from(&login.text().await.unwrap());
    let form = [
        ("username", user.email.as_str()),
        ("password", user.password.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    let res = send(b.post(app.url("/login")).form(&form)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"data-challenge="webauthn""#), "{body}");
    assert!(!body.contains(r#"data-challenge="captcha""#));
    let challenged = events_of(&app, EventKind::LoginChallenged).await;
    assert_eq!(
        challenged.last().map(String::as_str),
        Some("high_risk; right password")
    );

    let csrf = attr(&body, "data-csrf");
    let json_post = |path: &str, body: Value| {
        send(
            b.post(app.url(path))
                .header("x-csrf-token", &csrf)
                .json(&body),
        )
    };
    let opts: Value = json_post(START, json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = json!({ "credential": key.assert(&opts["publicKey"]) });
    let res = json_post(FINISH, answer).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let account = send(b.get(app.url("/account"))).await.unwrap();
    assert_eq!(
        account.status(),
        StatusCode::OK,
        "the owner, with the passkey, is in"
    );
    let passed = events_of(&app, EventKind::ChallengePassed).await;
    assert_eq!(passed.last().map(String::as_str), Some("factor:webauthn"));
}

#[tokio::test]
async fn a_passwordless_sign_in_records_the_keys_amr_and_is_indexed() {
    let app = app().await;
    let user = app.user().await;
    let mut key = with_passkey(&app, &user, false).await;
    let csrf = app.get_login().await.csrf();
    let (status, body) =
        post_json(&app, &app.client, "/login/passkey/start", &csrf, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = json!({ "credential": key.assert(&body["publicKey"]) });
    let (status, body) =
        post_json(&app, &app.client, "/login/passkey/finish", &csrf, &answer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Listed among the sessions (so it can be signed out from there).
    let page = app.get("/account/security").await;
    assert!(page.body.contains("data-current"), "{}", page.body);
    // A user-verified passkey alone: the key held and unlocked, two factors.
    let web = app.web_client().await;
    let claims = id_claims(&app.tokens_for(&web, &user, "openid").await);
    assert_eq!(claims["amr"], json!(["hwk", "mfa"]));
    assert_eq!(claims["acr"], ACR_MFA);
}

/// A passwordless sign-in on `app.client` with `key`; the `login_succeeded` decision.
async fn passkey_sign_in(app: &TestApp, key: &mut SoftPasskey) -> String {
    let csrf = app.get_login().await.csrf();
    let (status, body) =
        post_json(app, &app.client, "/login/passkey/start", &csrf, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = json!({ "credential": key.assert(&body["publicKey"]) });
    let (status, body) = post_json(app, &app.client, "/login/passkey/finish", &csrf, &answer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The log lists newest first.
    events_of(app, EventKind::LoginSucceeded).await.remove(0)
}

/// The owner, in a browser of their own, reports `app.client`'s session as "this wasn't me".
async fn report_the_test_client(app: &TestApp, user: &TestUser) {
    let owner = new_client();
    let p = app
        .sign_in_again(&owner, "127.0.0.1", &user.email, &user.password)
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = |path: &'static str| owner.get(app.url(path)).send();
    let csrf = crate::helpers::read(page("/account/security").await.unwrap())
        .await
        .csrf();
    let reauth = [("csrf_token", csrf.as_str()), ("password", &user.password)];
    let done = owner
        .post(app.url("/account/security/reauth"))
        .form(&reauth);
    assert!(done.send().await.unwrap().status().is_redirection());
    let listed = crate::helpers::read(page("/account/security").await.unwrap()).await;
    let reported = listed
        .body
        .split("data-session=\"")
        .skip(1)
        .find(|row| !row.split('>').next().unwrap().contains("data-current"))
        .and_then(|row| row.split('"').next())
        .unwrap()
        .to_owned();
    let form = [
        ("csrf_token", listed.csrf()),
        ("action", "not_me".to_owned()),
        ("session", reported),
    ];
    let sent = owner
        .post(app.url("/account/security/sessions"))
        .form(&form);
    let answer = sent.send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_passkey_sign_in_from_a_reported_browser_is_no_known_devices() {
    let app = app().await;
    let user = app.user().await;
    let mut key = with_passkey(&app, &user, false).await;
    assert_eq!(
        passkey_sign_in(&app, &mut key).await,
        "allow:known_device; amr hwk"
    );
    report_the_test_client(&app, &user).await;
    assert!(!signed_in(&app).await, "the reported session ended");
    // The browser keeps its cookie and the passkey: it signs in, as a new device.
    assert_eq!(passkey_sign_in(&app, &mut key).await, "allow; amr hwk");
}

/// An operator's factor reset (`authd user mfa reset`, the console's, the API's: one call)
/// removes the passkeys too: a lost device, or one an intruder added, must not outlive it as
/// a passwordless sign-in or a step-up answer. An account whose only factor is a passkey had
/// something removed.
#[tokio::test]
async fn an_operators_factor_reset_removes_every_passkey() {
    let app = app().await;
    let user = app.user().await;
    with_passkey(&app, &user, false).await;
    let id = account_id(&app, &user).await;
    let count = format!("select cast(count(*) as text) from passkey where account_id = '{id}'");
    assert_eq!(raw_rows(&app.db, &count).await[0][0], "1");
    let v = crate::cli::cli_json(&app.db.url, &["user", "mfa", "reset", &user.email]).await;
    assert_eq!(v["removed"], true, "{v}");
    assert_eq!(raw_rows(&app.db, &count).await[0][0], "0");
    assert!(!app.state.passkeys.has_passkeys(&id).await.unwrap());
    let removed = app.events().await;
    assert!(
        removed
            .iter()
            .any(|e| e.kind == EventKind::MfaRemoved
                && e.decision.as_deref() == Some("mfa_reset:cli"))
    );
}

/// A passkey added by a session whose sign-in passed no factor (the account's first, with the
/// password alone) goes with the owner's reset; one added past a factor stays.
#[tokio::test]
async fn a_passkey_added_with_the_password_alone_goes_with_the_owners_reset() {
    let app = app().await;
    let user = app.user().await;
    with_passkey(&app, &user, false).await;
    assert_eq!(
        app.state
            .passkeys
            .list(&account_id(&app, &user).await)
            .await
            .unwrap()
            .len(),
        1
    );
    let done = crate::totp::owner_resets(&app, &user).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let id = account_id(&app, &user).await;
    assert!(
        app.state.passkeys.list(&id).await.unwrap().is_empty(),
        "the key went"
    );
    // Added again by a session that passed the mailed code first: the next reset keeps it.
    let owner = TestUser {
        email: user.email.clone(),
        password: "the owner's own passphrase".into(),
    };
    let page = app.post_login(&owner.email, &owner.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    crate::factor_changes::pass_the_mailed_code(&app, &owner).await;
    let mut key = SoftPasskey::new(&app, false);
    enrol(&app, &mut key).await;
    app.post_logout().await;
    let done = crate::totp::owner_resets(&app, &owner).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(app.state.passkeys.list(&id).await.unwrap().len(), 1, "kept");
}

/// A key set up with the password alone vouches for no other: signed in with it alone (its
/// `amr` holds `mfa`), the key added then is not proven either, and the owner's reset removes
/// both (without the sign-in's own record of it, the second would survive the reset).
#[tokio::test]
async fn a_key_set_up_with_the_password_alone_vouches_for_no_other() {
    let app = app().await;
    let user = app.user().await;
    let mut first = with_passkey(&app, &user, false).await;
    passkey_sign_in(&app, &mut first).await;
    let mut second = SoftPasskey::new(&app, false);
    enrol(&app, &mut second).await;
    let id = account_id(&app, &user).await;
    let keys = app.state.passkeys.list(&id).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| !k.proven), "{keys:?}");
    app.post_logout().await;
    let done = crate::totp::owner_resets(&app, &user).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(app.state.passkeys.list(&id).await.unwrap().is_empty());
}
