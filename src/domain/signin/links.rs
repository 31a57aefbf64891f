//! Signed, expiring, single-use links mailed to the owner: the lockout mail's unlock link,
//! the new-device alert's "wasn't you?" link (and its confirmation's reset button) and the
//! registration's address verification. A
//! token is `user.expiry.mac`; the `Purpose` and the expiry are inside the MAC, so a token for one purpose never works for another. Using a
//! link (`redeem`) records its digest as spent (`storage/protection/links.rs`), so a replay —
//! or a mail scanner that got there first — does nothing more.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::clock::Clock;
use crate::domain::error::Unexpected;
use crate::domain::oauth::digest;
use crate::storage::protection::links::SpentLinkStore;

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Lifts the account's lock (the lockout mail).
    Unlock,
    /// Reports a sign-in the owner did not make (the new-device alert).
    NotMe,
    /// After a report, mails the account's own address a password-reset link (the "wasn't
    /// you?" confirmation's button; carried in that page's form, never in a URL or a mail).
    NotMeReset,
    /// Verifies the address given at registration.
    VerifyEmail,
    /// A passed CAPTCHA held for the rest of one attempt (`pass.rs`; never mailed: it stays
    /// in the server-side session).
    ChallengePass,
}

impl Purpose {
    /// The purpose's name inside the MAC (changing it invalidates every link in flight).
    fn as_str(self) -> &'static str {
        match self {
            Self::Unlock => "unlock",
            Self::NotMe => "not_me",
            Self::NotMeReset => "not_me_reset",
            Self::VerifyEmail => "verify_email",
            Self::ChallengePass => "challenge_pass",
        }
    }
}

/// How long a "wasn't you?" link stays valid.
const NOT_ME_TTL_SECS: i64 = 7 * 86_400;

/// How long the "wasn't you?" confirmation's reset button works.
const NOT_ME_RESET_TTL_SECS: i64 = 3_600;

/// How long a verification link stays valid.
pub(crate) const VERIFY_TTL_SECS: i64 = 2 * 86_400;

/// Longer tokens are refused before any work (a real one is about 90 characters).
const MAX_TOKEN_LEN: usize = 512;

/// Issues and checks link tokens. Cheap to clone.
#[derive(Clone)]
pub struct Links {
    key: Arc<hmac::Key>,
    clock: Arc<dyn Clock>,
    spent: Arc<dyn SpentLinkStore>,
    unlock_ttl_secs: i64,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Links")
    }
}

impl Links {
    /// Links signed with `key`, spent in `spent`; unlock links live `unlock_ttl_secs`.
    pub fn new(
        key: Arc<hmac::Key>,
        clock: Arc<dyn Clock>,
        spent: Arc<dyn SpentLinkStore>,
        unlock_ttl_secs: i64,
    ) -> Self {
        Self {
            key,
            clock,
            spent,
            unlock_ttl_secs,
        }
    }

    /// A token for `purpose` naming `user_id`.
    pub fn issue(&self, purpose: Purpose, user_id: &str) -> String {
        let ttl = match purpose {
            Purpose::Unlock => self.unlock_ttl_secs,
            Purpose::NotMe => NOT_ME_TTL_SECS,
            Purpose::NotMeReset => NOT_ME_RESET_TTL_SECS,
            Purpose::VerifyEmail => VERIFY_TTL_SECS,
            Purpose::ChallengePass => crate::domain::signin::pass::PASS_TTL_SECS,
        };
        self.issue_for(purpose, user_id, ttl)
    }

