//! #15.2: no account enumeration through the risk score or its 429s. An attacker without the
//! password sees, for a name, a status and whether a challenge is shown; for a real account
//! with a history, a brand-new real account and a name with no account, from a fresh address
//! and from a busy one, those must come from one distribution.

use reqwest::StatusCode;

use authd::config::{CaptchaKind, Config};

use crate::helpers::{Page, TestApp, TestUser, new_client, read, spawn_app_with};

const HOME_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const ATTACKER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

fn config(c: &mut Config) {
    c.captcha = CaptchaKind::Test;
    c.captcha_test_answer = Some("open-sesame".into());
    c.trusted_proxies = crate::helpers::cidrs(&["127.0.0.1/32"]);
    c.rate_limits.login_per_ip = 10_000;
    c.rate_limits.login_per_account = 10_000;
    // These probes (one wrong password per name, each from a fresh /24, most names unknown)
    // are shaped like a stuffing wave, which would challenge every new context, names with
    // and without accounts alike (tests/api/waves.rs). Here the per-name answers are the
    // subject, so no wave.
    c.waves.min_failures = 1_000_000;
}

/// What an attacker without the password can see of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Seen {
    /// 401, the plain form again.
    Plain,
    /// 401 with `data-challenge`.
    Challenge,
    /// 429.
    Refused,
    /// Anything else (a 303 would be a bug here: every password is wrong).
    Other(u16),
}

fn seen(page: &Page) -> Seen {
    match page.status {
        StatusCode::UNAUTHORIZED if page.body.contains("data-challenge") => Seen::Challenge,
        StatusCode::UNAUTHORIZED => Seen::Plain,
        StatusCode::TOO_MANY_REQUESTS => Seen::Refused,
        s => Seen::Other(s.as_u16()),
    }
}

