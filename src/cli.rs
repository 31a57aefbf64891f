//! The command line: `serve`, `migrate`, `user add`. Every command that reports prints one
//! JSON object on stdout; errors go to stderr with a non-zero exit code.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use serde_json::json;

use crate::config::Config;
use crate::domain::accounts::service::Origin;
use crate::domain::clients::NewClient;
use crate::domain::clock::{OsRandom, Random};
use crate::domain::error::DomainError;
use crate::startup::{Application, Deps, build_state, shutdown_signal};

/// authd: a secure, drop-in identity service.
#[derive(Debug, Parser)]
#[command(name = "authd", version, about)]
pub struct Cli {
    /// Optional TOML configuration file (keys: the AUTHD_* names, lower-cased, no prefix).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage accounts.
    User {
        /// The account command.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage OAuth clients.
    Client {
        /// The client command.
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Manage signing keys.
    Keys {
        /// The key command.
        #[command(subcommand)]
        command: KeysCommand,
    },
}

/// OAuth client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints {"client_id", "client_secret"} (no secret with --public).
    Add {
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
        /// An allowed scope; repeat for several (default: openid profile email).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// An allowed grant: authorization_code (default), refresh_token, client_credentials.
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
}

/// Signing-key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make new active keys; the old ones stay published until their tokens expire.
    Rotate,
}

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; prints {"id", "email"} (and "password" when generated).
    Add {
        /// The email address.
        email: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lift every sign-in block and lock of an account; prints {"email", "unlocked"}.
    Unlock {
        /// The email address.
        email: String,
    },
}

/// Runs a parsed command with a loaded configuration.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            let app = Application::build(config, Deps::default()).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => {
            let backend = if config.database_url.starts_with("sqlite") {
                "sqlite"
            } else {
                "postgres"
            };
            crate::storage::connect(&config.database_url, 1)
                .await
                .context("AUTHD_DATABASE_URL: cannot open or migrate the database")?;
            print_json(&json!({ "migrated": true, "backend": backend }))
        }
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    admin,
                    password_stdin,
                },
        } => user_add(config, &email, admin, password_stdin).await,
        Command::User {
            command: UserCommand::Unlock { email },
        } => {
            let (state, _store) = build_state(config, Deps::default()).await?;
            let Some(account) = state.accounts.find_by_email(&email).await? else {
                bail!("no account with that email");
            };
            let ctx = crate::domain::context::RequestContext::new(
                std::net::IpAddr::from([127, 0, 0, 1]),
                "authd-cli",
                "cli".to_owned(),
            );
            let lifted = state.login.unlock(&ctx, &account.id, "cli").await?;
            print_json(&json!({ "email": account.email, "unlocked": lifted }))
        }
        Command::Client {
            command:
                ClientCommand::Add {
                    client_id,
                    redirect_uris,
                    post_logout_redirect_uris,
                    public,
                    first_party,
                    scopes,
                    grants,
                },
        } => {
            let spec = NewClient {
                id: client_id,
                redirect_uris,
                post_logout_redirect_uris,
                is_public: public,
                is_first_party: first_party,
                scopes,
                grants,
            };
            client_add(config, spec).await
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let (state, _store) = build_state(config, Deps::default()).await?;
            let kids = state.oauth.keys().rotate().await?;
            print_json(&json!({ "rotated": true, "active_kids": kids }))
        }
    }
}

async fn client_add(config: Config, spec: NewClient) -> anyhow::Result<()> {
    let (state, _store) = build_state(config, Deps::default()).await?;
    let (client, secret) = match state.oauth.clients().create(spec).await {
        Ok(v) => v,
        Err(DomainError::InvalidInput(msg)) => bail!("{msg}"),
        Err(e) => return Err(e.into()),
    };
    match secret {
        Some(s) => print_json(&json!({ "client_id": client.id, "client_secret": s })),
        None => print_json(&json!({ "client_id": client.id })),
    }
}

async fn user_add(
    config: Config,
    email: &str,
    admin: bool,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let (password, generated) = if password_stdin {
        let mut buf = String::new();
        std::io::stdin()
            .take(4096)
            .read_to_string(&mut buf)
            .context("reading the password from stdin")?;
        let pw = buf
            .strip_suffix('\n')
            .map(|s| s.strip_suffix('\r').unwrap_or(s))
            .unwrap_or(&buf);
        (pw.to_owned(), false)
    } else {
        (OsRandom.token(18), true)
    };
    let (state, _store) = build_state(config, Deps::default()).await?;
    let secret = SecretString::from(password.clone());
    let account = match state
        .accounts
        .create(email, secret, admin, Origin::Cli)
        .await
    {
        Ok(a) => a,
        Err(DomainError::EmailTaken) => bail!("an account with that email already exists"),
        Err(DomainError::InvalidInput(msg)) => bail!("{msg}"),
        Err(e) => return Err(e.into()),
    };
    let out = if generated {
        json!({ "id": account.id, "email": account.email, "password": password })
    } else {
        json!({ "id": account.id, "email": account.email })
    };
    print_json(&out)
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}
