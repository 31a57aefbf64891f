//! Token and risk events and `kill -9`: every `POST /token` and `POST /risk/evaluate` answered
//! before the server was killed has its `token_issued` or `risk_evaluated` event in the
//! database once the server has started again (on SQLite through the event spool,
//! `src/events/spool.rs`; on PostgreSQL through the commit), and a graceful stop leaves no
//! spool behind.

use authd::events::{EventFilter, EventKind};
use reqwest::StatusCode;

use crate::cli::{authd_on, serve_process};
use crate::helpers::TestDb;

#[tokio::test]
async fn every_token_and_risk_check_answered_before_a_kill_has_its_event_after_the_restart() {
    let db = TestDb::new().await;
    let url = db.url.clone();
    let added = tokio::task::spawn_blocking(move || {
        assert!(authd_on(&url).arg("migrate").status().unwrap().success());
        authd_on(&url)
            .args(["client", "add", "svc", "--grant", "client_credentials"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let added: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, _logs) = serve_process(dir.path(), &[("AUTHD_DATABASE_URL", &db.url)]);
    let http = reqwest::Client::new();
    // The client's own token, to ask the risk API with (one more `token_issued`).
    let own: serde_json::Value = http
        .post(format!("http://{addr}/token"))
        .basic_auth("svc", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = own["access_token"].as_str().unwrap().to_owned();
    let mut asked = tokio::task::JoinSet::new();
    for n in 0..96 {
        // Two of three ask for a token; the third asks about a forged one (scored 1, recorded).
        let request = if n % 3 == 2 {
            http.post(format!("http://{addr}/risk/evaluate"))
                .bearer_auth(&bearer)
                .json(&serde_json::json!({ "token": "a.b.c", "ip": "192.0.2.9", "user_agent": "" }))
        } else {
            http.post(format!("http://{addr}/token"))
                .basic_auth("svc", Some(&secret))
                .form(&[("grant_type", "client_credentials")])
        };
        asked.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    let answered = asked.join_all().await;
    // Killed at once: the writer may not have stored the last events yet.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        answered.iter().all(|s| matches!(s, Ok(StatusCode::OK))),
        "{answered:?}"
    );

    // Started again (storing what the kill left), then stopped gracefully (SIGTERM).
    let (mut again, _, _logs) = serve_process(dir.path(), &[("AUTHD_DATABASE_URL", &db.url)]);
    let pid = again.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(term.unwrap().success());
    // Right after it reported listening: the handler is installed by then (`shutdown_signal`).
    let status = again.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
    let store = authd::storage::connect(&db.url, 1).await.unwrap();
    let count = |kind| {
        let store = &store;
        async move {
            let filter = EventFilter {
                kind: Some(kind),
                limit: 1000,
                ..EventFilter::default()
            };
            store.events.list(&filter).await.unwrap()
        }
    };
    let issued = count(EventKind::TokenIssued).await;
    assert_eq!(issued.len(), 65, "one event per answered token");
    let checked = count(EventKind::RiskEvaluated).await;
    assert_eq!(checked.len(), 32, "one event per answered risk check");
    assert!(
        checked
            .iter()
            .all(|e| e.risk.as_ref().is_some_and(|r| r.score == 1.0)),
        "each with its score"
    );
    if let Some(file) = db.sqlite_file() {
        let spool = format!("{}-spool-", file.file_name().unwrap().to_string_lossy());
        let left: Vec<_> = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&spool))
            .collect();
        assert!(
            left.is_empty(),
            "a graceful stop leaves no segment: {left:?}"
        );
    }
}
