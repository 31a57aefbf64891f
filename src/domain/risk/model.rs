//! The learned part of the score: a logistic regression over the numeric features (the
//! Freeman log-ratios of `profile.rs` among them, so the model learns how much each kind of
//! novelty is worth next to the device cookie and the velocity features), fitted with
//! `linfa-logistic` by `authd model train` and stored, versioned, in the database. The
//! training data needs no attack label (`synthetic.rs`: the owners' own sign-ins against the
//! attackers synthesised from them; labels, when there are any, weigh more). Before any
//! training a documented prior (hand-set weights) stands in. A candidate replaces the model in
//! use only when it does no worse on the same held-out examples (`no_worse`).
//!
//! Why logistic regression: the features are few and meaningful, the fitted weights explain
//! every score (the reasons are the largest weighted contributions), it fits a few hundred
//! thousand rows in seconds, and a prediction is one dot product (≈ 50 ns).
#![allow(
    clippy::indexing_slicing,
    reason = "fixed-size feature vectors and rank arithmetic: indices are bounded by the loops that make them"
)]

use linfa::prelude::*;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::domain::risk::features::{CONTEXT_ONLY, FEATURES, NEVER_USED_NETWORK, reason_text};
use crate::domain::risk::profile::Population;
use crate::domain::risk::split::split;

/// Hand-set weights used until a model is trained (docs/risk.md, "The prior"). Order:
/// `features::NAMES`. The one strong weight is the shape of a takeover with a stolen password
/// (a network the account never used and no device cookie of it): on its own it crosses the
/// challenge threshold at any history length. Novelty alone (a known device on a new network,
/// a new browser on a known network) stays below it however long the history.
pub const PRIOR_WEIGHTS: [f64; FEATURES] = [
    0.3,  // new_network
    0.1,  // new_asn
    0.15, // new_country
    0.15, // new_browser
    0.1,  // new_os
    0.05, // new_device_class
    0.05, // new_user_agent
    0.1,  // unusual_hour
    0.4,  // unknown_device
    0.1,  // days_since_last_sign_in
    0.8,  // failures_on_account_from_source
    0.5,  // failures_from_source
    1.3,  // accounts_tried_from_source
    0.7,  // accounts_tried_from_network
    0.6,  // sources_failing_on_account
    1.6,  // same_password_on_many_accounts
    2.5,  // impossible_travel
    0.0,  // unknown_account: never set (score.rs: it would enumerate accounts)
    0.3,  // new_network_without_device_cookie
    5.0,  // never_used_network_without_device_cookie
    0.0,  // history_size: context only
];
/// The prior's intercept.
pub const PRIOR_INTERCEPT: f64 = -4.5;

/// Columns of novelty (the Freeman ratios, the missing device cookie, the days since the last
/// sign-in, a new network without the cookie): a trained weight is never above the prior's.
/// Real owners rarely show a new browser at home or their own device abroad, so a fit on their
/// sign-ins against the synthetic attackers finds either alone "attack-like"; capped, no
/// training can make them cost the owner a challenge the prior would not (docs/risk.md, "The
/// prior"). What training may raise is the takeover's shape (feature 19) and the counters.
const PRIOR_CAPPED: [usize; 11] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 18];

/// Columns the self-supervised attackers never vary (the failure counters, impossible travel,
/// unknown account): the synthetic data says nothing about them, so a trained weight is never
/// below the prior's; labelled campaigns can raise it.
const PRIOR_FLOORED: std::ops::RangeInclusive<usize> = 10..=17;

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
    /// Mean log loss of the scores, each example counted with its weight (lower is better).
    #[serde(default)]
    pub log_loss: Option<f64>,
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

    /// Whether the model was fitted on this build's feature columns (a stored model from an
    /// older feature set is not used: the prior stands in until the next training).
    pub fn fits_features(&self) -> bool {
        self.weights.len() == FEATURES
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
    /// Stable id (the event's request id) used to split train and held-out sets; synthetic
    /// attackers carry the id of the sign-in they were made from, so they fall on its side.
    pub id: String,
    /// How much it counts: 1 for an owner's sign-in, `LABEL_WEIGHT` for a label, 1/3 for each
    /// of the three synthetic attackers of a sign-in.
    pub weight: f64,
    /// Made by `synthetic.rs` rather than read from the log.
    pub synthetic: bool,
}

