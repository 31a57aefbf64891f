//! Adding and removing passkeys from the security page: `POST
//! /account/security/passkeys/start` and `/finish` (JSON, from `/static/passkey.js`; the page's
//! button `name="action" value="passkey_add"`), `POST /account/security/passkeys/remove` (a
//! form), and the page's passkey section (`PasskeySection`, rendered by
//! `templates/partials/security_passkeys.html`). Every change needs a recent re-authentication
//! and, on an account a second factor guards, that factor proved in the session
//! (`check_reauth`); a finished registration proves the new passkey.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use crate::app::state::AppState;
use crate::domain::account_security::reauth::ReauthProof;
use crate::domain::accounts::model::Account;
use crate::domain::error::Unexpected;
use crate::domain::notify::human_time;
use crate::http::error::{HttpError, urlencode};
use crate::http::extract::{ClientContext, CsrfForm, CsrfProtected, CurrentUser};
use crate::http::passkeys::{PasskeyApiError, check_csrf, check_reauth};

/// The page the passkey section is on (where a removal returns to).
pub const SECURITY_PAGE: &str = "/account/security";

/// The session key of a registration in progress.
const REGISTRATION: &str = "passkey_registration";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/account/security/passkeys/start", post(passkey_start_post))
        .route(
            "/account/security/passkeys/finish",
            post(passkey_finish_post),
        )
        .route(
            "/account/security/passkeys/remove",
            post(passkey_remove_post),
        )
}

/// One passkey on the page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PasskeyRow {
    /// Its id (the removal form's value).
    pub id: String,
    /// The owner's name for it.
    pub name: String,
    /// When it was added, for people.
    pub created: String,
    /// When it was added (RFC 3339, for the `datetime` attribute).
    pub created_at: String,
    /// When it was last used, for people ("never").
    pub last_used: String,
    /// Synced between devices, or bound to one.
    pub synced: bool,
}

/// The page's passkey section.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PasskeySection {
    /// Whether passkeys are on (the public URL names a domain).
    pub enabled: bool,
    /// The account's passkeys, oldest first.
    pub rows: Vec<PasskeyRow>,
}

/// Loads the passkey section of `user_id`'s security page.
pub async fn section(state: &AppState, user_id: &str) -> Result<PasskeySection, Unexpected> {
    let rows = state
        .passkeys
        .list(user_id)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id,
            name: p.name,
            created: human_time(p.created_at),
            created_at: p.created_at.format(&Rfc3339).unwrap_or_default(),
            last_used: p
                .last_used_at
                .map_or_else(|| "never".to_owned(), human_time),
            synced: p.kind == crate::domain::passkeys::state::KeyKind::Synced,
        })
        .collect();
    Ok(PasskeySection {
        enabled: state.passkeys.is_enabled(),
        rows,
    })
}

async fn account_of(state: &AppState, user: &CurrentUser) -> Result<Account, HttpError> {
    state
        .accounts
        .find_by_id(&user.user_id)
        .await?
        .ok_or_else(|| HttpError::SignInRequired {
            next: SECURITY_PAGE.to_owned(),
        })
}

/// `POST /account/security/passkeys/start`: the options for `navigator.credentials.create`.
pub async fn passkey_start_post(
    State(state): State<AppState>,
    user: Result<CurrentUser, HttpError>,
    headers: HeaderMap,
) -> Result<Json<Value>, PasskeyApiError> {
    let user = user?;
    check_csrf(&state, &user.session, &headers).await?;
    let account = account_of(&state, &user).await?;
    check_reauth(&state, &user, &account).await?;
    let ceremony = state.passkeys.start_registration(&account).await?;
    user.session.put(REGISTRATION, &ceremony.state).await?;
    Ok(Json(json!({ "publicKey": ceremony.options })))
}

/// The body of `/finish`.
#[derive(Debug, Deserialize)]
pub struct FinishBody {
    /// The owner's name for the passkey.
    #[serde(default)]
    name: String,
    /// The authenticator's answer.
    credential: RegisterPublicKeyCredential,
}

/// `POST /account/security/passkeys/finish`: verifies and stores the new passkey.
pub async fn passkey_finish_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    user: Result<CurrentUser, HttpError>,
    headers: HeaderMap,
    body: Result<Json<FinishBody>, JsonRejection>,
) -> Result<Json<Value>, PasskeyApiError> {
    let user = user?;
    check_csrf(&state, &user.session, &headers).await?;
    let account = account_of(&state, &user).await?;
    check_reauth(&state, &user, &account).await?;
    // Single use: whatever follows, this ceremony cannot be finished again.
    let pending = user.session.take(REGISTRATION).await?;
    let Json(body) = body.map_err(|_| HttpError::BadRequest("The request could not be read."))?;
    let pending = pending.ok_or(crate::domain::passkeys::error::PasskeyError::NoCeremony)?;
    // Added by a session whose sign-in passed a factor, or with the password alone (the
    // account's first factor): the owner's reset removes only the latter.
    let proven = user.session.sign_in_proved_a_factor().await?;
    let named = (body.name.as_str(), proven);
    let view = state
        .passkeys
        .finish_registration(&ctx, &account, &pending, &body.credential, named)
        .await?;
    // The new passkey answered with user verification: this session has a factor now.
    let mark = state
        .security
        .enrolled_mark(&account.id, ReauthProof::Passkey);
    user.session.mark_reauth(&mark).await?;
    Ok(Json(json!({ "id": view.id, "name": view.name })))
}

/// The removal form.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf_token: String,
    passkey_id: String,
}

impl CsrfProtected for RemoveForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// `POST /account/security/passkeys/remove`: removes one passkey, after a recent
/// re-authentication (otherwise the sign-in form first, back here after).
pub async fn passkey_remove_post(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    user: CurrentUser,
    CsrfForm { form, .. }: CsrfForm<RemoveForm>,
) -> Result<Response, HttpError> {
    let account = account_of(&state, &user).await?;
    match check_reauth(&state, &user, &account).await {
        Ok(()) => {}
        // Sign in again; with a factor to prove (whether or not the re-authentication is
        // stale too), the step-up asked for at once (the security page's step-up).
        Err(_) => {
            let proved = crate::http::pages::security::factor_check(&state, &user, &account);
            if proved.await?.is_err() {
                user.session.set_force_step_up().await?;
            }
            let to = format!("/login?reauth=1&next={}", urlencode(SECURITY_PAGE));
            return Ok(Redirect::to(&to).into_response());
        }
    }
    match state
        .passkeys
        .remove(&ctx, &account, &form.passkey_id)
        .await
    {
        Ok(()) | Err(crate::domain::passkeys::error::PasskeyError::NotFound) => {}
        Err(e) => return Err(HttpError::Unexpected(Unexpected(e.into()))),
    }
    Ok(Redirect::to(SECURITY_PAGE).into_response())
}
