//! The pending step-up: what a sign-in that passed the password but still owes a second
//! factor keeps in its (not yet signed-in) server-side session — whose account, which factors
//! were offered and which one is asked now, the risk reasons, how many answers failed, when it
//! started, the methods passed so far (`amr`), the ladder's counter row to count failures on,
//! for the e-mailed code only its MAC and when it was sent, and for the passkey the started
//! assertion's state. Serialised by the HTTP layer
//! into the session; a session holding one is not signed in.

use serde::{Deserialize, Serialize};

use crate::domain::mfa::Factor;

/// How long a pending step-up lives (then the sign-in starts again).
pub const STEP_UP_TTL_SECS: i64 = 15 * 60;

/// The e-mailed code of a pending step-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCode {
    /// The code's MAC (`email_code.rs`), never the code.
    pub mac: String,
    /// When it was issued (unix seconds).
    pub sent_at: i64,
    /// Whether the mail went out (`false`: the address's hourly budget was spent).
    pub mailed: bool,
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingStepUp {
    /// The account.
    pub user_id: String,
    /// The username as typed (a sign-in naming someone else starts afresh).
    pub username: String,
    /// The factors offered, strongest first.
    pub offered: Vec<Factor>,
    /// The factor asked for now.
    pub factor: Factor,
    /// The sign-in's risk score.
    pub score: Option<f64>,
    /// Why (the risk reasons, or the owner's setting, or the client's `acr_values`).
    pub reasons: Vec<String>,
    /// Failed answers so far.
    pub failures: u32,
    /// When the password was verified (unix seconds).
    pub started_at: i64,
    /// The methods passed so far (RFC 8176): `["pwd"]`.
    pub amr: Vec<String>,
    /// The ladder's counter row of the attempt: (account key, source key).
    pub counter: (String, String),
    /// Whether the attempt came from a known device of the account.
    pub known_device: bool,
    /// Random, per step-up: binds its e-mailed codes to this session.
    pub binding: String,
    /// The e-mailed code, once one was issued.
    pub code: Option<SentCode>,
    /// The passkey assertion started for this step-up (its ceremony state, single use: taken
    /// out by the answer, whatever the answer). Kept here, it belongs to this browser
    /// session's sign-in and dies with it (a new sign-in starts without one).
    #[serde(default)]
    pub assertion: Option<String>,
    /// The network the sign-in came from, and whether the account has used it before (the
    /// e-mailed code's budget, `mail/outbox.rs`).
    #[serde(default)]
    pub requested_from: String,
    /// See `requested_from`.
    #[serde(default)]
    pub familiar_network: bool,
    /// The account's session epoch when the password was checked: a change that moves it (a
    /// password change or reset, the mailed "wasn't you?" report, "sign out everywhere", a
    /// revocation, a disable) drops the step-up, so
    /// a password checked before the owner acted never finishes a sign-in after (`None`: a
    /// step-up kept before this was recorded, dropped the same way).
    #[serde(default)]
    pub epoch: Option<i64>,
}

impl PendingStepUp {
    /// Whether the step-up is too old to finish.
    pub fn expired(&self, now: i64) -> bool {
        now >= self.started_at + STEP_UP_TTL_SECS
    }

    /// Whether `username`, as typed in a new sign-in, names this step-up's sign-in (an empty
    /// one does: the answer form need not re-send it).
    pub fn same_sign_in(&self, username: &str) -> bool {
        let typed = username.trim();
        typed.is_empty() || typed.eq_ignore_ascii_case(self.username.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_up_belongs_to_its_sign_in_and_expires() {
        let p = PendingStepUp {
            user_id: "u".into(),
            username: "Alice@example.com".into(),
            offered: vec![Factor::Email],
            factor: Factor::Email,
            score: Some(0.7),
            reasons: vec![],
            failures: 0,
            started_at: 1_000,
            amr: vec!["pwd".into()],
            counter: ("user:u".into(), "net:1.2.3.4".into()),
            known_device: false,
            binding: "b".into(),
            code: None,
            assertion: None,
            requested_from: "1.2.3.0/24".into(),
            familiar_network: false,
            epoch: Some(0),
        };
        assert!(p.same_sign_in(""));
        assert!(p.same_sign_in(" alice@example.com"));
        assert!(!p.same_sign_in("bob@example.com"));
        assert!(!p.expired(1_000 + STEP_UP_TTL_SECS - 1));
        assert!(p.expired(1_000 + STEP_UP_TTL_SECS));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<PendingStepUp>(&json).unwrap(), p);
    }
}
