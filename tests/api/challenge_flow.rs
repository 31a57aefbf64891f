//! One submit after a challenge (issue #13): the forms show the CAPTCHA up front when the
//! ladder already has the source (or the form) at the rung; a passed CAPTCHA holds for one
//! more submit of the same attempt (bound to the session, single use, ten minutes), never for
//! a run of them; the register gate alike. The page asks plainly and never echoes a password.

use reqwest::StatusCode;

use authd::config::{CaptchaKind, Config};
use authd::events::EventKind;

use crate::helpers::{Page, TestApp, new_client, read, spawn_app_with};

pub(crate) const ANSWER: &str = "open-sesame";
pub(crate) const TYPO: &str = "typo-password-9";
const ASK: &str = "not a robot and enter your password again";

pub(crate) fn ladder(c: &mut Config) {
    c.captcha = CaptchaKind::Test;
    c.captcha_test_answer = Some(ANSWER.into());
    c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    c.protection.challenge_after = 3;
    c.protection.block_after = 10;
    // The score alone never challenges here: what is challenged is the ladder's doing.
    c.risk.challenge_at = 0.999;
    c.risk.block_at = 0.9999;
    c.protection.step_up_at = 0.999;
    c.rate_limits.login_per_ip = 1000;
    c.rate_limits.login_per_account = 1000;
    c.rate_limits.register_per_ip = 1000;
}

/// `GET path` as `client` from network `ip`.
pub(crate) async fn get(app: &TestApp, client: &reqwest::Client, ip: &str, path: &str) -> Page {
    let req = client.get(app.url(path)).header("x-forwarded-for", ip);
    read(req.send().await.unwrap()).await
}

/// `POST path` with `form` (and the CSRF token of a `GET` just before) as `client` from `ip`.
pub(crate) async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    ip: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Page {
    let csrf = get(app, client, ip, path).await.csrf();
    let mut form = form.to_vec();
    form.push(("csrf_token", &csrf));
    let req = client
        .post(app.url(path))
        .header("x-forwarded-for", ip)
        .form(&form);
    read(req.send().await.unwrap()).await
}

pub(crate) fn shows_challenge(page: &Page) -> bool {
    page.body.contains("data-challenge=\"captcha\"")
        && page.body.contains("name=\"captcha_answer\"")
}

