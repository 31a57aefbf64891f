//! Secrets at rest (issue #15, items 10 and 11): signing keys and the server secret sealed with
//! the master key (generated beside a SQLite database by default), resealed when a database
//! from before sealing starts, the database, key and `.eml` files private, no usable one-time
//! link left in `mail_queue`, and a wrong master key refused at start in one line.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;

use authd::domain::clock::OsRandom;
use authd::domain::seal::{Legacy, MasterKey, Sealer};

use crate::helpers::{
    TestApp, TestDb, new_client, query_param, raw_execute, raw_rows, spawn_app, spawn_app_on,
    spawn_app_with, str_of,
};
use crate::password_reset::forgot;
use crate::smtp::reset_link;

/// The key the app seals with: the configured one, or the one generated beside its SQLite
/// database (`<database file>.key`, the default).
fn sealer_of(app: &TestApp) -> Sealer {
    let key = app.state.config.master_key.clone().unwrap_or_else(|| {
        let mut path = app.db.sqlite_file().unwrap().into_os_string();
        path.push(".key");
        MasterKey::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    });
    Sealer::new(key, "test", Arc::new(OsRandom))
}

/// Opens a stored value, which must be in the current sealed form.
fn open_sealed(sealer: &Sealer, context: &str, stored: &str) -> Vec<u8> {
    assert!(
        stored.starts_with(&format!("v2:{}:", sealer.key_id())),
        "{context} is not sealed: {stored}"
    );
    let opened = sealer.open(context, stored, Legacy::Text).unwrap();
    assert!(opened.current);
    opened.plain
}

#[tokio::test]
async fn signing_keys_and_the_server_secret_are_sealed_in_the_database() {
    let app = spawn_app().await;
    let sealer = sealer_of(&app);
    let keys = raw_rows(&app.db, "select kid, private_key from signing_key").await;
    assert_eq!(keys.len(), 3, "one per algorithm");
    for row in &keys {
        let (kid, stored) = (&row[0], &row[1]);
        let der = open_sealed(&sealer, &format!("signing_key:{kid}"), stored);
        assert!(der.len() > 32, "a PKCS#8 key");
        assert!(!stored.contains(&STANDARD.encode(&der)), "{kid}");
        assert!(!stored.contains(&STANDARD.encode(&der[..24])), "{kid}");
    }
    let secrets = raw_rows(&app.db, "select name, value from server_secret").await;
    assert!(!secrets.is_empty());
    for row in &secrets {
        let (name, stored) = (&row[0], &row[1]);
        let plain = open_sealed(&sealer, &format!("server_secret:{name}"), stored);
        let plain = String::from_utf8(plain).unwrap();
        assert!(plain.len() >= 32 && !stored.contains(&plain), "{name}");
    }
    // And they work: tokens are signed and verified.
    let user = app.user().await;
    let client = app.web_client().await;
    let tokens = app.tokens_for(&client, &user, "openid").await;
    assert_eq!(
        app.userinfo(str_of(&tokens, "access_token")).await.0,
        StatusCode::OK
    );
}

