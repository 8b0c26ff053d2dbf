//! The accept loop, written out instead of `axum::serve` because a server facing the internet
//! needs three things that one does not offer: a header read timeout (a client trickling one
//! header line every few seconds would otherwise hold its connection for good, and a thousand
//! of them exhaust the process's file descriptors), a cap on open connections, and the open-file
//! limit raised to what the system allows. HTTP/1.1 and HTTP/2 are both served, with graceful
//! shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

/// Bounds on the connections one process holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The limits for these settings: `max_connections` defaults to what the open-file limit
    /// leaves after a reserve for the database pool, log files and the like.
    pub(crate) fn new(header_timeout: Duration, max_connections: Option<usize>) -> Self {
        let open_files = raise_open_file_limit();
        let max_connections = max_connections.unwrap_or_else(|| match open_files {
            Some(limit) => usize::try_from(limit.saturating_sub(256))
                .unwrap_or(usize::MAX)
                .clamp(64, 10_000),
            None => 1024,
        });
        Self {
            header_timeout,
            max_connections,
        }
    }
}

/// Raise the soft open-file limit to the hard one (systemd's default soft limit is 1,024) and
/// say what it is. Returns the limit now in force, if the platform has one.
fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(open_files = limit, "open-file limit");
            Some(limit)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read or raise the open-file limit");
            None
        }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then finish the requests in flight.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut make: IntoMakeServiceWithConnectInfo<Router, SocketAddr> =
        app.into_make_service_with_connect_info::<SocketAddr>();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    let mut shutdown = pin!(shutdown);
    let mut warned_full: Option<Instant> = None;
    loop {
        // At the cap, stop accepting: newcomers wait in the kernel's backlog, and the
        // connections already open keep being served.
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if warned_full.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached (AUTHGATE_MAX_CONNECTIONS): not accepting \
                         until a connection closes"
                    );
                    warned_full = Some(Instant::now());
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning, then try again.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = match make.call(peer).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let service = TowerToHyperService::new(service.map_request(
            |req: axum::http::Request<hyper::body::Incoming>| req.map(axum::body::Body::new),
        ));
        let builder = builder.clone();
        let connection = graceful.watch(
            builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned(),
        );
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
