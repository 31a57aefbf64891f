//! Second factors: which ones exist (`Factor`, strongest first), what a sign-in's pending
//! step-up holds (`pending.rs`), the e-mailed one-time code (`email_code.rs`), and the
//! authentication methods and level a session records for OIDC (`amr`, `acr`; RFC 8176).
//!
//! A factor is a `Factor` variant: its marker, its `amr` value and its rank here, a check in
//! `signin/step_up.rs` (the passkey's in `signin/step_up_passkey.rs`), and the account's
//! "has it" in `Factors`.

use serde::{Deserialize, Serialize};

use crate::events::decision::Decision;

/// E-mailed one-time codes.
pub mod email_code;
/// The pending step-up kept in the (not yet signed-in) session.
pub mod pending;
/// Authenticator apps (RFC 6238) and recovery codes.
pub mod totp;

/// A second factor a step-up can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// A passkey (WebAuthn with user verification).
    Webauthn,
    /// An authenticator app's code (RFC 6238), or one of the account's recovery codes.
    Totp,
    /// A one-time code mailed to the verified address.
    Email,
}

impl Factor {
    /// Every factor, strongest first: the order a step-up offers them in.
    pub const STRONGEST_FIRST: [Self; 3] = [Self::Webauthn, Self::Totp, Self::Email];

    /// The name in the page's `data-challenge` marker and the `factor` button (INTERFACE).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webauthn => "webauthn",
            Self::Totp => "totp",
            Self::Email => "email",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::STRONGEST_FIRST.into_iter().find(|f| f.as_str() == s)
    }

    /// The RFC 8176 `amr` value a pass adds: `otp` for the app's code and for the e-mailed
    /// code (both are one-time passwords; docs/mfa.md says why the mail is not `sms`-like).
    /// A passkey's depends on the key that answered (`KeyKind::amr`: `hwk` for one bound to
    /// its device, `swk` for a synced one); `hwk` here is the device-bound case.
    pub fn amr(self) -> &'static str {
        match self {
            Self::Webauthn => "hwk",
            Self::Totp | Self::Email => "otp",
        }
    }

    /// The factor as a `challenge_*` event's decision.
    pub fn decision(self) -> Decision {
        match self {
            Self::Webauthn => Decision::FactorWebauthn,
            Self::Totp => Decision::FactorTotp,
            Self::Email => Decision::FactorEmail,
        }
    }

    /// For people ("an authenticator app").
    pub fn label(self) -> &'static str {
        match self {
            Self::Webauthn => "a passkey",
            Self::Totp => "an authenticator app",
            Self::Email => "a code sent to your email address",
        }
    }
}

/// The factors an account has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Factors {
    /// At least one passkey.
    pub webauthn: bool,
    /// A confirmed authenticator app.
    pub totp: bool,
    /// A verified address.
    pub email: bool,
}

impl Factors {
    /// What a step-up can offer, strongest first (empty: the account has no second factor).
    pub fn offered(self) -> Vec<Factor> {
        Factor::STRONGEST_FIRST
            .into_iter()
            .filter(|f| match f {
                Factor::Webauthn => self.webauthn,
                Factor::Totp => self.totp,
                Factor::Email => self.email,
            })
            .collect()
    }
}

/// The `acr` values authd issues (docs/mfa.md): a password alone, or a password and a second
/// factor. Listed in discovery's `acr_values_supported`.
pub const ACR_PASSWORD: &str = "urn:authd:acr:pwd";
/// A password and a passed second factor.
pub const ACR_MFA: &str = "urn:authd:acr:mfa";

/// The `acr` of a session whose sign-in used `amr`.
pub fn acr_of(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "mfa") {
        ACR_MFA
    } else {
        ACR_PASSWORD
    }
}

/// A stored `amr` (a JSON list), `["pwd"]` when absent (grants from before it was kept).
pub fn amr_from_stored(stored: Option<&str>) -> Vec<String> {
    stored
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec!["pwd".to_owned()])
}

/// Whether a request's `acr_values` (space-separated, RFC 9470) asks for a second factor:
/// `urn:authd:acr:mfa`, or the plain `mfa`.
pub fn wants_mfa(acr_values: &str) -> bool {
    acr_values.split(' ').any(|v| v == ACR_MFA || v == "mfa")
}

/// The `amr` after a password and then a factor that proved `method` (its RFC 8176 value):
/// `["pwd", <method>, "mfa"]`.
pub fn amr_with(mut amr: Vec<String>, method: &str) -> Vec<String> {
    for m in [method, "mfa"] {
        if !amr.iter().any(|x| x == m) {
            amr.push(m.to_owned());
        }
    }
    amr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_are_offered_strongest_first_and_named_as_the_interface_says() {
        let all = Factors {
            webauthn: true,
            totp: true,
            email: true,
        };
        assert_eq!(
            all.offered(),
            vec![Factor::Webauthn, Factor::Totp, Factor::Email]
        );
        let email_only = Factors {
            email: true,
            ..Factors::default()
        };
        assert_eq!(email_only.offered(), vec![Factor::Email]);
        assert!(Factors::default().offered().is_empty());
        for f in Factor::STRONGEST_FIRST {
            assert_eq!(Factor::parse(f.as_str()), Some(f));
        }
        assert_eq!(Factor::parse("captcha"), None);
    }

    #[test]
    fn amr_and_acr_follow_what_was_passed() {
        let pwd = vec!["pwd".to_owned()];
        assert_eq!(acr_of(&pwd), ACR_PASSWORD);
        let otp = amr_with(pwd.clone(), Factor::Email.amr());
        assert_eq!(otp, ["pwd", "otp", "mfa"]);
        assert_eq!(acr_of(&otp), ACR_MFA);
        assert_eq!(amr_with(otp, Factor::Totp.amr()), ["pwd", "otp", "mfa"]);
        assert_eq!(amr_with(pwd, "swk"), ["pwd", "swk", "mfa"]);
    }
}
