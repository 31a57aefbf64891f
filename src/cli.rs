//! The command line: `serve`, `migrate`, `user`, `client`, `keys`, `model`, `simulate`. Every command that reports prints one
//! JSON object on stdout; errors go to stderr with a non-zero exit code.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use serde_json::json;

use crate::app::{Application, Deps, build_state, shutdown_signal};
use crate::config::Config;
use crate::domain::accounts::error::AccountError;
use crate::domain::accounts::service::Origin;
use crate::domain::clock::{OsRandom, Random};
use crate::domain::signin::unlock::UnlockedBy;

/// `authd client add|list|update|rotate-secret|delete`.
pub mod clients;
/// Finding the database; no new one outside `serve` and `migrate` without `--create`.
mod database;
/// `authd user mfa reset`.
mod mfa;
/// `authd model train|eval|label`.
mod model;
/// `user sessions`, `user revoke`.
mod sessions;
/// `user list|show|disable|enable|delete`.
mod users;

/// authd: a secure, drop-in identity service.
#[derive(Debug, Parser)]
#[command(name = "authd", version, about)]
pub struct Cli {
    /// Optional TOML configuration file (keys: the AUTHD_* names, lower-cased, no prefix).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Let a command other than serve and migrate create a database that does not exist yet.
    #[arg(long, global = true)]
    pub create: bool,
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
    /// Prune what nothing reads any more now (the hourly job's run; `AUTHD_EVENT_RETENTION_DAYS`).
    Prune,
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
        command: clients::ClientCommand,
    },
    /// Manage signing keys.
    Keys {
        /// The key command.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The risk model.
    Model {
        /// The model command.
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Drive a running server with simulated users and attackers; print the report as JSON.
    Simulate(crate::sim::SimulateArgs),
}

/// Risk model commands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Fit the model on the event log, store it as the next version (every instance loads it
    /// within 30 s) and print its held-out metrics as JSON.
    Train,
    /// Print the metrics of the newest model (or the built-in prior) on the labelled events.
    Eval,
    /// Label an event for training: `attack` or `legit`.
    Label {
        /// The event id.
        event_id: String,
        /// `attack` or `legit`.
        label: String,
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
    /// List an account's browser sessions and app grants; prints {"email", "sessions"}.
    Sessions {
        /// The email address.
        email: String,
    },
    /// End every session and grant of an account; prints {"email", "revoked",
    /// "sessions_ended", "grants_revoked"}.
    Revoke {
        /// The email address.
        email: String,
    },
    /// Second factors of an account.
    Mfa {
        /// What to do.
        #[command(subcommand)]
        command: MfaCommand,
    },
    /// list, show, disable, enable, delete.
    #[command(flatten)]
    Accounts(users::AccountCommand),
}

/// Second-factor commands.
#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Remove every second factor of an account (after checking the person's identity out of
    /// band); the owner is mailed. Prints {"email", "removed"}.
    Reset {
        /// The email address.
        email: String,
    },
}

/// Runs a parsed command with a loaded configuration.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    database::ensure_present(&cli.command, &config, cli.create).await?;
    match cli.command {
        Command::Serve => {
            let app = Application::build(config, Deps::default()).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => migrate(&config).await,
        Command::Prune => prune(&config).await,
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
        } => user_unlock(config, &email).await,
        Command::User {
            command: UserCommand::Sessions { email },
        } => sessions::user_sessions(config, &email).await,
        Command::User {
            command: UserCommand::Revoke { email },
        } => sessions::user_revoke(config, &email).await,
        Command::User {
            command:
                UserCommand::Mfa {
                    command: MfaCommand::Reset { email },
                },
        } => mfa::mfa_reset(config, &email).await,
        Command::User {
            command: UserCommand::Accounts(command),
        } => users::run(config, command).await,
        Command::Client { command } => clients::run(config, command).await,
        Command::Model { command } => model::model(config, command).await,
        Command::Simulate(args) => {
            let report = crate::sim::run(&args).await?;
            print_json(&serde_json::to_value(report)?)
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let (state, _store) = build_state(config, Deps::default()).await?;
            // Through the operators' act (as the console and the API): an `admin_action`.
            let ctx = cli_context();
            let by = crate::domain::operator::Operator::Cli;
            let kids = state.admin_ops.keys_rotate(&ctx, by).await?;
            print_json(&json!({ "rotated": true, "active_kids": kids }))
        }
    }
}

/// `authd user unlock EMAIL`.
async fn user_unlock(config: Config, email: &str) -> anyhow::Result<()> {
    let (state, _store) = build_state(config, Deps::default()).await?;
    let Some(account) = state.accounts.find_by_email(email).await? else {
        bail!("no account with that email");
    };
    let ctx = cli_context();
    let lifted = state
        .login
        .unlock(&ctx, &account.id, UnlockedBy::Cli)
        .await?;
    print_json(&json!({ "email": account.email, "unlocked": lifted }))
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
        Err(AccountError::EmailTaken) => bail!("an account with that email already exists"),
        Err(AccountError::InvalidInput(msg)) => bail!("{msg}"),
        Err(e) => return Err(e.into()),
    };
    // On the record, as every operator's act on an account (an admin most of all).
    let ctx = cli_context();
    state
        .account_admin
        .created(&ctx, crate::domain::accounts::admin::Actor::Cli, &account)
        .await?;
    let out = if generated {
        json!({ "id": account.id, "email": account.email, "password": password })
    } else {
        json!({ "id": account.id, "email": account.email })
    };
    print_json(&out)
}

/// The request context of a command-line act (its events: ip 127.0.0.1, user agent
/// `authd-cli`, request id `cli`).
pub(crate) fn cli_context() -> crate::domain::context::RequestContext {
    crate::domain::context::RequestContext::new(
        std::net::IpAddr::from([127, 0, 0, 1]),
        "authd-cli",
        "cli".to_owned(),
    )
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

/// `authd migrate`: creates or upgrades the schema.
async fn migrate(config: &Config) -> anyhow::Result<()> {
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

/// `authd prune`: the retention job's run, now; the rows deleted per table.
async fn prune(config: &Config) -> anyhow::Result<()> {
    let store = crate::storage::connect(&config.database_url, 1)
        .await
        .context("AUTHD_DATABASE_URL: cannot open or migrate the database")?;
    let clock: std::sync::Arc<dyn crate::domain::clock::Clock> =
        std::sync::Arc::new(crate::domain::clock::SystemClock);
    // The longest a session may stay idle (`SessionPolicy::longest`): a remembered one's.
    let idle = config.remember_idle.max(config.session_idle_timeout);
    let keep = crate::domain::retention::Keep {
        event_days: config.event_retention_days,
        session_idle_secs: idle.whole_seconds(),
        failure_window_secs: config.protection.window_secs,
    };
    let pruned = crate::domain::retention::prune(&store.retention, &clock, keep).await?;
    let tables: serde_json::Map<String, serde_json::Value> = pruned
        .into_iter()
        .map(|(t, n)| (t.to_owned(), json!(n)))
        .collect();
    print_json(&json!({ "pruned": tables }))
}
