//! Signed, expiring links mailed to the owner: the lockout mail's unlock link and the new-device
//! alert's "wasn't you?" link. A token is `user.expiry.mac`, stateless; the `Purpose` and the
//! expiry are inside the MAC, so a token for one purpose never works for another.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::clock::Clock;

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Lifts the account's lock (the lockout mail).
    Unlock,
    /// Reports a sign-in the owner did not make (the new-device alert).
    NotMe,
}

impl Purpose {
    /// The purpose's name inside the MAC (changing it invalidates every link in flight).
    fn as_str(self) -> &'static str {
        match self {
            Self::Unlock => "unlock",
            Self::NotMe => "not_me",
        }
    }
}

/// How long a "wasn't you?" link stays valid.
const NOT_ME_TTL_SECS: i64 = 7 * 86_400;

/// Issues and checks link tokens. Cheap to clone.
#[derive(Clone)]
pub struct Links {
    key: Arc<hmac::Key>,
    clock: Arc<dyn Clock>,
    unlock_ttl_secs: i64,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Links")
    }
}

impl Links {
    /// Links signed with `key`; unlock links live `unlock_ttl_secs`.
    pub fn new(key: Arc<hmac::Key>, clock: Arc<dyn Clock>, unlock_ttl_secs: i64) -> Self {
        Self {
            key,
            clock,
            unlock_ttl_secs,
        }
    }

    /// A token for `purpose` naming `user_id`.
    pub fn issue(&self, purpose: Purpose, user_id: &str) -> String {
        let ttl = match purpose {
            Purpose::Unlock => self.unlock_ttl_secs,
            Purpose::NotMe => NOT_ME_TTL_SECS,
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

    /// The user id a token for `purpose` names, if it is valid and unexpired.
    pub fn check(&self, purpose: Purpose, token: &str) -> Option<String> {
        let mut parts = token.splitn(3, '.');
        let (user, expiry, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let exp: i64 = expiry.parse().ok()?;
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
        Some(user.to_owned())
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
        let p = Links::new(key.clone(), clock.clone(), 86_400);
        let t = p.issue_for(Purpose::Unlock, "u1", 60);
        assert_eq!(p.check(Purpose::Unlock, &t).as_deref(), Some("u1"));
        assert_eq!(p.check(Purpose::NotMe, &t), None, "another purpose");
        let forged = t.replacen("u1", "u2", 1);
        assert_eq!(p.check(Purpose::Unlock, &forged), None);
        // Links mailed before the refactor stay valid: the MAC input is unchanged.
        let exp = clock.now().unix_timestamp() + 60;
        let old = hmac::sign(&key, format!("not_me|u1|{exp}").as_bytes());
        let old = format!("u1.{exp}.{}", URL_SAFE_NO_PAD.encode(old.as_ref()));
        assert_eq!(p.check(Purpose::NotMe, &old).as_deref(), Some("u1"));
        clock.advance(time::Duration::seconds(61));
        assert_eq!(p.check(Purpose::Unlock, &t), None, "expired");
    }
}
