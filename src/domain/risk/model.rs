//! The learned part of the score: a logistic regression over the numeric features (the
//! Freeman log-ratios of `profile.rs` among them, so the model learns how much each kind of
//! novelty is worth next to the velocity features), fitted with `linfa-logistic` by
//! `authd model train` on labelled events and stored, versioned, in the database. Before any
//! training a documented prior (hand-set weights) stands in.
//!
//! Why logistic regression: labels exist (reported sign-ins, campaign failures, admin labels),
//! the features are few and meaningful, the fitted weights explain every score (the reasons are
//! the largest weighted contributions), and a prediction is one dot product (≈ 50 ns).
#![allow(
    clippy::indexing_slicing,
    reason = "fixed-size feature vectors and rank arithmetic: indices are bounded by the loops that make them"
)]

use linfa::prelude::*;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::domain::risk::features::{FEATURES, reason_text};
use crate::domain::risk::profile::Population;

/// Hand-set weights used until a model is trained (see docs/risk.md for their reasoning).
/// Order: `features::NAMES`.
pub const PRIOR_WEIGHTS: [f64; FEATURES] = [
    0.55, // new_network
    0.45, // new_asn
    0.55, // new_country
    0.5,  // new_browser
    0.35, // new_os
    0.3,  // new_device_class
    0.25, // new_user_agent
    0.15, // unusual_hour
    1.0,  // unknown_device
    0.3,  // days_since_last_sign_in
    0.8,  // failures_on_account_from_source
    0.5,  // failures_from_source
    1.3,  // accounts_tried_from_source
    0.7,  // accounts_tried_from_network
    0.6,  // sources_failing_on_account
    1.6,  // same_password_on_many_accounts
    2.5,  // impossible_travel
    0.0,  // unknown_account: never set (score.rs: it would enumerate accounts)
    0.8,  // new_network_without_device_cookie
];
/// The prior's intercept.
pub const PRIOR_INTERCEPT: f64 = -4.5;

/// Quality figures of a model on held-out labelled events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Labelled attempts used for training.
    pub trained_on: usize,
    /// Held-out positives (attacks).
    pub positives: usize,
    /// Held-out negatives (legitimate).
    pub negatives: usize,
    /// Area under the ROC curve of the held-out scores.
    pub roc_auc: Option<f64>,
    /// True-positive rate at a false-positive rate of at most 1 %.
    pub tpr_at_1pct_fpr: Option<f64>,
}

/// A scoring model: weights, intercept and the population frequencies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Database version (0: the built-in prior).
    pub version: i64,
    /// Weight per feature.
    pub weights: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
    /// Population value shares for the Freeman part.
    pub population: Population,
    /// How it did on held-out data when trained.
    pub metrics: Metrics,
}

impl Model {
    /// The built-in prior.
    pub fn prior() -> Self {
        Self {
            version: 0,
            weights: PRIOR_WEIGHTS.to_vec(),
            intercept: PRIOR_INTERCEPT,
            population: Population::default(),
            metrics: Metrics::default(),
        }
    }

    /// The score in [0, 1] and the reasons (features whose weighted contribution raised it,
    /// largest first).
    pub fn score(&self, x: &[f64; FEATURES]) -> (f64, Vec<String>) {
        let mut z = self.intercept;
        let mut contributions: Vec<(f64, usize)> = Vec::with_capacity(FEATURES);
        for (i, (w, v)) in self.weights.iter().zip(x.iter()).enumerate() {
            let c = w * v;
            z += c;
            if c > 0.25 {
                contributions.push((c, i));
            }
        }
        contributions.sort_by(|a, b| b.0.total_cmp(&a.0));
        let reasons = contributions
            .into_iter()
            .take(4)
            .map(|(_, i)| reason_text(i).to_owned())
            .collect();
        (sigmoid(z), reasons)
    }
}

/// The logistic function.
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A labelled attempt: its feature vector and whether it was an attack.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Features.
    pub x: [f64; FEATURES],
    /// Attack?
    pub attack: bool,
    /// Stable id (the event id) used to split train and held-out sets.
    pub id: String,
}

