//! Device cookies: a browser that signed in gets a signed cookie `device.user.epoch.mac`
//! (HMAC-SHA-256 under the server's device key). A valid one for the account makes the
//! attempt's source that device — its own counter row, exempt from the account-wide lock — so
//! the owner stays in during an attack on the account. The cookie names the account's session
//! epoch when it was issued, and counts only while the account is still at that epoch: a
//! password reset and "wasn't you?" move the epoch on, so every device known before (an
//! intruder's too) is forgotten. Cookies issued before epochs were named (`device.user.mac`)
//! count as epoch 0.

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
    /// The account's session epoch when the cookie was issued (it counts only at that epoch).
    pub epoch: i64,
}

impl DeviceClaim {
    /// The claimed owner as the sign-in lookup compares it with the account row:
    /// `<user id>:<epoch>`.
    pub fn owner_at_epoch(&self) -> String {
        format!("{}:{}", self.user, self.epoch)
    }
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

    /// The MAC input of a cookie (a distinct label from the epoch-less cookies' `device|…`).
    fn signed_text(device_id: &str, user_id: &str, epoch: i64) -> String {
        format!("device2|{device_id}|{user_id}|{epoch}")
    }

    /// A new device cookie value for `user_id` at the account's session `epoch`
    /// (`device.user.epoch.mac`).
    pub fn issue(&self, user_id: &str, epoch: i64) -> String {
        let device_id = self.random.token(16);
        let tag = hmac::sign(
            &self.key,
            Self::signed_text(&device_id, user_id, epoch).as_bytes(),
        );
        format!(
            "{device_id}.{user_id}.{epoch}.{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The device id of a cookie `issue` made (the part before its first `.`).
    pub fn id_of(cookie: &str) -> &str {
        cookie.split('.').next().unwrap_or_default()
    }

    /// What a validly signed cookie names (constant-time check); `None` for anything else.
    /// Whether it still counts (its epoch is the account's) is the sign-in lookup's question.
    pub fn claim(&self, cookie: &str) -> Option<DeviceClaim> {
        if cookie.len() > 256 {
            return None;
        }
        let parts: Vec<&str> = cookie.split('.').collect();
        let (device, user, epoch, signed, mac) = match parts.as_slice() {
            [device, user, epoch, mac] => {
                let epoch: i64 = epoch.parse().ok()?;
                (
                    *device,
                    *user,
                    epoch,
                    Self::signed_text(device, user, epoch),
                    *mac,
                )
            }
            // Issued before cookies named the epoch: the account's first epoch.
            [device, user, mac] => (*device, *user, 0, format!("device|{device}|{user}"), *mac),
            _ => return None,
        };
        let tag = URL_SAFE_NO_PAD.decode(mac).ok()?;
        hmac::verify(&self.key, signed.as_bytes(), &tag).ok()?;
        Some(DeviceClaim {
            device: device.to_owned(),
            user: user.to_owned(),
            epoch,
        })
    }

    /// The device id in `cookie` if it is a valid cookie for `user_id` at `epoch`; sign-ins
    /// resolve the cookie in the ladder's lookup instead.
    #[cfg(test)]
    fn known(&self, cookie: Option<&str>, user_id: &str, epoch: i64) -> Option<String> {
        self.claim(cookie?)
            .filter(|c| c.user == user_id && c.epoch == epoch)
            .map(|c| c.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_cookies_are_bound_to_their_user_and_key() {
        let key = Arc::new(hmac::Key::new(hmac::HMAC_SHA256, b"k"));
        let d = Devices::new(key.clone(), Arc::new(crate::domain::clock::OsRandom));
        let cookie = d.issue("u1", 0);
        assert!(d.known(Some(&cookie), "u1", 0).is_some());
        assert!(d.known(Some(&cookie), "u2", 0).is_none());
        assert!(d.known(Some("a.u1.AAAA"), "u1", 0).is_none());
        assert!(d.known(Some("a.u1.0.AAAA"), "u1", 0).is_none());
    }

    #[test]
    fn device_cookies_name_the_epoch_and_it_cannot_be_changed() {
        let key = Arc::new(hmac::Key::new(hmac::HMAC_SHA256, b"k"));
        let d = Devices::new(key.clone(), Arc::new(crate::domain::clock::OsRandom));
        let cookie = d.issue("u1", 3);
        let claim = d.claim(&cookie).unwrap();
        assert_eq!(Devices::id_of(&cookie), claim.device);
        assert_eq!((claim.user.as_str(), claim.epoch), ("u1", 3));
        assert_eq!(claim.owner_at_epoch(), "u1:3");
        assert!(d.known(Some(&cookie), "u1", 4).is_none(), "a later epoch");
        let bumped = cookie.replacen(".3.", ".4.", 1);
        assert!(d.claim(&bumped).is_none(), "the epoch is signed");
        // A cookie from before epochs were named counts as epoch 0.
        let old = hmac::sign(&key, b"device|dev|u1");
        let old = format!("dev.u1.{}", URL_SAFE_NO_PAD.encode(old.as_ref()));
        assert_eq!(d.known(Some(&old), "u1", 0).as_deref(), Some("dev"));
        assert!(d.known(Some(&old), "u1", 1).is_none());
    }
}
