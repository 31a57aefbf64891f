//! Configuration end to end: `AUTHD_MASTER_KEY_FILE` really seals the signing keys, and a
//! `_FILE` that cannot be used stops start-up with one line naming it (and the path).

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;

use crate::cli::{authd, serve_process};
use crate::helpers::TestDb;

#[tokio::test]
async fn the_master_key_file_seals_the_signing_keys() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let key = STANDARD.encode([9u8; 32]);
    let key_file = dir.path().join("master_key");
    // As a container secret is mounted: the value and a trailing newline.
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let key_file = key_file.display().to_string();

    let (mut child, addr, _logs) = serve_process(
        dir.path(),
        &[
            ("AUTHD_DATABASE_URL", &db.url),
            ("AUTHD_MASTER_KEY_FILE", &key_file),
        ],
    );
    let jwks = reqwest::get(format!("http://{addr}/jwks.json"))
        .await
        .unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    child.kill().unwrap();
    child.wait().unwrap();

    let store = authd::storage::connect(&db.url, 1).await.unwrap();
    let records = store.keys.list_published(0).await.unwrap();
    assert!(!records.is_empty(), "serve generated the signing keys");
    for r in &records {
        assert!(
            r.private_key.starts_with("v2:") && !r.private_key.contains("BEGIN"),
            "{} is stored sealed, not as plaintext",
            r.kid
        );
    }

    // Sealed with that very key: without it the keys cannot be opened; given directly, they can.
    let url = db.url.clone();
    let (without, with) = tokio::task::spawn_blocking(move || {
        let rotate = |key: Option<&str>| {
            let mut cmd = authd();
            cmd.env("AUTHD_DATABASE_URL", &url).args(["keys", "rotate"]);
            if let Some(k) = key {
                cmd.env("AUTHD_MASTER_KEY", k);
            }
            cmd.output().unwrap()
        };
        (rotate(None), rotate(Some(&key)))
    })
    .await
    .unwrap();
    assert!(!without.status.success());
    assert!(String::from_utf8_lossy(&without.stderr).contains("AUTHD_MASTER_KEY"));
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
}

/// Runs `authd serve` in `dir` with `env`, expecting it to refuse to start (killed after 30 s
/// if it starts instead).
pub(crate) fn refused_start(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let child = authd()
        .current_dir(dir)
        .env("AUTHD_BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .args(args)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("authd serve started with {env:?}");
        }
    }
}

/// Exit code 2 and one line on stderr that contains every one of `names`.
fn assert_refused(out: &Output, names: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for name in names {
        assert!(err.contains(name), "{err} does not name {name}");
    }
}

#[test]
fn an_unusable_secret_file_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-key").display().to_string();
    let out = refused_start(dir.path(), &[("AUTHD_MASTER_KEY_FILE", &missing)], &[]);
    assert_refused(&out, &["AUTHD_MASTER_KEY_FILE", &missing]);
    assert!(
        !dir.path().join("authd.db").exists(),
        "nothing started before the refusal"
    );

    // The same from the TOML file.
    let toml = dir.path().join("authd.toml");
    std::fs::write(&toml, format!("master_key_file = {missing:?}\n")).unwrap();
    let toml = toml.display().to_string();
    let out = refused_start(dir.path(), &[], &["--config", &toml]);
    assert_refused(&out, &["AUTHD_MASTER_KEY_FILE", &missing]);

    let secret = dir.path().join("secret");
    std::fs::write(&secret, "127.0.0.1:9\n").unwrap();
    let secret = secret.display().to_string();
    // Not a secret, unknown, or given twice.
    let out = refused_start(dir.path(), &[("AUTHD_BIND_FILE", &secret)], &[]);
    assert_refused(&out, &["AUTHD_BIND_FILE"]);
    let out = refused_start(dir.path(), &[("AUTHD_BOGUS_FILE", &secret)], &[]);
    assert_refused(&out, &["AUTHD_BOGUS_FILE"]);
    let out = refused_start(
        dir.path(),
        &[
            ("AUTHD_SMTP_URL", "smtp://127.0.0.1:2525"),
            ("AUTHD_SMTP_URL_FILE", &secret),
        ],
        &[],
    );
    assert_refused(&out, &["AUTHD_SMTP_URL_FILE", "AUTHD_SMTP_URL is set too"]);
}
