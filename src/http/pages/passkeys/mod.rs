//! The hosted pages' passkeys (issue 13): "Sign in with a passkey" on `/signin`, a passkey as
//! the second-factor step, and adding, renaming and removing passkeys on `/account`.
//!
//! The ceremonies are the service's (`AuthState`'s passkey methods, as behind the JSON API);
//! this module only carries them to the page session. The browser's half is
//! `/assets/passkeys.js`, loaded with the page's CSP nonce: it posts JSON to the `…/start` and
//! `…/finish` routes here with the page's CSRF token in `X-CSRF-Token` (bound to the page
//! session, or before sign-in to the pre-session cookie, as the forms' tokens are), and a
//! foreign `Origin` is refused. Errors are `application/problem+json` for the script to show.
//! A sign-in sets the same page cookies a password sign-in sets and answers
//! `{"redirect": …}` (`return_to` when [`safe_return_to`] accepts it). Rename and remove are
//! plain forms, so they work without JavaScript ([`account`]).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::render::headers as page_headers;
use super::session::{CookieNames, check_origin, cookie, safe_return_to, session_cookies};
use crate::domain::ClientInfo;
use crate::http::json::JsonObject;
use crate::http::routes::passkeys::CeremonyResponse;
use crate::service::{AuthState, Error, MfaAnswer, Result, TokenPair};

pub(crate) mod account;

/// The script, compiled in.
const SCRIPT: &str = include_str!("passkeys.js");
/// Where a sign-in goes when it was not sent anywhere in particular (as in `signin`).
const HOME: &str = "/account";
/// The header the script sends the page's CSRF token in.
const CSRF_HEADER: &str = "x-csrf-token";

/// The browser's half of the passkey pages: WebAuthn calls and base64url conversion.
#[utoipa::path(get, path = "/assets/passkeys.js", tag = "pages",
    responses((status = 200, description = "the script the passkey parts of /signin and /account load (by CSP nonce)", content_type = "text/javascript", body = String)))]
pub async fn script() -> Response {
    let mut response = SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    // Not versioned by name: revalidate, so a new release's script is picked up at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A JSON answer of the page routes: `no-store`, with the pages' headers.
fn json_answer(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    page_headers(&mut response, None);
    response
}

/// The `X-CSRF-Token` the script sends. Taken first, so a request without one is refused
/// (403 `csrf_failed`) before its session or body is looked at.
pub struct CsrfHeader(String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfHeader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(|v| Self(v.to_owned()))
            .ok_or(Error::CsrfFailed(
                "a CSRF token is required: send the page's token in X-CSRF-Token",
            ))
    }
}

/// Before sign-in: the `Origin` is ours (or absent) and `X-CSRF-Token` is a token of the
/// browser's pre-session cookie (403 `csrf_failed` otherwise), as for the sign-in form.
fn check_anonymous(auth: &AuthState, headers: &HeaderMap, csrf: &CsrfHeader) -> Result<()> {
    check_origin(auth, &Method::POST, headers)?;
    let pre = cookie(headers, &CookieNames::of(auth).pre())
        .and_then(|v| Uuid::try_parse(v).ok())
        .ok_or(Error::CsrfFailed(
            "this page needs its cookie; allow cookies for this site and reload the page",
        ))?;
    auth.check_csrf(pre, Some(&csrf.0))
}

/// The signed-in browser's cookies and where the script goes next.
fn signed_in(
    auth: &AuthState,
    tokens: &TokenPair,
    remember_me: bool,
    return_to: Option<&str>,
) -> Response {
    let target = return_to.and_then(|r| safe_return_to(auth, r));
    let body = RedirectResponse {
        redirect: target.unwrap_or_else(|| HOME.to_owned()),
    };
    let mut response = json_answer(StatusCode::OK, body);
    for c in session_cookies(auth, tokens, remember_me) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// Where the page goes after a passkey call succeeded.
#[derive(Serialize, ToSchema)]
pub struct RedirectResponse {
    /// A path on this server, or the accepted `return_to`.
    pub redirect: String,
}

/// `POST /signin/passkey/finish`.
#[derive(Deserialize, ToSchema)]
pub struct PasskeySigninBody {
    pub ceremony_id: Uuid,
    /// What `navigator.credentials.get` returned, as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: Value,
    /// "Remember me" was ticked.
    #[serde(default)]
    pub remember_me: bool,
    /// Where to go afterwards (as on `/signin`; anything unsafe is ignored).
    pub return_to: Option<String>,
}

/// The body of the `…/start` calls that need nothing.
#[derive(Deserialize, ToSchema)]
pub struct EmptyBody {}

/// Start "Sign in with a passkey": the options for `navigator.credentials.get` (any
/// discoverable passkey of this site). Counts against the per-IP login limit.
#[utoipa::path(post, path = "/signin/passkey/start", tag = "pages",
    params(("X-CSRF-Token" = String, Header, description = "the sign-in page's CSRF token")),
    request_body = EmptyBody,
    responses((status = 200, body = CeremonyResponse),
              (status = 403, body = crate::http::problem::Problem, description = "`csrf_failed` (no pre-session cookie, a wrong token, a foreign Origin), or passkeys are off"),
              (status = 429, body = crate::http::problem::Problem, description = "rate limit; see Retry-After",
                  headers(("Retry-After" = u64, description = "seconds to wait before retrying")))))]
