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
    /// The `/metrics` listener (`AUTHGATE_METRICS_BIND`) and its port.
    metrics: Option<(TcpListener, u16)>,
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
        if !crate::http::cookie_security(&state).secure {
            tracing::warn!(
                "AUTHGATE_PUBLIC_URL is plain http on this machine (or unset): cookie sessions \
                 are sent without Secure and without the __Host-/__Secure- name prefixes \
                 (development only; set an https:// AUTHGATE_PUBLIC_URL in production)"
            );
        }
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
        let metrics = match settings.metrics_bind {
            Some(addr) => {
                anyhow::ensure!(
                    crate::telemetry::metrics_handle().is_some(),
                    "AUTHGATE_METRICS_BIND is set, but another metrics recorder is installed"
                );
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("could not listen for metrics on {addr}"))?;
                let port = listener.local_addr()?.port();
                Some((listener, port))
            }
            None => None,
        };
        let header_timeout = Duration::from_secs(settings.header_timeout.unsigned_abs());
        let limits = ConnectionLimits::new(header_timeout, settings.max_connections);
        Ok(Self {
            listener,
            app,
            state,
            port,
            limits,
            metrics,
        })
    }

    /// The port `/metrics` is served on, if `AUTHGATE_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
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
        let metrics = self.metrics.map(|(listener, _)| {
            let routes = Router::new().route("/metrics", axum::routing::get(render_metrics));
            tokio::spawn(async move { axum::serve(listener, routes).await })
        });
        let state = self.state.clone();
        let shutdown = async move {
            shutdown_signal().await;
            // Revocation streams never finish by themselves; the graceful shutdown waits for them.
            state.end_revocation_streams();
        };
        let served = serve(self.listener, self.app, self.limits, shutdown).await;
        if let Some(task) = metrics {
            task.abort();
        }
        served
    }
}

/// `GET /metrics`: the Prometheus text format.
async fn render_metrics() -> impl axum::response::IntoResponse {
    let body = crate::telemetry::metrics_handle().map_or_else(String::new, |h| h.render());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
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