    fn issue_for(&self, purpose: Purpose, user_id: &str, ttl_secs: i64) -> String {
        let expiry = self.clock.now().unix_timestamp() + ttl_secs;
        let tag = hmac::sign(
            &self.key,
            format!("{}|{user_id}|{expiry}", purpose.as_str()).as_bytes(),
        );
        format!(
            "{user_id}.{expiry}.{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The user id a token for `purpose` names, if it is valid, unexpired and not spent yet
    /// (a confirmation page is shown only for such a link; showing it spends nothing).
    pub async fn usable(
        &self,
        purpose: Purpose,
        token: &str,
    ) -> Result<Option<String>, Unexpected> {
        let Some((user, _)) = self.check(purpose, token) else {
            return Ok(None);
        };
        let spent = self.spent.is_link_spent(&digest(token)).await?;
        Ok((!spent).then_some(user))
    }

    /// Uses a token for `purpose`: the user id it names if it is valid, unexpired and this is
    /// its first use (it is spent now, atomically: of concurrent uses exactly one wins).
    pub async fn redeem(
        &self,
        purpose: Purpose,
        token: &str,
    ) -> Result<Option<String>, Unexpected> {
        let Some((user, expiry)) = self.check(purpose, token) else {
            return Ok(None);
        };
        let now = self.clock.now().unix_timestamp();
        let first = self
            .spent
            .spend_link(&digest(token), purpose.as_str(), expiry, now)
            .await?;
        Ok(first.then_some(user))
    }

    /// Takes one of the `max` answers a step-up may have checked (`binding`, its random id;
    /// `until`, when it expires): `false` once every one is taken. Each answer is a marker
    /// spent in the shared store, so concurrent answers — on any instance — each take another
    /// and no more than `max` are ever checked. (The step-up's own failure count lives in the
    /// session, which each request reads and writes whole: parallel wrong answers all saw the
    /// same count, and the limit admitted about `max` per request in flight.)
    pub async fn take_answer(
        &self,
        binding: &str,
        max: u32,
        until: i64,
    ) -> Result<bool, Unexpected> {
        for k in 1..=max {
            let marker = format!("step-up-answer|{binding}|{k}");
            if self.spend_marker("step_up_answer", &marker, until).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Spends the marker `key` of `kind` (remembered until `until`) in the shared store:
    /// `true` if this call spent it (of concurrent calls, on any instance, exactly one does).
    pub async fn spend_marker(
        &self,
        kind: &'static str,
        key: &str,
        until: i64,
    ) -> Result<bool, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        Ok(self
            .spent
            .spend_link(&digest(key), kind, until, now)
            .await?)
    }

    /// The user id and expiry a token for `purpose` names, if it is validly signed and
    /// unexpired (spent or not).
    fn check(&self, purpose: Purpose, token: &str) -> Option<(String, i64)> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let mut parts = token.splitn(3, '.');
        let (user, expiry, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let exp: i64 = expiry.parse().ok()?;
        // Only the form `issue_for` writes: `parse` also takes `+123` and `0123`, which the
        // MAC (over the number) would pass, and each spelling is another digest to spend — the
        // same link used again and again.
        if exp.to_string() != expiry {
            return None;
        }
        if exp <= self.clock.now().unix_timestamp() {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(mac).ok()?;
        hmac::verify(
            &self.key,
            format!("{}|{user}|{exp}", purpose.as_str()).as_bytes(),
            &tag,
        )
        .ok()?;
        Some((user.to_owned(), exp))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use super::*;
    use crate::storage::error::StoreError;

    /// Spent links in memory (the real table is checked by the storage contract).
    #[derive(Default)]
    struct MemorySpent(Mutex<HashSet<String>>);

    #[async_trait::async_trait]
    impl SpentLinkStore for MemorySpent {
        async fn spend_link(&self, d: &str, _: &str, _: i64, _: i64) -> Result<bool, StoreError> {
            Ok(self.0.lock().unwrap().insert(d.to_owned()))
        }
        async fn is_link_spent(&self, d: &str) -> Result<bool, StoreError> {
            Ok(self.0.lock().unwrap().contains(d))
        }
    }

    fn links() -> (Links, Arc<hmac::Key>, Arc<crate::domain::clock::FakeClock>) {
        let clock = Arc::new(crate::domain::clock::FakeClock::new(
            time::macros::datetime!(2026-01-01 00:00 UTC),
        ));
        let key = Arc::new(hmac::Key::new(hmac::HMAC_SHA256, b"k"));
        let spent = Arc::new(MemorySpent::default());
        (
            Links::new(key.clone(), clock.clone(), spent, 86_400),
            key,
            clock,
        )
    }

    fn user(checked: Option<(String, i64)>) -> Option<String> {
        checked.map(|(u, _)| u)
    }

    #[test]
    fn link_tokens_are_bound_to_purpose_and_expire() {
        let (p, key, clock) = links();
        let t = p.issue_for(Purpose::Unlock, "u1", 60);
        assert_eq!(user(p.check(Purpose::Unlock, &t)).as_deref(), Some("u1"));
        assert_eq!(p.check(Purpose::NotMe, &t), None, "another purpose");
        let forged = t.replacen("u1", "u2", 1);
        assert_eq!(p.check(Purpose::Unlock, &forged), None);
        // Links mailed before the refactor stay valid: the MAC input is unchanged.
        let exp = clock.now().unix_timestamp() + 60;
        let old = hmac::sign(&key, format!("not_me|u1|{exp}").as_bytes());
        let old = format!("u1.{exp}.{}", URL_SAFE_NO_PAD.encode(old.as_ref()));
        assert_eq!(user(p.check(Purpose::NotMe, &old)).as_deref(), Some("u1"));
        assert_eq!(
            p.check(Purpose::NotMe, &format!("{old}{}", "A".repeat(600))),
            None
        );
        clock.advance(time::Duration::seconds(61));
        assert_eq!(p.check(Purpose::Unlock, &t), None, "expired");
    }

    #[tokio::test]
    async fn a_link_is_redeemed_once_and_looking_spends_nothing() {
        let (p, _, _) = links();
        let t = p.issue(Purpose::NotMe, "u1");
        for _ in 0..2 {
            assert_eq!(
                p.usable(Purpose::NotMe, &t).await.unwrap().as_deref(),
                Some("u1")
            );
        }
        assert_eq!(
            p.redeem(Purpose::NotMe, &t).await.unwrap().as_deref(),
            Some("u1")
        );
        assert_eq!(
            p.redeem(Purpose::NotMe, &t).await.unwrap(),
            None,
            "replayed"
        );
        assert_eq!(p.usable(Purpose::NotMe, &t).await.unwrap(), None, "spent");
        // Another link of the same user and purpose is its own.
        let other = p.issue_for(Purpose::NotMe, "u1", 30);
        assert_eq!(
            p.redeem(Purpose::NotMe, &other).await.unwrap().as_deref(),
            Some("u1")
        );
        assert_eq!(p.redeem(Purpose::Unlock, "u1.1.x").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_spent_link_is_not_used_again_under_another_spelling_of_its_expiry() {
        let (p, _, _) = links();
        let t = p.issue(Purpose::NotMe, "u1");
        assert!(p.redeem(Purpose::NotMe, &t).await.unwrap().is_some());
        let (user, rest) = t.split_once('.').unwrap();
        for respelt in [
            format!("{user}.0{rest}"),
            format!("{user}.00{rest}"),
            format!("{user}.+{rest}"),
        ] {
            assert_eq!(p.usable(Purpose::NotMe, &respelt).await.unwrap(), None);
            assert_eq!(p.redeem(Purpose::NotMe, &respelt).await.unwrap(), None);
        }
        // Unspent, a respelt link is refused all the same.
        let fresh = p.issue(Purpose::Unlock, "u1");
        let (user, rest) = fresh.split_once('.').unwrap();
        assert_eq!(p.check(Purpose::Unlock, &format!("{user}.0{rest}")), None);
        assert!(p.check(Purpose::Unlock, &fresh).is_some());
    }
}
