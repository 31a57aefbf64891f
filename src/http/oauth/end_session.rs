//! `GET|POST /end_session` (OIDC RP-Initiated Logout 1.0). With a valid `id_token_hint` for
//! the signed-in user the session ends at once; without one the user is asked (a plain link
//! must not be able to sign people out). A `POST` is sent on to the `GET` with its form as the
//! query.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::app::state::AppState;
use crate::events::EventKind;
use crate::events::decision::Decision;
use crate::http::error::{ErrorPage, HttpError};
use crate::http::extract::{ClientContext, WebSession};

/// The logout request's query (or form).
#[derive(Debug, Deserialize, Serialize)]
pub struct EndSessionQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_logout_redirect_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}

/// `POST /end_session` (RP-Initiated Logout 1.0 §2: the OP supports GET and POST): `303` to
/// `GET /end_session` with the form's parameters as its query, so one handler answers both,
/// and the browser comes back with its `SameSite=Lax` session cookie, which a cross-site POST
/// does not carry. A body that is not such a form is refused (4xx), as a malformed query is.
pub async fn end_session_post(Form(q): Form<EndSessionQuery>) -> Result<Response, HttpError> {
    let query = serde_urlencoded::to_string(&q)
        .map_err(|_| HttpError::BadRequest("The sign-out request is malformed."))?;
    let path = crate::http::oauth::paths::END_SESSION;
    Ok(Redirect::to(&format!("{path}?{query}")).into_response())
}

/// The page shown after (or instead of) signing out.
#[derive(Template, serde::Serialize)]
#[template(path = "pages/signed_out.html")]
pub struct SignedOutPage {
    pub(crate) signed_in: bool,
    pub(crate) csrf_token: String,
    /// An application asked for the sign-out (`/end_session`), rather than the user
    /// (`GET /logout`).
    pub(crate) app_asked: bool,
}
crate::page!(
    SignedOutPage,
    "pages/signed_out.html",
    [signed_in, csrf_token, app_asked]
);

/// `GET /end_session`.
pub async fn end_session_get(
    State(state): State<AppState>,
    ClientContext(ctx): ClientContext,
    Query(q): Query<EndSessionQuery>,
    session: WebSession,
) -> Result<Response, HttpError> {
    let outcome = state
        .oauth
        .end_session(
            q.id_token_hint.as_deref(),
            q.client_id.as_deref(),
            q.post_logout_redirect_uri.as_deref(),
            q.state.as_deref(),
        )
        .await?;
    let es = match outcome {
        Ok(es) => es,
        Err(refusal) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                ErrorPage::new(StatusCode::BAD_REQUEST, refusal.message()),
            )
                .into_response());
        }
    };
    let current = session.user_id().await?;
    let confirmed = es.user_id.is_some() && es.user_id == current;
    if let (true, Some(user_id)) = (confirmed, &current) {
        state
            .login
            .session_ended(&ctx, user_id, EventKind::Logout, Decision::EndSession)
            .await?;
        session.end().await?;
    }
    if let Some(to) = es.redirect.filter(|_| confirmed || current.is_none()) {
        return Ok(Redirect::to(&to).into_response());
    }
    let signed_in = current.is_some() && !confirmed;
    let csrf_token = if signed_in {
        session.csrf_token(&state).await?
    } else {
        String::new()
    };
    Ok(SignedOutPage {
        signed_in,
        csrf_token,
        app_asked: true,
    }
    .into_response())
}
