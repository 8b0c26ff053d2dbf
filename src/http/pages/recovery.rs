//! authgate's own pages for the links it mails: `/reset-password` and `/verify-email`.
//!
//! Server-rendered HTML that works without JavaScript. A `GET` of a link only shows a form; the
//! one-time token is spent by the form's `POST`, so a mail scanner that follows links burns
//! nothing. Every page is `no-store`, sends no referrer (the token is in its URL) and has a CSP
//! that allows only its own inline stylesheet (by hash) and posting to this origin.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::render::{outcome, render};
use crate::domain::ClientInfo;
use crate::service::{AuthState, Error};

/// The query of a mailed link.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// The one-time token from the e-mail: 32 random bytes, base64url (a link without one, or
    /// with a cut or altered one, gets a 400 page).
    #[param(pattern = "^[A-Za-z0-9_-]{43}$")]
    token: String,
}

/// The new-password form (`application/x-www-form-urlencoded`).
#[derive(Deserialize, ToSchema)]
pub struct ResetForm {
    token: String,
    new_password: String,
    confirm_password: String,
}

/// The confirm-address form (`application/x-www-form-urlencoded`).
#[derive(Deserialize, ToSchema)]
pub struct VerifyForm {
    token: String,
}

/// The form to choose a new password. Showing it spends nothing; the form's POST does.
#[utoipa::path(get, path = "/reset-password", tag = "pages", params(LinkQuery),
    responses(
        (status = 200, description = "the new-password form", content_type = "text/html", body = String),
        (status = 400, description = "the link has no token", content_type = "text/html", body = String),
    ))]
pub async fn reset_password_page(
    State(auth): State<AuthState>,
    query: Result<Query<LinkQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match link_token(query) {
        Some(token) => reset_form(&auth, StatusCode::OK, &token, &[]),
        None => incomplete_link(&auth),
    }
}

/// Set the new password, spending the token. On success every session of the account has
/// ended and a lockout is lifted.
#[utoipa::path(post, path = "/reset-password", tag = "pages",
    request_body(content = ResetForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the password is changed", content_type = "text/html", body = String),
        (status = 400, description = "the link is invalid, used or expired, or the form is unreadable", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "the passwords differ or break the password policy; the form again, with the reason", content_type = "text/html", body = String),
        (status = 429, description = "too many attempts from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the server is busy or the database unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn reset_password_submit(
    State(auth): State<AuthState>,
    client: ClientInfo,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&auth, &rejection),
    };
    if form.new_password != form.confirm_password {
        let errors = ["The two passwords do not match.".to_owned()];
        return reset_form(
            &auth,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form.token,
            &errors,
        );
    }
    match auth
        .reset_password(&form.token, &form.new_password, client)
        .await
    {
        Ok(()) => outcome(
            &auth,
            StatusCode::OK,
            "success",
            "Password changed",
            "Your password has been changed and every session of your account has been signed \
             out. Sign in again with your new password.",
        ),
        Err(Error::Validation(fields)) => {
            let errors: Vec<String> = fields.into_values().flatten().collect();
            reset_form(
                &auth,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form.token,
                &errors,
            )
        }
        Err(err) => failure(
            &auth,
            err,
            "This reset link is invalid, already used or expired. Ask for a new password-reset e-mail; only the newest link works.",
        ),
    }
}

/// The page to confirm an e-mail address. Showing it spends nothing; its button does.
#[utoipa::path(get, path = "/verify-email", tag = "pages", params(LinkQuery),
    responses(
        (status = 200, description = "the confirm button", content_type = "text/html", body = String),
        (status = 400, description = "the link has no token", content_type = "text/html", body = String),
    ))]
pub async fn verify_email_page(
    State(auth): State<AuthState>,
    query: Result<Query<LinkQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match link_token(query) {
        Some(token) => render(
            StatusCode::OK,
            "verify_email.html",
            context! { product => auth.product_name(), token, errors => Vec::<String>::new() },
        ),
        None => incomplete_link(&auth),
    }
}

/// Confirm the address, spending the token.
#[utoipa::path(post, path = "/verify-email", tag = "pages",
    request_body(content = VerifyForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the address is confirmed", content_type = "text/html", body = String),
        (status = 400, description = "the link is invalid, used or expired, or the form is unreadable", content_type = "text/html", body = String),
        (status = 409, description = "the new address was taken by another account meanwhile", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "the form lacks its token", content_type = "text/html", body = String),
        (status = 429, description = "too many attempts from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn verify_email_submit(
    State(auth): State<AuthState>,
    client: ClientInfo,
    form: Result<Form<VerifyForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&auth, &rejection),
    };
    match auth.verify_email(&form.token, client).await {
        Ok(user) => outcome(
            &auth,
            StatusCode::OK,
            "success",
            "Address confirmed",
            &format!(
                "{} is confirmed as the address of your account.",
                user.email
            ),
        ),
        Err(err) => failure(
            &auth,
            err,
            "This confirmation link is invalid, already used or expired. Ask for a new confirmation e-mail; only the newest link works.",
        ),
    }
}

/// The token of a link, if it has the shape of one authgate mails. A cut link (mail programs
/// wrap long lines) is told so at once, before anyone types a password.
fn link_token(
    query: Result<Query<LinkQuery>, axum::extract::rejection::QueryRejection>,
) -> Option<String> {
    let Ok(Query(LinkQuery { token })) = query else {
        return None;
    };
    let well_formed = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then_some(token)
}

fn reset_form(auth: &AuthState, status: StatusCode, token: &str, errors: &[String]) -> Response {
    render(
        status,
        "reset_password.html",
        context! {
            product => auth.product_name(),
            token,
            errors,
            min_length => auth.min_password_length(),
        },
    )
}

fn incomplete_link(auth: &AuthState) -> Response {
    outcome(
        auth,
        StatusCode::BAD_REQUEST,
        "error",
        "Incomplete link",
        "This link is missing its token or has been cut short. Open the link from the e-mail again; if your mail \
         program split it over two lines, copy the whole address into the browser.",
    )
}

fn unreadable_form(auth: &AuthState, rejection: &FormRejection) -> Response {
    let status = match rejection.status() {
        s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => s,
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_REQUEST,
    };
    outcome(
        auth,
        status,
        "error",
        "The form could not be read",
        "The form arrived incomplete or in a form this page does not read. Open the link from \
         the e-mail again and submit the form from there.",
    )
}

/// The page for a failed submission: `invalid` for a bad token, the error's own words otherwise.
/// A fault of the server stays a logged problem+json 500.
fn failure(auth: &AuthState, err: Error, invalid: &str) -> Response {
    let status = err.status();
    if status.is_server_error() && !matches!(err, Error::Unavailable | Error::Overloaded) {
        return err.into_response();
    }
    let retry_after = err.retry_after();
    let (title, message) = match status {
        StatusCode::BAD_REQUEST => ("Link not valid", invalid.to_owned()),
        StatusCode::CONFLICT => (
            "Address taken",
            "Another account uses this address now, so it cannot be confirmed for yours."
                .to_owned(),
        ),
        _ => ("Please try again", format!("{err}.")),
    };
    let mut response = outcome(auth, status, "error", title, &message);
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}
