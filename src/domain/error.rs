//! What the domain areas' error enums share. Each area has its own enum next to its code
//! (`SignInError` in `signin/`, `AccountError` in `accounts/`, `OAuthError` and `BearerError` in
//! `oauth/`, `AdminError` in `admin.rs`, …) with its expected outcomes as named variants and an
//! `Unexpected(anyhow::Error)` for everything else. Kept here, because every area needs them:
//!
//! - `Unexpected`: the whole error of a call that has no expected outcome (a lookup, an event
//!   write, the key ring, the risk engine's scoring, the outbox): the only answer besides
//!   success is "the infrastructure broke". Every area's enum takes it into its own
//!   `Unexpected`, so such a call can be used with `?` in any area.
//! - `unexpected_from!`: writes that conversion, and the one from `StoreError`, for an enum.

use crate::storage::error::StoreError;

/// An infrastructure failure (database, thread pool, template, crypto library): nothing a
/// caller decides on. At the HTTP edge it becomes a generic 5xx; the cause chain is logged.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Unexpected(#[from] pub anyhow::Error);

impl From<StoreError> for Unexpected {
    fn from(e: StoreError) -> Self {
        Self(e.into())
    }
}

/// Implements `From<StoreError>` and `From<Unexpected>` for an area's error enum, both into
/// its `Unexpected(anyhow::Error)` variant. A macro because the same two impls are needed by
/// every area's enum and a blanket impl of a foreign trait is not allowed.
macro_rules! unexpected_from {
    ($area:ty) => {
        impl From<$crate::storage::error::StoreError> for $area {
            fn from(e: $crate::storage::error::StoreError) -> Self {
                Self::Unexpected(e.into())
            }
        }

        impl From<$crate::domain::error::Unexpected> for $area {
            fn from(e: $crate::domain::error::Unexpected) -> Self {
                Self::Unexpected(e.0)
            }
        }
    };
}

pub(crate) use unexpected_from;
