//! The sign-in's protection parts and the server secrets they are keyed with: the failure
//! ladder, device cookies, signed links, stand-ins, e-mailed codes (and the recovery codes'
//! key, which the authenticators take from here).

use std::sync::Arc;

use aws_lc_rs::hmac;

use crate::domain::clock::{Clock, Random};
use crate::domain::error::Unexpected;
use crate::domain::mfa::email_code::EmailCodes;
use crate::domain::seal::{Sealer, server_secret};
use crate::domain::signin::devices::Devices;
use crate::domain::signin::ladder::{Ladder, ProtectionSettings};
use crate::domain::signin::links::Links;
use crate::domain::signin::stand_in::StandIns;
use crate::storage::protection::FailureStore;
use crate::storage::protection::links::SpentLinkStore;

/// The sign-in's protection: the failure ladder, device cookies, signed links (these two share
/// one server secret) and stand-ins (their own), each secret created once for all instances.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Protection {
    /// Counters, challenges, blocks and locks.
    pub ladder: Ladder,
    /// Device cookies.
    pub devices: Devices,
    /// Unlock and "wasn't you?" links.
    pub links: Links,
    /// Stand-in histories for names with no account.
    pub stand_ins: StandIns,
    /// The step-up's e-mailed codes.
    pub codes: EmailCodes,
    /// Randomness (the nonces of challenge passes).
    pub random: Arc<dyn Random>,
    /// Keys the stored digests of recovery codes (`mfa/totp.rs`).
    pub recovery_key: Arc<hmac::Key>,
}

impl Protection {
    /// Builds the parts, loading (or creating, once for all instances) the device-cookie,
    /// stand-in, e-mailed-code and recovery-code keys, sealed at rest.
    pub async fn load(
        store: Arc<dyn FailureStore>,
        spent_links: Arc<dyn SpentLinkStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        sealer: &Sealer,
        settings: ProtectionSettings,
    ) -> Result<Self, Unexpected> {
        let now = clock.now().unix_timestamp();
        let hmac_key = async |name: &str| -> Result<Arc<hmac::Key>, Unexpected> {
            let secret = server_secret(store.as_ref(), sealer, name, random.as_ref(), now).await?;
            Ok(Arc::new(hmac::Key::new(hmac::HMAC_SHA256, &secret)))
        };
        let key = hmac_key("device_cookie_key").await?;
        let stand_in = hmac_key("stand_in_key").await?;
        let codes = EmailCodes::new(hmac_key("email_code_key").await?, random.clone());
        let recovery_key = hmac_key("recovery_code_key").await?;
        Ok(Self {
            recovery_key,
            stand_ins: StandIns::new(stand_in),
            codes,
            devices: Devices::new(key.clone(), random.clone()),
            random,
            links: Links::new(
                key,
                clock.clone(),
                spent_links,
                settings.lock_secs.max(86_400),
            ),
            ladder: Ladder::new(store, clock, settings),
        })
    }
}
