//! The admin overview (`GET /admin`) with a large event log: starts the real server in-process
//! (SQLite, or PostgreSQL in a scratch database when `BENCH_DATABASE_URL` is set), signs an
//! admin in over HTTP with the e-mailed second factor, seeds `BENCH_EVENTS` events (default
//! 1 000 000) with SQL in batches of 100 000, and times `BENCH_RENDERS` (default 20) renders of
//! the page after 2 warm-ups: median and p95. Two distributions, each in a fresh database:
//! `spread` (over the 90-day retention window, half successes) and `attack` (all in the last
//! week, mostly failures from few addresses against few accounts). `BENCH_CASES=spread` runs
//! one. `BENCH_GEOIP_DB` and `BENCH_GEOIP_ASN_DB` configure GeoIP files (the page then groups
//! the sources by country and ASN). After seeding, the overview's hourly rollup catches up
//! (timed) before the renders; every render must hold the whole page.
//! Run with `cargo bench --bench overview`; docs/benchmarks.md has the figures.

use std::collections::BTreeMap;
use std::time::Instant;

use authd::app::{Application, Deps};
use authd::config::Config;
use authd::domain::accounts::service::Origin;
use authd::domain::clock::{Clock, OsRandom, SystemClock};
use authd::domain::seal::MasterKey;

const EMAIL: &str = "admin@example.com";
const PASSWORD: &str = "benchmark password 1";
const BATCH: u64 = 100_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn csrf_from(body: &str) -> anyhow::Result<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body
        .find(marker)
        .ok_or_else(|| anyhow::anyhow!("no csrf"))?
        + marker.len();
    body.get(start..)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no csrf"))
}

/// The newest six-digit code in the mail directory.
fn last_code(dir: &std::path::Path) -> anyhow::Result<String> {
    let mut newest: Option<(std::time::SystemTime, String)> = None;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let mail = std::fs::read_to_string(&path)?;
        let modified = std::fs::metadata(&path)?.modified()?;
        let code = mail.split_once("code is:").and_then(|(_, after)| {
            let digits: String = after
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take(6)
                .collect();
            (digits.len() == 6).then_some(digits)
        });
        if let Some(code) = code
            && newest.as_ref().is_none_or(|(t, _)| modified >= *t)
        {
            newest = Some((modified, code));
        }
    }
    newest
        .map(|(_, c)| c)
        .ok_or_else(|| anyhow::anyhow!("no code mail"))
}

