//! The protection layer's cost per sign-in, next to one argon2id verification, in one run:
//! the per-instance rate-limit check (governor) and the decision point's database work for a
//! successful sign-in (find + atomic count before the password check, clear after it).
//! Run with `cargo bench --bench protection`; `BENCH_DATABASE_URL` for PostgreSQL.

use std::sync::Arc;
use std::time::Instant;

use authd::domain::accounts::password::{HashParams, PasswordHasher};
use authd::domain::clock::{OsRandom, SystemClock};
use authd::domain::protection::{ChallengeAnswer, Protection, ProtectionSettings, Source};
use authd::domain::throttle::{Door, Limits, Throttle, ThrottleKey};
use secrecy::SecretString;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let store = authd::storage::connect(&url, 4).await?;
    let protection = Protection::load(
        store.failures.clone(),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        ProtectionSettings::default(),
    )
    .await?;
    let throttle = Throttle::new(Limits {
        login_per_ip: 1_000_000_000,
        login_per_account: 1_000_000_000,
        ..Limits::default()
    });

    // One argon2id verification (production parameters), median of 21 after 3 warm-ups.
    let hasher = PasswordHasher::new(HashParams::default(), 1, 0)?;
    let pw: SecretString = "benchmark password".into();
    let hash = hasher.hash(&pw).await?;
    let mut hashes = Vec::new();
    for i in 0..24 {
        let t = Instant::now();
        hasher.verify(&pw, Some(&hash)).await?;
        if i >= 3 {
            hashes.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let hash_us = median(hashes);

    // Rate-limit check alone (two keys, as at sign-in).
    let n = 200_000;
    let t = Instant::now();
    for i in 0..n {
        let ip = std::net::IpAddr::from((i as u32).to_be_bytes());
        let keys = [
            ThrottleKey::net(ip),
            ThrottleKey::Account(format!("user{}", i % 1000)),
        ];
        let _ = throttle.check(Door::Login, &keys);
    }
    let throttle_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);

    // Decision point for a successful sign-in from a new source, per attempt.
    let mut gates = Vec::new();
    for i in 0..2000 {
        let account = format!("user:{}", i % 200);
        let source = Source::Net(format!("192.0.2.{}", i % 250));
        let t = Instant::now();
        protection
            .admit(&account, &source, ChallengeAnswer::Absent)
            .await?;
        protection.record(&account, &source, true).await?;
        gates.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let gate_us = median(gates);
    let total = throttle_us + gate_us;
    println!(
        "database                      {}",
        if url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!("argon2id verify (median)      {hash_us:.0} µs");
    println!("rate-limit check              {throttle_us:.2} µs");
    println!("decision point (median)       {gate_us:.1} µs  (count + clear: two statements)");
    println!(
        "protection per sign-in        {total:.1} µs  = {:.2} % of one hash",
        100.0 * total / hash_us
    );
    Ok(())
}
