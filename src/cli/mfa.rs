//! `authd user mfa reset EMAIL`: removes an account's second factors (after the operator
//! checked the person's identity out of band); `mfa_removed` and a mail to the owner.

use anyhow::bail;
use serde_json::json;

use crate::app::{Deps, build_state};
use crate::config::Config;

/// `authd user mfa reset EMAIL`.
pub(super) async fn mfa_reset(config: Config, email: &str) -> anyhow::Result<()> {
    let (state, _store) = build_state(config, Deps::default()).await?;
    let Some(account) = state.accounts.find_by_email(email).await? else {
        bail!("no account with that email");
    };
    let ctx = super::cli_context();
    let removed = state
        .login
        .mfa_reset(
            &ctx,
            &account,
            crate::domain::signin::factors::MfaResetBy::Cli,
        )
        .await?;
    super::print_json(&json!({ "email": account.email, "removed": removed }))
}
