//! The risk engine: scores every sign-in (and token use) in [0, 1] with reasons an operator
//! can read, from two parts — the per-user statistical part (`profile.rs`, after Freeman et
//! al.) and the learned logistic model over the numeric features (`model.rs`, fitted with
//! linfa). The score is one more signal of the decision point (`protection.rs`): above
//! `AUTHD_RISK_CHALLENGE_AT` a sign-in needs the challenge even with the right password, above
//! `AUTHD_RISK_BLOCK_AT` it is refused for a while.

/// Request- and history-derived features.
pub mod features;
/// Optional GeoIP lookups.
pub mod geo;
/// The learned model, its training and its metrics.
pub mod model;
/// The per-user profile and Freeman likelihood ratios.
pub mod profile;
/// Password-spraying detection (in memory).
pub mod spray;
/// Training data from the event log, and the training run.
pub mod training;

use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use crate::domain::clock::Clock;
use crate::domain::context::RequestContext;
use crate::domain::error::DomainError;
use crate::domain::risk::features::{
    FEATURES, Observed, Velocity, agent_tag, parse_agent, prefix_of, squash,
};
use crate::domain::risk::geo::{GeoDb, distance_km};
use crate::domain::risk::model::Model;
use crate::domain::risk::profile::Profile;
use crate::domain::risk::spray::Spray;
use crate::events::Risk;
use crate::storage::risk::RiskStore;

/// Thresholds and lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct RiskSettings {
    /// Scores at or above this need the challenge.
    pub challenge_at: f64,
    /// Scores at or above this are refused for a while.
    pub block_at: f64,
    /// The window of the velocity counters (the protection window).
    pub window_secs: i64,
    /// How long a sprayed password's digest is remembered.
    pub spray_ttl_secs: i64,
}

impl Default for RiskSettings {
    fn default() -> Self {
        Self {
            challenge_at: 0.5,
            block_at: 0.995,
            window_secs: 900,
            spray_ttl_secs: 3600,
        }
    }
}

/// What the score asks of the decision point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing.
    Allow,
    /// Challenge even with the right password.
    Challenge,
    /// Refuse for a while.
    Block,
}

impl Verdict {
    /// The INTERFACE word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Challenge => "challenge",
            Self::Block => "block",
        }
    }
}

/// One scored attempt.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// Score in [0, 1].
    pub score: f64,
    /// Why, in words.
    pub reasons: Vec<String>,
    /// The numeric features.
    pub features: [f64; FEATURES],
    /// What the request showed.
    pub observed: Observed,
    /// The user's profile as it was (updated on success).
    pub profile: Option<Profile>,
    /// What the score asks for.
    pub verdict: Verdict,
}

impl Assessment {
    /// The event's `risk` field.
    pub fn event_risk(&self) -> Risk {
        Risk {
            score: (self.score * 10_000.0).round() / 10_000.0,
            reasons: self.reasons.clone(),
            features: Some(self.features.to_vec()),
        }
    }
}

/// The risk service. Cheap to clone.
#[derive(Clone)]
pub struct RiskService {
    store: Arc<dyn RiskStore>,
    geo: Option<Arc<GeoDb>>,
    spray: Arc<Spray>,
    model: Arc<RwLock<Arc<Model>>>,
    clock: Arc<dyn Clock>,
    settings: RiskSettings,
    token_networks: Arc<TokenNetworks>,
}

impl std::fmt::Debug for RiskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RiskService")
    }
}

/// Everything the pure feature computation needs.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// What the request showed.
    pub observed: &'a Observed,
    /// The user's profile (None: unknown account or no history).
    pub profile: Option<&'a Profile>,
    /// The counters.
    pub velocity: Velocity,
    /// Whether the browser carried a valid device cookie for the account.
    pub known_device: bool,
    /// Whether the username named no account.
    pub unknown_account: bool,
}

