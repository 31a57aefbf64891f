//! Passkeys (WebAuthn, through webauthn-rs): the relying party from the public URL, the
//! registration ceremony, the list and removal (here), the assertions — passwordless and as a
//! step-up factor (`assertion.rs`) — and what ceremonies keep between requests (`state.rs`).
//! Never sees HTTP: the caller carries the `Ceremony` state in the session.
//!
//! Every registration asks for user verification and a discoverable credential, so one passkey
//! is both a second factor and a passwordless sign-in.

use std::sync::Arc;

use time::OffsetDateTime;
use webauthn_rs::prelude::{Passkey, PasskeyRegistration, RegisterPublicKeyCredential};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::domain::accounts::model::Account;
use crate::domain::clock::Clock;
use crate::domain::context::RequestContext;
use crate::domain::error::Unexpected;
use crate::domain::notify::{Notice, Outbox, when_for_people};
use crate::domain::passkeys::error::PasskeyError;
use crate::domain::passkeys::state::{
    Ceremony, KeyKind, Pending, open_credential, seal_credential,
};
use crate::domain::seal::Sealer;
use crate::events::decision::Decision;
use crate::events::{AuthEvent, EventKind};
use crate::storage::error::StoreError;
use crate::storage::passkeys::{PasskeyRecord, PasskeyStore, Recorded};

/// Passwordless sign-in and the step-up assertion.
pub mod assertion;
/// `PasskeyError`.
pub mod error;
/// Ceremony state, key kinds, the sealed credential.
pub mod state;

/// Longest passkey name kept.
pub const MAX_NAME: usize = 64;

/// A passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    /// Our id.
    pub id: String,
    /// The owner's name for it.
    pub name: String,
    /// When it was added.
    pub created_at: OffsetDateTime,
    /// When it was last used, if ever.
    pub last_used_at: Option<OffsetDateTime>,
    /// Hardware-bound or synced.
    pub kind: KeyKind,
    /// Added by a session whose sign-in had passed a second factor (else the owner's reset
    /// removes it).
    pub proven: bool,
}

/// The passkey service. Cheap to clone.
#[derive(Clone)]
pub struct PasskeyService {
    /// `None` when the public URL's host is not a domain (no browser accepts an IP address
    /// as relying-party id): passkeys are then off.
    webauthn: Option<Arc<Webauthn>>,
    store: Arc<dyn PasskeyStore>,
    sealer: Sealer,
    clock: Arc<dyn Clock>,
    outbox: Arc<dyn Outbox>,
}

impl std::fmt::Debug for PasskeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasskeyService")
    }
}

/// What the service is built from.
#[derive(Clone)]
pub struct PasskeyDeps {
    /// Passkeys.
    pub store: Arc<dyn PasskeyStore>,
    /// Seals the credentials.
    pub sealer: Sealer,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The owner's "sign-in method added/removed" mail.
    pub outbox: Arc<dyn Outbox>,
}

/// The relying party of the public URL `origin`: its host is the RP id, the origin the only
/// one accepted. `None` when the host is an IP address (or the builder refuses it).
pub fn relying_party(origin: &url::Url, product: &str) -> Option<Webauthn> {
    let host = origin.domain()?;
    WebauthnBuilder::new(host, origin)
        .ok()?
        .rp_name(product)
        .build()
        .ok()
}

/// The owner's name for a passkey: control characters dropped, trimmed, bounded; a blank one
/// becomes "Passkey".
pub fn clean_name(typed: &str) -> String {
    let name: String = typed
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_NAME)
        .collect();
    if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name
    }
}

impl PasskeyService {
    /// Builds the service; `webauthn` from `relying_party`.
    pub fn new(webauthn: Option<Webauthn>, deps: PasskeyDeps) -> Self {
        Self {
            webauthn: webauthn.map(Arc::new),
            store: deps.store,
            sealer: deps.sealer,
            clock: deps.clock,
            outbox: deps.outbox,
        }
    }