/// Three `POST /login`s of `form` sent at once by `client` from `ip` (one session: each reads
/// it before any writes it back); their statuses.
pub(crate) async fn sign_ins_at_once(
    app: &TestApp,
    client: &reqwest::Client,
    ip: &str,
    form: &[(&str, &str)],
) -> [StatusCode; 3] {
    let send = || {
        client
            .post(app.url("/login"))
            .header("x-forwarded-for", ip)
            .form(form)
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    [a, b, c].map(|r| r.unwrap().status())
}

/// Three typos from `ip`: the pair is at the rung.
pub(crate) async fn to_the_rung(
    app: &TestApp,
    client: &reqwest::Client,
    ip: &str,
    email: &str,
) -> Page {
    let mut last = None;
    for _ in 0..3 {
        last = Some(app.sign_in_from(client, ip, email, TYPO, None).await);
    }
    last.unwrap()
}

/// The right password past a CAPTCHA, from a browser the account does not know, still owes the
/// second factor (docs/mfa.md, "The policy", rule 3): `page` asks for the e-mailed code, and
/// the owner, who reads it, signs in with it.
async fn the_owner_passes_the_factor(
    app: &TestApp,
    client: &reqwest::Client,
    ip: &str,
    page: Page,
) {
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert!(
        page.body.contains("data-challenge=\"email\""),
        "{}",
        page.body
    );
    assert!(!shows_challenge(&page), "the CAPTCHA is behind");
    let page = app.pass_email_step_up(client, ip).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

pub(crate) async fn count(app: &TestApp, kind: EventKind) -> usize {
    app.events().await.iter().filter(|e| e.kind == kind).count()
}

#[tokio::test]
async fn at_the_rung_the_form_shows_the_challenge_first_and_one_submit_signs_in() {
    let app = spawn_app_with(ladder).await;
    let user = app.user().await;
    let ip = "198.51.100.7";
    let typist = new_client();
    assert!(!shows_challenge(&get(&app, &typist, ip, "/login").await));
    let third = to_the_rung(&app, &typist, ip, &user.email).await;
    assert_eq!(third.status, StatusCode::UNAUTHORIZED);
    // The next attempt will meet the rung: the page already carries the CAPTCHA and says so.
    assert!(shows_challenge(&third), "{}", third.body);
    assert!(third.body.contains("Incorrect email or password."));
    assert!(third.body.contains(ASK), "{}", third.body);
    assert!(!third.body.contains(TYPO), "the password is never echoed");
    assert!(!third.body.contains("You can continue"));

    // Another browser on that network: the sign-in page shows it before anything is typed,
    // and counts nothing (no event, no counter).
    let fresh = new_client();
    let before = app.events().await.len();
    for _ in 0..5 {
        let page = get(&app, &fresh, ip, "/login").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(shows_challenge(&page));
    }
    assert_eq!(
        app.events().await.len(),
        before,
        "showing it records nothing"
    );
    // Elsewhere, nothing.
    assert!(!shows_challenge(
        &get(&app, &new_client(), "203.0.113.9", "/login").await
    ));

    // One submit: the answer and the right password; then the owner's second factor.
    let page = app
        .sign_in_from(&fresh, ip, &user.email, &user.password, Some(ANSWER))
        .await;
    assert_eq!(count(&app, EventKind::ChallengePassed).await, 1);
    the_owner_passes_the_factor(&app, &fresh, ip, page).await;
    assert_eq!(count(&app, EventKind::ChallengePassed).await, 2, "the code");
}

#[tokio::test]
async fn a_passed_challenge_holds_for_the_next_submit_only() {
    let app = spawn_app_with(ladder).await;
    let user = app.user().await;

    // The owner: passes the CAPTCHA with a typo, then types the right password without a
    // second CAPTCHA, even after reloading the sign-in page.
    let (owner, ip) = (new_client(), "198.51.100.20");
    to_the_rung(&app, &owner, ip, &user.email).await;
    let page = app
        .sign_in_from(&owner, ip, &user.email, TYPO, Some(ANSWER))
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(!shows_challenge(&page), "the pass holds: no second CAPTCHA");
    assert!(!page.body.contains(TYPO));
    let reload = get(&app, &owner, ip, "/login").await;
    assert!(!shows_challenge(&reload), "a fresh /login in that state");
    let page = app
        .sign_in_from(&owner, ip, &user.email, &user.password, None)
        .await;
    the_owner_passes_the_factor(&app, &owner, ip, page).await;

    // A script: one solved CAPTCHA buys two password checks, not three.
    let (bot, ip) = (new_client(), "198.51.100.30");
    to_the_rung(&app, &bot, ip, &user.email).await;
    let failed = count(&app, EventKind::LoginFailed).await;
    let page = app
        .sign_in_from(&bot, ip, &user.email, TYPO, Some(ANSWER))
        .await;
    assert!(!shows_challenge(&page));
    let page = app.sign_in_from(&bot, ip, &user.email, TYPO, None).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        shows_challenge(&page),
        "the pass is spent: the CAPTCHA again"
    );
    assert_eq!(count(&app, EventKind::LoginFailed).await, failed + 2);
    for _ in 0..2 {
        let page = app
            .sign_in_from(&bot, ip, &user.email, &user.password, None)
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "no third check");
        assert!(shows_challenge(&page));
        assert!(page.body.contains(ASK));
    }
    assert_eq!(count(&app, EventKind::LoginFailed).await, failed + 2);

    // Parallel submits on one held pass: exactly one is checked.
    let (racer, ip) = (new_client(), "198.51.100.40");
    to_the_rung(&app, &racer, ip, &user.email).await;
    app.sign_in_from(&racer, ip, &user.email, TYPO, Some(ANSWER))
        .await;
    let failed = count(&app, EventKind::LoginFailed).await;
    let csrf = get(&app, &racer, ip, "/login").await.csrf();
    let form = [
        ("username", user.email.as_str()),
        ("password", TYPO),
        ("csrf_token", csrf.as_str()),
    ];
    for status in sign_ins_at_once(&app, &racer, ip, &form).await {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        count(&app, EventKind::LoginFailed).await,
        failed + 1,
        "one pass, one check"
    );

    // Short-lived: ten minutes, then the CAPTCHA again.
    let (late, ip) = (new_client(), "198.51.100.50");
    to_the_rung(&app, &late, ip, &user.email).await;
    app.sign_in_from(&late, ip, &user.email, TYPO, Some(ANSWER))
        .await;
    app.clock.advance(time::Duration::seconds(601));
    assert!(shows_challenge(&get(&app, &late, ip, "/login").await));
    let page = app
        .sign_in_from(&late, ip, &user.email, &user.password, None)
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "the pass expired");
    assert!(shows_challenge(&page));
}

