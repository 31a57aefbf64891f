//! The admin API's response bodies that mirror domain results, with their OpenAPI schemas
//! (STYLE G2: wire types and schemas belong to `http/`; the domain derives no `ToSchema`).

use serde::Serialize;

use crate::domain::risk::model::Metrics;
use crate::domain::risk::training::TrainReport;

/// Quality figures of a model on held-out labelled events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Metrics)]
pub struct MetricsBody {
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
    /// Mean log loss, each example counted with its weight (lower is better).
    pub log_loss: Option<f64>,
}

impl From<Metrics> for MetricsBody {
    fn from(m: Metrics) -> Self {
        Self {
            trained_on: m.trained_on,
            positives: m.positives,
            negatives: m.negatives,
            roc_auc: m.roc_auc,
            tpr_at_1pct_fpr: m.tpr_at_1pct_fpr,
            log_loss: m.log_loss,
        }
    }
}

/// What a training run did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TrainReport)]
pub struct TrainReportBody {
    /// The version in use after the run (the new one when promoted; 0: the built-in prior).
    pub version: i64,
    /// Whether a new model was stored.
    pub promoted: bool,
    /// What happened, in words (why the current model was kept, when it was).
    pub message: String,
    /// Training examples: labelled events, the owners' sign-ins and the synthetic attackers.
    pub examples: usize,
    /// Of which attacks (labelled and synthetic).
    pub attacks: usize,
    /// Of the examples, labelled ones.
    pub labelled: usize,
    /// Of the attacks, synthetic ones.
    pub synthetic_attacks: usize,
    /// The candidate's held-out metrics.
    pub metrics: MetricsBody,
    /// The version in use before the run.
    pub current_version: i64,
    /// The model in use before the run, on the same held-out examples.
    pub current_metrics: MetricsBody,
}

impl From<TrainReport> for TrainReportBody {
    fn from(r: TrainReport) -> Self {
        Self {
            version: r.version,
            promoted: r.promoted,
            message: r.message,
            examples: r.examples,
            attacks: r.attacks,
            labelled: r.labelled,
            synthetic_attacks: r.synthetic_attacks,
            metrics: r.metrics.into(),
            current_version: r.current_version,
            current_metrics: r.current_metrics.into(),
        }
    }
}
