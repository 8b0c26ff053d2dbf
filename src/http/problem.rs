//! RFC 9457 problem details: how an [`Error`] is written as an HTTP response. 5xx bodies are
//! always opaque: the cause is attached to the response extensions and logged once by a
//! middleware.

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::{Error, ErrorCode, FieldErrors};

/// RFC 9457 problem details, as sent on the wire.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank`: the status says it all).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    /// Per-field messages, present on 422 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<FieldErrors>,
    /// `mfa_required` at login only: the token to send to `POST /auth/mfa` with a code
    /// (opaque; 5 minutes, 5 attempts; never a bearer token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// `mfa_required` at login only: what may answer it (`otp`, `recovery_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<&'static str>>,
    /// `mfa_required` at login only: seconds the `mfa_token` lives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

fn headers_no_store(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        // SECURITY: server-side failures never describe themselves to the client.
        let detail = if status.is_server_error() {
            match self {
                Error::Unavailable => {
                    "the service is temporarily unavailable; retry shortly".to_owned()
                }
                Error::Overloaded => self.to_string(),
                _ => "internal error".to_owned(),
            }
        } else {
            self.to_string()
        };
        let errors = match &self {
            Error::Validation(fields) => Some(fields.clone()),
            _ => None,
        };
        let challenge = match &self {
            Error::MfaRequired(Some(c)) => Some(c.clone()),
            _ => None,
        };
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: self.code(),
            errors,
            expires_in: challenge.as_ref().map(|c| c.expires_in),
            methods: challenge.as_ref().map(|c| c.methods.clone()),
            mfa_token: challenge.map(|c| c.mfa_token),
        };
        let has_challenge = body.mfa_token.is_some();
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Error::Unauthenticated { token_sent } = self {
            let challenge = if token_sent {
                r#"Bearer error="invalid_token", error_description="the access token is missing, malformed, expired or revoked""#
            } else {
                "Bearer"
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if has_challenge {
            // The mfa_token is a credential: like a token response, never cached.
            headers_no_store(headers);
        }
        if let Some(secs) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status.is_server_error() && !matches!(self, Error::Overloaded) {
            response.extensions_mut().insert(Arc::new(self));
        }
        response
    }
}
