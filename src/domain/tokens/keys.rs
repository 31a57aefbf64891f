//! The signing key ring: one active key per algorithm (RS256 for ID tokens, as OIDC requires;
//! ES256 and EdDSA available), generated on first start and kept in the database, with the
//! private half sealed by the master key (`domain::seal`; a key stored in an older form, clear
//! or `v1`, is resealed when the ring loads). Keys are parsed once into signing and verifying keys; every instance reloads the
//! published set periodically and when it meets an unknown `kid`, so `authd keys rotate` on any
//! instance takes effect everywhere without a restart. Unknown-`kid` reloads are single-flight:
//! requests that meet unknown kids together share one database read.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::json;

use crate::domain::clock::{Clock, Random};
use crate::domain::error::Unexpected;
use crate::domain::seal::{Legacy, Sealer};
use crate::domain::tokens::alg::SigningAlg;
use crate::domain::tokens::verified::SignatureMemo;
use crate::storage::oauth::{KeyRecord, KeyStore};

/// One parsed key.
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    /// Its algorithm (pinned: a token claiming another is refused).
    pub alg: SigningAlg,
    /// For signing.
    pub encoding: EncodingKey,
    /// For verifying.
    pub decoding: DecodingKey,
    /// The public JWK.
    pub jwk: serde_json::Value,
    /// Whether it is the newest of its algorithm (used for signing).
    pub active: bool,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, {:?})", self.kid, self.alg)
    }
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<SigningKey>>,
    active: HashMap<SigningAlg, Arc<SigningKey>>,
    jwks: serde_json::Value,
}

/// The published keys, shared by every request.
pub struct KeyRing {
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    sealer: Sealer,
    /// How long a retired key stays published (the longest token lifetime plus a margin).
    publish_after_retire: i64,
    set: RwLock<Arc<KeySet>>,
    /// When the set was last read (unix seconds, injected clock).
    last_reload: std::sync::atomic::AtomicI64,
    /// Held by the one unknown-`kid` reload in flight; the others wait for it and share it.
    reload_flight: tokio::sync::Mutex<()>,
    /// Access-token signatures this instance verified (`tokens::verified`).
    memo: SignatureMemo,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing")
    }
}

impl KeyRing {
    /// Loads the published keys, generating a first set if there is none.
    pub async fn load(
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        sealer: Sealer,
        publish_after_retire: i64,
    ) -> Result<Self, Unexpected> {
        let ring = Self {
            store,
            clock,
            random,
            sealer,
            publish_after_retire,
            set: RwLock::new(Arc::new(KeySet::default())),
            last_reload: std::sync::atomic::AtomicI64::new(i64::MIN),
            reload_flight: tokio::sync::Mutex::new(()),
            memo: SignatureMemo::default(),
        };
        ring.reseal_stored().await?;
        ring.reload().await?;
        let complete = SigningAlg::ALL
            .iter()
            .all(|a| ring.current().active.contains_key(a));
        if !complete {
            ring.rotate().await?;
        }
        Ok(ring)
    }

    fn current(&self) -> Arc<KeySet> {
        self.set
            .read()
            .map_or_else(|p| p.into_inner().clone(), |s| s.clone())
    }

    /// Re-reads the published keys from the database.
    pub async fn reload(&self) -> Result<(), Unexpected> {
        let now = self.clock.now().unix_timestamp();
        let records = self.store.list_published(now).await?;
        let mut set = KeySet::default();
        let mut jwks = Vec::new();
        for r in records {
            let mut key = self.parse(&r)?;
            // Records come newest first: the first of each algorithm that is not retired signs.
            key.active = r.retire_after.is_none() && !set.active.contains_key(&key.alg);
            let key = Arc::new(key);
            if key.active {
                set.active.insert(key.alg, key.clone());
            }
            jwks.push(key.jwk.clone());
            set.by_kid.insert(key.kid.clone(), key);
        }
        set.jwks = json!({ "keys": jwks });
        self.last_reload
            .store(now, std::sync::atomic::Ordering::Relaxed);
        match self.set.write() {
            Ok(mut g) => *g = Arc::new(set),
            Err(p) => *p.into_inner() = Arc::new(set),
        }
        Ok(())
    }

