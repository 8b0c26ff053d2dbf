//! The page session: the hosted pages' cookie-held authgate session.
//!
//! Signing in at `/signin` opens a normal session (the service calls of `POST /auth/login`).
//! The browser keeps its access JWT in `authgate_page_access` (checked per request by
//! `AuthState::authenticate`, so a revocation applies at once) and its refresh token in
//! `authgate_page_session` (rotated by the normal refresh when the access cookie is missing or
//! expired). Both are `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` with the `__Host-`
//! prefix unless AUTHGATE_PUBLIC_URL is plain http on localhost. Without "Remember me" they
//! are session cookies; with it they last the remember-me lifetime.
//!
//! [`PageSession`] is the extractor page handlers use; without a session its rejection is a
//! 303 to `/signin?return_to=…`. Every unsafe request is refused (403 `csrf_failed`) when its
//! `Origin` is present and foreign; [`PageForm`] also checks the form's `csrf_token`. The forms
//! shown before a session exists (sign-in, sign-up, forgotten password) are bound to a random
//! pre-session cookie instead ([`AnonForm`]), so a login CSRF fails too.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::render::{outcome, outcome_with_code, see_other};
use crate::domain::ClientInfo;
use crate::service::{AuthState, CurrentUser, Error, TokenError, TokenPair};

/// The signed-in user of a page request.
#[derive(Debug, Clone)]
pub struct PageSession {
    /// The user, exactly as the API's extractor sees them.
    pub user: CurrentUser,
    /// The session id (`sid`).
    pub session: Uuid,
    /// A fresh CSRF token for this session: put it in each form's hidden `csrf_token` input.
    pub csrf: String,
    /// "Remember me" was ticked at sign-in (the cookies outlive the browser).
    pub(crate) remember_me: bool,
}

impl PageSession {
    /// `Ok` if `presented` is a CSRF token of this session; a 403 `csrf_failed` page if not.
    pub fn check_csrf(
        &self,
        auth: &AuthState,
        presented: Option<&str>,
    ) -> Result<(), PageRejection> {
        auth.check_csrf(self.session, presented)
            .map_err(|e| PageRejection::error(auth, e))
    }
}

/// Why a page request got no [`PageSession`]: an HTML answer (a 303 to the sign-in, a 403
/// `csrf_failed` page, a 429/503 page).
pub struct PageRejection(pub Response);

impl IntoResponse for PageRejection {
    fn into_response(self) -> Response {
        self.0
    }
}

impl PageRejection {
    /// The page for a service error: 403 `csrf_failed`, 429/503 with Retry-After, or the
    /// logged 500 of a server fault.
    pub fn error(auth: &AuthState, err: Error) -> Self {
        Self(error_page(auth, err))
    }
}

/// The HTML page for an error a page request met.
pub(crate) fn error_page(auth: &AuthState, err: Error) -> Response {
    let status = err.status();
    if status.is_server_error() && !matches!(err, Error::Unavailable | Error::Overloaded) {
        return err.into_response();
    }
    let retry_after = err.retry_after();
    let code = serde_json::to_value(err.code())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));
    let (title, message) = match &err {
        Error::CsrfFailed(_) => (
            "Request refused",
            "This form was not sent from this site's own page, or the page is too old. Go back, \
             reload the page and try again."
                .to_owned(),
        ),
        Error::TooManyRequests { .. } => ("Too many attempts", format!("{err}.")),
        Error::Unavailable | Error::Overloaded => ("Please try again", format!("{err}.")),
        _ => ("Something went wrong", format!("{err}.")),
    };
    let mut response = outcome_with_code(auth, status, "error", title, &message, code.as_deref());
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Cookies

/// Which names and attributes the page cookies have on this server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookieNames {
    secure: bool,
}

impl CookieNames {
    pub(crate) fn of(auth: &AuthState) -> Self {
        let url = auth.public_url().to_ascii_lowercase();
        let local = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
            .iter()
            .any(|p| {
                url.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
            });
        Self { secure: !local }
    }

    fn name(self, base: &'static str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    pub(crate) fn access(self) -> String {
        self.name("authgate_page_access")
    }
    pub(crate) fn refresh(self) -> String {
        self.name("authgate_page_session")
    }
    pub(crate) fn device(self) -> String {
        self.name("authgate_page_device")
    }
    pub(crate) fn pre(self) -> String {
        self.name("authgate_page_pre")
    }

    /// A `Set-Cookie` value; `max_age` `None` makes a session cookie.
    pub(crate) fn set(self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
        let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}");
        HeaderValue::try_from(cookie).unwrap_or(HeaderValue::from_static("x=; Max-Age=0"))
    }

    /// A `Set-Cookie` value that removes `name`.
    pub(crate) fn expire(self, name: &str) -> HeaderValue {
        self.set(name, "", Some(0))
    }
}

