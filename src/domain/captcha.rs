//! CAPTCHA challenges. `builtin` is a proof-of-work puzzle that the page's own script
//! (`/static/pow.js`) solves — nothing to read or hear, so it is accessible — with a distorted
//! five-character image as the no-script fallback (self-hosted, offline, drawn when the page
//! fetches it: `captcha_image.rs`). Either answer passes; `test` accepts the configured answer, for
//! automated tests only; `turnstile`, `hcaptcha` and `recaptcha` show the provider's widget and
//! verify its token server-side at the provider's (configurable) verify URL. Every challenge is
//! recorded server-side in the session (bound to it), is single-use (taken out when checked) and
//! expires after five minutes; provider tokens are single-use at the provider too.
//!
//! The verify call goes through `Verifier`, the one outbound network dependency of the domain,
//! injected so tests point it at a local fake. A provider's "success" is not enough: the
//! answer's `hostname` must be the issuer's host (a token solved on another site that uses the
//! same site key is refused; an answer without one too), and its `action`, when the provider
//! returns one (Turnstile), must be the one our widget carries (`WIDGET_ACTION`).
//!
//! No audio clips: the crate's carry no noise (docs/protection.md); the proof of work is the
//! accessible path.

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

pub use crate::domain::captcha_pow::{PowLevel, PowPuzzle};
use crate::domain::clock::Random;

/// A third-party CAPTCHA service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    /// Cloudflare Turnstile.
    Turnstile,
    /// hCaptcha.
    Hcaptcha,
    /// Google reCAPTCHA v2.
    Recaptcha,
}

impl RemoteKind {
    /// The form field the provider's widget fills in.
    pub fn response_field(self) -> &'static str {
        match self {
            Self::Turnstile => "cf-turnstile-response",
            Self::Hcaptcha => "h-captcha-response",
            Self::Recaptcha => "g-recaptcha-response",
        }
    }

    /// The widget's script.
    pub fn script(self) -> &'static str {
        match self {
            Self::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/api.js",
            Self::Hcaptcha => "https://js.hcaptcha.com/1/api.js",
            Self::Recaptcha => "https://www.google.com/recaptcha/api.js",
        }
    }

    /// The CSS class of the widget's element.
    pub fn widget_class(self) -> &'static str {
        match self {
            Self::Turnstile => "cf-turnstile",
            Self::Hcaptcha => "h-captcha",
            Self::Recaptcha => "g-recaptcha",
        }
    }

    /// The default server-side verify URL.
    pub fn default_verify_url(self) -> &'static str {
        match self {
            Self::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
            Self::Hcaptcha => "https://api.hcaptcha.com/siteverify",
            Self::Recaptcha => "https://www.google.com/recaptcha/api/siteverify",
        }
    }

    /// The origins the CSP must allow for the widget (scripts and frames).
    pub fn origins(self) -> &'static str {
        match self {
            Self::Turnstile => "https://challenges.cloudflare.com",
            Self::Hcaptcha => "https://hcaptcha.com https://*.hcaptcha.com",
            Self::Recaptcha => "https://www.google.com https://www.gstatic.com",
        }
    }
}

/// The action our widgets carry (`data-action`), which Turnstile echoes in its answer.
pub const WIDGET_ACTION: &str = "authd-challenge";

/// What a provider's `siteverify` answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteAnswer {
    /// The provider's verdict on the token.
    pub success: bool,
    /// The host the challenge was solved on.
    pub hostname: Option<String>,
    /// The widget's action, for providers that return one.
    pub action: Option<String>,
}

/// Verifies a provider token server-side (`siteverify`).
#[async_trait]
pub trait Verifier: Send + Sync + std::fmt::Debug {
    /// Asks `url` about `token`; `None` when the provider could not be asked or answered
    /// nothing readable (fail closed).
    async fn verify(
        &self,
        url: &str,
        secret: &SecretString,
        token: &str,
        remote_ip: &str,
    ) -> Option<SiteAnswer>;
}

/// A configured third-party provider.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Which one.
    pub kind: RemoteKind,
    /// The public site key for the widget.
    pub site_key: String,
    /// The secret for verification.
    pub secret: SecretString,
    /// Where to verify.
    pub verify_url: String,
    /// The HTTP seam.
    pub verifier: Arc<dyn Verifier>,
    /// The issuer's host: the only `hostname` an answer may name.
    pub hostname: String,
}

