//! Decisions: what authd decided in an event, as a stable code (`Decision::code`, stored in the
//! event's `decision_code` column and matched by the risk trainer) beside the readable text the
//! INTERFACE shows (`decision`). Rewording a text can no longer change what an event means.

use serde::Deserialize;

use crate::events::EventKind;

/// What authd decided, as a stable code: stored in the event's `decision_code` column and
/// matched by the risk trainer, so rewording the readable text (`decision`) can never change
/// what an event means. The code is the variant's snake_case name. No catch-all: a new decision
/// is a deliberate change that the trainer must place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    // Sign-in answers (`login_*`, `challenge_*`).
    /// Signed in from a browser that was not a known device.
    Allow,
    /// Signed in from a known device.
    AllowKnownDevice,
    /// Wrong password or no such account (with the delay rung as detail).
    Deny,
    /// The risk score asked for the challenge and the password was right.
    HighRiskRightPassword,
    /// The risk score asked for the challenge and the password was wrong.
    HighRiskWrongPassword,
    /// The right password from a source the account does not know, past a challenge (a lock,
    /// repeated failures, a spent budget): the second factor is asked for.
    ChallengedRightPassword,
    /// A challenge was answered (`challenge_passed`, `challenge_failed`).
    Captcha,
    /// Challenged: the account is locked for unknown sources.
    AccountLocked,
    /// Challenged: repeated failures from the source.
    RepeatedFailures,
    /// Challenged: the risk score, and the answer was wrong.
    HighRisk,
    /// Refused for a while (`login_blocked`).
    Blocked,
    /// The account was locked for unknown sources (`account_locked`).
    UnknownSources,
    /// The register form's gate.
    FormRegister,
    /// The forgot-password form's gate.
    FormForgot,
    // Per-instance rate limits (`rate_limited`).
    /// Too many requests from the network.
    RateLimitedIp,
    /// Too many attempts on the account.
    RateLimitedAccount,
    /// Too many token requests from the client.
    RateLimitedClient,
    // Alerts (`alert_sent`).
    /// The lockout mail.
    AlertLockout,
    /// The new-device mail.
    AlertNewDevice,
    /// The attack alert: attempts on the account were blocked.
    AlertAttack,
    // Waves (`attack_detected`; with the start, size and sources as detail).
    /// A credential-stuffing wave.
    AttackStuffing,
    /// A password-spraying wave.
    AttackSpraying,
    // Accounts and sessions.
    /// The owner reported a sign-in ("wasn't you?"; with the revoked grants as detail).
    ReportedNotMe,
    /// The user re-authenticated on the account security page (`challenge_passed`,
    /// `challenge_failed`; with the proof as detail).
    Reauth,
    /// The owner ended a session or grant from the account security page (what, as detail).
    RevokedByOwner,
    /// The owner ended every other session and grant ("sign out everywhere else").
    RevokedOthers,
    /// The session gave the wrong password too often on the account security page and was
    /// ended (`session_revoked`).
    ReauthFailures,
    /// Every session and grant ended with `authd user revoke`.
    RevokedByCli,
    /// The owner changed the password on the account security page.
    PasswordChangedByOwner,
    /// Unlocked with `authd user unlock`.
    UnlockedByCli,
    /// Unlocked with the mailed link.
    UnlockedByLink,
    /// Unlocked by an operator on the admin console (`account_unlocked`).
    UnlockedByAdmin,
    /// An operator unlocked an account on the admin console (`admin_action`; the target as
    /// detail).
    AdminUnlock,
    /// The user signed out.
    SignedOut,
    /// An application signed the user out (RP-initiated logout).
    EndSession,
    /// The session ended because the password changed.
    PasswordChanged,
    /// The session was idle too long.
    IdleTimeout,
    /// The session reached its absolute lifetime.
    LifetimeExceeded,
    // Password reset.
    /// A reset link was mailed.
    ResetMailed,
    /// A reset link was not mailed: the recipient's mail limit.
    ResetSuppressedMailLimit,
    /// A reset for an email with no account.
    ResetUnknownAccount,
    /// A reset for something that is not an email.
    ResetInvalidEmail,
    /// The password was reset (with the ended sessions and revoked grants as detail).
    PasswordReset,
    // OAuth.
    /// Tokens issued for an authorization code.
    IssuedAuthorizationCode,
    /// A token issued to a client for itself.
    IssuedClientCredentials,
    /// A refresh token was rotated.
    RefreshRotated,
    /// A refresh token was reused: its whole grant was revoked.
    RefreshFamilyRevoked,
    /// An authorization code was reused: the grant it made was revoked.
    CodeReuse,
    /// A client revoked a refresh token (and its grant).
    RevokedRefreshToken,
    /// A client revoked an access token.
    RevokedAccessToken,
    /// The token endpoint refused a request (the text is the OAuth error and description).
    TokenRequestRefused,
    /// A bearer token was refused (the text is the `TokenRejection` reason).
    BearerRejected,
    /// A token use scored `allow` (the text names the use).
    TokenUseAllow,
    /// A token use scored `challenge`.
    TokenUseChallenge,
    /// A token use scored `block`.
    TokenUseBlock,
    /// `/risk/evaluate` was asked about a token that is not valid (with the reason as detail).
    RiskApiInvalidToken,
    // Step-up and second factors (`login_challenged`, `challenge_*`, `mfa_*`, `email_verified`).
    /// A step-up was asked for without a risk reason (the owner's setting, a client's `acr_values`).
    StepUpRequired,
    /// A step-up factor: the e-mailed code.
    FactorEmail,
    /// A step-up factor: an authenticator app's code.
    FactorTotp,
    /// A step-up factor: a recovery code.
    FactorRecoveryCode,
    /// A step-up factor: a passkey.
    FactorWebauthn,
    /// The verification link was mailed (`alert_sent`).
    VerificationMailed,
    /// The address was verified with the mailed link (`email_verified`).
    VerifiedByLink,
    /// Every second factor was removed with `authd user mfa reset`.
    MfaResetByCli,
    // Second factors (`mfa_enrolled`, `mfa_removed`, the owner's `mfa_setting_changed`).
    /// A passkey (WebAuthn).
    Passkey,
    /// The owner's setting: the second factor at every sign-in.
    RequireMfaOn,
    /// The owner's setting: the second factor only when a sign-in looks risky.
    RequireMfaOff,
    /// An operator changed a client with `authd client …` (`admin_action`; the command as detail).
    ClientChangedByCli,
    /// The owner changed their profile on `/account` (`profile_updated`; the field as detail).
    ProfileChangedByOwner,
    // An operator's acts on accounts (`admin_action`; detail: `actor <who>` and what changed).
    /// An account was made on the command line (`authd user add`; whether an admin, as detail).
    AccountCreated,
    /// The accounts were listed (`authd user list`; the filters as detail).
    AccountsListed,
    /// One account's status was read (`authd user show`).
    AccountShown,
    /// The account was disabled: its sessions ended, its grants revoked.
    AccountDisabled,
    /// The account was enabled again.
    AccountEnabled,
    /// The account was deleted (what was removed as detail).
    AccountDeleted,
    // The admin console's and admin API's acts on an account.
    /// Sessions or grants ended by an operator on the admin console or API (`session_revoked`; what, as detail).
    RevokedByAdmin,
    /// Every second factor was removed by an operator on the admin console or API (`mfa_removed`).
    MfaResetByAdmin,
    /// An operator ended every session and grant, or one (`admin_action`; target and what as detail).
    AdminRevoke,
    /// An operator had a reset link mailed (`admin_action`; target and outcome as detail).
    AdminForceReset,
    /// An operator removed every second factor (`admin_action`; target as detail).
    AdminResetFactors,
    /// An operator labelled an event for training (`admin_action`; target, event and label as detail).
    AdminLabel,
    // An operator's acts on clients, keys and the model from the console or the admin API
    // (`admin_action`; detail: `target <client id | kids | version>`).
    /// A client was registered.
    OpsClientAdded,
    /// A client's secret was rotated.
    OpsClientSecretRotated,
    /// A client was deleted.
    OpsClientDeleted,
    /// The signing keys were rotated.
    OpsKeysRotated,
    /// A model was trained (the version in use after as target).
    OpsModelTrained,
    /// A stored model version was put in use.
    OpsModelPromoted,
    /// An operator exported the events matching a filter (the explorer's CSV / JSON Lines).
    OpsEventsExported,
    /// A client was disabled (its grants revoked, its tokens refused).
    OpsClientDisabled,
    /// A disabled client was enabled again.
    OpsClientEnabled,
}

