//! The traffic simulator (`authd simulate --target URL`): drives a running server over HTTP
//! through the real sign-in form, with `X-Forwarded-For` sources (the server must trust the
//! simulator's address in `AUTHD_TRUSTED_PROXIES`), and reports per scenario how often attackers
//! got in without a challenge, how often legitimate users met friction, the ROC AUC and the
//! true-positive rate at 1 % false positives of the raw score, and how many attempts each
//! campaign needed before it was detected. Seeded and reproducible: the same seed against a
//! fresh server gives the same traffic.
//!
//! Phases: accounts are registered; legitimate users build a history (home networks, one or two
//! devices each, working hours, the occasional new device, travel); a first round of attacks is
//! labelled through the admin API (standing in for the victims' "wasn't you?" reports) and a
//! model is trained; then fresh legitimate traffic and every attack scenario are measured.
//! Scores are read back from the events (joined on the `X-Request-Id` the simulator sets).
//!
//! A room of its own, outside the server: no server module imports it (a test below checks),
//! and it reaches the server only over HTTP (reqwest), borrowing from the library nothing but
//! public, side-effect-free helpers (the ROC metrics, the GeoIP reader, the user-agent parser,
//! the event type it reads back).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::sim::admin::{admin_token, scored_events};
use crate::sim::client::Sim;
use crate::sim::population::{Countries, User};
use crate::sim::report::{Report, friction};

/// The operator's side: admin token, events, labels, training.
mod admin;
/// The attack scenarios.
mod attacks;
/// The HTTP driver and the simulation's state.
mod client;
/// Legitimate traffic.
mod legit;
/// SVG figures of the report.
pub mod plot;
/// Browsers, users, countries.
mod population;
/// The token replay scenario.
mod replay;
/// The report's types.
pub mod report;
/// Joining the measured attempts' scores back to their scenarios.
mod scoring;

/// `authd simulate` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The server's base URL.
    #[arg(long)]
    pub target: String,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Legitimate users.
    #[arg(long, default_value_t = 40)]
    pub users: usize,
    /// Simulated days of history before measuring (three sign-in slots a day).
    #[arg(long, default_value_t = 6)]
    pub days: usize,
    /// Attempts per targeted-takeover scenario.
    #[arg(long, default_value_t = 40)]
    pub attacks: usize,
    /// The answer the server's `test` CAPTCHA accepts (`AUTHD_CAPTCHA_TEST_ANSWER`): legitimate
    /// users who meet a challenge answer it and go on.
    #[arg(long, default_value = "")]
    pub captcha_answer: String,
    /// `client_id:client_secret` of a client holding the `admin` scope: needed to read scores,
    /// label the training round and train.
    #[arg(long)]
    pub admin_client: Option<String>,
    /// A MaxMind-format database (the one the server reads as `AUTHD_GEOIP_DB`): users then
    /// live in countries, travel abroad, and attackers come from chosen countries.
    #[arg(long)]
    pub geoip: Option<std::path::PathBuf>,
    /// `client_id:client_secret` of a confidential, first-party client with the
    /// `authorization_code` and `client_credentials` grants and `--replay-redirect-uri`
    /// registered: enables the token replay scenario (tokens issued at home, then presented to
    /// `/risk/evaluate` by that client, their audience, from the owner's context and from an
    /// attacker's).
    #[arg(long)]
    pub replay_client: Option<String>,
    /// That client's redirect URI.
    #[arg(long, default_value = "http://127.0.0.1:7777/cb")]
    pub replay_redirect_uri: String,
    /// Write `risk-roc.svg`, `risk-scores.svg` and `risk-report.json` into this directory
    /// (needs `--admin-client`, which gives the scores).
    #[arg(long)]
    pub plot_dir: Option<std::path::PathBuf>,
}

/// The clock hook: the in-process test advances its fake clock; against a real server time
/// simply passes (`None`).
pub type Advance = Arc<dyn Fn(i64) + Send + Sync>;

/// Runs the simulation against `args.target`.
pub async fn run(args: &SimulateArgs) -> anyhow::Result<Report> {
    run_with(args, None).await
}

