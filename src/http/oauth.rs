//! The token endpoint's errors, as RFC 6749 §5.2 says: `{error, error_description}` instead of
//! problem details, `no-store`, and `Retry-After` where a retry makes sense.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::Error;

/// RFC 6749 §5.2 error codes for the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    /// Not in RFC 6749: a rate limit or account lock (HTTP 429 with `Retry-After`).
    SlowDown,
    InvalidGrant,
    UnsupportedGrantType,
    /// Not in RFC 6749 (Auth0's shape): the password was right and a second factor is due;
    /// HTTP 403 with `mfa_token`, answered with the `mfa-otp` grant.
    MfaRequired,
    TemporarilyUnavailable,
    ServerError,
}

/// RFC 6749 §5.2 error body, used by `POST /auth/token` only.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    pub error_description: String,
    /// `mfa_required` only: the token for the `urn:authgate:params:oauth:grant-type:mfa-otp`
    /// grant (5 minutes, 5 attempts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// `mfa_required` only: seconds the `mfa_token` lives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// Sent as `Retry-After`, not in the body.
    #[serde(skip)]
    pub retry_after: Option<u64>,
    /// A server-side failure behind a `server_error`: put in the response extensions for the
    /// middleware that logs every 5xx once, never in the body.
    #[serde(skip)]
    cause: Option<Arc<Error>>,
}

impl OAuthError {
    /// Build an error with a description a person can act on.
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
            mfa_token: None,
            expires_in: None,
            retry_after: None,
            cause: None,
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
            Error::InvalidOtp | Error::InvalidMfaToken | Error::InvalidPasskey => {
                Self::new(InvalidGrant, e.to_string())
            }
            Error::MfaRequired(Some(c)) => Self {
                mfa_token: Some(c.mfa_token),
                expires_in: Some(c.expires_in),
                ..Self::new(
                    MfaRequired,
                    "the password is right; now send grant_type=urn:authgate:params:oauth:grant-type:mfa-otp with this mfa_token and otp (a code from your authenticator app)",
                )
            },
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
            other => Self {
                cause: Some(Arc::new(other)),
                ..Self::new(ServerError, "internal error")
            },
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
            OAuthErrorCode::MfaRequired => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        let retry_after = self
            .retry_after
            .or((status == StatusCode::SERVICE_UNAVAILABLE).then_some(5));
        let cause = self.cause.clone();
        let mut response = (status, axum::Json(self)).into_response();
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
