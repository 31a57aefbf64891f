//! Sealing secrets at rest: the one place that encrypts what authd keeps in its database (the
//! private signing keys, the server secret behind device cookies and signed links, queued mail
//! bodies). AES-256-GCM (aws-lc-rs) under the master key, a fresh 96-bit nonce per value, and
//! the value's place (`signing_key:<kid>`, `server_secret:<name>`, `mail:<id>`) as associated
//! data, so a sealed value copied into another row does not open.
//!
//! `server_secret` loads (or creates) a named server secret through it, resealing a clear one.
//!
//! Stored form: `v2:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`. The key id is 8 hex digits of
//! HMAC-SHA256(master key, "authd master key id"): it names the key without revealing it, so a
//! wrong key is reported as such (not as corruption), and a future rotation can keep old keys
//! by id. Older forms are still read, so a database from before sealing opens and is resealed
//! at start by the owner of each value: `plain:<base64>` and `v1:<base64>` (signing keys,
//! clear or sealed with the kid as associated data) and bare text (server secrets, mail).

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::domain::clock::Random;
use crate::domain::error::Unexpected;
use crate::storage::protection::FailureStore;

/// The prefix of the current sealed form.
const CURRENT: &str = "v2:";

/// A 256-bit key that seals secrets at rest.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// From base64 (standard or URL-safe) of exactly 32 bytes.
    pub fn parse(b64: &str) -> Option<Self> {
        let bytes = STANDARD
            .decode(b64.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(b64.trim()))
            .ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// A fresh key from `random`.
    pub fn generate(random: &dyn Random) -> Self {
        let mut key = [0u8; 32];
        random.fill(&mut key);
        Self(key)
    }

    /// Standard base64, the form `parse` reads and the key file holds.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The key's public name: 8 hex digits of an HMAC under it.
    pub fn id(&self) -> String {
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &self.0),
            b"authd master key id",
        );
        tag.as_ref()
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The AEAD (a 32-byte key always fits AES-256-GCM; `None` only if the library refuses).
    fn cipher(&self) -> Option<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .ok()
            .map(LessSafeKey::new)
    }
}

/// Why a stored value did not open.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Sealed under another master key (its id is in the value).
    #[error(
        "{origin}: the database's secrets are sealed with master key {found}, not with this key \
         ({have}); start with the key they were sealed with"
    )]
    WrongKey {
        /// Where this instance's key came from (the variable that names it).
        origin: String,
        /// The id in the value.
        found: String,
        /// This key's id.
        have: String,
    },
    /// Not a value this module wrote, or its tag does not verify.
    #[error("{origin}: a sealed secret ({context}) is corrupt or sealed with another key")]
    Corrupt {
        /// Where this instance's key came from.
        origin: String,
        /// Which value.
        context: String,
    },
}

/// The forms older versions stored, accepted by `Sealer::open` besides the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy<'a> {
    /// A signing key: `plain:<base64>` or `v1:<base64>` (AES-256-GCM, the kid as associated
    /// data).
    SigningKey {
        /// The key's id.
        kid: &'a str,
    },
    /// Text stored as is (server secrets, mail bodies).
    Text,
}

/// An opened value.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    /// The secret.
    pub plain: Vec<u8>,
    /// Whether it was stored in the current sealed form; `false` means its owner should
    /// reseal it.
    pub current: bool,
}

/// Seals and opens values under this instance's master key. Cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    key: MasterKey,
    id: String,
    origin: Arc<str>,
    random: Arc<dyn Random>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({})", self.id)
    }
}

impl Sealer {
    /// A sealer over `key`; `origin` names where the key came from in errors (e.g.
    /// `AUTHD_MASTER_KEY`).
    pub fn new(key: MasterKey, origin: &str, random: Arc<dyn Random>) -> Self {
        Self {
            id: key.id(),
            key,
            origin: origin.into(),
            random,
        }
    }

    /// The master key's id.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// Seals `plain` for the place `context`.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<String, Unexpected> {
        let mut nonce = [0u8; 12];
        self.random.fill(&mut nonce);
        let mut data = plain.to_vec();
        let failed = || Unexpected(anyhow::anyhow!("sealing {context} failed"));
        self.key
            .cipher()
            .ok_or_else(failed)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| failed())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{CURRENT}{}:{}", self.id, STANDARD.encode(out)))
    }

    /// Opens a value stored for `context`, in the current form or the `legacy` one.
    pub fn open(
        &self,
        context: &str,
        stored: &str,
        legacy: Legacy<'_>,
    ) -> Result<Opened, SealError> {
        if let Some(rest) = stored.strip_prefix(CURRENT) {
            let (id, body) = rest.split_once(':').ok_or_else(|| self.corrupt(context))?;
            if id != self.id {
                return Err(SealError::WrongKey {
                    origin: self.origin.to_string(),
                    found: id.to_owned(),
                    have: self.id.clone(),
                });
            }
            let plain = self.decrypt(context, context.as_bytes(), body)?;
            return Ok(Opened {
                plain,
                current: true,
            });
        }
        let plain = match legacy {
            Legacy::Text => stored.as_bytes().to_vec(),
            Legacy::SigningKey { kid } => {
                if let Some(b64) = stored.strip_prefix("plain:") {
                    STANDARD.decode(b64).map_err(|_| self.corrupt(context))?
                } else if let Some(body) = stored.strip_prefix("v1:") {
                    self.decrypt(context, kid.as_bytes(), body)?
                } else {
                    return Err(self.corrupt(context));
                }
            }
        };
        Ok(Opened {
            plain,
            current: false,
        })
    }

    fn decrypt(&self, context: &str, aad: &[u8], body: &str) -> Result<Vec<u8>, SealError> {
        let bytes = STANDARD.decode(body).map_err(|_| self.corrupt(context))?;
        let (nonce, ct) = bytes
            .split_at_checked(12)
            .ok_or_else(|| self.corrupt(context))?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| self.corrupt(context))?;
        let mut ct = ct.to_vec();
        let plain = self
            .key
            .cipher()
            .ok_or_else(|| self.corrupt(context))?
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut ct)
            .map_err(|_| self.corrupt(context))?;
        Ok(plain.to_vec())
    }

    fn corrupt(&self, context: &str) -> SealError {
        SealError::Corrupt {
            origin: self.origin.to_string(),
            context: context.to_owned(),
        }
    }
}

