//! `GET /admin/model` (the stored model versions with their metrics, the one in use, the
//! labelled events), `POST /admin/model/train` (train now, as `authd model train`; the report
//! is the answer page) and `POST /admin/model/{version}/promote` (put a stored version in use:
//! roll back or forward). Each POST is CSRF-checked and recorded as `admin_action`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::operator::Operator;
use crate::http::error::HttpError;
use crate::http::extract::CsrfForm;
use crate::http::pages::admin::AdminSession;
use crate::http::pages::admin::clients::{ActForm, ops_error};
use crate::http::pages::admin::keys::unix_text;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/model", get(model_get))
        .route("/admin/model/train", post(train_post))
        .route("/admin/model/{version}/promote", post(promote_post))
}

fn figure(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}"))
        .unwrap_or_else(|| "–".to_owned())
}

/// A model row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelRow {
    version: i64,
    trained: String,
    examples: usize,
    roc_auc: String,
    log_loss: String,
    in_use: bool,
    usable: bool,
}

/// A label row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LabelRow {
    event_id: String,
    label: &'static str,
    when: String,
}

/// The model page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/admin/model.html")]
pub struct ModelPage {
    csrf_token: String,
    in_use: i64,
    models: Vec<ModelRow>,
    labelled: i64,
    labels: Vec<LabelRow>,
    promoted: Option<i64>,
}

crate::page!(
    ModelPage,
    "pages/admin/model.html",
    [csrf_token, in_use, models, labelled, labels, promoted]
);

/// A training run's answer.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/admin/model_trained.html")]
pub struct TrainedPage {
    version: i64,
    promoted: bool,
    message: String,
    examples: usize,
    attacks: usize,
    labelled: usize,
    roc_auc: String,
    log_loss: String,
}

crate::page!(
    TrainedPage,
    "pages/admin/model_trained.html",
    [
        version, promoted, message, examples, attacks, labelled, roc_auc, log_loss
    ]
);

/// The page's query (`promoted=<version>` after a promotion).
#[derive(Deserialize)]
pub struct ModelQuery {
    promoted: Option<i64>,
}

/// `GET /admin/model`.
pub async fn model_get(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(q): Query<ModelQuery>,
) -> Result<Response, HttpError> {
    let o = state.admin_ops.models().await.map_err(ops_error)?;
    let models = o
        .models
        .iter()
        .map(|m| ModelRow {
            version: m.version,
            trained: unix_text(m.created_at),
            examples: m.metrics.trained_on,
            roc_auc: figure(m.metrics.roc_auc),
            log_loss: figure(m.metrics.log_loss),
            in_use: m.version == o.in_use,
            usable: m.usable,
        })
        .collect();
    let labels = o
        .labels
        .iter()
        .map(|l| LabelRow {
            event_id: l.event_id.clone(),
            label: if l.attack { "attack" } else { "legitimate" },
            when: unix_text(l.created_at),
        })
        .collect();
    let page = ModelPage {
        csrf_token: admin.session.csrf_token(&state).await?,
        in_use: o.in_use,
        models,
        labelled: o.labelled,
        labels,
        promoted: q.promoted,
    };
    Ok(page.into_response())
}

/// `POST /admin/model/train`: the run's report (training reads at most the event log's
/// window and runs off the async threads; a long run is bounded by the request timeout).
pub async fn train_post(
    State(state): State<AppState>,
    admin: AdminSession,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    let r = state
        .admin_ops
        .train(&admin.ctx, Operator::Admin(&admin.admin.id))
        .await
        .map_err(ops_error)?;
    let page = TrainedPage {
        version: r.version,
        promoted: r.promoted,
        message: r.message,
        examples: r.examples,
        attacks: r.attacks,
        labelled: r.labelled,
        roc_auc: figure(r.metrics.roc_auc),
        log_loss: figure(r.metrics.log_loss),
    };
    Ok(page.into_response())
}

/// `POST /admin/model/{version}/promote`: back to the page.
pub async fn promote_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(version): Path<i64>,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    state
        .admin_ops
        .promote(&admin.ctx, Operator::Admin(&admin.admin.id), version)
        .await
        .map_err(ops_error)?;
    Ok(Redirect::to(&format!("/admin/model?promoted={version}")).into_response())
}
