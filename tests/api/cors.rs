//! CORS: only the configured origins, none by default, no wildcard.

use crate::both;
use crate::support::*;
use reqwest::{Method, Response};

const UI_ORIGIN: &str = "http://localhost:3000";

/// A CORS preflight for `POST /auth/login` from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url("/auth/login"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap()
}

/// A simple (non-preflighted) `GET /healthz` from `origin`.
async fn simple_get(app: &TestApp, origin: &str) -> Response {
    app.client
        .get(app.url("/healthz"))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

/// The `Access-Control-Allow-Origin` of an answer, if any.
fn allowed_origin(resp: &Response) -> Option<String> {
    resp.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().expect("visible ASCII").to_owned())
}

async fn cors_allows_only_the_configured_origin(backend: Backend) {
    // Arrange
    let app = spawn_app_with(backend, &["--cors-origins", UI_ORIGIN]).await;
    // Act
    let allowed = preflight(&app, UI_ORIGIN).await;
    let evil = preflight(&app, "http://evil.example").await;
    let lookalike = preflight(&app, "http://localhost:3000.evil.example").await;
    let simple = simple_get(&app, UI_ORIGIN).await;
    let simple_evil = simple_get(&app, "http://evil.example").await;
    // Assert
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], UI_ORIGIN);
    assert_eq!(h["access-control-allow-credentials"], "true");
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert_eq!(allowed_origin(&evil), None);
    assert_eq!(allowed_origin(&lookalike), None);
    assert_eq!(allowed_origin(&simple).as_deref(), Some(UI_ORIGIN));
    assert_eq!(allowed_origin(&simple_evil), None);
}

// CORS allows exactly the configured origins (SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_the_configured_origin_sqlite() {
    cors_allows_only_the_configured_origin(Backend::Sqlite).await;
}

// CORS allows exactly the configured origins (PostgreSQL, when TEST_DATABASE_URL is set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_the_configured_origin_postgres() {
    if postgres_or_skip().is_none() {
        return;
    }
    cors_allows_only_the_configured_origin(Backend::Postgres).await;
}

// By default no origin is allowed cross-site.
both!(cors_allows_no_origin_by_default, |app| async move {
    // Act
    let resp = preflight(&app, UI_ORIGIN).await;
    let simple = simple_get(&app, UI_ORIGIN).await;
    // Assert
    assert_eq!(allowed_origin(&resp), None);
    assert_eq!(allowed_origin(&simple), None);
});

// A wildcard CORS origin is refused at start-up (credentials would be exposed to every site).
#[tokio::test]
async fn cors_wildcard_origin_refuses_to_start() {
    // Arrange
    let db = TestDb::provision(Backend::Sqlite).await;
    let settings = test_settings(&db, &["--cors-origins", "*"]);
    // Act
    let result = authgate::Application::build(settings).await;
    // Assert
    let err = result.err().expect("build must fail");
    assert!(err.to_string().contains("CORS"), "{err}");
}
