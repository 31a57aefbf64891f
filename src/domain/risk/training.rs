//! Training data from the event log, and the training run behind `authd model train` (and
//! the schedule inside `serve`). Labels:
//!
//! - attack: a successful sign-in from an unknown device that its owner reported with the
//!   "wasn't you?" link within a day; failed attempts from a source that was blocked in the
//!   same window, or that tried five or more usernames in it (a detected campaign); events an
//!   admin labelled as attacks;
//! - legitimate: successful sign-ins never reported; events an admin labelled legitimate.
//!
//! Failures outside campaigns stay unlabelled (most are the owner's typos, some are slow
//! attacks: neither label would be honest). Reports and known devices are read from the events'
//! decision codes (`Decision`, matched exhaustively in `signal`), never from their wording.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use time::Duration;

use crate::domain::clock::Clock;
use crate::domain::error::{Unexpected, unexpected_from};
use crate::domain::risk::features::FEATURES;
use crate::domain::risk::model::{self, Example, Metrics, Model};
use crate::domain::risk::profile::{Population, Profile};
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};
use crate::storage::risk::RiskStore;

/// How far back training reads, and how many events at most.
const HISTORY_DAYS: i64 = 90;
const MAX_EVENTS: i64 = 500_000;
/// Usernames tried from one address in a window that make it a campaign.
const CAMPAIGN_USERNAMES: usize = 5;

/// What a training run can answer besides a report (`model::TrainError` is the fit's own,
/// inside it).
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// The log holds too few labelled attacks or legitimate sign-ins to fit on.
    #[error("not enough labelled events to train on")]
    NotEnoughLabels,
    /// An infrastructure failure (database, thread), or the fit itself failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(TrainingError);

/// What an event's decision tells the trainer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// A sign-in from a known device: never the one a report is about.
    KnownDevice,
    /// The owner reported a sign-in ("wasn't you?"): the label for recent unknown-device ones.
    ReportedNotMe,
    /// Nothing for the labels.
    Nothing,
}

/// Every decision is placed here (no catch-all): a new one must be given a meaning for the
/// labels, or explicitly none.
fn signal(decision: Option<Decision>) -> Signal {
    let Some(d) = decision else {
        return Signal::Nothing;
    };
    match d {
        Decision::AllowKnownDevice => Signal::KnownDevice,
        Decision::ReportedNotMe => Signal::ReportedNotMe,
        Decision::Allow
        | Decision::Deny
        | Decision::HighRiskRightPassword
        | Decision::HighRiskWrongPassword
        | Decision::Captcha
        | Decision::AccountLocked
        | Decision::RepeatedFailures
        | Decision::HighRisk
        | Decision::Blocked
        | Decision::UnknownSources
        | Decision::FormRegister
        | Decision::FormForgot
        | Decision::RateLimitedIp
        | Decision::RateLimitedAccount
        | Decision::RateLimitedClient
        | Decision::AlertLockout
        | Decision::AlertNewDevice
        | Decision::AlertAttack
        | Decision::AttackStuffing
        | Decision::AttackSpraying
        | Decision::UnlockedByCli
        | Decision::UnlockedByLink
        | Decision::SignedOut
        | Decision::EndSession
        | Decision::PasswordChanged
        | Decision::IdleTimeout
        | Decision::LifetimeExceeded
        | Decision::ResetMailed
        | Decision::ResetSuppressedMailLimit
        | Decision::ResetUnknownAccount
        | Decision::ResetInvalidEmail
        | Decision::PasswordReset
        | Decision::IssuedAuthorizationCode
        | Decision::IssuedClientCredentials
        | Decision::RefreshRotated
        | Decision::RefreshFamilyRevoked
        | Decision::CodeReuse
        | Decision::RevokedRefreshToken
        | Decision::RevokedAccessToken
        | Decision::TokenRequestRefused
        | Decision::BearerRejected
        | Decision::TokenUseAllow
        | Decision::TokenUseChallenge
        | Decision::TokenUseBlock
        | Decision::RiskApiInvalidToken => Signal::Nothing,
    }
}

