//! `authd user list|show|disable|enable|delete`: the operator's account commands, each one
//! call of `domain::accounts::admin::AccountAdmin` (one `admin_action` event, actor `cli`) and
//! one JSON object on stdout. Nothing secret is printed: no hash, no token, no factor secret.

use anyhow::bail;
use clap::Subcommand;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::{Deps, build_state};
use crate::config::Config;
use crate::domain::accounts::admin::{
    AccountAdmin, AccountAdminError, AccountStatus, Actor, ListFilter,
};
use crate::domain::context::RequestContext;

/// The operator's account commands (flattened into `authd user`).
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// List accounts with their status, by email; prints {"users": [...], "more"}.
    List {
        /// Only accounts under an account-wide lock now.
        #[arg(long)]
        locked: bool,
        /// Only disabled accounts.
        #[arg(long)]
        disabled: bool,
        /// Only enabled accounts.
        #[arg(long, conflicts_with = "disabled")]
        enabled: bool,
        /// Only administrators.
        #[arg(long)]
        admin: bool,
        /// Only addresses containing this text.
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Only emails after this one (the previous page's last; see "more").
        #[arg(long, value_name = "EMAIL")]
        after: Option<String>,
        /// At most this many (1–1000, default 100).
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Show one account: status, factors, sessions, created, last sign-in.
    Show {
        /// The email address (or the account id).
        email: String,
    },
    /// Disable an account: no sign-in by any path; its sessions end, its grants are revoked.
    Disable {
        /// The email address (or the account id).
        email: String,
    },
    /// Enable a disabled account: it may sign in again.
    Enable {
        /// The email address (or the account id).
        email: String,
    },
    /// Delete an account and its sessions, grants, factors, passkeys and reset links (events
    /// keep their history). Needs --yes.
    Delete {
        /// The email address (or the account id).
        email: String,
        /// Confirm: the account cannot be restored.
        #[arg(long)]
        yes: bool,
    },
}

fn when(t: OffsetDateTime) -> Value {
    t.format(&Rfc3339).map_or(Value::Null, Value::String)
}

fn status_json(s: &AccountStatus) -> Value {
    json!({
        "id": s.id,
        "email": s.email,
        "admin": s.admin,
        "created": when(s.created_at),
        "verified": s.verified,
        "disabled": s.disabled_at.is_some(),
        "disabled_at": s.disabled_at.map(when),
        "locked": s.locked_until.is_some(),
        "locked_until": s.locked_until.map(when),
    })
}

/// The domain's refusals as one-line messages.
fn explain(e: AccountAdminError) -> anyhow::Error {
    match e {
        AccountAdminError::UnknownAccount => anyhow::anyhow!("no account with that email or id"),
        AccountAdminError::InvalidInput(msg) => anyhow::anyhow!("{msg}"),
        AccountAdminError::Unexpected(e) => e,
    }
}

/// `authd user list …`.
async fn list(
    admin: &AccountAdmin,
    ctx: &RequestContext,
    c: AccountCommand,
) -> anyhow::Result<Value> {
    let AccountCommand::List {
        locked,
        disabled,
        enabled,
        admin: admins,
        search,
        after,
        limit,
    } = c
    else {
        bail!("not a listing");
    };
    let filter = ListFilter {
        contains: search,
        locked,
        disabled,
        enabled,
        admin: admins,
        after,
        limit,
    };
    let page = admin.list(ctx, Actor::Cli, filter).await.map_err(explain)?;
    let users: Vec<_> = page.accounts.iter().map(status_json).collect();
    Ok(json!({ "users": users, "count": users.len(), "more": page.more }))
}

/// `authd user show EMAIL`.
async fn show(admin: &AccountAdmin, ctx: &RequestContext, email: &str) -> anyhow::Result<Value> {
    let d = admin.show(ctx, Actor::Cli, email).await.map_err(explain)?;
    let mut v = status_json(&d.status);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "factors".into(),
            json!({
                "totp": d.factors.totp,
                "recovery_codes_left": d.factors.recovery_codes_left,
                "passkeys": d.passkeys,
                "email_verified": d.factors.email_verified,
                "require_mfa": d.factors.require_mfa,
            }),
        );
        obj.insert("sessions".into(), json!(d.sessions));
        obj.insert("grants".into(), json!(d.grants));
        obj.insert("last_sign_in".into(), json!(d.last_sign_in.map(when)));
    }
    Ok(v)
}

/// Runs one account command.
pub(super) async fn run(config: Config, command: AccountCommand) -> anyhow::Result<()> {
    if let AccountCommand::Delete { yes: false, .. } = command {
        bail!(
            "refusing to delete without --yes: the account, its sessions, grants, second \
             factors, passkeys and reset links are removed for good (its events stay)"
        );
    }
    let (state, _store) = build_state(config, Deps::default()).await?;
    let admin = &state.account_admin;
    let ctx = super::cli_context();
    let cli = Actor::Cli;
    let out = match command {
        AccountCommand::List { .. } => list(admin, &ctx, command).await?,
        AccountCommand::Show { email } => show(admin, &ctx, &email).await?,
        AccountCommand::Disable { email } => {
            let (a, d) = admin.disable(&ctx, cli, &email).await.map_err(explain)?;
            json!({
                "id": a.id,
                "email": a.email,
                "disabled": true,
                "changed": d.changed,
                "sessions_ended": d.sessions_ended,
                "grants_revoked": d.grants_revoked,
            })
        }
        AccountCommand::Enable { email } => {
            let (a, changed) = admin.enable(&ctx, cli, &email).await.map_err(explain)?;
            json!({ "id": a.id, "email": a.email, "disabled": false, "changed": changed })
        }
        AccountCommand::Delete { email, .. } => {
            let (a, d) = admin.delete(&ctx, cli, &email).await.map_err(explain)?;
            let r = d.removed;
            json!({
                "id": a.id,
                "email": a.email,
                "deleted": true,
                "removed": {
                    "sessions": d.sessions_ended,
                    "grants": r.grants,
                    "passkeys": r.passkeys,
                    "factors": r.factors,
                    "reset_links": r.reset_links,
                },
            })
        }
    };
    super::print_json(&out)
}
