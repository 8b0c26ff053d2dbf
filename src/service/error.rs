//! One error type for everything authgate does, with its HTTP status and stable code. How it
//! is written on the wire is the HTTP layer's business (`crate::http::problem` for RFC 9457
//! bodies, `crate::http::oauth` for the token endpoint's RFC 6749 errors).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::hashing::HashError;
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
    /// Authenticated, but not allowed to do this (a missing role, a moderator acting on an
    /// admin).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The right password for an account an admin has deactivated. Answered only to someone
    /// who knows the password.
    #[error("this account is deactivated")]
    Deactivated,
    /// The right password for an account whose address is not verified, while
    /// AUTHGATE_REQUIRE_VERIFIED_EMAIL is on. Answered only to someone who knows the password.
    #[error(
        "confirm your e-mail address first: open the link we sent (POST /auth/verify-email/request sends a new one)"
    )]
    EmailNotVerified,
    /// The password was right and the account has a second factor (the challenge to answer
    /// at `POST /auth/mfa`), or a step-up route needs a token with the second factor (`None`).
    #[error("{}", mfa_required_message(.0.is_some()))]
    MfaRequired(Option<MfaChallenge>),
    /// A token of the restricted state (AUTHGATE_REQUIRE_MFA_ROLES) outside the enrolment
    /// endpoints.
    #[error(
        "your role requires two-factor authentication: enrol at POST /users/me/mfa/totp, confirm, then sign in again"
    )]
    MfaEnrolmentRequired,
    /// A wrong, reused or malformed one-time code (or recovery code).
    #[error("the code is wrong, expired or already used")]
    InvalidOtp,
    /// An `mfa_token` that is unknown, used, expired or out of attempts.
    #[error(
        "the mfa_token is invalid, expired or out of attempts; sign in with your password again"
    )]
    InvalidMfaToken,
    /// A passkey ceremony that is unknown, used or expired, or a passkey assertion or
    /// registration that does not verify: one answer for all.
    #[error(
        "the passkey could not be verified, or its challenge is used or expired; start again (…/start)"
    )]
    InvalidPasskey,
    /// Enrolment while a confirmed factor exists.
    #[error(
        "two-factor authentication is already on; turn it off first (DELETE /users/me/mfa/totp)"
    )]
    MfaAlreadyEnabled,
    /// A one-time link's token is unknown, used or expired: one answer for all three.
    #[error("this link is invalid, already used or expired; request a new one")]
    InvalidOneTimeToken,
    /// A cookie-authenticated request without a valid CSRF token for its session, or from an
    /// origin not in AUTHGATE_CORS_ORIGINS.
    #[error("{0}")]
    CsrfFailed(&'static str),
    /// No such resource.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique field is taken.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The change would leave no active admin (demoting, deactivating or deleting the last).
    #[error("this would leave no active admin; make another user admin first")]
    LastAdmin,
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

/// What a login answers when the password was right and a second factor is due.
#[derive(Clone)]
pub struct MfaChallenge {
    /// The opaque token for `POST /auth/mfa` (or the `mfa-otp` grant): 5 minutes, 5 attempts.
    pub mfa_token: String,
    /// What may answer it: `otp`, `recovery_code`.
    pub methods: Vec<&'static str>,
    /// Seconds the token lives.
    pub expires_in: i64,
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SECURITY: the token is a credential; never in logs.
        write!(
            f,
            "MfaChallenge({:?}, expires_in {})",
            self.methods, self.expires_in
        )
    }
}

fn mfa_required_message(login: bool) -> &'static str {
    if login {
        "the password is right; now send a code from your authenticator app (or a recovery code) with the mfa_token to POST /auth/mfa"
    } else {
        "this needs a token issued with the second factor: sign in again with your authenticator code"
    }
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
    CsrfFailed,
    EmailNotVerified,
    MfaRequired,
    MfaEnrolmentRequired,
    InvalidOtp,
    InvalidMfaToken,
    InvalidPasskey,
    NotFound,
    MethodNotAllowed,
    Conflict,
    LastAdmin,
    ValidationFailed,
    BadRequest,
    UnsupportedMediaType,
    PayloadTooLarge,
    HeadersTooLarge,
    TooManyRequests,
    ServiceUnavailable,
    InternalError,
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
            | Error::InvalidRefreshToken
            | Error::InvalidOtp
            | Error::InvalidMfaToken
            | Error::InvalidPasskey => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_)
            | Error::Deactivated
            | Error::EmailNotVerified
            | Error::MfaRequired(_)
            | Error::MfaEnrolmentRequired
            | Error::CsrfFailed(_) => StatusCode::FORBIDDEN,
            Error::InvalidOneTimeToken => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) | Error::LastAdmin | Error::MfaAlreadyEnabled => {
                StatusCode::CONFLICT
            }
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
            Error::Forbidden(_) | Error::Deactivated => ErrorCode::Forbidden,
            Error::CsrfFailed(_) => ErrorCode::CsrfFailed,
            Error::EmailNotVerified => ErrorCode::EmailNotVerified,
            Error::MfaRequired(_) => ErrorCode::MfaRequired,
            Error::MfaEnrolmentRequired => ErrorCode::MfaEnrolmentRequired,
            Error::InvalidOtp => ErrorCode::InvalidOtp,
            Error::InvalidMfaToken => ErrorCode::InvalidMfaToken,
            Error::InvalidPasskey => ErrorCode::InvalidPasskey,
            Error::InvalidOneTimeToken => ErrorCode::InvalidToken,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Error::Conflict(_) | Error::MfaAlreadyEnabled => ErrorCode::Conflict,
            Error::LastAdmin => ErrorCode::LastAdmin,
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
            StoreError::LastAdmin => Error::LastAdmin,
            StoreError::Other(e) => Error::Internal(e),
        }
    }
}

impl From<HashError> for Error {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Error::Overloaded,
            HashError::Failed(e) => Error::Internal(e),
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
