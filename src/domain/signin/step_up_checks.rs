//! Checking an answer to a pending step-up, factor by factor: the e-mailed code, the
//! authenticator app or a recovery code, and the passkey — whose assertion is started here
//! for the pending step-up's account only and kept in the pending step-up itself, so it is
//! bound to this browser session's sign-in, single use, and dies with a new sign-in.
//! What a pass or a failure then does is `step_up.rs`'s business.

use time::OffsetDateTime;
use webauthn_rs::prelude::PublicKeyCredential;

use crate::domain::error::Unexpected;
use crate::domain::mfa::Factor;
use crate::domain::mfa::pending::PendingStepUp;
use crate::domain::mfa::totp::TotpCheck;
use crate::domain::passkeys::error::PasskeyError;
use crate::domain::signin::LoginService;
use crate::events::decision::Decision;

/// A factor that passed: how (the `challenge_passed` decision) and the RFC 8176 `amr` value
/// it adds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Passed {
    /// The `challenge_passed` decision.
    pub how: Decision,
    /// The `amr` value (`otp`, `hwk`, `swk`).
    pub amr: &'static str,
    /// The factor is the owner's own as far as authd can tell (`SignedIn::factor_proven`).
    pub proven: bool,
}

impl LoginService {
    /// Starts the passkey assertion of a pending step-up and returns the options for
    /// `navigator.credentials.get`: only the account's own passkeys may answer, with user
    /// verification. The ceremony's state goes into `pending` (the caller keeps it in the
    /// session), replacing any earlier one, and the passkey becomes the factor asked for.
    /// `NoCeremony` when the step-up is expired or the account has no passkey to offer.
    pub async fn start_passkey_step_up(
        &self,
        pending: &mut PendingStepUp,
    ) -> Result<serde_json::Value, PasskeyError> {
        let now = self.clock.now().unix_timestamp();
        if pending.expired(now) || !pending.offered.contains(&Factor::Webauthn) {
            return Err(PasskeyError::NoCeremony);
        }
        let ceremony = self.passkeys.start_assertion(&pending.user_id).await?;
        pending.assertion = Some(ceremony.state);
        pending.factor = Factor::Webauthn;
        Ok(ceremony.options)
    }

    /// Whether `answer` passes the passkey assertion started for `pending`. The started state
    /// is taken out first, so whatever the outcome it cannot be finished again (a replay, or a
    /// finish without a start, finds none and fails). The assertion must verify against the
    /// state — its challenge, this relying party's origin, user verification, a credential
    /// of the pending step-up's account (`PasskeyService::finish_assertion` refuses any other
    /// account's) and a sign count that does not go backwards. The `amr` is the key's kind:
    /// `hwk` bound to its device, `swk` synced (backup eligible).
    pub(super) async fn check_passkey(
        &self,
        pending: &mut PendingStepUp,
        answer: &PublicKeyCredential,
    ) -> Result<Option<Passed>, Unexpected> {
        let Some(state) = pending.assertion.take() else {
            return Ok(None);
        };
        if !pending.offered.contains(&Factor::Webauthn) {
            return Ok(None);
        }
        let finished = self
            .passkeys
            .finish_assertion(&pending.user_id, &state, answer)
            .await;
        match finished {
            Ok(a) if a.account_id == pending.user_id => Ok(Some(Passed {
                how: Decision::FactorWebauthn,
                amr: a.kind.amr(),
                proven: a.proven,
            })),
            Err(PasskeyError::Unexpected(e)) => Err(Unexpected(e)),
            Ok(_)
            | Err(
                PasskeyError::Unavailable
                | PasskeyError::NoCeremony
                | PasskeyError::Rejected
                | PasskeyError::AlreadyRegistered
                | PasskeyError::NotFound,
            ) => Ok(None),
        }
    }

    /// Whether `typed` answers factor `f`, and how. Each code works once: the e-mailed one
    /// lives in the pending step-up, gone after the pass; the app's time step and a recovery
    /// code are spent in the store. A typed code never answers the passkey.
    pub(super) async fn check_factor(
        &self,
        pending: &PendingStepUp,
        f: Factor,
        typed: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Passed>, Unexpected> {
        // The mailbox is the owner's; an app (or its recovery code) only if it was set up past
        // a factor itself.
        let passed = match f {
            Factor::Email => pending
                .code
                .as_ref()
                .is_some_and(|c| {
                    let ttl = self.protection.ladder.settings().email_code_ttl_secs;
                    now.unix_timestamp() < c.sent_at + ttl
                        && self.protection.codes.matches(
                            &pending.binding,
                            &pending.user_id,
                            typed,
                            &c.mac,
                        )
                })
                .then_some((Decision::FactorEmail, true)),
            Factor::Totp => match self.authenticators.check(&pending.user_id, typed).await? {
                TotpCheck::App { proven } => Some((Decision::FactorTotp, proven)),
                TotpCheck::RecoveryCode { proven } => Some((Decision::FactorRecoveryCode, proven)),
                TotpCheck::Failed => None,
            },
            Factor::Webauthn => None,
        };
        Ok(passed.map(|(how, proven)| Passed {
            how,
            amr: f.amr(),
            proven,
        }))
    }
}
