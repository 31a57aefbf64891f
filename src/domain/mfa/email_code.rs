//! E-mailed one-time codes: six random digits, kept only as an HMAC (under a server secret
//! shared by every instance) bound to one pending step-up — its random `binding`, which lives
//! in that browser's session only — and to the account. A code typed into another session
//! (another binding) or for another account never matches; the comparison is constant-time.
//! Lifetime, tries and single use are the pending step-up's (`pending.rs`).

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::clock::Random;

/// Digits in a code.
pub const DIGITS: usize = 6;

/// Issues and checks codes. Cheap to clone.
#[derive(Clone)]
pub struct EmailCodes {
    key: Arc<hmac::Key>,
    random: Arc<dyn Random>,
}

impl std::fmt::Debug for EmailCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailCodes")
    }
}

impl EmailCodes {
    /// Codes MACed with `key`.
    pub fn new(key: Arc<hmac::Key>, random: Arc<dyn Random>) -> Self {
        Self { key, random }
    }

    /// A fresh random binding for a new pending step-up.
    pub fn binding(&self) -> String {
        self.random.token(18)
    }

    /// A new code for `binding` and `user_id`: (the code to mail, its MAC to keep).
    pub fn issue(&self, binding: &str, user_id: &str) -> (String, String) {
        let code = self.digits();
        let mac = self.mac(binding, user_id, &code);
        (code, mac)
    }

    /// Whether `typed` is the code whose MAC is `mac` (constant time; spaces and dashes a
    /// person may type are ignored).
    pub fn matches(&self, binding: &str, user_id: &str, typed: &str, mac: &str) -> bool {
        let typed: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if typed.len() != DIGITS || !typed.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(tag) = URL_SAFE_NO_PAD.decode(mac) else {
            return false;
        };
        hmac::verify(&self.key, &message(binding, user_id, &typed), &tag).is_ok()
    }

    fn mac(&self, binding: &str, user_id: &str, code: &str) -> String {
        let tag = hmac::sign(&self.key, &message(binding, user_id, code));
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Uniform digits: rejection sampling, so no code is likelier than another.
    fn digits(&self) -> String {
        const RANGE: u32 = 1_000_000;
        const LIMIT: u32 = u32::MAX - u32::MAX % RANGE;
        loop {
            let mut buf = [0u8; 4];
            self.random.fill(&mut buf);
            let n = u32::from_le_bytes(buf);
            if n < LIMIT {
                return format!("{:06}", n % RANGE);
            }
        }
    }
}

fn message(binding: &str, user_id: &str, code: &str) -> Vec<u8> {
    format!("email_code|{binding}|{user_id}|{code}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::OsRandom;

    fn codes() -> EmailCodes {
        EmailCodes::new(
            Arc::new(hmac::Key::new(hmac::HMAC_SHA256, b"k")),
            Arc::new(OsRandom),
        )
    }

    #[test]
    fn a_code_matches_only_its_binding_and_account() {
        let c = codes();
        let (code, mac) = c.issue("b1", "u1");
        assert_eq!(code.len(), DIGITS);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert!(!mac.contains(&code), "the code is not kept in the clear");
        assert!(c.matches("b1", "u1", &code, &mac));
        assert!(c.matches(
            "b1",
            "u1",
            &format!(" {}-{} ", &code[..3], &code[3..]),
            &mac
        ));
        assert!(!c.matches("b2", "u1", &code, &mac), "another session");
        assert!(!c.matches("b1", "u2", &code, &mac), "another account");
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert!(!c.matches("b1", "u1", &wrong, &mac));
        assert!(!c.matches("b1", "u1", "12345", &mac));
        assert!(!c.matches("b1", "u1", &code, "not base64!"));
    }
}
