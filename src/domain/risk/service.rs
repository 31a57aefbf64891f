//! The risk service: scores a counted sign-in (one database read: profile and velocity counters
//! together), remembers wrong passwords for the spraying feature, and teaches the owner's profile
//! each successful context. During a stuffing or spraying wave (`wave_state.rs`, asked in memory:
//! no database work) a sign-in from a context the account does not know needs the challenge.
//! Token-use scoring is in `token_use.rs`.

use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use crate::domain::clock::Clock;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::risk::features::{
    FEATURES, Observed, Velocity, agent_tag, parse_agent, prefix_of,
};
use crate::domain::risk::geo::Geo;
use crate::domain::risk::model::Model;
use crate::domain::risk::profile::Profile;
use crate::domain::risk::score::{Inputs, score};
use crate::domain::risk::spray::Spray;
use crate::domain::risk::token_use::TokenNetworks;
use crate::domain::risk::wave_state::Waves;
use crate::domain::risk::{RiskSettings, Verdict};
use crate::domain::signin::keys::{CounterKey, Pair};
use crate::events::Risk;
use crate::storage::risk::{ProfileKey, RiskStore};

/// A counted sign-in attempt, as the risk engine scores it.
#[derive(Debug, Clone, Copy)]
pub struct SignInFacts<'a> {
    /// Whose history the attempt is scored against: the account the username names, or, for
    /// a name with no account, a stand-in account's (`signin/stand_in.rs`), so an unknown name
    /// scores like some real account would.
    pub profile: ProfileKey<'a>,
    /// The counter row the attempt was counted on (its source tells a known device).
    pub pair: &'a Pair,
    /// The row's failures in the window, this attempt included.
    pub pair_failures: i64,
    /// The password as typed (only a keyed digest is kept, for the spraying feature).
    pub password: &'a [u8],
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
    /// Whether the account's profile counts an earlier successful sign-in (the new-device
    /// alert is not sent on the first).
    pub fn signed_in_before(&self) -> bool {
        self.profile.as_ref().is_some_and(|p| p.n > 0)
    }

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
    pub(super) store: Arc<dyn RiskStore>,
    geo: Option<Arc<Geo>>,
    spray: Arc<Spray>,
    model: Arc<RwLock<Arc<Model>>>,
    pub(super) clock: Arc<dyn Clock>,
    settings: RiskSettings,
    pub(super) token_networks: Arc<TokenNetworks>,
    waves: Option<Waves>,
}

impl std::fmt::Debug for RiskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RiskService")
    }
}

