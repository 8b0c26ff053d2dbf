//! What the two child processes the harness measures serve (`child.rs` starts them).
//!
//! - `serve-authgate`: the real API plus `GET /bench/protected`, a handler that needs only a
//!   verified token and the `user` role (`RequireRole<UserRole>`: signature, claims and the
//!   in-memory revocation list, no database).
//! - `serve-reference`: `GET /bench/reference`, a fixed JSON body, and `GET /readyz`.
//!
//! authgate runs as `Application::build_with_routes`, i.e. exactly `authgate serve` plus one
//! route; the reference goes through the same `apply_server_layers` stack with the same
//! settings, and both install the same log subscriber.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use authgate::{
    Application, Clock, RequireRole, ServerLayers, Settings, UserRole, apply_server_layers,
};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Flags every authgate child gets besides `--bind` and `--database-url`: kept in one place so
/// that a run's configuration is obvious.
///
/// All bench load comes from one IP (127.0.0.1), so the per-IP rate limits would turn the
/// scenarios into a test of the limiter: they are off. Account lockout stays at its default;
/// the bench only ever sends correct passwords, so it never triggers.
pub const AUTHGATE_EXTRA_ARGS: &[&str] = &[
    "--login-rate-limit",
    "off",
    "--register-rate-limit",
    "off",
    "--refresh-rate-limit",
    "off",
];

#[derive(Debug, clap::Args)]
pub struct AuthgateArgs {
    /// The database to serve (already migrated and seeded).
    #[arg(long)]
    pub db_url: String,
    /// Where to write the bound port once listening.
    #[arg(long)]
    pub port_file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ReferenceArgs {
    /// Where to write the bound port once listening.
    #[arg(long)]
    pub port_file: PathBuf,
}

/// The settings an authgate child runs with (the parent uses them too, for the argon2 params).
pub fn authgate_settings(db_url: &str) -> anyhow::Result<Settings> {
    let mut args: Vec<String> = vec![
        "--bind".into(),
        "127.0.0.1:0".into(),
        "--database-url".into(),
        db_url.into(),
    ];
    args.extend(AUTHGATE_EXTRA_ARGS.iter().map(|s| s.to_string()));
    let settings = Settings::from_args(args)?;
    settings.validate()?;
    Ok(settings)
}

/// `GET /bench/protected`: 401 without a valid token, 403 without a role; no database.
pub(crate) async fn protected(user: RequireRole<UserRole>) -> Json<Value> {
    Json(json!({ "user_id": user.id, "roles": user.roles }))
}

/// The reference's fixed body, shaped like `/bench/protected`'s answer.
async fn reference_body() -> Json<Value> {
    Json(json!({
        "user_id": "0191e1a2-7b3c-7d4e-8f90-a1b2c3d4e5f6",
        "roles": ["user"],
    }))
}

pub async fn authgate(args: AuthgateArgs) -> anyhow::Result<()> {
    let settings = authgate_settings(&args.db_url)?;
    authgate::init_tracing(settings.log_format);
    let routes = Router::new().route("/bench/protected", get(protected));
    // Exactly the server `authgate serve` runs (middleware, housekeeping), plus one route.
    let app = Application::build_with_routes(settings, Clock::default(), routes).await?;
    write_port(&args.port_file, app.port())?;
    app.run_until_stopped().await?;
    Ok(())
}

pub async fn reference(args: ReferenceArgs) -> anyhow::Result<()> {
    let settings = authgate_settings("sqlite::memory:")?;
    authgate::init_tracing(settings.log_format);
    let app = Router::new()
        .route("/bench/reference", get(reference_body))
        .route("/readyz", get(|| async { "ok" }));
    let app = apply_server_layers(app, &ServerLayers::from_settings(&settings));
    let listener = TcpListener::bind(settings.bind)
        .await
        .context("could not listen")?;
    write_port(&args.port_file, listener.local_addr()?.port())?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

/// Write the port atomically, so the parent never reads half a number.
fn write_port(path: &Path, port: u16) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, port.to_string())?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
