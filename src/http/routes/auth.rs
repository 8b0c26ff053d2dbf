//! `/auth/*`: registration, the OAuth2 token endpoint, JSON login, refresh, logout.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::ClientInfo;
use crate::http::dto::{LoginRequest, RefreshRequest, RegisterRequest, TokenForm};
use crate::http::dto::{TokenResponse, UserBody};
use crate::http::extract::BearerToken;
use crate::http::json::JsonObject;
use crate::http::oauth::{OAuthError, OAuthErrorCode};
use crate::http::problem::Problem;
use crate::service::AuthState;
use crate::service::CurrentUser;
use crate::service::{Error, MfaAnswer, Result};

/// Token responses must never be cached (RFC 6749 §5.1).
pub(crate) fn no_store(tokens: impl Into<TokenResponse>) -> Response {
    let mut response = Json(tokens.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Create an account.
///
/// New accounts get the `user` role only; `roles`, `is_active` and other extra fields are
/// ignored. A verification mail goes to the address. With AUTHGATE_REQUIRE_VERIFIED_EMAIL a
/// taken e-mail is answered 201 like a new one (nothing is created; the owner is mailed).
/// **Required role:** none.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = UserBody), (status = 409, body = Problem, description = "username taken, or e-mail taken (unless AUTHGATE_REQUIRE_VERIFIED_EMAIL)"),
              (status = 422, body = Problem, description = "invalid fields, or a password that is too short, too common, or your e-mail/username"),
              (status = 429, body = Problem, description = "too many registrations from this client; see Retry-After")))]
pub async fn register(
    State(auth): State<AuthState>,
    client: ClientInfo,
    JsonObject(req): JsonObject<RegisterRequest>,
) -> Result<(StatusCode, Json<UserBody>)> {
    if req.username.as_deref().is_some_and(|u| u.trim().is_empty()) {
        return Err(Error::field(
            "username",
            "must not be empty: leave it out to register without a username",
        ));
    }
    let user = auth
        .register(&req.email, req.password, req.username.as_deref(), &client)
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The OAuth2 token endpoint (RFC 6749), form-encoded.
///
/// `grant_type=password` with `username` (e-mail or username), `password` and optionally the
/// `device_token` of this device's last login (answered with a new one), or
/// `grant_type=refresh_token` with `refresh_token`. When the account has a second factor,
/// the password grant answers 403 `{"error":"mfa_required","mfa_token":…}`; then send
/// `grant_type=urn:authgate:params:oauth:grant-type:mfa-otp` with that `mfa_token` and `otp`
/// (a code from the authenticator app). Errors are RFC 6749 §5.2 bodies. This is
/// what Swagger UI's Authorize button and OAuth2 client libraries call. **Required role:** none.
#[utoipa::path(post, path = "/auth/token", tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400, body = OAuthError),
              (status = 403, body = OAuthError, description = "`mfa_required`: the password is right and the account has a second factor; the body carries `mfa_token` for the `mfa-otp` grant"),
              (status = 429, body = OAuthError, description = "`slow_down`: rate limit, account lock or second-factor lock; see Retry-After"),
              (status = 503, body = OAuthError, description = "`temporarily_unavailable`: hashing queue full or database down; see Retry-After")))]
pub async fn token(
    State(auth): State<AuthState>,
    client: ClientInfo,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        let limit = "the request body is too large or could not be read";
        return OAuthError::new(OAuthErrorCode::InvalidRequest, limit)
            .with_status(StatusCode::PAYLOAD_TOO_LARGE);
    };
    match token_grant(&auth, client, &headers, &body).await {
        Ok(tokens) => no_store(tokens),
        Err(e) => e.into_response(),
    }
}