    /// The key ring as stored: every key still published now, newest first (the private key
    /// sealed, as stored).
    pub async fn ring(&self) -> Result<Vec<KeyRecord>, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        Ok(self.store.list_published(now).await?)
    }

    /// Makes a new active key for every algorithm; the old ones stay published until every
    /// token they signed has expired.
    pub async fn rotate(&self) -> Result<Vec<String>, Unexpected> {
        let now = self.clock.now().unix_timestamp();
        let mut records = Vec::new();
        for alg in SigningAlg::ALL {
            records.push(self.generate(alg, now)?);
        }
        self.store
            .rotate(&records, now + self.publish_after_retire)
            .await?;
        self.reload().await?;
        Ok(records.into_iter().map(|r| r.kid).collect())
    }

    /// The active key for `alg`.
    pub fn signer(&self, alg: SigningAlg) -> Result<Arc<SigningKey>, Unexpected> {
        self.current()
            .active
            .get(&alg)
            .cloned()
            .ok_or_else(|| Unexpected(anyhow::anyhow!("no active {alg} key")))
    }

    /// The key with id `kid`, reloading once (at most every 5 s) if it is unknown, so a
    /// rotation made by another instance is seen at once.
    pub async fn verifier(&self, kid: &str) -> Result<Option<Arc<SigningKey>>, Unexpected> {
        if let Some(k) = self.current().by_kid.get(kid) {
            return Ok(Some(k.clone()));
        }
        // Single flight: one reload at a time; whoever waited for it looks again first (the
        // key may have arrived) and finds the read just made, so a burst of tokens with
        // unknown (or forged) kids costs one database read, not one each.
        let _flight = self.reload_flight.lock().await;
        if let Some(k) = self.current().by_kid.get(kid) {
            return Ok(Some(k.clone()));
        }
        let now = self.clock.now().unix_timestamp();
        let last = self.last_reload.load(std::sync::atomic::Ordering::Relaxed);
        // At most one database read per 5 s however many unknown kids arrive, even when the
        // read fails.
        if now.saturating_sub(last) >= 5 {
            self.last_reload
                .store(now, std::sync::atomic::Ordering::Relaxed);
            self.reload().await?;
        }
        Ok(self.current().by_kid.get(kid).cloned())
    }

    /// Access-token signatures this instance verified.
    pub(crate) fn memo(&self) -> &SignatureMemo {
        &self.memo
    }

    /// Whether the ring still publishes `key`'s `kid` with the same algorithm and public key.
    pub(crate) fn still_publishes(&self, key: &SigningKey) -> bool {
        let set = self.current();
        let found = set.by_kid.get(&key.kid);
        found.is_some_and(|k| k.alg == key.alg && k.jwk == key.jwk)
    }

    /// The JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        self.current().jwks.clone()
    }

    fn generate(&self, alg: SigningAlg, now: i64) -> Result<KeyRecord, Unexpected> {
        let fail = |what: &str| Unexpected(anyhow::anyhow!("key generation failed: {what}"));
        let rng = SystemRandom::new();
        let pkcs8: Vec<u8> = match alg {
            SigningAlg::RS256 => {
                let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| fail("rsa"))?;
                AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp)
                    .map_err(|_| fail("rsa der"))?
                    .as_ref()
                    .to_vec()
            }
            SigningAlg::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| fail("p256"))?
                    .as_ref()
                    .to_vec()
            }
            SigningAlg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| fail("ed25519"))?
                .as_ref()
                .to_vec(),
        };
        let kid = self.random.token(12);
        let jwk = public_jwk(alg, &kid, &pkcs8)?;
        Ok(KeyRecord {
            private_key: self.seal(&kid, &pkcs8)?,
            public_jwk: jwk.to_string(),
            alg: alg.as_str().to_owned(),
            kid,
            created_at: now,
            retire_after: None,
        })
    }

    /// Seals every stored key not yet in the current sealed form (keys from before sealing,
    /// or from a rolling upgrade's older instance). Each rewrite is conditional on the value
    /// read, so instances starting together neither fail nor lose a key; idempotent.
    async fn reseal_stored(&self) -> Result<(), Unexpected> {
        let mut resealed = 0;
        for (kid, stored) in self.store.list_private().await? {
            let context = key_context(&kid);
            let opened = self
                .sealer
                .open(&context, &stored, Legacy::SigningKey { kid: &kid })
                .map_err(|e| Unexpected(e.into()))?;
            if opened.current {
                continue;
            }
            let sealed = self.sealer.seal(&context, &opened.plain)?;
            if self.store.replace_private(&kid, &stored, &sealed).await? {
                resealed += 1;
            }
        }
        if resealed > 0 {
            tracing::info!(
                keys = resealed,
                "sealed signing keys stored in an older form"
            );
        }
        Ok(())
    }

    fn seal(&self, kid: &str, der: &[u8]) -> Result<String, Unexpected> {
        self.sealer.seal(&key_context(kid), der)
    }

    fn open(&self, r: &KeyRecord) -> Result<Vec<u8>, Unexpected> {
        let opened = self
            .sealer
            .open(
                &key_context(&r.kid),
                &r.private_key,
                Legacy::SigningKey { kid: &r.kid },
            )
            .map_err(|e| Unexpected(e.into()))?;
        Ok(opened.plain)
    }

    fn parse(&self, r: &KeyRecord) -> Result<SigningKey, Unexpected> {
        let bad = |why: &str| Unexpected(anyhow::anyhow!("signing key {}: {why}", r.kid));
        let alg = SigningAlg::parse(&r.alg).ok_or_else(|| bad("unknown algorithm"))?;
        let der = self.open(r)?;
        let jwk: serde_json::Value =
            serde_json::from_str(&r.public_jwk).map_err(|_| bad("bad jwk"))?;
        let field = |k: &str| {
            jwk.get(k)
                .and_then(|v| v.as_str())
                .ok_or_else(|| bad("jwk field missing"))
        };
        let (encoding, decoding) = match alg {
            SigningAlg::RS256 => {
                let pem = format!(
                    "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                    STANDARD.encode(&der)
                );
                (
                    EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| bad("rsa"))?,
                    DecodingKey::from_rsa_components(field("n")?, field("e")?)
                        .map_err(|_| bad("rsa public"))?,
                )
            }
            SigningAlg::ES256 => (
                EncodingKey::from_ec_der(&der),
                DecodingKey::from_ec_components(field("x")?, field("y")?)
                    .map_err(|_| bad("ec public"))?,
            ),
            SigningAlg::EdDSA => (
                EncodingKey::from_ed_der(&der),
                DecodingKey::from_ed_components(field("x")?).map_err(|_| bad("ed public"))?,
            ),
        };
        Ok(SigningKey {
            kid: r.kid.clone(),
            alg,
            encoding,
            decoding,
            jwk,
            active: false,
        })
    }
}