/// Turns events into labelled examples.
pub fn examples(
    events: &[AuthEvent],
    admin: &HashMap<String, bool>,
    window: Duration,
) -> Vec<Example> {
    let reports: Vec<(&str, time::OffsetDateTime)> = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::SessionRevoked && signal(e.decision_code) == Signal::ReportedNotMe
        })
        .filter_map(|e| Some((e.user_id.as_deref()?, e.ts)))
        .collect();
    let blocked: Vec<(&str, time::OffsetDateTime)> = events
        .iter()
        .filter(|e| e.kind == EventKind::LoginBlocked)
        .filter_map(|e| Some((e.ip.as_deref()?, e.ts)))
        .collect();
    // Usernames tried per (ip, window bucket).
    let bucket = |t: time::OffsetDateTime| t.unix_timestamp() / window.whole_seconds().max(1);
    let mut names: HashMap<(&str, i64), HashSet<&str>> = HashMap::new();
    // Every refused attempt tried a username: failed, challenged or blocked.
    let refused = |e: &&AuthEvent| {
        matches!(
            e.kind,
            EventKind::LoginFailed | EventKind::LoginChallenged | EventKind::LoginBlocked
        )
    };
    for e in events.iter().filter(refused) {
        if let (Some(ip), Some(u)) = (e.ip.as_deref(), e.username.as_deref()) {
            names.entry((ip, bucket(e.ts))).or_default().insert(u);
        }
    }
    let mut out = Vec::new();
    for e in events {
        let Some(x) = e
            .risk
            .as_ref()
            .and_then(|r| r.features.as_ref())
            .and_then(|f| <[f64; FEATURES]>::try_from(f.as_slice()).ok())
        else {
            continue;
        };
        let label = if let Some(l) = admin.get(&e.id) {
            Some(*l)
        } else {
            match e.kind {
                EventKind::LoginSucceeded => {
                    let from_known = signal(e.decision_code) == Signal::KnownDevice;
                    let reported = !from_known
                        && e.user_id.as_deref().is_some_and(|u| {
                            reports.iter().any(|(ru, at)| {
                                *ru == u && *at >= e.ts && *at - e.ts <= Duration::days(1)
                            })
                        });
                    Some(reported)
                }
                EventKind::LoginFailed | EventKind::LoginChallenged | EventKind::LoginBlocked => {
                    let ip = e.ip.as_deref().unwrap_or_default();
                    let was_blocked = blocked
                        .iter()
                        .any(|(bip, at)| *bip == ip && (*at - e.ts).abs() <= window);
                    let stuffing = names
                        .get(&(ip, bucket(e.ts)))
                        .is_some_and(|s| s.len() >= CAMPAIGN_USERNAMES);
                    (was_blocked || stuffing).then_some(true)
                }
                _ => None,
            }
        };
        if let Some(attack) = label {
            // The held-out split hashes the request id when there is one (the simulator's are
            // seeded), so a rerun of the same traffic splits the same way.
            out.push(Example {
                x,
                attack,
                id: e.request_id.clone().unwrap_or_else(|| e.id.clone()),
            });
        }
    }
    out
}

/// What a training run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainReport {
    /// The stored version.
    pub version: i64,
    /// Labelled examples found.
    pub examples: usize,
    /// Of which attacks.
    pub attacks: usize,
    /// Held-out metrics.
    pub metrics: Metrics,
}

/// Reads what training needs: examples and the population.
pub async fn load(
    store: &Arc<dyn RiskStore>,
    clock: &Arc<dyn Clock>,
    window: Duration,
) -> Result<(Vec<Example>, Population), Unexpected> {
    let since = clock.now() - Duration::days(HISTORY_DAYS);
    let events = store.training_events(since, MAX_EVENTS).await?;
    let admin: HashMap<String, bool> = store.labels().await?.into_iter().collect();
    let profiles: Vec<Profile> = store
        .all_profiles()
        .await?
        .iter()
        .filter_map(|p| serde_json::from_str(p).ok())
        .collect();
    Ok((
        examples(&events, &admin, window),
        Population::from_profiles(profiles.iter()),
    ))
}

