//! Device cookies: a browser that signed in gets a signed cookie `device.user.mac` (HMAC-SHA-256
//! under the server's device key). A valid one for the account makes the attempt's source that
//! device — its own counter row, exempt from the account-wide lock — so the owner stays in
//! during an attack on the account.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::clock::Random;

/// What a validly signed device cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceClaim {
    /// The device id.
    pub device: String,
    /// The user the cookie was issued to (it counts only for that account).
    pub user: String,
}

/// Issues and checks device cookies. Cheap to clone.
#[derive(Clone)]
pub struct Devices {
    key: Arc<hmac::Key>,
    random: Arc<dyn Random>,
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Devices")
    }
}

impl Devices {
    /// Cookies signed with `key`.
    pub fn new(key: Arc<hmac::Key>, random: Arc<dyn Random>) -> Self {
        Self { key, random }
    }

    fn mac(&self, device_id: &str, user_id: &str) -> String {
        let tag = hmac::sign(
            &self.key,
            format!("device|{device_id}|{user_id}").as_bytes(),
        );
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// A new device cookie value for `user_id` (`device.user.mac`).
    pub fn issue(&self, user_id: &str) -> String {
        let device_id = self.random.token(16);
        format!("{device_id}.{user_id}.{}", self.mac(&device_id, user_id))
    }

    /// What a validly signed cookie names (constant-time check); `None` for anything else.
    pub fn claim(&self, cookie: &str) -> Option<DeviceClaim> {
        let mut parts = cookie.splitn(3, '.');
        let (device, user, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let tag = URL_SAFE_NO_PAD.decode(mac).ok()?;
        hmac::verify(
            &self.key,
            format!("device|{device}|{user}").as_bytes(),
            &tag,
        )
        .ok()?;
        Some(DeviceClaim {
            device: device.to_owned(),
            user: user.to_owned(),
        })
    }

    /// The device id in `cookie` if it is a valid cookie for `user_id`; sign-ins resolve the
    /// cookie in the ladder's lookup instead.
    #[cfg(test)]
    fn known(&self, cookie: Option<&str>, user_id: &str) -> Option<String> {
        self.claim(cookie?)
            .filter(|c| c.user == user_id)
            .map(|c| c.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_cookies_are_bound_to_their_user_and_key() {
        let key = Arc::new(hmac::Key::new(hmac::HMAC_SHA256, b"k"));
        let d = Devices::new(key, Arc::new(crate::domain::clock::OsRandom));
        let cookie = d.issue("u1");
        assert!(d.known(Some(&cookie), "u1").is_some());
        assert!(d.known(Some(&cookie), "u2").is_none());
        assert!(d.known(Some("a.u1.AAAA"), "u1").is_none());
    }
}