/// Where a private key is sealed: its associated data.
fn key_context(kid: &str) -> String {
    format!("signing_key:{kid}")
}

fn public_jwk(alg: SigningAlg, kid: &str, pkcs8: &[u8]) -> Result<serde_json::Value, Unexpected> {
    let fail = || Unexpected(anyhow::anyhow!("public key extraction failed"));
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let mut jwk = match alg {
        SigningAlg::RS256 => {
            let kp = aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8).map_err(|_| fail())?;
            let public = kp.public_key();
            json!({
                "kty": "RSA",
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero()),
            })
        }
        SigningAlg::ES256 => {
            let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                .map_err(|_| fail())?;
            // Uncompressed point: 0x04 || x (32) || y (32).
            let point = kp.public_key().as_ref();
            let (x, y) = (
                point.get(1..33).ok_or_else(fail)?,
                point.get(33..65).ok_or_else(fail)?,
            );
            json!({ "kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y) })
        }
        SigningAlg::EdDSA => {
            let kp = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| fail())?;
            json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(kp.public_key().as_ref()) })
        }
    };
    if let Some(obj) = jwk.as_object_mut() {
        obj.insert("kid".into(), json!(kid));
        obj.insert("use".into(), json!("sig"));
        obj.insert("alg".into(), json!(alg.as_str()));
    }
    Ok(jwk)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::domain::clock::{FakeClock, OsRandom};
    use crate::domain::seal::MasterKey;
    use crate::storage::error::StoreError;

    /// Keys in memory; counts reads, each of which takes a few turns of the runtime (a round
    /// trip), so concurrent callers really overlap.
    #[derive(Debug, Default)]
    struct CountingKeys {
        keys: Mutex<Vec<KeyRecord>>,
        reads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl KeyStore for CountingKeys {
        async fn list_published(&self, now: i64) -> Result<Vec<KeyRecord>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            let mut keys: Vec<KeyRecord> = self
                .keys
                .lock()
                .unwrap()
                .iter()
                .filter(|k| k.retire_after.is_none_or(|r| r > now))
                .cloned()
                .collect();
            keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
            Ok(keys)
        }

        async fn rotate(&self, new: &[KeyRecord], retire_after: i64) -> Result<(), StoreError> {
            let mut keys = self.keys.lock().unwrap();
            for k in keys.iter_mut().filter(|k| k.retire_after.is_none()) {
                k.retire_after = Some(retire_after);
            }
            keys.extend_from_slice(new);
            Ok(())
        }

        async fn list_private(&self) -> Result<Vec<(String, String)>, StoreError> {
            let keys = self.keys.lock().unwrap();
            Ok(keys
                .iter()
                .map(|k| (k.kid.clone(), k.private_key.clone()))
                .collect())
        }

        async fn replace_private(
            &self,
            kid: &str,
            old: &str,
            new: &str,
        ) -> Result<bool, StoreError> {
            let mut keys = self.keys.lock().unwrap();
            let found = keys
                .iter_mut()
                .find(|k| k.kid == kid && k.private_key == old);
            Ok(found.map(|k| k.private_key = new.to_owned()).is_some())
        }
    }

    fn sealer(key: &MasterKey) -> Sealer {
        Sealer::new(key.clone(), "AUTHD_MASTER_KEY", Arc::new(OsRandom))
    }

    #[tokio::test]
    async fn concurrent_unknown_kids_share_one_reload() {
        let store = Arc::new(CountingKeys::default());
        let clock = Arc::new(FakeClock::new(
            time::OffsetDateTime::from_unix_timestamp(1_000_000).unwrap(),
        ));
        let ring = Arc::new(
            KeyRing::load(
                store.clone(),
                clock.clone(),
                Arc::new(OsRandom),
                sealer(&MasterKey::generate(&OsRandom)),
                600,
            )
            .await
            .unwrap(),
        );
        clock.advance(time::Duration::seconds(30));
        let before = store.reads.load(Ordering::SeqCst);
        let mut burst = tokio::task::JoinSet::new();
        for i in 0..16 {
            let ring = ring.clone();
            burst.spawn(async move { ring.verifier(&format!("forged-{i}")).await });
        }
        while let Some(found) = burst.join_next().await {
            assert!(found.unwrap().unwrap().is_none());
        }
        assert_eq!(
            store.reads.load(Ordering::SeqCst) - before,
            1,
            "sixteen unknown kids at once: one database read"
        );
        // A known kid never reads; a later unknown one reads again once the 5 s have passed.
        let kid = ring.signer(SigningAlg::ES256).unwrap().kid.clone();
        assert!(ring.verifier(&kid).await.unwrap().is_some());
        assert!(ring.verifier("forged-again").await.unwrap().is_none());
        assert_eq!(store.reads.load(Ordering::SeqCst) - before, 1);
        clock.advance(time::Duration::seconds(5));
        assert!(ring.verifier("forged-again").await.unwrap().is_none());
        assert_eq!(store.reads.load(Ordering::SeqCst) - before, 2);
    }

    #[tokio::test]
    async fn a_remembered_signature_counts_only_while_its_key_is_published() {
        use crate::domain::tokens::jwt::{AccessClaims, sign_access, verify_access};
        use crate::domain::tokens::rejection::TokenRejection;
        use crate::domain::tokens::verified::digest;
        let store = Arc::new(CountingKeys::default());
        let now = 1_000_000;
        let clock = Arc::new(FakeClock::new(
            time::OffsetDateTime::from_unix_timestamp(now).unwrap(),
        ));
        let master = sealer(&MasterKey::generate(&OsRandom));
        let ring = KeyRing::load(store, clock.clone(), Arc::new(OsRandom), master, 600)
            .await
            .unwrap();
        let claims = AccessClaims {
            iss: "https://id.example".into(),
            sub: "app".into(),
            aud: "app".into(),
            exp: now + 300,
            iat: now,
            nbf: now,
            jti: "j1".into(),
            client_id: "app".into(),
            scope: "api".into(),
            auth_time: None,
            acr: None,
            sid: None,
        };
        let token = sign_access(&ring, SigningAlg::ES256, &claims).unwrap();
        let check = |at: i64| verify_access(&ring, &token, "https://id.example", at);
        assert_eq!(check(now).await.unwrap(), Ok(claims.clone()));
        assert_eq!(ring.memo().len(), 1, "a passed check is remembered");
        assert_eq!(check(now + 1).await.unwrap(), Ok(claims.clone()));
        // A forged copy (another signature) is checked in full, refused, and not remembered.
        let (signed, sig) = token.rsplit_once('.').unwrap();
        let other = if sig.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{signed}.{other}{}", &sig[1..]);
        let refused = verify_access(&ring, &forged, "https://id.example", now).await;
        assert_eq!(refused.unwrap(), Err(TokenRejection::BadSignature));
        assert_eq!(ring.memo().len(), 1);
        // What is remembered is not verified again: an entry made for the forged bytes (which
        // a failed check never makes) answers them without a signature check.
        let signer = ring.signer(SigningAlg::ES256).unwrap();
        ring.memo().put(digest(&forged), signer, &claims, now);
        let answered = verify_access(&ring, &forged, "https://id.example", now).await;
        assert_eq!(answered.unwrap(), Ok(claims.clone()));
        // The claims' own checks still run on a remembered token.
        let wrong_issuer = verify_access(&ring, &token, "https://other.example", now).await;
        assert_eq!(wrong_issuer.unwrap(), Err(TokenRejection::WrongIssuer));
        assert_eq!(
            check(now + 400).await.unwrap(),
            Err(TokenRejection::Expired)
        );
        // The key leaves the ring (rotated, then past its publication): the remembered
        // signature no longer counts.
        ring.rotate().await.unwrap();
        clock.advance(time::Duration::seconds(700));
        ring.reload().await.unwrap();
        assert_eq!(
            check(now + 1).await.unwrap(),
            Err(TokenRejection::UnknownKid)
        );
    }

    #[tokio::test]
    async fn the_signature_memo_is_bounded_and_drops_expired_entries_first() {
        use crate::domain::tokens::jwt::AccessClaims;
        use crate::domain::tokens::verified::{SignatureMemo, digest};
        let clock = Arc::new(FakeClock::new(
            time::OffsetDateTime::from_unix_timestamp(1_000).unwrap(),
        ));
        let master = sealer(&MasterKey::generate(&OsRandom));
        let store = Arc::new(CountingKeys::default());
        let ring = KeyRing::load(store, clock, Arc::new(OsRandom), master, 600)
            .await
            .unwrap();
        let key = ring.signer(SigningAlg::ES256).unwrap();
        let claims = |exp: i64| AccessClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            exp,
            iat: 0,
            nbf: 0,
            jti: "j".into(),
            client_id: "a".into(),
            scope: String::new(),
            auth_time: None,
            acr: None,
            sid: None,
        };
        let memo = SignatureMemo::bounded(2);
        memo.put(digest("old"), key.clone(), &claims(100), 50);
        memo.put(digest("live"), key.clone(), &claims(2_000), 50);
        // Full at 1 000: the expired entry goes, the live one stays.
        memo.put(digest("new"), key.clone(), &claims(2_000), 1_000);
        assert_eq!(memo.len(), 2);
        assert!(memo.get(&digest("old"), |_| true).is_none());
        assert!(memo.get(&digest("live"), |_| true).is_some());
        assert!(
            memo.get(&digest("live"), |_| false).is_none(),
            "key no longer held"
        );
        // Full of live entries: emptied, then the new one kept.
        memo.put(digest("newest"), key, &claims(2_000), 1_000);
        assert_eq!(memo.len(), 1);
        assert!(memo.get(&digest("newest"), |_| true).is_some());
    }

    #[tokio::test]
    async fn keys_stored_in_the_clear_are_sealed_when_the_ring_loads() {
        let store = Arc::new(CountingKeys::default());
        let clock = Arc::new(FakeClock::new(
            time::OffsetDateTime::from_unix_timestamp(1_000_000).unwrap(),
        ));
        let s = sealer(&MasterKey::generate(&OsRandom));
        let load = || {
            KeyRing::load(
                store.clone(),
                clock.clone(),
                Arc::new(OsRandom),
                s.clone(),
                600,
            )
        };
        let first = load().await.unwrap();
        let kid = first.signer(SigningAlg::ES256).unwrap().kid.clone();
        // As a version before sealing stored them.
        for k in store.keys.lock().unwrap().iter_mut() {
            let der = s
                .open(&key_context(&k.kid), &k.private_key, Legacy::Text)
                .unwrap()
                .plain;
            k.private_key = format!("plain:{}", STANDARD.encode(der));
        }
        let again = load().await.unwrap();
        assert_eq!(
            again.signer(SigningAlg::ES256).unwrap().kid,
            kid,
            "same keys"
        );
        for k in store.keys.lock().unwrap().iter() {
            assert!(k.private_key.starts_with("v2:"), "{}", k.private_key);
        }
    }
}
