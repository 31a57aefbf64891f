//! Assertions: the passwordless sign-in (a discoverable credential: the authenticator says
//! whose it is) and the step-up factor (an assertion by one account's passkeys). Both require
//! user verification; both move the credential's sign count on and record the last use.
//! A counter that goes backwards (a cloned authenticator) is refused.

use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PublicKeyCredential,
};

use crate::domain::passkeys::error::PasskeyError;
use crate::domain::passkeys::state::{
    Ceremony, KeyKind, Pending, open_credential, seal_credential,
};
use crate::domain::passkeys::{PasskeyService, credential_key};
use crate::storage::passkeys::PasskeyRecord;

/// A verified assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asserted {
    /// Whose passkey answered.
    pub account_id: String,
    /// Hardware-bound or synced (the `amr`).
    pub kind: KeyKind,
    /// The key was added by a session that had passed a factor (`PasskeyRecord::proven`).
    pub proven: bool,
}

fn webauthn_failed(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Unexpected(anyhow::anyhow!("webauthn: {e}"))
}

fn options_of(
    rcr: &webauthn_rs::prelude::RequestChallengeResponse,
) -> Result<serde_json::Value, PasskeyError> {
    serde_json::to_value(&rcr.public_key)
        .map_err(|e| PasskeyError::Unexpected(anyhow::anyhow!("options: {e}")))
}

impl PasskeyService {
    /// Starts a passwordless sign-in: any discoverable credential of this relying party may
    /// answer (the browser lets the user pick one).
    pub fn start_sign_in(&self) -> Result<Ceremony, PasskeyError> {
        let (rcr, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(webauthn_failed)?;
        let pending = Pending::<DiscoverableAuthentication> {
            user_id: None,
            started: self.clock.now().unix_timestamp(),
            state,
        };
        Ok(Ceremony {
            options: options_of(&rcr)?,
            state: pending.encode()?,
        })
    }

    /// The account an answer claims to be from (its user handle), before any verification:
    /// the sign-in counts the attempt on that account, as a typed username would.
    pub fn claimed_account(&self, answer: &PublicKeyCredential) -> Option<String> {
        let webauthn = self.webauthn.as_deref()?;
        let (user, _) = webauthn.identify_discoverable_authentication(answer).ok()?;
        Some(user.to_string())
    }

    /// Finishes a passwordless sign-in started by `start_sign_in`: the credential must be
    /// registered, to the account its user handle names, and the assertion must verify.
    pub async fn finish_sign_in(
        &self,
        state: &str,
        answer: &PublicKeyCredential,
    ) -> Result<Asserted, PasskeyError> {
        let webauthn = self.webauthn()?;
        let now = self.clock.now();
        let state: DiscoverableAuthentication = Pending::decode(state, None, now)?;
        let (user, cred_id) = webauthn
            .identify_discoverable_authentication(answer)
            .map_err(|_| PasskeyError::Rejected)?;
        let row = self
            .store
            .find_passkey_by_credential(&credential_key(cred_id))
            .await?
            .filter(|r| r.account_id == user.to_string())
            .ok_or(PasskeyError::Rejected)?;
        let mut passkey = open_credential(&self.sealer, &row.id, &row.credential)?;
        let result = webauthn
            .finish_discoverable_authentication_v2(answer, state, &passkey)
            .map_err(|_| PasskeyError::Rejected)?;
        self.used(&row, &mut passkey, &result).await
    }

    /// Starts a step-up assertion for `account_id` (its passkeys only); `NotFound` when it
    /// has none.
    pub async fn start_assertion(&self, account_id: &str) -> Result<Ceremony, PasskeyError> {
        let webauthn = self.webauthn()?;
        let mut keys = Vec::new();
        for r in self.store.list_passkeys(account_id).await? {
            keys.push(open_credential(&self.sealer, &r.id, &r.credential)?);
        }
        if keys.is_empty() {
            return Err(PasskeyError::NotFound);
        }
        let (rcr, state) = webauthn
            .start_passkey_authentication(&keys)
            .map_err(webauthn_failed)?;
        let pending = Pending::<PasskeyAuthentication> {
            user_id: Some(account_id.to_owned()),
            started: self.clock.now().unix_timestamp(),
            state,
        };
        Ok(Ceremony {
            options: options_of(&rcr)?,
            state: pending.encode()?,
        })
    }

    /// Finishes a step-up assertion started by `start_assertion` for the same account.
    pub async fn finish_assertion(
        &self,
        account_id: &str,
        state: &str,
        answer: &PublicKeyCredential,
    ) -> Result<Asserted, PasskeyError> {
        let webauthn = self.webauthn()?;
        let now = self.clock.now();
        let state: PasskeyAuthentication = Pending::decode(state, Some(account_id), now)?;
        let result = webauthn
            .finish_passkey_authentication(answer, &state)
            .map_err(|_| PasskeyError::Rejected)?;
        let row = self
            .store
            .find_passkey_by_credential(&credential_key(result.cred_id()))
            .await?
            .filter(|r| r.account_id == account_id)
            .ok_or(PasskeyError::Rejected)?;
        let mut passkey = open_credential(&self.sealer, &row.id, &row.credential)?;
        self.used(&row, &mut passkey, &result).await
    }

    /// After a verified assertion: user verification checked once more (defence in depth),
    /// the new sign count and backup state sealed back, the last use recorded — only if the
    /// authenticator's counter moved past the stored one as the use is written (the store's
    /// compare-and-set): webauthn-rs compares it with the credential as read before (for a
    /// step-up, as it was when the ceremony started), so a cloned key's use at the same moment,
    /// or after the real key's, would otherwise pass with a count already spent.
    async fn used(
        &self,
        row: &PasskeyRecord,
        passkey: &mut Passkey,
        result: &AuthenticationResult,
    ) -> Result<Asserted, PasskeyError> {
        if !result.user_verified() || passkey.update_credential(result).is_none() {
            return Err(PasskeyError::Rejected);
        }
        let sealed = seal_credential(&self.sealer, &row.id, passkey)?;
        let now = self.clock.now().unix_timestamp();
        let count = i64::from(result.counter());
        if !self
            .store
            .update_passkey_use(&row.id, &sealed, count, now)
            .await?
        {
            tracing::warn!(
                passkey = %row.id,
                "a passkey use was refused: its signature count was used already (a cloned \
                 key?), or the key was removed meanwhile"
            );
            return Err(PasskeyError::Rejected);
        }
        Ok(Asserted {
            account_id: row.account_id.clone(),
            kind: KeyKind::from_backup_eligible(result.backup_eligible()),
            proven: row.proven,
        })
    }
}
