//! `POST /admin/api/labels` (label an event as an attack or legitimate, for training; the
//! console's call, recorded as `admin_action` with the client as actor) and
//! `POST /admin/api/model/train` (fit a candidate now; store it and load it here when it does
//! no worse than the model in use).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::app::state::AppState;
use crate::domain::admin_console::actions::Operator;
use crate::domain::admin_ops::AdminOps;
use crate::domain::operator::Operator as OpsOperator;
use crate::http::admin::AdminBearer;
use crate::http::admin::wire::TrainReportBody;
use crate::http::api_error::{ApiError, ApiJson};
use crate::http::extract::ClientContext;

/// A label.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LabelRequest {
    /// The event's id.
    event_id: String,
    /// `true`: an attack; `false`: legitimate.
    attack: bool,
}

/// The stored label.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LabelResponse {
    /// The event's id.
    event_id: String,
    /// The label.
    attack: bool,
}

/// `POST /admin/api/labels`.
#[utoipa::path(
    post,
    path = "/admin/api/labels",
    request_body = LabelRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored (a later label of the same event replaces it)", body = LabelResponse),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn labels_post(
    State(state): State<AppState>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiJson(req): ApiJson<LabelRequest>,
) -> Result<Json<LabelResponse>, ApiError> {
    let op = Operator::Client(&claims.client_id);
    let event_id = state
        .admin_console
        .label(&ctx, op, None, &req.event_id, req.attack)
        .await?;
    Ok(Json(LabelResponse {
        event_id,
        attack: req.attack,
    }))
}

/// `POST /admin/api/model/train`.
#[utoipa::path(
    post,
    path = "/admin/api/model/train",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Trained (recorded as `admin_action`, the calling client as actor); when `promoted` the new model is stored, this instance uses it at once, others within 30 s; otherwise the model in use stays and `message` says why", body = TrainReportBody),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn train_post(
    State(ops): State<AdminOps>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
) -> Result<Json<TrainReportBody>, ApiError> {
    let by = OpsOperator::Client(&claims.client_id);
    Ok(Json(ops.train(&ctx, by).await?.into()))
}