impl Remote {
    /// Whether a provider's answer passes: a success, solved on our host, for our action.
    pub fn accepts(&self, answer: &SiteAnswer) -> bool {
        let host_ok = answer
            .hostname
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(&self.hostname));
        let action_ok = answer.action.as_deref().is_none_or(|a| a == WIDGET_ACTION);
        if answer.success && !(host_ok && action_ok) {
            tracing::warn!(
                hostname = ?answer.hostname,
                action = ?answer.action,
                "captcha token solved elsewhere refused"
            );
        }
        answer.success && host_ok && action_ok
    }
}

/// How long a challenge can be answered.
pub const CHALLENGE_TTL_SECS: i64 = 300;

/// What the session keeps about a shown challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredChallenge {
    /// The expected answer (upper-cased); empty for the `test` provider.
    pub answer: String,
    /// The id the page fetches the image by (builtin; 32 hex digits).
    #[serde(default)]
    pub id: String,
    /// The characters the image shows, as drawn (mixed case); none without an image.
    #[serde(default)]
    pub text: Option<String>,
    /// The proof-of-work solution (builtin only).
    #[serde(default)]
    pub pow: Option<u64>,
    /// When it was shown (unix seconds).
    pub issued_at: i64,
    /// Whether the typed image answer is accepted (only at the lower work levels: a text
    /// CAPTCHA is cheap to read by machine, so the upper levels take the proof of work only).
    #[serde(default = "image_allowed_default")]
    pub image_allowed: bool,
    /// The form that showed it (`Gate::as_str`): an answer counts for that form only, so a
    /// challenge fetched where it is easy (a form with no failures) passes no other.
    #[serde(default)]
    pub gate: Option<String>,
    /// The proof of work's level (builtin; `PowLevel::get`): a right answer passes a rung
    /// that asks for this much work or less (`Captchas::answered_level`).
    #[serde(default)]
    pub level: Option<u8>,
}

fn image_allowed_default() -> bool {
    true
}

/// What the page shows.
#[derive(Debug, Clone)]
pub struct ShownChallenge {
    /// The builtin image's id (`StoredChallenge::id`), which the page fetches it by.
    pub image_id: Option<String>,
    /// The proof-of-work puzzle: find `n` in `0..=max` with `sha256_hex(salt + n) == hash`.
    pub pow: Option<PowPuzzle>,
}

/// The configured provider.
#[derive(Debug, Clone)]
pub enum Captchas {
    /// Self-hosted image.
    Builtin,
    /// Fixed answer, for tests.
    Test(SecretString),
    /// A third-party widget, verified server-side.
    Remote(Remote),
}

impl Captchas {
    /// A new challenge at `level` (the builtin provider's work; others ignore it): what to
    /// keep and what to show. The builtin image's characters are chosen here, at the levels
    /// that still accept a typed answer, and drawn only when fetched (`image`).
    pub fn issue(
        &self,
        random: &dyn Random,
        now: i64,
        level: PowLevel,
    ) -> (StoredChallenge, ShownChallenge) {
        // The id the challenge is spent by (`LoginService::spend_challenge`), and the builtin
        // image's name.
        let new_id = || {
            let mut id_bytes = [0u8; 16];
            random.fill(&mut id_bytes);
            crate::domain::clients::hex_lower(&id_bytes)
        };
        match self {
            Self::Builtin => {
                let (n, puzzle) = crate::domain::captcha_pow::puzzle(random, level);
                let text = level
                    .image_allowed()
                    .then(|| crate::domain::captcha_image::text(random));
                let id = new_id();
                (
                    StoredChallenge {
                        answer: text.as_deref().unwrap_or_default().to_uppercase(),
                        id: id.clone(),
                        image_allowed: text.is_some(),
                        text,
                        pow: Some(n),
                        issued_at: now,
                        gate: None,
                        level: Some(level.get()),
                    },
                    ShownChallenge {
                        image_id: level.image_allowed().then_some(id),
                        pow: Some(puzzle),
                    },
                )
            }
            Self::Test(_) | Self::Remote(_) => (
                StoredChallenge {
                    answer: String::new(),
                    id: new_id(),
                    text: None,
                    pow: None,
                    issued_at: now,
                    image_allowed: true,
                    gate: None,
                    level: None,
                },
                ShownChallenge {
                    image_id: None,
                    pow: None,
                },
            ),
        }
    }

