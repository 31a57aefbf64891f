//! `GET /admin/clients` (the registered clients and the create form), `POST /admin/clients`
//! (register one with `authd client add`'s options; a confidential client's secret is shown
//! once, on the answer page, never stored in the clear nor logged),
//! `POST /admin/clients/{id}/rotate-secret` (a new secret, shown once),
//! `POST /admin/clients/{id}/disable` and `…/delete` (the client id typed again to confirm) and
//! `POST /admin/clients/{id}/enable`. Each POST is CSRF-checked and one `AdminOps` call,
//! recorded as `admin_action` by the admin.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::admin_ops::OpsError;
use crate::domain::clients::{Client, NewClient};
use crate::domain::error::Unexpected;
use crate::domain::operator::Operator;
use crate::http::error::HttpError;
use crate::http::extract::{CsrfForm, CsrfProtected};
use crate::http::pages::admin::AdminSession;
use crate::http::pages::admin::keys::unix_text;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(clients_get).post(create_post))
        .route("/admin/clients/{id}/rotate-secret", post(rotate_post))
        .route("/admin/clients/{id}/delete", post(delete_post))
        .route("/admin/clients/{id}/disable", post(disable_post))
        .route("/admin/clients/{id}/enable", post(enable_post))
}

/// An operator act's refusal as a page.
pub(crate) fn ops_error(e: OpsError) -> HttpError {
    match e {
        OpsError::NotFound(_) => HttpError::NotFound,
        OpsError::Invalid(m) => HttpError::BadRequest(m),
        OpsError::Unexpected(e) => HttpError::Unexpected(Unexpected(e)),
    }
}

/// A client row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClientRow {
    id: String,
    name: String,
    kind: &'static str,
    grants: String,
    scopes: String,
    redirect_uris: Vec<String>,
    created: String,
    /// Since when it is disabled (UTC), if it is.
    disabled: Option<String>,
}

impl From<&Client> for ClientRow {
    fn from(c: &Client) -> Self {
        let join = |s: &std::collections::BTreeSet<String>| {
            s.iter().cloned().collect::<Vec<_>>().join(" ")
        };
        Self {
            id: c.id.clone(),
            name: c.profile.name.clone().unwrap_or_default(),
            kind: if c.is_public {
                "public"
            } else {
                "confidential"
            },
            grants: join(&c.grants),
            scopes: join(&c.scopes),
            redirect_uris: c.redirect_uris.clone(),
            created: unix_text(c.created_at),
            disabled: c.disabled_at.map(unix_text),
        }
    }
}

/// The clients page.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/admin/clients.html")]
pub struct ClientsPage {
    csrf_token: String,
    clients: Vec<ClientRow>,
    deleted: Option<String>,
    disabled: Option<String>,
    enabled: Option<String>,
}

crate::page!(
    ClientsPage,
    "pages/admin/clients.html",
    [csrf_token, clients, deleted, disabled, enabled]
);

/// The page showing a new secret once.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/admin/client_secret.html")]
pub struct SecretPage {
    client_id: String,
    created: bool,
    secret: Option<String>,
}

crate::page!(
    SecretPage,
    "pages/admin/client_secret.html",
    [client_id, created, secret]
);

/// The clients page's query (`deleted=<id>`, `disabled=<id>`, `enabled=<id>` after an act).
#[derive(Deserialize)]
pub struct ClientsQuery {
    deleted: Option<String>,
    disabled: Option<String>,
    enabled: Option<String>,
}

/// `GET /admin/clients`.
pub async fn clients_get(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(q): Query<ClientsQuery>,
) -> Result<Response, HttpError> {
    let clients = state.admin_ops.clients().await.map_err(ops_error)?;
    // Nothing of the query is shown as the console's own words: a notice names a client that
    // is (disabled, enabled) or is no longer (deleted) listed, by an id without spaces.
    let listed = |id: &String| clients.iter().any(|c| &c.id == id);
    let an_id =
        |id: &String| !id.is_empty() && id.len() <= 128 && !id.contains(char::is_whitespace);
    let page = ClientsPage {
        csrf_token: admin.session.csrf_token(&state).await?,
        clients: clients.iter().map(ClientRow::from).collect(),
        deleted: q.deleted.filter(|id| an_id(id) && !listed(id)),
        disabled: q.disabled.filter(|id| listed(id)),
        enabled: q.enabled.filter(|id| listed(id)),
    };
    Ok(page.into_response())
}

