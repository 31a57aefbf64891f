//! Device cookies: a browser that signed in gets a signed cookie `device.user.epoch.name.mac`
//! (HMAC-SHA-256 under the server's device key; `name` a keyed digest of the account's
//! normalised name, so that every instance can tell, before any database work, that the cookie
//! is offered with its own account's name: `Devices::names`). A valid one for the account makes the
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
    /// The keyed digest of the account's normalised name when the cookie was issued (`None`
    /// for cookies issued before cookies named it).
    pub name_tag: Option<String>,
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

    /// The MAC input of a cookie that names its account's name (`name_tag`).
    fn signed_named(device_id: &str, user_id: &str, epoch: i64, name_tag: &str) -> String {
        format!("device3|{device_id}|{user_id}|{epoch}|{name_tag}")
    }

    /// The keyed digest of a normalised name a cookie carries (96 bits, base64url).
    fn name_tag(&self, name: &str) -> String {
        let tag = hmac::sign(&self.key, format!("device-name|{name}").as_bytes());
        let bytes = tag.as_ref();
        URL_SAFE_NO_PAD.encode(bytes.get(..12).unwrap_or(bytes))
    }

    /// A new device cookie value for `user_id` at the account's session `epoch`, naming the
    /// account's normalised `name` (`device.user.epoch.name.mac`).
    pub fn issue(&self, user_id: &str, epoch: i64, name: &str) -> String {
        let device_id = self.random.token(16);
        let name_tag = self.name_tag(name);
        let signed = Self::signed_named(&device_id, user_id, epoch, &name_tag);
        let tag = hmac::sign(&self.key, signed.as_bytes());
        format!(
            "{device_id}.{user_id}.{epoch}.{name_tag}.{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// Whether `claim`'s cookie was issued for the normalised `name` (constant-time); `false`
    /// for a cookie that names none (issued before cookies named it).
    pub fn names(&self, claim: &DeviceClaim, name: &str) -> bool {
        use subtle::ConstantTimeEq;
        claim
            .name_tag
            .as_deref()
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(self.name_tag(name).as_bytes())))
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
        let (device, user, epoch, name_tag, signed, mac) = match parts.as_slice() {
            [device, user, epoch, name_tag, mac] => {
                let epoch: i64 = epoch.parse().ok()?;
                let signed = Self::signed_named(device, user, epoch, name_tag);
                (*device, *user, epoch, Some(*name_tag), signed, *mac)
            }
            // Issued before cookies named the account's name.
            [device, user, epoch, mac] => {
                let epoch: i64 = epoch.parse().ok()?;
                let signed = Self::signed_text(device, user, epoch);
                (*device, *user, epoch, None, signed, *mac)
            }
            // Issued before cookies named the epoch: the account's first epoch.
            [device, user, mac] => {
                let signed = format!("device|{device}|{user}");
                (*device, *user, 0, None, signed, *mac)
            }
            _ => return None,
        };
        let tag = URL_SAFE_NO_PAD.decode(mac).ok()?;
        hmac::verify(&self.key, signed.as_bytes(), &tag).ok()?;
        Some(DeviceClaim {
            device: device.to_owned(),
            user: user.to_owned(),
            epoch,
            name_tag: name_tag.map(str::to_owned),
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
        let cookie = d.issue("u1", 0, "a@example.com");
        assert!(d.known(Some(&cookie), "u1", 0).is_some());
        assert!(d.known(Some(&cookie), "u2", 0).is_none());
        assert!(d.known(Some("a.u1.AAAA"), "u1", 0).is_none());
        assert!(d.known(Some("a.u1.0.AAAA"), "u1", 0).is_none());
    }

    #[test]
    fn device_cookies_name_the_epoch_and_it_cannot_be_changed() {
        let key = Arc::new(hmac::Key::new(hmac::HMAC_SHA256, b"k"));
        let d = Devices::new(key.clone(), Arc::new(crate::domain::clock::OsRandom));
        let cookie = d.issue("u1", 3, "a@example.com");
        let claim = d.claim(&cookie).unwrap();
        assert_eq!(Devices::id_of(&cookie), claim.device);
        assert_eq!((claim.user.as_str(), claim.epoch), ("u1", 3));
        assert_eq!(claim.owner_at_epoch(), "u1:3");
        assert!(d.known(Some(&cookie), "u1", 4).is_none(), "a later epoch");
        let bumped = cookie.replacen(".3.", ".4.", 1);
        assert!(d.claim(&bumped).is_none(), "the epoch is signed");
        // It names its account's name, which cannot be swapped for another's.
        assert!(d.names(&claim, "a@example.com"));
        assert!(!d.names(&claim, "b@example.com"));
        let other = d.issue("u1", 3, "b@example.com");
        let parts: Vec<&str> = cookie.split('.').collect();
        let other_tag = other.split('.').nth(3).unwrap();
        let swapped = [parts[0], parts[1], parts[2], other_tag, parts[4]].join(".");
        assert!(d.claim(&swapped).is_none(), "the name is signed");
        // A cookie from before cookies named the name: valid, naming none.
        let tag = hmac::sign(&key, b"device2|dev|u1|3");
        let unnamed = format!("dev.u1.3.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        let claim = d.claim(&unnamed).unwrap();
        assert_eq!((claim.epoch, claim.name_tag.as_deref()), (3, None));
        assert!(!d.names(&claim, "a@example.com"));
        // A cookie from before epochs were named counts as epoch 0.
        let old = hmac::sign(&key, b"device|dev|u1");
        let old = format!("dev.u1.{}", URL_SAFE_NO_PAD.encode(old.as_ref()));
        assert_eq!(d.known(Some(&old), "u1", 0).as_deref(), Some("dev"));
        assert!(d.known(Some(&old), "u1", 1).is_none());
    }
}
