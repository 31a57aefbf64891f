//! The admin API's client acts, the console's `/admin/clients` as JSON: `GET` and `POST
//! /admin/api/clients`, `POST /admin/api/clients/{id}/rotate-secret|disable|enable`, `DELETE
//! /admin/api/clients/{id}`. Each is the `AdminOps` call the console makes (the CLI's),
//! recorded as `admin_action` with the calling client as actor. A secret is in the answer
//! once and nowhere else.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::domain::admin_ops::AdminOps;
use crate::domain::clients::{Client, NewClient};
use crate::domain::operator::Operator;
use crate::http::admin::AdminBearer;
use crate::http::api_error::{ApiError, ApiJson, ApiPath};
use crate::http::extract::ClientContext;

/// A registered client (never its secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientBody {
    /// The client_id.
    client_id: String,
    /// The application's name.
    name: Option<String>,
    /// A public client (no secret; PKCE required).
    public: bool,
    /// Skips the consent page.
    first_party: bool,
    /// Whether PKCE is required of it.
    pkce_required: bool,
    /// Allowed grants.
    grants: Vec<String>,
    /// Allowed scopes.
    scopes: Vec<String>,
    /// Redirect URIs (exact match).
    redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    post_logout_redirect_uris: Vec<String>,
    /// Registered at (unix seconds).
    created_at: i64,
    /// Disabled by an operator: refused at `/token` and `/authorize`, its tokens refused.
    disabled: bool,
    /// Since when (unix seconds).
    disabled_at: Option<i64>,
}

impl From<&Client> for ClientBody {
    fn from(c: &Client) -> Self {
        Self {
            client_id: c.id.clone(),
            name: c.profile.name.clone(),
            public: c.is_public,
            first_party: c.is_first_party,
            pkce_required: c.pkce_required(),
            grants: c.grants.iter().cloned().collect(),
            scopes: c.scopes.iter().cloned().collect(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            created_at: c.created_at,
            disabled: c.is_disabled(),
            disabled_at: c.disabled_at,
        }
    }
}

/// The registered clients.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientList {
    /// By client_id.
    clients: Vec<ClientBody>,
}

/// A client to register: `authd client add`'s options.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewClientRequest {
    /// The client_id.
    client_id: String,
    /// Redirect URIs (exact match).
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// Post-logout redirect URIs (exact match).
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE required).
    #[serde(default)]
    public: bool,
    /// Skip the consent page.
    #[serde(default)]
    first_party: bool,
    /// A confidential client that may leave PKCE out.
    #[serde(default)]
    no_pkce: bool,
    /// Allowed scopes (default: openid profile email).
    #[serde(default)]
    scopes: Vec<String>,
    /// Allowed grants (default: authorization_code).
    #[serde(default)]
    grants: Vec<String>,
    /// The application's name.
    name: Option<String>,
    /// An https address of its logo.
    logo_uri: Option<String>,
    /// An https address of its home page.
    client_uri: Option<String>,
    /// An https address of its privacy policy.
    policy_uri: Option<String>,
    /// An https address of its terms of service.
    tos_uri: Option<String>,
}

impl From<NewClientRequest> for NewClient {
    fn from(r: NewClientRequest) -> Self {
        Self {
            id: r.client_id,
            redirect_uris: r.redirect_uris,
            post_logout_redirect_uris: r.post_logout_redirect_uris,
            is_public: r.public,
            is_first_party: r.first_party,
            pkce_optional: r.no_pkce,
            scopes: r.scopes,
            grants: r.grants,
            name: r.name,
            logo_uri: r.logo_uri,
            client_uri: r.client_uri,
            policy_uri: r.policy_uri,
            tos_uri: r.tos_uri,
        }
    }
}

/// A client's id and, once, its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientSecretBody {
    /// The client_id.
    client_id: String,
    /// The secret, shown only in this answer (absent for a public client).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

/// A deleted client.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedBody {
    /// The client_id.
    client_id: String,
    /// Always `true`.
    deleted: bool,
    /// Grants revoked with it.
    grants_revoked: u64,
}

/// A client disabled or enabled.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisabledBody {
    /// The client_id.
    client_id: String,
    /// Whether it is disabled now.
    disabled: bool,
    /// Whether this call changed it (`false`: it already was).
    changed: bool,
    /// Grants revoked by disabling it (absent on enable).
    #[serde(skip_serializing_if = "Option::is_none")]
    grants_revoked: Option<u64>,
}