/// Fits a model on the event log and stores it as the next version; every instance picks it
/// up on its next reload. `progress` hears each step.
pub async fn train_and_store(
    store: &Arc<dyn RiskStore>,
    clock: &Arc<dyn Clock>,
    window: Duration,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<TrainReport, TrainingError> {
    progress("reading the event log");
    let (examples, population) = load(store, clock, window).await?;
    let attacks = examples.iter().filter(|e| e.attack).count();
    progress(&format!(
        "fitting on {} labelled attempts ({attacks} attacks)",
        examples.len()
    ));
    let fitted = tokio::task::spawn_blocking(move || model::train(&examples, population, 0))
        .await
        .map_err(|e| anyhow::anyhow!("training task: {e}"))?;
    let fitted = fitted.map_err(|e| match e {
        model::TrainError::NotEnoughLabels { .. } => TrainingError::NotEnoughLabels,
        model::TrainError::Fit(m) => TrainingError::Unexpected(anyhow::anyhow!("fitting: {m}")),
    })?;
    progress("storing the model");
    let metrics = fitted.metrics.clone();
    let examples_n = metrics.trained_on + metrics.positives + metrics.negatives;
    let version = store
        .save_model(
            &|v| {
                let mut m = fitted.clone();
                m.version = v;
                serde_json::to_string(&m).unwrap_or_default()
            },
            clock.now().unix_timestamp(),
        )
        .await?;
    Ok(TrainReport {
        version,
        examples: examples_n,
        attacks,
        metrics,
    })
}

/// Measures `model` on every labelled example in the log.
pub async fn evaluate(
    store: &Arc<dyn RiskStore>,
    clock: &Arc<dyn Clock>,
    window: Duration,
    model: &Model,
) -> Result<Metrics, Unexpected> {
    let (examples, _) = load(store, clock, window).await?;
    Ok(model::evaluate(model, examples.iter()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::context::RequestContext;
    use crate::events::Risk;

    fn event(kind: EventKind, ip: &str, user: Option<&str>, name: &str, at: i64) -> AuthEvent {
        let ctx = RequestContext::new(ip.parse().unwrap(), "ua", format!("r-{name}-{at}"));
        let mut e = AuthEvent::new(
            kind,
            &ctx,
            time::OffsetDateTime::from_unix_timestamp(at).unwrap(),
        )
        .username(name)
        .risk(Some(Risk {
            score: 0.1,
            reasons: Vec::new(),
            features: Some(vec![0.0; FEATURES]),
        }));
        if let Some(u) = user {
            e = e.user(u);
        }
        e
    }

    #[test]
    fn labels_follow_reports_campaigns_and_admins() {
        let t = 1_800_000_000;
        let kept = event(EventKind::LoginSucceeded, "192.0.2.1", Some("a"), "a@x", t)
            .decision(Decision::Allow);
        let reported = event(
            EventKind::LoginSucceeded,
            "203.0.113.5",
            Some("b"),
            "b@x",
            t,
        )
        .decision(Decision::Allow);
        let known = event(
            EventKind::LoginSucceeded,
            "192.0.2.2",
            Some("b"),
            "b@x",
            t + 10,
        )
        .decision(Decision::AllowKnownDevice);
        let report = AuthEvent::new(
            EventKind::SessionRevoked,
            &RequestContext::new("192.0.2.2".parse().unwrap(), "ua", "r".into()),
            time::OffsetDateTime::from_unix_timestamp(t + 3600).unwrap(),
        )
        .user("b")
        .decision_detail(Decision::ReportedNotMe, "1 grants revoked");
        let mut events = vec![kept.clone(), reported.clone(), known.clone(), report];
        // Five usernames from one address in a window: a campaign.
        for i in 0..5 {
            events.push(event(
                EventKind::LoginFailed,
                "198.51.100.9",
                None,
                &format!("u{i}@x"),
                t + i,
            ));
        }
        // One typo elsewhere: not labelled.
        let typo = event(EventKind::LoginFailed, "192.0.2.1", Some("a"), "a@x", t + 5);
        events.push(typo.clone());
        // Unscored events are skipped.
        let mut unscored = event(EventKind::LoginSucceeded, "192.0.2.1", Some("a"), "a@x", t);
        unscored.risk = None;
        events.push(unscored);

        let mut admin = HashMap::new();
        admin.insert(kept.id.clone(), true);
        let ex = examples(&events, &admin, Duration::minutes(15));
        let label = |e: &AuthEvent| {
            ex.iter()
                .find(|x| x.id == e.request_id.clone().unwrap())
                .map(|x| x.attack)
        };
        assert_eq!(label(&reported), Some(true), "reported within a day");
        assert_eq!(
            label(&known),
            Some(false),
            "a known device's sign-in is not the reported one"
        );
        assert_eq!(label(&kept), Some(true), "the admin's word wins");
        assert_eq!(label(&typo), None, "a lone failure stays unlabelled");
        assert_eq!(ex.iter().filter(|x| x.attack).count(), 2 + 5);
        assert_eq!(ex.len(), 3 + 5);
    }
}