/// The value of cookie `name` in the request, if sent.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The cookies that open a page session from a fresh token pair (and keep the device token).
pub(crate) fn session_cookies(
    auth: &AuthState,
    tokens: &TokenPair,
    remember_me: bool,
) -> Vec<HeaderValue> {
    let names = CookieNames::of(auth);
    let (access_ttl, remember_ttl) = auth.session_lifetimes();
    let (access_age, refresh_age) = if remember_me {
        (Some(access_ttl), Some(remember_ttl))
    } else {
        (None, None)
    };
    let flag = if remember_me { "1" } else { "0" };
    let mut cookies = vec![
        names.set(&names.access(), &tokens.access_token, access_age),
        names.set(
            &names.refresh(),
            &format!("{flag}.{}", tokens.refresh_token),
            refresh_age,
        ),
    ];
    if let Some(device) = &tokens.device_token {
        // Device tokens are credentials only for lockout exemption, checked server-side.
        cookies.push(names.set(&names.device(), device, Some(DEVICE_COOKIE_AGE)));
    }
    cookies
}

/// The access cookie alone, for a new access token of the same session.
pub(crate) fn access_cookie(
    auth: &AuthState,
    access_token: &str,
    remember_me: bool,
) -> HeaderValue {
    let names = CookieNames::of(auth);
    let age = remember_me.then(|| auth.session_lifetimes().0);
    names.set(&names.access(), access_token, age)
}

/// How long the browser keeps the device token of its last sign-in.
const DEVICE_COOKIE_AGE: i64 = 365 * 86_400;

/// The cookies that end the page session.
pub(crate) fn cleared_cookies(auth: &AuthState) -> Vec<HeaderValue> {
    let names = CookieNames::of(auth);
    vec![
        names.expire(&names.access()),
        names.expire(&names.refresh()),
    ]
}

/// `Set-Cookie` values an extractor wants on the response: the refreshed session's cookies.
/// [`pending_cookies`] (a layer around the whole router) puts them on the response.
#[derive(Clone, Default)]
pub(crate) struct PendingCookies(Arc<Mutex<Vec<HeaderValue>>>);

impl PendingCookies {
    fn push(parts: &Parts, cookies: Vec<HeaderValue>) {
        if let Some(pending) = parts.extensions.get::<PendingCookies>() {
            pending
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(cookies);
        }
    }
}

/// Middleware: collects the cookies a refreshed page session sets while the handler runs.
pub(crate) async fn pending_cookies(mut request: Request, next: Next) -> Response {
    let pending = PendingCookies::default();
    request.extensions_mut().insert(pending.clone());
    let mut response = next.run(request).await;
    let cookies = std::mem::take(&mut *pending.0.lock().unwrap_or_else(|p| p.into_inner()));
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Origins and return_to

/// The ASCII origin of a URL (`scheme://host[:port]`), lowercase.
fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

/// Is `origin` this server's (AUTHGATE_PUBLIC_URL or the request's own host) or listed in
/// AUTHGATE_CORS_ORIGINS?
fn trusted_origin(auth: &AuthState, headers: &HeaderMap, origin: &str) -> bool {
    let Some(origin) = origin_of(origin) else {
        return false;
    };
    if origin_of(auth.public_url()).as_deref() == Some(origin.as_str()) {
        return true;
    }
    if auth
        .cors_origins()
        .iter()
        .any(|o| origin_of(o).as_deref() == Some(origin.as_str()))
    {
        return true;
    }
    // The server's own origin as the browser addressed it: only this server's pages have it.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    host.is_some_and(|host| {
        origin.strip_prefix("http://") == Some(host.as_str())
            || origin.strip_prefix("https://") == Some(host.as_str())
    })
}

/// For unsafe methods: refuse an `Origin` header that is present and foreign (403 `csrf_failed`).
pub(crate) fn check_origin(
    auth: &AuthState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), Error> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    match origin.to_str() {
        Ok(origin) if trusted_origin(auth, headers, origin) => Ok(()),
        _ => Err(Error::CsrfFailed(
            "this form was sent from another site; only this site's own pages may send it",
        )),
    }
}

/// `return_to` if it is safe to redirect to after sign-in: a path on this server (not `//…`,
/// no backslash, no control characters, also once percent-decoded), or an absolute http(s) URL
/// under AUTHGATE_PUBLIC_URL or an origin of AUTHGATE_CORS_ORIGINS. Anything else: `None`.
pub fn safe_return_to(auth: &AuthState, raw: &str) -> Option<String> {
    if raw.is_empty() || raw.len() > 2048 {
        return None;
    }
    let suspicious = |s: &str| {
        s.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    };
    let mut decoded = raw.to_owned();
    for _ in 0..3 {
        if suspicious(&decoded) || decoded.starts_with("//") {
            return None;
        }
        let next = percent_decode_str(&decoded)
            .decode_utf8()
            .ok()?
            .into_owned();
        if next == decoded {
            break;
        }
        decoded = next;
    }
    if suspicious(&decoded) || decoded.starts_with("//") {
        return None;
    }
    if raw.starts_with('/') {
        return Some(raw.to_owned());
    }
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    let public = origin_of(auth.public_url());
    let listed = auth
        .cors_origins()
        .iter()
        .any(|o| origin_of(o).as_deref() == Some(origin.as_str()));
    (public.as_deref() == Some(origin.as_str()) || listed).then(|| url.to_string())
}

