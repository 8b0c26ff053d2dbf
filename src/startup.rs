//! The composition root: `Application::build` puts settings, state, routes and middleware
//! together and binds the listener (port 0 works, and `port()` tells the real one), so tests
//! run the real thing in-process. `run_until_stopped` serves (`crate::serve`), with
//! housekeeping on a timer.

use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Settings;
use crate::http::{ServerLayers, apply_server_layers, docs, router};
use crate::serve::{ConnectionLimits, serve};
use crate::service::AuthState;

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    app: Router,
    state: AuthState,
    port: u16,
    limits: ConnectionLimits,
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
        for warning in settings.warnings() {
            tracing::warn!("insecure setting: {warning}");
        }
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("could not listen on {}", settings.bind))?;
        let bound = listener.local_addr()?;
        let mut settings = settings;
        if settings.public_url.is_none() && settings.smtp_url.is_none() {
            // The embedded default: links in the mail files point at this very server.
            let ip = if bound.ip().is_unspecified() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                bound.ip()
            };
            let host = std::net::SocketAddr::new(ip, bound.port());
            settings.public_url = Some(format!("http://{host}"));
        }
        let state = AuthState::from_settings_with_clock(&settings, clock).await?;
        if let Some((target, delivered)) = state.mail_transport() {
            if delivered {
                tracing::info!("mail goes to {target}");
            } else {
                tracing::warn!(
                    "mail is NOT delivered: no AUTHGATE_SMTP_URL, so each mail is written as {target} \
                     (set AUTHGATE_SMTP_URL, AUTHGATE_MAIL_FROM and AUTHGATE_PUBLIC_URL to send it)"
                );
            }
        }
        let layers = ServerLayers::from_settings(&settings);
        let app = apply_server_layers(
            routes
                .merge(router::<AuthState>())
                .merge(docs())
                .with_state(state.clone()),
            &layers,
        );
        let port = bound.port();
        let header_timeout = Duration::from_secs(settings.header_timeout.unsigned_abs());
        let limits = ConnectionLimits::new(header_timeout, settings.max_connections);
        Ok(Self {
            listener,
            app,
            state,
            port,
            limits,
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
        let _housekeeping = self.state.start_housekeeping();
        let state = self.state.clone();
        let shutdown = async move {
            shutdown_signal().await;
            // Revocation streams never finish by themselves; the graceful shutdown waits for them.
            state.end_revocation_streams();
        };
        serve(self.listener, self.app, self.limits, shutdown).await
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