impl Decision {
    /// Every decision.
    pub const ALL: [Self; 90] = [
        Self::Allow,
        Self::AllowKnownDevice,
        Self::Deny,
        Self::HighRiskRightPassword,
        Self::HighRiskWrongPassword,
        Self::ChallengedRightPassword,
        Self::Captcha,
        Self::AccountLocked,
        Self::RepeatedFailures,
        Self::HighRisk,
        Self::Blocked,
        Self::UnknownSources,
        Self::FormRegister,
        Self::FormForgot,
        Self::RateLimitedIp,
        Self::RateLimitedAccount,
        Self::RateLimitedClient,
        Self::AlertLockout,
        Self::AlertNewDevice,
        Self::AlertAttack,
        Self::AttackStuffing,
        Self::AttackSpraying,
        Self::ReportedNotMe,
        Self::Reauth,
        Self::RevokedByOwner,
        Self::RevokedOthers,
        Self::ReauthFailures,
        Self::RevokedByCli,
        Self::PasswordChangedByOwner,
        Self::UnlockedByCli,
        Self::UnlockedByLink,
        Self::UnlockedByAdmin,
        Self::AdminUnlock,
        Self::SignedOut,
        Self::EndSession,
        Self::PasswordChanged,
        Self::IdleTimeout,
        Self::LifetimeExceeded,
        Self::ResetMailed,
        Self::ResetSuppressedMailLimit,
        Self::ResetUnknownAccount,
        Self::ResetInvalidEmail,
        Self::PasswordReset,
        Self::IssuedAuthorizationCode,
        Self::IssuedClientCredentials,
        Self::RefreshRotated,
        Self::RefreshFamilyRevoked,
        Self::CodeReuse,
        Self::RevokedRefreshToken,
        Self::RevokedAccessToken,
        Self::TokenRequestRefused,
        Self::BearerRejected,
        Self::TokenUseAllow,
        Self::TokenUseChallenge,
        Self::TokenUseBlock,
        Self::RiskApiInvalidToken,
        Self::StepUpRequired,
        Self::FactorEmail,
        Self::FactorTotp,
        Self::FactorRecoveryCode,
        Self::FactorWebauthn,
        Self::VerificationMailed,
        Self::VerifiedByLink,
        Self::MfaResetByCli,
        Self::Passkey,
        Self::RequireMfaOn,
        Self::RequireMfaOff,
        Self::ClientChangedByCli,
        Self::ProfileChangedByOwner,
        Self::AccountCreated,
        Self::AccountsListed,
        Self::AccountShown,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::AccountDeleted,
        Self::RevokedByAdmin,
        Self::MfaResetByAdmin,
        Self::AdminRevoke,
        Self::AdminForceReset,
        Self::AdminResetFactors,
        Self::AdminLabel,
        Self::OpsClientAdded,
        Self::OpsClientSecretRotated,
        Self::OpsClientDeleted,
        Self::OpsKeysRotated,
        Self::OpsModelTrained,
        Self::OpsModelPromoted,
        Self::OpsEventsExported,
        Self::OpsClientDisabled,
        Self::OpsClientEnabled,
    ];

