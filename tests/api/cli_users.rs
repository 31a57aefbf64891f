//! The operator's account commands run as the real binary (`authd user list|show|disable|
//! enable|delete`: their JSON and their `admin_action` events), a disabled account refused on
//! every path exactly like a wrong password, enable restoring sign-in, delete removing the
//! account, the CLI refusing to create a database outside `serve`/`migrate`, and the start-up
//! warnings of `serve`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::Value;

use authd::events::decision::Decision;
use authd::events::{AuthEvent, EventKind};

use crate::cli::{authd, authd_on};
use crate::helpers::{
    Page, TestApp, TestClient, TestUser, assert_redirect_to, new_client, read, spawn_app,
    spawn_app_with, str_of,
};

/// Runs `authd ARGS` on the app's database (off the async runtime); exit status, stdout as
/// JSON (`Null` when empty), stderr.
pub(crate) async fn cli(app: &TestApp, args: &[&str]) -> (bool, Value, String) {
    let url = app.db.url.clone();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let out = tokio::task::spawn_blocking(move || authd_on(&url).args(&args).output().unwrap())
        .await
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `admin_action` events about `user_id`, newest first.
async fn admin_actions(app: &TestApp, user_id: Option<&str>) -> Vec<AuthEvent> {
    app.events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::AdminAction && e.user_id.as_deref() == user_id)
        .collect()
}

fn account_id(v: &Value) -> String {
    str_of(v, "id").to_owned()
}