/// The sign-in page's address that brings the user back to `return_to` afterwards.
pub fn signin_url(return_to: Option<&str>) -> String {
    match return_to {
        Some(path) => format!(
            "/signin?return_to={}",
            utf8_percent_encode(path, NON_ALPHANUMERIC)
        ),
        None => "/signin".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The extractors

/// What the cookies of a request amount to.
enum Resolved {
    Signed(PageSession),
    /// No usable session; the cookies to clear, if stale ones were sent.
    None(Vec<HeaderValue>),
}

async fn resolve(parts: &mut Parts, auth: &AuthState) -> Result<Resolved, Error> {
    let names = CookieNames::of(auth);
    let refresh_cookie = cookie(&parts.headers, &names.refresh());
    let (remember_me, refresh) = match refresh_cookie.map(|v| v.split_once('.').unwrap_or(("0", v)))
    {
        Some(("1", token)) => (true, Some(token)),
        Some((_, token)) => (false, Some(token)),
        None => (false, None),
    };
    let mut stale = false;
    if let Some(access) = cookie(&parts.headers, &names.access()) {
        match auth.authenticate(access).await {
            Ok(user) => return signed(auth, user, remember_me).map(Resolved::Signed),
            Err(TokenError::RevocationsStale) => return Err(Error::Unavailable),
            // Ended or deactivated: the refresh token cannot help, so do not try it.
            Err(TokenError::Revoked | TokenError::Deactivated) => {
                return Ok(Resolved::None(cleared_cookies(auth)));
            }
            Err(_) => stale = true,
        }
    }
    let Some(refresh) = refresh.map(str::to_owned) else {
        let clear = if stale {
            cleared_cookies(auth)
        } else {
            Vec::new()
        };
        return Ok(Resolved::None(clear));
    };
    let client =
        <ClientInfo as FromRequestParts<AuthState>>::from_request_parts(parts, auth).await?;
    let tokens = match auth.refresh(&refresh, &client).await {
        Ok(tokens) => tokens,
        Err(Error::InvalidRefreshToken) => return Ok(Resolved::None(cleared_cookies(auth))),
        Err(e) => return Err(e),
    };
    let user = match auth.authenticate(&tokens.access_token).await {
        Ok(user) => user,
        Err(TokenError::RevocationsStale) => return Err(Error::Unavailable),
        Err(_) => return Ok(Resolved::None(cleared_cookies(auth))),
    };
    PendingCookies::push(parts, session_cookies(auth, &tokens, remember_me));
    signed(auth, user, remember_me).map(Resolved::Signed)
}

fn signed(auth: &AuthState, user: CurrentUser, remember_me: bool) -> Result<PageSession, Error> {
    let session = user.session_id;
    Ok(PageSession {
        csrf: auth.csrf_token(session)?,
        session,
        user,
        remember_me,
    })
}

/// The path and query a request asked for, as a `return_to` (GETs only: a form's target is no
/// page to come back to).
fn return_path(parts: &Parts) -> Option<String> {
    if parts.method != Method::GET {
        return None;
    }
    parts.uri.path_and_query().map(|pq| pq.as_str().to_owned())
}

impl<S> FromRequestParts<S> for PageSession
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        check_origin(&auth, &parts.method, &parts.headers)
            .map_err(|e| PageRejection::error(&auth, e))?;
        match resolve(parts, &auth).await {
            Ok(Resolved::Signed(session)) => Ok(session),
            Ok(Resolved::None(clear)) => {
                let mut response = see_other(&signin_url(return_path(parts).as_deref()));
                for c in clear {
                    response.headers_mut().append(header::SET_COOKIE, c);
                }
                Err(PageRejection(response))
            }
            Err(e) => Err(PageRejection::error(&auth, e)),
        }
    }
}

/// `Option<PageSession>`: `None` without a usable session (pages that also serve visitors).
impl<S> OptionalFromRequestParts<S> for PageSession
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PageRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        check_origin(&auth, &parts.method, &parts.headers)
            .map_err(|e| PageRejection::error(&auth, e))?;
        match resolve(parts, &auth).await {
            Ok(Resolved::Signed(session)) => Ok(Some(session)),
            Ok(Resolved::None(clear)) => {
                PendingCookies::push(parts, clear);
                Ok(None)
            }
            Err(e) => Err(PageRejection::error(&auth, e)),
        }
    }
}

