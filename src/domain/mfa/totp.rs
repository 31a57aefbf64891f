//! The authenticator app (RFC 6238: SHA-1, 30 s, 6 digits, ±1 step; `totp-rs`) and the
//! recovery codes. The secret is sealed at rest with the master key (`domain/seal.rs`, one
//! place per account: `totp:<user id>`); a code is accepted once (the last accepted time step
//! is stored and only a later one passes, atomically); ten recovery codes are shown once,
//! stored as SHA-256 digests, each usable once, regenerable. Enrolment is two steps: `start`
//! (an unconfirmed secret, shown with its `otpauth://` URL) and `confirm` (the first code).

use std::sync::Arc;

use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::domain::clients::hex_lower;
use crate::domain::clock::{Clock, Random};
use crate::domain::error::Unexpected;
use crate::domain::oauth::digest;
use crate::domain::seal::{Legacy, Sealer};
use crate::storage::mfa::MfaStore;

/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;

/// An enrolment in progress: what the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The secret, base32 (typed by hand into an app).
    pub secret: String,
    /// The `otpauth://totp/…` URL (the QR code's content).
    pub url: String,
}

impl Enrolment {
    /// What the session that started this enrolment keeps to show and confirm it again (a
    /// SHA-256 of the secret, never the secret): an unfinished enrolment is the account's row,
    /// and without this another session of the account (someone with the password) would be
    /// shown, or would confirm, the secret the owner is setting up.
    pub fn mark(&self) -> String {
        mark_of(&self.secret)
    }

    /// Whether `held` (a session's `mark`) is this enrolment's.
    pub fn is_held_by(&self, held: Option<&str>) -> bool {
        held_for(&self.secret, held)
    }
}

/// `Enrolment::mark` of a base32 secret.
fn mark_of(secret: &str) -> String {
    digest(&format!("totp-enrolment|{secret}"))
}

/// Whether `held` is the mark of the base32 `secret` (constant-time).
fn held_for(secret: &str, held: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    held.is_some_and(|h| bool::from(h.as_bytes().ct_eq(mark_of(secret).as_bytes())))
}

/// How a code answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// The app's code, for a time step not used before; `proven`: the app was set up by a
    /// session that had passed a factor (`TotpRecord::proven`).
    App {
        /// See above.
        proven: bool,
    },
    /// An unused recovery code (now used), of an app `proven` or not.
    RecoveryCode {
        /// See `App`.
        proven: bool,
    },
    /// Wrong, replayed, or no app.
    Failed,
}

/// Authenticator apps and recovery codes. Cheap to clone.
#[derive(Clone)]
pub struct Authenticators {
    store: Arc<dyn MfaStore>,
    sealer: Sealer,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    issuer: String,
    /// Keys the stored digests of recovery codes (a server secret, sealed at rest).
    recovery_key: Arc<aws_lc_rs::hmac::Key>,
}

impl std::fmt::Debug for Authenticators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticators")
    }
}

fn place(user_id: &str) -> String {
    format!("totp:{user_id}")
}

fn failed(e: impl std::fmt::Display) -> Unexpected {
    Unexpected(anyhow::anyhow!("totp: {e}"))
}

impl Authenticators {
    /// Over `store`; secrets sealed by `sealer`; apps show `issuer` (the product name);
    /// recovery codes stored as HMACs under `recovery_key`.
    pub fn new(
        store: Arc<dyn MfaStore>,
        sealer: Sealer,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        issuer: &str,
        recovery_key: Arc<aws_lc_rs::hmac::Key>,
    ) -> Self {
        Self {
            store,
            sealer,
            clock,
            random,
            issuer: issuer.replace(':', ""),
            recovery_key,
        }
    }

    /// What is stored of `user_id`'s recovery code `code`: an HMAC under the server's key, of
    /// the account and the code. A code has about 49 bits; stored as a plain SHA-256 (as
    /// before), one search of that space read every account's codes out of a copy of the
    /// database. Now the search needs the key, which is sealed by the master key, and covers
    /// one account.
    fn recovery_digest(&self, user_id: &str, code: &str) -> String {
        let message = format!("{user_id}|{}", normalise(code));
        hex_lower(aws_lc_rs::hmac::sign(&self.recovery_key, message.as_bytes()).as_ref())
    }

    fn totp(&self, secret: Vec<u8>, account: &str) -> Result<Totp, Unexpected> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(Secret::from(secret))
            .with_issuer(Some(self.issuer.as_str()))
            .with_account_name(account.replace(':', ""))
            .build()
            .map_err(failed)
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// Whether the account has a confirmed app.
    pub async fn has_app(&self, user_id: &str) -> Result<bool, Unexpected> {
        Ok(self
            .store
            .totp(user_id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some()))
    }

    /// When the account's app was confirmed (unix seconds), and whether by a session whose
    /// sign-in had passed a factor, if it has one.
    pub async fn confirmed_app(&self, user_id: &str) -> Result<Option<(i64, bool)>, Unexpected> {
        let app = self.store.totp(user_id).await?;
        Ok(app.and_then(|t| t.confirmed_at.map(|at| (at, t.proven))))
    }

