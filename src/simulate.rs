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
#![allow(
    clippy::indexing_slicing,
    reason = "random picks from collections that are never empty (at least one user, device, agent)"
)]

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, bail};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::domain::risk::model::{roc_auc, tpr_at_fpr};

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
    /// `authorization_code` grant and `--replay-redirect-uri` registered: enables the token
    /// replay scenario (tokens issued at home, then presented to `/risk/evaluate` from the
    /// owner's context and from an attacker's).
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

/// What one attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Signed in.
    Allowed,
    /// Wrong password, no challenge.
    Failed,
    /// A challenge was asked for.
    Challenged,
    /// Refused (429).
    Blocked,
}

impl Outcome {
    fn stopped(self) -> bool {
        matches!(self, Self::Challenged | Self::Blocked)
    }
}

/// Per-scenario figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioReport {
    /// Attempts made.
    pub attempts: usize,
    /// Attempts with the right password that got in without a challenge (takeovers).
    pub passed_unchallenged: usize,
    /// Share of attempts challenged or blocked.
    pub challenged_or_blocked: f64,
    /// Share of correct-password attempts that got in without a challenge.
    pub takeover_pass_rate: Option<f64>,
    /// Attempts until the first challenge or block (campaigns); `None`: never detected.
    pub attempts_until_detected: Option<usize>,
    /// ROC AUC of the raw score, this scenario's attempts against the legitimate ones.
    pub roc_auc: Option<f64>,
    /// True-positive rate at ≤ 1 % false positives of the raw score.
    pub tpr_at_1pct_fpr: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Legitimate sign-ins measured.
    pub legit_attempts: usize,
    /// Of which challenged or blocked.
    pub legit_friction: f64,
    /// The model version used in the measurement (0: the built-in prior).
    pub model_version: Option<i64>,
    /// Friction of the last two history days, under the built-in prior (before training).
    pub prior_legit_friction: f64,
    /// The training round's attacks, met by the built-in prior (half the attempts; no scores).
    pub prior: std::collections::BTreeMap<String, ScenarioReport>,
    /// Legitimate token uses `/risk/evaluate` did not answer `allow` (token replay scenario).
    pub legit_token_use_flagged: Option<f64>,
    /// Per scenario.
    pub scenarios: std::collections::BTreeMap<String, ScenarioReport>,
    /// Raw scores per scenario (`legit` included), for plots.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub scores: HashMap<String, Vec<f64>>,
}

const AGENTS: [&str; 8] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0",
];

/// One browser: a user agent and its device cookie.
#[derive(Debug, Clone)]
struct Device {
    agent: &'static str,
    cookie: Option<String>,
}

#[derive(Debug, Clone)]
struct User {
    email: String,
    password: String,
    home: [u8; 3],
    country: Option<String>,
    devices: Vec<Device>,
}

/// The clock hook: the in-process test advances its fake clock; against a real server time
/// simply passes (`None`).
pub type Advance = Arc<dyn Fn(i64) + Send + Sync>;

struct Sim {
    http: reqwest::Client,
    base: String,
    rng: ChaCha8Rng,
    captcha_answer: String,
    next_request: u64,
    /// request id → (scenario, attempt index).
    truth: HashMap<String, String>,
    /// Simulated seconds since the start (drives the hours of day).
    elapsed: i64,
    advance: Option<Advance>,
    geo: Option<Arc<Countries>>,
    /// The cookies after the last sign-in (its session, for the token flow).
    last_cookies: Vec<(String, String)>,
}

/// Networks (/24s) per country, sampled from the GeoIP database with the seeded generator.
#[derive(Debug)]
struct Countries {
    names: Vec<String>,
    nets: HashMap<String, Vec<[u8; 3]>>,
}