/// A page form (`application/x-www-form-urlencoded`) of a signed-in user, its `csrf_token`
/// checked against the session (403 `csrf_failed` page when missing or wrong).
pub struct PageForm<T> {
    /// The session the form was sent in.
    pub session: PageSession,
    /// The form's fields (its `csrf_token` need not be one of them).
    pub form: T,
}

#[derive(Deserialize)]
struct CsrfField {
    csrf_token: Option<String>,
}

/// The body of a page form, read as `T`: 415 page for another content type, 400 page for an
/// unreadable body (413 for one over the server's limit).
async fn read_form<T: DeserializeOwned>(
    auth: &AuthState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<(Option<String>, T), PageRejection> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(PageRejection(outcome(
            auth,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "error",
            "The form could not be read",
            "This page accepts only its own HTML form. Go back, reload the page and submit it again.",
        )));
    }
    let bytes: Bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => {
            return Err(PageRejection(outcome(
                auth,
                StatusCode::PAYLOAD_TOO_LARGE,
                "error",
                "The form is too large",
                "The form sent more than this server accepts. Shorten what you typed and try again.",
            )));
        }
    };
    let csrf: CsrfField =
        serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfField { csrf_token: None });
    match serde_urlencoded::from_bytes::<T>(&bytes) {
        Ok(form) => Ok((csrf.csrf_token, form)),
        Err(_) => Err(PageRejection(outcome(
            auth,
            StatusCode::BAD_REQUEST,
            "error",
            "The form could not be read",
            "The form arrived incomplete. Go back, reload the page and submit it again.",
        ))),
    }
}

impl<S, T> FromRequest<S> for PageForm<T>
where
    AuthState: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = PageRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        let (mut parts, body) = request.into_parts();
        let session =
            <PageSession as FromRequestParts<S>>::from_request_parts(&mut parts, state).await?;
        let (csrf, form) = read_form::<T>(&auth, &parts.headers, body).await?;
        session.check_csrf(&auth, csrf.as_deref())?;
        Ok(Self { session, form })
    }
}

/// A form shown before any session exists (sign-in, sign-up, forgotten password): its
/// `csrf_token` is bound to the browser's pre-session cookie, and a foreign `Origin` is refused.
pub struct AnonForm<T> {
    /// The pre-session the form was shown in.
    pub pre: Uuid,
    /// The form's fields.
    pub form: T,
    /// The request's client (address, user agent) for limits and audit.
    pub client: ClientInfo,
    /// The request's cookies and headers (the device cookie is read from them).
    pub headers: HeaderMap,
}

/// The pre-session of a visitor: the id in their pre-session cookie, or a new one with the
/// cookie that sets it.
pub(crate) fn pre_session(auth: &AuthState, headers: &HeaderMap) -> (Uuid, Option<HeaderValue>) {
    let names = CookieNames::of(auth);
    match cookie(headers, &names.pre()).and_then(|v| Uuid::try_parse(v).ok()) {
        Some(id) => (id, None),
        None => {
            let id = Uuid::new_v4();
            (id, Some(names.set(&names.pre(), &id.to_string(), None)))
        }
    }
}

impl<S, T> FromRequest<S> for AnonForm<T>
where
    AuthState: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = PageRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        let (mut parts, body) = request.into_parts();
        check_origin(&auth, &parts.method, &parts.headers)
            .map_err(|e| PageRejection::error(&auth, e))?;
        let client = <ClientInfo as FromRequestParts<S>>::from_request_parts(&mut parts, state)
            .await
            .map_err(|e| PageRejection::error(&auth, e))?;
        let (csrf, form) = read_form::<T>(&auth, &parts.headers, body).await?;
        let names = CookieNames::of(&auth);
        let Some(pre) = cookie(&parts.headers, &names.pre()).and_then(|v| Uuid::try_parse(v).ok())
        else {
            return Err(PageRejection::error(
                &auth,
                Error::CsrfFailed(
                    "this form needs its cookie; allow cookies for this site and reload the page",
                ),
            ));
        };
        auth.check_csrf(pre, csrf.as_deref())
            .map_err(|e| PageRejection::error(&auth, e))?;
        Ok(Self {
            pre,
            form,
            client,
            headers: parts.headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; authgate_page_access=tok; b=2"),
        );
        assert_eq!(cookie(&headers, "authgate_page_access"), Some("tok"));
        assert_eq!(cookie(&headers, "page_access"), None);
    }

    #[test]
    fn signin_url_encodes_the_return_path() {
        assert_eq!(
            signin_url(Some("/account?x=1&y")),
            "/signin?return_to=%2Faccount%3Fx%3D1%26y"
        );
    }
}
