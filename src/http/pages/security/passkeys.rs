//! The passkeys' section of the account security page (`<section id="passkeys">`): what the
//! template's `partials/security_passkeys.html` shows (the account's passkeys, from
//! `http/passkeys/enrol.rs`).

use crate::app::state::AppState;
use crate::http::error::HttpError;

/// What the passkeys' section shows.
pub type PasskeysView = crate::http::passkeys::enrol::PasskeySection;

/// The section's data for `user_id`.
pub(crate) async fn load(state: &AppState, user_id: &str) -> Result<PasskeysView, HttpError> {
    Ok(crate::http::passkeys::enrol::section(state, user_id).await?)
}
