//! The traffic simulator (`authd simulate --target URL`): drives a running server over HTTP
//! through the real sign-in form, with `X-Forwarded-For` sources (the server must trust the
//! simulator's address in `AUTHD_TRUSTED_PROXIES`), and reports per scenario how often attackers
//! got in without a challenge and how often they were kept out (stopped, not only challenged:
//! with `--mail-dir` owners verify their address and read the e-mailed codes, attackers answer
//! CAPTCHAs but never see the victim's mail), how often legitimate users met friction, the ROC
//! AUC and the true-positive rate at 1 % false positives of the raw score, and how many attempts
//! each campaign needed before it was detected. Seeded and reproducible: the same seed against a
//! fresh server gives the same traffic.
//!
//! Two modes. **With labels**: the first phase's attacks are labelled through the admin API
//! (standing in for the victims' "wasn't you?" reports and an operator's review). **Without
//! labels** (`--no-labels`): nothing is labelled, training sees only the traffic (the owners'
//! own sign-ins and the campaigns the log marks by itself). Phases: accounts are registered
//! (regular users and owners with a thin history of two sign-ins); the regular users build a
//! history (home networks, one or two devices each, working hours); then a measured phase meets
//! the built-in prior (untrained); a model is trained; and a second measured phase meets it
//! (`phase.rs`: legitimate traffic per behaviour, the three takeovers, brute force, a stuffing
//! wave mixed into normal traffic, spraying, token replay). Scores are read back from the events
//! (joined on the `X-Request-Id` the simulator sets).
//!
//! A room of its own, outside the server: no server module imports it (a test below checks),
//! and it reaches the server only over HTTP (reqwest), borrowing from the library nothing but
//! public, side-effect-free helpers (the ROC metrics, the GeoIP reader, the user-agent parser,
//! the event type it reads back).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::sim::admin::{admin_token, scored_events};
use crate::sim::client::Sim;
use crate::sim::population::Countries;
use crate::sim::report::Report;

/// The operator's side: admin token, events, labels, training.
mod admin;
/// The attack scenarios.
mod attacks;
/// Answering challenges, as owners and attackers can.
mod challenge;
/// The HTTP driver and the simulation's state.
mod client;
/// Legitimate traffic.
mod legit;
/// The owners' mail.
mod mailbox;
/// One measured phase.
mod phase;
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
/// The credential-stuffing wave.
mod stuffing;

