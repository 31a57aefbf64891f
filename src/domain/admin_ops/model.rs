//! The reads of the keys and model pages (the key ring without private keys; the stored model
//! versions with their training metrics, the one in use, the newest labels) and the promotion
//! of a stored model version or of the built-in prior (roll back or forward), which every
//! instance picks up on its model reload as it picks up a newly trained one.

use crate::domain::admin_ops::{AdminOps, OpsError};
use crate::domain::context::RequestContext;
use crate::domain::operator::Operator;
use crate::domain::risk::model::{Metrics, Model};
use crate::events::decision::Decision;
use crate::storage::oauth::KeyRecord;
use crate::storage::risk::LabelRow;

/// Most model versions listed (and promotable).
pub const MODELS_LISTED: i64 = 100;
/// Most labels listed.
pub const LABELS_LISTED: i64 = 50;

/// A signing key as the keys page shows it (no private key).
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// JWS algorithm.
    pub alg: String,
    /// Made at (unix seconds).
    pub created_at: i64,
    /// `None`: active (signs new tokens); else published (verifies only) until then.
    pub retire_after: Option<i64>,
}

impl From<KeyRecord> for KeyInfo {
    fn from(r: KeyRecord) -> Self {
        Self {
            kid: r.kid,
            alg: r.alg,
            created_at: r.created_at,
            retire_after: r.retire_after,
        }
    }
}

/// A stored model version.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// Version.
    pub version: i64,
    /// Trained at (unix seconds).
    pub created_at: i64,
    /// Its held-out metrics when trained (`trained_on`: the examples).
    pub metrics: Metrics,
    /// Fitted on this build's features (only such a model can be put in use).
    pub usable: bool,
}

/// The model page.
#[derive(Debug, Clone)]
pub struct ModelOverview {
    /// The version this instance scores with (0: the built-in prior).
    pub in_use: i64,
    /// The stored versions, newest first (at most `MODELS_LISTED`).
    pub models: Vec<ModelInfo>,
    /// The newest labels (at most `LABELS_LISTED`).
    pub labels: Vec<LabelRow>,
    /// How many events are labelled in all.
    pub labelled: i64,
}

impl AdminOps {
    async fn stored_models(&self) -> Result<Vec<ModelInfo>, OpsError> {
        let rows = self.risk_store.models(MODELS_LISTED).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let parsed = serde_json::from_str::<Model>(&r.model).ok();
                ModelInfo {
                    version: r.version,
                    created_at: r.created_at,
                    usable: parsed.as_ref().is_some_and(Model::fits_features),
                    metrics: parsed.map(|m| m.metrics).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// The model versions, the one in use and the newest labels.
    pub async fn models(&self) -> Result<ModelOverview, OpsError> {
        let models = self.stored_models().await?;
        let (labels, labelled) = self.risk_store.recent_labels(LABELS_LISTED).await?;
        Ok(ModelOverview {
            in_use: self.risk.model().version,
            models,
            labels,
            labelled,
        })
    }

    /// Puts stored version `version` in use, or with 0 the built-in prior (a roll back past
    /// every trained model): here at once, on every other instance at its next model reload
    /// (within 30 s), until a newer model is trained or another is promoted.
    pub async fn promote(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        version: i64,
    ) -> Result<(), OpsError> {
        if version != 0 {
            let models = self.stored_models().await?;
            let Some(found) = models.iter().find(|m| m.version == version) else {
                return Err(OpsError::NotFound("no stored model with that version"));
            };
            if !found.usable {
                return Err(OpsError::Invalid(
                    "that version was fitted on other features and cannot be used",
                ));
            }
        }
        let now = self.clock.now().unix_timestamp();
        if !self.risk_store.select_model(version, now).await? {
            return Err(OpsError::NotFound("no stored model with that version"));
        }
        self.risk.reload().await?;
        self.record(ctx, by, Decision::OpsModelPromoted, &version.to_string())
            .await
    }
}
