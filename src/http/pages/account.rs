//! `/account`: the signed-in user's profile, password, e-mail address, devices (sessions),
//! two-factor enrolment, and the passkeys block (`account_passkeys.html`, the passkeys
//! helper's include). Every form posts with the session's CSRF token ([`PageForm`]).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::render::{render, render_with_scripts, see_other};
use super::session::{
    PageForm, PageSession, access_cookie, cleared_cookies, error_page, session_cookies,
};
use crate::domain::ClientInfo;
use crate::service::{AuthState, Error};

/// The notice `/account` shows after a change (`?done=`); fixed texts, nothing reflected.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// `profile`, `password`, `email`, `session`, `mfa_off`, `passkey_added`,
    /// `passkey_renamed`, `passkey_removed`; anything else shows nothing.
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "profile" => "Your profile is saved.",
        "password" => "Your password is changed. Every other device has been signed out.",
        "email" => {
            "We sent a confirmation link to the new address. The change applies once you open it."
        }
        "session" => "That device is signed out.",
        "mfa_off" => "Two-factor authentication is off.",
        "passkey_added" => "Your passkey is added. Use it next time you sign in.",
        "passkey_renamed" => "The passkey is renamed.",
        "passkey_removed" => "The passkey is removed.",
        _ => return None,
    })
}

#[derive(Serialize)]
struct DeviceView {
    id: String,
    current: bool,
    user_agent: String,
    ip: String,
    created: String,
    last_used: String,
}

/// One passkey as the account page lists it.
#[derive(Serialize)]
struct PasskeyView {
    id: String,
    name: String,
    created: String,
    last_used: Option<String>,
    synced: bool,
}

fn date(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map(|s| s.replace('T', " ").trim_end_matches('Z').to_owned() + " UTC")
        .unwrap_or_default()
}

/// The account page with `errors` (for the form of `section`) or a notice.
async fn account_view(
    auth: &AuthState,
    session: &PageSession,
    status: StatusCode,
    section: &str,
    errors: &[String],
    notice: Option<&str>,
) -> Response {
    let user = match auth.own_account(session.user.id, session.session).await {
        Ok(user) => user,
        Err(Error::Unauthenticated { .. }) => {
            return signed_out(auth, "/signin?return_to=%2Faccount");
        }
        Err(e) => return error_page(auth, e),
    };
    let mfa = match auth.mfa_status(user.id).await {
        Ok(m) => m,
        Err(e) => return error_page(auth, e),
    };
    let devices: Vec<DeviceView> = match auth.sessions(user.id, session.session).await {
        Ok(list) => list
            .into_iter()
            .map(|s| DeviceView {
                id: s.id.to_string(),
                current: s.id == session.session,
                user_agent: s.user_agent.unwrap_or_else(|| "Unknown browser".to_owned()),
                ip: s.ip.unwrap_or_default(),
                created: date(s.created_at),
                last_used: date(s.last_used_at),
            })
            .collect(),
        Err(Error::Unauthenticated { .. }) => {
            return signed_out(auth, "/signin?return_to=%2Faccount");
        }
        Err(e) => return error_page(auth, e),
    };
    let passkeys: Vec<PasskeyView> = match auth.passkeys(user.id).await {
        Ok(list) => list
            .into_iter()
            .map(|p| PasskeyView {
                id: p.id.to_string(),
                name: p.name,
                created: date(p.created_at),
                last_used: p.last_used_at.map(date),
                synced: p.backup_state,
            })
            .collect(),
        Err(e) => return error_page(auth, e),
    };
    render_with_scripts(
        status,
        "account.html",
        context! {
            product => auth.product_name(),
            signed_in => true,
            csrf => session.csrf.clone(),
            user => context! {
                email => user.email, username => user.username, email_verified => user.email_verified,
                roles => user.roles,
            },
            must_enrol => session.user.must_enrol(),
            mfa => context! { totp => mfa.totp, recovery_codes_left => mfa.recovery_codes_left },
            devices,
            passkeys,
            // Adding a passkey asks for the password unless this session passed a second factor.
            passkey_password => session.user.claims.aal < 2,
            section,
            errors,
            notice,
            min_length => auth.min_password_length(),
        },
    )
}