async fn token_grant(
    auth: &AuthState,
    client: ClientInfo,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    use OAuthErrorCode::*;
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(OAuthError::new(
            InvalidRequest,
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::new(InvalidRequest, "the body is not valid form encoding"))?;
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(OAuthError::new(
            InvalidRequest,
            format!("parameter {dup:?} appears more than once"),
        ));
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let require = |name: &'static str| {
        get(name)
            .ok_or_else(|| OAuthError::new(InvalidRequest, format!("missing parameter {name:?}")))
    };
    match require("grant_type")? {
        "password" => Ok(auth
            .login_with_device_token(
                require("username")?,
                require("password")?,
                get("device_token"),
                false,
                client,
            )
            .await
            .map_err(oauth_login_error)?
            .into()),
        "refresh_token" => Ok(auth
            .refresh(require("refresh_token")?, &client)
            .await?
            .into()),
        MFA_OTP_GRANT => Ok(auth
            .complete_mfa(
                require("mfa_token")?,
                MfaAnswer::Otp(require("otp")?),
                client,
            )
            .await
            .map_err(oauth_login_error)?
            .into()),
        other => Err(OAuthError::new(
            UnsupportedGrantType,
            format!(
                "grant_type {other:?} is not supported; use password, refresh_token or {MFA_OTP_GRANT}"
            ),
        )),
    }
}

/// The second-factor step at the token endpoint (Auth0's grant, under our own URN).
pub(crate) const MFA_OTP_GRANT: &str = "urn:authgate:params:oauth:grant-type:mfa-otp";

fn oauth_login_error(e: Error) -> OAuthError {
    match e {
        Error::Deactivated | Error::EmailNotVerified => {
            OAuthError::new(OAuthErrorCode::InvalidGrant, e.to_string())
        }
        other => other.into(),
    }
}

/// Sign in with JSON.
///
/// `remember_me` gives a long session; without it the session ends after a day without use.
/// The answer carries a `device_token`: send it back with the next login from this device, and
/// locks that failed attempts from other addresses caused do not apply to it.
/// **Required role:** none.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`mfa_required`: the password is right and the account has a second factor; answer at POST /auth/mfa with the `mfa_token` of the body. `email_not_verified`: the right password, but AUTHGATE_REQUIRE_VERIFIED_EMAIL is on and the address is not confirmed yet"),
              (status = 429, body = Problem, description = "rate limit or account lock (same answer whether or not the account exists); see Retry-After"),
              (status = 503, body = Problem, description = "hashing queue full; see Retry-After")))]
pub async fn login(
    State(auth): State<AuthState>,
    client: ClientInfo,
    JsonObject(req): JsonObject<LoginRequest>,
) -> Result<Response> {
    let tokens = auth
        .login_with_device_token(
            &req.username,
            &req.password,
            req.device_token.as_deref(),
            req.remember_me,
            client,
        )
        .await
        .map_err(|e| match e {
            // A deactivated account answers exactly like a wrong password here.
            Error::Deactivated => Error::InvalidCredentials,
            other => other,
        })?;
    Ok(no_store(tokens))
}

/// Rotate a refresh token into a new pair.
///
/// The presented token is used up; presenting it again after a few seconds ends the whole
/// session. **Required role:** none.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem),
              (status = 429, body = Problem, description = "too many refreshes from this client; see Retry-After")))]
pub async fn refresh(
    State(auth): State<AuthState>,
    client: ClientInfo,
    JsonObject(req): JsonObject<RefreshRequest>,
) -> Result<Response> {
    Ok(no_store(auth.refresh(&req.refresh_token, &client).await?))
}

/// End the caller's session: its refresh token and access tokens stop working now. A retry
/// with the same token (its session already ended) answers 204 again.
///
/// **Required role:** any signed-in user.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("oauth2" = []), ("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    State(auth): State<AuthState>,
    BearerToken(token): BearerToken,
    client: ClientInfo,
) -> Result<StatusCode> {
    auth.logout(&token, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the caller, on every device.
///
/// **Required role:** any signed-in user.
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("oauth2" = []), ("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout_all(
    State(auth): State<AuthState>,
    user: CurrentUser,
    client: ClientInfo,
) -> Result<StatusCode> {
    auth.logout_all(user.id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
