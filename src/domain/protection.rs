//! The decision point every sign-in passes through: failure counters per (account, source),
//! the ladder allow → challenge → block, an account-wide lock against distributed guessing,
//! and the known-device exemption that keeps the owner in during an attack.
//!
//! A *source* is the signed device cookie when the browser carries a valid one for this
//! account, otherwise the client network (IPv4 address, IPv6 /64). Attempts are counted
//! *before* the password is checked, in one atomic statement, so parallel requests cannot run
//! more password checks than the block threshold allows; a success clears the pair, a refusal
//! that never reached the password check is taken back.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::clock::{Clock, Random};
use crate::domain::error::DomainError;
use crate::domain::risk::Verdict;
use crate::storage::AccountRecord;
use crate::storage::protection::{FailureState, FailureStore, SignInKeys};

/// The account-wide row's source name.
const ALL_SOURCES: &str = "*";

/// Thresholds (within a sliding window per pair).
#[derive(Debug, Clone, Copy)]
pub struct ProtectionSettings {
    /// The window failures are counted in (seconds).
    pub window_secs: i64,
    /// Attempts after this many failures need a passed challenge.
    pub challenge_after: i64,
    /// More failures than this block the pair.
    pub block_after: i64,
    /// The first block's length (seconds); each further block doubles it (at most a day).
    pub block_secs: i64,
    /// This many failures from unknown sources, summed over all of them, lock the account for
    /// unknown sources (they then need a challenge; known devices are untouched).
    pub lock_after: i64,
    /// How long the lock lasts (seconds).
    pub lock_secs: i64,
    /// The delay step for failed answers (milliseconds; at most 2 s in all).
    pub delay_ms: u64,
}

impl Default for ProtectionSettings {
    fn default() -> Self {
        Self {
            window_secs: 900,
            challenge_after: 3,
            block_after: 10,
            block_secs: 300,
            lock_after: 30,
            lock_secs: 3600,
            delay_ms: 250,
        }
    }
}

/// The state of the challenge in this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeAnswer {
    /// No answer was sent.
    Absent,
    /// An answer was sent and was right (single use: it is spent now).
    Passed,
    /// An answer was sent and was wrong, stale or replayed.
    Failed,
}

/// What the gate says before the password check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead and check the password; if it is wrong, answer after `delay_ms` (the "delay"
    /// rung: grows with the pair's failures, so guessing slows down before any challenge).
    Admit {
        /// Milliseconds to hold a failed answer.
        delay_ms: u64,
    },
    /// Show a challenge first (`reason` names why, for the event).
    Challenge(&'static str),
    /// The risk score asks for a challenge: check the password anyway (the attempt stays
    /// counted), then answer with the challenge whatever the result, so the owner can be told
    /// when the right password came from a risky place.
    CheckThenChallenge {
        /// Milliseconds to hold a failed answer.
        delay_ms: u64,
    },
    /// Refuse for `retry_after` seconds.
    Blocked {
        /// Seconds.
        retry_after: u64,
    },
}

/// A counted sign-in: what the decision point looked up and counted on the way.
#[derive(Debug, Clone)]
pub struct Counted {
    /// The account the username names, if any.
    pub account: Option<AccountRecord>,
    /// The counter's account key (`user:<id>` or the unknown-name key).
    pub counter: String,
    /// The counter's source key.
    pub source_key: String,
    /// Where the attempt comes from.
    pub source: Source,
    /// The pair's state after counting this attempt.
    pub state: FailureState,
    /// When (unix seconds).
    pub now: i64,
}

/// Where an attempt comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A browser with a valid device cookie for this account.
    Device(String),
    /// Anything else, by network.
    Net(String),
}

impl Source {
    /// The counter's source key.
    pub fn key(&self) -> String {
        match self {
            Self::Device(id) => format!("device:{id}"),
            Self::Net(net) => format!("net:{net}"),
        }
    }

    /// Whether the source is a known device.
    pub fn is_known_device(&self) -> bool {
        matches!(self, Self::Device(_))
    }
}

/// The protection service. Cheap to clone.
#[derive(Clone)]
pub struct Protection {
    store: Arc<dyn FailureStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    device_key: Arc<hmac::Key>,
    settings: ProtectionSettings,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Protection")
    }
}

