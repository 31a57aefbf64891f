//! The accounts area's error: what registering, changing a password and resetting one can
//! answer besides success. Lookups (`find_by_id`, `find_by_email`, …) can only fail
//! unexpectedly and return the shared `Unexpected` instead.

use crate::domain::accounts::password::HashError;
use crate::domain::error::unexpected_from;

/// Everything registration, a password change or a password reset can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Input that can never be valid (an email, a password, a spent reset link); the message is
    /// safe to show to the user.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The email is already registered. Pages must not reveal this to the public.
    #[error("email already registered")]
    EmailTaken,
    /// Self-service registration is closed by configuration.
    #[error("registration is closed")]
    RegistrationClosed,
    /// Too many registrations or reset requests from this network.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a retry can pass.
        retry_after: u64,
    },
    /// The password-hashing pool is saturated; try again shortly.
    #[error("password hashing is saturated")]
    Busy {
        /// Seconds after which a retry is sensible.
        retry_after: u64,
    },
    /// An infrastructure failure (database, pool, thread).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(AccountError);

impl From<HashError> for AccountError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy { retry_after } => Self::Busy { retry_after },
            HashError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}