/// The create form: `authd client add`'s options (lists one per line or space-separated).
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    public: Option<String>,
    first_party: Option<String>,
    no_pkce: Option<String>,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    grants: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    logo_uri: String,
    #[serde(default)]
    client_uri: String,
    #[serde(default)]
    policy_uri: String,
    #[serde(default)]
    tos_uri: String,
}

impl CsrfProtected for CreateForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn text(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

impl From<CreateForm> for NewClient {
    fn from(f: CreateForm) -> Self {
        Self {
            id: f.client_id.trim().to_owned(),
            redirect_uris: words(&f.redirect_uris),
            post_logout_redirect_uris: words(&f.post_logout_redirect_uris),
            is_public: f.public.is_some(),
            is_first_party: f.first_party.is_some(),
            pkce_optional: f.no_pkce.is_some(),
            scopes: words(&f.scopes),
            grants: words(&f.grants),
            name: text(&f.name),
            logo_uri: text(&f.logo_uri),
            client_uri: text(&f.client_uri),
            policy_uri: text(&f.policy_uri),
            tos_uri: text(&f.tos_uri),
        }
    }
}

/// `POST /admin/clients`: the new client's id and (confidential) its secret, shown once.
pub async fn create_post(
    State(state): State<AppState>,
    admin: AdminSession,
    CsrfForm { form, .. }: CsrfForm<CreateForm>,
) -> Result<Response, HttpError> {
    let by = Operator::Admin(&admin.admin.id);
    let (client, secret) = state
        .admin_ops
        .client_add(&admin.ctx, by, form.into())
        .await
        .map_err(ops_error)?;
    let page = SecretPage {
        client_id: client.id,
        created: true,
        secret,
    };
    Ok(page.into_response())
}

/// A form with only the CSRF token, and a confirmation where asked for.
#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    confirm: String,
}

impl CsrfProtected for ActForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /admin/clients/{id}/rotate-secret`: the new secret, shown once.
pub async fn rotate_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    let by = Operator::Admin(&admin.admin.id);
    let secret = state
        .admin_ops
        .client_rotate_secret(&admin.ctx, by, &id)
        .await
        .map_err(ops_error)?;
    let page = SecretPage {
        client_id: id,
        created: false,
        secret: Some(secret),
    };
    Ok(page.into_response())
}

/// Back to the list, saying what was done to client `id`.
fn back_to_list(done: &str, id: &str) -> Response {
    let to = format!(
        "/admin/clients?{done}={}",
        crate::http::error::urlencode(id)
    );
    Redirect::to(&to).into_response()
}

/// `POST /admin/clients/{id}/disable`: only when `confirm` repeats the id; back to the list.
pub async fn disable_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { form, .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    if form.confirm.trim() != id {
        return Err(HttpError::BadRequest(
            "Type the client id to confirm disabling it.",
        ));
    }
    let by = Operator::Admin(&admin.admin.id);
    state
        .admin_ops
        .client_disable(&admin.ctx, by, &id)
        .await
        .map_err(ops_error)?;
    Ok(back_to_list("disabled", &id))
}

/// `POST /admin/clients/{id}/enable`: back to the list.
pub async fn enable_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    let by = Operator::Admin(&admin.admin.id);
    state
        .admin_ops
        .client_enable(&admin.ctx, by, &id)
        .await
        .map_err(ops_error)?;
    Ok(back_to_list("enabled", &id))
}

/// `POST /admin/clients/{id}/delete`: only when `confirm` repeats the id; back to the list.
pub async fn delete_post(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm { form, .. }: CsrfForm<ActForm>,
) -> Result<Response, HttpError> {
    if form.confirm.trim() != id {
        return Err(HttpError::BadRequest(
            "Type the client id to confirm the deletion.",
        ));
    }
    let by = Operator::Admin(&admin.admin.id);
    state
        .admin_ops
        .client_delete(&admin.ctx, by, &id)
        .await
        .map_err(ops_error)?;
    Ok(back_to_list("deleted", &id))
}