impl Protection {
    /// Builds the service, loading (or creating, once for all instances) the device-cookie key.
    pub async fn load(
        store: Arc<dyn FailureStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        settings: ProtectionSettings,
    ) -> Result<Self, DomainError> {
        let fresh = random.token(32);
        let secret = store
            .secret("device_cookie_key", &fresh, clock.now().unix_timestamp())
            .await?;
        let device_key = Arc::new(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()));
        Ok(Self {
            store,
            clock,
            random,
            device_key,
            settings,
        })
    }

    fn mac(&self, device_id: &str, user_id: &str) -> String {
        let tag = hmac::sign(
            &self.device_key,
            format!("device|{device_id}|{user_id}").as_bytes(),
        );
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// A new device cookie value for `user_id` (`device.user.mac`).
    pub fn issue_device(&self, user_id: &str) -> String {
        let device_id = self.random.token(16);
        format!("{device_id}.{user_id}.{}", self.mac(&device_id, user_id))
    }

    /// The device id in `cookie` if it is a valid cookie for `user_id` (constant-time check);
    /// sign-ins resolve the cookie in `count_sign_in`.
    #[cfg(test)]
    fn known_device(&self, cookie: Option<&str>, user_id: &str) -> Option<String> {
        self.device_claim(cookie?)
            .filter(|(_, user)| user == user_id)
            .map(|(device, _)| device)
    }

    /// The (device id, user id) a validly signed device cookie names.
    fn device_claim(&self, cookie: &str) -> Option<(String, String)> {
        let mut parts = cookie.splitn(3, '.');
        let (device, user, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let tag = URL_SAFE_NO_PAD.decode(mac).ok()?;
        hmac::verify(
            &self.device_key,
            format!("device|{device}|{user}").as_bytes(),
            &tag,
        )
        .ok()?;
        Some((device.to_owned(), user.to_owned()))
    }

    /// Step before the password check: counts the attempt and decides.
    pub async fn admit(
        &self,
        account: &str,
        source: &Source,
        answer: ChallengeAnswer,
    ) -> Result<Admission, DomainError> {
        let now = self.clock.now().unix_timestamp();
        let key = source.key();
        // One statement counts the attempt and reads both the pair's block and the account's
        // lock.
        let st = self
            .store
            .count_attempt(account, &key, None, now, now - self.settings.window_secs)
            .await?;
        self.decide(account, &key, source, st, answer, now, None)
            .await
    }

    /// The sign-in's step before the password check: looks up the account named by `email`
    /// and counts the attempt in the same round trip (the counter row depends on the account:
    /// `user:<id>`, or `unknown_account` when none matches; the source is the device in
    /// `device_cookie` when it is a valid cookie for that account, else `net`). The decision
    /// follows in `decide_sign_in`, once the risk score is known.
    pub async fn count_sign_in(
        &self,
        email: Option<&str>,
        unknown_account: &str,
        device_cookie: Option<&str>,
        net: &str,
        prefix: &str,
    ) -> Result<Counted, DomainError> {
        let now = self.clock.now().unix_timestamp();
        let claim = device_cookie.and_then(|c| self.device_claim(c));
        let device_key = claim
            .as_ref()
            .map(|(device, _)| Source::Device(device.clone()).key());
        let net_key = Source::Net(net.to_owned()).key();
        let keys = SignInKeys {
            email,
            unknown_account,
            device: claim
                .as_ref()
                .zip(device_key.as_deref())
                .map(|((_, user), key)| (user.as_str(), key)),
            net: &net_key,
            prefix,
            now,
            window_cutoff: now - self.settings.window_secs,
        };
        let counted = self.store.find_and_count(&keys).await?;
        let source = match claim {
            Some((device, _)) if device_key.as_deref() == Some(counted.source.as_str()) => {
                Source::Device(device)
            }
            _ => Source::Net(net.to_owned()),
        };
        Ok(Counted {
            account: counted.account,
            counter: counted.account_key,
            source_key: counted.source,
            source,
            state: counted.state,
            now,
        })
    }

    /// The ladder for a counted sign-in, with the risk engine's verdict as one more signal: a
    /// `Block` verdict refuses for `AUTHD_BLOCK_SECS` (not stored: the next attempt is scored
    /// again), a `Challenge` verdict needs a passed challenge like repeated failures do.
    pub async fn decide_sign_in(
        &self,
        c: &Counted,
        answer: ChallengeAnswer,
        risk: Verdict,
    ) -> Result<Admission, DomainError> {
        if risk == Verdict::Block {
            self.store.uncount(&c.counter, &c.source_key).await?;
            return Ok(Admission::Blocked {
                retry_after: u64::try_from(self.settings.block_secs).unwrap_or(300),
            });
        }
        self.decide(
            &c.counter,
            &c.source_key,
            &c.source,
            c.state,
            answer,
            c.now,
            (risk == Verdict::Challenge).then_some("high_risk"),
        )
        .await
    }

    /// The ladder, given the pair's state after counting this attempt.
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        account: &str,
        key: &str,
        source: &Source,
        st: FailureState,
        answer: ChallengeAnswer,
        now: i64,
        risk_reason: Option<&'static str>,
    ) -> Result<Admission, DomainError> {
        let s = &self.settings;
        if let Some(until) = st.blocked_until.filter(|u| *u > now) {
            self.store.uncount(account, key).await?;
            return Ok(Admission::Blocked {
                retry_after: u64::try_from(until - now).unwrap_or(1).max(1),
            });
        }
        if st.failures > s.block_after {
            let exp = u32::try_from(st.blocks.clamp(0, 8)).unwrap_or(8);
            let length = (s.block_secs * 2_i64.pow(exp)).min(86_400);
            self.store.block(account, key, now + length).await?;
            return Ok(Admission::Blocked {
                retry_after: u64::try_from(length).unwrap_or(1),
            });
        }
        let locked = !source.is_known_device() && st.account_locked_until.is_some_and(|u| u > now);
        let reason = if locked {
            Some("account_locked")
        } else if st.failures > s.challenge_after {
            Some("repeated_failures")
        } else {
            risk_reason
        };
        match (reason, answer) {
            (None, _) | (Some(_), ChallengeAnswer::Passed) => {
                // The first failure is free; each further one in the window adds a step.
                let steps = u64::try_from((st.failures - 1).max(0)).unwrap_or(0);
                Ok(Admission::Admit {
                    delay_ms: (steps * s.delay_ms).min(2_000),
                })
            }
            (Some(r), ChallengeAnswer::Absent) if Some(r) == risk_reason => {
                let steps = u64::try_from((st.failures - 1).max(0)).unwrap_or(0);
                Ok(Admission::CheckThenChallenge {
                    delay_ms: (steps * s.delay_ms).min(2_000),
                })
            }
            (Some(r), ChallengeAnswer::Absent) => {
                // Nothing was tried yet: showing the challenge costs the source nothing.
                self.store.uncount(account, key).await?;
                Ok(Admission::Challenge(r))
            }
            // A wrong answer counts as a failure: bots guessing challenges still get blocked.
            (Some(r), ChallengeAnswer::Failed) => Ok(Admission::Challenge(r)),
        }
    }

    /// Step after a successful password check: clears the pair and stores the success event in
    /// the same round trip (the event write happens anyway, so the clear costs almost nothing).
    pub async fn succeed(
        &self,
        account: &str,
        source: &Source,
        event: &crate::events::AuthEvent,
    ) -> Result<(), DomainError> {
        Ok(self
            .store
            .clear_with_event(account, &source.key(), event)
            .await?)
    }

    /// Takes back a counted attempt that turned out to carry the right password but was still
    /// refused (the risk challenge): it was not a failure.
    pub async fn take_back(&self, account: &str, source: &Source) -> Result<(), DomainError> {
        Ok(self.store.uncount(account, &source.key()).await?)
    }

    /// Step after a failed password check: the attempt already counted for the pair; from an
    /// unknown source it also counts account-wide, and `true` means it locked the account.
    pub async fn record_failure(
        &self,
        account: &str,
        source: &Source,
    ) -> Result<bool, DomainError> {
        let now = self.clock.now().unix_timestamp();
        if source.is_known_device() {
            return Ok(false);
        }
        let s = &self.settings;
        let st = self
            .store
            .count_attempt(account, ALL_SOURCES, None, now, now - s.window_secs)
            .await?;
        if st.failures >= s.lock_after && st.blocked_until.is_none_or(|u| u <= now) {
            self.store
                .block(account, ALL_SOURCES, now + s.lock_secs)
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Lifts every block and lock of an account; `true` if there was anything to lift.
    pub async fn unlock(&self, account: &str) -> Result<bool, DomainError> {
        Ok(self.store.clear_account(account).await? > 0)
    }

    /// A signed, expiring link token for `purpose` (`user.expiry.mac`): unlock links and
    /// "wasn't you?" links. Stateless; expiry and purpose are inside the MAC.
    pub fn link_token(&self, purpose: &str, user_id: &str, ttl_secs: i64) -> String {
        let expiry = self.clock.now().unix_timestamp() + ttl_secs;
        let tag = hmac::sign(
            &self.device_key,
            format!("{purpose}|{user_id}|{expiry}").as_bytes(),
        );
        format!(
            "{user_id}.{expiry}.{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The user id a link token for `purpose` names, if it is valid and unexpired.
    pub fn check_link_token(&self, purpose: &str, token: &str) -> Option<String> {
        let mut parts = token.splitn(3, '.');
        let (user, expiry, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let exp: i64 = expiry.parse().ok()?;
        if exp <= self.clock.now().unix_timestamp() {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(mac).ok()?;
        hmac::verify(
            &self.device_key,
            format!("{purpose}|{user}|{exp}").as_bytes(),
            &tag,
        )
        .ok()?;
        Some(user.to_owned())
    }

    /// A token for the lockout mail's unlock link.
    pub fn unlock_token(&self, user_id: &str) -> String {
        self.link_token("unlock", user_id, self.settings.lock_secs.max(86_400))
    }

    /// The user an unlock token names, if valid.
    pub fn check_unlock_token(&self, token: &str) -> Option<String> {
        self.check_link_token("unlock", token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_are_bound_to_purpose_and_expire() {
        let clock = Arc::new(crate::domain::clock::FakeClock::new(
            time::macros::datetime!(2026-01-01 00:00 UTC),
        ));
        let key = Arc::new(hmac::Key::new(hmac::HMAC_SHA256, b"k"));
        let p = Protection {
            store: Arc::new(NoStore),
            clock: clock.clone(),
            random: Arc::new(crate::domain::clock::OsRandom),
            device_key: key,
            settings: ProtectionSettings::default(),
        };
        let t = p.link_token("unlock", "u1", 60);
        assert_eq!(p.check_link_token("unlock", &t).as_deref(), Some("u1"));
        assert_eq!(p.check_link_token("wasnt_me", &t), None, "another purpose");
        let forged = t.replacen("u1", "u2", 1);
        assert_eq!(p.check_link_token("unlock", &forged), None);
        clock.advance(time::Duration::seconds(61));
        assert_eq!(p.check_link_token("unlock", &t), None, "expired");
        let cookie = p.issue_device("u1");
        assert!(p.known_device(Some(&cookie), "u1").is_some());
        assert!(p.known_device(Some(&cookie), "u2").is_none());
        assert!(p.known_device(Some("a.u1.AAAA"), "u1").is_none());
    }

    #[derive(Debug)]
    struct NoStore;

    #[async_trait::async_trait]
    impl FailureStore for NoStore {
        async fn count_attempt(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
            _: i64,
            _: i64,
        ) -> Result<crate::storage::protection::FailureState, crate::storage::error::StoreError>
        {
            Err(crate::storage::error::StoreError::NotFound)
        }
        async fn find_and_count(
            &self,
            _: &SignInKeys<'_>,
        ) -> Result<crate::storage::protection::SignInCount, crate::storage::error::StoreError>
        {
            Err(crate::storage::error::StoreError::NotFound)
        }
        async fn block(
            &self,
            _: &str,
            _: &str,
            _: i64,
        ) -> Result<(), crate::storage::error::StoreError> {
            Ok(())
        }
        async fn uncount(&self, _: &str, _: &str) -> Result<(), crate::storage::error::StoreError> {
            Ok(())
        }
        async fn clear_with_event(
            &self,
            _: &str,
            _: &str,
            _: &crate::events::AuthEvent,
        ) -> Result<(), crate::storage::error::StoreError> {
            Ok(())
        }
        async fn find(
            &self,
            _: &str,
            _: &str,
        ) -> Result<
            Option<crate::storage::protection::FailureState>,
            crate::storage::error::StoreError,
        > {
            Ok(None)
        }
        async fn clear_account(&self, _: &str) -> Result<u64, crate::storage::error::StoreError> {
            Ok(0)
        }
        async fn secret(
            &self,
            _: &str,
            f: &str,
            _: i64,
        ) -> Result<String, crate::storage::error::StoreError> {
            Ok(f.to_owned())
        }
    }
}