/// Failures from one source (all accounts) in a window before the count starts to matter.
pub const ALLOW_SOURCE_FAILURES: i64 = 5;
/// Accounts failing from one source before it starts to look like stuffing.
pub const ALLOW_SOURCE_ACCOUNTS: i64 = 3;
/// Accounts failing from one /24 or /48.
pub const ALLOW_PREFIX_ACCOUNTS: i64 = 5;
/// Sources failing on one account.
pub const ALLOW_ACCOUNT_SOURCES: i64 = 3;
/// Other accounts the same wrong password failed on.
pub const ALLOW_SPRAY_ACCOUNTS: i64 = 1;

/// Computes the feature vector and scores it: the benchmarked hot path (no I/O).
pub fn score(model: &Model, i: &Inputs<'_>) -> (f64, Vec<String>, [f64; FEATURES]) {
    let mut x = [0.0; FEATURES];
    let ratios = i
        .profile
        .map(|p| p.log_ratios(i.observed, &model.population))
        .unwrap_or_default();
    for (slot, r) in x.iter_mut().zip(ratios.iter()) {
        // Clipped: a familiar value lowers the score a little, a new one raises it up to 6.
        *slot = r.unwrap_or(0.0).clamp(-1.0, 6.0);
    }
    x[8] = if i.known_device { 0.0 } else { 1.0 };
    let days = i.profile.and_then(|p| p.last_at).map_or(0.0, |t| {
        ((i.observed.at - t).max(0) as f64 / 86_400.0).ln_1p()
    });
    x[9] = days;
    let v = i.velocity;
    // Velocity counts above a small allowance (a shared office network sees a few typos on
    // a few accounts in a quarter of an hour; a campaign sees many).
    x[10] = squash(v.pair_failures);
    x[11] = squash(v.source_failures - ALLOW_SOURCE_FAILURES);
    x[12] = squash(v.source_accounts - ALLOW_SOURCE_ACCOUNTS);
    x[13] = squash(v.prefix_accounts - ALLOW_PREFIX_ACCOUNTS);
    x[14] = squash(v.account_sources - ALLOW_ACCOUNT_SOURCES);
    x[15] = squash(v.spray_accounts - ALLOW_SPRAY_ACCOUNTS);
    x[16] = travel(i.profile, i.observed);
    x[17] = if i.unknown_account { 1.0 } else { 0.0 };
    // The interaction a linear model cannot build itself: novelty of place *and* browser state.
    x[18] = if i.known_device { 0.0 } else { x[0].max(0.0) };
    let (s, reasons) = model.score(&x);
    (s, reasons, x)
}

/// Speed (km/h, in thousands, capped at 3) needed to get from the last successful sign-in's
/// place to this one; 0 when either place is unknown or the speed is plausible (< 900 km/h).
fn travel(profile: Option<&Profile>, o: &Observed) -> f64 {
    let (Some(p), Some(here)) = (profile, o.place.location) else {
        return 0.0;
    };
    let (Some(there), Some(t)) = (p.last_location, p.last_at) else {
        return 0.0;
    };
    let km = distance_km(there, here);
    #[allow(clippy::cast_precision_loss)]
    let hours = ((o.at - t).max(60) as f64) / 3600.0;
    let speed = km / hours;
    if speed < 900.0 || km < 500.0 {
        0.0
    } else {
        (speed / 1000.0).min(3.0)
    }
}

impl RiskService {
    /// Builds the service with the built-in prior model (the newest stored one is loaded by
    /// `reload`).
    pub fn new(
        store: Arc<dyn RiskStore>,
        geo: Option<Arc<GeoDb>>,
        clock: Arc<dyn Clock>,
        spray_key: &[u8],
        settings: RiskSettings,
    ) -> Self {
        Self {
            store,
            geo,
            spray: Arc::new(Spray::new(spray_key, settings.spray_ttl_secs)),
            model: Arc::new(RwLock::new(Arc::new(Model::prior()))),
            clock,
            settings,
            token_networks: Arc::new(TokenNetworks::default()),
        }
    }

