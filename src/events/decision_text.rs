//! The readable text of each decision (the event's `decision` field, which the INTERFACE
//! shows); the stable codes are in `decision_code.rs`.

use crate::events::decision::Decision;

impl Decision {
    /// The readable text (the event's `decision`) when the decision carries no detail; the
    /// start of it when it does (`deny; delayed 250 ms`). The INTERFACE shows this text.
    pub fn text(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::AllowKnownDevice => "allow:known_device",
            Self::Deny => "deny",
            Self::HighRiskRightPassword => "high_risk; right password",
            Self::HighRiskWrongPassword => "high_risk; wrong password",
            Self::Captcha => "captcha",
            Self::AccountLocked => "account_locked",
            Self::RepeatedFailures => "repeated_failures",
            Self::HighRisk => "high_risk",
            Self::Blocked => "blocked",
            Self::UnknownSources => "unknown_sources",
            Self::FormRegister => "form:register",
            Self::FormForgot => "form:forgot",
            Self::RateLimitedIp => "rate_limited:ip",
            Self::RateLimitedAccount => "rate_limited:account",
            Self::RateLimitedClient => "rate_limited:client",
            Self::AlertLockout => "lockout",
            Self::AlertNewDevice => "new_device",
            Self::AlertAttack => "attack",
            Self::AttackStuffing => "stuffing",
            Self::AttackSpraying => "spraying",
            Self::ReportedNotMe => "reported_not_me",
            Self::Reauth => "reauth",
            Self::RevokedByOwner => "owner",
            Self::RevokedOthers => "owner:others",
            Self::RevokedByCli => "cli:revoke",
            Self::PasswordChangedByOwner => "changed_by_owner",
            Self::UnlockedByCli => "cli",
            Self::UnlockedByLink => "link",
            Self::UnlockedByAdmin => "admin",
            Self::AdminUnlock => "unlock",
            Self::SignedOut => "user",
            Self::EndSession => "end_session",
            Self::PasswordChanged => "password_changed",
            Self::IdleTimeout => "idle_timeout",
            Self::LifetimeExceeded => "lifetime_exceeded",
            Self::ResetMailed => "mailed",
            Self::ResetSuppressedMailLimit => "suppressed:mail_limit",
            Self::ResetUnknownAccount => "unknown",
            Self::ResetInvalidEmail => "invalid",
            Self::PasswordReset => "reset",
            Self::IssuedAuthorizationCode => "authorization_code",
            Self::IssuedClientCredentials => "client_credentials",
            Self::RefreshRotated => "rotated",
            Self::RefreshFamilyRevoked => "family_revoked",
            Self::CodeReuse => "code_reuse",
            Self::RevokedRefreshToken => "refresh_token",
            Self::RevokedAccessToken => "access_token",
            // Written with their own text (`decision_as`): the OAuth error, the rejection
            // reason, the use and verdict.
            Self::TokenRequestRefused => "token_request_refused",
            Self::BearerRejected => "bearer_rejected",
            Self::TokenUseAllow => "token_use:allow",
            Self::TokenUseChallenge => "token_use:challenge",
            Self::TokenUseBlock => "token_use:block",
            Self::RiskApiInvalidToken => "risk_api:block",
            Self::StepUpRequired => "step_up_required",
            Self::FactorEmail => "factor:email",
            Self::FactorTotp => "factor:totp",
            Self::FactorRecoveryCode => "factor:recovery_code",
            Self::FactorWebauthn => "factor:webauthn",
            Self::VerificationMailed => "verification_mailed",
            Self::VerifiedByLink => "verified_by_link",
            Self::MfaResetByCli => "mfa_reset:cli",
            Self::Passkey => "passkey",
            Self::RequireMfaOn => "require_mfa:on",
            Self::RequireMfaOff => "require_mfa:off",
            Self::ClientChangedByCli => "cli:client",
            Self::ProfileChangedByOwner => "owner:profile",
            Self::AccountsListed => "user_list",
            Self::AccountShown => "user_show",
            Self::AccountDisabled => "user_disable",
            Self::AccountEnabled => "user_enable",
            Self::AccountDeleted => "user_delete",
            operator => operator.operator_text(),
        }
    }

    /// The texts of an operator's acts from the console or the admin API (`text`'s tail).
    fn operator_text(self) -> &'static str {
        match self {
            Self::RevokedByAdmin => "admin:revoke",
            Self::MfaResetByAdmin => "mfa_reset:admin",
            Self::AdminRevoke => "revoke",
            Self::AdminForceReset => "force_reset",
            Self::AdminResetFactors => "reset_factors",
            Self::AdminLabel => "label",
            Self::OpsClientAdded => "client_add",
            Self::OpsClientSecretRotated => "client_rotate_secret",
            Self::OpsClientDeleted => "client_delete",
            Self::OpsKeysRotated => "keys_rotate",
            Self::OpsModelTrained => "model_train",
            Self::OpsModelPromoted => "model_promote",
            Self::OpsClientDisabled => "client_disable",
            Self::OpsClientEnabled => "client_enable",
            _ => unreachable!("text() places every other decision"),
        }
    }
}