impl Countries {
    fn sample(path: &std::path::Path, rng: &mut ChaCha8Rng) -> anyhow::Result<Self> {
        let db = crate::domain::risk::geo::GeoDb::open(path).map_err(anyhow::Error::msg)?;
        let mut nets: HashMap<String, Vec<[u8; 3]>> = HashMap::new();
        for _ in 0..40_000 {
            let net = [
                rng.random_range(1..224u8),
                rng.random_range(0..=255u8),
                rng.random_range(0..=255u8),
            ];
            let ip = std::net::IpAddr::from([net[0], net[1], net[2], 1]);
            if let Some(c) = db.place(ip).country {
                nets.entry(c).or_default().push(net);
            }
        }
        nets.retain(|_, v| v.len() >= 40);
        let mut names: Vec<String> = nets.keys().cloned().collect();
        names.sort();
        if names.len() < 2 {
            bail!("the GeoIP database gave fewer than two countries with enough networks");
        }
        Ok(Self { names, nets })
    }

    fn pick_country(&self, rng: &mut ChaCha8Rng) -> String {
        self.names[rng.random_range(0..self.names.len())].clone()
    }

    fn pick_other_country(&self, not: &str, rng: &mut ChaCha8Rng) -> String {
        loop {
            let c = self.pick_country(rng);
            if c != not {
                return c;
            }
        }
    }

    fn pick_net(&self, country: &str, rng: &mut ChaCha8Rng) -> [u8; 3] {
        let nets = &self.nets[country];
        nets[rng.random_range(0..nets.len())]
    }
}

fn field(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\""))?;
    let rest = &body[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_owned())
}