    /// The model in use.
    pub fn model(&self) -> Arc<Model> {
        self.model
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Loads the newest stored model if it is newer than the one in use; `true` if it changed.
    pub async fn reload(&self) -> Result<bool, DomainError> {
        let current = self.model().version;
        let Some(latest) = self.store.latest_version().await? else {
            return Ok(false);
        };
        if latest <= current {
            return Ok(false);
        }
        let Some(row) = self.store.latest_model().await? else {
            return Ok(false);
        };
        let model: Model = serde_json::from_str(&row.model)
            .map_err(|e| DomainError::Unexpected(anyhow::anyhow!("stored model: {e}")))?;
        *self
            .model
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(model);
        Ok(true)
    }

    /// What the request itself shows.
    pub fn observe(&self, ctx: &RequestContext, at: OffsetDateTime) -> Observed {
        Observed {
            prefix: prefix_of(ctx.ip),
            place: self
                .geo
                .as_ref()
                .map(|g| g.place(ctx.ip))
                .unwrap_or_default(),
            agent: parse_agent(&ctx.user_agent),
            agent_tag: agent_tag(&ctx.user_agent),
            hour: at.hour(),
            at: at.unix_timestamp(),
        }
    }

    fn verdict(&self, score: f64) -> Verdict {
        if score >= self.settings.block_at {
            Verdict::Block
        } else if score >= self.settings.challenge_at {
            Verdict::Challenge
        } else {
            Verdict::Allow
        }
    }

    /// Scores a sign-in attempt that the decision point has just counted: one database read
    /// (profile and counters together).
    #[allow(clippy::too_many_arguments)]
    pub async fn assess_sign_in(
        &self,
        ctx: &RequestContext,
        user_id: Option<&str>,
        counter: &str,
        source_key: &str,
        known_device: bool,
        pair_failures: i64,
        password: &[u8],
    ) -> Result<Assessment, DomainError> {
        let now = self.clock.now();
        let observed = self.observe(ctx, now);
        let h = self
            .store
            .history(
                user_id,
                counter,
                source_key,
                &observed.prefix,
                now.unix_timestamp() - self.settings.window_secs,
            )
            .await?;
        let profile: Option<Profile> = h
            .profile
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        // The counters include this attempt (it was counted first): take it out.
        let velocity = Velocity {
            pair_failures: (pair_failures - 1).max(0),
            source_failures: (h.source_failures - 1).max(0),
            source_accounts: (h.source_accounts - 1).max(0),
            prefix_accounts: (h.prefix_accounts - 1).max(0),
            account_sources: (h.account_sources - 1).max(0),
            spray_accounts: self
                .spray
                .accounts_for(password, counter, now.unix_timestamp()),
        };
        let model = self.model();
        let (s, reasons, features) = score(
            &model,
            &Inputs {
                observed: &observed,
                profile: profile.as_ref(),
                velocity,
                known_device,
                unknown_account: user_id.is_none(),
            },
        );
        // The score alone never shuts the owner out: a first attempt on a real account (which
        // may carry the right password) is challenged, not blocked; a block needs a source that
        // already failed on it, or a username that names no account.
        let mut verdict = self.verdict(s);
        if verdict == Verdict::Block && user_id.is_some() && velocity.pair_failures == 0 {
            verdict = Verdict::Challenge;
        }
        Ok(Assessment {
            score: s,
            reasons,
            features,
            observed,
            profile,
            verdict,
        })
    }

    /// A wrong password: remembered (as a keyed digest) for the spraying feature.
    pub fn failed(&self, password: &[u8], counter: &str) {
        self.spray
            .failed(password, counter, self.clock.now().unix_timestamp());
    }

    /// A successful sign-in: the user's profile learns this context.
    pub async fn succeeded(&self, user_id: &str, a: &Assessment) -> Result<(), DomainError> {
        let mut profile = a.profile.clone().unwrap_or_default();
        profile.observe(&a.observed);
        let json = serde_json::to_string(&profile)
            .map_err(|e| DomainError::Unexpected(anyhow::anyhow!("profile: {e}")))?;
        self.store
            .save_profile(user_id, &json, self.clock.now().unix_timestamp())
            .await?;
        Ok(())
    }

    /// Scores a token use: the context a token is used in (`ctx`: the caller's own, or the one
    /// a resource server reports) against the owner's sign-in history, which holds the context
    /// the session and its tokens were issued in. The token itself is the possession factor,
    /// so device-cookie and velocity features stay neutral; a token seen from three or more
    /// networks (per instance, within its lifetime) is flagged on top of the model.
    pub async fn assess_token_use(
        &self,
        user_id: &str,
        token_id: &str,
        ctx: &RequestContext,
        always: bool,
    ) -> Result<Option<(f64, Vec<String>, Verdict)>, DomainError> {
        let now = self.clock.now();
        let observed = self.observe(ctx, now);
        // A token used again from a network it was already seen from (on this instance) was
        // scored then: unless asked (`always`), no profile read on the hot path.
        let (networks, new_network) =
            self.token_networks
                .seen(token_id, &observed.prefix, observed.at);
        if !always && !new_network {
            return Ok(None);
        }
        let profile: Option<Profile> = self
            .store
            .profile(user_id)
            .await?
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        // The sign-in model weighs novelty against the device cookie and the velocity
        // counters, none of which a token use has: the per-user (Freeman) part alone answers.
        let model = self.model();
        let (_, _, x) = score(
            &model,
            &Inputs {
                observed: &observed,
                profile: profile.as_ref(),
                velocity: Velocity::default(),
                known_device: true,
                unknown_account: false,
            },
        );
        // Novelty over the categorical features (hour excluded: a token is used whenever the
        // app runs), plus impossible travel since the owner's last sign-in; four nats (a new
        // network for a user with ~50 sign-ins, or two new values for one with ~7) is the
        // midpoint.
        let mut s = model::sigmoid(x.iter().take(7).sum::<f64>() + 2.5 * x[16] - 4.0);
        // Reasons: the categorical features that were new for this user (hour excluded: a
        // token is used whenever the app runs).
        let mut reasons: Vec<String> = x
            .iter()
            .take(7)
            .enumerate()
            .filter(|(_, v)| **v > 1.0)
            .map(|(i, _)| features::reason_text(i).to_owned())
            .collect();
        if networks >= 3 {
            s = s.max(0.9);
            reasons.insert(0, format!("the token was used from {networks} networks"));
        }
        if reasons.is_empty() {
            reasons.push("a context this account has used before".into());
        }
        Ok(Some((s, reasons, self.verdict(s))))
    }
}

/// Networks each token was seen from (per instance, bounded, forgotten after a day).
#[derive(Debug, Default)]
struct TokenNetworks {
    seen: std::sync::Mutex<std::collections::HashMap<String, (Vec<String>, i64)>>,
}

impl TokenNetworks {
    const MAX_TOKENS: usize = 100_000;
    const MAX_NETWORKS: usize = 16;