/// A database from before sealing (keys as `plain:<base64>`, the server secret bare) has them
/// sealed when instances start on it, two at once, and tokens signed before still verify.
#[tokio::test]
async fn clear_secrets_of_an_older_database_are_sealed_at_start_and_keep_working() {
    let a = spawn_app().await;
    let user = a.user().await;
    let client = a.web_client().await;
    let tokens = a.tokens_for(&client, &user, "openid").await;
    let old_at = str_of(&tokens, "access_token").to_owned();
    let sealer = sealer_of(&a);

    // Put the database back as an older version left it.
    let mut clear_keys = Vec::new();
    for row in raw_rows(&a.db, "select kid, private_key from signing_key").await {
        let der = open_sealed(&sealer, &format!("signing_key:{}", row[0]), &row[1]);
        let plain = format!("plain:{}", STANDARD.encode(&der));
        let sql = "update signing_key set private_key = $1 where kid = $2";
        raw_execute(&a.db, sql, &[&plain, &row[0]]).await;
        clear_keys.push((row[0].clone(), der));
    }
    let mut clear_secrets = Vec::new();
    for row in raw_rows(&a.db, "select name, value from server_secret").await {
        let plain = open_sealed(&sealer, &format!("server_secret:{}", row[0]), &row[1]);
        let plain = String::from_utf8(plain).unwrap();
        let sql = "update server_secret set value = $1 where name = $2";
        raw_execute(&a.db, sql, &[&plain, &row[0]]).await;
        clear_secrets.push((row[0].clone(), plain));
    }

    let issuer = a.address.clone();
    let (b, c) = tokio::join!(
        spawn_app_on(a.db.share(), |c| c.issuer = issuer.parse().unwrap()),
        spawn_app_on(a.db.share(), |c| c.issuer = issuer.parse().unwrap()),
    );
    for (kid, der) in &clear_keys {
        let rows = raw_rows(
            &a.db,
            &format!("select private_key from signing_key where kid = '{kid}'"),
        )
        .await;
        let stored = &rows[0][0];
        assert_eq!(
            &open_sealed(&sealer, &format!("signing_key:{kid}"), stored),
            der,
            "{kid}: sealed, the same key"
        );
        assert!(!stored.contains(&STANDARD.encode(der)));
    }
    for (name, plain) in &clear_secrets {
        let rows = raw_rows(
            &a.db,
            &format!("select value from server_secret where name = '{name}'"),
        )
        .await;
        let opened = open_sealed(&sealer, &format!("server_secret:{name}"), &rows[0][0]);
        assert_eq!(opened, plain.as_bytes(), "{name}: sealed, the same secret");
    }
    for app in [&b, &c] {
        assert_eq!(app.userinfo(&old_at).await.0, StatusCode::OK, "old token");
    }
    // Idempotent: a third start finds nothing to reseal and changes nothing.
    let before = raw_rows(&a.db, "select private_key from signing_key order by kid").await;
    let d = spawn_app_on(a.db.share(), |c| c.issuer = issuer.parse().unwrap()).await;
    let after = raw_rows(&a.db, "select private_key from signing_key order by kid").await;
    assert_eq!(before, after);
    assert_eq!(d.userinfo(&old_at).await.0, StatusCode::OK);
}