fn cookies_of(resp: &reqwest::Response) -> Vec<(String, String)> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| {
            let pair = c.split(';').next()?;
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

impl Sim {
    fn ip(&mut self, net: [u8; 3]) -> String {
        let host = self.rng.random_range(2..250u8);
        format!("{}.{}.{}.{host}", net[0], net[1], net[2])
    }

    fn request_id(&mut self, scenario: &str) -> String {
        self.next_request += 1;
        let id = format!("sim-{}-{}", self.next_request, self.rng.random::<u32>());
        self.truth.insert(id.clone(), scenario.to_owned());
        id
    }

    fn pass_time(&mut self, secs: i64) {
        self.elapsed += secs;
        if let Some(a) = &self.advance {
            a(secs);
        }
    }

    /// One sign-in through the form; returns the outcome and the device cookie to keep.
    async fn sign_in(
        &mut self,
        scenario: &str,
        ip: &str,
        device: &Device,
        email: &str,
        password: &str,
    ) -> anyhow::Result<(Outcome, Option<String>)> {
        let mut cookies: Vec<(String, String)> = device
            .cookie
            .as_ref()
            .map(|c| vec![("authd_device".to_owned(), c.clone())])
            .unwrap_or_default();
        let header = |c: &[(String, String)]| {
            c.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let page = self
            .http
            .get(format!("{}/login", self.base))
            .header("x-forwarded-for", ip)
            .header("user-agent", device.agent)
            .header("cookie", header(&cookies))
            .send()
            .await?;
        cookies.extend(cookies_of(&page));
        let body = page.text().await?;
        let csrf = field(&body, "csrf_token").context("no csrf_token on /login")?;
        let rid = self.request_id(scenario);
        let resp = self
            .http
            .post(format!("{}/login", self.base))
            .header("x-forwarded-for", ip)
            .header("user-agent", device.agent)
            .header("x-request-id", &rid)
            .header("cookie", header(&cookies))
            .form(&[
                ("username", email),
                ("password", password),
                ("csrf_token", &csrf),
            ])
            .send()
            .await?;
        let status = resp.status();
        let set = cookies_of(&resp);
        let device_cookie = set
            .iter()
            .find(|(k, _)| k.ends_with("authd_device"))
            .map(|(_, v)| v.clone())
            .or_else(|| device.cookie.clone());
        cookies.extend(set);
        self.last_cookies.clone_from(&cookies);
        let outcome = match status.as_u16() {
            303 => Outcome::Allowed,
            429 => Outcome::Blocked,
            401 => {
                let body = resp.text().await?;
                if body.contains("data-challenge") {
                    // A legitimate user answers the challenge and goes on (the friction is
                    // already counted); attackers stop here.
                    if scenario == "legit" && !self.captcha_answer.is_empty() {
                        let csrf = field(&body, "csrf_token").unwrap_or(csrf);
                        let answer = self.captcha_answer.clone();
                        let again = self
                            .http
                            .post(format!("{}/login", self.base))
                            .header("x-forwarded-for", ip)
                            .header("user-agent", device.agent)
                            .header("cookie", header(&cookies))
                            .form(&[
                                ("username", email),
                                ("password", password),
                                ("csrf_token", &csrf),
                                ("captcha_answer", &answer),
                            ])
                            .send()
                            .await?;
                        let kept = cookies_of(&again)
                            .into_iter()
                            .find(|(k, _)| k.ends_with("authd_device"))
                            .map(|(_, v)| v);
                        return Ok((Outcome::Challenged, kept.or(device_cookie)));
                    }
                    Outcome::Challenged
                } else {
                    Outcome::Failed
                }
            }
            other => bail!("unexpected status {other} from POST /login"),
        };
        Ok((outcome, device_cookie))
    }

    async fn register(&mut self, user: &User) -> anyhow::Result<()> {
        let page = self
            .http
            .get(format!("{}/register", self.base))
            .header("x-forwarded-for", "198.18.255.1")
            .send()
            .await?;
        let cookies: Vec<String> = cookies_of(&page)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let csrf = field(&page.text().await?, "csrf_token").context("no csrf on /register")?;
        // Registrations come from many networks (one per user), as in real life.
        let ip = format!("{}.{}.{}.1", user.home[0], user.home[1], user.home[2]);
        let resp = self
            .http
            .post(format!("{}/register", self.base))
            .header("x-forwarded-for", ip)
            .header("cookie", cookies.join("; "))
            .form(&[
                ("email", user.email.as_str()),
                ("password", user.password.as_str()),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await?;
        if !resp.status().is_redirection() {
            bail!("registering {} gave {}", user.email, resp.status());
        }
        Ok(())
    }
}

/// Runs the simulation against `args.target`.
pub async fn run(args: &SimulateArgs) -> anyhow::Result<Report> {
    run_with(args, None).await
}

/// Runs the simulation; `advance` (tests) moves the server's clock forward by that many seconds.
#[allow(clippy::too_many_lines)]
pub async fn run_with(args: &SimulateArgs, advance: Option<Advance>) -> anyhow::Result<Report> {
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
    let run_tag = sim.rng.random::<u32>();
    let mut users = Vec::new();
    for i in 0..args.users {
        let n_devices = if sim.rng.random_bool(0.5) { 2 } else { 1 };
        let devices = (0..n_devices)
            .map(|_| Device {
                agent: AGENTS[sim.rng.random_range(0..AGENTS.len())],
                cookie: None,
            })
            .collect();
        let (home, country) = match sim.geo.clone() {
            Some(g) => {
                let c = g.pick_country(&mut sim.rng);
                (g.pick_net(&c, &mut sim.rng), Some(c))
            }
            None => ([198, 18, u8::try_from(i % 250).unwrap_or(0)], None),
        };
        users.push(User {
            email: format!("sim{run_tag}-{i}@example.com"),
            password: format!("correct horse {i} {}", sim.rng.random::<u32>()),
            home,
            country,
            devices,
        });
    }
    for u in &users {
        sim.register(u).await?;
    }

    // History: three slots a day.
    let mut prior_legit = Vec::new();
    for day in 0..args.days {
        let outcomes = legit_round(&mut sim, &mut users, true).await?;
        if day + 2 >= args.days {
            // The last two days of history, scored by the built-in prior.
            prior_legit.extend(outcomes);
        }
    }

    // Training round: a few takeovers and campaigns, labelled as the victims would report them.
    // Tokens are fetched right before use: simulated time outruns their lifetime.
    let admin = args.admin_client.as_deref();
    let mut model_version = None;
    let mut prior_round = std::collections::BTreeMap::new();
    if let Some(pair) = admin {
        let mut report = Report::default();
        attacks(&mut sim, &users, args.attacks / 2, &mut report, "train_").await?;
        prior_round = report.scenarios;
        legit_round(&mut sim, &mut users, false).await?;
        let token = &admin_token(&sim, pair).await?;
        let attack_ids: Vec<String> = sim
            .truth
            .iter()
            .filter(|(_, s)| s.starts_with("train_"))
            .map(|(k, _)| k.clone())
            .collect();
        let events = scored_events(&sim, token).await?;
        for e in events.iter().filter(|e| {
            attack_ids
                .iter()
                .any(|id| Some(id) == e.request_id.as_ref())
        }) {
            label(&sim, token, &e.id).await?;
        }
        let trained = sim
            .http
            .post(format!("{}/admin/api/model/train", sim.base))
            .bearer_auth(token)
            .send()
            .await?;
        if trained.status().is_success() {
            let v: serde_json::Value = trained.json().await?;
            model_version = v["version"].as_i64();
        } else {
            model_version = Some(0);
        }
    }

    // Measurement.
    #[allow(clippy::cast_precision_loss)]
    let prior_legit_friction =
        prior_legit.iter().filter(|o| o.stopped()).count() as f64 / prior_legit.len().max(1) as f64;
    let mut report = Report {
        seed: args.seed,
        model_version,
        prior_legit_friction,
        prior: prior_round
            .into_iter()
            .map(|(k, v)| (k.trim_start_matches("train_").to_owned(), v))
            .collect(),
        ..Report::default()
    };
    let measured_from = sim.next_request;
    let mut legit = Vec::new();
    for _ in 0..2 {
        legit.extend(legit_round(&mut sim, &mut users, true).await?);
    }
    report.legit_attempts = legit.len();
    #[allow(clippy::cast_precision_loss)]
    let friction = legit.iter().filter(|o| o.stopped()).count() as f64 / legit.len().max(1) as f64;
    report.legit_friction = friction;
    attacks(&mut sim, &users, args.attacks, &mut report, "").await?;
    if let (Some(client), Some(pair)) = (&args.replay_client, admin) {
        token_replay(&mut sim, &users, args, client, pair, &mut report).await?;
    }

    if let Some(pair) = admin {
        let token = &admin_token(&sim, pair).await?;
        let events = scored_events(&sim, token).await?;
        let mut by_scenario: HashMap<String, Vec<f64>> = HashMap::new();
        for e in &events {
            let Some(rid) = e.request_id.as_deref() else {
                continue;
            };
            let n: u64 = rid
                .split('-')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if n <= measured_from {
                continue;
            }
            if let (Some(s), Some(r)) = (sim.truth.get(rid), &e.risk) {
                by_scenario.entry(s.clone()).or_default().push(r.score);
            }
        }
        let legit_scores = by_scenario.get("legit").cloned().unwrap_or_default();
        for (name, s) in &mut report.scenarios {
            if s.roc_auc.is_some() {
                // Scored directly (the token replay scenario).
                continue;
            }
            let attack = by_scenario.get(name).cloned().unwrap_or_default();
            let scored: Vec<(f64, bool)> = legit_scores
                .iter()
                .map(|x| (*x, false))
                .chain(attack.iter().map(|x| (*x, true)))
                .collect();
            s.roc_auc = roc_auc(&scored);
            s.tpr_at_1pct_fpr = tpr_at_fpr(&scored, 0.01);
        }
        report.scores.extend(by_scenario);
        if let Some(dir) = &args.plot_dir {
            crate::plot::write(dir, &report.scores)?;
            let mut shown = report.clone();
            shown.scores.clear();
            std::fs::write(
                dir.join("risk-report.json"),
                serde_json::to_string_pretty(&shown)? + "\n",
            )?;
        }
    }
    Ok(report)
}

/// One simulated day: three sign-in slots eight hours apart (the same hours every day, as
/// habits go), most users signing in at each; returns the outcomes when `measure`.
async fn legit_round(
    sim: &mut Sim,
    users: &mut [User],
    measure: bool,
) -> anyhow::Result<Vec<Outcome>> {
    let mut out = Vec::new();
    // Morning, midday, evening: move the clock to each slot of the next day.
    for _slot in 0..3 {
        // Eight hours on, give or take forty minutes: habits, not a timetable.
        let jitter = sim.rng.random_range(-2400..2400);
        sim.pass_time(8 * 3600 + jitter);
        for u in users.iter_mut() {
            if !sim.rng.random_bool(0.8) {
                continue;
            }
            // Which browser: one of theirs; rarely a new one, or cleared cookies.
            let roll: f64 = sim.rng.random();
            // Where: home mostly; sometimes travelling (a new network, same devices), and now
            // and then a new device on a new network (a work laptop, a borrowed phone).
            let travelling = sim.rng.random_bool(0.03) || roll < 0.005;
            let ip = if travelling {
                // Half the trips stay in the country, half go abroad.
                let net = match (sim.geo.clone(), &u.country) {
                    (Some(g), Some(c)) if sim.rng.random_bool(0.5) => g.pick_net(c, &mut sim.rng),
                    (Some(g), Some(c)) => {
                        let abroad = g.pick_other_country(c, &mut sim.rng);
                        g.pick_net(&abroad, &mut sim.rng)
                    }
                    _ => [
                        100,
                        sim.rng.random_range(1..250u8),
                        sim.rng.random_range(1..250u8),
                    ],
                };
                sim.ip(net)
            } else {
                sim.ip(u.home)
            };
            let idx = sim.rng.random_range(0..u.devices.len());
            let device = if roll < 0.015 {
                let d = Device {
                    agent: AGENTS[sim.rng.random_range(0..AGENTS.len())],
                    cookie: None,
                };
                u.devices.push(d.clone());
                d
            } else if roll < 0.025 {
                u.devices[idx].cookie = None;
                u.devices[idx].clone()
            } else {
                u.devices[idx].clone()
            };
            let device_at = u
                .devices
                .iter()
                .position(|d| d.agent == device.agent && d.cookie == device.cookie);
            // A typo now and then, then the right password.
            if sim.rng.random_bool(0.03) {
                let wrong = format!("{}x", u.password);
                sim.sign_in("legit_typo", &ip, &device, &u.email, &wrong)
                    .await?;
            }
            let (email, password) = (u.email.clone(), u.password.clone());
            let (outcome, cookie) = sim
                .sign_in("legit", &ip, &device, &email, &password)
                .await?;
            if let Some(i) = device_at
                && let Some(d) = u.devices.get_mut(i)
            {
                d.cookie = cookie;
            }
            if measure {
                out.push(outcome);
            }
        }
    }
    Ok(out)
}

fn fresh_net(sim: &mut Sim) -> [u8; 3] {
    [
        sim.rng.random_range(11..99u8),
        sim.rng.random_range(1..250u8),
        sim.rng.random_range(1..250u8),
    ]
}

/// Every attack scenario; `prefix` names the training round's scenarios apart.
#[allow(clippy::too_many_lines)]
async fn attacks(
    sim: &mut Sim,
    users: &[User],
    n: usize,
    report: &mut Report,
    prefix: &str,
) -> anyhow::Result<()> {
    // Targeted takeovers with the right password.
    for kind in [
        "takeover_new_country",
        "takeover_vpn_new_browser",
        "takeover_exact_agent",
    ] {
        let name = format!("{prefix}{kind}");
        let mut outcomes = Vec::new();
        for _ in 0..n {
            let victim = &users[sim.rng.random_range(0..users.len())];
            let theirs: Vec<&str> = victim.devices.iter().map(|d| d.agent).collect();
            let agent = match kind {
                "takeover_exact_agent" => theirs[sim.rng.random_range(0..theirs.len())],
                _ => {
                    let others: Vec<&str> = AGENTS
                        .iter()
                        .copied()
                        .filter(|a| {
                            let fam = crate::domain::risk::features::parse_agent(a).browser;
                            theirs.iter().all(|t| {
                                crate::domain::risk::features::parse_agent(t).browser != fam
                            })
                        })
                        .collect();
                    if others.is_empty() {
                        AGENTS[0]
                    } else {
                        others[sim.rng.random_range(0..others.len())]
                    }
                }
            };
            // With GeoIP: the first scenario comes from another country, the others from the
            // victim's own (a VPN exit or a local network); without it, any new network.
            let net = match (sim.geo.clone(), &victim.country) {
                (Some(g), Some(c)) if kind == "takeover_new_country" => {
                    let other = g.pick_other_country(c, &mut sim.rng);
                    g.pick_net(&other, &mut sim.rng)
                }
                (Some(g), Some(c)) => loop {
                    let n = g.pick_net(c, &mut sim.rng);
                    if n != victim.home {
                        break n;
                    }
                },
                _ => fresh_net(sim),
            };
            let ip = sim.ip(net);
            let device = Device {
                agent,
                cookie: None,
            };
            let (email, password) = (victim.email.clone(), victim.password.clone());
            let (o, _) = sim.sign_in(&name, &ip, &device, &email, &password).await?;
            outcomes.push(o);
        }
        report.scenarios.insert(name, summarise(&outcomes, true));
    }

    // Brute force: one account, one address, many passwords.
    let name = format!("{prefix}brute_force");
    let victim = users[sim.rng.random_range(0..users.len())].clone();
    let net = fresh_net(sim);
    let ip = sim.ip(net);
    let device = Device {
        agent: AGENTS[1],
        cookie: None,
    };
    let mut outcomes = Vec::new();
    for i in 0..50 {
        let (o, _) = sim
            .sign_in(&name, &ip, &device, &victim.email, &format!("guess{i}"))
            .await?;
        outcomes.push(o);
    }
    report.scenarios.insert(name, summarise(&outcomes, false));

    // Credential stuffing: a leaked list, mostly unknown or stale pairs, a few valid ones,
    // from a handful of addresses.
    let name = format!("{prefix}credential_stuffing");
    let nets: Vec<[u8; 3]> = (0..3).map(|_| fresh_net(sim)).collect();
    let mut outcomes = Vec::new();
    for i in 0..50 {
        let net = nets[i % nets.len()];
        let ip = sim.ip(net);
        let (email, password) = if i % 10 == 7 {
            let v = &users[sim.rng.random_range(0..users.len())];
            (v.email.clone(), v.password.clone())
        } else {
            (
                format!("leaked{}@example.org", sim.rng.random::<u32>()),
                format!("hunter{}", sim.rng.random::<u16>()),
            )
        };
        let (o, _) = sim.sign_in(&name, &ip, &device, &email, &password).await?;
        outcomes.push(o);
    }
    report.scenarios.insert(name, summarise(&outcomes, false));

    // Password spraying: one common password over many accounts, from many networks.
    let name = format!("{prefix}password_spraying");
    let mut outcomes = Vec::new();
    let sprayed = format!("Winter{}!", 2026 + sim.rng.random_range(0..100u32));
    for i in 0..50 {
        let net = fresh_net(sim);
        let ip = sim.ip(net);
        let email = users[i % users.len()].email.clone();
        let (o, _) = sim.sign_in(&name, &ip, &device, &email, &sprayed).await?;
        outcomes.push(o);
    }
    report.scenarios.insert(name, summarise(&outcomes, false));
    Ok(())
}

/// Tokens issued to users signing in at home, then presented to `/risk/evaluate` by a resource
/// server as seen from the owner's own context and from an attacker's (another country or
/// network, another browser).
async fn token_replay(
    sim: &mut Sim,
    users: &[User],
    args: &SimulateArgs,
    client: &str,
    admin_pair: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let (client_id, secret) = client
        .split_once(':')
        .context("--replay-client must be client_id:client_secret")?;
    let rs = admin_token(sim, admin_pair).await?;
    let mut legit = Vec::new();
    let mut replayed = Vec::new();
    for i in 0..args.attacks.min(users.len() * 2) {
        let u = users[i % users.len()].clone();
        let device = u.devices[0].clone();
        let home = sim.ip(u.home);
        let (outcome, _) = sim
            .sign_in("token_issue", &home, &device, &u.email, &u.password)
            .await?;
        if outcome != Outcome::Allowed {
            continue;
        }
        let cookie = sim
            .last_cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
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
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &args.replay_redirect_uri)
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
        let tokens: serde_json::Value = sim
            .http
            .post(format!("{}/token", sim.base))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", args.replay_redirect_uri.as_str()),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await?
            .json()
            .await?;
        let token = tokens["access_token"]
            .as_str()
            .context("no access token")?
            .to_owned();
        let (http, base) = (sim.http.clone(), sim.base.clone());
        let evaluate = |ip: String, ua: &'static str| {
            http.post(format!("{base}/risk/evaluate"))
                .bearer_auth(&rs)
                .json(&serde_json::json!({ "token": token, "ip": ip, "user_agent": ua }))
                .send()
        };
        let own: serde_json::Value = evaluate(sim_ip_near(&u), device.agent)
            .await?
            .json()
            .await?;
        let theirs = {
            let net = match (sim.geo.clone(), &u.country) {
                (Some(g), Some(c)) => {
                    let other = g.pick_other_country(c, &mut sim.rng);
                    g.pick_net(&other, &mut sim.rng)
                }
                _ => fresh_net(sim),
            };
            let ip = sim.ip(net);
            let agent = AGENTS
                .iter()
                .copied()
                .find(|a| *a != device.agent)
                .unwrap_or(AGENTS[0]);
            evaluate(ip, agent)
                .await?
                .json::<serde_json::Value>()
                .await?
        };
        legit.push(own);
        replayed.push(theirs);
    }
    let flagged = |v: &[serde_json::Value]| {
        #[allow(clippy::cast_precision_loss)]
        let share =
            v.iter().filter(|a| a["decision"] != "allow").count() as f64 / v.len().max(1) as f64;
        share
    };
    let score = |a: &serde_json::Value| a["score"].as_f64().unwrap_or(0.0);
    let scored: Vec<(f64, bool)> = legit
        .iter()
        .map(|a| (score(a), false))
        .chain(replayed.iter().map(|a| (score(a), true)))
        .collect();
    report.legit_token_use_flagged = Some(flagged(&legit));
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
            passed_unchallenged: replayed.iter().filter(|a| a["decision"] == "allow").count(),
            challenged_or_blocked: flagged(&replayed),
            takeover_pass_rate: None,
            attempts_until_detected: None,
            roc_auc: roc_auc(&scored),
            tpr_at_1pct_fpr: tpr_at_fpr(&scored, 0.01),
        },
    );
    Ok(())
}

