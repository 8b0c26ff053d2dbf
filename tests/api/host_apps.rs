//! Protections a host app cannot switch off by accident (issue #9 item 5, R30, F5): served
//! without the peer address, the login fails closed and says how to fix it; and a host that
//! starts housekeeping sees revocations made by another instance on the same database.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authgate::{AuthState, CurrentUser, ServerLayers, apply_server_layers};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::both;
use crate::support::*;

/// Log lines written through a [`tracing`] subscriber, kept for the test to read.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn login_body(user: &TestUser) -> Value {
    json!({"username": user.email, "password": user.password})
}

both!(
    /// Issue #9 item 5, R30: a host app that serves `authgate::router()` with plain
    /// `axum::serve(listener, router)` (no `into_make_service_with_connect_info`) has no peer
    /// address, so no per-IP limit could apply: `POST /auth/login` with the right password
    /// answers a 5xx and never a token, and the server's log line names the fix.
    a_host_served_without_connect_info_fails_closed_and_names_the_fix,
    |app| async move {
        // Arrange: the naive host, over real HTTP
        let (user, _) = app.signed_in_user().await;
        let naive = host_router(app.state(), Router::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, naive).await;
        });
        // Act
        let resp = app
            .client
            .post(format!("{base}/auth/login"))
            .json(&login_body(&user))
            .send()
            .await
            .unwrap();
        // Assert: a server error, no token
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert!(status.is_server_error(), "{status}: {body}");
        assert!(!body.contains("access_token"), "{body}");

        // Arrange: the same host with the server's layers (which log every 5xx once), called
        // in-process on this thread under a subscriber that keeps what is logged
        let log = CapturedLog::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let layered = apply_server_layers(
            host_router(app.state(), Router::new()),
            &ServerLayers::default(),
        );
        let request = Request::post("/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(login_body(&user).to_string()))
            .unwrap();
        // Act
        let resp = {
            let _guard = tracing::subscriber::set_default(subscriber);
            layered.oneshot(request).await.unwrap()
        };
        // Assert
        assert!(resp.status().is_server_error(), "{}", resp.status());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("access_token"));
        let logged = log.text();
        assert!(
            logged.contains("into_make_service_with_connect_info"),
            "the log names the fix: {logged}"
        );
    }
);

/// `GET {base}/whoami` with `token`: the status.
async fn whoami(client: &reqwest::Client, base: &str, token: &str) -> StatusCode {
    bearer_status(client, &format!("{base}/whoami"), token).await
}

both!(
    /// Issue #9 item 5, F5, R14: a host app with its own `AuthState` on the server's database
    /// that calls `start_housekeeping` sees a logout made through another instance (the test
    /// server) within a few seconds, on a route guarded only by the `CurrentUser` extractor.
    /// Without that call the revocation would never reach the host's memory.
    a_host_that_starts_housekeeping_sees_revocations_made_elsewhere,
    |app| async move {
        // Arrange: the host, its own state, housekeeping started as the README shows
        let host_state = AuthState::from_settings(&app.settings).await.unwrap();
        let _housekeeping = host_state.start_housekeeping();
        let routes = Router::new().route(
            "/whoami",
            get(|user: CurrentUser| async move { user.id.to_string() }),
        );
        let host = serve_host(host_router(&host_state, routes)).await;
        let (_, tokens) = app.signed_in_user().await;
        assert_eq!(whoami(&app.client, &host, &tokens.access).await, StatusCode::OK);
        // Act: log out through the other instance
        let resp = app.post("/auth/logout", Some(&tokens.access), json!({})).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        // Assert: the host refuses the token within the poll interval (3 s) plus slack
        let started = Instant::now();
        while whoami(&app.client, &host, &tokens.access).await != StatusCode::UNAUTHORIZED {
            assert!(
                started.elapsed() < Duration::from_secs(6),
                "the host still accepts a token logged out elsewhere"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
);
