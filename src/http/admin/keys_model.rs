//! The admin API's key and model acts, the console's `/admin/keys` and `/admin/model` as JSON:
//! `GET /admin/api/keys`, `POST /admin/api/keys/rotate`, `GET /admin/api/model`,
//! `POST /admin/api/model/{version}/promote` (0: the built-in prior; training is
//! `POST /admin/api/model/train`, in `model.rs`). Each is the `AdminOps` call the console
//! makes, recorded as `admin_action` with the calling client as actor.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::domain::admin_ops::AdminOps;
use crate::domain::operator::Operator;
use crate::http::admin::AdminBearer;
use crate::http::admin::wire::MetricsBody;
use crate::http::api_error::{ApiError, ApiPath};
use crate::http::extract::ClientContext;

/// A signing key (no private part).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyBody {
    /// Key id.
    kid: String,
    /// JWS algorithm.
    alg: String,
    /// `active` (signs) or `published` (verifies only, until `retire_after`).
    state: &'static str,
    /// Made at (unix seconds).
    created_at: i64,
    /// Published until (unix seconds); absent while active.
    retire_after: Option<i64>,
}

/// The key ring.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyRing {
    /// Every published key, newest first.
    keys: Vec<KeyBody>,
}

/// A rotation's new keys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedBody {
    /// Always `true`.
    rotated: bool,
    /// The new active kids.
    active_kids: Vec<String>,
}

/// A stored model version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelBody {
    /// Version.
    version: i64,
    /// Trained at (unix seconds).
    created_at: i64,
    /// Its held-out metrics when trained (`trained_on`: the examples).
    metrics: MetricsBody,
    /// Fitted on this build's features (only such a version can be promoted).
    usable: bool,
    /// The version this instance scores with.
    in_use: bool,
}

/// A label.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LabelBody {
    /// The event's id.
    event_id: String,
    /// `true`: an attack.
    attack: bool,
    /// Labelled at (unix seconds).
    created_at: i64,
}

/// The models and labels.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelsBody {
    /// The version in use on this instance (0: the built-in prior).
    in_use: i64,
    /// Stored versions, newest first (at most 100).
    models: Vec<ModelBody>,
    /// Labelled events in all.
    labelled: i64,
    /// The newest labels (at most 50).
    labels: Vec<LabelBody>,
}

/// A promotion.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PromotedBody {
    /// The version now in use.
    version: i64,
}

/// `GET /admin/api/keys`.
#[utoipa::path(get, path = "/admin/api/keys", security(("bearer" = [])),
    responses(
        (status = 200, description = "The signing key ring", body = KeyRing),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn keys_get(
    State(ops): State<AdminOps>,
    _admin: AdminBearer,
) -> Result<Json<KeyRing>, ApiError> {
    let keys = ops.keys().await?;
    let keys = keys
        .into_iter()
        .map(|k| KeyBody {
            state: if k.retire_after.is_none() {
                "active"
            } else {
                "published"
            },
            kid: k.kid,
            alg: k.alg,
            created_at: k.created_at,
            retire_after: k.retire_after,
        })
        .collect();
    Ok(Json(KeyRing { keys }))
}

/// `POST /admin/api/keys/rotate`.
#[utoipa::path(post, path = "/admin/api/keys/rotate", security(("bearer" = [])),
    responses(
        (status = 200, description = "A new active key per algorithm; the old ones stay published until their tokens expire", body = RotatedBody),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn keys_rotate_post(
    State(ops): State<AdminOps>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
) -> Result<Json<RotatedBody>, ApiError> {
    let active_kids = ops
        .keys_rotate(&ctx, Operator::Client(&claims.client_id))
        .await?;
    Ok(Json(RotatedBody {
        rotated: true,
        active_kids,
    }))
}

/// `GET /admin/api/model`.
#[utoipa::path(get, path = "/admin/api/model", security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored model versions, the one in use, the labels", body = ModelsBody),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn model_get(
    State(ops): State<AdminOps>,
    _admin: AdminBearer,
) -> Result<Json<ModelsBody>, ApiError> {
    let o = ops.models().await?;
    let models = o
        .models
        .into_iter()
        .map(|m| ModelBody {
            in_use: m.version == o.in_use,
            version: m.version,
            created_at: m.created_at,
            metrics: m.metrics.into(),
            usable: m.usable,
        })
        .collect();
    let labels = o
        .labels
        .into_iter()
        .map(|l| LabelBody {
            event_id: l.event_id,
            attack: l.attack,
            created_at: l.created_at,
        })
        .collect();
    Ok(Json(ModelsBody {
        in_use: o.in_use,
        models,
        labelled: o.labelled,
        labels,
    }))
}

/// `POST /admin/api/model/{version}/promote`: a stored version, or 0 (the built-in prior: a
/// roll back past every trained model).
#[utoipa::path(post, path = "/admin/api/model/{version}/promote",
    params(("version" = i64, Path, description = "A stored model version, or 0 for the built-in prior")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "In use here at once, on every instance within 30 s, until a newer model is trained or another promoted", body = PromotedBody),
        (status = 400, description = "That version was fitted on other features, or the version is not a number"),
        (status = 404, description = "No stored model with that version"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn promote_post(
    State(ops): State<AdminOps>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(version): ApiPath<i64>,
) -> Result<Json<PromotedBody>, ApiError> {
    ops.promote(&ctx, Operator::Client(&claims.client_id), version)
        .await?;
    Ok(Json(PromotedBody { version }))
}
