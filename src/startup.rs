//! Building and running the server: `Application::build` binds the listener (port 0 works, and
//! `port()` tells the real one), so tests run the real thing in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Settings;
use crate::guard::AbusePolicy;
use crate::http::{ServerLayers, apply_server_layers, docs, router};
use crate::state::{AuthConfig, AuthState};
use crate::store::LockoutPolicy;
use crate::store::{self, Store};

/// How often a server picks up revocations written by the CLI or other instances.
const REVOCATION_SYNC_SECS: u64 = 3;

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    app: Router,
    state: AuthState,
    port: u16,
}

/// Open the configured database and apply migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url()?;
    let store = store::connect(&url).await?;
    store
        .migrate()
        .await
        .context("applying migrations failed")?;
    Ok(store)
}

/// The lifetimes and limits a server runs with, from its settings.
pub fn auth_config(settings: &Settings) -> AuthConfig {
    AuthConfig {
        issuer: settings.issuer(),
        audience: settings.audience.clone(),
        alg: settings.jwt_alg,
        access_ttl: settings.access_ttl,
        refresh_ttl: settings.refresh_ttl,
        remember_me_ttl: settings.remember_me_ttl,
        refresh_grace: settings.refresh_grace,
        leeway: settings.leeway,
        activity_interval: 60,
        argon2_memory_kib: settings.argon2_memory_kib,
        argon2_iterations: settings.argon2_iterations,
        hash_concurrency: settings
            .hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        hash_queue: settings.hash_queue,
        min_password_length: settings.min_password_length,
        abuse: AbusePolicy {
            login: settings.login_rate_limit.rate(),
            register: settings.register_rate_limit.rate(),
            refresh: settings.refresh_rate_limit.rate(),
            lockout: (settings.lockout_threshold > 0).then_some(LockoutPolicy {
                threshold: settings.lockout_threshold,
                first_lock: settings.lockout_duration,
                max_lock: settings.lockout_max,
            }),
            trusted_proxies: settings.trusted_proxies.clone(),
        },
        audit_retention: settings.audit_retention,
        max_sessions_per_user: settings.max_sessions_per_user,
    }
}

/// Build the state for `settings` over an open store.
pub async fn build_state(
    settings: &Settings,
    store: Arc<dyn Store>,
    clock: Clock,
) -> anyhow::Result<AuthState> {
    let secret = settings.jwt_secret.as_ref().map(|s| s.0.as_bytes());
    AuthState::build(auth_config(settings), store, secret, clock).await
}

impl AuthState {
    /// A full state for `settings`, for host apps that mount authgate into their own router:
    /// opens and migrates the configured database, loads or creates the signing keys.
    pub async fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Self::from_settings_with_clock(settings, Clock::default()).await
    }

    /// As [`AuthState::from_settings`], with a clock the caller can move (tests).
    pub async fn from_settings_with_clock(settings: &Settings, clock: Clock) -> anyhow::Result<Self> {
        settings.validate()?;
        let store = open_store(settings).await?;
        build_state(settings, store, clock).await
    }
}

impl Application {
    /// Validate settings, open and migrate the database, load keys, bind the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::default()).await
    }

    /// As [`Application::build`], with a clock the caller can move (tests).
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        Self::build_with_routes(settings, clock, Router::new()).await
    }

    /// As [`Application::build_with_clock`], serving `routes` next to authgate's own, inside
    /// the same middleware (a host's protected routes, or the benchmark's).
    pub async fn build_with_routes(
        settings: Settings,
        clock: Clock,
        routes: Router<AuthState>,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        for warning in settings.warnings() {
            tracing::warn!("insecure setting: {warning}");
        }
        let store = open_store(&settings).await?;
        let state = build_state(&settings, store, clock).await?;
        let layers = ServerLayers::from_settings(&settings);
        let app = apply_server_layers(
            routes
                .merge(router::<AuthState>())
                .merge(docs())
                .with_state(state.clone()),
            &layers,
        );
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("could not listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            app,
            state,
            port,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests read the clock and store through it).
    pub fn state(&self) -> AuthState {
        self.state.clone()
    }

    /// Serve until SIGTERM or Ctrl-C, finishing requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state.clone();
        let housekeeping = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(REVOCATION_SYNC_SECS));
            for ticks in 1u64.. {
                tick.tick().await;
                state.sync_revocations().await;
                if ticks % (600 / REVOCATION_SYNC_SECS) == 0 {
                    state.purge_expired().await;
                }
            }
        });
        let service = self.app.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown_signal())
            .await;
        housekeeping.abort();
        result
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}

impl AuthState {
    /// Merge revocations written elsewhere (CLI, other instances) into memory.
    pub async fn sync_revocations(&self) {
        let Ok(server) = self.server() else { return };
        if let Err(e) = server.revocations.sync(self.clock().now()).await {
            tracing::warn!(error = %e, "could not sync revocations");
        }
    }

    /// Drop expired revocation entries and dead sessions.
    pub async fn purge_expired(&self) {
        let Ok(server) = self.server() else { return };
        let now = self.clock().now();
        server.revocations.purge(now);
        server.refresh_buckets.purge(self.clock().now_ms());
        if let Err(e) = server.store.purge_expired(now).await {
            tracing::warn!(error = %e, "purge failed");
        }
        let retention = server.cfg.audit_retention;
        if let Err(e) = server.store.purge_events(now - retention).await {
            tracing::warn!(error = %e, "audit purge failed");
        }
    }
}