/// `GET /admin/api/clients`.
#[utoipa::path(get, path = "/admin/api/clients", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every registered client, by id", body = ClientList),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn clients_get(
    State(ops): State<AdminOps>,
    _admin: AdminBearer,
) -> Result<Json<ClientList>, ApiError> {
    let clients = ops.clients().await?;
    Ok(Json(ClientList {
        clients: clients.iter().map(ClientBody::from).collect(),
    }))
}

/// `POST /admin/api/clients`.
#[utoipa::path(post, path = "/admin/api/clients", request_body = NewClientRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Registered; a confidential client's secret is in this answer only", body = ClientSecretBody),
        (status = 400, description = "A malformed body, or an id, URIs, grants or scopes that are not acceptable"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn clients_post(
    State(ops): State<AdminOps>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiJson(req): ApiJson<NewClientRequest>,
) -> Result<Json<ClientSecretBody>, ApiError> {
    let by = Operator::Client(&claims.client_id);
    let (client, client_secret) = ops.client_add(&ctx, by, req.into()).await?;
    Ok(Json(ClientSecretBody {
        client_id: client.id,
        client_secret,
    }))
}

/// `POST /admin/api/clients/{id}/rotate-secret`.
#[utoipa::path(post, path = "/admin/api/clients/{id}/rotate-secret",
    params(("id" = String, Path, description = "The client_id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "The new secret, in this answer only; the old one is refused from now on", body = ClientSecretBody),
        (status = 400, description = "A public client has no secret, or a malformed path"),
        (status = 404, description = "No such client"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn rotate_post(
    State(ops): State<AdminOps>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ClientSecretBody>, ApiError> {
    let by = Operator::Client(&claims.client_id);
    let secret = ops.client_rotate_secret(&ctx, by, &id).await?;
    Ok(Json(ClientSecretBody {
        client_id: id,
        client_secret: Some(secret),
    }))
}

/// `DELETE /admin/api/clients/{id}`.
#[utoipa::path(delete, path = "/admin/api/clients/{id}",
    params(("id" = String, Path, description = "The client_id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted; its grants revoked, its tokens refused", body = DeletedBody),
        (status = 400, description = "A malformed path"),
        (status = 404, description = "No such client"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn client_delete(
    State(ops): State<AdminOps>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeletedBody>, ApiError> {
    let by = Operator::Client(&claims.client_id);
    let grants_revoked = ops.client_delete(&ctx, by, &id).await?;
    Ok(Json(DeletedBody {
        client_id: id,
        deleted: true,
        grants_revoked,
    }))
}

/// `POST /admin/api/clients/{id}/disable`.
#[utoipa::path(post, path = "/admin/api/clients/{id}/disable",
    params(("id" = String, Path, description = "The client_id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "Disabled: refused at /token (invalid_client) and /authorize; its grants revoked, its unused codes spent, every access token issued to it until now refused (also after it is enabled again)", body = DisabledBody),
        (status = 400, description = "A malformed path"),
        (status = 404, description = "No such client"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn disable_post(
    State(ops): State<AdminOps>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DisabledBody>, ApiError> {
    let by = Operator::Client(&claims.client_id);
    let done = ops.client_disable(&ctx, by, &id).await?;
    Ok(Json(DisabledBody {
        client_id: id,
        disabled: true,
        changed: done.changed,
        grants_revoked: Some(done.grants_revoked),
    }))
}

/// `POST /admin/api/clients/{id}/enable`.
#[utoipa::path(post, path = "/admin/api/clients/{id}/enable",
    params(("id" = String, Path, description = "The client_id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "Enabled: it may ask for tokens again; what disabling it revoked stays revoked", body = DisabledBody),
        (status = 400, description = "A malformed path"),
        (status = 404, description = "No such client"),
        (status = 401, description = "No valid bearer token"),
        (status = 403, description = "The token lacks the admin scope"),
    )
)]
pub async fn enable_post(
    State(ops): State<AdminOps>,
    AdminBearer(claims): AdminBearer,
    ClientContext(ctx): ClientContext,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DisabledBody>, ApiError> {
    let by = Operator::Client(&claims.client_id);
    let changed = ops.client_enable(&ctx, by, &id).await?;
    Ok(Json(DisabledBody {
        client_id: id,
        disabled: false,
        changed,
        grants_revoked: None,
    }))
}
