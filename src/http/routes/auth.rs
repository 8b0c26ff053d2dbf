//! `/auth/*`: registration, the OAuth2 token endpoint, JSON login, refresh, logout.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::domain::ClientInfo;
use crate::http::cookies::{CookieSecurity, SameSite, SetCookie, cookie_security};
use crate::http::cookies::{origin_listed, read_cookie};
use crate::http::dto::{LoginRequest, RefreshRequest, RegisterRequest, TokenForm};
use crate::http::dto::{TokenResponse, Transport, UserBody};
use crate::http::extract::BearerToken;
use crate::http::json::JsonObject;
use crate::http::oauth::{OAuthError, OAuthErrorCode};
use crate::http::problem::Problem;
use crate::service::AuthState;
use crate::service::CurrentUser;
use crate::service::{Error, MfaAnswer, Result, TokenPair};

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
/// With `"transport": "cookie"` (browser apps) the refresh token is set in an HttpOnly,
/// SameSite=Strict cookie `authgate_refresh` (Path `/auth/refresh` and `/auth/logout`) and
/// left out of the answer, and a page-readable cookie `authgate_csrf` carries the CSRF token
/// that `POST /auth/refresh` and `POST /auth/logout` then need in `X-CSRF-Token`. Both live as
/// long as the refresh token. Where AUTHGATE_PUBLIC_URL is not plain `http://localhost`, they
/// are `Secure` and named `__Secure-authgate_refresh` and `__Host-authgate_csrf`.
/// **Required role:** none.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse, description = "the tokens; with `transport: cookie` without `refresh_token`, and with `Set-Cookie` for the refresh and CSRF cookies"),
              (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`mfa_required`: the password is right and the account has a second factor; answer at POST /auth/mfa with the `mfa_token` of the body. `email_not_verified`: the right password, but AUTHGATE_REQUIRE_VERIFIED_EMAIL is on and the address is not confirmed yet"),
              (status = 422, body = Problem, description = "a missing or malformed field, e.g. a `transport` other than `body` or `cookie`"),
              (status = 429, body = Problem, description = "rate limit or account lock (same answer whether or not the account exists); see Retry-After"),
              (status = 503, body = Problem, description = "hashing queue full; see Retry-After")))]
pub async fn login(
    State(auth): State<AuthState>,
    client: ClientInfo,
    OriginalUri(uri): OriginalUri,
    JsonObject(req): JsonObject<LoginRequest>,
) -> Result<Response> {
    let tokens = auth
        .password_login(
            &req.username,
            &req.password,
            req.device_token.as_deref(),
            req.remember_me,
            req.transport == Transport::Cookie,
            client,
        )
        .await
        .map_err(|e| match e {
            // A deactivated account answers exactly like a wrong password here.
            Error::Deactivated => Error::InvalidCredentials,
            other => other,
        })?;
    token_answer(&auth, tokens, req.transport, uri.path())
}

/// The answer of a login (or of its second step) in the transport it asked for.
pub(crate) fn token_answer(
    auth: &AuthState,
    tokens: TokenPair,
    transport: Transport,
    path: &str,
) -> Result<Response> {
    match transport {
        Transport::Body => Ok(no_store(tokens)),
        Transport::Cookie => {
            let session = session_of(auth, &tokens)?;
            Ok(cookie_answer(
                auth,
                &SpaCookies::new(auth, path),
                session,
                tokens,
            ))
        }
    }
}

/// The session an access token we just issued belongs to.
fn session_of(auth: &AuthState, tokens: &TokenPair) -> Result<Uuid> {
    let claims = auth
        .verifier()
        .verify(&tokens.access_token, auth.clock().now())
        .map_err(|e| Error::Internal(anyhow::anyhow!("a fresh access token failed: {e}")))?;
    Ok(claims.sid)
}

/// The SPA's session cookies: the refresh token (twice, one per path it is scoped to) and
/// the CSRF token. Paths follow where the router is mounted (`/auth/…` or `<prefix>/auth/…`).
/// See `crate::http::cookies` for the choice of prefixes.
struct SpaCookies {
    security: CookieSecurity,
    refresh_name: String,
    csrf_name: String,
    refresh_path: String,
    logout_path: String,
}

/// The bare cookie names (what the client reads in plain-http development).
const REFRESH_COOKIE: &str = "authgate_refresh";
const CSRF_COOKIE: &str = "authgate_csrf";
/// The header cookie requests carry the CSRF cookie's value in.
const CSRF_HEADER: &str = "x-csrf-token";

