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
}

impl From<Metrics> for MetricsBody {
    fn from(m: Metrics) -> Self {
        Self {
            trained_on: m.trained_on,
            positives: m.positives,
            negatives: m.negatives,
            roc_auc: m.roc_auc,
            tpr_at_1pct_fpr: m.tpr_at_1pct_fpr,
        }
    }
}

/// What a training run did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TrainReport)]
pub struct TrainReportBody {
    /// The stored version.
    pub version: i64,
    /// Labelled examples found.
    pub examples: usize,
    /// Of which attacks.
    pub attacks: usize,
    /// Held-out metrics.
    pub metrics: MetricsBody,
}

impl From<TrainReport> for TrainReportBody {
    fn from(r: TrainReport) -> Self {
        Self {
            version: r.version,
            examples: r.examples,
            attacks: r.attacks,
            metrics: r.metrics.into(),
        }
    }
}
