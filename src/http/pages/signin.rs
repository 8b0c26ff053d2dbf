//! `/signin` (password, then the second factor when the account has one) and `/signout`.
//!
//! The sign-in runs the service calls of `POST /auth/login` and `POST /auth/mfa`: the same
//! per-address limits, lockout, device tokens, audit. A deactivated account is answered like a
//! wrong password, as on the API.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::render::{render_with_scripts, see_other};
use super::session::{
    AnonForm, CookieNames, PageForm, PageSession, cleared_cookies, cookie, error_page, pre_session,
    safe_return_to, session_cookies,
};
use crate::domain::ClientInfo;
use crate::service::{AuthState, Error, MfaAnswer, TokenPair};

/// Where a sign-in goes when it was not sent anywhere in particular.
const HOME: &str = "/account";

/// The query of `/signin`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SigninQuery {
    /// Where to go after signing in: a path on this server, or a URL under AUTHGATE_PUBLIC_URL
    /// or an origin of AUTHGATE_CORS_ORIGINS (anything else is ignored).
    return_to: Option<String>,
}

/// The password form.
#[derive(Deserialize, ToSchema)]
pub struct SigninForm {
    /// The CSRF token of the page.
    #[allow(dead_code)]
    csrf_token: Option<String>,
    /// E-mail address or username.
    login: String,
    password: String,
    /// `on` when ticked.
    remember_me: Option<String>,
    return_to: Option<String>,
}

/// The second-factor form.
#[derive(Deserialize, ToSchema)]
pub struct MfaForm {
    #[allow(dead_code)]
    csrf_token: Option<String>,
    mfa_token: String,
    /// A code from the authenticator app, or a recovery code.
    code: String,
    remember_me: Option<String>,
    return_to: Option<String>,
    /// `on` when the account has a passkey (the page then offers it instead of a code).
    passkey: Option<String>,
}

/// The sign-out form (its CSRF token only).
#[derive(Deserialize, ToSchema)]
pub struct CsrfOnly {
    #[allow(dead_code)]
    csrf_token: Option<String>,
}

/// The sign-in form; a browser already signed in goes on to `return_to` (or `/account`).
#[utoipa::path(get, path = "/signin", tag = "pages", params(SigninQuery),
    responses(
        (status = 200, description = "the sign-in form", content_type = "text/html", body = String),
        (status = 303, description = "already signed in: on to `return_to` or /account"),
        (status = 429, description = "too many session refreshes from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn signin_page(
    State(auth): State<AuthState>,
    session: Option<PageSession>,
    query: Result<Query<SigninQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    // An unreadable query (a repeated parameter, say) is no return_to, not an error.
    let query = query.map_or(SigninQuery { return_to: None }, |Query(q)| q);
    let return_to = query
        .return_to
        .as_deref()
        .and_then(|r| safe_return_to(&auth, r));
    if session.is_some() {
        return see_other(return_to.as_deref().unwrap_or(HOME));
    }
    password_form(
        &auth,
        &headers,
        StatusCode::OK,
        "",
        false,
        return_to.as_deref(),
        &[],
    )
}

fn password_form(
    auth: &AuthState,
    headers: &HeaderMap,
    status: StatusCode,
    login: &str,
    remember_me: bool,
    return_to: Option<&str>,
    errors: &[String],
) -> Response {
    let (pre, set_pre) = pre_session(auth, headers);
    let csrf = match auth.csrf_token(pre) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(auth, e),
    };
    let mut response = render_with_scripts(
        status,
        "signin.html",
        context! {
            product => auth.product_name(), csrf, login, remember_me, return_to, errors,
        },
    );
    if let Some(cookie) = set_pre {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// What the second-factor page shows besides the code form.
struct MfaPage<'a> {
    mfa_token: &'a str,
    remember_me: bool,
    return_to: Option<&'a str>,
    /// The account has a passkey: offer it.
    passkey: bool,
}

fn mfa_form(
    auth: &AuthState,
    pre: uuid::Uuid,
    status: StatusCode,
    step: &MfaPage<'_>,
    errors: &[String],
) -> Response {
    let csrf = match auth.csrf_token(pre) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(auth, e),
    };
    render_with_scripts(
        status,
        "signin_mfa.html",
        context! {
            product => auth.product_name(), csrf, mfa_token => step.mfa_token,
            remember_me => step.remember_me, return_to => step.return_to,
            passkey => step.passkey, errors,
        },
    )
}

