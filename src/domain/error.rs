//! The domain layer's one error enum. Expected outcomes are named variants; anything else is
//! `Unexpected` and becomes a generic 5xx at the HTTP edge.

use crate::domain::tokens::rejection::TokenRejection;
use crate::storage::error::StoreError;

/// Everything a domain operation can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that can never be valid; the message is safe to show to the user.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// Wrong email or password (deliberately indistinguishable).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The email is already registered. Pages must not reveal this to the public.
    #[error("email already registered")]
    EmailTaken,
    /// Self-service registration is closed by configuration.
    #[error("registration is closed")]
    RegistrationClosed,
    /// The password-hashing pool is saturated; try again shortly.
    #[error("password hashing is saturated")]
    Busy {
        /// Seconds after which a retry is sensible.
        retry_after: u64,
    },
    /// An OAuth protocol error (RFC 6749 §5.2 and friends); the description is safe to send.
    #[error("oauth error {code:?}: {description}")]
    OAuth {
        /// The RFC error code.
        code: OAuthCode,
        /// A short, non-secret description.
        description: &'static str,
    },
    /// A bearer token was refused; the reason is recorded in a `token_rejected` event.
    #[error("invalid token: {0}")]
    InvalidToken(TokenRejection),
    /// The token is valid but lacks the scope the call needs.
    #[error("insufficient scope")]
    InsufficientScope,
    /// The sign-in needs a passed challenge first (the form shows one).
    #[error("challenge required")]
    ChallengeRequired,
    /// Too many requests from this source, for this account or for this client.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a retry can pass.
        retry_after: u64,
    },
    /// The thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// An infrastructure failure (database, pool, thread).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}

/// OAuth 2.0 error codes (RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6).
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
        }
    }
}

/// Shorthand for an OAuth error.
pub fn oauth(code: OAuthCode, description: &'static str) -> DomainError {
    DomainError::OAuth { code, description }
}
