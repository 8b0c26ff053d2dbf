//! The command line: `serve`, `migrate`, `user create | set-role | deactivate | unlock |
//! reset-mfa | reset-link`, `verifier create | list | revoke`, and `import tutorial | jsonl` /
//! `export jsonl` (in `transfer`).
//! Every command takes the same settings (flags or `AUTHGATE_*` variables). User commands go
//! through the same services as the API (`AuthState`), never straight to the store.

mod transfer;

use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::domain::{Actor, role};
use crate::service::{AuthState, Error, UserChanges};
use crate::startup::Application;

/// authgate: a JWT authentication server.
#[derive(Parser)]
#[command(name = "authgate", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies migrations first).
    Serve(#[command(flatten)] Settings),
    /// Apply database migrations and exit.
    Migrate(#[command(flatten)] Settings),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Move accounts in: from a tutorial app's database, or from JSON lines.
    #[command(subcommand)]
    Import(transfer::ImportCommand),
    /// Write every account out as JSON lines (for a backup, or another authgate).
    #[command(subcommand)]
    Export(transfer::ExportCommand),
    /// Manage the credentials services present to read the revocation feed.
    #[command(subcommand)]
    Verifier(VerifierCommand),
    /// Manage signing keys: list, rotate (no forced logout), retire.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// Verifier credentials (for `GET /revocations` and `/revocations/stream`).
#[derive(Subcommand)]
pub enum VerifierCommand {
    /// Create a credential and print it once (only its hash is stored).
    Create {
        /// A name for the service that will use it (letters, digits, '-', '_', '.').
        name: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// List credentials (names and dates; never the credentials).
    List(#[command(flatten)] Settings),
    /// Revoke a credential: its requests are refused, its open streams end.
    Revoke {
        name: String,
        #[command(flatten)]
        settings: Settings,
    },
}

/// Signing-key management.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// List the signing keys and where each is in its life.
    List {
        #[command(flatten)]
        settings: Settings,
    },
    /// Add a new signing key: published at once, signing on every instance once verifiers
    /// have had time to fetch it; the old key retires by itself when its tokens have expired.
    Rotate {
        #[command(flatten)]
        settings: Settings,
    },
    /// Retire a replaced key now that its tokens have expired (--force: even before).
    Retire {
        kid: String,
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        settings: Settings,
    },
}

/// User management.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from a prompt, or from one line of stdin with
    /// --password-stdin; never from the command line.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: Option<String>,
        /// Roles besides `user` (repeatable), e.g. --role admin.
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Replace a user's roles (repeat --role for several).
    SetRole {
        #[arg(long)]
        email: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Deactivate a user and end all their sessions.
    Deactivate {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Lift a user's lock after failed logins.
    Unlock {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Remove a user's second factor (TOTP and recovery codes), for someone who lost both,
    /// and end all their sessions. Audited; the user is mailed.
    ResetMfa {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        settings: Settings,
    },
    /// Print a one-time password reset link for a user, for operators without mail (it voids
    /// the user's older reset links; it works once, for AUTHGATE_RESET_TTL).
    ResetLink {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        settings: Settings,
    },
}

/// The settings of whichever command runs (for logging set-up).
fn settings_of(command: &Command) -> &Settings {
    match command {
        Command::Serve(s) | Command::Migrate(s) => s,
        Command::User(
            UserCommand::Create { settings, .. }
            | UserCommand::SetRole { settings, .. }
            | UserCommand::Deactivate { settings, .. }
            | UserCommand::Unlock { settings, .. }
            | UserCommand::ResetMfa { settings, .. }
            | UserCommand::ResetLink { settings, .. },
        ) => settings,
        Command::Import(cmd) => cmd.settings(),
        Command::Export(cmd) => cmd.settings(),
        Command::Verifier(
            VerifierCommand::Create { settings, .. }
            | VerifierCommand::List(settings)
            | VerifierCommand::Revoke { settings, .. },
        ) => settings,
        Command::Keys(
            KeysCommand::List { settings }
            | KeysCommand::Rotate { settings }
            | KeysCommand::Retire { settings, .. },
        ) => settings,
    }
}

/// Set up logs, then run a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    crate::telemetry::init(settings_of(&cli.command).log_format);
    match cli.command {
        Command::Serve(settings) => serve(settings).await,
        Command::Migrate(settings) => {
            AuthState::migrate(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(cmd) => user(cmd).await,
        Command::Import(cmd) => transfer::import(cmd).await,
        Command::Export(cmd) => transfer::export(cmd).await,
        Command::Verifier(cmd) => verifier(cmd).await,
        Command::Keys(cmd) => keys(cmd).await,
    }
}

async fn verifier(cmd: VerifierCommand) -> anyhow::Result<()> {
    match cmd {
        VerifierCommand::Create { name, settings } => {
            let state = AuthState::from_settings(&settings).await?;
            let credential = state.create_verifier(&name).await.map_err(|e| match e {
                Error::Conflict(_) => anyhow::anyhow!("a verifier named {name} exists already"),
                other => describe(other),
            })?;
            // SECURITY: printed once, to stdout only; never logged.
            println!("{credential}");
            eprintln!(
                "verifier {name} created; the credential above is shown only now. Services send \
                 it as `Authorization: Bearer …` to /revocations and /revocations/stream."
            );
        }
        VerifierCommand::List(settings) => {
            let state = AuthState::from_settings(&settings).await?;
            for v in state.list_verifiers().await.map_err(describe)? {
                let status = v
                    .revoked_at
                    .map_or_else(|| "active".to_owned(), |at| format!("revoked at {at}"));
                println!("{}\tcreated at {}\t{status}", v.name, v.created_at);
            }
        }
        VerifierCommand::Revoke { name, settings } => {
            let state = AuthState::from_settings(&settings).await?;
            state.revoke_verifier(&name).await.map_err(|e| match e {
                Error::NotFound(_) => anyhow::anyhow!("no active verifier named {name}"),
                other => describe(other),
            })?;
            println!("verifier {name} revoked");
        }
    }
    Ok(())
}

/// A unix time as RFC 3339 (UTC), for humans.
fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

async fn keys(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::List { settings } => {
            let state = AuthState::from_settings(&settings).await?;
            for k in state.list_keys().await.map_err(describe)? {
                let mut line = format!(
                    "{}  {}  {:<9}  published {}  signs from {}",
                    k.kid,
                    k.alg,
                    k.status.as_str(),
                    when(k.created_at),
                    when(k.activates_at)
                );
                if let Some(t) = k.retire_after {
                    line.push_str(&format!("  retires after {}", when(t)));
                }
                if let Some(t) = k.retired_at {
                    line.push_str(&format!("  retired {}", when(t)));
                }
                println!("{line}");
            }
        }
        KeysCommand::Rotate { settings } => {
            let state = AuthState::from_settings(&settings).await?;
            let k = state.rotate_keys().await.map_err(describe)?;
            println!(
                "new key {} published; it signs from {} on every instance",
                k.kid,
                when(k.activates_at)
            );
        }
        KeysCommand::Retire {
            kid,
            force,
            settings,
        } => {
            let state = AuthState::from_settings(&settings).await?;
            state.retire_key(&kid, force).await.map_err(describe)?;
            println!("key {kid} retired");
        }
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let bind = settings.bind;
    let app = Application::build(settings).await?;
    let base = format!("http://{}:{}", bind.ip(), app.port());
    tracing::info!("authgate listening on {base}; interactive API docs at {base}/docs");
    // A closed stdout (a supervisor that stopped reading) must not bring the server down.
    let banner = format!(
        "authgate listening on {base}\n  API docs: {base}/docs\n  OpenAPI:  {base}/openapi.json\n"
    );
    let _ = std::io::stdout().lock().write_all(banner.as_bytes());
    app.run_until_stopped().await?;
    Ok(())
}

/// The user a command names, found as `/auth/login` finds them.
async fn user_id_by_email(state: &AuthState, email: &str) -> anyhow::Result<uuid::Uuid> {
    let user = state
        .find_user(email)
        .await
        .map_err(describe)?
        .with_context(|| format!("no user with e-mail {email}"))?;
    Ok(user.id)
}

async fn user(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            email,
            username,
            roles,
            password_stdin,
            settings,
        } => {
            let state = AuthState::from_settings(&settings).await?;
            let password = read_password(password_stdin)?;
            let mut all = vec![role::USER.to_owned()];
            all.extend(roles.into_iter().filter(|r| r != role::USER));
            let user = state
                .create_user(&email, password, username.as_deref(), all)
                .await
                .map_err(describe)?;
            println!(
                "created user {} <{}> with roles {}",
                user.id,
                user.email,
                user.roles.join(", ")
            );
        }
        UserCommand::SetRole {
            email,
            roles,
            settings,
        } => {
            let state = AuthState::from_settings(&settings).await?;
            let id = user_id_by_email(&state, &email).await?;
            let user = state
                .update_user(
                    id,
                    UserChanges {
                        roles: Some(roles),
                        is_active: None,
                    },
                    &Actor::system(),
                )
                .await
                .map_err(describe)?;
            println!("{} now has roles {}", user.email, user.roles.join(", "));
        }
        UserCommand::Deactivate { email, settings } => {
            let state = AuthState::from_settings(&settings).await?;
            let id = user_id_by_email(&state, &email).await?;
            state
                .update_user(
                    id,
                    UserChanges {
                        roles: None,
                        is_active: Some(false),
                    },
                    &Actor::system(),
                )
                .await
                .map_err(describe)?;
            println!("{email} deactivated; all sessions ended");
        }
        UserCommand::Unlock { email, settings } => {
            let state = AuthState::from_settings(&settings).await?;
            let id = user_id_by_email(&state, &email).await?;
            state
                .unlock_user(id, &Actor::system())
                .await
                .map_err(describe)?;
            println!("{email} unlocked; failed logins forgotten");
        }
        UserCommand::ResetMfa { email, settings } => {
            let state = AuthState::from_settings(&settings).await?;
            let id = user_id_by_email(&state, &email).await?;
            state
                .reset_mfa(id, &Actor::system())
                .await
                .map_err(describe)?;
            println!("{email}: second factor removed; all sessions ended");
        }
        UserCommand::ResetLink { email, settings } => {
            let state = AuthState::from_settings(&settings).await?;
            let link = state
                .reset_link(&email, &Actor::system())
                .await
                .map_err(|e| match e {
                    Error::NotFound(_) => anyhow::anyhow!("no user with e-mail {email}"),
                    other => describe(other),
                })?;
            // The link is a secret: it goes to stdout only, never to the log.
            println!("{link}");
        }
    }
    Ok(())
}

fn describe(e: Error) -> anyhow::Error {
    match e {
        Error::Validation(fields) => {
            let msgs: Vec<String> = fields
                .iter()
                .flat_map(|(f, m)| m.iter().map(move |m| format!("{f}: {m}")))
                .collect();
            anyhow::anyhow!("{}", msgs.join("; "))
        }
        other => anyhow::anyhow!("{other}"),
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("could not read the password from stdin")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            bail!("no password on stdin");
        }
        return Ok(password);
    }
    let first = rpassword::prompt_password("Password: ")
        .context("could not read the password (use --password-stdin without a terminal)")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(first)
}