/// Item 11: a queued mail's body is sealed, and once sent nothing in `mail_queue` holds the
/// one-time link (a reset link taken from the table used to work).
#[tokio::test]
async fn no_usable_reset_link_stays_in_the_mail_queue() {
    let app = spawn_app_with(|c| {
        // The worker waits; `drain_mail` below is the only delivery.
        c.mail_poll = std::time::Duration::from_secs(60);
    })
    .await;
    let user = app.user().await;
    forgot(&app, &new_client(), &user.email).await;
    app.state.background.settled().await;
    let queued = raw_rows(&app.db, "select kind, text_body, html_body from mail_queue").await;
    assert!(
        queued.iter().any(|r| r[0] == "password_reset"),
        "{queued:?}"
    );
    for row in &queued {
        for body in &row[1..] {
            assert!(body.starts_with("v2:"), "queued sealed: {body}");
            assert!(!body.contains("token="), "{body}");
        }
    }

    let mails = app.outbox(1).await;
    let link = mails
        .iter()
        .find_map(|m| reset_link(m))
        .expect("a reset link");
    let token = query_param(&link, "token").unwrap();
    let rows = raw_rows(
        &app.db,
        "select id, message_id, kind, recipient, subject, text_body, html_body, \
         coalesce(last_error, '') from mail_queue",
    )
    .await;
    for row in &rows {
        assert!(row.iter().all(|cell| !cell.contains(&token)), "{row:?}");
        assert_eq!(
            (row[5].as_str(), row[6].as_str()),
            ("", ""),
            "blanked once sent"
        );
    }
    // The mailed link itself still works.
    let path = link.trim_start_matches(&app.address).to_owned();
    let page = app.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The SQLite database (and its `-wal` and `-shm`), the generated key file, the default
/// outbox directory and its `.eml` files are private; a database file an older version left
/// readable is made private at start.
#[cfg(unix)]
#[tokio::test]
async fn database_key_and_mail_files_are_private() {
    let out = tempfile::tempdir().unwrap();
    let mail_dir = out.path().join("outbox");
    let dir_for_app = mail_dir.clone();
    let app = spawn_app_on(TestDb::sqlite(), move |c| c.mail_dir = dir_for_app).await;
    let user = app.user().await;
    forgot(&app, &new_client(), &user.email).await;
    // The mail worker's own poll may deliver it before the drain does: wait (bounded) for the
    // file rather than for the drain's count.
    let mut emls = Vec::new();
    for _ in 0..200 {
        app.drain_mail().await;
        emls = std::fs::read_dir(&mail_dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        if !emls.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(!emls.is_empty(), "the reset mail was written");
    assert_eq!(mode(&mail_dir), 0o700, "outbox directory");
    for eml in &emls {
        assert_eq!(mode(eml), 0o600, "{}", eml.display());
    }
    let db = app.db.sqlite_file().unwrap();
    for suffix in ["", "-wal", "-shm", ".key"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        assert_eq!(mode(path.as_ref()), 0o600, "authd.db{suffix}");
    }

    // An older version created it world-readable: the next start takes that back.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _again = spawn_app_on(app.db.share(), |_| {}).await;
    assert_eq!(mode(&db), 0o600);
}

/// A wrong master key stops start-up with one line naming the variable (no panic, no trace);
/// PostgreSQL without a key does not start.
#[tokio::test]
async fn a_wrong_master_key_stops_start_up_in_one_line() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = STANDARD.encode([1u8; 32]);
    let url = app.db.url.clone();
    let dir_path = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        crate::config::refused_start(
            &dir_path,
            &[
                ("AUTHD_DATABASE_URL", &url),
                ("AUTHD_MASTER_KEY", &wrong),
                // Only the error: the start-up warnings (http issuer) are not part of it.
                ("RUST_LOG", "error"),
            ],
            &[],
        )
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("authd: ") && err.contains("AUTHD_MASTER_KEY"),
        "{err}"
    );
    assert!(err.contains("sealed with master key"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );

    let out = crate::cli::authd()
        .env("AUTHD_DATABASE_URL", "postgres://authd@127.0.0.1:1/authd")
        .arg("migrate")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("AUTHD_MASTER_KEY") && err.contains("PostgreSQL"),
        "{err}"
    );
}

/// The session table holds no cookie: a row is keyed by the SHA-256 of the session id (the
/// cookie's value) and its record carries a zero id, so a copy of the table (a backup, a
/// read-only SQL account) signs no one in. Rows keyed the old way (by the id itself) are dropped
/// when the database is opened.
#[tokio::test]
async fn session_rows_hold_no_cookie_and_plain_keyed_rows_are_dropped() {
    use sha2::{Digest, Sha256};
    let app = spawn_app().await;
    let user = app.user().await;
    let page = app.post_login(&user.email, &user.password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let cookie = page.session_cookie().expect("a session cookie");
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    let (table, hex) = if app.db.is_postgres() {
        ("\"tower_sessions\".\"session\"", "encode(data, 'hex')")
    } else {
        ("tower_sessions", "lower(hex(data))")
    };
    let rows = raw_rows(&app.db, &format!("select id, {hex} from {table}")).await;
    let key: String = Sha256::digest(cookie.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cookie_hex: String = cookie.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(rows.iter().any(|r| r[0] == key), "keyed by the digest");
    for r in &rows {
        assert_ne!(r[0], cookie, "a row keyed by the cookie");
        assert!(!r[1].contains(&cookie_hex), "the cookie inside a record");
    }
    // A row from before (keyed by a session id itself) goes when the database is opened.
    let old = if app.db.is_postgres() {
        "insert into \"tower_sessions\".\"session\" (id, data, expiry_date) \
         values ($1, '\\x00'::bytea, now() + interval '1 day')"
    } else {
        "insert into tower_sessions (id, data, expiry_date) values ($1, x'00', 4102444800)"
    };
    raw_execute(&app.db, old, &["AAAAAAAAAAAAAAAAAAAAAA"]).await;
    let before = app.session_rows().await;
    drop(authd::storage::connect(&app.db.url, 1).await.unwrap());
    assert_eq!(app.session_rows().await, before - 1);
    assert!(
        raw_rows(&app.db, &format!("select id from {table}"))
            .await
            .iter()
            .all(|r| r[0].len() == 64)
    );
}