    /// Whether passkeys are on (the public URL names a domain).
    pub fn is_enabled(&self) -> bool {
        self.webauthn.is_some()
    }

    fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn.as_deref().ok_or(PasskeyError::Unavailable)
    }

    /// The account's passkeys, oldest first.
    pub async fn list(&self, account_id: &str) -> Result<Vec<PasskeyView>, Unexpected> {
        let rows = self.store.list_passkeys(account_id).await?;
        rows.into_iter().map(|r| self.view(&r)).collect()
    }

    /// Whether the account can answer a step-up with a passkey: passkeys are on and it has
    /// at least one.
    pub async fn has_passkeys(&self, account_id: &str) -> Result<bool, Unexpected> {
        if !self.is_enabled() {
            return Ok(false);
        }
        Ok(!self.store.list_passkeys(account_id).await?.is_empty())
    }

    /// Removes every passkey of the account (`LoginService::mfa_reset`, which records it);
    /// whether it had any.
    pub async fn remove_all(&self, account_id: &str) -> Result<bool, Unexpected> {
        Ok(self.store.delete_all_passkeys(account_id).await? > 0)
    }

    fn view(&self, r: &PasskeyRecord) -> Result<PasskeyView, Unexpected> {
        let passkey = open_credential(&self.sealer, &r.id, &r.credential)?;
        let at = |s: i64| OffsetDateTime::from_unix_timestamp(s).ok();
        Ok(PasskeyView {
            id: r.id.clone(),
            name: r.name.clone(),
            created_at: at(r.created_at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            last_used_at: r.last_used_at.and_then(at),
            kind: kind_of(&passkey),
            proven: r.proven,
        })
    }

    /// Starts registering a passkey for `account`: user verification required, a discoverable
    /// credential asked for (so it also signs in without a password), the account's passkeys
    /// excluded (an authenticator is not registered twice).
    pub async fn start_registration(&self, account: &Account) -> Result<Ceremony, PasskeyError> {
        let webauthn = self.webauthn()?;
        let user = uuid::Uuid::parse_str(&account.id)
            .map_err(|e| PasskeyError::Unexpected(anyhow::anyhow!("account id: {e}")))?;
        let mut exclude = Vec::new();
        for r in self.store.list_passkeys(&account.id).await? {
            exclude.push(
                open_credential(&self.sealer, &r.id, &r.credential)?
                    .cred_id()
                    .clone(),
            );
        }
        let (ccr, state) = webauthn
            .start_passkey_registration(user, &account.email, &account.email, Some(exclude))
            .map_err(|e| PasskeyError::Unexpected(anyhow::anyhow!("webauthn: {e}")))?;
        let mut options = serde_json::to_value(&ccr.public_key)
            .map_err(|e| PasskeyError::Unexpected(anyhow::anyhow!("options: {e}")))?;
        // webauthn-rs leaves the resident key to the authenticator; a passkey must be
        // discoverable to sign in without a username, so ask for it outright.
        if let Some(sel) = options
            .get_mut("authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            sel.insert("residentKey".into(), "required".into());
            sel.insert("requireResidentKey".into(), true.into());
        }
        let pending = Pending::<PasskeyRegistration> {
            user_id: Some(account.id.clone()),
            started: self.clock.now().unix_timestamp(),
            state,
        };
        Ok(Ceremony {
            options,
            state: pending.encode()?,
        })
    }

    /// Finishes a registration started by `start_registration` for the same account: verifies
    /// the authenticator's answer and stores the passkey with `mfa_enrolled` and the owner's
    /// mail, in one transaction; `proven`: the session's sign-in had passed a factor (else the
    /// owner's reset removes the key).
    pub async fn finish_registration(
        &self,
        ctx: &RequestContext,
        account: &Account,
        state: &str,
        answer: &RegisterPublicKeyCredential,
        (name, proven): (&str, bool),
    ) -> Result<PasskeyView, PasskeyError> {
        let webauthn = self.webauthn()?;
        let now = self.clock.now();
        let state: PasskeyRegistration = Pending::decode(state, Some(account.id.as_str()), now)?;
        let passkey = webauthn
            .finish_passkey_registration(answer, &state)
            .map_err(|_| PasskeyError::Rejected)?;
        let id = uuid::Uuid::new_v4().to_string();
        let record = PasskeyRecord {
            credential_id: credential_key(passkey.cred_id()),
            credential: seal_credential(&self.sealer, &id, &passkey)?,
            id,
            account_id: account.id.clone(),
            name: clean_name(name),
            created_at: now.unix_timestamp(),
            last_used_at: None,
            proven,
        };
        let event = factor_event(EventKind::MfaEnrolled, ctx, now, &account.id);
        let notice = Notice::SignInMethodAdded {
            method: format!("passkey \u{201c}{}\u{201d}", record.name),
            when: when_for_people(now, now),
        };
        let mail = self.outbox.prepare(&account.email, notice).await?;
        let recorded = Recorded {
            event: &event,
            mail: mail.as_ref(),
        };
        match self.store.insert_passkey(&record, recorded).await {
            Err(StoreError::Conflict { .. }) => return Err(PasskeyError::AlreadyRegistered),
            other => other?,
        }
        crate::events::sink::trace(&event);
        Ok(self.view(&record)?)
    }

    /// Removes the account's passkey `id`, with `mfa_removed` and the owner's mail.
    pub async fn remove(
        &self,
        ctx: &RequestContext,
        account: &Account,
        id: &str,
    ) -> Result<(), PasskeyError> {
        let now = self.clock.now();
        let rows = self.store.list_passkeys(&account.id).await?;
        let Some(row) = rows.iter().find(|r| r.id == id) else {
            return Err(PasskeyError::NotFound);
        };
        let event = factor_event(EventKind::MfaRemoved, ctx, now, &account.id);
        let notice = Notice::SignInMethodRemoved {
            method: format!("passkey \u{201c}{}\u{201d}", row.name),
            when: when_for_people(now, now),
        };
        let mail = self.outbox.prepare(&account.email, notice).await?;
        let recorded = Recorded {
            event: &event,
            mail: mail.as_ref(),
        };
        if !self.store.delete_passkey(&account.id, id, recorded).await? {
            return Err(PasskeyError::NotFound);
        }
        crate::events::sink::trace(&event);
        Ok(())
    }
}