    /// The PNG of the challenge `id`, which the session still holds (`stored`): builtin only,
    /// before it expires, once per challenge in this process (`captcha_image::draw_once`); off the
    /// request threads. `None` for anything else, or when the image thread is full.
    pub async fn image(
        &self,
        stored: Option<&StoredChallenge>,
        id: &str,
        now: i64,
    ) -> Option<Vec<u8>> {
        let (Self::Builtin, Some(stored)) = (self, stored) else {
            return None;
        };
        let text = stored.text.as_deref()?;
        let current =
            !stored.id.is_empty() && bool::from(stored.id.as_bytes().ct_eq(id.as_bytes()));
        if !current || now - stored.issued_at > CHALLENGE_TTL_SECS {
            return None;
        }
        crate::domain::captcha_image::draw_once(id, text, now, CHALLENGE_TTL_SECS).await
    }

    /// How much work a right answer to `stored` shows: the builtin puzzle's level (one stored
    /// before challenges kept it, the first); the top for the `test` and third-party
    /// providers, whose difficulty is not ours to scale.
    pub fn answered_level(&self, stored: &StoredChallenge) -> PowLevel {
        match self {
            Self::Builtin => stored.level.map_or(PowLevel::FIRST, PowLevel::from_number),
            Self::Test(_) | Self::Remote(_) => PowLevel::TOP,
        }
    }

    /// The third-party provider, if one is configured.
    pub fn remote(&self) -> Option<&Remote> {
        match self {
            Self::Remote(r) => Some(r),
            _ => None,
        }
    }

    /// Checks a provider token against a shown challenge (already taken out of the session).
    pub async fn check_remote(
        &self,
        stored: Option<&StoredChallenge>,
        token: &str,
        remote_ip: &str,
        now: i64,
    ) -> bool {
        let (Some(remote), Some(stored)) = (self.remote(), stored) else {
            return false;
        };
        if now - stored.issued_at > CHALLENGE_TTL_SECS || token.is_empty() || token.len() > 4096 {
            return false;
        }
        remote
            .verifier
            .verify(&remote.verify_url, &remote.secret, token, remote_ip)
            .await
            .is_some_and(|answer| remote.accepts(&answer))
    }