impl SpaCookies {
    /// For a request to `path`, one of the `/auth/*` routes.
    fn new(auth: &AuthState, path: &str) -> Self {
        let security = cookie_security(auth);
        let base = path.rsplit_once('/').map_or("", |(base, _)| base);
        Self {
            security,
            refresh_name: security.name(REFRESH_COOKIE, true),
            csrf_name: security.name(CSRF_COOKIE, false),
            refresh_path: format!("{base}/refresh"),
            logout_path: format!("{base}/logout"),
        }
    }

    /// The three cookies with these values and lifetime.
    fn cookies<'a>(&'a self, refresh: &'a str, csrf: &'a str, max_age: i64) -> [SetCookie<'a>; 3] {
        let refresh_at = |path| SetCookie {
            name: &self.refresh_name,
            value: refresh,
            path,
            max_age: Some(max_age),
            http_only: true,
            same_site: SameSite::Strict,
        };
        [
            refresh_at(&self.refresh_path),
            refresh_at(&self.logout_path),
            SetCookie {
                name: &self.csrf_name,
                value: csrf,
                path: "/",
                max_age: Some(max_age),
                // SECURITY: readable on purpose: the page copies it into X-CSRF-Token. It is
                // no credential on its own (bound to the session, useless without the cookie).
                http_only: false,
                same_site: SameSite::Strict,
            },
        ]
    }

    fn append(&self, headers: &mut HeaderMap, cookies: &[SetCookie<'_>]) {
        for c in cookies {
            if let Some(v) = c.header(self.security) {
                headers.append(header::SET_COOKIE, v);
            }
        }
    }

    /// `Set-Cookie` headers that expire all three.
    fn expire(&self, headers: &mut HeaderMap) {
        let expired = self.cookies("", "", 0).map(|c| c.expired());
        self.append(headers, &expired);
    }

    /// The refresh cookie of the request: the session it names and the refresh token. A
    /// malformed value names no session (the nil id, for which no CSRF token exists).
    fn read(&self, headers: &HeaderMap) -> Option<(Uuid, String)> {
        let value = read_cookie(headers, &self.refresh_name)?;
        Some(match value.split_once('.') {
            Some((sid, token)) => (Uuid::try_parse(sid).unwrap_or_default(), token.to_owned()),
            None => (Uuid::nil(), value.to_owned()),
        })
    }
}

/// A token answer without the refresh token, which goes into the cookies with a fresh CSRF
/// token for `session`.
fn cookie_answer(auth: &AuthState, spa: &SpaCookies, session: Uuid, tokens: TokenPair) -> Response {
    let value = format!("{}.{}", session.simple(), tokens.refresh_token);
    let csrf = match auth.csrf_token(session) {
        Ok(csrf) => csrf,
        Err(e) => return e.into_response(),
    };
    let max_age = tokens.refresh_expires_in;
    let mut body = TokenResponse::from(tokens);
    body.refresh_token = None;
    let mut response = no_store(body);
    spa.append(response.headers_mut(), &spa.cookies(&value, &csrf, max_age));
    response
}

/// SECURITY: the checks of every request made with the refresh cookie: an `Origin` listed in
/// AUTHGATE_CORS_ORIGINS, then the CSRF token of the cookie's session in `X-CSRF-Token`
/// (HMAC, constant-time). Both fail as 403 `csrf_failed`.
fn check_cookie_request(auth: &AuthState, headers: &HeaderMap, session: Uuid) -> Result<()> {
    if !origin_listed(headers, auth.cors_origins()) {
        return Err(Error::CsrfFailed(
            "requests with the authgate_refresh cookie must come from an origin listed in \
             AUTHGATE_CORS_ORIGINS; this one's Origin header is missing or not listed",
        ));
    }
    let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    auth.check_csrf(session, presented)
}

/// A JSON object body that may also be left out (no bytes at all, or `null`).
pub(crate) struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|_| Error::PayloadTooLarge)?;
        // No body, or a JSON `null` (what an OpenAPI optional body may be sent as).
        if bytes.is_empty() || bytes.trim_ascii() == b"null" {
            return Ok(Self(None));
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        let JsonObject(value) = JsonObject::<T>::from_request(req, state).await?;
        Ok(Self(Some(value)))
    }
}

