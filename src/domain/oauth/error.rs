//! The OAuth area's errors, one per kind of caller:
//!
//! - `OAuthError`: the protocol endpoints (token, introspection, revocation): an RFC 6749 error
//!   code, or too many token requests;
//! - `BearerError`: a protected resource's bearer check (userinfo, the admin and risk APIs):
//!   the token is refused, or lacks the scope;
//! - `ClientError`: registering and managing a client (`authd client …`).
//!
//! The authorization endpoint's own refusals are values (`AuthorizeFailure`,
//! `EndSessionRefusal`), and its calls otherwise fail only `Unexpected`.

use crate::domain::error::unexpected_from;
use crate::domain::tokens::rejection::TokenRejection;

/// OAuth 2.0 error codes (RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6 and §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // the names are the RFC's
pub enum OAuthCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
}

impl OAuthCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

/// Everything a protocol endpoint (token, introspection, revocation) can answer besides
/// success.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// An OAuth protocol error (RFC 6749 §5.2 and friends); the description is safe to send.
    #[error("oauth error {code:?}: {description}")]
    Protocol {
        /// The RFC error code.
        code: OAuthCode,
        /// A short, non-secret description.
        description: &'static str,
    },
    /// Too many token requests for this client.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a retry can pass.
        retry_after: u64,
    },
    /// An infrastructure failure (database, signing).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(OAuthError);

impl OAuthError {
    /// A protocol error with `code` and a safe `description`.
    pub fn protocol(code: OAuthCode, description: &'static str) -> Self {
        Self::Protocol { code, description }
    }
}

/// Everything a bearer check of a protected resource can answer besides the claims.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// The bearer token was refused; the reason is recorded in a `token_rejected` event.
    #[error("invalid token: {0}")]
    InvalidToken(TokenRejection),
    /// The token is valid but lacks the scope (or is not of the kind of client) the call needs.
    #[error("insufficient scope")]
    InsufficientScope,
    /// The risk API's caller is not a confidential client asking, with its own
    /// client-credentials token, about a token issued to it.
    #[error("not the token's audience")]
    NotTheAudience,
    /// An infrastructure failure (database, key ring).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(BearerError);

/// Why a client could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The client's id, URIs, grants or scopes are not acceptable; the message says which.
    #[error("{0}")]
    Invalid(&'static str),
    /// No client has that id (`authd client update|rotate-secret|delete`).
    #[error("no client with that id")]
    NotFound,
    /// An infrastructure failure (database).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(ClientError);