#[tokio::test]
async fn the_register_gate_shows_its_challenge_first_and_holds_a_pass_too() {
    let app = spawn_app_with(ladder).await;
    let (c, ip) = (new_client(), "198.51.100.60");
    let short = |email: &'static str| [("email", email), ("password", "short")];
    // Three typos (a too-short password) …
    let mut last = None;
    for _ in 0..3 {
        last = Some(post(&app, &c, ip, "/register", &short("a@example.com")).await);
    }
    let third = last.unwrap();
    assert_eq!(third.status, StatusCode::BAD_REQUEST);
    assert!(
        shows_challenge(&third),
        "the next submit meets the rung: shown now"
    );
    assert!(third.body.contains("aria-invalid=\"true\""));
    // … then a valid fourth with the answer is not refused.
    let ok = [
        ("email", "a@example.com"),
        ("password", "long enough pw"),
        ("captcha_answer", ANSWER),
    ];
    let page = post(&app, &c, ip, "/register", &ok).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // Another browser there: the CAPTCHA up front; passed with a typo, it holds once.
    let other = new_client();
    assert!(shows_challenge(&get(&app, &other, ip, "/register").await));
    let mut typo = short("b@example.com").to_vec();
    typo.push(("captcha_answer", ANSWER));
    let page = post(&app, &other, ip, "/register", &typo).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(!shows_challenge(&page), "the pass holds");
    let valid = |email: &'static str| [("email", email), ("password", "long enough pw")];
    let page = post(&app, &other, ip, "/register", &valid("b@example.com")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let b = app.state.accounts.find_by_email("b@example.com").await;
    assert!(b.unwrap().is_some());
    // Spent: the next registration needs its own CAPTCHA.
    let page = post(&app, &other, ip, "/register", &valid("c@example.com")).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(shows_challenge(&page) && page.body.contains(ASK));

    // The forgot form shows its own challenge up front once its network is at the rung.
    let f = new_client();
    assert!(!shows_challenge(
        &get(&app, &f, ip, "/password/forgot").await
    ));
    for _ in 0..3 {
        post(
            &app,
            &f,
            ip,
            "/password/forgot",
            &[("email", "a@example.com")],
        )
        .await;
    }
    assert!(shows_challenge(
        &get(&app, &f, ip, "/password/forgot").await
    ));
}

#[tokio::test]
async fn errors_are_tied_to_their_field() {
    let app = spawn_app_with(ladder).await;
    let user = app.user().await;
    let c = new_client();
    let page = get(&app, &c, "192.0.2.1", "/login").await;
    assert!(page.body.contains("data-password-toggle=\"password\""));
    assert!(page.body.contains("src=\"/static/password-toggle.js\""));
    assert!(!page.body.contains("aria-invalid"));
    let page = app
        .sign_in_from(&c, "192.0.2.1", &user.email, TYPO, None)
        .await;
    let field = password_input(&page);
    assert!(field.contains("aria-invalid=\"true\""), "{field}");
    assert!(
        field.contains("aria-describedby=\"login-error\""),
        "{field}"
    );
    assert!(field.contains("autofocus"), "focus on the field in error");
    assert!(page.body.contains("id=\"login-error\""));

    let page = post(
        &app,
        &c,
        "192.0.2.1",
        "/register",
        &[("email", "not-an-address"), ("password", "long enough pw")],
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let email = input_tag(&page, "id=\"email\"");
    assert!(email.contains("aria-invalid=\"true\""), "{email}");
    assert!(email.contains("aria-describedby=\"register-error\""));
    assert!(email.contains("autofocus"));
    assert!(!password_input(&page).contains("aria-invalid"));

    let script = read(
        c.get(app.url("/static/password-toggle.js"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.body.contains("data-password-toggle"));
}

/// The `<input …>` tag carrying `marker`.
fn input_tag(page: &Page, marker: &str) -> String {
    let at = page.body.find(marker).expect(marker);
    let start = page.body[..at].rfind("<input").unwrap();
    let end = at + page.body[at..].find('>').unwrap();
    page.body[start..=end].to_owned()
}

fn password_input(page: &Page) -> String {
    input_tag(page, "id=\"password\"")
}

#[tokio::test]
async fn the_reset_page_asks_twice_and_ties_a_mismatch_to_the_confirmation() {
    let app = spawn_app_with(ladder).await;
    let user = app.user().await;
    let c = new_client();
    crate::password_reset::forgot(&app, &c, &user.email).await;
    let mails = app.outbox(1).await;
    let link = mails
        .iter()
        .find_map(|m| crate::smtp::reset_link(m))
        .unwrap();
    let path = link.trim_start_matches(&app.address).to_owned();
    let page = read(c.get(app.url(&path)).send().await.unwrap()).await;
    assert!(page.body.contains("name=\"password_confirm\""));
    assert!(
        page.body
            .contains("data-password-toggle=\"password_confirm\"")
    );
    let token = crate::helpers::input_value(&page.body, "token");
    let send = |confirm: &'static str| {
        let form = [
            ("token", token.clone()),
            ("password", "a brand new passphrase".to_owned()),
            ("password_confirm", confirm.to_owned()),
            ("csrf_token", page.csrf()),
        ];
        let req = c.post(app.url("/password/reset")).form(&form);
        async move { read(req.send().await.unwrap()).await }
    };
    let differs = send("a brand new passphrasf").await;
    assert_eq!(differs.status, StatusCode::BAD_REQUEST);
    let confirm = input_tag(&differs, "id=\"password_confirm\"");
    assert!(confirm.contains("aria-invalid=\"true\""), "{confirm}");
    assert!(confirm.contains("aria-describedby=\"reset-error\""));
    assert!(confirm.contains("autofocus"));
    assert!(
        !differs.body.contains("a brand new passphras"),
        "never echoed"
    );
    // Nothing changed: the link still works.
    let done = send("a brand new passphrase").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}

#[tokio::test]
async fn a_challenge_answered_after_its_reason_is_gone_still_owes_the_second_factor() {
    // The CAPTCHA is shown for failures that have left the window by the time it is answered
    // (a wave that ended, a model retrained meanwhile, alike): whoever answers it with the
    // right password from a browser the account does not know still owes the second factor.
    let app = spawn_app_with(|c| {
        ladder(c);
        c.protection.window_secs = 120;
        c.risk.window_secs = 120;
    })
    .await;
    let user = app.user().await;
    let (someone, ip) = (new_client(), "198.51.100.70");
    let third = to_the_rung(&app, &someone, ip, &user.email).await;
    assert!(shows_challenge(&third), "{}", third.body);
    app.clock.advance(time::Duration::seconds(150));
    let page = app
        .sign_in_from(&someone, ip, &user.email, &user.password, Some(ANSWER))
        .await;
    assert_eq!(
        count(&app, EventKind::ChallengePassed).await,
        1,
        "the CAPTCHA"
    );
    let events = app.events().await;
    let stepped_up = events.iter().filter(|e| {
        e.kind == EventKind::LoginChallenged
            && e.decision.as_deref() == Some("challenged; right password from an unknown source")
    });
    assert_eq!(stepped_up.count(), 1, "{events:#?}");
    the_owner_passes_the_factor(&app, &someone, ip, page).await;
}

/// The score's block needs a source that already failed on the name; but a passed CAPTCHA is a
/// person's answer, so past it the score only challenges while the source has failed at most
/// twice: the owner on a new phone and network who mistyped once, while the account scores as
/// high as it gets, still reaches the password check and the e-mailed step-up — not a `429`
/// for the rest of the window. A guesser who answers every CAPTCHA is blocked after that.
#[tokio::test]
async fn a_passed_challenge_lifts_the_scores_block_for_a_mistype_not_for_guessing() {
    let app = spawn_app_with(|c| {
        ladder(c);
        // Every attempt scores above both thresholds: challenged, and blocked once the pair
        // has a failure.
        c.risk.challenge_at = 0.0;
        c.risk.block_at = 0.0;
    })
    .await;
    let user = app.user().await;
    let phone = new_client();
    let ip = "198.51.100.77";
    let first = app.sign_in_from(&phone, ip, &user.email, TYPO, None).await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED, "{}", first.body);
    // The pair has failed once: without an answer the score blocks it …
    let refused = app
        .sign_in_from(&phone, ip, &user.email, &user.password, None)
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    // … with a passed CAPTCHA it checks the password, and the right one owes the factor.
    let answered = app
        .sign_in_from(&phone, ip, &user.email, &user.password, Some(ANSWER))
        .await;
    the_owner_passes_the_factor(&app, &phone, ip, answered).await;

    // A guesser elsewhere who answers the CAPTCHA: the answered guess and the one its pass
    // holds for are checked; past them the score's block stands (no new CAPTCHA is shown, and
    // an answer to none is no answer).
    let bot = new_client();
    let ip = "203.0.113.88";
    let first = app.sign_in_from(&bot, ip, &user.email, TYPO, None).await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    let answered = app
        .sign_in_from(&bot, ip, &user.email, "guess-1-password", Some(ANSWER))
        .await;
    assert_eq!(answered.status, StatusCode::UNAUTHORIZED, "checked");
    let held = app
        .sign_in_from(&bot, ip, &user.email, "guess-2-password", None)
        .await;
    assert_eq!(
        held.status,
        StatusCode::UNAUTHORIZED,
        "checked on the held pass"
    );
    for guess in ["guess-3-password", "guess-4-password"] {
        let answer = (guess == "guess-4-password").then_some(ANSWER);
        let refused = app.sign_in_from(&bot, ip, &user.email, guess, answer).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{guess}");
    }
}

/// An operator who puts the score's challenge below the step-up wants no oracle (docs/mfa.md,
/// `AUTHD_RISK_CHALLENGE_AT` < `AUTHD_STEP_UP_AT`): an attempt the score challenges meets the
/// CAPTCHA whatever the password — no step-up page, no code mailed — and only past it does the
/// right password meet the second factor.
#[tokio::test]
async fn with_the_challenge_below_the_step_up_a_right_password_meets_the_captcha_first() {
    let app = spawn_app_with(|c| {
        ladder(c);
        // Every attempt scores above both: the score asks for the CAPTCHA and the step-up.
        c.risk.challenge_at = 0.0;
        c.protection.step_up_at = 0.001;
    })
    .await;
    let user = app.user().await;
    let (thief, ip) = (new_client(), "198.51.100.90");
    let right = app
        .sign_in_from(&thief, ip, &user.email, &user.password, None)
        .await;
    let wrong = app
        .sign_in_from(&new_client(), "198.51.100.91", &user.email, TYPO, None)
        .await;
    for (what, page) in [("right", &right), ("wrong", &wrong)] {
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(shows_challenge(page), "{what}: {}", page.body);
        assert!(!page.body.contains("data-challenge=\"email\""), "{what}");
    }
    app.drain_mail().await;
    let codes = crate::helpers::raw_rows(
        &app.db,
        "select kind from mail_queue where kind = 'email_code'",
    )
    .await;
    assert!(codes.is_empty(), "no code mailed before the CAPTCHA");
    // Past the CAPTCHA, the right password owes the factor.
    let answered = app
        .sign_in_from(&thief, ip, &user.email, &user.password, Some(ANSWER))
        .await;
    assert_eq!(answered.status, StatusCode::UNAUTHORIZED);
    assert!(
        answered.body.contains("data-challenge=\"email\""),
        "{}",
        answered.body
    );
}
