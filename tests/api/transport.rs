//! The connection's limits and the request's id (issue #15.14, #15.15): a slow client is cut
//! off after the header-read timeout, a slow body after the request timeout, connections
//! beyond the cap wait without disturbing the served ones, a client's `X-Request-Id` is taken
//! only when short and plain, and `X-Forwarded-For` from an untrusted peer is counted.
//!
//! These are socket behaviours on the real clock: the timeouts are set to 1 s here and the
//! waits are bounded.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, TestUser, new_client, read, spawn_app, spawn_app_with};

/// The most a test waits for the server to act on a 1 s timeout.
const BOUND: Duration = Duration::from_secs(10);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; what it sent, or `None` if it was still
/// open after `BOUND`.
async fn until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(buf.get(..n).unwrap()),
            }
        }
    };
    tokio::time::timeout(BOUND, read_all).await.ok()?;
    Some(String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn a_silent_or_trickling_client_is_cut_off_after_the_header_timeout() {
    let app = spawn_app_with(|c| {
        c.connections.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut silent = connect(&app).await;
    let mut half = connect(&app).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let (silent, half) = tokio::join!(until_closed(&mut silent), until_closed(&mut half));
    assert!(
        silent.is_some(),
        "a connection that sent nothing was kept open"
    );
    assert!(half.is_some(), "a half-sent request head was waited for");
    // A kept-alive connection that went quiet after its answer is closed the same way.
    let mut kept = connect(&app).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = until_closed(&mut kept)
        .await
        .expect("closed after going quiet");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test]
async fn a_body_slower_than_the_request_timeout_is_answered_408() {
    let app = spawn_app_with(|c| {
        c.connections.request_timeout = Duration::from_secs(1);
    })
    .await;
    let mut slow = connect(&app).await;
    slow.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nusername=a",
    )
    .await
    .unwrap();
    let answer = until_closed(&mut slow).await.expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // The server is fine afterwards.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    // ...and the request the timeout dropped is in the metrics, with the status it got.
    let counted = r#"authd_http_requests_total{method="POST",route="/login",status="408"}"#;
    assert!(app.metrics().await.contains(counted), "{counted}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_without_disturbing_the_served_ones() {
    let app = spawn_app_with(|c| c.connections.max_connections = 2).await;
    // One kept-alive connection being served (reqwest reuses its idle connection).
    let served = new_client();
    let healthz = app.url("/healthz");
    assert_eq!(served.get(&healthz).send().await.unwrap().status(), 200);
    // The second slot is held by a client that has not finished its request head.
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A third connection is beyond the cap: it waits.
    let url = healthz.clone();
    let waiting =
        tokio::spawn(async move { new_client().get(url).send().await.map(|r| r.status()) });
    for _ in 0..3 {
        assert_eq!(served.get(&healthz).send().await.unwrap().status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a connection beyond the cap was served at once"
    );
    // A slot frees up: the waiting connection is served.
    drop(slow);
    let status = tokio::time::timeout(BOUND, waiting).await.unwrap().unwrap();
    assert_eq!(status.unwrap(), StatusCode::OK);
}

async fn echoed_id(app: &TestApp, id: &str) -> String {
    let resp = new_client()
        .get(app.url("/healthz"))
        .header("x-request-id", id)
        .send()
        .await
        .unwrap();
    resp.headers()["x-request-id"].to_str().unwrap().to_owned()
}

fn is_plain_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[tokio::test]
async fn a_client_request_id_is_taken_only_when_short_and_plain() {
    let app = spawn_app().await;
    for good in ["abc-123-XYZ", &"a".repeat(64)] {
        assert_eq!(echoed_id(&app, good).await, good);
    }
    let long = "x".repeat(60_000);
    for bad in [
        "",
        "has space",
        "semi;colon",
        "under_score",
        &"a".repeat(65),
        &long,
    ] {
        let got = echoed_id(&app, bad).await;
        assert_ne!(got, bad);
        assert!(is_plain_id(&got), "{got:?} replaced {bad:?}");
    }
    // What the events store is the generated id, not 60 KB of the client's.
    let user = TestUser::generate();
    let csrf = app.get_login().await.csrf();
    let page = read(
        app.client
            .post(app.url("/login"))
            .header("x-request-id", &long)
            .form(&[
                ("username", user.email.as_str()),
                ("password", "wrong password"),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let event = app
        .events()
        .await
        .into_iter()
        .find(|e| e.username.as_deref() == Some(user.email.as_str()))
        .unwrap();
    assert!(is_plain_id(event.request_id.as_deref().unwrap()));
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_counted() {
    let app = spawn_app().await;
    let resp = new_client()
        .get(app.url("/healthz"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        app.metrics()
            .await
            .contains("authd_untrusted_forwarded_for_total"),
    );
}

/// A client that goes away before its request is answered is counted as `499` (not the
/// timeout's `408`, which it never got): a whole sign-in is sent, and the connection closed
/// while its password is being hashed (at a cost that takes a while).
#[tokio::test]
async fn a_request_its_client_abandons_is_counted_499() {
    let app = spawn_app_with(|c| {
        c.hash_params.memory_kib = 262_144;
        c.hash_params.iterations = 8;
    })
    .await;
    let form = reqwest::Client::new()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap();
    let cookie: Vec<String> = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let csrf = read(form).await.csrf();
    let body = format!("username=nobody%40example.com&password=a+guess+at+it&csrf_token={csrf}");
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        cookie.join("; "),
        body.len()
    );
    let mut gone = connect(&app).await;
    gone.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(gone);
    let counted = r#"authd_http_requests_total{method="POST",route="/login",status="499"}"#;
    let mut seen = false;
    for _ in 0..100 {
        if app.metrics().await.contains(counted) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "{counted}");
}