impl RiskService {
    /// Builds the service with the built-in prior model (the newest stored one is loaded by
    /// `reload`).
    pub fn new(
        store: Arc<dyn RiskStore>,
        geo: Option<Arc<Geo>>,
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
            waves: None,
        }
    }

    /// The service with the shared wave state: failures are tallied for the detector, and
    /// during a wave an unfamiliar context needs the challenge.
    #[must_use]
    pub fn with_waves(mut self, waves: Waves) -> Self {
        self.waves = Some(waves);
        self
    }

    /// Whether the GeoIP database is configured (`AUTHD_GEOIP_DB`: countries).
    pub fn has_geoip(&self) -> bool {
        self.geo.as_ref().is_some_and(|g| g.has_main())
    }

    /// Whether the ASN database is configured (`AUTHD_GEOIP_ASN_DB`).
    pub fn has_asn_db(&self) -> bool {
        self.geo.as_ref().is_some_and(|g| g.has_asn_db())
    }

    /// What the GeoIP databases say about `ip`; `None` without either (`AUTHD_GEOIP_DB`,
    /// `AUTHD_GEOIP_ASN_DB`).
    pub fn place(&self, ip: std::net::IpAddr) -> Option<super::geo::Place> {
        self.geo.as_ref().map(|g| g.place(ip))
    }

    /// The model in use.
    pub fn model(&self) -> Arc<Model> {
        self.model
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Loads the model in use (the one an operator selected, the built-in prior included,
    /// else the newest stored) if it is not the one loaded; `true` if it changed.
    pub async fn reload(&self) -> Result<bool, Unexpected> {
        let current = self.model().version;
        let Some(in_use) = self.store.in_use_version().await? else {
            return Ok(false);
        };
        if in_use == current {
            return Ok(false);
        }
        if in_use == 0 {
            // An operator rolled back to the built-in prior.
            *self
                .model
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Model::prior());
            return Ok(true);
        }
        let Some(row) = self.store.in_use_model().await? else {
            return Ok(false);
        };
        let model: Model = serde_json::from_str(&row.model)
            .map_err(|e| Unexpected(anyhow::anyhow!("stored model: {e}")))?;
        if !model.fits_features() {
            // Fitted on an older feature set: the model in use stays until the next training.
            return Ok(false);
        }
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

    /// The score at or above which a sign-in needs the challenge.
    pub fn challenge_at(&self) -> f64 {
        self.settings.challenge_at
    }

    /// The protection window the velocity counters cover (seconds).
    pub fn window_secs(&self) -> i64 {
        self.settings.window_secs
    }

    /// What a score asks for, by the configured thresholds.
    pub(super) fn verdict(&self, score: f64) -> Verdict {
        if score >= self.settings.block_at {
            Verdict::Block
        } else if score >= self.settings.challenge_at {
            Verdict::Challenge
        } else {
            Verdict::Allow
        }
    }

    /// Scores a sign-in attempt that the ladder has just counted: one database read (profile
    /// and counters together).
    pub async fn assess_sign_in(
        &self,
        ctx: &RequestContext,
        attempt: &SignInFacts<'_>,
    ) -> Result<Assessment, Unexpected> {
        let SignInFacts {
            profile: profile_key,
            pair,
            pair_failures,
            password,
        } = *attempt;
        let counter = pair.account.encode();
        let now = self.clock.now();
        let observed = self.observe(ctx, now);
        let h = self
            .store
            .history(
                profile_key,
                &counter,
                &pair.source.encode(),
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
            // A passwordless (passkey) attempt has no password to have been sprayed: an
            // attacker spraying empty passwords must not make every passkey sign-in look so.
            spray_accounts: if password.is_empty() {
                0
            } else {
                self.spray
                    .accounts_for(password, &counter, now.unix_timestamp())
            },
        };
        let model = self.model();
        let (s, reasons, features) = score(
            &model,
            &Inputs {
                observed: &observed,
                profile: profile.as_ref(),
                velocity,
                known_device: pair.source.is_known_device(),
            },
        );
        // The score alone never shuts the owner out: a first attempt on a name (which may be a
        // real account's, with the right password) is challenged, not blocked; a block needs a
        // source that already failed on that name. The same rule for names with and without an
        // account, so a 429 never tells them apart.
        let mut verdict = self.verdict(s);
        if verdict == Verdict::Block && velocity.pair_failures == 0 {
            verdict = Verdict::Challenge;
        }
        let mut reasons = reasons;
        let known_device = pair.source.is_known_device();
        if verdict == Verdict::Allow
            && let Some(reason) = self.wave_reason(known_device, profile.as_ref(), &observed)
        {
            verdict = Verdict::Challenge;
            reasons.insert(0, reason);
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

    /// Why a sign-in needs the challenge because of a wave: one is on (the cached view, no
    /// database work) and the context is new to the account — neither a known device nor a
    /// network it signed in from before. The owner at home or on their own browser passes.
    fn wave_reason(
        &self,
        known_device: bool,
        profile: Option<&Profile>,
        observed: &Observed,
    ) -> Option<String> {
        let wave = self.waves.as_ref()?.on()?;
        let familiar = known_device || profile.is_some_and(|p| p.knows_network(&observed.prefix));
        (!familiar).then(|| {
            format!(
                "a {} wave is on and this network and browser are new to the account",
                wave.kind.as_str()
            )
        })
    }

    /// A wrong password: remembered (as a keyed digest) for the spraying feature, and tallied
    /// (in memory) for the wave detector.
    pub fn failed(&self, password: &[u8], counter: &CounterKey) {
        if password.is_empty() {
            // A blank password field: not remembered, since passwordless (passkey) sign-ins
            // are scored with an empty password; the wave detector still counts it.
            if let Some(w) = &self.waves {
                w.failed(false);
            }
            return;
        }
        let others = self.spray.failed(
            password,
            &counter.encode(),
            self.clock.now().unix_timestamp(),
        );
        if let Some(w) = &self.waves {
            w.failed(others >= 2);
        }
    }

    /// Whether `user_id` has signed in from `ip`'s network (/24 or /48) before.
    pub async fn knows_network(
        &self,
        user_id: &str,
        ip: std::net::IpAddr,
    ) -> Result<bool, Unexpected> {
        let prefix = crate::domain::risk::features::prefix_of(ip);
        let profile = self.profile_of(user_id).await?;
        Ok(profile.is_some_and(|p| p.knows_network(&prefix)))
    }

    /// `user_id`'s stored profile (`None`: none yet, or one this version cannot read).
    pub(super) async fn profile_of(&self, user_id: &str) -> Result<Option<Profile>, Unexpected> {
        Ok(self
            .store
            .profile(user_id)
            .await?
            .and_then(|p| serde_json::from_str(&p).ok()))
    }

    /// A sign-in that passed a step-up: the owner's profile learns this request's context, as
    /// after any successful sign-in (the profile is read again: the step-up spanned requests).
    pub async fn learn(&self, user_id: &str, ctx: &RequestContext) -> Result<(), Unexpected> {
        let profile = self.profile_of(user_id).await?;
        let observed = self.observe(ctx, self.clock.now());
        let mut profile = profile.unwrap_or_default();
        profile.observe(&observed);
        let json = serde_json::to_string(&profile)
            .map_err(|e| Unexpected(anyhow::anyhow!("profile: {e}")))?;
        self.store
            .save_profile(user_id, &json, self.clock.now().unix_timestamp())
            .await?;
        Ok(())
    }

    /// A successful sign-in: the user's profile, as JSON, having learnt this context (stored
    /// with the sign-in's event, `Ladder::succeed`).
    pub fn profile_after(&self, a: &Assessment) -> Result<String, Unexpected> {
        let mut profile = a.profile.clone().unwrap_or_default();
        profile.observe(&a.observed);
        serde_json::to_string(&profile).map_err(|e| Unexpected(anyhow::anyhow!("profile: {e}")))
    }
}

#[cfg(test)]
mod round_trips {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::domain::signin::keys::Source;
    use crate::storage::error::StoreError;
    use crate::storage::risk::{ModelRow, RiskHistory};

    /// Counts every call: a scored sign-in must make exactly one.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait::async_trait]
    impl RiskStore for Counting {
        async fn history(
            &self,
            _: ProfileKey<'_>,
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
    async fn a_first_attempt_on_any_name_is_challenged_not_blocked() {
        let store = Arc::new(Counting::default());
        let clock = Arc::new(crate::domain::clock::FakeClock::new(
            time::macros::datetime!(2026-01-01 10:00 UTC),
        ));
        let settings = RiskSettings {
            challenge_at: 0.005,
            block_at: 0.01,
            ..RiskSettings::default()
        };
        let risk = RiskService::new(store, None, clock, b"k", settings);
        let ctx = RequestContext::new("192.0.2.1".parse().unwrap(), "ua", "r".into());
        let first = risk
            .assess_sign_in(
                &ctx,
                &SignInFacts {
                    profile: ProfileKey::User("u1"),
                    pair: &Pair::new(
                        CounterKey::User("u1".into()),
                        Source::net("192.0.2.1".parse().unwrap()),
                    ),
                    pair_failures: 1,
                    password: b"pw",
                },
            )
            .await
            .unwrap();
        assert!(first.score >= 0.01, "{}", first.score);
        assert_eq!(first.verdict, Verdict::Challenge);
        let again = risk
            .assess_sign_in(
                &ctx,
                &SignInFacts {
                    profile: ProfileKey::User("u1"),
                    pair: &Pair::new(
                        CounterKey::User("u1".into()),
                        Source::net("192.0.2.1".parse().unwrap()),
                    ),
                    pair_failures: 2,
                    password: b"pw",
                },
            )
            .await
            .unwrap();
        assert_eq!(
            again.verdict,
            Verdict::Block,
            "the source already failed on it"
        );
        let unknown = risk
            .assess_sign_in(
                &ctx,
                &SignInFacts {
                    profile: ProfileKey::StandIn("00000000-0000-4000-8000-000000000000"),
                    pair: &Pair::new(
                        CounterKey::Name("x".into()),
                        Source::net("192.0.2.1".parse().unwrap()),
                    ),
                    pair_failures: 1,
                    password: b"pw",
                },
            )
            .await
            .unwrap();
        // A name with no account gets the very same answer (no 429 tells them apart).
        assert_eq!(unknown.verdict, Verdict::Challenge);
        assert!((unknown.score - first.score).abs() < 1e-12, "same score");
    }

    #[tokio::test]
    async fn sprayed_empty_passwords_do_not_mark_passwordless_sign_ins() {
        let store = Arc::new(Counting::default());
        let clock = Arc::new(crate::domain::clock::FakeClock::new(
            time::macros::datetime!(2026-01-01 10:00 UTC),
        ));
        let risk = RiskService::new(store, None, clock, b"k", RiskSettings::default());
        let ctx = RequestContext::new("192.0.2.1".parse().unwrap(), "ua", "r".into());
        let assess = |password: &'static [u8]| {
            let (risk, ctx) = (&risk, &ctx);
            async move {
                let facts = SignInFacts {
                    profile: ProfileKey::User("u1"),
                    pair: &Pair::new(
                        CounterKey::User("u1".into()),
                        Source::net("192.0.2.1".parse().unwrap()),
                    ),
                    pair_failures: 1,
                    password,
                };
                risk.assess_sign_in(ctx, &facts).await.unwrap().score
            }
        };
        let (before_empty, before_pw) = (assess(b"").await, assess(b"Winter2026!").await);
        for account in ["a", "b", "c", "d", "e", "f"] {
            risk.failed(b"", &CounterKey::User(account.into()));
            risk.failed(b"Winter2026!", &CounterKey::User(account.into()));
        }
        assert!(
            assess(b"Winter2026!").await > before_pw,
            "a sprayed password scores higher"
        );
        assert!(
            (assess(b"").await - before_empty).abs() < 1e-12,
            "an empty one (a passkey sign-in) does not"
        );
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
                &SignInFacts {
                    profile: ProfileKey::User("u1"),
                    pair: &Pair::new(
                        CounterKey::User("u1".into()),
                        Source::net("192.0.2.1".parse().unwrap()),
                    ),
                    pair_failures: 1,
                    password: b"pw",
                },
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
