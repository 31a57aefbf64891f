//! Sign-ins per second through the real HTTP form, next to the argon2 limit measured in the
//! same run (cores ÷ one verification's time). Run with `cargo bench --bench signin`;
//! `BENCH_SECS` sets the load duration (default 10), `BENCH_CONCURRENCY` the clients.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use authd::app::{Application, Deps};
use authd::config::Config;
use authd::domain::accounts::service::Origin;
use secrecy::SecretString;

const PASSWORD: &str = "benchmark password 1";

fn csrf_from(body: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker)? + marker.len();
    let len = body.get(start..)?.find('"')?;
    body.get(start..start + len).map(str::to_owned)
}

/// The `name=value` pairs of the cookies a response sets (the CSRF cookie; a session only once
/// there is something to keep), as one `Cookie` header.
fn cookies(resp: &reqwest::Response) -> Option<String> {
    let pairs: Vec<&str> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

/// One full browser sign-in: GET the form (CSRF cookie and token), POST the credentials with
/// that cookie (a new browser each time: no device cookie).
async fn sign_in(client: &reqwest::Client, base: &str, email: &str) -> bool {
    let Ok(page) = client.get(format!("{base}/login")).send().await else {
        return false;
    };
    let Some(cookie) = cookies(&page) else {
        return false;
    };
    let Ok(body) = page.text().await else {
        return false;
    };
    let Some(csrf) = csrf_from(&body) else {
        return false;
    };
    let form = [
        ("username", email),
        ("password", PASSWORD),
        ("csrf_token", csrf.as_str()),
    ];
    match client
        .post(format!("{base}/login"))
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await
    {
        Ok(resp) => resp.status() == reqwest::StatusCode::SEE_OTHER,
        Err(_) => false,
    }
}

/// Runs `concurrency` tasks (`task(i, deadline)`, each counting its own successes and
/// failures until `deadline`) for `secs` seconds; the sums and the seconds it took.
async fn drive<F, T>(concurrency: u64, secs: u64, task: F) -> anyhow::Result<(u64, u64, f64)>
where
    F: Fn(u64, Instant) -> T,
    T: std::future::Future<Output = anyhow::Result<(u64, u64)>> + Send + 'static,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| tokio::spawn(task(i, deadline)))
        .collect();
    let (mut done, mut failed) = (0, 0);
    for t in tasks {
        let (d, f) = t.await??;
        done += d;
        failed += f;
    }
    Ok((done, failed, started.elapsed().as_secs_f64()))
}

/// Verifies per second with `concurrency` verifications in flight for `secs` seconds.
async fn hashing_alone(
    hasher: &authd::domain::accounts::password::PasswordHasher,
    hash: &str,
    concurrency: u64,
    secs: u64,
) -> anyhow::Result<f64> {
    let (done, _, elapsed) = drive(concurrency, secs, |_, deadline| {
        let (hasher, hash) = (hasher.clone(), hash.to_owned());
        async move {
            let secret = SecretString::from(PASSWORD);
            let mut done = 0;
            while Instant::now() < deadline {
                hasher.verify(&secret, Some(&hash)).await?;
                done += 1;
            }
            anyhow::Ok((done, 0))
        }
    })
    .await?;
    Ok(done as f64 / elapsed)
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let secs = env_or("BENCH_SECS", 10);
    let concurrency = env_or("BENCH_CONCURRENCY", 4 * cores as u64);
    let dir = tempfile::tempdir()?;
    let mut values = BTreeMap::new();
    values.insert("bind".to_owned(), "127.0.0.1:0".to_owned());
    values.insert(
        "database_url".to_owned(),
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        ),
    );
    // One client address drives the whole load: lift the per-network and per-account limits.
    values.insert("rate_login_per_ip".to_owned(), "10000000".to_owned());
    values.insert("rate_login_per_account".to_owned(), "10000000".to_owned());
    let config = Config::from_values(&values)?;
    let app = Application::build(config, Deps::default()).await?;
    let base = format!("http://{}", app.local_addr()?);
    let state = app.state().clone();
    // One account per client, as in real traffic: concurrent sign-ins to one account from one
    // address are (rightly) counted together by the protection layer.
    let mut first = None;
    for i in 0..concurrency {
        let email = format!("bench{i}@example.com");
        let a = state
            .accounts
            .create(&email, SecretString::from(PASSWORD), false, Origin::Cli)
            .await?;
        first.get_or_insert(a);
    }
    let account = first.ok_or_else(|| anyhow::anyhow!("no account"))?;
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    // One verification's time on an idle server: 5 warm-up runs, then the median of 31.
    let hasher = state.accounts.hasher().clone();
    let secret = SecretString::from(PASSWORD);
    for _ in 0..5 {
        hasher.verify(&secret, Some(&account.password_hash)).await?;
    }
    let mut times = Vec::new();
    for _ in 0..31 {
        let t = Instant::now();
        hasher.verify(&secret, Some(&account.password_hash)).await?;
        times.push(t.elapsed());
    }
    times.sort();
    let one_hash = times.get(times.len() / 2).copied().unwrap_or_default();
    let limit = cores as f64 / one_hash.as_secs_f64();

    let (done, failed, elapsed) = drive(concurrency, secs, |i, deadline| {
        let base = base.clone();
        let email = format!("bench{i}@example.com");
        async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            let (mut done, mut failed) = (0, 0);
            while Instant::now() < deadline {
                if sign_in(&client, &base, &email).await {
                    done += 1;
                } else {
                    failed += 1;
                }
            }
            anyhow::Ok((done, failed))
        }
    })
    .await?;
    let rate = done as f64 / elapsed;
    println!("cores                     {cores}");
    println!(
        "one argon2id verify       {:.2} ms (m=19456 KiB, t=2, p=1)",
        one_hash.as_secs_f64() * 1e3
    );
    println!("argon2 limit              {limit:.1} sign-ins/s");
    println!(
        "measured                  {rate:.1} sign-ins/s over {elapsed:.1} s, {concurrency} clients"
    );
    println!("failed                    {failed}");
    println!("ratio                     {:.1} %", 100.0 * rate / limit);
    // The same hashes without HTTP, sessions or the database: what the hash threads reach when
    // they have the machine to themselves, so the gap splits into the parallel slowdown (two
    // hashes at once share the caches and the memory bus) and the rest of a sign-in.
    let alone = hashing_alone(&hasher, &account.password_hash, concurrency, secs).await?;
    println!(
        "hashing alone             {alone:.1} verifies/s, {concurrency} at a time ({:.1} % of the limit)",
        100.0 * alone / limit
    );
    println!("sign-ins / hashing alone  {:.1} %", 100.0 * rate / alone);
    // Not a timed assertion: a run where sign-ins fail measures nothing (`.ci/run` runs this
    // as a smoke test, so a broken sign-in path or a broken bench fails there).
    if failed > 0 || done == 0 {
        anyhow::bail!("{failed} sign-ins failed: the figures above measure nothing");
    }
    Ok(())
}