/// Rotate a refresh token into a new pair.
///
/// The presented token is used up; presenting it again after a few seconds ends the whole
/// session. Browser apps signed in with `"transport": "cookie"` send no body (or `{}`): the
/// `authgate_refresh` cookie is rotated in place, the answer carries the new access token
/// only, and the request needs the `authgate_csrf` cookie's value in `X-CSRF-Token` and an
/// `Origin` listed in AUTHGATE_CORS_ORIGINS. A `refresh_token` in the body wins over a cookie.
/// **Required role:** none.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "the refresh token; leave it out to refresh with the cookie"),
    responses((status = 200, body = TokenResponse, description = "a new pair; refreshed with the cookie: without `refresh_token`, and with `Set-Cookie` for the rotated cookies"),
              (status = 401, body = Problem, description = "`invalid_refresh_token`: unknown, expired or reused (a cookie is then expired)"),
              (status = 403, body = Problem, description = "`csrf_failed`: a cookie refresh without the CSRF token of its session in X-CSRF-Token, or from an Origin not in AUTHGATE_CORS_ORIGINS"),
              (status = 422, body = Problem, description = "no refresh token: neither in the body nor as the cookie"),
              (status = 429, body = Problem, description = "too many refreshes from this client; see Retry-After")))]
pub async fn refresh(
    State(auth): State<AuthState>,
    client: ClientInfo,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    OptionalJson(req): OptionalJson<RefreshRequest>,
) -> Result<Response> {
    let req = req.unwrap_or_default();
    if let Some(token) = req.refresh_token {
        return Ok(no_store(auth.refresh(&token, &client).await?));
    }
    let spa = SpaCookies::new(&auth, uri.path());
    let Some((session, token)) = spa.read(&headers) else {
        return Err(Error::field(
            "refresh_token",
            "send the refresh token here, or sign in with \"transport\": \"cookie\" and send \
             the authgate_refresh cookie",
        ));
    };
    check_cookie_request(&auth, &headers, session)?;
    let rotated = match auth.refresh(&token, &client).await {
        Ok(tokens) if session_of(&auth, &tokens)? == session => Ok(tokens),
        Ok(_) | Err(Error::InvalidRefreshToken) => Err(Error::InvalidRefreshToken),
        Err(other) => return Err(other),
    };
    match rotated {
        Ok(tokens) => Ok(cookie_answer(&auth, &spa, session, tokens)),
        Err(e) => {
            // The cookie is dead: say so, and drop it from the browser.
            let mut response = e.into_response();
            spa.expire(response.headers_mut());
            Ok(response)
        }
    }
}

/// End the caller's session: its refresh token and access tokens stop working now. A retry
/// with the same token (its session already ended) answers 204 again.
///
/// With the `authgate_refresh` cookie (`"transport": "cookie"`), no bearer token is needed:
/// the cookie's session ends, the request needs the `authgate_csrf` cookie's value in
/// `X-CSRF-Token` and an `Origin` listed in AUTHGATE_CORS_ORIGINS, and the answer expires
/// both cookies. The cookie decides when both are sent.
/// **Required role:** any signed-in user.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("oauth2" = []), ("bearer" = []), ()),
    responses((status = 204, description = "signed out; with the cookie, `Set-Cookie` expires both cookies"),
              (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`csrf_failed`: a cookie logout without the CSRF token of its session in X-CSRF-Token, or from an Origin not in AUTHGATE_CORS_ORIGINS"),
              (status = 429, body = Problem, description = "too many cookie logouts from this client; see Retry-After")))]
pub async fn logout(
    State(auth): State<AuthState>,
    bearer: Result<BearerToken, Error>,
    client: ClientInfo,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    let spa = SpaCookies::new(&auth, uri.path());
    let Some((session, token)) = spa.read(&headers) else {
        let BearerToken(token) = bearer?;
        auth.logout(&token, &client).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    check_cookie_request(&auth, &headers, session)?;
    // The refresh token proves the session; its rotation hands us an access token of it to
    // log out with. A token already dead (ended, reused, expired) means signed out already.
    match auth.refresh(&token, &client).await {
        Ok(tokens) if session_of(&auth, &tokens)? == session => {
            auth.logout(&tokens.access_token, &client).await?;
        }
        Ok(_) | Err(Error::InvalidRefreshToken) => {}
        Err(other) => return Err(other),
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    spa.expire(response.headers_mut());
    Ok(response)
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
