//! A software passkey for the API tests: an ES256 key that answers webauthn-rs's options as an
//! authenticator with user verification would (attestation `none`, `clientDataJSON` for the
//! public URL's origin), so the step-up's and the passwordless sign-in's ceremonies run for
//! real without a browser. Its flags say whether it is synced (backup eligible) or bound to
//! the device; its sign count moves on at every assertion, as a hardware key's does.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// User present, user verified, backup eligible, backed up, attested credential data.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// A CBOR byte-string header.
fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n < 24 {
        out.push(0x40 | n as u8);
    } else if n < 256 {
        out.extend([0x58, n as u8]);
    } else {
        out.push(0x59);
        out.extend((n as u16).to_be_bytes());
    }
    out.extend_from_slice(bytes);
}

/// A CBOR text string (short).
fn cbor_text(out: &mut Vec<u8>, s: &str) {
    out.push(0x60 | s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub cred_id: Vec<u8>,
    /// The account handle the relying party gave at registration (a discoverable credential
    /// keeps it).
    pub user_handle: Vec<u8>,
    counter: u32,
    synced: bool,
    origin: String,
}

impl SoftPasskey {
    /// A new key for `app`'s relying party; `synced`: backup eligible and backed up.
    pub fn new(app: &TestApp, synced: bool) -> Self {
        Self {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap(),
            cred_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
            user_handle: Vec::new(),
            counter: 0,
            synced,
            origin: app.state.config.issuer.origin().ascii_serialization(),
        }
    }

    fn flags(&self) -> u8 {
        UP | UV | if self.synced { BE | BS } else { 0 }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({
            "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false
        })
        .to_string()
        .into_bytes()
    }

    /// The COSE key: EC2, ES256, P-256, x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut out, x);
        out.push(0x22);
        cbor_bytes(&mut out, y);
        out
    }

    /// Answers `navigator.credentials.create`'s options (`publicKey` as the server sent them).
    pub fn register(&mut self, options: &Value) -> Value {
        let rp_id = options["rp"]["id"].as_str().unwrap();
        self.user_handle = unb64(options["user"]["id"].as_str().unwrap());
        let challenge = options["challenge"].as_str().unwrap();
        let client_data = self.client_data("webauthn.create", challenge);
        let mut auth = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth.push(self.flags() | AT);
        auth.extend(self.counter.to_be_bytes());
        auth.extend([0u8; 16]);
        auth.extend((self.cred_id.len() as u16).to_be_bytes());
        auth.extend(&self.cred_id);
        auth.extend(self.cose_key());
        let mut att = vec![0xa3];
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        att.push(0xa0);
        cbor_text(&mut att, "authData");
        cbor_bytes(&mut att, &auth);
        json!({
            "id": b64(&self.cred_id), "rawId": b64(&self.cred_id), "type": "public-key",
            "response": { "attestationObject": b64(&att), "clientDataJSON": b64(&client_data) },
            "extensions": {}
        })
    }

    /// Turns the sign count back by `by`: a clone of the key as it was `by` uses ago.
    pub fn rewind(&mut self, by: u32) {
        self.counter -= by;
    }

    /// Answers `navigator.credentials.get`'s options with user verification.
    pub fn assert(&mut self, options: &Value) -> Value {
        let rp_id = options["rpId"].as_str().unwrap();
        let challenge = options["challenge"].as_str().unwrap();
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", challenge);
        let mut auth = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth.push(self.flags());
        auth.extend(self.counter.to_be_bytes());
        let mut signed = auth.clone();
        signed.extend(digest(&SHA256, &client_data).as_ref());
        let sig = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": b64(&self.cred_id), "rawId": b64(&self.cred_id), "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth), "clientDataJSON": b64(&client_data),
                "signature": b64(sig.as_ref()), "userHandle": b64(&self.user_handle)
            },
            "extensions": {}
        })
    }
}

/// POSTs JSON with the page's CSRF token in `x-csrf-token`, through `client`.
pub async fn post_json(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    csrf: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let res = client
        .post(app.url(path))
        .header("x-csrf-token", csrf)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json::<Value>().await.unwrap_or(Value::Null))
}

/// Registers `key` for the account signed in on `app.client` (a fresh sign-in is the
/// re-authentication the change needs), as the security page's script does.
pub async fn enrol(app: &TestApp, key: &mut SoftPasskey) {
    let csrf = app.get("/account/security").await.csrf();
    let start = "/account/security/passkeys/start";
    let (status, body) = post_json(app, &app.client, start, &csrf, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let credential = key.register(&body["publicKey"]);
    let finish = "/account/security/passkeys/finish";
    let body = json!({ "name": "soft key", "credential": credential });
    let (status, body) = post_json(app, &app.client, finish, &csrf, &body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
