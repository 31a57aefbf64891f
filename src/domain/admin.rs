//! What the admin API does, one call per endpoint: search and export the event log with the
//! operator's filters (`events.rs`, which the console's events explorer calls too), label an
//! event for training, train a model now. The handlers in `http/admin/`
//! extract, call one function here and map the result. No axum, no sqlx.

use std::sync::Arc;

use crate::domain::accounts::service::AccountService;
use crate::domain::clock::Clock;
use crate::domain::error::unexpected_from;
use crate::domain::risk::service::RiskService;
use crate::domain::risk::training::{TrainReport, TrainingError, train_and_store};
use crate::events::sink::EventSink;
use crate::storage::risk::RiskStore;

/// Longest event id accepted when labelling.
const MAX_EVENT_ID_LEN: usize = 64;

/// Everything an admin API call can answer besides success (the bearer check in front of it
/// answers `BearerError`).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A filter or a label is malformed; the message is safe to send.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// An infrastructure failure (database, thread), or the fit itself failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(AdminError);

/// Event search and export.
pub mod events;
pub use events::EventQuery;

impl From<TrainingError> for AdminError {
    fn from(e: TrainingError) -> Self {
        match e {
            TrainingError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

/// The admin API's operations.
#[derive(Clone)]
pub struct AdminService {
    accounts: AccountService,
    events: EventSink,
    risk: RiskService,
    risk_store: Arc<dyn RiskStore>,
    clock: Arc<dyn Clock>,
    /// How far back training reads the event log.
    training_window: time::Duration,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminService")
    }
}

impl AdminService {
    /// The service over the accounts, the event log and the risk engine.
    pub fn new(
        accounts: AccountService,
        events: EventSink,
        risk: RiskService,
        risk_store: Arc<dyn RiskStore>,
        clock: Arc<dyn Clock>,
        training_window: time::Duration,
    ) -> Self {
        Self {
            accounts,
            events,
            risk,
            risk_store,
            clock,
            training_window,
        }
    }

    /// Labels the event `event_id` as an attack or legitimate (a later label replaces it);
    /// returns the id as stored (trimmed).
    pub async fn label_event(&self, event_id: &str, attack: bool) -> Result<String, AdminError> {
        let id = event_id.trim();
        if id.is_empty() || id.len() > MAX_EVENT_ID_LEN || id.chars().any(char::is_control) {
            return Err(AdminError::InvalidInput("event_id is not an event id"));
        }
        let now = self.clock.now().unix_timestamp();
        self.risk_store.label(id, attack, now).await?;
        Ok(id.to_owned())
    }

    /// Fits a candidate now and, when it does no worse than the model in use, stores it and
    /// loads it on this instance (the others pick it up within 30 s).
    pub async fn train(&self) -> Result<TrainReport, AdminError> {
        let report = train_and_store(
            &self.risk_store,
            &self.clock,
            self.training_window,
            self.risk.challenge_at(),
            &|_| {},
        )
        .await?;
        self.risk.reload().await?;
        Ok(report)
    }
}