    /// Records `prefix` for `token_id`; returns how many distinct networks it has been seen
    /// from, and whether `prefix` is new for it.
    fn seen(&self, token_id: &str, prefix: &str, now: i64) -> (usize, bool) {
        let mut map = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= Self::MAX_TOKENS && !map.contains_key(token_id) {
            map.retain(|_, (_, last)| now - *last < 86_400);
            if map.len() >= Self::MAX_TOKENS {
                map.clear();
            }
        }
        let entry = map
            .entry(token_id.to_owned())
            .or_insert_with(|| (Vec::new(), now));
        entry.1 = now;
        let new = !entry.0.iter().any(|p| p == prefix);
        if new && entry.0.len() < Self::MAX_NETWORKS {
            entry.0.push(prefix.to_owned());
        }
        (entry.0.len(), new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::risk::geo::Place;

    fn observed(ip: &str, ua: &str, hour: u8, at: i64) -> Observed {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        Observed {
            prefix: prefix_of(ip),
            place: Place::default(),
            agent: parse_agent(ua),
            agent_tag: agent_tag(ua),
            hour,
            at,
        }
    }

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

    fn history() -> Profile {
        let mut p = Profile::default();
        for day in 0..30 {
            p.observe(&observed(
                "198.51.100.20",
                FIREFOX,
                9 + (day % 3) as u8,
                day * 86_400,
            ));
        }
        p
    }

    fn run(p: &Profile, o: &Observed, known_device: bool, v: Velocity) -> (f64, Vec<String>) {
        let (s, reasons, _) = score(
            &Model::prior(),
            &Inputs {
                observed: o,
                profile: Some(p),
                velocity: v,
                known_device,
                unknown_account: false,
            },
        );
        (s, reasons)
    }

    #[test]
    fn the_usual_context_scores_low() {
        let p = history();
        let at = 30 * 86_400 + 10 * 3600;
        let (s, _) = run(
            &p,
            &observed("198.51.100.77", FIREFOX, 10, at),
            true,
            Velocity::default(),
        );
        assert!(s < 0.01, "{s}");
        // Even without the device cookie (cleared cookies) the usual place and browser pass.
        let (s, _) = run(
            &p,
            &observed("198.51.100.77", FIREFOX, 10, at),
            false,
            Velocity::default(),
        );
        assert!(s < 0.2, "{s}");
    }

    #[test]
    fn a_new_network_device_and_hour_score_high_with_reasons() {
        let p = history();
        let at = 30 * 86_400 + 3 * 3600;
        let (s, reasons) = run(
            &p,
            &observed("203.0.113.9", CHROME_WIN, 3, at),
            false,
            Velocity::default(),
        );
        assert!(s > 0.5, "{s}");
        let all = reasons.join("; ");
        assert!(all.contains("network this account has not used"), "{all}");
        assert!(all.contains("browser this account has not used"), "{all}");
    }

    #[test]
    fn campaign_counters_raise_the_score_for_unknown_accounts() {
        let o = observed("203.0.113.9", CHROME_WIN, 3, 0);
        let quiet = score(
            &Model::prior(),
            &Inputs {
                observed: &o,
                profile: None,
                velocity: Velocity::default(),
                known_device: false,
                unknown_account: true,
            },
        );
        assert!(quiet.0 < 0.2, "{}", quiet.0);
        let stuffing = score(
            &Model::prior(),
            &Inputs {
                observed: &o,
                profile: None,
                velocity: Velocity {
                    source_failures: 20,
                    source_accounts: 20,
                    prefix_accounts: 20,
                    ..Velocity::default()
                },
                known_device: false,
                unknown_account: true,
            },
        );
        assert!(stuffing.0 > 0.9, "{}", stuffing.0);
        assert!(
            stuffing.1[0].contains("credential stuffing"),
            "{:?}",
            stuffing.1
        );
    }

    #[test]
    fn impossible_travel_is_measured_between_places() {
        let mut p = Profile::default();
        let mut paris = observed("198.51.100.20", FIREFOX, 9, 0);
        paris.place.location = Some((48.85, 2.35));
        p.observe(&paris);
        let mut sydney = observed("203.0.113.9", FIREFOX, 10, 3600);
        sydney.place.location = Some((-33.87, 151.21));
        assert!(travel(Some(&p), &sydney) > 1.0);
        let mut later = sydney.clone();
        later.at = 3 * 86_400;
        assert_eq!(travel(Some(&p), &later), 0.0, "three days is enough");
    }

    #[test]
    fn user_agents_parse_into_family_os_and_class() {
        let a = parse_agent(CHROME_WIN);
        assert_eq!((a.browser.as_str(), a.device.as_str()), ("Chrome", "pc"));
        assert!(a.os.contains("Windows"), "{a:?}");
        let iphone = parse_agent(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(iphone.device, "smartphone");
        assert_eq!(
            prefix_of("2001:db8:1:2::9".parse().unwrap()),
            "2001:db8:1::/48"
        );
        assert_eq!(prefix_of("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
    }
}

#[cfg(test)]
mod round_trips {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::storage::error::StoreError;
    use crate::storage::risk::{ModelRow, RiskHistory};

    /// Counts every call: a scored sign-in must make exactly one.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait::async_trait]
    impl RiskStore for Counting {
        async fn history(
            &self,
            _: Option<&str>,
            _: &str,
            _: &str,
            _: &str,
            _: i64,
        ) -> Result<RiskHistory, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(RiskHistory {
                source_accounts: 1,
                ..RiskHistory::default()
            })
        }
        async fn save_profile(&self, _: &str, _: &str, _: i64) -> Result<(), StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        async fn profile(&self, _: &str) -> Result<Option<String>, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        }
        async fn all_profiles(&self) -> Result<Vec<String>, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        }
        async fn save_model(
            &self,
            _: &(dyn Fn(i64) -> String + Sync),
            _: i64,
        ) -> Result<i64, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(1)
        }
        async fn latest_version(&self) -> Result<Option<i64>, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        }
        async fn latest_model(&self) -> Result<Option<ModelRow>, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        }
        async fn label(&self, _: &str, _: bool, _: i64) -> Result<(), StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        async fn labels(&self) -> Result<Vec<(String, bool)>, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        }
        async fn training_events(
            &self,
            _: OffsetDateTime,
            _: i64,
        ) -> Result<Vec<crate::events::AuthEvent>, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn a_first_attempt_on_a_real_account_is_challenged_not_blocked() {
        let store = Arc::new(Counting::default());
        let clock = Arc::new(crate::domain::clock::FakeClock::new(
            time::macros::datetime!(2026-01-01 10:00 UTC),
        ));
        let settings = RiskSettings {
            challenge_at: 0.01,
            block_at: 0.02,
            ..RiskSettings::default()
        };
        let risk = RiskService::new(store, None, clock, b"k", settings);
        let ctx = RequestContext::new("192.0.2.1".parse().unwrap(), "ua", "r".into());
        let first = risk
            .assess_sign_in(
                &ctx,
                Some("u1"),
                "user:u1",
                "net:192.0.2.1",
                false,
                1,
                b"pw",
            )
            .await
            .unwrap();
        assert!(first.score >= 0.02, "{}", first.score);
        assert_eq!(first.verdict, Verdict::Challenge);
        let again = risk
            .assess_sign_in(
                &ctx,
                Some("u1"),
                "user:u1",
                "net:192.0.2.1",
                false,
                2,
                b"pw",
            )
            .await
            .unwrap();
        assert_eq!(
            again.verdict,
            Verdict::Block,
            "the source already failed on it"
        );
        let unknown = risk
            .assess_sign_in(&ctx, None, "name:x", "net:192.0.2.1", false, 1, b"pw")
            .await
            .unwrap();
        assert_eq!(unknown.verdict, Verdict::Block);
    }

    #[tokio::test]
    async fn scoring_a_sign_in_reads_the_database_once() {
        let store = Arc::new(Counting::default());
        let clock = Arc::new(crate::domain::clock::FakeClock::new(
            time::macros::datetime!(2026-01-01 10:00 UTC),
        ));
        let risk = RiskService::new(store.clone(), None, clock, b"k", RiskSettings::default());
        let ctx = RequestContext::new("192.0.2.1".parse().unwrap(), "ua", "r".into());
        let a = risk
            .assess_sign_in(
                &ctx,
                Some("u1"),
                "user:u1",
                "net:192.0.2.1",
                false,
                1,
                b"pw",
            )
            .await
            .unwrap();
        assert_eq!(
            store.0.load(Ordering::SeqCst),
            1,
            "one read: profile and counters"
        );
        assert!(a.score > 0.0 && a.score < 1.0);
        assert_eq!(a.features.len(), FEATURES);
    }
}