pub async fn signin_start(
    State(auth): State<AuthState>,
    csrf: CsrfHeader,
    client: ClientInfo,
    headers: HeaderMap,
    _body: JsonObject<EmptyBody>,
) -> Result<Response> {
    check_anonymous(&auth, &headers, &csrf)?;
    let ceremony = auth.start_passkey_signin(&client).await?;
    Ok(json_answer(
        StatusCode::OK,
        CeremonyResponse::from(ceremony),
    ))
}

/// Finish "Sign in with a passkey": the page session opens (its cookies are set, as after a
/// password sign-in; `amr: ["hwk","user"]`) and the answer says where to go.
#[utoipa::path(post, path = "/signin/passkey/finish", tag = "pages",
    params(("X-CSRF-Token" = String, Header, description = "the sign-in page's CSRF token")),
    request_body = PasskeySigninBody,
    responses((status = 200, body = RedirectResponse, description = "signed in: the session cookies are set"),
              (status = 400, body = crate::http::problem::Problem, description = "`credential` is not a WebAuthn assertion"),
              (status = 401, body = crate::http::problem::Problem, description = "`invalid_passkey`: unknown passkey, a ceremony unknown, used or expired, or an assertion that does not verify"),
              (status = 403, body = crate::http::problem::Problem, description = "`csrf_failed`; the account is deactivated or its address unconfirmed; or passkeys are off"),
              (status = 429, body = crate::http::problem::Problem, description = "rate limit; see Retry-After",
                  headers(("Retry-After" = u64, description = "seconds to wait before retrying")))))]
pub async fn signin_finish(
    State(auth): State<AuthState>,
    csrf: CsrfHeader,
    client: ClientInfo,
    headers: HeaderMap,
    JsonObject(body): JsonObject<PasskeySigninBody>,
) -> Result<Response> {
    check_anonymous(&auth, &headers, &csrf)?;
    let tokens = auth
        .finish_passkey_signin(body.ceremony_id, &body.credential, body.remember_me, client)
        .await?;
    Ok(signed_in(
        &auth,
        &tokens,
        body.remember_me,
        body.return_to.as_deref(),
    ))
}

/// `POST /signin/mfa/passkey/start`.
#[derive(Deserialize, ToSchema)]
pub struct MfaStartBody {
    /// The `mfa_token` of the second-factor page.
    pub mfa_token: String,
}

/// `POST /signin/mfa/passkey/finish`.
#[derive(Deserialize, ToSchema)]
pub struct MfaFinishBody {
    pub mfa_token: String,
    pub ceremony_id: Uuid,
    /// What `navigator.credentials.get` returned, as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: Value,
    #[serde(default)]
    pub remember_me: bool,
    pub return_to: Option<String>,
}

/// Start answering the second-factor step with a passkey: the options for
/// `navigator.credentials.get` (the account's passkeys). Counts as one of the step's attempts.
#[utoipa::path(post, path = "/signin/mfa/passkey/start", tag = "pages",
    params(("X-CSRF-Token" = String, Header, description = "the second-factor page's CSRF token")),
    request_body = MfaStartBody,
    responses((status = 200, body = CeremonyResponse),
              (status = 401, body = crate::http::problem::Problem, description = "`invalid_mfa_token`: sign in with the password again"),
              (status = 403, body = crate::http::problem::Problem, description = "`csrf_failed`, or passkeys are off"),
              (status = 404, body = crate::http::problem::Problem, description = "the account has no passkey"),
              (status = 429, body = crate::http::problem::Problem, description = "rate limit; see Retry-After",
                  headers(("Retry-After" = u64, description = "seconds to wait before retrying")))))]
pub async fn mfa_start(
    State(auth): State<AuthState>,
    csrf: CsrfHeader,
    client: ClientInfo,
    headers: HeaderMap,
    JsonObject(body): JsonObject<MfaStartBody>,
) -> Result<Response> {
    check_anonymous(&auth, &headers, &csrf)?;
    let ceremony = auth.start_mfa_passkey(&body.mfa_token, &client).await?;
    Ok(json_answer(
        StatusCode::OK,
        CeremonyResponse::from(ceremony),
    ))
}

/// Finish the second-factor step with a passkey: the page session opens (`amr:
/// ["pwd","hwk"]`) and the answer says where to go.
#[utoipa::path(post, path = "/signin/mfa/passkey/finish", tag = "pages",
    params(("X-CSRF-Token" = String, Header, description = "the second-factor page's CSRF token")),
    request_body = MfaFinishBody,
    responses((status = 200, body = RedirectResponse, description = "signed in: the session cookies are set"),
              (status = 400, body = crate::http::problem::Problem, description = "`credential` is not a WebAuthn assertion"),
              (status = 401, body = crate::http::problem::Problem, description = "`invalid_passkey` (try again), or `invalid_mfa_token` (sign in with the password again)"),
              (status = 403, body = crate::http::problem::Problem, description = "`csrf_failed`, or passkeys are off"),
              (status = 429, body = crate::http::problem::Problem, description = "rate limit or second-factor lock; see Retry-After",
                  headers(("Retry-After" = u64, description = "seconds to wait before retrying")))))]
pub async fn mfa_finish(
    State(auth): State<AuthState>,
    csrf: CsrfHeader,
    client: ClientInfo,
    headers: HeaderMap,
    JsonObject(body): JsonObject<MfaFinishBody>,
) -> Result<Response> {
    check_anonymous(&auth, &headers, &csrf)?;
    let answer = MfaAnswer::Passkey {
        ceremony_id: body.ceremony_id,
        credential: &body.credential,
    };
    let tokens = auth.complete_mfa(&body.mfa_token, answer, client).await?;
    Ok(signed_in(
        &auth,
        &tokens,
        body.remember_me,
        body.return_to.as_deref(),
    ))
}
