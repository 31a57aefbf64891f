//! `authd user sessions EMAIL` (the account's browser sessions and app grants, as the security
//! page lists them) and `authd user revoke EMAIL` (ends every session and grant).

use anyhow::bail;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::app::{Deps, build_state};
use crate::config::Config;
use crate::domain::account_security::password::RevokedBy;
use crate::domain::account_security::sessions::SessionView;

async fn state_and_user(config: Config, email: &str) -> anyhow::Result<(AppState, String, String)> {
    let (state, _store) = build_state(config, Deps::default()).await?;
    let Some(account) = state.accounts.find_by_email(email).await? else {
        bail!("no account with that email");
    };
    Ok((state, account.id, account.email))
}

fn session_json(v: &SessionView) -> serde_json::Value {
    let when = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    json!({
        "id": v.id,
        "kind": if v.app.is_some() { "app" } else { "browser" },
        "client_id": v.app,
        "device": v.device,
        "network": v.network,
        "country": v.country,
        "first_seen": when(v.first_seen),
        "last_seen": when(v.last_seen),
        "risk_reasons": v.risk_reasons,
    })
}

/// `authd user sessions EMAIL` → `{"email", "sessions": [...]}`.
pub(super) async fn user_sessions(config: Config, email: &str) -> anyhow::Result<()> {
    let (state, user_id, email) = state_and_user(config, email).await?;
    let sessions = state.security.sessions(&user_id, None).await?;
    let list: Vec<_> = sessions.iter().map(session_json).collect();
    super::print_json(&json!({ "email": email, "sessions": list }))
}

/// `authd user revoke EMAIL` → `{"email", "sessions_ended", "grants_revoked"}`.
pub(super) async fn user_revoke(config: Config, email: &str) -> anyhow::Result<()> {
    let (state, user_id, email) = state_and_user(config, email).await?;
    let ctx = super::cli_context();
    let (sessions, grants) = state
        .security
        .revoke_everything(&ctx, &user_id, RevokedBy::Cli)
        .await?;
    super::print_json(&json!({
        "email": email,
        "revoked": true,
        "sessions_ended": sessions,
        "grants_revoked": grants,
    }))
}