    /// Starts an enrolment (replacing an unfinished one); `None` if an app is confirmed.
    pub async fn start(&self, user_id: &str, email: &str) -> Result<Option<Enrolment>, Unexpected> {
        let mut secret = vec![0u8; 20];
        self.random.fill(&mut secret);
        let sealed = self.sealer.seal(&place(user_id), &secret)?;
        if !self.store.start_totp(user_id, &sealed, self.now()).await? {
            return Ok(None);
        }
        let totp = self.totp(secret, email)?;
        Ok(Some(Enrolment {
            secret: totp.secret().to_base32(),
            url: totp.to_url().map_err(failed)?,
        }))
    }

    /// The unfinished enrolment, shown again (a reload, a wrong first code).
    pub async fn pending(
        &self,
        user_id: &str,
        email: &str,
    ) -> Result<Option<Enrolment>, Unexpected> {
        let Some(rec) = self
            .store
            .totp(user_id)
            .await?
            .filter(|t| t.confirmed_at.is_none())
        else {
            return Ok(None);
        };
        let totp = self.open(user_id, &rec.secret_sealed, email)?;
        Ok(Some(Enrolment {
            secret: totp.secret().to_base32(),
            url: totp.to_url().map_err(failed)?,
        }))
    }

    fn open(&self, user_id: &str, sealed: &str, account: &str) -> Result<Totp, Unexpected> {
        let opened = self
            .sealer
            .open(&place(user_id), sealed, Legacy::Text)
            .map_err(failed)?;
        self.totp(opened.plain, account)
    }

    /// The step `code` is valid for under `totp` now, if any.
    fn step_of(&self, totp: &Totp, code: &str) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let now = u64::try_from(self.now()).ok()?;
        totp.check(&code, now).and_then(|s| i64::try_from(s).ok())
    }

    /// Confirms the unfinished enrolment with its first code, by the session that started it
    /// (`held`: its `Enrolment::mark`) and whose sign-in had passed a factor (`proven`) or not;
    /// the new recovery codes, or `None` for a wrong code (or no enrolment, or another
    /// session's).
    pub async fn confirm(
        &self,
        user_id: &str,
        code: &str,
        (held, proven): (Option<&str>, bool),
    ) -> Result<Option<Vec<String>>, Unexpected> {
        let Some(rec) = self
            .store
            .totp(user_id)
            .await?
            .filter(|t| t.confirmed_at.is_none())
        else {
            return Ok(None);
        };
        let totp = self.open(user_id, &rec.secret_sealed, "")?;
        let started_here = held_for(&totp.secret().to_base32(), held);
        let Some(step) = self.step_of(&totp, code).filter(|_| started_here) else {
            return Ok(None);
        };
        if !self
            .store
            .confirm_totp(user_id, step, self.now(), proven)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(self.regenerate(user_id).await?))
    }

    /// Checks a step-up's `totp_code`: the app's code (once per time step), or else an unused
    /// recovery code.
    pub async fn check(&self, user_id: &str, code: &str) -> Result<TotpCheck, Unexpected> {
        let Some(rec) = self
            .store
            .totp(user_id)
            .await?
            .filter(|t| t.confirmed_at.is_some())
        else {
            return Ok(TotpCheck::Failed);
        };
        let totp = self.open(user_id, &rec.secret_sealed, "")?;
        if let Some(step) = self.step_of(&totp, code) {
            let fresh = self.store.use_totp_step(user_id, step).await?;
            return Ok(if fresh {
                TotpCheck::App { proven: rec.proven }
            } else {
                TotpCheck::Failed
            });
        }
        let mut used = self
            .store
            .use_recovery_code(user_id, &self.recovery_digest(user_id, code), self.now())
            .await?;
        if !used {
            // Codes made before they were keyed: stored as their plain SHA-256.
            used = self
                .store
                .use_recovery_code(user_id, &digest(&normalise(code)), self.now())
                .await?;
        }
        Ok(if used {
            TotpCheck::RecoveryCode { proven: rec.proven }
        } else {
            TotpCheck::Failed
        })
    }

    /// New recovery codes (the old ones stop working); shown once, stored as digests.
    pub async fn regenerate(&self, user_id: &str) -> Result<Vec<String>, Unexpected> {
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| self.recovery_code()).collect();
        let digests: Vec<String> = codes
            .iter()
            .map(|c| self.recovery_digest(user_id, c))
            .collect();
        self.store
            .replace_recovery_codes(user_id, &digests, self.now())
            .await?;
        Ok(codes)
    }

    /// Removes the app and its recovery codes; `true` if there was an app.
    pub async fn remove(&self, user_id: &str) -> Result<bool, Unexpected> {
        Ok(self.store.remove_totp(user_id).await?)
    }

    /// Unused recovery codes left.
    pub async fn codes_left(&self, user_id: &str) -> Result<i64, Unexpected> {
        Ok(self.store.recovery_codes_left(user_id).await?)
    }

    /// `xxxxx-xxxxx`: ten characters of an alphabet without look-alikes (about 49 bits).
    fn recovery_code(&self) -> String {
        let alphabet: Vec<char> = "abcdefghjkmnpqrstuvwxyz23456789".chars().collect();
        let mut buf = [0u8; 10];
        self.random.fill(&mut buf);
        let chars: Vec<char> = buf
            .iter()
            .filter_map(|b| alphabet.get(usize::from(*b) % alphabet.len()).copied())
            .collect();
        let (a, b) = chars.split_at(chars.len() / 2);
        format!(
            "{}-{}",
            a.iter().collect::<String>(),
            b.iter().collect::<String>()
        )
    }
}

/// A recovery code as typed, normalised: lower case, without spaces or dashes.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}