/// A credential id as stored and looked up: base64url without padding.
pub(crate) fn credential_key(id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// Hardware-bound or synced, from the credential's flags (through its serialised form: the
/// flags are not public on `Passkey`).
fn kind_of(passkey: &Passkey) -> KeyKind {
    let eligible = serde_json::to_value(passkey)
        .ok()
        .and_then(|v| v.get("cred")?.get("backup_eligible")?.as_bool())
        .unwrap_or(false);
    KeyKind::from_backup_eligible(eligible)
}

/// `mfa_enrolled` / `mfa_removed` of the passkey factor.
fn factor_event(
    kind: EventKind,
    ctx: &RequestContext,
    now: OffsetDateTime,
    user_id: &str,
) -> AuthEvent {
    AuthEvent::new(kind, ctx, now)
        .user(user_id)
        .decision(Decision::Passkey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_bounded() {
        assert_eq!(clean_name("  Laptop\n key "), "Laptop key");
        assert_eq!(clean_name(" \t "), "Passkey");
        assert_eq!(clean_name(&"x".repeat(200)).chars().count(), MAX_NAME);
    }

    #[test]
    fn the_relying_party_is_the_public_urls_domain() {
        let ip: url::Url = "http://127.0.0.1:8080".parse().unwrap();
        assert!(relying_party(&ip, "authd").is_none(), "no RP id is an IP");
        let local: url::Url = "http://localhost:8080".parse().unwrap();
        assert!(relying_party(&local, "authd").is_some());
        let public: url::Url = "https://id.example.com/".parse().unwrap();
        assert!(relying_party(&public, "authd").is_some());
    }
}
