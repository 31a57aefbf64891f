//! CAPTCHA challenges. `builtin` draws a distorted five-character image (self-hosted, offline,
//! served inline as a data URI, which the CSP allows); `test` accepts the configured answer, for
//! automated tests only. A challenge is stored server-side in the session (bound to it), is
//! single-use (taken out when checked) and expires after five minutes.
//!
//! Not yet: the third-party providers (`turnstile`, `hcaptcha`, `recaptcha`) and an audio or
//! text alternative to the image; see the attack-protection issue's note.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// How long a challenge can be answered.
pub const CHALLENGE_TTL_SECS: i64 = 300;

/// What the session keeps about a shown challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredChallenge {
    /// The expected answer (upper-cased); empty for the `test` provider.
    pub answer: String,
    /// When it was shown (unix seconds).
    pub issued_at: i64,
}

/// What the page shows.
#[derive(Debug, Clone)]
pub struct ShownChallenge {
    /// A `data:image/png;base64,…` URI for the builtin image.
    pub image: Option<String>,
}

/// The configured provider.
#[derive(Debug, Clone)]
pub enum Captchas {
    /// Self-hosted image.
    Builtin,
    /// Fixed answer, for tests.
    Test(SecretString),
}

impl Captchas {
    /// A new challenge: what to keep and what to show.
    pub fn issue(&self, now: i64) -> (StoredChallenge, ShownChallenge) {
        match self {
            Self::Builtin => {
                let mut c = captcha::Captcha::new();
                c.add_chars(5)
                    .apply_filter(captcha::filters::Noise::new(0.2))
                    .apply_filter(captcha::filters::Wave::new(2.0, 12.0))
                    .view(220, 80);
                let answer = c.chars_as_string().to_uppercase();
                let image = c
                    .as_base64()
                    .map(|b64| format!("data:image/png;base64,{b64}"));
                (
                    StoredChallenge {
                        answer,
                        issued_at: now,
                    },
                    ShownChallenge { image },
                )
            }
            Self::Test(_) => (
                StoredChallenge {
                    answer: String::new(),
                    issued_at: now,
                },
                ShownChallenge { image: None },
            ),
        }
    }

    /// Whether `given` answers `stored` (which the caller has already taken out of the session).
    pub fn check(&self, stored: Option<&StoredChallenge>, given: &str, now: i64) -> bool {
        let Some(stored) = stored else { return false };
        if now - stored.issued_at > CHALLENGE_TTL_SECS || given.is_empty() || given.len() > 64 {
            return false;
        }
        let given = given.trim().to_uppercase();
        let expected = match self {
            Self::Builtin => stored.answer.clone(),
            Self::Test(answer) => answer.expose_secret().to_uppercase(),
        };
        bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_answers_are_checked_once_and_expire() {
        let c = Captchas::Builtin;
        let (stored, shown) = c.issue(1000);
        assert!(shown.image.unwrap().starts_with("data:image/png;base64,"));
        assert_eq!(stored.answer.len(), 5);
        assert!(c.check(Some(&stored), &stored.answer.to_lowercase(), 1010));
        assert!(!c.check(Some(&stored), "WRONG", 1010));
        assert!(!c.check(Some(&stored), &stored.answer, 1000 + CHALLENGE_TTL_SECS + 1));
        assert!(
            !c.check(None, &stored.answer, 1010),
            "no stored challenge: a replay"
        );
    }

    #[test]
    fn test_provider_needs_its_answer_and_a_shown_challenge() {
        let c = Captchas::Test("let-me-in".to_owned().into());
        let (stored, _) = c.issue(0);
        assert!(c.check(Some(&stored), "let-me-in", 1));
        assert!(!c.check(Some(&stored), "nope", 1));
        assert!(!c.check(None, "let-me-in", 1));
    }
}
