//! One error type for the whole crate and the one place that turns it into HTTP.
//!
//! Resource endpoints answer RFC 9457 `application/problem+json` with a stable `code`; the OAuth2
//! token endpoint answers RFC 6749 §5.2 instead (see [`OAuthError`]). 5xx bodies are always opaque:
//! the cause is attached to the response extensions and logged once by a middleware.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// Field name → human-readable messages, for 422 answers.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Wrong username or password; deliberately says nothing about which.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// No usable access token. `token_sent` decides the `WWW-Authenticate` error attribute.
    #[error("missing or invalid access token")]
    Unauthenticated { token_sent: bool },
    /// A valid refresh token was required and not given.
    #[error("invalid or expired refresh token")]
    InvalidRefreshToken,
    /// Authenticated but lacking the role.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such resource.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique field is taken.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The request was understood but its fields are not acceptable.
    #[error("request validation failed")]
    Validation(FieldErrors),
    /// The body could not be read as the expected format.
    #[error("{0}")]
    BadRequest(String),
    /// Wrong `Content-Type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The route exists, but not with this method.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// Body over the configured limit.
    #[error("the request body is larger than this server accepts (AUTHGATE_MAX_BODY_BYTES)")]
    PayloadTooLarge,
    /// The database (or another dependency) is unreachable: fail closed, ask to retry.
    #[error("service temporarily unavailable")]
    Unavailable,
    /// More logins than the password-hashing queue holds: shed, ask to retry shortly.
    #[error("the server is busy checking other passwords; retry in a moment")]
    Overloaded,
    /// A rate limit or an account lock. Says the same whether or not the account exists.
    #[error("too many attempts; retry after {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    /// Request headers over the configured limit.
    #[error("the request headers are larger than this server accepts (AUTHGATE_MAX_HEADER_BYTES)")]
    HeadersTooLarge,
    /// Anything else. Never shown to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Collects field-by-field parse failures, so one 422 names every problem at once.
#[derive(Debug, Default)]
pub struct FieldCheck(FieldErrors);

impl FieldCheck {
    /// Keep the value, or record the message under `field`.
    pub fn check<T>(&mut self, field: &str, parsed: std::result::Result<T, String>) -> Option<T> {
        parsed
            .map_err(|message| self.0.entry(field.to_owned()).or_default().push(message))
            .ok()
    }

    /// `Validation` with everything recorded, if anything was.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable, machine-readable error codes (the `code` member of every problem body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidCredentials,
    InvalidToken,
    InvalidRefreshToken,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    ValidationFailed,
    BadRequest,
    UnsupportedMediaType,
    PayloadTooLarge,
    HeadersTooLarge,
    TooManyRequests,
    ServiceUnavailable,
    InternalError,
}

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
}

impl Error {
    /// One-field validation error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message.into()]);
        Error::Validation(errors)
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidCredentials
            | Error::Unauthenticated { .. }
            | Error::InvalidRefreshToken => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable | Error::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code this error maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidCredentials => ErrorCode::InvalidCredentials,
            Error::Unauthenticated { .. } => ErrorCode::InvalidToken,
            Error::InvalidRefreshToken => ErrorCode::InvalidRefreshToken,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::Validation(_) => ErrorCode::ValidationFailed,
            Error::BadRequest(_) => ErrorCode::BadRequest,
            Error::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Error::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Error::Unavailable | Error::Overloaded => ErrorCode::ServiceUnavailable,
            Error::TooManyRequests { .. } => ErrorCode::TooManyRequests,
            Error::HeadersTooLarge => ErrorCode::HeadersTooLarge,
            Error::Internal(_) => ErrorCode::InternalError,
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => Error::Conflict(field),
            StoreError::Invalid(what) => Error::BadRequest(format!("the request contains {what}")),
            StoreError::Unavailable(_) => Error::Unavailable,
            StoreError::Other(e) => Error::Internal(e),
        }
    }
}

impl From<crate::password::HashError> for Error {
    fn from(e: crate::password::HashError) -> Self {
        match e {
            crate::password::HashError::Busy => Error::Overloaded,
            crate::password::HashError::Failed(e) => Error::Internal(e),
        }
    }
}

impl Error {
    /// Seconds a client should wait before retrying, for 429 and 503 answers.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::TooManyRequests { retry_after } => Some(*retry_after),
            Error::Overloaded => Some(1),
            Error::Unavailable => Some(5),
            _ => None,
        }
    }
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
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: self.code(),
            errors,
        };
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
        if let Some(secs) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status.is_server_error() && !matches!(self, Error::Overloaded) {
            response.extensions_mut().insert(Arc::new(self));
        }
        response
    }
}

/// RFC 6749 §5.2 error codes for the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    /// Not in RFC 6749: a rate limit or account lock (HTTP 429 with `Retry-After`).
    SlowDown,
    InvalidGrant,
    UnsupportedGrantType,
    TemporarilyUnavailable,
    ServerError,
}

/// RFC 6749 §5.2 error body, used by `POST /auth/token` only.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    pub error_description: String,
    /// Sent as `Retry-After`, not in the body.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl OAuthError {
    /// Build an error with a description a person can act on.
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
            retry_after: None,
        }
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        use OAuthErrorCode::*;
        match e {
            Error::InvalidCredentials => Self::new(InvalidGrant, "invalid username or password"),
            Error::InvalidRefreshToken => {
                Self::new(InvalidGrant, "invalid or expired refresh token")
            }
            Error::Validation(_)
            | Error::BadRequest(_)
            | Error::UnsupportedMediaType(_)
            | Error::PayloadTooLarge => Self::new(InvalidRequest, e.to_string()),
            Error::Unavailable | Error::Overloaded => Self {
                retry_after: e.retry_after(),
                ..Self::new(TemporarilyUnavailable, e.to_string())
            },
            Error::TooManyRequests { .. } => Self {
                retry_after: e.retry_after(),
                ..Self::new(SlowDown, e.to_string())
            },
            other => {
                tracing::error!(error = %other, "token endpoint failed");
                Self::new(ServerError, "internal error")
            }
        }
    }
}

impl OAuthError {
    /// The response with a status other than the one the error code implies (e.g. 413).
    pub fn with_status(self, status: StatusCode) -> Response {
        let mut response = self.into_response();
        *response.status_mut() = status;
        response
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = match self.error {
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            OAuthErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let retry_after = self
            .retry_after
            .or((status == StatusCode::SERVICE_UNAVAILABLE).then_some(5));
        let mut response = (status, axum::Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