/// Why a model could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Both classes are needed.
    #[error("need labelled attacks and legitimate sign-ins (have {attacks} and {legit})")]
    NotEnoughLabels {
        /// Attack examples.
        attacks: usize,
        /// Legitimate examples.
        legit: usize,
    },
    /// The solver failed.
    #[error("fitting failed: {0}")]
    Fit(String),
}

/// Whether an example is held out (every fifth, by a hash of its id: stable across runs).
fn held_out(id: &str) -> bool {
    use sha2::Digest;
    sha2::Sha256::digest(id.as_bytes())[0] % 5 == 0
}

/// Fits a model on `examples` (80 % of them; the rest measure it).
pub fn train(
    examples: &[Example],
    population: Population,
    version: i64,
) -> Result<Model, TrainError> {
    let (test, fit): (Vec<&Example>, Vec<&Example>) =
        examples.iter().partition(|e| held_out(&e.id));
    let attacks = fit.iter().filter(|e| e.attack).count();
    let legit = fit.len() - attacks;
    if attacks < 2 || legit < 2 {
        return Err(TrainError::NotEnoughLabels { attacks, legit });
    }
    let mut records = Array2::<f64>::zeros((fit.len(), FEATURES));
    for (r, e) in fit.iter().enumerate() {
        for (c, v) in e.x.iter().enumerate() {
            records[[r, c]] = *v;
        }
    }
    let targets: Array1<bool> = fit.iter().map(|e| e.attack).collect();
    let dataset = linfa::Dataset::new(records, targets);
    let fitted = linfa_logistic::LogisticRegression::default()
        .alpha(0.1)
        .max_iterations(300)
        .fit(&dataset)
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    // linfa's positive class is the larger one; flip so that the score is P(attack).
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    // Every feature is oriented so that more of it is riskier: a negative weight can only be
    // an artefact of the training traffic (and would let an attacker lower his score by
    // adding novelty). Clip to zero and refit the intercept alone.
    let weights: Vec<f64> = fitted
        .params()
        .iter()
        .map(|w| (sign * w).max(0.0))
        .collect();
    let intercept = refit_intercept(&weights, sign * fitted.intercept(), &fit);
    let mut model = Model {
        version,
        weights,
        intercept,
        population,
        metrics: Metrics::default(),
    };
    let mut metrics = evaluate(&model, test.into_iter());
    metrics.trained_on = fit.len();
    model.metrics = metrics;
    Ok(model)
}

/// The intercept minimising the log loss with `weights` fixed (Newton's method from `start`).
fn refit_intercept(weights: &[f64], start: f64, examples: &[&Example]) -> f64 {
    let z: Vec<(f64, f64)> = examples
        .iter()
        .map(|e| {
            let dot: f64 = weights.iter().zip(e.x.iter()).map(|(w, x)| w * x).sum();
            (dot, if e.attack { 1.0 } else { 0.0 })
        })
        .collect();
    let mut b = start;
    for _ in 0..50 {
        let (mut grad, mut hess) = (0.0, 0.0);
        for (dot, y) in &z {
            let p = sigmoid(dot + b);
            grad += p - y;
            hess += p * (1.0 - p);
        }
        if hess < 1e-9 {
            break;
        }
        let step = grad / hess;
        b -= step.clamp(-5.0, 5.0);
        if step.abs() < 1e-9 {
            break;
        }
    }
    b
}

/// ROC AUC and TPR at 1 % FPR of `model` on `examples`.
pub fn evaluate<'a>(model: &Model, examples: impl Iterator<Item = &'a Example>) -> Metrics {
    let scored: Vec<(f64, bool)> = examples.map(|e| (model.score(&e.x).0, e.attack)).collect();
    let positives = scored.iter().filter(|s| s.1).count();
    let negatives = scored.len() - positives;
    Metrics {
        trained_on: 0,
        positives,
        negatives,
        roc_auc: roc_auc(&scored),
        tpr_at_1pct_fpr: tpr_at_fpr(&scored, 0.01),
    }
}

