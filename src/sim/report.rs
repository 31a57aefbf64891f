//! What the simulator reports: the outcome of one attempt, the figures per scenario and the
//! whole report (printed as JSON by `authd simulate`). Plain data; no HTTP, no server types.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

/// What one attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Signed in.
    Allowed,
    /// Wrong password, no challenge.
    Failed,
    /// A challenge was asked for, and the attempt did not get past it.
    Challenged,
    /// A challenge was asked for, answered, and the attempt signed in: an owner's friction,
    /// or a takeover the challenge did not stop.
    Passed,
    /// Refused (429).
    Blocked,
}

impl Outcome {
    /// Whether the attempt met a challenge or a block (friction, for an owner; detection,
    /// for a campaign), whatever came of it.
    pub fn stopped(self) -> bool {
        matches!(self, Self::Challenged | Self::Passed | Self::Blocked)
    }

    /// Whether the attempt signed in, with or without answering a challenge.
    pub fn got_in(self) -> bool {
        matches!(self, Self::Allowed | Self::Passed)
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
    /// Attempts that signed in, a challenge answered or not.
    pub got_in: usize,
    /// Share of attempts that did not sign in: kept out, not only challenged (for a takeover,
    /// the share the step-up stopped).
    pub kept_out: f64,
    /// Attempts until the first challenge or block (campaigns); `None`: never detected.
    pub attempts_until_detected: Option<usize>,
    /// ROC AUC of the raw score, this scenario's attempts against the legitimate ones.
    pub roc_auc: Option<f64>,
    /// True-positive rate at ≤ 1 % false positives of the raw score.
    pub tpr_at_1pct_fpr: Option<f64>,
    /// Takeovers that happened to come from a network (/24) the victim had signed in from
    /// (the attacker no score can stop, docs/risk.md), and of them the ones let in.
    #[serde(default)]
    pub from_victims_network: usize,
    /// ... of which let in without a challenge.
    #[serde(default)]
    pub from_victims_network_let_in: usize,
}

/// Friction of one kind of legitimate sign-in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Friction {
    /// Sign-ins.
    pub attempts: usize,
    /// Of which challenged or blocked.
    pub stopped: usize,
    /// Their share.
    pub share: f64,
}

impl Friction {
    /// The friction of `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Self {
        Self {
            attempts: outcomes.len(),
            stopped: outcomes.iter().filter(|o| o.stopped()).count(),
            share: friction(outcomes),
        }
    }
}

/// One measured phase: legitimate traffic and every attack scenario, met by one model.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Phase {
    /// The model version in use (0: the built-in prior).
    pub model_version: i64,
    /// Legitimate sign-ins measured.
    pub legit_attempts: usize,
    /// Of which challenged or blocked.
    pub legit_friction: f64,
    /// Friction per legitimate behaviour (`legit.rs`), `during_stuffing_wave` included.
    pub legit: BTreeMap<String, Friction>,
    /// Legitimate sign-ins that met a challenge ...
    pub owners_challenged: usize,
    /// ... and of them, the ones that answered it and got in.
    pub owners_got_in: usize,
    /// Each legitimate sign-in that met friction: behaviour, the challenge, whether it got in
    /// (the stuffing wave's are marked `during_stuffing_wave`).
    pub friction: Vec<String>,
    /// Legitimate token uses `/risk/evaluate` did not answer `allow` (token replay scenario).
    pub legit_token_use_flagged: Option<f64>,
    /// Per scenario.
    pub scenarios: BTreeMap<String, ScenarioReport>,
    /// The takeovers let in without a challenge: scenario, address, score and features (what
    /// let them through).
    pub let_in: Vec<String>,
    /// The `attack_detected` events of the phase (kind and detail).
    pub waves_detected: Vec<String>,
    /// Raw scores per scenario (`legit` included), for plots.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub scores: HashMap<String, Vec<f64>>,
}

/// The whole report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// `labels` (the first phase's attacks labelled through the admin API, as victims'
    /// reports would) or `no_labels` (only the traffic).
    pub mode: String,
    /// What training answered (`POST /admin/api/model/train`) between the phases.
    pub training: Option<serde_json::Value>,
    /// Before any training: the built-in prior.
    pub untrained: Phase,
    /// After training on the log of the history and the first phase.
    pub trained: Phase,
}

/// The share of `outcomes` that were stopped.
pub(super) fn friction(outcomes: &[Outcome]) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let share =
        outcomes.iter().filter(|o| o.stopped()).count() as f64 / outcomes.len().max(1) as f64;
    share
}

/// The figures of one scenario from its outcomes; `right_password`: a takeover (pass rate
/// reported) rather than a campaign (attempts until detected reported).
pub(super) fn summarise(outcomes: &[Outcome], right_password: bool) -> ScenarioReport {
    let stopped = outcomes.iter().filter(|o| o.stopped()).count();
    let passed = outcomes.iter().filter(|o| **o == Outcome::Allowed).count();
    let got_in = outcomes.iter().filter(|o| o.got_in()).count();
    #[allow(clippy::cast_precision_loss)]
    let share = |n: usize| n as f64 / outcomes.len().max(1) as f64;
    ScenarioReport {
        attempts: outcomes.len(),
        passed_unchallenged: passed,
        challenged_or_blocked: share(stopped),
        takeover_pass_rate: right_password.then(|| share(passed)),
        got_in,
        kept_out: 1.0 - share(got_in),
        attempts_until_detected: (!right_password)
            .then(|| outcomes.iter().position(|o| o.stopped()).map(|i| i + 1))
            .flatten(),
        roc_auc: None,
        tpr_at_1pct_fpr: None,
        from_victims_network: 0,
        from_victims_network_let_in: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_campaign_reports_when_it_was_detected() {
        let o = [Outcome::Failed, Outcome::Failed, Outcome::Blocked];
        let r = summarise(&o, false);
        assert_eq!(r.attempts, 3);
        assert_eq!(r.attempts_until_detected, Some(3));
        assert_eq!(r.takeover_pass_rate, None);
    }

    #[test]
    fn a_takeover_reports_its_pass_rate() {
        let o = [Outcome::Allowed, Outcome::Challenged];
        let r = summarise(&o, true);
        assert_eq!(r.passed_unchallenged, 1);
        assert_eq!(r.takeover_pass_rate, Some(0.5));
        assert_eq!(r.attempts_until_detected, None);
        assert!((friction(&o) - 0.5).abs() < 1e-12);
        assert!(friction(&[]).abs() < 1e-12);
    }

    #[test]
    fn a_challenge_answered_is_friction_and_a_takeover_let_in() {
        let o = [
            Outcome::Passed,
            Outcome::Challenged,
            Outcome::Blocked,
            Outcome::Allowed,
        ];
        let r = summarise(&o, true);
        assert_eq!(
            r.got_in, 2,
            "signed in after the challenge, and without one"
        );
        assert!((r.kept_out - 0.5).abs() < 1e-12);
        assert!((r.challenged_or_blocked - 0.75).abs() < 1e-12);
        assert!(Outcome::Passed.stopped() && Outcome::Passed.got_in());
        assert!(!Outcome::Challenged.got_in());
    }
}
