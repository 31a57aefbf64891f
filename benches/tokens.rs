//! Token hot paths, all in one run on the same cores:
//! 1. raw in-process decode-and-verify of one access token (`jwt::verify_access`, keys parsed
//!    once), across one task per core;
//! 2. `GET /userinfo` with that token over loopback (validation, revocation checks, account
//!    lookup, JSON) from concurrent clients;
//! 3. in-process signing rates for RS256, ES256 and EdDSA;
//! 4. `POST /token` (client credentials) issuance per second over loopback.
//!
//! Run with `cargo bench --bench tokens`; `BENCH_SECS` (default 5) per phase.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authd::app::{Application, Deps};
use authd::config::Config;
use authd::domain::accounts::service::Origin;
use authd::domain::clients::NewClient;
use authd::domain::clock::{Clock, SystemClock};
use authd::domain::tokens::alg::SigningAlg;
use authd::domain::tokens::jwt::{AccessClaims, sign_access, verify_access};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `tasks` copies of `work` until the deadline; returns completed operations per second.
async fn rate<F, Fut>(tasks: usize, secs: u64, work: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let work = Arc::new(work);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (work, done) = (work.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if work().await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let secs = env_or("BENCH_SECS", 5);
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut values = BTreeMap::new();
    values.insert(
        "database_url".to_owned(),
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        ),
    );
    values.insert("issuer".to_owned(), base.clone());
    // The issuance phase is one client on one address: lift its per-client limit.
    values.insert("rate_token_per_client".to_owned(), "100000000".to_owned());
    // BENCH_BEARER_CACHE_SECS=0 measures every bearer check with its database round trip.
    if let Ok(v) = std::env::var("BENCH_BEARER_CACHE_SECS") {
        values.insert("bearer_cache_secs".to_owned(), v);
    }
    let config = Config::from_values(&values)?;
    let access_alg = config.access_token_alg;
    let app = Application::build_with_listener(config, Deps::default(), listener).await?;
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let account = state
        .accounts
        .create(
            "bench@example.com",
            "benchmark password".into(),
            false,
            Origin::Cli,
        )
        .await?;
    let spec = NewClient {
        id: "bench".into(),
        grants: vec!["client_credentials".into(), "authorization_code".into()],
        redirect_uris: vec!["https://app.example/cb".into()],
        scopes: vec!["openid".into(), "email".into(), "reports".into()],
        ..NewClient::default()
    };
    let (_, secret) = state.oauth.clients().create(spec).await?;
    let secret = secret.unwrap_or_default();
    let now = SystemClock.now().unix_timestamp();
    let claims = AccessClaims {
        iss: base.clone(),
        sub: account.id.clone(),
        aud: "bench".into(),
        exp: now + 3600,
        iat: now,
        nbf: now,
        jti: "bench-jti".into(),
        client_id: "bench".into(),
        scope: "openid email".into(),
        auth_time: Some(now),
        acr: None,
        sid: None,
    };
    let keys = state.oauth.keys().clone();
    let token = Arc::new(sign_access(&keys, access_alg, &claims)?);

    // 1. Raw verify, one task per core (the verify is CPU-bound and never awaits I/O here).
    let (k, t, iss) = (keys.clone(), token.clone(), base.clone());
    let raw = rate(cores, secs, move || {
        let (k, t, iss) = (k.clone(), t.clone(), iss.clone());
        async move { matches!(verify_access(&k, &t, &iss, now).await, Ok(Ok(_))) }
    })
    .await;

    // 2. Userinfo over loopback.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let (h, t, url) = (http.clone(), token.clone(), format!("{base}/userinfo"));
    let userinfo = rate(4 * cores, secs, move || {
        let (h, t, url) = (h.clone(), t.clone(), url.clone());
        async move {
            match h.get(&url).bearer_auth(t.as_str()).send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;

    // 2b. The same with wrk (a C load generator, far cheaper per request than reqwest), when
    // it is installed: closer to the server's own capacity on a machine this small.
    let wrk = std::process::Command::new("wrk")
        .args(["-t1", "-c32", &format!("-d{secs}s"), "-H"])
        .arg(format!("Authorization: Bearer {}", token.as_str()))
        .arg(format!("{base}/userinfo"))
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|out| {
            out.lines()
                .find(|l| l.starts_with("Requests/sec:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<f64>().ok())
        });

    // 3. Signing per algorithm (in-process, one task per core).
    let mut signing = Vec::new();
    for alg in SigningAlg::ALL {
        let (k, c) = (keys.clone(), claims.clone());
        let r = rate(cores, secs.min(3), move || {
            let (k, c) = (k.clone(), c.clone());
            async move { tokio::task::block_in_place(|| sign_access(&k, alg, &c).is_ok()) }
        })
        .await;
        signing.push((alg, r));
    }

    // 4. Token endpoint, client credentials.
    let (h, url, s) = (http.clone(), format!("{base}/token"), secret.clone());
    let issuance = rate(4 * cores, secs, move || {
        let (h, url, s) = (h.clone(), url.clone(), s.clone());
        async move {
            match h
                .post(&url)
                .basic_auth("bench", Some(&s))
                .form(&[("grant_type", "client_credentials"), ("scope", "reports")])
                .send()
                .await
            {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;

    println!("cores                          {cores}");
    println!("access-token algorithm         {}", access_alg.as_str());
    println!("raw verify (in-process)        {raw:.0} /s");
    println!(
        "GET /userinfo (loopback)       {userinfo:.0} /s  ({:.1} % of raw verify)",
        100.0 * userinfo / raw
    );
    match wrk {
        Some(w) => println!(
            "GET /userinfo (wrk, loopback)  {w:.0} /s  ({:.1} % of raw verify)",
            100.0 * w / raw
        ),
        None => println!("GET /userinfo (wrk)            wrk not installed"),
    }
    for (alg, r) in &signing {
        println!("sign {:<6} (in-process)      {r:.0} /s", alg.as_str());
    }
    println!(
        "POST /token client_credentials {issuance:.0} /s  ({} access tokens)",
        access_alg.as_str()
    );
    Ok(())
}