/// Area under the ROC curve (probability a random attack outscores a random legitimate
/// attempt, ties counting half); `None` without both classes.
pub fn roc_auc(scored: &[(f64, bool)]) -> Option<f64> {
    let mut v: Vec<(f64, bool)> = scored.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pos = v.iter().filter(|s| s.1).count();
    let neg = v.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    // Mann–Whitney U with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1].0 == v[i].0 {
            j += 1;
        }
        #[allow(clippy::cast_precision_loss)]
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg * v[i..=j].iter().filter(|s| s.1).count() as f64;
        i = j + 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let (p, n) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The true-positive rate at the lowest threshold whose false-positive rate is ≤ `max_fpr`.
pub fn tpr_at_fpr(scored: &[(f64, bool)], max_fpr: f64) -> Option<f64> {
    let pos = scored.iter().filter(|s| s.1).count();
    let neg = scored.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut legit: Vec<f64> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
    legit.sort_by(|a, b| b.total_cmp(a));
    // Allowed false positives; the threshold sits just above the next legitimate score.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let allowed = (max_fpr * neg as f64).floor() as usize;
    let threshold = legit[allowed.min(neg - 1)];
    let hit = scored.iter().filter(|s| s.1 && s.0 > threshold).count();
    #[allow(clippy::cast_precision_loss)]
    Some(hit as f64 / pos as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_and_tpr() {
        let perfect = [(0.9, true), (0.8, true), (0.1, false), (0.2, false)];
        assert_eq!(roc_auc(&perfect), Some(1.0));
        assert_eq!(tpr_at_fpr(&perfect, 0.01), Some(1.0));
        let inverted = [(0.1, true), (0.9, false)];
        assert_eq!(roc_auc(&inverted), Some(0.0));
        let ties = [(0.5, true), (0.5, false)];
        assert_eq!(roc_auc(&ties), Some(0.5));
        assert_eq!(roc_auc(&[(0.5, true)]), None);
    }

    #[test]
    fn training_learns_which_feature_marks_attacks() {
        // Attacks have feature 12 (accounts tried from source) high; legitimate ones do not;
        // feature 3 is noise in both.
        let mut examples = Vec::new();
        for i in 0..400 {
            let attack = i % 4 == 0;
            let mut x = [0.0; FEATURES];
            #[allow(clippy::cast_precision_loss)]
            let noise = ((i * 7919) % 13) as f64 / 13.0;
            #[allow(clippy::cast_precision_loss)]
            let other = ((i * 104_729) % 17) as f64 / 17.0;
            x[3] = noise;
            x[12] = if attack { 2.0 + other } else { other * 0.5 };
            examples.push(Example {
                x,
                attack,
                id: format!("e{i}"),
            });
        }
        let m = train(&examples, Population::default(), 1).unwrap();
        assert!(m.weights[12] > 1.0, "{:?}", m.weights);
        assert!(m.weights[12] > 5.0 * m.weights[3].abs(), "{:?}", m.weights);
        assert!(m.metrics.roc_auc.unwrap() > 0.99, "{:?}", m.metrics);
        let mut attack = [0.0; FEATURES];
        attack[12] = 2.5;
        let (s, reasons) = m.score(&attack);
        assert!(s > 0.9, "{s}");
        assert_eq!(reasons[0], reason_text(12));
        assert!(m.score(&[0.0; FEATURES]).0 < 0.1);
    }

    #[test]
    fn training_needs_both_classes() {
        let only_legit: Vec<Example> = (0..50)
            .map(|i| Example {
                x: [0.0; FEATURES],
                attack: false,
                id: format!("e{i}"),
            })
            .collect();
        assert!(matches!(
            train(&only_legit, Population::default(), 1),
            Err(TrainError::NotEnoughLabels { .. })
        ));
    }
}
