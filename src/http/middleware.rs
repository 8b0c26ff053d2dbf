//! The layers a standalone server puts around the API: request ids, tracing without secrets,
//! CORS, body limits, timeouts, security headers, panic recovery and one log line per 5xx.
//! Host apps that mount [`super::router`] bring their own stack and may reuse this one.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::http::oauth::{OAuthError, OAuthErrorCode};
use crate::service::Error;

/// What the server's layers need to know.
#[derive(Debug, Clone)]
pub struct ServerLayers {
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Total request-header bytes accepted (431 beyond).
    pub max_header_bytes: usize,
    /// `Strict-Transport-Security` max-age in seconds; `None` sends no HSTS header.
    pub hsts_max_age: Option<i64>,
}

impl ServerLayers {
    /// The layers a server configured with `settings` runs with.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            cors_origins: settings.cors_origins.clone(),
            max_body_bytes: settings.max_body_bytes,
            request_timeout: Duration::from_secs(30),
            max_header_bytes: settings.max_header_bytes,
            hsts_max_age: settings.hsts_max_age,
        }
    }
}

impl Default for ServerLayers {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            hsts_max_age: None,
        }
    }
}

/// A body announced over the limit is read and dropped before the 413 up to this size, and
/// refused without reading beyond it.
const EARLY_REJECT_BYTES: u64 = 1024 * 1024;

const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/// Wrap `router` in the server's middleware, outermost last.
pub fn apply_server_layers(router: Router, layers: &ServerLayers) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request| {
        // SECURITY: the path template only: never the query string or headers, which could carry secrets.
        let path = req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "unmatched".into());
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        tracing::info_span!("request", method = %req.method(), path, request_id = id)
    });
    let hsts = layers
        .hsts_max_age
        .and_then(|age| HeaderValue::try_from(format!("max-age={age}; includeSubDomains")).ok());
    let (max_header_bytes, max_body_bytes) = (layers.max_header_bytes, layers.max_body_bytes);
    router
        .fallback(|| async { Error::NotFound("route") })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(middleware::from_fn(log_server_errors))
        .layer(DefaultBodyLimit::max(layers.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            layers.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            Error::Internal(anyhow::anyhow!("a handler panicked")).into_response()
        }))
        .layer(cors(&layers.cors_origins))
        // Outside CORS, so preflight answers carry the headers too.
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            limit_request_size(req, next, max_header_bytes, max_body_bytes)
        }))
        .layer(middleware::from_fn(move |req, next| {
            security_headers(req, next, hsts.clone())
        }))
        .layer(middleware::from_fn(record_request))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Count every request and time it, labelled by route template, method and status: bounded
/// labels (never the raw path, which carries ids, nor a query string).
async fn record_request(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let start = std::time::Instant::now();
    let response = next.run(req).await;
    let labels = [
        ("route", route),
        ("method", method.to_owned()),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("authgate_http_requests_total", &labels).increment(1);
    metrics::histogram!("authgate_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}

/// CORS for the listed origins only. SECURITY: credentials (the SPA's refresh cookie) are
/// allowed only for them too: an unlisted origin gets neither `Access-Control-Allow-Origin`
/// nor `Access-Control-Allow-Credentials`. `X-CSRF-Token` is allowed for the cookie refresh
/// and logout.
fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let listed = allowed.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-csrf-token"),
        ])
        .allow_credentials(AllowCredentials::predicate(move |origin, _| {
            listed.contains(origin)
        }))
        .max_age(Duration::from_secs(600))
}

/// 431 for requests whose headers (names, values, and the URI) exceed the limit: hyper's own
/// cap is far larger. 413 at once for a body announced larger than the limit, instead of
/// reading it (the body limit itself still counts the bytes of chunked bodies).
async fn limit_request_size(
    req: Request,
    next: Next,
    max_header_bytes: usize,
    max_body_bytes: usize,
) -> Response {
    // Counted without allocating: this runs on every request.
    let uri = req.uri();
    let header_bytes: usize = uri.path().len()
        + uri.query().map_or(0, str::len)
        + req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if header_bytes > max_header_bytes {
        return Error::HeadersTooLarge.into_response();
    }
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max_body_bytes as u64) {
        // Answering before the body is read makes hyper close the connection under a client
        // that is still sending, which then sees a reset instead of the 413. So a body up to
        // EARLY_REJECT_BYTES is read and dropped first; a larger one is refused at once.
        let path = req.uri().path().to_owned();
        if announced.is_some_and(|n| n <= EARLY_REJECT_BYTES) {
            drain(req.into_body()).await;
        }
        return too_large(&path);
    }
    next.run(req).await
}

/// 413 in the shape of the endpoint: RFC 6749 for the token endpoint, problem+json elsewhere.
fn too_large(path: &str) -> Response {
    if path.ends_with("/auth/token") {
        let message = "the request body is larger than this server accepts";
        return OAuthError::new(OAuthErrorCode::InvalidRequest, message)
            .with_status(StatusCode::PAYLOAD_TOO_LARGE);
    }
    Error::PayloadTooLarge.into_response()
}

/// Read and drop a request body (bounded by the caller), giving up after a few seconds.
async fn drain(mut body: axum::body::Body) {
    use axum::body::HttpBody;
    let read_all = async {
        while let Some(frame) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            if frame.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read_all).await;
}

async fn security_headers(req: Request, next: Next, hsts: Option<HeaderValue>) -> Response {
    let docs = req.uri().path().starts_with("/docs");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if let Some(hsts) = hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The hosted pages set their own (`same-origin`: with `no-referrer`, browsers post forms
    // with `Origin: null`); everything else sends none.
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let csp = if docs { DOCS_CSP } else { API_CSP };
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(csp));
    response
}

/// Log the cause of every 5xx exactly once; `Error::into_response` leaves it in the extensions.
async fn log_server_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if let Some(error) = response.extensions().get::<Arc<Error>>() {
        tracing::error!(error = ?error, "request failed");
    }
    response
}