/// Runs the simulation; `advance` (tests) moves the server's clock forward by that many seconds.
pub async fn run_with(args: &SimulateArgs, advance: Option<Advance>) -> anyhow::Result<Report> {
    let mut sim = start(args, advance)?;
    let mut users = population::users(&mut sim, args.users);
    for u in &users {
        sim.register(u).await?;
    }
    // History: three slots a day.
    let mut prior_legit = Vec::new();
    for day in 0..args.days {
        let outcomes = legit::legit_round(&mut sim, &mut users, true).await?;
        if day + 2 >= args.days {
            // The last two days of history, scored by the built-in prior.
            prior_legit.extend(outcomes);
        }
    }
    let admin = args.admin_client.as_deref();
    let (model_version, prior_round) = match admin {
        Some(pair) => training_round(&mut sim, &mut users, args, pair).await?,
        None => (None, BTreeMap::new()),
    };
    let mut report = Report {
        seed: args.seed,
        model_version,
        prior_legit_friction: friction(&prior_legit),
        prior: prior_round
            .into_iter()
            .map(|(k, v)| (k.trim_start_matches("train_").to_owned(), v))
            .collect(),
        ..Report::default()
    };
    let measured_from = sim.next_request;
    measure(&mut sim, &mut users, args, &mut report).await?;
    if let Some(pair) = admin {
        let token = admin_token(&sim, pair).await?;
        let events = scored_events(&sim, &token).await?;
        scoring::score(&sim, &events, measured_from, &mut report);
        if let Some(dir) = &args.plot_dir {
            write_figures(dir, &report)?;
        }
    }
    Ok(report)
}

/// The simulation's state before anything was sent.
fn start(args: &SimulateArgs, advance: Option<Advance>) -> anyhow::Result<Sim> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut sim = Sim {
        http,
        base: args.target.trim_end_matches('/').to_owned(),
        rng: ChaCha8Rng::seed_from_u64(args.seed),
        captcha_answer: args.captcha_answer.clone(),
        next_request: 0,
        truth: HashMap::new(),
        elapsed: 0,
        advance,
        geo: None,
        last_cookies: Vec::new(),
    };
    if let Some(path) = &args.geoip {
        sim.geo = Some(Arc::new(Countries::sample(path, &mut sim.rng)?));
    }
    Ok(sim)
}

/// Training round: a few takeovers and campaigns, labelled as the victims would report them,
/// then a model trained. Returns the model version and what the built-in prior made of the
/// round. Tokens are fetched right before use: simulated time outruns their lifetime.
async fn training_round(
    sim: &mut Sim,
    users: &mut [User],
    args: &SimulateArgs,
    pair: &str,
) -> anyhow::Result<(Option<i64>, BTreeMap<String, report::ScenarioReport>)> {
    let mut report = Report::default();
    attacks::attacks(sim, users, args.attacks / 2, &mut report, "train_").await?;
    legit::legit_round(sim, users, false).await?;
    let token = admin_token(sim, pair).await?;
    let events = scored_events(sim, &token).await?;
    for id in scoring::training_attack_events(sim, &events) {
        admin::label(sim, &token, id).await?;
    }
    let version = admin::train(sim, &token).await?;
    Ok((version, report.scenarios))
}

/// Measurement: two days of fresh legitimate traffic, every attack scenario, and the token
/// replay when a replay client is given.
async fn measure(
    sim: &mut Sim,
    users: &mut [User],
    args: &SimulateArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut legit = Vec::new();
    for _ in 0..2 {
        legit.extend(legit::legit_round(sim, users, true).await?);
    }
    report.legit_attempts = legit.len();
    report.legit_friction = friction(&legit);
    attacks::attacks(sim, users, args.attacks, report, "").await?;
    if let (Some(client), Some(_)) = (&args.replay_client, args.admin_client.as_deref()) {
        replay::token_replay(sim, users, args, client, report).await?;
    }
    Ok(())
}

/// The figures and the report (without raw scores) into `dir`.
fn write_figures(dir: &std::path::Path, report: &Report) -> anyhow::Result<()> {
    plot::write(dir, &report.scores)?;
    let mut shown = report.clone();
    shown.scores.clear();
    std::fs::write(
        dir.join("risk-report.json"),
        serde_json::to_string_pretty(&shown)? + "\n",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The simulator is a client of the server, never a part of it: outside `src/sim/`, only
    /// the module list (`lib.rs`) and the command line (`cli.rs`) may name it.
    #[test]
    fn no_server_module_imports_the_simulator() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let allowed = [src.join("lib.rs"), src.join("cli.rs")];
        let offenders: Vec<_> = files
            .iter()
            .filter(|p| !p.starts_with(src.join("sim")) && !allowed.contains(p))
            .filter(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                text.contains("crate::sim") || text.contains("authd::sim")
            })
            .collect();
        assert!(offenders.is_empty(), "{offenders:?}");
    }
}