/// The signed-in browser's cookies and the 303 onwards.
fn signed_in(
    auth: &AuthState,
    tokens: &TokenPair,
    remember_me: bool,
    return_to: Option<&str>,
) -> Response {
    let target = return_to.and_then(|r| safe_return_to(auth, r));
    let mut response = see_other(target.as_deref().unwrap_or(HOME));
    for c in session_cookies(auth, tokens, remember_me) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

fn with_retry_after(mut response: Response, err: &Error) -> Response {
    if let Some(secs) = err.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Check the password; open the session (303 onwards, cookies set) or show the second-factor
/// step.
#[utoipa::path(post, path = "/signin", tag = "pages",
    request_body(content = SigninForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the password is right and the account has a second factor: the code form", content_type = "text/html", body = String),
        (status = 303, description = "signed in: the session cookies are set; on to `return_to` or /account"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 401, description = "wrong login or password (or a deactivated account): the form again", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed` (missing/wrong CSRF token, no pre-session cookie, foreign Origin), or the e-mail address is not confirmed yet", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 429, description = "rate limit or account lock, as on POST /auth/login", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the server is busy or the database unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn signin_submit(State(auth): State<AuthState>, form: AnonForm<SigninForm>) -> Response {
    let AnonForm {
        pre,
        form,
        client,
        headers,
    } = form;
    let remember_me = form.remember_me.is_some();
    let return_to = form
        .return_to
        .as_deref()
        .and_then(|r| safe_return_to(&auth, r));
    let device = cookie(&headers, &CookieNames::of(&auth).device()).map(str::to_owned);
    let result = auth
        .login_with_device_token(
            &form.login,
            &form.password,
            device.as_deref(),
            remember_me,
            client,
        )
        .await;
    match result {
        Ok(tokens) => signed_in(&auth, &tokens, remember_me, return_to.as_deref()),
        Err(Error::MfaRequired(Some(challenge))) => {
            let step = MfaPage {
                mfa_token: &challenge.mfa_token,
                remember_me,
                return_to: return_to.as_deref(),
                passkey: challenge.methods.contains(&"passkey"),
            };
            mfa_form(&auth, pre, StatusCode::OK, &step, &[])
        }
        Err(Error::InvalidCredentials | Error::Deactivated) => password_form(
            &auth,
            &headers,
            StatusCode::UNAUTHORIZED,
            &form.login,
            remember_me,
            return_to.as_deref(),
            &["The e-mail address, username or password is not right.".to_owned()],
        ),
        Err(Error::EmailNotVerified) => password_form(
            &auth,
            &headers,
            StatusCode::FORBIDDEN,
            &form.login,
            remember_me,
            return_to.as_deref(),
            &["Confirm your e-mail address first: open the link we sent you.".to_owned()],
        ),
        Err(err @ Error::TooManyRequests { .. }) => {
            let message = format!(
                "Too many sign-in attempts. {}",
                capitalised(&err.to_string())
            );
            let page = password_form(
                &auth,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &form.login,
                remember_me,
                return_to.as_deref(),
                &[message],
            );
            with_retry_after(page, &err)
        }
        Err(err) => error_page(&auth, err),
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => format!("{}{}.", c.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// Answer the second factor: a code from the authenticator app or a recovery code.
#[utoipa::path(post, path = "/signin/mfa", tag = "pages",
    request_body(content = MfaForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "signed in: the session cookies are set; on to `return_to` or /account"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 401, description = "a wrong or reused code (the code form again), or the sign-in expired (the password form)", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 429, description = "rate limit or second-factor lock", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn signin_mfa_submit(State(auth): State<AuthState>, form: AnonForm<MfaForm>) -> Response {
    let AnonForm {
        pre,
        form,
        client,
        headers,
    } = form;
    let remember_me = form.remember_me.is_some();
    let return_to = form
        .return_to
        .as_deref()
        .and_then(|r| safe_return_to(&auth, r));
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let answer = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        MfaAnswer::Otp(&code)
    } else {
        MfaAnswer::RecoveryCode(&code)
    };
    match auth.complete_mfa(&form.mfa_token, answer, client).await {
        Ok(tokens) => signed_in(&auth, &tokens, remember_me, return_to.as_deref()),
        Err(Error::InvalidOtp) => {
            let step = MfaPage {
                mfa_token: &form.mfa_token,
                remember_me,
                return_to: return_to.as_deref(),
                passkey: form.passkey.is_some(),
            };
            let errors = ["That code is wrong, expired or already used. Enter the current code from your app.".to_owned()];
            mfa_form(&auth, pre, StatusCode::UNAUTHORIZED, &step, &errors)
        }
        Err(Error::InvalidMfaToken) => password_form(
            &auth,
            &headers,
            StatusCode::UNAUTHORIZED,
            "",
            remember_me,
            return_to.as_deref(),
            &["This sign-in has expired or had too many wrong codes. Sign in with your password again.".to_owned()],
        ),
        Err(err @ Error::TooManyRequests { .. }) => {
            let message = format!("Too many attempts. {}", capitalised(&err.to_string()));
            let page = password_form(
                &auth,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                "",
                remember_me,
                return_to.as_deref(),
                &[message],
            );
            with_retry_after(page, &err)
        }
        Err(err) => error_page(&auth, err),
    }
}

/// End this browser's session and expire its cookies.
#[utoipa::path(post, path = "/signout", tag = "pages",
    request_body(content = CsrfOnly, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "signed out (or there was no session): on to /signin, the cookies expired"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 429, description = "too many session refreshes from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn signout(
    State(auth): State<AuthState>,
    client: Result<ClientInfo, Error>,
    form: PageForm<CsrfOnly>,
) -> Response {
    let client = match client {
        Ok(c) => c,
        Err(e) => return error_page(&auth, e),
    };
    let session = form.session;
    match auth
        .end_session(session.user.id, session.session, &client)
        .await
    {
        Ok(()) | Err(Error::NotFound(_)) => {}
        Err(e) => return error_page(&auth, e),
    }
    let mut response = see_other("/signin");
    for c in cleared_cookies(&auth) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}
