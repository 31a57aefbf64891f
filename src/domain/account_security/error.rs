//! The account security page's error: what its changes can answer besides success.

use crate::domain::accounts::error::AccountError;
use crate::domain::accounts::password::HashError;
use crate::domain::error::unexpected_from;

/// Everything a change on the account security page can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// The change needs a re-authentication within the last five minutes.
    #[error("re-authentication required")]
    ReauthRequired,
    /// The change is to the account's sign-in methods, which its second factor guards, and
    /// this session has proved no factor (`reauth.rs`): the step-up first.
    #[error("a second factor is required")]
    FactorRequired,
    /// The password given to re-authenticate (or as the current one) is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// The session gave the wrong password too often here and was ended
    /// (`SecurityService::reauth_given_up`): the caller deletes the browser session too.
    #[error("session ended after repeated wrong passwords")]
    SessionEnded,
    /// Input that can never be valid; the message is safe to show.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The session or grant named is not (or no longer) the user's.
    #[error("no such session")]
    UnknownSession,
    /// Too many password attempts on the account.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a retry can pass.
        retry_after: u64,
    },
    /// The password-hashing pool is saturated.
    #[error("password hashing is saturated")]
    Busy {
        /// Seconds after which a retry is sensible.
        retry_after: u64,
    },
    /// An infrastructure failure.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(SecurityError);

impl From<HashError> for SecurityError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy { retry_after } => Self::Busy { retry_after },
            HashError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<AccountError> for SecurityError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::InvalidInput(msg) => Self::InvalidInput(msg),
            AccountError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            AccountError::Busy { retry_after } => Self::Busy { retry_after },
            AccountError::EmailTaken | AccountError::RegistrationClosed => {
                Self::InvalidInput("That change could not be made.")
            }
            AccountError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}
