//! An operator's acts on clients, signing keys and the risk model, for the admin console
//! (`/admin/clients`, `/admin/keys`, `/admin/model`) and the admin JSON API alike: each is the
//! same domain call `authd client …`, `authd keys rotate` and `authd model train` make, and one
//! `admin_action` event naming the operator (`domain::operator::Operator`) and
//! `<what>; target <id>`. No axum, no sqlx.

use std::sync::Arc;

use crate::domain::admin::{AdminError, AdminService};
use crate::domain::clients::{Client, NewClient};
use crate::domain::clock::Clock;
use crate::domain::context::RequestContext;
use crate::domain::error::unexpected_from;
use crate::domain::oauth::OAuthService;
use crate::domain::oauth::error::ClientError;
use crate::domain::operator::Operator;
use crate::domain::risk::service::RiskService;
use crate::domain::risk::training::TrainReport;
use crate::events::decision::Decision;
use crate::events::sink::EventSink;
use crate::storage::oauth::ClientDisabled;
use crate::storage::risk::RiskStore;

/// The model page's reads.
mod model;

pub use model::{KeyInfo, ModelInfo, ModelOverview};

/// Everything an operator's act can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// No such client or model version.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The input is not acceptable; the message is safe to show.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// An infrastructure failure.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(OpsError);

impl From<ClientError> for OpsError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(m) => Self::Invalid(m),
            ClientError::NotFound => Self::NotFound("no client with that id"),
            ClientError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<AdminError> for OpsError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::InvalidInput(m) => Self::Invalid(m),
            AdminError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

/// The operator's service over clients, keys and the model. Cheap to clone.
#[derive(Clone)]
pub struct AdminOps {
    oauth: OAuthService,
    admin: AdminService,
    risk: RiskService,
    risk_store: Arc<dyn RiskStore>,
    events: EventSink,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AdminOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminOps")
    }
}

/// What `AdminOps` is built from.
pub struct OpsDeps {
    /// Clients and the key ring.
    pub oauth: OAuthService,
    /// Training (`AdminService::train`, as `POST /admin/api/model/train`).
    pub admin: AdminService,
    /// The model in use.
    pub risk: RiskService,
    /// Stored models and labels.
    pub risk_store: Arc<dyn RiskStore>,
    /// The event log.
    pub events: EventSink,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl AdminOps {
    /// The service.
    pub fn new(d: OpsDeps) -> Self {
        Self {
            oauth: d.oauth,
            admin: d.admin,
            risk: d.risk,
            risk_store: d.risk_store,
            events: d.events,
            clock: d.clock,
        }
    }

    async fn record(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        what: Decision,
        target: &str,
    ) -> Result<(), OpsError> {
        let e = by.event(ctx, self.clock.now(), what, target);
        Ok(self.events.record(e).await?)
    }

    /// Every registered client, by id (as `authd client list`).
    pub async fn clients(&self) -> Result<Vec<Client>, OpsError> {
        Ok(self.oauth.client_list().await?)
    }

    /// Registers a client (as `authd client add`); its secret, if confidential, is returned
    /// here once (only its digest is stored).
    pub async fn client_add(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        spec: NewClient,
    ) -> Result<(Client, Option<String>), OpsError> {
        Ok(self.oauth.client_add(ctx, by, spec).await?)
    }

    /// A new secret for a confidential client (as `authd client rotate-secret`), returned once.
    pub async fn client_rotate_secret(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        id: &str,
    ) -> Result<String, OpsError> {
        Ok(self.oauth.client_rotate_secret(ctx, by, id).await?)
    }

    /// Removes a client and revokes its grants (as `authd client delete`); how many grants.
    pub async fn client_delete(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        id: &str,
    ) -> Result<u64, OpsError> {
        Ok(self.oauth.client_delete(ctx, by, id).await?)
    }

    /// Disables a client (as `authd client disable`): refused from now on, its grants
    /// revoked, its tokens refused; what it did.
    pub async fn client_disable(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        id: &str,
    ) -> Result<ClientDisabled, OpsError> {
        Ok(self.oauth.client_disable(ctx, by, id).await?)
    }

    /// Enables a disabled client (as `authd client enable`); `true` if it was disabled.
    pub async fn client_enable(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
        id: &str,
    ) -> Result<bool, OpsError> {
        Ok(self.oauth.client_enable(ctx, by, id).await?)
    }

    /// The signing key ring, newest first.
    pub async fn keys(&self) -> Result<Vec<KeyInfo>, OpsError> {
        let ring = self.oauth.keys().ring().await?;
        Ok(ring.into_iter().map(KeyInfo::from).collect())
    }

    /// A new active key per algorithm (as `authd keys rotate`); the new kids.
    pub async fn keys_rotate(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
    ) -> Result<Vec<String>, OpsError> {
        let kids = self.oauth.keys().rotate().await?;
        self.record(ctx, by, Decision::OpsKeysRotated, &kids.join(","))
            .await?;
        Ok(kids)
    }

    /// Fits a candidate now (as `authd model train` and `POST /admin/api/model/train`); the
    /// report, the version in use after as the event's target.
    pub async fn train(
        &self,
        ctx: &RequestContext,
        by: Operator<'_>,
    ) -> Result<TrainReport, OpsError> {
        let report = self.admin.train().await?;
        let target = report.version.to_string();
        self.record(ctx, by, Decision::OpsModelTrained, &target)
            .await?;
        Ok(report)
    }
}