/// An address in the user's home network (the owner's own context).
fn sim_ip_near(u: &User) -> String {
    format!("{}.{}.{}.77", u.home[0], u.home[1], u.home[2])
}

fn summarise(outcomes: &[Outcome], right_password: bool) -> ScenarioReport {
    let stopped = outcomes.iter().filter(|o| o.stopped()).count();
    let passed = outcomes.iter().filter(|o| **o == Outcome::Allowed).count();
    #[allow(clippy::cast_precision_loss)]
    let share = |n: usize| n as f64 / outcomes.len().max(1) as f64;
    ScenarioReport {
        attempts: outcomes.len(),
        passed_unchallenged: passed,
        challenged_or_blocked: share(stopped),
        takeover_pass_rate: right_password.then(|| share(passed)),
        attempts_until_detected: (!right_password)
            .then(|| outcomes.iter().position(|o| o.stopped()).map(|i| i + 1))
            .flatten(),
        roc_auc: None,
        tpr_at_1pct_fpr: None,
    }
}

async fn admin_token(sim: &Sim, pair: &str) -> anyhow::Result<String> {
    let (id, secret) = pair
        .split_once(':')
        .context("--admin-client must be client_id:client_secret")?;
    let resp = sim
        .http
        .post(format!("{}/token", sim.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("admin token: {}", resp.status());
    }
    let v: serde_json::Value = resp.json().await?;
    v["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token")
}

async fn scored_events(sim: &Sim, token: &str) -> anyhow::Result<Vec<crate::events::AuthEvent>> {
    let mut all = Vec::new();
    for kind in [
        "login_succeeded",
        "login_failed",
        "login_challenged",
        "login_blocked",
    ] {
        let resp = sim
            .http
            .get(format!(
                "{}/admin/api/events?kind={kind}&limit=1000",
                sim.base
            ))
            .bearer_auth(token)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("reading events: {}", resp.status());
        }
        let v: serde_json::Value = resp.json().await?;
        let events: Vec<crate::events::AuthEvent> = serde_json::from_value(v["events"].clone())?;
        all.extend(events);
    }
    Ok(all)
}

async fn label(sim: &Sim, token: &str, event_id: &str) -> anyhow::Result<()> {
    let resp = sim
        .http
        .post(format!("{}/admin/api/labels", sim.base))
        .bearer_auth(token)
        .json(&serde_json::json!({ "event_id": event_id, "attack": true }))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("labelling: {}", resp.status());
    }
    Ok(())
}