/// Signs the admin in through `/login`, then the console's step-up (the e-mailed code).
async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    state: &authd::app::state::AppState,
    mail_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let login = format!("{base}/login");
    let csrf = csrf_from(&http.get(&login).send().await?.text().await?)?;
    let form = [
        ("username", EMAIL),
        ("password", PASSWORD),
        ("csrf_token", &csrf),
    ];
    http.post(&login).form(&form).send().await?;
    let refused = http
        .get(format!("{base}/admin"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = csrf_from(&refused)?;
    let sent = http
        .post(format!("{base}/admin/step-up"))
        .form(&[("csrf_token", &csrf)])
        .send()
        .await?;
    let reauth = format!(
        "{base}{}",
        sent.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("/login?reauth=1&next=%2Fadmin")
    );
    let csrf = csrf_from(&http.get(&reauth).send().await?.text().await?)?;
    let form = [
        ("username", EMAIL),
        ("password", PASSWORD),
        ("csrf_token", &csrf),
    ];
    http.post(&reauth).form(&form).send().await?;
    state.drain_mail().await;
    let code = last_code(mail_dir)?;
    let csrf = csrf_from(&http.get(&reauth).send().await?.text().await?)?;
    let passed = http
        .post(&reauth)
        .form(&[("email_code", code.as_str()), ("csrf_token", &csrf)])
        .send()
        .await?;
    anyhow::ensure!(passed.status().is_redirection(), "step-up refused");
    Ok(())
}

/// One batch of seeded events as SQL: rows `from..to` of `n`, spread back from `now_ms` over
/// `span_ms`. The kind mix, accounts and addresses depend on `attack`.
fn seed_sql(attack: bool, from: u64, to: u64, n: u64, now_ms: i64, span_ms: i64) -> String {
    let kind = if attack {
        "case when i % 20 < 2 then 'login_succeeded' when i % 20 < 14 then 'login_failed' \
         when i % 20 < 16 then 'login_challenged' when i % 20 = 16 then 'challenge_passed' \
         when i % 20 = 17 then 'login_blocked' else 'rate_limited' end"
    } else {
        "case when i % 20 < 10 then 'login_succeeded' when i % 20 < 14 then 'login_failed' \
         when i % 20 = 14 then 'login_challenged' when i % 20 = 15 then 'challenge_passed' \
         when i % 20 = 16 then 'login_blocked' when i % 20 = 17 then 'rate_limited' \
         when i % 20 = 18 then 'token_issued' else 'session_created' end"
    };
    // Attacks hit 2 000 accounts from 5 000 addresses; normal traffic 100 000 and 62 500.
    let (users, ips) = if attack {
        (2_000, 5_000)
    } else {
        (100_000, 62_500)
    };
    format!(
        "with recursive g(i) as (select cast({from} as bigint) union all select i + 1 from g where i < {last}) \
         insert into event (id, ts, kind, ip, user_agent, user_id, username, client_id, risk, \
         decision, request_id, created_at, decision_code) \
         select 'seed-' || i, {now_ms} - (i * {span_ms}) / {n}, {kind}, \
         '10.' || ((i * 7) % {ips} / 250) || '.' || ((i * 7) % {ips} % 250) || '.1', \
         'Mozilla/5.0 (X11; Linux x86_64) bench', 'u' || ((i * 7919) % {users}), \
         'user' || ((i * 7919) % {users}) || '@example.com', null, \
         '{{\"score\":0.' || (i % 90 + 10) || ',\"reasons\":[\"new device\",\"unusual hour\"],\
         \"features\":[0.0,1.0,0.5,0.25,0.0,1.0]}}', \
         case when i % 20 = 15 and i % 40 = 15 then 'factor_email' else 'allow' end, \
         'req-' || i, {now_ms} - (i * {span_ms}) / {n}, \
         case when i % 20 = 15 and i % 40 = 15 then 'factor_email' else 'allow' end \
         from g",
        last = to - 1
    )
}

/// The accounts the events point at (the top-accounts query joins them for the email).
fn accounts_sql(from: u64, to: u64) -> String {
    format!(
        "with recursive g(i) as (select cast({from} as bigint) union all select i + 1 from g where i < {last}) \
         insert into account (id, email, password_hash, is_admin, created_at, updated_at) \
         select 'u' || i, 'user' || i || '@example.com', 'x', false, 0, 0 from g",
        last = to - 1
    )
}

async fn exec(url: &str, sql: &str) -> anyhow::Result<()> {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await?;
        sqlx::raw_sql(sql).execute(&pool).await?;
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await?;
        sqlx::raw_sql(sql).execute(&pool).await?;
        pool.close().await;
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// Seeds one distribution into a fresh database and times the page.
async fn run_case(attack: bool, n: u64, renders: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mail_dir = dir.path().join("mail");
    let scratch = match std::env::var("BENCH_DATABASE_URL") {
        Ok(base) => Some((
            base.clone(),
            authd::storage::postgres::create_scratch_database(&base).await?,
        )),
        Err(_) => None,
    };
    let url = scratch.as_ref().map_or_else(
        || {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            )
        },
        |(_, (url, _))| url.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut values: BTreeMap<String, String> = [
        ("database_url", url.clone()),
        ("metrics_bind", "127.0.0.1:0".to_owned()),
        ("issuer", base.clone()),
        ("mail_dir", mail_dir.display().to_string()),
        ("mail_poll_ms", "20".to_owned()),
        ("failure_delay_ms", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // Optional GeoIP files (the country and ASN groupings look every source up).
    for (var, key) in [
        ("BENCH_GEOIP_DB", "geoip_db"),
        ("BENCH_GEOIP_ASN_DB", "geoip_asn_db"),
    ] {
        if let Ok(path) = std::env::var(var) {
            values.insert(key.to_owned(), path);
        }
    }
    if scratch.is_some() {
        // PostgreSQL needs the master key given (a throwaway one here).
        let key = MasterKey::generate(&OsRandom).to_base64();
        values.insert("master_key".to_owned(), key);
    }
    let app =
        Application::build_with_listener(Config::from_values(&values)?, Deps::default(), listener)
            .await?;
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    state
        .accounts
        .create(EMAIL, PASSWORD.into(), true, Origin::Cli)
        .await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()?;
    sign_in(&http, &base, &state, &mail_dir).await?;

    let now_ms = i64::try_from(SystemClock.now().unix_timestamp_nanos() / 1_000_000)?;
    let span_ms: i64 = if attack { 7 } else { 90 } * 86_400_000;
    let users = if attack { 2_000 } else { 100_000 }.min(n.max(1));
    let t = Instant::now();
    exec(&url, &accounts_sql(0, users)).await?;
    let mut from = 0;
    while from < n {
        let to = (from + BATCH).min(n);
        exec(&url, &seed_sql(attack, from, to, n, now_ms, span_ms)).await?;
        from = to;
    }
    if url.starts_with("postgres") {
        // What autovacuum does after a bulk insert (PostgreSQL 13+): statistics and the
        // visibility map that lets the top lists read their indexes alone.
        exec(&url, "vacuum analyze event").await?;
    }
    let seed_s = t.elapsed().as_secs_f64();
    // The whole catch-up over the seeded log, from an empty rollup (the background job may
    // have added part of it during the seeding; it may share the work, never double it).
    exec(
        &url,
        "delete from event_hourly; delete from event_risk_hourly; update event_rollup set seq = 0",
    )
    .await?;
    let t = Instant::now();
    state.admin_console.roll_up_events().await?;
    let rollup_s = t.elapsed().as_secs_f64();

    let page = format!("{base}/admin");
    let mut times = Vec::new();
    for i in 0..renders + 2 {
        let t = Instant::now();
        let resp = http.get(&page).send().await?;
        let ok = resp.status().is_success();
        let body = resp.text().await?;
        // The whole page: the first slice's counts and lists and every further part.
        let parts = [
            "id=\"outcomes\"",
            "id=\"top-sources\"",
            "data-series=\"hours\"",
            "data-series=\"days\"",
            "id=\"risk-bins\"",
            "id=\"mail\"",
            "id=\"model\"",
            "id=\"top-networks\"",
        ];
        anyhow::ensure!(
            ok && parts.iter().all(|p| body.contains(p)),
            "not the whole overview"
        );
        if i >= 2 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{:<10} {:<8} {n:>9} events  seeded in {seed_s:>6.1} s  rolled up in {rollup_s:>5.1} s  GET /admin median {:>7.1} ms  \
         p95 {:>7.1} ms  max {:>7.1} ms",
        if url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        if attack { "attack" } else { "spread" },
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.last().copied().unwrap_or_default(),
    );
    if let Some((base, (_, name))) = scratch {
        if std::env::var("BENCH_KEEP").is_ok() {
            println!("kept {name}");
        } else {
            authd::storage::postgres::drop_database(&base, &name).await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env_or("BENCH_EVENTS", 1_000_000);
    let renders = env_or("BENCH_RENDERS", 20).max(1);
    let cases = std::env::var("BENCH_CASES").unwrap_or_else(|_| "spread,attack".to_owned());
    for case in cases.split(',') {
        run_case(case.trim() == "attack", n, renders).await?;
    }
    Ok(())
}
