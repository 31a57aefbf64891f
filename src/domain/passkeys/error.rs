//! The passkey area's error: what registering, removing or asserting a passkey can answer
//! besides success.

use crate::domain::error::unexpected_from;

/// Everything a passkey ceremony or change can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// Passkeys are off: the public URL (`AUTHD_ISSUER`) names an IP address, which no
    /// browser accepts as a relying-party id.
    #[error("passkeys are not available on this server")]
    Unavailable,
    /// No ceremony of this kind was started in this session, or it is older than five minutes
    /// (the state is single use: a finished or failed ceremony cannot be finished again).
    #[error("no passkey ceremony in progress")]
    NoCeremony,
    /// The authenticator's answer did not verify (wrong challenge, origin, signature, no
    /// user verification, unknown credential, a cloned authenticator's counter).
    #[error("the passkey was not accepted")]
    Rejected,
    /// This authenticator's credential is registered already.
    #[error("this passkey is registered already")]
    AlreadyRegistered,
    /// No such passkey on this account.
    #[error("no such passkey")]
    NotFound,
    /// An infrastructure failure.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

unexpected_from!(PasskeyError);
