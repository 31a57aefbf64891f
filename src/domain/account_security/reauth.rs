//! Re-authentication before a change on the account security page: a `ReauthMark` kept in the
//! user's own server-side session says who proved what, and when. A change is allowed for
//! `REAUTH_WINDOW_SECS` after it. The password proves it here; the second factors
//! (`ReauthProof`) prove it through `SecurityService::reauth_by_factor` once they have checked
//! their own answer.
//!
//! Changing the sign-in methods themselves (the app, recovery codes, passkeys, "at every
//! sign-in" off) on an account a second factor guards (`guards_factor_changes`) takes more
//! than the password: a factor proved in this session (`factor_proved`): its sign-in passed
//! one, a re-authentication was made with one, or the session itself just set one up. Else a
//! password alone — all a stolen-password holder has — could swap the owner's factor for its
//! own, and pass every step-up after (the admin console's included).

use time::OffsetDateTime;

use crate::domain::mfa::Factors;

/// How long a re-authentication allows changes (five minutes).
pub const REAUTH_WINDOW_SECS: i64 = 5 * 60;

/// What the user proved to re-authenticate. One encoder (`code`), matched exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReauthProof {
    /// The account's password.
    Password,
    /// A TOTP code.
    Totp,
    /// A recovery code.
    RecoveryCode,
    /// A passkey assertion with user verification.
    Passkey,
    /// A code mailed to the verified address.
    EmailCode,
}

impl ReauthProof {
    /// Every proof.
    pub const ALL: [Self; 5] = [
        Self::Password,
        Self::Totp,
        Self::RecoveryCode,
        Self::Passkey,
        Self::EmailCode,
    ];

    /// The stable code kept in the session.
    pub fn code(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
            Self::Passkey => "passkey",
            Self::EmailCode => "email_code",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Whether this is a second factor (anything but the password).
    pub fn is_factor(self) -> bool {
        self != Self::Password
    }
}

/// Whether an account's second factor guards changes to its sign-in methods: it has an
/// authenticator app or a passkey — or it is an admin's and has any factor, the e-mailed code
/// included (the console's step-up must not be passable with a factor the password set up).
pub fn guards_factor_changes(factors: Factors, is_admin: bool) -> bool {
    factors.webauthn || factors.totp || (is_admin && factors.email)
}

/// Whether this session proved a second factor for `user_id` to change the sign-in methods:
/// its sign-in passed one (`amr` holds `mfa`: for the session's life, as the admin console
/// reads it), or its re-authentication mark (`mark`, within its five minutes at `now`) was
/// made with one.
pub fn factor_proved(
    user_id: &str,
    amr: &[String],
    mark: Option<&ReauthMark>,
    now: OffsetDateTime,
) -> bool {
    amr.iter().any(|m| m == "mfa")
        || mark.is_some_and(|m| m.proof.is_factor() && m.allows(user_id, now))
}

/// A re-authentication, as kept in the session: the account, the proof and the time. Bound to
/// the account, so a mark left in a browser's session never counts for another account signed
/// in later on the same browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReauthMark {
    user_id: String,
    proof: ReauthProof,
    at: i64,
}

impl ReauthMark {
    /// `user_id` proved `proof` at `at`.
    pub fn new(user_id: &str, proof: ReauthProof, at: OffsetDateTime) -> Self {
        Self {
            user_id: user_id.to_owned(),
            proof,
            at: at.unix_timestamp(),
        }
    }

    /// The session value.
    pub fn encode(&self) -> String {
        format!("{} {} {}", self.proof.code(), self.at, self.user_id)
    }

    /// Reads a session value back; `None` if it is not a mark.
    pub fn decode(value: &str) -> Option<Self> {
        let mut parts = value.splitn(3, ' ');
        let proof = ReauthProof::from_code(parts.next()?)?;
        let at = parts.next()?.parse().ok()?;
        let user_id = parts.next()?.to_owned();
        Some(Self { user_id, proof, at })
    }

    /// What was proved.
    pub fn proof(&self) -> ReauthProof {
        self.proof
    }

    /// Whether this mark allows `user_id` a change at `now`: the same account, at most
    /// `REAUTH_WINDOW_SECS` ago (and not in the future: a clock step back voids it).
    pub fn allows(&self, user_id: &str, now: OffsetDateTime) -> bool {
        let age = now.unix_timestamp() - self.at;
        self.user_id == user_id && (0..REAUTH_WINDOW_SECS).contains(&age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const T: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    #[test]
    fn a_mark_round_trips() {
        for proof in ReauthProof::ALL {
            let mark = ReauthMark::new("u-1", proof, T);
            assert_eq!(ReauthMark::decode(&mark.encode()), Some(mark));
        }
        assert_eq!(ReauthMark::decode("password"), None);
        assert_eq!(ReauthMark::decode("password x u"), None);
        assert_eq!(ReauthMark::decode("sms 1 u"), None);
    }

    #[test]
    fn a_factor_guards_changes_and_only_a_factor_proves_one() {
        let none = Factors::default();
        let email = Factors {
            email: true,
            ..none
        };
        let app = Factors { totp: true, ..none };
        let key = Factors {
            webauthn: true,
            ..none
        };
        assert!(!guards_factor_changes(none, false));
        assert!(
            !guards_factor_changes(email, false),
            "first enrolment: the password"
        );
        assert!(
            guards_factor_changes(email, true),
            "an admin's mailed code guards"
        );
        assert!(!guards_factor_changes(none, true));
        for f in [app, key] {
            assert!(guards_factor_changes(f, false));
        }
        let pwd = ["pwd".to_owned()];
        let mfa = ["pwd".to_owned(), "otp".to_owned(), "mfa".to_owned()];
        assert!(factor_proved("u-1", &mfa, None, T));
        assert!(!factor_proved("u-1", &pwd, None, T));
        let by = |proof| ReauthMark::new("u-1", proof, T);
        assert!(!factor_proved(
            "u-1",
            &pwd,
            Some(&by(ReauthProof::Password)),
            T
        ));
        for proof in ReauthProof::ALL.into_iter().filter(|p| p.is_factor()) {
            assert!(factor_proved("u-1", &pwd, Some(&by(proof)), T));
            assert!(
                !factor_proved("u-2", &pwd, Some(&by(proof)), T),
                "another account"
            );
            let late = T + Duration::seconds(REAUTH_WINDOW_SECS);
            assert!(
                !factor_proved("u-1", &pwd, Some(&by(proof)), late),
                "too old"
            );
        }
    }

    #[test]
    fn a_mark_allows_changes_for_five_minutes_to_its_account_only() {
        let mark = ReauthMark::new("u-1", ReauthProof::Password, T);
        assert!(mark.allows("u-1", T));
        assert!(mark.allows("u-1", T + Duration::seconds(299)));
        assert!(!mark.allows("u-1", T + Duration::seconds(300)));
        assert!(!mark.allows("u-1", T - Duration::seconds(1)));
        assert!(!mark.allows("u-2", T));
    }
}
