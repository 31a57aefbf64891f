//! What a passkey ceremony leaves between its two requests, and how a credential is kept:
//! `Ceremony` (the options for the browser, and the state the server keeps in the session),
//! `Pending<T>` (webauthn-rs's state with whom and when it was started, so a state is never
//! finished for another account or after five minutes) and the sealed credential
//! (`seal_credential`/`open_credential`: integral at rest under the master key).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use webauthn_rs::prelude::Passkey;

use crate::domain::error::Unexpected;
use crate::domain::passkeys::error::PasskeyError;
use crate::domain::seal::{Legacy, Sealer};

/// How long a started ceremony can be finished (the browser's own timeout is five minutes).
pub const CEREMONY_SECS: i64 = 300;

/// A started ceremony: `options` go to the browser (`navigator.credentials.create/get`),
/// `state` stays on the server (the session) until the answer comes back.
#[derive(Debug, Clone)]
pub struct Ceremony {
    /// The `publicKey` options, as webauthn-rs encodes them (binary fields base64url).
    pub options: serde_json::Value,
    /// The server-side state, opaque to the caller.
    pub state: String,
}

/// The kind of credential that answered, as RFC 8176 names it in `amr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Bound to one authenticator (not backup eligible): `hwk`.
    Hardware,
    /// Synced between devices (backup eligible, e.g. a password manager): `swk`.
    Synced,
}

impl KeyKind {
    /// From the credential's backup-eligible flag.
    pub fn from_backup_eligible(eligible: bool) -> Self {
        if eligible {
            Self::Synced
        } else {
            Self::Hardware
        }
    }

    /// The RFC 8176 `amr` value.
    pub fn amr(self) -> &'static str {
        match self {
            Self::Hardware => "hwk",
            Self::Synced => "swk",
        }
    }
}

/// A ceremony's state with its owner (`None`: a passwordless sign-in, nobody yet) and start.
#[derive(Serialize, Deserialize)]
pub(super) struct Pending<T> {
    /// The account the ceremony is for.
    pub user_id: Option<String>,
    /// Unix seconds.
    pub started: i64,
    /// webauthn-rs's state.
    pub state: T,
}

impl<T: Serialize + DeserializeOwned> Pending<T> {
    /// Encodes the state for the session.
    pub fn encode(&self) -> Result<String, Unexpected> {
        serde_json::to_string(self).map_err(|e| Unexpected(anyhow::anyhow!("ceremony state: {e}")))
    }

    /// Decodes a state for `user_id`, refusing one for another account or a stale one.
    pub fn decode(
        stored: &str,
        user_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<T, PasskeyError> {
        let p: Self = serde_json::from_str(stored).map_err(|_| PasskeyError::NoCeremony)?;
        let fresh = (0..=CEREMONY_SECS).contains(&(now.unix_timestamp() - p.started));
        if p.user_id.as_deref() != user_id || !fresh {
            return Err(PasskeyError::NoCeremony);
        }
        Ok(p.state)
    }
}

/// The sealing context of passkey `id`: a sealed credential opens only on its own row.
fn context(id: &str) -> String {
    format!("passkey:{id}")
}

/// Seals passkey `id`'s credential.
pub(super) fn seal_credential(
    sealer: &Sealer,
    id: &str,
    passkey: &Passkey,
) -> Result<String, Unexpected> {
    let json = serde_json::to_vec(passkey)
        .map_err(|e| Unexpected(anyhow::anyhow!("passkey credential: {e}")))?;
    sealer.seal(&context(id), &json)
}

/// Opens passkey `id`'s credential; a value that is not sealed for that row is corrupt.
pub(super) fn open_credential(
    sealer: &Sealer,
    id: &str,
    stored: &str,
) -> Result<Passkey, Unexpected> {
    let opened = sealer
        .open(&context(id), stored, Legacy::Text)
        .map_err(|e| Unexpected(anyhow::anyhow!("passkey {id}: {e}")))?;
    if !opened.current {
        return Err(Unexpected(anyhow::anyhow!("passkey {id}: not sealed")));
    }
    serde_json::from_slice(&opened.plain)
        .map_err(|e| Unexpected(anyhow::anyhow!("passkey {id}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_state_is_refused_for_another_account_or_when_stale() {
        let t = datetime!(2026-11-30 10:00 UTC);
        let p = Pending {
            user_id: Some("u1".to_owned()),
            started: t.unix_timestamp(),
            state: 7_u32,
        };
        let s = p.encode().unwrap();
        assert_eq!(Pending::<u32>::decode(&s, Some("u1"), t).unwrap(), 7);
        let late = t + time::Duration::seconds(CEREMONY_SECS + 1);
        assert!(matches!(
            Pending::<u32>::decode(&s, Some("u1"), late),
            Err(PasskeyError::NoCeremony)
        ));
        assert!(matches!(
            Pending::<u32>::decode(&s, Some("u2"), t),
            Err(PasskeyError::NoCeremony)
        ));
        assert!(matches!(
            Pending::<u32>::decode(&s, None, t),
            Err(PasskeyError::NoCeremony)
        ));
        assert!(matches!(
            Pending::<u32>::decode("{", Some("u1"), t),
            Err(PasskeyError::NoCeremony)
        ));
    }

    #[test]
    fn amr_values_follow_the_backup_flag() {
        assert_eq!(KeyKind::from_backup_eligible(false).amr(), "hwk");
        assert_eq!(KeyKind::from_backup_eligible(true).amr(), "swk");
    }
}
