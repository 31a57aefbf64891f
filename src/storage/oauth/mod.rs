//! OAuth storage: registered clients, signing keys, and grants (authorization codes,
//! refresh-token families, revoked access tokens, consents). Multi-step writes (code
//! redemption, refresh rotation, key rotation) are single transactions whose first statement is
//! a conditional `update`, so concurrent callers on any number of instances are serialised by
//! the database: exactly one sees `rows_affected() == 1`.

/// Registered clients.
pub mod clients;
/// Codes, refresh-token families, revoked access tokens, consents.
pub mod grants;
/// Signing keys.
pub mod keys;

pub use clients::{ClientDisabled, ClientRecord, ClientStore};
pub use grants::{
    BearerState, CodeRecord, CodeRedemption, FamilyRecord, GrantStart, GrantStore, RefreshRecord,
    Rotation,
};
pub use keys::{KeyRecord, KeyStore};
