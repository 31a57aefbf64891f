//! The passkeys' section of the account security page (`<section id="passkeys">`): what the
//! template's `partials/security_passkeys.html` shows. WebAuthn fills it.

use crate::app::state::AppState;
use crate::http::error::HttpError;

/// What the passkeys' section shows.
#[derive(Debug, Clone, Default)]
pub struct PasskeysView {}

/// The section's data for `user_id`.
pub(crate) async fn load(_state: &AppState, _user_id: &str) -> Result<PasskeysView, HttpError> {
    Ok(PasskeysView::default())
}
