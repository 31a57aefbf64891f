//! The `authd` binary: `user add`, `migrate`, configuration errors, and `serve` from an empty
//! directory with graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{assert_redirect_to, spawn_app};

/// `authd` with no `AUTHD_*` variable inherited from the test environment.
pub fn authd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authd"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTHD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// `authd` on the test database `url`: with the harness's master key on PostgreSQL (where one
/// is required); on SQLite it finds the key generated beside the database.
pub fn authd_on(url: &str) -> Command {
    let mut cmd = authd();
    cmd.env("AUTHD_DATABASE_URL", url);
    if url.starts_with("postgres") {
        cmd.env("AUTHD_MASTER_KEY", crate::helpers::TEST_MASTER_KEY);
    }
    cmd
}

/// Stops a `serve_process` with SIGTERM; its exit status and every line it wrote to stderr
/// (the reader thread may still be draining the pipe after the exit: its lines are waited for
/// until the pipe closes, or 10 s).
pub async fn stop_and_read(
    mut child: std::process::Child,
    rx: std::sync::mpsc::Receiver<String>,
) -> (std::process::ExitStatus, Vec<String>) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        lines.push(line);
    }
    (status, lines)
}

/// Runs `authd ARGS` on the database at `url` off the async threads; its JSON output, after
/// checking it exited 0 (else the test fails with its stderr).
pub async fn cli_json(url: &str, args: &[&str]) -> serde_json::Value {
    let (url, args): (String, Vec<String>) = (
        url.to_owned(),
        args.iter().map(|a| (*a).to_owned()).collect(),
    );
    let out = tokio::task::spawn_blocking(move || authd_on(&url).args(&args).output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Starts `authd serve` as a process (port 0, JSON logs); returns it, its address and its
/// stderr lines.
pub fn serve_process(
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let mut cmd = authd();
    let on_postgres = env
        .iter()
        .any(|(k, v)| *k == "AUTHD_DATABASE_URL" && v.starts_with("postgres"));
    if on_postgres && !env.iter().any(|(k, _)| k.starts_with("AUTHD_MASTER_KEY")) {
        cmd.env("AUTHD_MASTER_KEY", crate::helpers::TEST_MASTER_KEY);
    }
    cmd.current_dir(dir)
        .env("AUTHD_BIND", "127.0.0.1:0")
        .env("AUTHD_METRICS_BIND", "127.0.0.1:0")
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
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not report its address");
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["message"] == "authd listening" {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    (child, addr, rx)
}

fn user_add(db_url: &str, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = authd_on(db_url)
        .args(["user", "add"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn user_add_prints_json_and_the_account_signs_in() {
    let app = spawn_app().await;
    let url = app.db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        user_add(
            &url,
            &["Admin@Example.com", "--admin", "--password-stdin"],
            Some("a long admin password\n"),
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["email"], "admin@example.com");
    assert!(v["id"].as_str().is_some_and(|s| s.len() == 36));
    assert!(v.get("password").is_none());
    let account = app
        .state
        .accounts
        .find_by_email("admin@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(account.is_admin);
    // Making an admin is on the record.
    let made: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == authd::events::EventKind::AdminAction)
        .filter(|e| e.user_id.as_deref() == Some(account.id.as_str()))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(
        made[0].decision.as_deref(),
        Some("user_add; actor cli; admin true")
    );
    assert_redirect_to(
        &app.post_login("admin@example.com", "a long admin password")
            .await,
        "/account",
    );

    // Without --password-stdin a password is generated and printed once.
    let url = app.db.url.clone();
    let out = tokio::task::spawn_blocking(move || user_add(&url, &["gen@example.com"], None))
        .await
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let password = v["password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 20);
    app.post_logout().await;
    assert_redirect_to(
        &app.post_login("gen@example.com", &password).await,
        "/account",
    );

    // A duplicate fails with a message on stderr and nothing on stdout.
    let url = app.db.url.clone();
    let out = tokio::task::spawn_blocking(move || user_add(&url, &["GEN@example.com"], None))
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn bad_configuration_stops_start_up_naming_the_variable() {
    let out = authd()
        .env("AUTHD_BIND", "not-an-address")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AUTHD_BIND"), "{err}");
    assert_eq!(err.trim().lines().count(), 1);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("authd.toml");
    std::fs::write(&file, "log_format = \"xml\"\n").unwrap();
    let out = authd()
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTHD_LOG_FORMAT"));
}

#[test]
fn migrate_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = authd()
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["migrated"], true);
    assert!(dir.path().join("authd.db").exists());
}

#[test]
fn prune_prints_what_it_deleted_per_table() {
    let dir = tempfile::tempdir().unwrap();
    // Only serve and migrate create the database.
    let migrated = authd()
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrated.status.success());
    let out = authd()
        .current_dir(dir.path())
        .arg("prune")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for table in [
        "auth_code",
        "refresh_token",
        "password_reset",
        "login_failure",
        "event",
    ] {
        assert_eq!(v["pruned"][table], 0, "{v}");
    }
    // AUTHD_EVENT_RETENTION_DAYS=0 keeps every event: the table is not even visited.
    let out = authd()
        .current_dir(dir.path())
        .env("AUTHD_EVENT_RETENTION_DAYS", "0")
        .arg("prune")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["pruned"].get("event").is_none(), "{v}");
}

#[tokio::test]
async fn serve_from_an_empty_directory_and_stop_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, rx) = serve_process(dir.path(), &[]);
    let resp = reqwest::get(format!("http://{addr}/login")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("name=\"csrf_token\""));
    assert!(
        dir.path().join("authd.db").exists(),
        "the SQLite file is created in the working directory"
    );

    let (status, rest) = stop_and_read(child, rx).await;
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(rest.iter().any(|l| l.contains("authd stopped")), "{rest:?}");
}

fn run(db_url: &str, args: &[&str]) -> std::process::Output {
    authd_on(db_url).args(args).output().unwrap()
}

#[tokio::test]
async fn client_add_and_keys_rotate() {
    let app = spawn_app().await;
    let url = app.db.url.clone();
    let outs = tokio::task::spawn_blocking(move || {
        (
            run(
                &url,
                &[
                    "client",
                    "add",
                    "web-app",
                    "--redirect-uri",
                    "https://app.example/cb",
                    "--redirect-uri",
                    "http://127.0.0.1:8000/cb",
                    "--grant",
                    "authorization_code",
                    "--grant",
                    "refresh_token",
                    "--first-party",
                    "--name",
                    "Acme Notes",
                    "--logo-uri",
                    "https://acme.example/logo.png",
                ],
            ),
            run(
                &url,
                &[
                    "client",
                    "add",
                    "spa",
                    "--public",
                    "--redirect-uri",
                    "http://127.0.0.1/cb",
                ],
            ),
            run(
                &url,
                &[
                    "client",
                    "add",
                    "ops",
                    "--grant",
                    "client_credentials",
                    "--scope",
                    "admin",
                ],
            ),
            run(
                &url,
                &[
                    "client",
                    "add",
                    "web-app",
                    "--redirect-uri",
                    "https://app.example/cb",
                ],
            ),
            run(
                &url,
                &[
                    "client",
                    "add",
                    "bad",
                    "--redirect-uri",
                    "http://app.example/cb",
                ],
            ),
            run(
                &url,
                &[
                    "client",
                    "add",
                    "bad2",
                    "--public",
                    "--grant",
                    "client_credentials",
                ],
            ),
            run(&url, &["keys", "rotate"]),
        )
    })
    .await
    .unwrap();
    let (web, spa, ops, dup, insecure, public_cc, rotate) = outs;
    let web: serde_json::Value = serde_json::from_slice(&web.stdout).unwrap();
    assert_eq!(web["client_id"], "web-app");
    assert!(web["client_secret"].as_str().is_some_and(|s| s.len() >= 40));
    let spa: serde_json::Value = serde_json::from_slice(&spa.stdout).unwrap();
    assert_eq!(spa, serde_json::json!({ "client_id": "spa" }));
    let ops: serde_json::Value = serde_json::from_slice(&ops.stdout).unwrap();
    for failed in [&dup, &insecure, &public_cc] {
        assert!(!failed.status.success() && failed.stdout.is_empty());
    }
    let client = app
        .state
        .oauth
        .clients()
        .find("web-app")
        .await
        .unwrap()
        .unwrap();
    assert!(client.is_first_party && client.has_grant("refresh_token"));
    assert_eq!(client.profile.name.as_deref(), Some("Acme Notes"));
    assert_eq!(
        client.profile.logo_uri.as_deref(),
        Some("https://acme.example/logo.png")
    );
    // The secret works (stored hashed, compared in constant time).
    let ops_client = crate::helpers::TestClient {
        id: "ops".into(),
        secret: ops["client_secret"].as_str().map(str::to_owned),
        redirect_uri: String::new(),
    };
    let (status, body) = app
        .token(&ops_client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rotate: serde_json::Value = serde_json::from_slice(&rotate.stdout).unwrap();
    assert_eq!(rotate["active_kids"].as_array().unwrap().len(), 3);
    // The rotation is an operator's act like the console's and the API's: on the record.
    let acts: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == authd::events::EventKind::AdminAction)
        .filter_map(|e| e.decision)
        .collect();
    assert!(
        acts.iter().any(|d| d.starts_with("keys_rotate; target ")),
        "{acts:?}"
    );
}

#[tokio::test]
async fn migrate_works_on_the_test_database() {
    // On PostgreSQL this once deadlocked with a one-connection pool.
    let app = spawn_app().await;
    let url = app.db.url.clone();
    let out = tokio::task::spawn_blocking(move || run(&url, &["migrate"]))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn two_server_processes_on_one_database_share_the_failure_counters() {
    let db = crate::helpers::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("AUTHD_DATABASE_URL", db.url.as_str()),
        ("AUTHD_CAPTCHA", "test"),
        ("AUTHD_CAPTCHA_TEST_ANSWER", "x"),
        ("AUTHD_CHALLENGE_AFTER", "3"),
    ];
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        user_add(
            &url,
            &["shared@example.com", "--password-stdin"],
            Some("shared password\n"),
        )
    })
    .await
    .unwrap();
    let (mut a, addr_a, _) = serve_process(dir.path(), &env);
    let (mut b, addr_b, _) = serve_process(dir.path(), &env);
    let attempt = |addr: String, password: &'static str| async move {
        let c = crate::helpers::new_client();
        let csrf =
            crate::helpers::read(c.get(format!("http://{addr}/login")).send().await.unwrap())
                .await
                .csrf();
        crate::helpers::read(
            c.post(format!("http://{addr}/login"))
                .form(&[
                    ("username", "shared@example.com"),
                    ("password", password),
                    ("csrf_token", &csrf),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    for _ in 0..3 {
        assert_eq!(
            attempt(addr_a.clone(), "wrong password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // The fourth attempt goes to the other process, which already counts the three.
    let page = attempt(addr_b.clone(), "shared password").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        page.body.contains("data-challenge=\"captcha\""),
        "process B sees process A's failures"
    );
    for child in [&mut a, &mut b] {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
    }
    for mut child in [a, b] {
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
    }
    drop(db);
}

#[tokio::test]
async fn model_eval_train_and_label() {
    let app = spawn_app().await;
    let url = app.db.url.clone();
    let out = run(&url, &["model", "eval"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 0, "the built-in prior before any training");
    assert_eq!(
        v["weights"].as_array().unwrap().len(),
        v["features"].as_array().unwrap().len()
    );
    // In a pipe there is no progress display.
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\r'));

    // An empty log: training succeeds, keeps the prior and says so.
    let out = run(&url, &["model", "train"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["promoted"], false, "{v}");
    assert_eq!(v["version"], 0, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("kept model 0"),
        "{v}"
    );

    // Only the owner's own sign-ins, no attack labelled anywhere: training succeeds on the
    // attackers synthesised from them and promotes a model that does no worse.
    let user = app.user().await;
    for _ in 0..20 {
        let page = app.post_login(&user.email, &user.password).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        app.post_logout().await;
    }
    let out = run(&url, &["model", "train"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["labelled"], 0, "{v}");
    assert!(v["synthetic_attacks"].as_u64().unwrap() > 0, "{v}");
    assert!(v["current_metrics"]["roc_auc"].is_number(), "{v}");
    // Promotion is judged on a held-out fifth chosen by request id, which is random here; with
    // twenty sign-ins that fifth is a handful of examples, so the candidate may lose to the
    // prior on it. Either way the run succeeds and the report says which it was; how well the
    // label-free training separates owners from attackers is the training unit tests' job.
    match v["promoted"].as_bool() {
        Some(true) => assert_eq!(v["version"], 1, "{v}"),
        Some(false) => {
            assert_eq!(v["version"], 0, "{v}");
            assert!(v["message"].as_str().unwrap().contains("kept"), "{v}");
        }
        None => panic!("no promoted flag: {v}"),
    }
    assert!(v["metrics"]["roc_auc"].is_number(), "{v}");

    let out = run(&url, &["model", "label", "0190-event", "attack"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["event_id"].as_str(), v["attack"].as_bool()),
        (Some("0190-event"), Some(true))
    );
    let out = run(&url, &["model", "label", "0190-event", "maybe"]);
    assert!(!out.status.success());
    // An empty id is refused, as the admin API refuses it.
    let out = run(&url, &["model", "label", " ", "attack"]);
    assert!(!out.status.success());
    // Every run and the label are operators' acts on the record (`admin_action`).
    let acts: Vec<String> = app
        .events()
        .await
        .iter()
        .filter(|e| e.kind == authd::events::EventKind::AdminAction)
        .filter_map(|e| e.decision.clone())
        .collect();
    let trained = acts.iter().filter(|d| d.starts_with("model_train")).count();
    assert_eq!(trained, 2, "{acts:?}");
    assert!(
        acts.iter()
            .any(|d| d.starts_with("label") && d.contains("0190-event")),
        "{acts:?}"
    );
}

/// `X-Forwarded-For` from a peer outside `AUTHD_TRUSTED_PROXIES` (loopback here): the header
/// is ignored and the server warns once per process, not once per request.
#[tokio::test]
async fn untrusted_forwarded_for_is_warned_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, rx) = serve_process(dir.path(), &[]);
    for i in 0..3 {
        let status = reqwest::Client::new()
            .get(format!("http://{addr}/healthz"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK);
    }
    let (status, lines) = stop_and_read(child, rx).await;
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(
        lines.iter().any(|l| l.contains("authd stopped")),
        "{lines:?}"
    );
    let warnings = lines
        .iter()
        .filter(|l| l.contains("X-Forwarded-For from a peer outside AUTHD_TRUSTED_PROXIES"))
        .count();
    assert_eq!(warnings, 1, "{lines:?}");
}

/// Every auth event is also emitted through `tracing` with the fields INTERFACE.md names: `id`,
/// `ts` (RFC 3339), `kind`, `ip`, `user_agent`, `user_id`, `username`, `client_id`, `risk`
/// (`{"score", "reasons"}`), `decision`, `request_id` (the JSON log's `authd::event` lines).
#[tokio::test]
async fn auth_events_are_logged_with_every_interface_field() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, rx) = serve_process(dir.path(), &[]);
    let client = crate::helpers::new_client();
    let login = format!("http://{addr}/login");
    let csrf = crate::helpers::read(client.get(&login).send().await.unwrap())
        .await
        .csrf();
    let form = [
        ("username", "nobody@example.com"),
        ("password", "not a password here"),
        ("csrf_token", csrf.as_str()),
    ];
    let r = client
        .post(&login)
        .header("user-agent", "log-test/1.0")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (status, lines) = stop_and_read(child, rx).await;
    assert!(status.success(), "exit after SIGTERM: {status}");
    let failed = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "authd::event")
        .map(|v| {
            if v["fields"].is_object() {
                v["fields"].clone()
            } else {
                v
            }
        })
        .find(|f| f["kind"] == "login_failed")
        .unwrap_or_else(|| panic!("no login_failed event line in {lines:?}"));
    for field in crate::helpers::EVENT_FIELDS {
        assert!(failed.get(field).is_some(), "{field} missing: {failed}");
    }
    assert_eq!(failed["username"], "nobody@example.com");
    assert_eq!(failed["user_agent"], "log-test/1.0");
    assert!(
        time::OffsetDateTime::parse(
            failed["ts"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok(),
        "{failed}"
    );
    let risk: serde_json::Value = serde_json::from_str(failed["risk"].as_str().unwrap()).unwrap();
    assert!(
        risk["score"].is_number() && risk["reasons"].is_array(),
        "{risk}"
    );
    assert!(!failed.to_string().contains("not a password here"));
}

/// `AUTHD_LOG_FORMAT` `auto` (the default) and `pretty` write no colour codes when stderr is
/// not a terminal (a pipe here, as under systemd or `2> file`); a start that writes mail to a
/// directory warns about it.
#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    for format in [None, Some("pretty"), Some("plain")] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = authd();
        cmd.current_dir(dir.path())
            .env("AUTHD_BIND", "127.0.0.1:0")
            .env("AUTHD_METRICS_BIND", "")
            .env("RUST_LOG", "info");
        if let Some(f) = format {
            cmd.env("AUTHD_LOG_FORMAT", f);
        }
        let mut child = cmd
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        for line in lines.by_ref() {
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
            "{format:?}: {seen:?}"
        );
        assert!(
            seen.iter().all(|l| !l.contains('\u{1b}')),
            "{format:?}: colour codes in a pipe: {seen:?}"
        );
        assert!(
            seen.iter()
                .any(|l| l.contains("AUTHD_SMTP_URL is empty: mail is written as files")),
            "a start with mail to a directory says so: {seen:?}"
        );
    }
}
