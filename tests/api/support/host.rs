//! Host apps: authgate's router over the test app's state, served with the standalone
//! server's layers, for cases that need routes the server does not have.

use std::net::SocketAddr;

use authgate::{AuthState, ServerLayers, apply_server_layers};
use axum::Router;

/// Serve `router` (state already applied) with the standalone server's layers on port 0;
/// returns the base URL.
pub async fn serve_host(router: Router) -> String {
    let layers = ServerLayers::default();
    let app = apply_server_layers(router, &layers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    format!("http://{addr}")
}

/// The whole authgate API over `state`, plus the host's extra `routes`.
pub fn host_router(state: &AuthState, routes: Router<AuthState>) -> Router {
    authgate::router::<AuthState>()
        .merge(routes)
        .with_state(state.clone())
}
