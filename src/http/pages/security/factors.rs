//! The second factors' section of the account security page (`<section id="factors">`): what
//! the template's `partials/security_factors.html` shows. TOTP and recovery codes fill it.

use crate::app::state::AppState;
use crate::http::error::HttpError;

/// What the factors' section shows.
#[derive(Debug, Clone, Default)]
pub struct FactorsView {}

/// The section's data for `user_id`.
pub(crate) async fn load(_state: &AppState, _user_id: &str) -> Result<FactorsView, HttpError> {
    Ok(FactorsView::default())
}
