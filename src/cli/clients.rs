//! `authd client add|list|update|rotate-secret|disable|enable|delete`: the operator's client
//! commands. Each
//! prints one JSON object (never a secret's digest; a secret only when it is made); each change
//! is an `admin_action` event with actor `cli`.

use clap::{Args, Subcommand};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::state::AppState;
use crate::app::{Deps, build_state};
use crate::config::Config;
use crate::domain::clients::{Client, NewClient};
use crate::domain::oauth::client_admin::ClientChanges;
use crate::domain::oauth::error::ClientError;
use crate::domain::operator::Operator;

/// OAuth client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints {"client_id", "client_secret"} (no secret with --public).
    Add(AddArgs),
    /// List the clients; prints {"clients": [...]} (no secrets).
    List,
    /// Change a client; a flag given replaces that setting (a repeated flag, the whole set),
    /// an empty --name/--logo-uri/--client-uri/--policy-uri/--tos-uri clears it. Prints the
    /// client as `list` shows it.
    Update(UpdateArgs),
    /// Make a confidential client a new secret; prints {"client_id", "client_secret"} once.
    /// The old secret is refused from then on.
    RotateSecret {
        /// The client_id.
        client_id: String,
    },
    /// Disable a client: refused at /token and /authorize, its grants revoked, its unused codes
    /// spent, every access token issued to it until now refused. Prints {"client_id",
    /// "disabled": true, "changed", "grants_revoked"}.
    Disable {
        /// The client_id.
        client_id: String,
    },
    /// Enable a disabled client: it may ask for tokens again; grants and tokens revoked when it
    /// was disabled stay revoked. Prints {"client_id", "disabled": false, "changed"}.
    Enable {
        /// The client_id.
        client_id: String,
    },
    /// Remove a client; its grants are revoked and its tokens refused. Prints {"client_id",
    /// "deleted", "grants_revoked"}.
    Delete {
        /// The client_id.
        client_id: String,
    },
}

/// `authd client add`'s arguments.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The client_id.
    client_id: String,
    /// A redirect URI (exact match); repeat for several.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A post-logout redirect URI (exact match); repeat for several.
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    public: bool,
    /// Skip the consent page.
    #[arg(long)]
    first_party: bool,
    /// A confidential client that may leave PKCE out (default: PKCE required of every
    /// client, RFC 9700).
    #[arg(long)]
    no_pkce: bool,
    /// An allowed scope; repeat for several (default: openid profile email).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// An allowed grant: authorization_code (default), refresh_token, client_credentials.
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// The application's name, shown on the sign-in and consent pages.
    #[arg(long)]
    name: Option<String>,
    /// An https address of the application's logo.
    #[arg(long = "logo-uri")]
    logo_uri: Option<String>,
    /// An https address of the application's home page (linked on the consent page).
    #[arg(long = "client-uri")]
    client_uri: Option<String>,
    /// An https address of its privacy policy (linked on the consent page).
    #[arg(long = "policy-uri")]
    policy_uri: Option<String>,
    /// An https address of its terms of service (linked on the consent page).
    #[arg(long = "tos-uri")]
    tos_uri: Option<String>,
}

/// `authd client update`'s arguments.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The client_id.
    client_id: String,
    /// Replaces the redirect URIs; repeat for several.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Replaces the post-logout redirect URIs; repeat for several.
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Replaces the allowed scopes; repeat for several.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Replaces the allowed grants; repeat for several.
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// Whether the client skips the consent page (`true` or `false`).
    #[arg(long, value_name = "BOOL")]
    first_party: Option<bool>,
    /// The application's name.
    #[arg(long)]
    name: Option<String>,
    /// The logo's https address.
    #[arg(long = "logo-uri")]
    logo_uri: Option<String>,
    /// The home page's https address.
    #[arg(long = "client-uri")]
    client_uri: Option<String>,
    /// The privacy policy's https address.
    #[arg(long = "policy-uri")]
    policy_uri: Option<String>,
    /// The terms of service's https address.
    #[arg(long = "tos-uri")]
    tos_uri: Option<String>,
}

impl From<AddArgs> for NewClient {
    fn from(a: AddArgs) -> Self {
        Self {
            id: a.client_id,
            redirect_uris: a.redirect_uris,
            post_logout_redirect_uris: a.post_logout_redirect_uris,
            is_public: a.public,
            is_first_party: a.first_party,
            pkce_optional: a.no_pkce,
            scopes: a.scopes,
            grants: a.grants,
            name: a.name,
            logo_uri: a.logo_uri,
            client_uri: a.client_uri,
            policy_uri: a.policy_uri,
            tos_uri: a.tos_uri,
        }
    }
}

