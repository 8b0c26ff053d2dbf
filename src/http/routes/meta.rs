//! Discovery and health: JWKS, OpenID configuration, liveness, readiness.

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

/// OpenID Provider metadata, the subset that applies.
#[derive(Serialize, ToSchema)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
}

/// Discovery metadata, so any JWT library can find our keys.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery", responses((status = 200, body = Discovery)))]
pub async fn openid_configuration(State(auth): State<AuthState>) -> Response {
    let verifier = auth.verifier();
    let issuer = verifier.issuer().trim_end_matches('/').to_owned();
    let body = Discovery {
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        token_endpoint: format!("{issuer}/auth/token"),
        issuer,
        grant_types_supported: vec!["password", "refresh_token"],
        token_endpoint_auth_methods_supported: vec!["none"],
        id_token_signing_alg_values_supported: vec![verifier.keys().alg().name()],
        response_types_supported: vec!["token"],
        subject_types_supported: vec!["public"],
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
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