    /// Whether `given` answers `stored` (which the caller has already taken out of the session).
    pub fn check(&self, stored: Option<&StoredChallenge>, given: &str, now: i64) -> bool {
        let Some(stored) = stored else { return false };
        if now - stored.issued_at > CHALLENGE_TTL_SECS || given.is_empty() || given.len() > 64 {
            return false;
        }
        if let (Self::Builtin, Some(n), Some(sol)) =
            (self, stored.pow, given.trim().strip_prefix("pow:"))
        {
            return sol.parse::<u64>().is_ok_and(|x| x == n);
        }
        let given = given.trim().to_uppercase();
        let expected = match self {
            Self::Builtin if !stored.image_allowed => return false,
            Self::Builtin => stored.answer.clone(),
            Self::Test(answer) => answer.expose_secret().to_uppercase(),
            // Provider tokens are checked by `check_remote`, never here.
            Self::Remote(_) => return false,
        };
        bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::{OsRandom, ZeroRandom as Zeros};

    #[test]
    fn a_challenge_is_drawn_from_the_injected_randomness() {
        let c = Captchas::Builtin;
        let (a, shown_a) = c.issue(&Zeros, 0, PowLevel::FIRST);
        let (b, shown_b) = c.issue(&Zeros, 0, PowLevel::FIRST);
        assert_eq!(a.id, "0".repeat(32));
        assert_eq!((&a.id, &a.text, a.pow), (&b.id, &b.text, b.pow));
        let (pa, pb) = (shown_a.pow.unwrap(), shown_b.pow.unwrap());
        assert_eq!(
            (pa.salt.as_str(), pa.salt == pb.salt),
            ("0".repeat(32).as_str(), true)
        );
        assert_eq!(a.pow, Some(0), "the solution is drawn too");
        let (c1, _) = c.issue(&OsRandom, 0, PowLevel::FIRST);
        let (c2, _) = c.issue(&OsRandom, 0, PowLevel::FIRST);
        assert_ne!(c1.id, c2.id);
    }

    #[tokio::test]
    async fn builtin_answers_are_checked_once_and_expire() {
        let c = Captchas::Builtin;
        let (stored, shown) = c.issue(&OsRandom, 1000, PowLevel::FIRST);
        assert_eq!(shown.image_id.as_deref(), Some(stored.id.as_str()));
        assert_eq!(stored.answer.len(), 5);
        assert_eq!(
            Some(stored.answer.clone()),
            stored.text.as_ref().map(|t| t.to_uppercase())
        );
        assert!(c.check(Some(&stored), &stored.answer.to_lowercase(), 1010));
        assert!(!c.check(Some(&stored), "WRONG", 1010));
        assert!(!c.check(Some(&stored), &stored.answer, 1000 + CHALLENGE_TTL_SECS + 1));
        assert!(
            !c.check(None, &stored.answer, 1010),
            "no stored challenge: a replay"
        );
    }

    #[tokio::test]
    async fn the_image_is_drawn_once_for_the_sessions_current_challenge() {
        let c = Captchas::Builtin;
        let (stored, shown) = c.issue(&OsRandom, 1000, PowLevel::FIRST);
        let id = shown.image_id.unwrap();
        let (other, _) = c.issue(&OsRandom, 1000, PowLevel::FIRST);
        assert!(
            c.image(Some(&other), &id, 1001).await.is_none(),
            "not the session's"
        );
        assert!(
            c.image(None, &id, 1001).await.is_none(),
            "no challenge held"
        );
        let late = 1000 + CHALLENGE_TTL_SECS + 1;
        assert!(c.image(Some(&stored), &id, late).await.is_none(), "expired");
        let png = c.image(Some(&stored), &id, 1001).await.expect("drawn");
        assert!(png.starts_with(b"\x89PNG"));
        assert!(
            c.image(Some(&stored), &id, 1002).await.is_none(),
            "drawn once"
        );
        // No image at the top level, nor for the other providers.
        let (top, _) = c.issue(&OsRandom, 1000, PowLevel::TOP);
        assert!(c.image(Some(&top), &top.id, 1001).await.is_none());
        let test = Captchas::Test("x".to_owned().into());
        assert!(test.image(Some(&other), &other.id, 1001).await.is_none());
    }

    #[tokio::test]
    async fn proof_of_work_solutions_pass_once_found() {
        use sha2::Digest;
        let c = Captchas::Builtin;
        let (stored, shown) = c.issue(&OsRandom, 0, PowLevel::FIRST);
        let p = shown.pow.unwrap();
        let n = (0..=p.max)
            .find(|i| {
                let d = sha2::Sha256::digest(format!("{}{i}", p.salt).as_bytes());
                d.iter().map(|b| format!("{b:02x}")).collect::<String>() == p.hash
            })
            .expect("solvable within max");
        assert!(c.check(Some(&stored), &format!("pow:{n}"), 1));
        assert!(!c.check(Some(&stored), &format!("pow:{}", n + 1), 1));
        assert!(!c.check(Some(&stored), "pow:abc", 1));
    }

    #[tokio::test]
    async fn the_top_level_takes_only_the_proof_of_work() {
        // How the level rises: `captcha_pow::tests::work_rises_with_the_sources_history`.
        let c = Captchas::Builtin;
        let (low, shown_low) = c.issue(&OsRandom, 0, PowLevel::FIRST);
        assert!(shown_low.image_id.is_some());
        assert!(c.check(Some(&low), &low.answer, 1));
        let (top, shown_top) = c.issue(&OsRandom, 0, PowLevel::TOP);
        assert!(shown_top.image_id.is_none(), "no image to read at the top");
        assert_eq!(shown_top.pow.as_ref().unwrap().max, PowLevel::TOP.max());
        assert!(
            !c.check(Some(&top), &top.answer, 1),
            "the typed answer is refused"
        );
        let n = top.pow.unwrap();
        assert!(c.check(Some(&top), &format!("pow:{n}"), 1));
    }

    #[tokio::test]
    async fn test_provider_needs_its_answer_and_a_shown_challenge() {
        let c = Captchas::Test("let-me-in".to_owned().into());
        let (stored, _) = c.issue(&OsRandom, 0, PowLevel::FIRST);
        assert!(c.check(Some(&stored), "let-me-in", 1));
        assert!(!c.check(Some(&stored), "nope", 1));
        assert!(!c.check(None, "let-me-in", 1));
    }
}
