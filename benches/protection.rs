//! The protection layer's cost per sign-in, next to one argon2id verification, in one run:
//! the per-instance rate-limit check (governor) and the decision point's database work for a
//! successful sign-in (find + atomic count before the password check, clear after it).
//! Run with `cargo bench --bench protection`; `BENCH_DATABASE_URL` for PostgreSQL.

use std::sync::Arc;
use std::time::Instant;

use authd::domain::accounts::password::{HashParams, PasswordHasher};
use authd::domain::clock::{OsRandom, SystemClock};
use authd::domain::risk::Verdict;
use authd::domain::seal::{MasterKey, Sealer};
use authd::domain::signin::Protection;
use authd::domain::signin::ladder::{Admission, ChallengeAnswer, ProtectionSettings, SignInLookup};
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
        store.spent_links.clone(),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        &Sealer::new(
            MasterKey::generate(&OsRandom),
            "AUTHD_MASTER_KEY",
            Arc::new(OsRandom),
        ),
        ProtectionSettings::default(),
    )
    .await?;
    let throttle = Throttle::new(
        Limits {
            login_per_ip: 1_000_000_000,
            login_per_account: 1_000_000_000,
            ..Limits::default()
        },
        Arc::new(SystemClock),
    );

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

    // Decision point for a successful sign-in from a new source, per attempt. A sign-in looks
    // up the account and writes a `login_succeeded` event whatever the protection does; with
    // it, the lookup also counts the attempt (one statement on PostgreSQL) and the event write
    // also clears the pair. So the cost is (lookup + count, clear + event) minus (lookup, event),
    // both measured in the same loop.
    for i in 0..200u32 {
        store
            .accounts
            .insert(&authd::storage::AccountRecord {
                id: format!("u{i}"),
                email: format!("user{i}@example.com"),
                password_hash: hash.clone(),
                is_admin: false,
                created_at: 0,
                updated_at: 0,
                session_epoch: 0,
                email_verified_at: None,
                require_mfa: false,
                name: None,
                profile_updated_at: None,
                disabled_at: None,
            })
            .await?;
    }
    let ctx =
        authd::domain::context::RequestContext::new("192.0.2.1".parse()?, "bench", "r".into());
    let event = |i: u32| {
        authd::events::AuthEvent::new(
            authd::events::EventKind::LoginSucceeded,
            &ctx,
            authd::domain::clock::Clock::now(&SystemClock),
        )
        .user(&format!("u{i}"))
    };
    let mut gates = Vec::new();
    let mut events_only = Vec::new();
    for i in 0..2000u32 {
        let email = format!("user{}@example.com", i % 200);
        let ip = std::net::IpAddr::from([192, 0, 2, (i % 250) as u8]);
        let e = event(i);
        let t = Instant::now();
        let lookup = SignInLookup {
            email: Some(&email),
            name: "x",
            device: None,
            ip,
        };
        let counted = protection.ladder.count_sign_in(&lookup).await?;
        let admission = protection
            .ladder
            .decide_sign_in(&counted, ChallengeAnswer::Absent, Verdict::Allow, false)
            .await?;
        assert!(counted.account.is_some() && matches!(admission, Admission::Admit { .. }));
        protection.ladder.succeed(&counted.pair, &e, None).await?;
        gates.push(t.elapsed().as_secs_f64() * 1e6);
        let e = event(i);
        let t = Instant::now();
        assert!(store.accounts.find_by_email(&email).await?.is_some());
        store.events.insert(&e).await?;
        events_only.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let with_event = median(gates);
    let event_alone = median(events_only);
    let gate_us = (with_event - event_alone).max(0.0);
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
    println!("lookup+count, clear+event     {with_event:.1} µs  (median)");
    println!(
        "lookup, event alone           {event_alone:.1} µs  (median; paid by every sign-in anyway)"
    );
    println!("decision point                {gate_us:.1} µs  (the difference)");
    println!(
        "protection per sign-in        {total:.1} µs  = {:.2} % of one hash",
        100.0 * total / hash_us
    );
    Ok(())
}
