//! The risk engine: scores every sign-in (and token use) in [0, 1] with reasons an operator
//! can read, from two parts — the per-user statistical part (`profile.rs`, after Freeman et
//! al.) and the learned logistic model over the numeric features (`model.rs`, fitted with
//! linfa). The score is one more signal of the sign-in ladder (`signin/ladder.rs`): above
//! `AUTHD_RISK_CHALLENGE_AT` a sign-in needs the challenge even with the right password, above
//! `AUTHD_RISK_BLOCK_AT` it is refused for a while.
//!
//! The rooms: `score.rs` (the pure feature vector and score), `service.rs` (the service that
//! scores sign-ins and learns from successes), `token_use.rs` (scoring a token's use),
//! `training.rs` (training data from the event log, the training run and its promotion rule),
//! `synthetic.rs` (the attackers synthesised from the owners' sign-ins), `wave.rs` and
//! `wave_state.rs` (stuffing and spraying waves, shared by every instance), plus the parts
//! they are built from.

/// Request- and history-derived features.
pub mod features;
/// Optional GeoIP lookups.
pub mod geo;
/// The event log's own labels (reports, campaigns).
mod labels;
/// The learned model, its training and its metrics.
pub mod model;
/// The prior's promises, for thin and long histories (tests only).
#[cfg(test)]
mod prior_tests;
/// The per-user profile and Freeman likelihood ratios.
pub mod profile;
/// The prior's promise about takeovers, the check a trained candidate must pass too.
pub mod promises;
/// The feature vector and the score (no I/O).
pub mod score;
/// The risk service: sign-in scoring, profiles, the model in use.
pub mod service;
/// The held-out split.
pub mod split;
/// Password-spraying detection (in memory).
pub mod spray;
/// Self-supervised training data: the attackers synthesised from each owner's sign-in.
pub mod synthetic;
/// Scoring a token's use against its owner's contexts.
pub mod token_use;
/// Training data from the event log, and the training run.
pub mod training;
/// The stuffing and spraying wave detector (pure).
pub mod wave;
/// Waves across instances: tallies, the shared state and its refresh.
pub mod wave_state;

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