impl From<UpdateArgs> for ClientChanges {
    fn from(u: UpdateArgs) -> Self {
        let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
        Self {
            redirect_uris: some(u.redirect_uris),
            post_logout_redirect_uris: some(u.post_logout_redirect_uris),
            scopes: some(u.scopes),
            grants: some(u.grants),
            first_party: u.first_party,
            name: u.name,
            logo_uri: u.logo_uri,
            client_uri: u.client_uri,
            policy_uri: u.policy_uri,
            tos_uri: u.tos_uri,
        }
    }
}

/// A client as the commands print it: its settings, never its secret.
pub(crate) fn client_json(c: &Client) -> serde_json::Value {
    let created = OffsetDateTime::from_unix_timestamp(c.created_at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok());
    let p = &c.profile;
    json!({
        "client_id": c.id,
        "public": c.is_public,
        "first_party": c.is_first_party,
        "pkce_required": c.pkce_required(),
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "scopes": c.scopes,
        "grants": c.grants,
        "name": p.name,
        "logo_uri": p.logo_uri,
        "client_uri": p.client_uri,
        "policy_uri": p.policy_uri,
        "tos_uri": p.tos_uri,
        "created_at": created,
        "disabled": c.is_disabled(),
    })
}

/// A command's refusal, as the one line on stderr.
fn refused(e: ClientError, id: &str) -> anyhow::Error {
    match e {
        ClientError::Invalid(msg) => anyhow::anyhow!("{msg}"),
        ClientError::NotFound => anyhow::anyhow!("no client with id {id:?}"),
        ClientError::Unexpected(e) => e,
    }
}

/// Runs a client command.
pub(super) async fn run(config: Config, command: ClientCommand) -> anyhow::Result<()> {
    let (state, _store) = build_state(config, Deps::default()).await?;
    match command {
        ClientCommand::Add(args) => add(&state, args.into()).await,
        ClientCommand::List => {
            let clients = state
                .oauth
                .client_list()
                .await
                .map_err(|e| refused(e, ""))?;
            let list: Vec<_> = clients.iter().map(client_json).collect();
            super::print_json(&json!({ "clients": list }))
        }
        ClientCommand::Update(args) => {
            let client_id = args.client_id.clone();
            let changes = ClientChanges::from(args);
            let client = state
                .oauth
                .client_update(&super::cli_context(), &client_id, changes)
                .await
                .map_err(|e| refused(e, &client_id))?;
            super::print_json(&client_json(&client))
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = state
                .oauth
                .client_rotate_secret(&super::cli_context(), Operator::Cli, &client_id)
                .await
                .map_err(|e| refused(e, &client_id))?;
            super::print_json(&json!({ "client_id": client_id, "client_secret": secret }))
        }
        ClientCommand::Disable { client_id } => {
            let done = state
                .oauth
                .client_disable(&super::cli_context(), Operator::Cli, &client_id)
                .await
                .map_err(|e| refused(e, &client_id))?;
            super::print_json(&json!({
                "client_id": client_id,
                "disabled": true,
                "changed": done.changed,
                "grants_revoked": done.grants_revoked,
            }))
        }
        ClientCommand::Enable { client_id } => {
            let changed = state
                .oauth
                .client_enable(&super::cli_context(), Operator::Cli, &client_id)
                .await
                .map_err(|e| refused(e, &client_id))?;
            super::print_json(
                &json!({ "client_id": client_id, "disabled": false, "changed": changed }),
            )
        }
        ClientCommand::Delete { client_id } => {
            let grants = state
                .oauth
                .client_delete(&super::cli_context(), Operator::Cli, &client_id)
                .await
                .map_err(|e| refused(e, &client_id))?;
            super::print_json(
                &json!({ "client_id": client_id, "deleted": true, "grants_revoked": grants }),
            )
        }
    }
}

/// `authd client add`: the event, then the id and (confidential) the secret, shown once.
async fn add(state: &AppState, spec: NewClient) -> anyhow::Result<()> {
    let id = spec.id.clone();
    let (client, secret) = state
        .oauth
        .client_add(&super::cli_context(), Operator::Cli, spec)
        .await
        .map_err(|e| refused(e, &id))?;
    match secret {
        Some(s) => super::print_json(&json!({ "client_id": client.id, "client_secret": s })),
        None => super::print_json(&json!({ "client_id": client.id })),
    }
}