#[tokio::test]
async fn user_commands_print_json_and_each_is_an_admin_action() {
    let app = spawn_app().await;
    let alice = app.user().await;
    let bob = app.user().await;
    assert_redirect_to(&app.post_login(&bob.email, &bob.password).await, "/account");

    // list: every account, its status, nothing secret; one event without a target.
    let (ok, list, err) = cli(&app, &["user", "list"]).await;
    assert!(ok, "{err}");
    let users = list["users"].as_array().unwrap();
    assert_eq!(users.len(), 2, "{list}");
    assert_eq!(list["more"], false);
    for u in users {
        assert_eq!(u["disabled"], false);
        assert_eq!(u["locked"], false);
        assert_eq!(u["verified"], true, "created by an operator: vouched for");
        assert!(u.get("password_hash").is_none() && !u.to_string().contains("$argon2"));
    }
    let (_, one, _) = cli(&app, &["user", "list", "--limit", "1"]).await;
    assert_eq!(one["users"].as_array().unwrap().len(), 1);
    assert_eq!(one["more"], true);
    let first = str_of(&one["users"][0], "email").to_owned();
    let (_, rest, _) = cli(&app, &["user", "list", "--after", &first]).await;
    assert_eq!(rest["users"].as_array().unwrap().len(), 1);
    assert_ne!(str_of(&rest["users"][0], "email"), first);
    let (ok, _, err) = cli(&app, &["user", "list", "--limit", "0"]).await;
    assert!(!ok && err.contains("limit"), "{err}");
    let listed = admin_actions(&app, None).await;
    assert_eq!(listed.len(), 3, "one event per successful listing");
    assert!(
        listed
            .iter()
            .all(|e| e.decision_code == Some(Decision::AccountsListed)
                && e.request_id.as_deref() == Some("cli")
                && e.user_agent.as_deref() == Some("authd-cli"))
    );
    assert!(listed[0].decision.as_deref().unwrap().contains("actor cli"));

    // show: status, factors, sessions, created, last sign-in.
    let (ok, shown, err) = cli(&app, &["user", "show", &bob.email]).await;
    assert!(ok, "{err}");
    assert_eq!(shown["email"], bob.email.as_str());
    assert_eq!(shown["sessions"], 1, "{shown}");
    assert_eq!(shown["grants"], 0);
    assert_eq!(shown["factors"]["totp"], false);
    assert_eq!(shown["factors"]["passkeys"], 0);
    assert!(shown["created"].as_str().is_some());
    assert!(shown["last_sign_in"].as_str().is_some(), "{shown}");
    let (_, alice_shown, _) = cli(&app, &["user", "show", &alice.email]).await;
    assert_eq!(alice_shown["last_sign_in"], Value::Null);
    let bob_id = account_id(&shown);
    let e = &admin_actions(&app, Some(&bob_id)).await[0];
    assert_eq!(e.decision_code, Some(Decision::AccountShown));
    assert_eq!(e.username.as_deref(), Some(bob.email.as_str()));

    // disable, list --disabled, enable: JSON and events.
    let (ok, d, err) = cli(&app, &["user", "disable", &bob.email]).await;
    assert!(ok, "{err}");
    assert_eq!(
        (d["disabled"].as_bool(), d["changed"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(d["sessions_ended"], 1, "{d}");
    let (_, again, _) = cli(&app, &["user", "disable", &bob.email]).await;
    assert_eq!(again["changed"], false);
    let (_, disabled, _) = cli(&app, &["user", "list", "--disabled"]).await;
    let emails: Vec<_> = disabled["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| str_of(u, "email").to_owned())
        .collect();
    assert_eq!(emails, std::slice::from_ref(&bob.email));
    assert!(disabled["users"][0]["disabled_at"].as_str().is_some());
    let (ok, en, _) = cli(&app, &["user", "enable", &bob.email]).await;
    assert!(
        ok && en["changed"] == true && en["disabled"] == false,
        "{en}"
    );
    let (_, none, _) = cli(&app, &["user", "list", "--disabled"]).await;
    assert_eq!(none["users"].as_array().unwrap().len(), 0);
    let codes: Vec<_> = admin_actions(&app, Some(&bob_id))
        .await
        .into_iter()
        .map(|e| (e.decision_code, e.decision.unwrap_or_default()))
        .collect();
    assert_eq!(codes[0].0, Some(Decision::AccountEnabled));
    assert_eq!(codes[1].0, Some(Decision::AccountDisabled));
    assert!(codes[1].1.contains("already disabled"), "{codes:?}");
    assert_eq!(codes[2].0, Some(Decision::AccountDisabled));
    assert!(
        codes[2]
            .1
            .contains("actor cli; 1 sessions ended, 0 grants revoked"),
        "{codes:?}"
    );

    // delete needs --yes; an unknown account is an error on stderr, nothing on stdout.
    let (ok, out, err) = cli(&app, &["user", "delete", &alice.email]).await;
    assert!(!ok && out == Value::Null && err.contains("--yes"), "{err}");
    assert!(
        app.state
            .accounts
            .find_by_email(&alice.email)
            .await
            .unwrap()
            .is_some()
    );
    let (ok, out, err) = cli(&app, &["user", "show", "nobody@example.com"]).await;
    assert!(
        !ok && out == Value::Null && err.contains("no account"),
        "{err}"
    );
    let (ok, gone, err) = cli(&app, &["user", "delete", &alice.email, "--yes"]).await;
    assert!(ok, "{err}");
    assert_eq!(gone["deleted"], true);
    let alice_id = account_id(&gone);
    let e = &admin_actions(&app, Some(&alice_id)).await[0];
    assert_eq!(e.decision_code, Some(Decision::AccountDeleted));
}

/// The sign-in form posted from a fresh browser.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> Page {
    let browser = new_client();
    let csrf = read(browser.get(app.url("/login")).send().await.unwrap())
        .await
        .csrf();
    read(
        browser
            .post(app.url("/login"))
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

/// The refusal page with the typed name and the per-request CSRF token taken out.
fn refusal(page: &Page, typed: &str) -> String {
    let body = page.body.replace(typed, "<user>");
    body.replace(&crate::helpers::csrf_from(&page.body), "<csrf>")
}

async fn refresh(app: &TestApp, client: &TestClient, token: &str) -> (StatusCode, Value) {
    app.token(
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

#[tokio::test]
async fn a_disabled_account_is_refused_on_every_path_like_a_wrong_password() {
    // Timing is compared below: no challenge may short-cut the password path.
    let app = spawn_app_with(|c| {
        c.protection.challenge_after = 1000;
        c.protection.block_after = 1000;
        c.protection.lock_after = 1000;
    })
    .await;
    let user = app.user().await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid email").await;
    let (access, refresh_token) = (
        str_of(&tokens, "access_token").to_owned(),
        str_of(&tokens, "refresh_token").to_owned(),
    );
    assert_eq!(app.userinfo(&access).await.0, StatusCode::OK); // cached now
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    // A reset link mailed before the disable.
    crate::password_reset::forgot(&app, &new_client(), &user.email).await;
    let mails = app.outbox(1).await;
    let link = mails
        .iter()
        .find_map(|m| crate::smtp::reset_link(m))
        .unwrap();
    let reset_path = link.trim_start_matches(&app.address).to_owned();

    let (ok, d, err) = cli(&app, &["user", "disable", &user.email]).await;
    assert!(ok, "{err}");
    assert_eq!(
        (d["sessions_ended"].as_u64(), d["grants_revoked"].as_u64()),
        (Some(1), Some(1))
    );

    // The existing session is over.
    assert!(app.get("/account").await.location().starts_with("/login"));
    // Access tokens already issued: refused by introspection at once, by userinfo once this
    // instance's bearer cache (AUTHD_BEARER_CACHE_SECS, 1 s) has let go of its last pass.
    assert_eq!(app.introspect(&client, &access).await["active"], false);
    app.clock.advance(time::Duration::seconds(2));
    assert_eq!(app.userinfo(&access).await.0, StatusCode::UNAUTHORIZED);
    // The refresh token.
    let (status, body) = refresh(&app, &client, &refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The reset link mailed before is dead, and asking again mails nothing.
    let page = read(new_client().get(app.url(&reset_path)).send().await.unwrap()).await;
    assert!(
        !page.body.contains("name=\"token\""),
        "the form is not offered"
    );
    let sent_before = app.outbox(0).await.len();
    crate::password_reset::forgot(&app, &new_client(), &user.email).await;
    app.drain_mail().await;
    assert_eq!(
        app.outbox(0).await.len(),
        sent_before,
        "no link for a disabled account"
    );

    // The right password answers exactly like a wrong one, and like an unknown name.
    let unknown = format!("x{}", &user.email[1..]);
    let right = sign_in(&app, &user.email, &user.password).await;
    let wrong = sign_in(&app, &user.email, "a wrong password").await;
    let nobody = sign_in(&app, &unknown, "a wrong password").await;
    for page in [&right, &wrong, &nobody] {
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(refusal(&right, &user.email), refusal(&wrong, &user.email));
    assert_eq!(refusal(&right, &user.email), refusal(&nobody, &unknown));
    // …and in the same time: the hash is checked all the same. Each side's fastest answer
    // (the one least disturbed by whatever else the machine runs: tests run in parallel, and
    // hash threads yield to every other thread) is compared, not the median: a skipped hash
    // answers several times faster than the fastest of seven checked ones.
    let (mut r, mut w) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        for (password, out) in [
            (user.password.as_str(), &mut r),
            ("wrong password!", &mut w),
        ] {
            let started = Instant::now();
            sign_in(&app, &user.email, password).await;
            out.push(started.elapsed());
        }
    }
    let (r, w) = (r.iter().min().unwrap(), w.iter().min().unwrap());
    assert!(
        *r * 3 > *w && *w * 3 > *r,
        "fastest right {r:?} vs fastest wrong {w:?}"
    );

    // Enable: the password signs in again; what disable ended stays ended.
    let (ok, _, err) = cli(&app, &["user", "enable", &user.email]).await;
    assert!(ok, "{err}");
    assert_eq!(
        sign_in(&app, &user.email, &user.password).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        refresh(&app, &client, &refresh_token).await.0,
        StatusCode::BAD_REQUEST
    );
    let fresh = app.tokens_for(&client, &user, "openid").await;
    assert_eq!(
        app.userinfo(str_of(&fresh, "access_token")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_disable_through_the_service_takes_effect_at_once_on_this_instance() {
    let app = spawn_app().await;
    let user = app.user().await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    let access = str_of(&tokens, "access_token");
    assert_eq!(app.userinfo(access).await.0, StatusCode::OK);
    let ctx =
        authd::domain::context::RequestContext::new([127, 0, 0, 1].into(), "test", "r-1".into());
    let admin = authd::domain::accounts::admin::Actor::Admin("admin-id");
    let (_, done) = app
        .state
        .account_admin
        .disable(&ctx, admin, &user.email)
        .await
        .unwrap();
    assert!(done.changed);
    // No clock advance: the service clears this instance's bearer cache.
    assert_eq!(app.userinfo(access).await.0, StatusCode::UNAUTHORIZED);
    let rejected = app
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == EventKind::TokenRejected)
        .and_then(|e| e.decision);
    assert_eq!(rejected.as_deref(), Some("grant_revoked"));
    let e = &admin_actions(&app, Some(&done_user(&app, &user).await)).await[0];
    assert!(
        e.decision
            .as_deref()
            .unwrap()
            .contains("actor admin admin-id")
    );
}

async fn done_user(app: &TestApp, user: &TestUser) -> String {
    app.state
        .accounts
        .find_by_email(&user.email)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn delete_removes_the_account_and_keeps_its_events() {
    let app = spawn_app().await;
    let user = app.user().await;
    let id = done_user(&app, &user).await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await; // signs app.client in too
    let (ok, out, err) = cli(&app, &["user", "delete", &user.email, "--yes"]).await;
    assert!(ok, "{err}");
    assert_eq!(out["removed"]["sessions"], 1, "{out}");
    assert_eq!(out["removed"]["grants"], 1, "{out}");
    assert!(app.state.accounts.find_by_id(&id).await.unwrap().is_none());
    assert!(app.get("/account").await.location().starts_with("/login"));
    let refresh_token = str_of(&tokens, "refresh_token");
    assert_eq!(
        refresh(&app, &client, refresh_token).await.0,
        StatusCode::BAD_REQUEST
    );
    app.clock.advance(time::Duration::seconds(2));
    assert_eq!(
        app.userinfo(str_of(&tokens, "access_token")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, &user.email, &user.password).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Its history stays: the sign-in and the deletion, under the old id.
    let history: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.user_id.as_deref() == Some(id.as_str()))
        .map(|e| e.kind)
        .collect();
    assert!(history.contains(&EventKind::LoginSucceeded), "{history:?}");
    assert!(history.contains(&EventKind::AdminAction), "{history:?}");
    // The address can be registered afresh.
    let again = app
        .state
        .accounts
        .create(
            &user.email,
            "another long password".into(),
            false,
            authd::domain::accounts::service::Origin::Cli,
        )
        .await
        .unwrap();
    assert_ne!(again.id, id);
}

#[test]
fn the_cli_refuses_to_create_a_database_unless_told_to() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = authd()
        .current_dir(elsewhere.path())
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = std::path::absolute(elsewhere.path().join("authd.db")).unwrap();
    assert!(err.contains(&expected.display().to_string()), "{err}");
    assert!(
        err.contains("--config") && err.contains("--create"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        !elsewhere.path().join("authd.db").exists(),
        "nothing created"
    );

    // The server's database, found through --config from another directory.
    let server = tempfile::tempdir().unwrap();
    let db = server.path().join("server.db");
    let file = server.path().join("authd.toml");
    std::fs::write(
        &file,
        format!("database_url = \"sqlite://{}?mode=rwc\"\n", db.display()),
    )
    .unwrap();
    let migrated = authd()
        .current_dir(server.path())
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrated.status.success());
    let found = authd()
        .current_dir(elsewhere.path())
        .arg("--config")
        .arg(&file)
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
    assert!(!elsewhere.path().join("authd.db").exists());

    // --create makes one where asked.
    let created = authd()
        .current_dir(elsewhere.path())
        .args(["user", "list", "--create"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(elsewhere.path().join("authd.db").exists());
}

#[tokio::test]
async fn the_cli_refuses_a_postgres_database_without_authd_tables() {
    let Some(base) = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let (url, name) = authd::storage::postgres::create_scratch_database(&base)
        .await
        .unwrap();
    let run = |extra: &'static [&'static str]| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            authd_on(&url)
                .args(["user", "list"])
                .args(extra)
                .output()
                .unwrap()
        })
    };
    let refused = run(&[]).await.unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains(&name) && err.contains("no authd tables"),
        "{err}"
    );
    assert!(
        !err.contains("postgres://"),
        "the URL (and its password) is not echoed: {err}"
    );
    let created = run(&["--create"]).await.unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    authd::storage::postgres::drop_database(&base, &name)
        .await
        .unwrap();
}

/// Starts `authd serve` in `dir` with `env` until it listens; every log line up to then.
fn start_lines(dir: &std::path::Path, env: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = authd();
    cmd.current_dir(dir)
        .env("AUTHD_BIND", "127.0.0.1:0")
        .env("AUTHD_METRICS_BIND", "")
        .env("AUTHD_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let listening = line.contains("authd listening");
        seen.push(line);
        if listening {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.iter().any(|l| l.contains("authd listening")),
        "{seen:?}"
    );
    seen
}

fn warned(lines: &[String], text: &str) -> usize {
    lines
        .iter()
        .filter(|l| l.contains("\"WARN\"") && l.contains(text))
        .count()
}

#[test]
fn serve_warns_at_start_about_what_is_not_production_ready() {
    let issuer = "AUTHD_ISSUER is not https";
    let key = "the master key is kept beside the database";
    let mail = "AUTHD_SMTP_URL is empty";
    // A public http issuer, the generated key beside the database, mail to a directory.
    let dir = tempfile::tempdir().unwrap();
    let lines = start_lines(dir.path(), &[("AUTHD_ISSUER", "http://id.example.com")]);
    for text in [issuer, key, mail] {
        assert_eq!(warned(&lines, text), 1, "{text}: {lines:?}");
    }
    // Local development (a loopback issuer) and a key given from elsewhere: neither warning.
    let dir = tempfile::tempdir().unwrap();
    let lines = start_lines(
        dir.path(),
        &[
            ("AUTHD_ISSUER", "http://localhost:8080"),
            ("AUTHD_MASTER_KEY", crate::helpers::TEST_MASTER_KEY),
        ],
    );
    assert_eq!(warned(&lines, issuer), 0, "{lines:?}");
    assert_eq!(warned(&lines, key), 0, "{lines:?}");
    assert_eq!(warned(&lines, mail), 1, "{lines:?}");
    // A key file on another path: no key warning either.
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let path = keys.path().join("master.key");
    let lines = start_lines(
        dir.path(),
        &[("AUTHD_MASTER_KEY_PATH", path.to_str().unwrap())],
    );
    assert_eq!(warned(&lines, key), 0, "{lines:?}");
    assert_eq!(
        warned(&lines, issuer),
        0,
        "the default issuer is loopback: {lines:?}"
    );
}