    /// Parses a stored code; `None` for a code this version does not know.
    pub fn from_code(code: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(code.to_owned())).ok()
    }

    /// The decision of a stored row: by its code, or, for rows written before the code was
    /// stored, by its readable text.
    pub fn decode(kind: EventKind, code: Option<&str>, text: Option<&str>) -> Option<Self> {
        match code {
            Some(code) => Self::from_code(code),
            None => Self::from_text(kind, text?),
        }
    }

    /// Reads the decision from the text older rows carry (every text authd wrote before the
    /// code column existed).
    pub fn from_text(kind: EventKind, text: &str) -> Option<Self> {
        match kind {
            EventKind::TokenRejected if text.contains(": ") => {
                return Some(Self::TokenRequestRefused);
            }
            EventKind::TokenRejected => return Some(Self::BearerRejected),
            EventKind::RiskEvaluated if !text.starts_with(Self::RiskApiInvalidToken.text()) => {
                return match text.rsplit_once(':').map(|(_, verdict)| verdict) {
                    Some("allow") => Some(Self::TokenUseAllow),
                    Some("challenge") => Some(Self::TokenUseChallenge),
                    Some("block") => Some(Self::TokenUseBlock),
                    _ => None,
                };
            }
            _ => {}
        }
        let by_text = |t: &str| Self::ALL.into_iter().find(|d| d.text() == t);
        // A text with details is `<text>; <detail>` (but some fixed texts hold a `; ` too).
        by_text(text).or_else(|| by_text(text.split_once("; ")?.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decision as authd writes it today: its event kind and readable text.
    fn written(d: Decision) -> (EventKind, String) {
        use EventKind as K;
        let (kind, text) = match d {
            Decision::Allow | Decision::AllowKnownDevice => (K::LoginSucceeded, d.text().into()),
            Decision::Deny => (K::LoginFailed, "deny; delayed 250 ms".into()),
            Decision::HighRiskRightPassword
            | Decision::HighRiskWrongPassword
            | Decision::ChallengedRightPassword
            | Decision::AccountLocked
            | Decision::RepeatedFailures
            | Decision::HighRisk => (K::LoginChallenged, d.text().into()),
            Decision::Captcha => (K::ChallengePassed, d.text().into()),
            Decision::Blocked | Decision::FormForgot => (K::LoginBlocked, d.text().into()),
            Decision::FormRegister => (K::ChallengeFailed, d.text().into()),
            Decision::UnknownSources => (K::AccountLocked, d.text().into()),
            Decision::RateLimitedIp
            | Decision::RateLimitedAccount
            | Decision::RateLimitedClient => (K::RateLimited, d.text().into()),
            Decision::AlertLockout | Decision::AlertNewDevice | Decision::AlertAttack => {
                (K::AlertSent, d.text().into())
            }
            Decision::AttackStuffing | Decision::AttackSpraying => (
                K::AttackDetected,
                format!("{}; start 2026-11-30T10:00:00Z; size 60 failures", d.text()),
            ),
            Decision::ReportedNotMe => (
                K::SessionRevoked,
                "reported_not_me; 2 grants revoked".into(),
            ),
            Decision::UnlockedByCli | Decision::UnlockedByLink | Decision::UnlockedByAdmin => {
                (K::AccountUnlocked, d.text().into())
            }
            Decision::AdminUnlock => (K::AdminAction, "unlock; target 0190".into()),
            Decision::Reauth => (K::ChallengePassed, "reauth; password".into()),
            Decision::RevokedByOwner => (K::SessionRevoked, "owner; a session".into()),
            Decision::RevokedOthers | Decision::RevokedByCli => (
                K::SessionRevoked,
                format!("{}; 2 sessions, 1 grant", d.text()),
            ),
            Decision::PasswordChangedByOwner => (
                K::PasswordChanged,
                "changed_by_owner; 1 session ended; 0 grants revoked".into(),
            ),
            Decision::SignedOut | Decision::EndSession => (K::Logout, d.text().into()),
            Decision::PasswordChanged
            | Decision::IdleTimeout
            | Decision::LifetimeExceeded
            | Decision::ReauthFailures => (K::SessionRevoked, d.text().into()),
            Decision::ResetMailed
            | Decision::ResetSuppressedMailLimit
            | Decision::ResetUnknownAccount
            | Decision::ResetInvalidEmail => (K::PasswordResetRequested, d.text().into()),
            Decision::PasswordReset => (
                K::PasswordChanged,
                "reset; sessions ended; 0 grants revoked".into(),
            ),
            Decision::IssuedAuthorizationCode | Decision::IssuedClientCredentials => {
                (K::TokenIssued, d.text().into())
            }
            Decision::RefreshRotated => (K::TokenRefreshed, d.text().into()),
            Decision::RefreshFamilyRevoked => (K::RefreshReuseDetected, d.text().into()),
            Decision::CodeReuse | Decision::RevokedRefreshToken | Decision::RevokedAccessToken => {
                (K::TokenRevoked, d.text().into())
            }
            Decision::TokenRequestRefused => {
                (K::TokenRejected, "invalid_grant: code already used".into())
            }
            Decision::BearerRejected => (K::TokenRejected, "expired".into()),
            Decision::TokenUseAllow => (K::RiskEvaluated, "risk_api:allow".into()),
            Decision::TokenUseChallenge => (K::RiskEvaluated, "refresh_token:challenge".into()),
            Decision::TokenUseBlock => (K::RiskEvaluated, "userinfo:block".into()),
            Decision::RiskApiInvalidToken => {
                (K::RiskEvaluated, "risk_api:block; token expired".into())
            }
            Decision::StepUpRequired => (K::LoginChallenged, d.text().into()),
            Decision::FactorEmail
            | Decision::FactorTotp
            | Decision::FactorRecoveryCode
            | Decision::FactorWebauthn => (K::ChallengePassed, d.text().into()),
            Decision::VerifiedByLink => (K::EmailVerified, d.text().into()),
            Decision::VerificationMailed => (K::AlertSent, d.text().into()),
            Decision::MfaResetByCli => (K::MfaRemoved, d.text().into()),
            Decision::Passkey => (K::MfaEnrolled, d.text().into()),
            Decision::RequireMfaOn | Decision::RequireMfaOff => {
                (K::MfaSettingChanged, d.text().into())
            }
            Decision::ClientChangedByCli => (K::AdminAction, "cli:client; delete notes".into()),
            Decision::ProfileChangedByOwner => (K::ProfileUpdated, "owner:profile; name".into()),
            Decision::AccountCreated
            | Decision::AccountsListed
            | Decision::AccountShown
            | Decision::AccountDisabled
            | Decision::AccountEnabled
            | Decision::AccountDeleted => (K::AdminAction, format!("{}; actor cli", d.text())),
            Decision::RevokedByAdmin => (
                K::SessionRevoked,
                "admin:revoke; 2 sessions, 1 grant".into(),
            ),
            Decision::MfaResetByAdmin => (K::MfaRemoved, d.text().into()),
            Decision::AdminRevoke
            | Decision::AdminForceReset
            | Decision::AdminResetFactors
            | Decision::AdminLabel => (K::AdminAction, format!("{}; target 0190", d.text())),
            Decision::OpsClientAdded
            | Decision::OpsClientSecretRotated
            | Decision::OpsClientDeleted
            | Decision::OpsKeysRotated
            | Decision::OpsModelTrained
            | Decision::OpsModelPromoted
            | Decision::OpsEventsExported
            | Decision::OpsClientDisabled
            | Decision::OpsClientEnabled => (K::AdminAction, format!("{}; target x", d.text())),
        };
        (kind, text)
    }

    #[test]
    fn codes_are_stable_distinct_and_round_trip() {
        let mut codes = std::collections::HashSet::new();
        let mut texts = std::collections::HashSet::new();
        for d in Decision::ALL {
            assert!(codes.insert(d.code()), "code {} twice", d.code());
            assert!(texts.insert(d.text()), "text {} twice", d.text());
            assert!(
                d.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                d.code()
            );
            assert_eq!(Decision::from_code(d.code()), Some(d));
        }
        assert_eq!(Decision::from_code("allow:known_device"), None);
        assert_eq!(Decision::from_code("no_such_decision"), None);
    }

    #[test]
    fn rows_without_a_code_are_read_from_their_text() {
        for d in Decision::ALL {
            let (kind, text) = written(d);
            assert_eq!(Decision::from_text(kind, &text), Some(d), "{text}");
            assert_eq!(Decision::decode(kind, None, Some(&text)), Some(d), "{text}");
        }
        assert_eq!(
            Decision::from_text(EventKind::LoginFailed, "deny"),
            Some(Decision::Deny)
        );
        assert_eq!(
            Decision::from_text(EventKind::SessionRevoked, "reported_not_me"),
            Some(Decision::ReportedNotMe)
        );
        assert_eq!(
            Decision::from_text(EventKind::LoginFailed, "something else"),
            None
        );
        assert_eq!(Decision::decode(EventKind::LoginFailed, None, None), None);
    }

    #[test]
    fn a_stored_code_wins_over_the_text() {
        // A reworded text cannot change what the event means.
        assert_eq!(
            Decision::decode(
                EventKind::LoginSucceeded,
                Some("allow_known_device"),
                Some("allowed (a browser seen before)")
            ),
            Some(Decision::AllowKnownDevice)
        );
        // A code from a newer version is not guessed from the text.
        assert_eq!(
            Decision::decode(EventKind::LoginSucceeded, Some("newer"), Some("allow")),
            None
        );
    }
}