/// `authd simulate` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The server's base URL.
    #[arg(long)]
    pub target: String,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Legitimate users with a history.
    #[arg(long, default_value_t = 40)]
    pub users: usize,
    /// Owners with a thin history (two sign-ins); the stuffing wave's valid pairs are theirs.
    #[arg(long, default_value_t = 12)]
    pub thin_users: usize,
    /// Simulated days of history before measuring (three sign-in slots a day).
    #[arg(long, default_value_t = 6)]
    pub days: usize,
    /// Attempts per phase of the VPN and the targeted takeover (and token replays).
    #[arg(long, default_value_t = 100)]
    pub attacks: usize,
    /// Attempts per phase of the naive takeover (another country, network and browser): at
    /// least 200, so that 99.5 % means at most one miss.
    #[arg(long, default_value_t = 200)]
    pub naive: usize,
    /// Addresses of the credential-stuffing wave (two or three attempts each).
    #[arg(long, default_value_t = 120)]
    pub stuffing_addresses: usize,
    /// No labels at all: nothing is labelled through the admin API; training sees only the
    /// traffic.
    #[arg(long)]
    pub no_labels: bool,
    /// The answer the server's `test` CAPTCHA accepts (`AUTHD_CAPTCHA_TEST_ANSWER`): legitimate
    /// users who meet a challenge answer it and go on.
    #[arg(long, default_value = "")]
    pub captcha_answer: String,
    /// The server's mail outbox (`AUTHD_MAIL_DIR`, the file transport): owners then verify
    /// their address after registering and read the sign-in codes mailed to them, so a step-up
    /// by e-mailed code is one they pass and the attackers (who never read it) do not.
    #[arg(long)]
    pub mail_dir: Option<std::path::PathBuf>,
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
    /// Write `risk-<mode>-<phase>-roc.svg`, `risk-<mode>-<phase>-scores.svg` and
    /// `risk-report-<mode>.json` into this directory (needs `--admin-client`, which gives the
    /// scores).
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
    // Every scenario draws from the regular users (the stuffing wave's ordinary traffic too).
    anyhow::ensure!(args.users >= 1, "--users must be at least 1");
    let mut sim = start(args, advance)?;
    if let Some(pair) = args.admin_client.as_deref()
        && let Some(found) = admin::live_target(&sim, pair).await?
    {
        // Not refused: a harness or an operator's demo may have made an account first.
        eprintln!(
            "authd simulate: warning: {found}; the run labels its attacks and trains (and \
             promotes) a model on this instance's whole log, and leaves its accounts and \
             events behind: run it against a disposable instance"
        );
    }
    let mut users = population::users(&mut sim, args.users, args.thin_users);
    for u in &users {
        sim.register(u).await?;
    }
    for u in &users {
        sim.verify_address(u).await?;
    }
    legit::thin_history(&mut sim, &mut users).await?;
    for _ in 0..args.days {
        legit::legit_round(&mut sim, &mut users).await?;
    }
    let mut report = Report {
        seed: args.seed,
        mode: mode(args).into(),
        ..Report::default()
    };
    let from = sim.next_request;
    report.untrained = phase::run(&mut sim, &mut users, args, 0).await?;
    let mut version = 0;
    if let Some(pair) = args.admin_client.as_deref() {
        let trained = train_after(&mut sim, args, pair, from).await?;
        version = trained
            .get("version")
            .and_then(serde_json::Value::as_i64)
            .filter(|_| trained.get("promoted") == Some(&serde_json::Value::Bool(true)))
            .unwrap_or(0);
        report.training = Some(trained);
    }
    report.trained = phase::run(&mut sim, &mut users, args, version).await?;
    if let Some(dir) = &args.plot_dir {
        write_figures(dir, &report)?;
    }
    Ok(report)
}

/// With `--admin-client` (the run labels and trains): what makes the target look like a live
/// instance (accounts no simulation made, admin accounts aside), if anything — the check
/// `run_with` makes and warns of, for a caller that is not starting a run.
pub async fn live_target_warning(args: &SimulateArgs) -> anyhow::Result<Option<String>> {
    let Some(pair) = args.admin_client.as_deref() else {
        return Ok(None);
    };
    let sim = start(args, None)?;
    admin::live_target(&sim, pair).await
}

/// `labels` or `no_labels`.
fn mode(args: &SimulateArgs) -> &'static str {
    if args.no_labels {
        "no_labels"
    } else {
        "labels"
    }
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
        owners_challenged: 0,
        owners_got_in: 0,
        seen_waves: HashSet::new(),
        mailbox: args.mail_dir.as_deref().map(mailbox::Mailbox::new),
        last_challenge: None,
        friction_log: Vec::new(),
    };
    if let Some(path) = &args.geoip {
        sim.geo = Some(Arc::new(Countries::sample(path, &mut sim.rng)?));
    }
    Ok(sim)
}

/// With labels, the attacks of the phase after `from` are labelled as the victims would
/// report them; without, nothing is. Then a model is trained; returns the server's answer.
async fn train_after(
    sim: &mut Sim,
    args: &SimulateArgs,
    pair: &str,
    from: u64,
) -> anyhow::Result<serde_json::Value> {
    let token = admin_token(sim, pair).await?;
    if !args.no_labels {
        let events = scored_events(sim, &token).await?;
        for id in scoring::attack_events(sim, &events, from) {
            admin::label(sim, &token, id).await?;
        }
    }
    admin::train(sim, &token).await
}

/// The figures of both phases and the report (without raw scores) into `dir`.
fn write_figures(dir: &std::path::Path, report: &Report) -> anyhow::Result<()> {
    let mode = report.mode.as_str();
    plot::write(dir, &format!("{mode}-untrained"), &report.untrained.scores)?;
    plot::write(dir, &format!("{mode}-trained"), &report.trained.scores)?;
    let mut shown = report.clone();
    shown.untrained.scores.clear();
    shown.trained.scores.clear();
    std::fs::write(
        dir.join(format!("risk-report-{mode}.json")),
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