/// One sign-in from `ip` with user agent `ua`, in a fresh browser.
async fn try_from(app: &TestApp, ip: &str, ua: &str, email: &str, password: &str) -> Page {
    let client = new_client();
    let login = client
        .get(app.url("/login"))
        .header("x-forwarded-for", ip)
        .header("user-agent", ua)
        .send()
        .await
        .unwrap();
    let csrf = read(login).await.csrf();
    read(
        client
            .post(app.url("/login"))
            .header("x-forwarded-for", ip)
            .header("user-agent", ua)
            .form(&[
                ("username", email),
                ("password", password),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Real accounts: `established` with a typical history (fifteen sign-ins from home; the first
/// built through the form, the others given the same profile), and `fresh` never signed in.
async fn accounts(app: &TestApp, established: usize, fresh: usize) -> (Vec<String>, Vec<String>) {
    let first = app.user().await;
    for _ in 0..15 {
        let page = try_from(app, "198.51.100.20", HOME_UA, &first.email, &first.password).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
    }
    let id = |email: String| async move {
        app.state
            .accounts
            .find_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let profile = app
        .state
        .risk_store
        .profile(&id(first.email.clone()).await)
        .await
        .unwrap()
        .expect("a history");
    let mut with_history = vec![first.email];
    for _ in 1..established {
        let u = app.user().await;
        let uid = id(u.email.clone()).await;
        app.state
            .risk_store
            .save_profile(&uid, &profile, 0)
            .await
            .unwrap();
        with_history.push(u.email);
    }
    let mut new = Vec::new();
    for _ in 0..fresh {
        new.push(app.user().await.email);
    }
    (with_history, new)
}

/// Sign-ins with a wrong password, each from a fresh /24 and a browser the accounts never
/// used (a different wrong password each time, so nothing looks like spraying).
async fn probe_fresh(app: &TestApp, names: &[String], offset: usize) -> Vec<Seen> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let n = offset + i;
        let ip = format!("10.{}.{}.7", n / 200, n % 200);
        let page = try_from(app, &ip, ATTACKER_UA, name, &format!("wrong-{n}-guess")).await;
        out.push(seen(&page));
    }
    out
}

fn count(v: &[Seen], s: Seen) -> usize {
    v.iter().filter(|x| **x == s).count()
}

#[tokio::test]
async fn from_a_fresh_address_unknown_names_answer_like_real_accounts() {
    let app = spawn_app_with(config).await;
    let (with_history, new) = accounts(&app, 8, 8).await;
    let real_history = probe_fresh(&app, &with_history, 0).await;
    let real_new = probe_fresh(&app, &new, 100).await;
    // A real account with a history is challenged from a new place (a stolen password must
    // be), a brand-new one has nothing to compare with.
    assert!(
        real_history.iter().all(|s| *s == Seen::Challenge),
        "{real_history:?}"
    );
    assert!(real_new.iter().all(|s| *s == Seen::Plain), "{real_new:?}");
    // Unknown names: each answered like one of the real accounts, and over many names both
    // answers occur (they stand in for real accounts drawn at random), so neither answer says
    // "no such account".
    let unknown: Vec<String> = (0..60)
        .map(|_| TestUser::generate().email.replace("user-", "ghost-"))
        .collect();
    let ghosts = probe_fresh(&app, &unknown, 1000).await;
    assert_eq!(
        count(&ghosts, Seen::Challenge) + count(&ghosts, Seen::Plain),
        ghosts.len(),
        "{ghosts:?}"
    );
    assert!(count(&ghosts, Seen::Challenge) >= 3, "{ghosts:?}");
    assert!(count(&ghosts, Seen::Plain) >= 3, "{ghosts:?}");
    // The same name gets the same answer every time (a real account's is stable too).
    let again = probe_fresh(&app, &unknown[..10], 2000).await;
    assert_eq!(again, ghosts[..10].to_vec());
}

#[tokio::test]
async fn from_a_busy_address_unknown_names_answer_like_real_accounts() {
    let app = spawn_app_with(config).await;
    let (with_history, new) = accounts(&app, 1, 1).await;
    // A spraying campaign from one address: one common password over many names.
    let busy = "203.0.113.66";
    for i in 0..40 {
        let page = try_from(
            &app,
            busy,
            ATTACKER_UA,
            &format!("victim{i}@example.org"),
            "Summer2026!",
        )
        .await;
        assert_ne!(
            seen(&page),
            Seen::Refused,
            "a first attempt on a name is never refused"
        );
    }
    // Its first attempt on any further name, real or not: the same answer.
    let mut names = vec![with_history[0].clone(), new[0].clone()];
    names.extend((0..20).map(|i| format!("nobody{i}@example.net")));
    for name in &names {
        let page = try_from(&app, busy, ATTACKER_UA, name, "Summer2026!").await;
        assert_eq!(seen(&page), Seen::Challenge, "{name}");
    }
    // The ladder still refuses a source that keeps failing on one name, real or not.
    for name in [&with_history[0], &names[2]] {
        let page = try_from(&app, busy, ATTACKER_UA, name, "Summer2026!").await;
        assert_eq!(seen(&page), Seen::Refused, "{name}");
    }
}

/// A hash made at another cost than today's (the operator changed `AUTHD_ARGON2_*`) verifies at
/// its own cost, so its account would answer a wrong password in another time than an unknown
/// name (checked against a dummy made at today's cost): the owner's next sign-in stores the
/// password hashed at today's cost; sessions are not touched.
#[tokio::test]
async fn a_hash_made_at_another_cost_is_made_again_at_today_s_on_sign_in() {
    use authd::domain::accounts::password::{HashParams, PasswordHasher};
    let app = crate::helpers::spawn_app().await;
    let user = app.user().await;
    let old_cost = HashParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };
    let old = PasswordHasher::new(old_cost, 1, 1)
        .unwrap()
        .hash(&user.password.clone().into())
        .await
        .unwrap();
    let hasher = app.state.accounts.hasher();
    assert!(hasher.needs_rehash(&old));
    crate::helpers::raw_execute(
        &app.db,
        "update account set password_hash = $1 where email = $2",
        &[&old, &user.email],
    )
    .await;
    let stored = || async {
        crate::helpers::raw_rows(
            &app.db,
            &format!(
                "select password_hash from account where email = '{}'",
                user.email
            ),
        )
        .await
        .remove(0)
        .remove(0)
    };
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    app.state.background.settled().await;
    let new = stored().await;
    assert_ne!(new, old, "hashed again");
    assert!(!hasher.needs_rehash(&new), "at today's cost: {new}");
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "the session stays"
    );
    // The same password, of course.
    let again = crate::helpers::new_client();
    let page = app
        .sign_in_from(&again, "127.0.0.1", &user.email, &user.password, None)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    // A hash at today's cost is left alone.
    app.state.background.settled().await;
    assert_eq!(stored().await, new);
}