/// The server secret `name` (shared by every instance: the keys of device cookies, signed
/// links, CSRF tokens): created sealed by the first instance (first writer wins); a value an
/// older version stored in the clear is resealed, conditionally on the value read so instances
/// starting together agree, and keeps its meaning.
pub async fn server_secret(
    store: &dyn FailureStore,
    sealer: &Sealer,
    name: &str,
    random: &dyn Random,
    now: i64,
) -> Result<Vec<u8>, Unexpected> {
    let context = format!("server_secret:{name}");
    let fresh = sealer.seal(&context, random.token(32).as_bytes())?;
    let stored = store.secret(name, &fresh, now).await?;
    let opened = sealer
        .open(&context, &stored, Legacy::Text)
        .map_err(|e| Unexpected(e.into()))?;
    if !opened.current {
        let sealed = sealer.seal(&context, &opened.plain)?;
        if store.replace_secret(name, &stored, &sealed).await? {
            tracing::info!(secret = name, "sealed a server secret stored in the clear");
        }
    }
    Ok(opened.plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::OsRandom;

    fn sealer(key: &MasterKey) -> Sealer {
        Sealer::new(key.clone(), "AUTHD_MASTER_KEY", Arc::new(OsRandom))
    }

    #[test]
    fn seals_round_trip_bound_to_their_place_and_key() {
        let key = MasterKey::generate(&OsRandom);
        let s = sealer(&key);
        let sealed = s.seal("server_secret:k", b"the secret").unwrap();
        assert!(
            sealed.starts_with(&format!("v2:{}:", s.key_id())),
            "{sealed}"
        );
        assert!(!sealed.contains("the secret"));
        assert_ne!(sealed, s.seal("server_secret:k", b"the secret").unwrap());
        let opened = s.open("server_secret:k", &sealed, Legacy::Text).unwrap();
        assert_eq!(
            opened,
            Opened {
                plain: b"the secret".to_vec(),
                current: true
            }
        );
        // Another place: the associated data differs.
        assert!(matches!(
            s.open("server_secret:other", &sealed, Legacy::Text),
            Err(SealError::Corrupt { .. })
        ));
        // Another key: named as such, with the variable.
        let other = sealer(&MasterKey::generate(&OsRandom));
        let err = other
            .open("server_secret:k", &sealed, Legacy::Text)
            .unwrap_err();
        assert!(matches!(err, SealError::WrongKey { .. }));
        assert!(err.to_string().starts_with("AUTHD_MASTER_KEY: "), "{err}");
    }

    #[test]
    fn legacy_forms_open_and_ask_to_be_resealed() {
        let key = MasterKey::generate(&OsRandom);
        let s = sealer(&key);
        let text = s.open("mail:1", "Hello", Legacy::Text).unwrap();
        assert_eq!(
            (text.plain.as_slice(), text.current),
            (&b"Hello"[..], false)
        );
        let kid = Legacy::SigningKey { kid: "k1" };
        let plain = s.open("signing_key:k1", "plain:AQID", kid).unwrap();
        assert_eq!((plain.plain, plain.current), (vec![1, 2, 3], false));
        assert!(s.open("signing_key:k1", "junk", kid).is_err());
        // v1: nonce ‖ ciphertext under the kid as associated data.
        let mut data = vec![9, 9];
        key.cipher()
            .unwrap()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key([7; 12]),
                Aad::from(&b"k1"[..]),
                &mut data,
            )
            .unwrap();
        let v1 = format!(
            "v1:{}",
            STANDARD.encode([[7u8; 12].to_vec(), data].concat())
        );
        assert_eq!(
            s.open("signing_key:k1", &v1, kid).unwrap().plain,
            vec![9, 9]
        );
    }

    #[test]
    fn key_ids_are_stable_and_distinct() {
        let a = MasterKey::parse(&STANDARD.encode([1u8; 32])).unwrap();
        assert_eq!(a.id(), MasterKey::parse(&a.to_base64()).unwrap().id());
        assert_eq!(a.id().len(), 8);
        assert_ne!(
            a.id(),
            MasterKey::parse(&STANDARD.encode([2u8; 32])).unwrap().id()
        );
    }
}