/// A 303 to `location` with the page cookies expired.
fn signed_out(auth: &AuthState, location: &str) -> Response {
    let mut response = see_other(location);
    for c in cleared_cookies(auth) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// The account page. Without a session: 303 to `/signin?return_to=/account`.
#[utoipa::path(get, path = "/account", tag = "pages", params(AccountQuery),
    responses(
        (status = 200, description = "the account page", content_type = "text/html", body = String),
        (status = 303, description = "no session: on to /signin?return_to=…"),
        (status = 429, description = "too many session refreshes from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn account_page(
    State(auth): State<AuthState>,
    session: PageSession,
    query: Result<Query<AccountQuery>, QueryRejection>,
) -> Response {
    let done = query.ok().and_then(|Query(q)| q.done);
    let notice = notice(done.as_deref());
    account_view(&auth, &session, StatusCode::OK, "", &[], notice).await
}

/// An error of an account form: the page again with the message next to `section`, or the
/// error page (429/503/403).
pub(super) async fn form_error(
    auth: &AuthState,
    session: &PageSession,
    section: &str,
    err: Error,
) -> Response {
    let (status, messages) = match err {
        Error::Validation(fields) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            fields.into_values().flatten().collect(),
        ),
        Error::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            vec!["Your current password is not right.".to_owned()],
        ),
        Error::InvalidOtp => (
            StatusCode::UNAUTHORIZED,
            vec!["That code is wrong, expired or already used. Enter the current code from your app.".to_owned()],
        ),
        err @ (Error::Conflict(_) | Error::MfaAlreadyEnabled | Error::NotFound(_) | Error::BadRequest(_)) => {
            (err.status(), vec![format!("{err}.")])
        }
        other => return error_page(auth, other),
    };
    account_view(auth, session, status, section, &messages, None).await
}

#[allow(clippy::result_large_err)] // the error is the page to answer with
pub(super) fn client_or_page(
    auth: &AuthState,
    client: Result<ClientInfo, Error>,
) -> Result<ClientInfo, Response> {
    client.map_err(|e| error_page(auth, e))
}

/// The profile form.
#[derive(Deserialize, ToSchema)]
pub struct ProfileForm {
    /// Empty for none.
    username: Option<String>,
}

/// Set or clear the username.
#[utoipa::path(post, path = "/account/profile", tag = "pages",
    request_body(content = ProfileForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "saved: back to /account (or no session: on to /signin)"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 409, description = "the username is taken", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "not a valid username", content_type = "text/html", body = String),
        (status = 429, description = "too many attempts from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn profile_submit(
    State(auth): State<AuthState>,
    form: PageForm<ProfileForm>,
) -> Response {
    let PageForm { session, form } = form;
    match auth
        .set_username(session.user.id, form.username.as_deref())
        .await
    {
        Ok(_) => see_other("/account?done=profile"),
        Err(e) => form_error(&auth, &session, "profile", e).await,
    }
}

