//! Discovery and health: JWKS, authorization server metadata, liveness, readiness.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::problem::Problem;
use crate::service::AuthState;
use crate::service::Error;

/// The public signing keys (RFC 7517). Never contains private or symmetric keys.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "JWK set", content_type = "application/json")))]
pub async fn jwks(State(auth): State<AuthState>) -> Response {
    let mut response = Json(auth.verifier().keys().jwks().clone()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// OAuth 2.0 authorization server metadata (RFC 8414), with only what authgate does: the
/// password and refresh-token grants at the token endpoint, for public clients, and a JWKS to
/// verify the access tokens with. There is no authorization endpoint (no redirect flows), so no
/// response type is supported; and authgate is not an OpenID provider, so nothing about ID
/// tokens is advertised.
#[derive(Serialize, ToSchema)]
pub struct Discovery {
    pub issuer: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// `password` and `refresh_token`.
    pub grant_types_supported: Vec<&'static str>,
    /// `none`: clients do not authenticate (public clients, RFC 6749 §2.1).
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Empty: RFC 8414 requires the member, and without an authorization endpoint there is no
    /// `response_type` to support.
    pub response_types_supported: Vec<&'static str>,
    /// Where the API is described.
    pub service_documentation: String,
}

fn discovery(auth: &AuthState) -> Response {
    let issuer = auth.verifier().issuer().trim_end_matches('/').to_owned();
    let body = Discovery {
        token_endpoint: format!("{issuer}/auth/token"),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        service_documentation: format!("{issuer}/docs"),
        issuer,
        grant_types_supported: vec!["password", "refresh_token"],
        token_endpoint_auth_methods_supported: vec!["none"],
        response_types_supported: Vec::new(),
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// Authorization server metadata (RFC 8414): the issuer, token endpoint, grants and keys.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, body = Discovery)))]
pub async fn authorization_server_metadata(State(auth): State<AuthState>) -> Response {
    discovery(&auth)
}

/// The same metadata at the OpenID Connect discovery address, where many JWT libraries look
/// (RFC 8414 §5). authgate issues no ID tokens: this is not OpenID provider metadata.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, body = Discovery)))]
pub async fn openid_configuration(State(auth): State<AuthState>) -> Response {
    discovery(&auth)
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers. 503 when it does not.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200), (status = 503, body = Problem)))]
pub async fn readyz(State(auth): State<AuthState>) -> Result<&'static str, Error> {
    auth.ping_database().await?;
    Ok("ready")
}
