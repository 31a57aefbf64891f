//! The token replay scenario: tokens issued to users signing in at home (authorization code
//! with PKCE), then presented to `/risk/evaluate` by the client they were issued to (only a
//! token's audience may ask) as seen from the owner's own context and from an attacker's
//! (another country or network, another browser).
#![allow(
    clippy::indexing_slicing,
    reason = "every user has at least one device"
)]

use anyhow::Context;
use rand::RngExt;
use serde_json::Value;

use crate::domain::risk::model::{roc_auc, tpr_at_fpr};
use crate::sim::SimulateArgs;
use crate::sim::client::{Sim, cookie_header};
use crate::sim::population::{AGENTS, User, fresh_net, near_home};
use crate::sim::report::{Outcome, Phase, ScenarioReport};

/// The replay client: `client_id`, secret and redirect URI.
struct ReplayClient<'a> {
    id: &'a str,
    secret: &'a str,
    redirect_uri: &'a str,
}

/// Runs the scenario with `client` (`client_id:client_secret`), which asks `/risk/evaluate`
/// with its own client-credentials token; adds `token_replay` and the token-use scores to
/// `report`.
pub(super) async fn token_replay(
    sim: &mut Sim,
    users: &[User],
    args: &SimulateArgs,
    client: &str,
    report: &mut Phase,
) -> anyhow::Result<()> {
    let (id, secret) = client
        .split_once(':')
        .context("--replay-client must be client_id:client_secret")?;
    let client = ReplayClient {
        id,
        secret,
        redirect_uri: &args.replay_redirect_uri,
    };
    let rs = own_token(sim, &client).await?;
    let mut legit = Vec::new();
    let mut replayed = Vec::new();
    // Regular users only: the thin owners keep their two sign-ins.
    let regular: Vec<&User> = users.iter().filter(|u| !u.thin).collect();
    for i in 0..args.attacks.min(regular.len() * 2) {
        let Some(u) = regular.get(i % regular.len().max(1)).map(|u| (*u).clone()) else {
            break;
        };
        let Some(token) = issue_at_home(sim, &u, &client).await? else {
            continue;
        };
        let agent = u.devices[0].agent;
        let own = evaluate(sim, &rs, &token, near_home(&u), agent).await?;
        let net = match (sim.geo.clone(), &u.country) {
            (Some(g), Some(c)) => {
                let other = g.pick_other_country(c, &mut sim.rng);
                g.pick_net(&other, &mut sim.rng)
            }
            _ => fresh_net(sim),
        };
        let ip = sim.ip(net);
        let other_agent = AGENTS
            .iter()
            .copied()
            .find(|a| *a != agent)
            .unwrap_or(AGENTS[0]);
        let theirs = evaluate(sim, &rs, &token, ip, other_agent).await?;
        legit.push(own);
        replayed.push(theirs);
    }
    record(report, &legit, &replayed);
    Ok(())
}

/// Signs `u` in at home on their first device and runs the code flow; the access token, or
/// `None` when the sign-in did not go through.
async fn issue_at_home(
    sim: &mut Sim,
    u: &User,
    client: &ReplayClient<'_>,
) -> anyhow::Result<Option<String>> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let device = u.devices[0].clone();
    let home = sim.ip(u.home);
    let (outcome, _) = sim
        .sign_in("token_issue", &home, &device, &u.email, &u.password)
        .await?;
    if outcome != Outcome::Allowed {
        return Ok(None);
    }
    let cookie = cookie_header(&sim.last_cookies);
    let verifier = format!(
        "verifier-{}-{}",
        sim.rng.random::<u64>(),
        sim.rng.random::<u64>()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let mut url = url::Url::parse(&format!("{}/authorize", sim.base))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client.id)
        .append_pair("redirect_uri", client.redirect_uri)
        .append_pair("scope", "openid")
        .append_pair("state", "s")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let authorize = sim
        .http
        .get(url)
        .header("x-forwarded-for", &home)
        .header("user-agent", device.agent)
        .header("cookie", &cookie)
        .send()
        .await?;
    let location = authorize
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let code = url::Url::parse(&location)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
        })
        .context(
            "/authorize gave no code: is the replay client first-party with that redirect URI?",
        )?;
    exchange(sim, client, &code, &verifier).await.map(Some)
}

/// The replay client's own client-credentials token: it asks `/risk/evaluate` about the
/// tokens issued to it.
async fn own_token(sim: &Sim, client: &ReplayClient<'_>) -> anyhow::Result<String> {
    let resp = sim
        .http
        .post(format!("{}/token", sim.base))
        .basic_auth(client.id, Some(client.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    if !resp.status().is_success() {
        anyhow::bail!(
            "the replay client's own token: {} (does it hold the client_credentials grant?)",
            resp.status()
        );
    }
    let v: Value = resp.json().await?;
    v.get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("no access_token")
}

/// The code exchanged for an access token.
async fn exchange(
    sim: &Sim,
    client: &ReplayClient<'_>,
    code: &str,
    verifier: &str,
) -> anyhow::Result<String> {
    let tokens: Value = sim
        .http
        .post(format!("{}/token", sim.base))
        .basic_auth(client.id, Some(client.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri),
            ("code_verifier", verifier),
        ])
        .send()
        .await?
        .json()
        .await?;
    tokens
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("no access token")
}

/// `/risk/evaluate`'s answer for `token` seen from `ip` with `user_agent`.
async fn evaluate(
    sim: &Sim,
    rs: &str,
    token: &str,
    ip: String,
    user_agent: &str,
) -> anyhow::Result<Value> {
    Ok(sim
        .http
        .post(format!("{}/risk/evaluate", sim.base))
        .bearer_auth(rs)
        .json(&serde_json::json!({ "token": token, "ip": ip, "user_agent": user_agent }))
        .send()
        .await?
        .json()
        .await?)
}

/// The scenario's figures and scores from the owners' and the replayed answers.
fn record(report: &mut Phase, legit: &[Value], replayed: &[Value]) {
    let allowed = |a: &&Value| a.get("decision").and_then(Value::as_str) == Some("allow");
    let flagged = |v: &[Value]| {
        #[allow(clippy::cast_precision_loss)]
        let share = v.iter().filter(|a| !allowed(a)).count() as f64 / v.len().max(1) as f64;
        share
    };
    let score = |a: &Value| a.get("score").and_then(Value::as_f64).unwrap_or(0.0);
    let scored: Vec<(f64, bool)> = legit
        .iter()
        .map(|a| (score(a), false))
        .chain(replayed.iter().map(|a| (score(a), true)))
        .collect();
    report.legit_token_use_flagged = Some(flagged(legit));
    report
        .scores
        .insert("token_use_legit".into(), legit.iter().map(score).collect());
    report
        .scores
        .insert("token_replay".into(), replayed.iter().map(score).collect());
    report.scenarios.insert(
        "token_replay".into(),
        ScenarioReport {
            attempts: replayed.len(),
            passed_unchallenged: replayed.iter().filter(allowed).count(),
            challenged_or_blocked: flagged(replayed),
            // A replay /risk/evaluate did not answer `allow` is one the resource server refuses.
            kept_out: flagged(replayed),
            takeover_pass_rate: None,
            attempts_until_detected: None,
            roc_auc: roc_auc(&scored),
            tpr_at_1pct_fpr: tpr_at_fpr(&scored, 0.01),
            ..ScenarioReport::default()
        },
    );
}