/// The change-password form.
#[derive(Deserialize, ToSchema)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// Change the password: every session ends; this browser gets a new one.
#[utoipa::path(post, path = "/account/password", tag = "pages",
    request_body(content = PasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "changed: back to /account with the new session's cookies (or no session: on to /signin)"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 401, description = "the current password is wrong", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "the passwords differ or the policy refuses the new one", content_type = "text/html", body = String),
        (status = 429, description = "rate limit or account lock", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the server is busy or the database unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn password_submit(
    State(auth): State<AuthState>,
    client: Result<ClientInfo, Error>,
    form: PageForm<PasswordForm>,
) -> Response {
    let client = match client_or_page(&auth, client) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let PageForm { session, form } = form;
    if form.new_password != form.confirm_password {
        let errors = ["The two new passwords do not match.".to_owned()];
        return account_view(
            &auth,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
            &errors,
            None,
        )
        .await;
    }
    let second = session.user.has_second_factor();
    match auth
        .change_password_from(
            session.user.id,
            &form.current_password,
            form.new_password,
            client,
            second,
        )
        .await
    {
        Ok(tokens) => {
            let mut response = see_other("/account?done=password");
            for c in session_cookies(&auth, &tokens, false) {
                response.headers_mut().append(header::SET_COOKIE, c);
            }
            response
        }
        Err(e) => form_error(&auth, &session, "password", e).await,
    }
}

/// The change-e-mail form.
#[derive(Deserialize, ToSchema)]
pub struct EmailForm {
    new_email: String,
    current_password: String,
}

/// Ask to move the account to a new address: a link goes to it; the change applies when opened.
#[utoipa::path(post, path = "/account/email", tag = "pages",
    request_body(content = EmailForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "the link is sent: back to /account (or no session: on to /signin)"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 401, description = "the current password is wrong", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 409, description = "the address is taken", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "not an e-mail address", content_type = "text/html", body = String),
        (status = 429, description = "rate limit or account lock", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the server is busy or the database unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn email_submit(
    State(auth): State<AuthState>,
    client: Result<ClientInfo, Error>,
    form: PageForm<EmailForm>,
) -> Response {
    let client = match client_or_page(&auth, client) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let PageForm { session, form } = form;
    match auth
        .change_email(
            session.user.id,
            &form.new_email,
            &form.current_password,
            client,
        )
        .await
    {
        Ok(()) => see_other("/account?done=email"),
        Err(e) => form_error(&auth, &session, "email", e).await,
    }
}

/// The form of a device's "Sign out" button.
#[derive(Deserialize, ToSchema)]
pub struct DeviceForm {
    /// The session to end (one of the caller's).
    session_id: String,
}

/// Sign one device out; signing out this very browser expires its cookies.
#[utoipa::path(post, path = "/account/sessions/end", tag = "pages",
    request_body(content = DeviceForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "signed out: back to /account, or to /signin when it was this browser"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 404, description = "no such session of yours (already ended?)", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 429, description = "too many session refreshes from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn end_device(
    State(auth): State<AuthState>,
    client: Result<ClientInfo, Error>,
    form: PageForm<DeviceForm>,
) -> Response {
    let client = match client_or_page(&auth, client) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let PageForm { session, form } = form;
    let Ok(id) = Uuid::try_parse(form.session_id.trim()) else {
        return form_error(&auth, &session, "devices", Error::NotFound("session")).await;
    };
    match auth.end_session(session.user.id, id, &client).await {
        Ok(()) if id == session.session => signed_out(&auth, "/signin"),
        Ok(()) => see_other("/account?done=session"),
        Err(e) => form_error(&auth, &session, "devices", e).await,
    }
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize, ToSchema)]
pub struct EmptyForm {}

/// Sign out every device, this browser included.
#[utoipa::path(post, path = "/account/sessions/end-all", tag = "pages",
    request_body(content = EmptyForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "every session ended: on to /signin, the cookies expired"),
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
pub async fn end_all_devices(
    State(auth): State<AuthState>,
    client: Result<ClientInfo, Error>,
    form: PageForm<EmptyForm>,
) -> Response {
    let client = match client_or_page(&auth, client) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match auth.logout_all(form.session.user.id, &client).await {
        Ok(_) => signed_out(&auth, "/signin"),
        Err(e) => error_page(&auth, e),
    }
}

/// The form that starts two-factor enrolment (the current password again).
#[derive(Deserialize, ToSchema)]
pub struct EnrolForm {
    current_password: String,
}

/// Start TOTP enrolment: the QR code and the secret to type in, and the form for the first code.
#[utoipa::path(post, path = "/account/mfa/totp", tag = "pages",
    request_body(content = EnrolForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the QR code, the secret and the confirm form", content_type = "text/html", body = String),
        (status = 303, description = "no session: on to /signin"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 401, description = "the current password is wrong", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 409, description = "two-factor authentication is already on", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 429, description = "rate limit or account lock", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the server is busy or the database unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn mfa_enrol(
    State(auth): State<AuthState>,
    client: Result<ClientInfo, Error>,
    form: PageForm<EnrolForm>,
) -> Response {
    let client = match client_or_page(&auth, client) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let PageForm { session, form } = form;
    match auth
        .begin_totp_enrolment(session.user.id, &form.current_password, &client)
        .await
    {
        Ok(enrolment) => mfa_page(&auth, &session, StatusCode::OK, Some(&enrolment), &[]),
        Err(e) => form_error(&auth, &session, "mfa", e).await,
    }
}

fn mfa_page(
    auth: &AuthState,
    session: &PageSession,
    status: StatusCode,
    enrolment: Option<&crate::service::TotpEnrolment>,
    errors: &[String],
) -> Response {
    render(
        status,
        "account_mfa.html",
        context! {
            product => auth.product_name(),
            signed_in => true,
            csrf => session.csrf.clone(),
            stage => "confirm",
            secret => enrolment.map(|e| e.secret.clone()),
            otpauth_uri => enrolment.map(|e| e.otpauth_uri.clone()),
            qr_svg => enrolment.map(|e| e.qr_svg.clone()),
            errors,
        },
    )
}

/// The first code from the authenticator app.
#[derive(Deserialize, ToSchema)]
pub struct CodeForm {
    code: String,
}

/// Confirm the enrolment with a first code: the recovery codes, shown this once.
#[utoipa::path(post, path = "/account/mfa/totp/confirm", tag = "pages",
    request_body(content = CodeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "two-factor authentication is on: the recovery codes, shown once", content_type = "text/html", body = String),
        (status = 303, description = "no session: on to /signin"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 401, description = "the code is wrong: enter the current one", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 404, description = "no enrolment is pending", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 429, description = "second-factor lock from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn mfa_confirm(
    State(auth): State<AuthState>,
    client: Result<ClientInfo, Error>,
    form: PageForm<CodeForm>,
) -> Response {
    let client = match client_or_page(&auth, client) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let PageForm { session, form } = form;
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    match auth
        .confirm_totp(session.user.id, session.session, &code, &client)
        .await
    {
        Ok(confirmed) => {
            let mut response = render(
                StatusCode::OK,
                "account_mfa.html",
                context! {
                    product => auth.product_name(),
                    signed_in => true,
                    csrf => session.csrf.clone(),
                    stage => "codes",
                    recovery_codes => confirmed.recovery_codes,
                    errors => Vec::<String>::new(),
                },
            );
            response.headers_mut().append(
                header::SET_COOKIE,
                access_cookie(&auth, &confirmed.access_token, session.remember_me),
            );
            response
        }
        Err(Error::InvalidOtp) => {
            let errors = ["That code is wrong. Enter the current code from your app; the QR code above is still valid.".to_owned()];
            mfa_page(&auth, &session, StatusCode::UNAUTHORIZED, None, &errors)
        }
        Err(e) => form_error(&auth, &session, "mfa", e).await,
    }
}

/// The turn-off form: the current password and a code.
#[derive(Deserialize, ToSchema)]
pub struct DisableForm {
    current_password: String,
    code: String,
}

/// Turn two-factor authentication off.
#[utoipa::path(post, path = "/account/mfa/disable", tag = "pages",
    request_body(content = DisableForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "off: back to /account (or no session: on to /signin)"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 401, description = "the password or the code is wrong", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 404, description = "two-factor authentication is not on", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 429, description = "rate limit or lock", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the server is busy or the database unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn mfa_disable(
    State(auth): State<AuthState>,
    client: Result<ClientInfo, Error>,
    form: PageForm<DisableForm>,
) -> Response {
    let client = match client_or_page(&auth, client) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let PageForm { session, form } = form;
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    match auth
        .disable_totp(session.user.id, &form.current_password, &code, &client)
        .await
    {
        Ok(()) => see_other("/account?done=mfa_off"),
        Err(e) => form_error(&auth, &session, "mfa", e).await,
    }
}