/// Why a model could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Both classes are needed in the part fitted on.
    #[error("need attacks and legitimate sign-ins to fit on (have {attacks} and {legit})")]
    TooFewExamples {
        /// Attack examples.
        attacks: usize,
        /// Legitimate examples.
        legit: usize,
    },
    /// The solver failed.
    #[error("fitting failed: {0}")]
    Fit(String),
}

/// Fits a model on the examples `split` does not hold out; the held-out ones measure it.
pub fn train(
    examples: &[Example],
    population: Population,
    version: i64,
) -> Result<Model, TrainError> {
    let (test, fit) = split(examples);
    let attacks = fit.iter().filter(|e| e.attack).count();
    let legit = fit.len() - attacks;
    if attacks < 2 || legit < 2 {
        return Err(TrainError::TooFewExamples { attacks, legit });
    }
    // linfa-logistic takes no sample weights: an example of weight w ≥ 1 is repeated round(w)
    // times (labels); lighter ones (the synthetic attackers) once each. The three attackers of
    // a sign-in then outnumber it 3 to 1, which moves only the intercept of a logistic fit
    // (Prentice & Pyke, 1979): `refit_intercept` below restores the weighted balance.
    let rows: Vec<&Example> = fit
        .iter()
        .flat_map(|e| std::iter::repeat_n(*e, copies(e.weight)))
        .collect();
    let mut records = Array2::<f64>::zeros((rows.len(), FEATURES));
    for (r, e) in rows.iter().enumerate() {
        for (c, v) in e.x.iter().enumerate() {
            if !CONTEXT_ONLY.contains(&c) {
                records[[r, c]] = *v;
            }
        }
    }
    let targets: Array1<bool> = rows.iter().map(|e| e.attack).collect();
    let dataset = linfa::Dataset::new(records, targets);
    let fitted = linfa_logistic::LogisticRegression::default()
        .alpha(0.1)
        .max_iterations(300)
        .fit(&dataset)
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    // linfa's positive class is the larger one; flip so that the score is P(attack).
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let weights = oriented(fitted.params().iter().map(|w| sign * w));
    // Never above the prior's: with the novelty weights capped, the owner's everyday contexts
    // then score no higher than under the prior (but for a negative ratio's lost discount).
    let intercept = refit_intercept(&weights, sign * fitted.intercept(), &fit).min(PRIOR_INTERCEPT);
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

/// How many rows an example of `weight` takes in the fit.
fn copies(weight: f64) -> usize {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = weight.round().max(1.0) as usize;
    n
}

/// Fitted weights made safe to use. Every feature is oriented so that more of it is riskier: a
/// negative weight can only be an artefact of the training traffic (and would let an attacker
/// lower his score by adding novelty), so it is clipped to zero; context columns weigh nothing;
/// the columns the synthetic attackers never vary keep at least the prior's weight; the
/// novelty columns at most the prior's; the takeover's shape (feature 19) at least the prior's.
fn oriented(fitted: impl Iterator<Item = f64>) -> Vec<f64> {
    fitted
        .enumerate()
        .map(|(k, w)| {
            if CONTEXT_ONLY.contains(&k) {
                0.0
            } else if PRIOR_FLOORED.contains(&k) || k == NEVER_USED_NETWORK {
                w.max(PRIOR_WEIGHTS[k])
            } else if PRIOR_CAPPED.contains(&k) {
                w.clamp(0.0, PRIOR_WEIGHTS[k])
            } else {
                w.max(0.0)
            }
        })
        .collect()
}

/// The intercept minimising the weighted log loss with `weights` fixed (Newton's method from
/// `start`).
fn refit_intercept(weights: &[f64], start: f64, examples: &[&Example]) -> f64 {
    let z: Vec<(f64, f64, f64)> = examples
        .iter()
        .map(|e| {
            let dot: f64 = weights.iter().zip(e.x.iter()).map(|(w, x)| w * x).sum();
            (dot, if e.attack { 1.0 } else { 0.0 }, e.weight)
        })
        .collect();
    let mut b = start;
    for _ in 0..50 {
        let (mut grad, mut hess) = (0.0, 0.0);
        for (dot, y, w) in &z {
            let p = sigmoid(dot + b);
            grad += w * (p - y);
            hess += w * p * (1.0 - p);
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

/// Whether a candidate measured `candidate` may replace the model measured `current` on the
/// same held-out examples: its weighted log loss must be no higher. The log loss is a proper
/// scoring rule: it judges the ranking and the scores themselves (which the fixed thresholds
/// read), where ROC AUC, reported beside it, sees only the ranking and, on a held-out split
/// of a few hundred examples, moves by a pair or two of ties. Without both classes held out
/// there is nothing to compare: no.
pub fn no_worse(candidate: &Metrics, current: &Metrics) -> bool {
    const EPS: f64 = 1e-12;
    let both = |m: &Metrics| m.positives > 0 && m.negatives > 0;
    match (candidate.log_loss, current.log_loss) {
        (Some(a), Some(b)) if both(candidate) && both(current) => a <= b + EPS,
        _ => false,
    }
}

/// ROC AUC and TPR at 1 % FPR of `model` on `examples`.
pub fn evaluate<'a>(model: &Model, examples: impl Iterator<Item = &'a Example>) -> Metrics {
    let mut scored: Vec<(f64, bool)> = Vec::new();
    let (mut loss, mut mass) = (0.0, 0.0);
    for e in examples {
        let s = model.score(&e.x).0;
        let p = if e.attack { s } else { 1.0 - s };
        loss -= e.weight * p.max(1e-12).ln();
        mass += e.weight;
        scored.push((s, e.attack));
    }
    let positives = scored.iter().filter(|s| s.1).count();
    let negatives = scored.len() - positives;
    Metrics {
        trained_on: 0,
        positives,
        negatives,
        roc_auc: roc_auc(&scored),
        tpr_at_1pct_fpr: tpr_at_fpr(&scored, 0.01),
        log_loss: (mass > 0.0).then(|| loss / mass),
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
                weight: 1.0,
                synthetic: false,
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
                weight: 1.0,
                synthetic: false,
            })
            .collect();
        assert!(matches!(
            train(&only_legit, Population::default(), 1),
            Err(TrainError::TooFewExamples { .. })
        ));
    }

    fn metrics(loss: f64) -> Metrics {
        Metrics {
            positives: 10,
            negatives: 10,
            log_loss: Some(loss),
            ..Metrics::default()
        }
    }

    #[test]
    fn a_candidate_replaces_the_model_only_when_its_log_loss_is_no_higher() {
        assert!(no_worse(&metrics(0.10), &metrics(0.20)));
        assert!(no_worse(&metrics(0.20), &metrics(0.20)), "a tie");
        assert!(!no_worse(&metrics(0.21), &metrics(0.20)), "scores worse");
        let one_class = Metrics {
            negatives: 0,
            ..metrics(0.01)
        };
        assert!(!no_worse(&one_class, &one_class), "nothing to compare on");
        assert!(!no_worse(&Metrics::default(), &metrics(0.2)));
    }

    #[test]
    fn fitted_weights_are_oriented_floored_capped_and_context_free() {
        let w = oriented((0..FEATURES).map(|_| -1.0));
        for (k, v) in w.iter().enumerate() {
            let want = if PRIOR_FLOORED.contains(&k) || k == NEVER_USED_NETWORK {
                PRIOR_WEIGHTS[k]
            } else {
                0.0
            };
            assert_eq!(*v, want, "feature {k}");
        }
        let w = oriented((0..FEATURES).map(|_| 9.0));
        assert_eq!(w[crate::domain::risk::features::HISTORY_SIZE], 0.0);
        assert_eq!(w[12], 9.0, "labels can raise a floored weight");
        assert_eq!(w[NEVER_USED_NETWORK], 9.0, "and the takeover's shape");
        for k in PRIOR_CAPPED {
            assert_eq!(
                w[k], PRIOR_WEIGHTS[k],
                "novelty {k} is capped at the prior's"
            );
        }
    }
}
