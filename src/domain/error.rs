//! The domain layer's one error enum. Expected outcomes are named variants; anything else is
//! `Unexpected` and becomes a generic 5xx at the HTTP edge.

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
