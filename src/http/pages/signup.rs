//! `/signup` and `/forgot-password`: the forms a visitor without a session uses.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use utoipa::ToSchema;

use super::render::{outcome, render};
use super::session::{AnonForm, error_page, pre_session};
use crate::service::{AuthState, Error};

/// The sign-up form.
#[derive(Deserialize, ToSchema)]
pub struct SignupForm {
    #[allow(dead_code)]
    csrf_token: Option<String>,
    email: String,
    /// Optional; empty for none.
    username: Option<String>,
    password: String,
    confirm_password: String,
}

/// The forgotten-password form.
#[derive(Deserialize, ToSchema)]
pub struct ForgotForm {
    #[allow(dead_code)]
    csrf_token: Option<String>,
    email: String,
}

/// A form page bound to the visitor's pre-session (the cookie set if new).
fn anon_page(
    auth: &AuthState,
    headers: &HeaderMap,
    status: StatusCode,
    template: &str,
    ctx: minijinja::Value,
) -> Response {
    let (pre, set_pre) = pre_session(auth, headers);
    let csrf = match auth.csrf_token(pre) {
        Ok(csrf) => csrf,
        Err(e) => return error_page(auth, e),
    };
    let ctx = context! {
        product => auth.product_name(), csrf, min_length => auth.min_password_length(), ..ctx
    };
    let mut response = render(status, template, ctx);
    if let Some(cookie) = set_pre {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The sign-up form.
#[utoipa::path(get, path = "/signup", tag = "pages",
    responses((status = 200, description = "the sign-up form", content_type = "text/html", body = String)))]
pub async fn signup_page(State(auth): State<AuthState>, headers: HeaderMap) -> Response {
    let ctx = context! { email => "", username => "", errors => Vec::<String>::new() };
    anon_page(&auth, &headers, StatusCode::OK, "signup.html", ctx)
}

/// Create the account (the `user` role; a verification mail goes to the address).
#[utoipa::path(post, path = "/signup", tag = "pages",
    request_body(content = SignupForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "the account is created: check your inbox", content_type = "text/html", body = String),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 409, description = "the username or e-mail is taken: the form again", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "invalid fields or a password the policy refuses: the form again, with the reasons", content_type = "text/html", body = String),
        (status = 429, description = "too many sign-ups from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the server is busy or the database unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn signup_submit(State(auth): State<AuthState>, form: AnonForm<SignupForm>) -> Response {
    let AnonForm {
        form,
        client,
        headers,
        ..
    } = form;
    let username = form
        .username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let again = |status: StatusCode, errors: Vec<String>| {
        let ctx =
            context! { email => form.email.clone(), username => username.unwrap_or(""), errors };
        anon_page(&auth, &headers, status, "signup.html", ctx)
    };
    if form.password != form.confirm_password {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["The two passwords do not match.".to_owned()],
        );
    }
    match auth
        .register(&form.email, form.password.clone(), username, &client)
        .await
    {
        Ok(user) => outcome(
            &auth,
            StatusCode::CREATED,
            "success",
            "Check your inbox",
            &format!(
                "Your account is created. We sent a link to {} to confirm the address; then sign in.",
                user.email
            ),
        ),
        Err(Error::Validation(fields)) => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            fields
                .into_iter()
                .flat_map(|(field, msgs)| {
                    msgs.into_iter()
                        .map(move |m| format!("{}: {m}", label(&field)))
                })
                .collect(),
        ),
        Err(err @ Error::Conflict(_)) => {
            again(StatusCode::CONFLICT, vec![capital(&err.to_string())])
        }
        Err(err @ Error::TooManyRequests { .. }) => {
            let mut page = again(
                StatusCode::TOO_MANY_REQUESTS,
                vec![capital(&err.to_string())],
            );
            if let Some(secs) = err.retry_after() {
                page.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            page
        }
        Err(err) => error_page(&auth, err),
    }
}

fn label(field: &str) -> &str {
    match field {
        "email" => "E-mail address",
        "password" => "Password",
        "username" => "Username",
        other => other,
    }
}

fn capital(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => format!("{}{}.", c.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// The form to ask for a password-reset mail.
#[utoipa::path(get, path = "/forgot-password", tag = "pages",
    responses((status = 200, description = "the form", content_type = "text/html", body = String)))]
pub async fn forgot_password_page(State(auth): State<AuthState>, headers: HeaderMap) -> Response {
    let ctx = context! { email => "", errors => Vec::<String>::new() };
    anon_page(&auth, &headers, StatusCode::OK, "forgot_password.html", ctx)
}

/// Mail a reset link if an account has this address; the answer is the same either way.
#[utoipa::path(post, path = "/forgot-password", tag = "pages",
    request_body(content = ForgotForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the same answer whether or not the address has an account", content_type = "text/html", body = String),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "not an e-mail address: the form again", content_type = "text/html", body = String),
        (status = 429, description = "too many requests from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn forgot_password_submit(
    State(auth): State<AuthState>,
    form: AnonForm<ForgotForm>,
) -> Response {
    let AnonForm {
        form,
        client,
        headers,
        ..
    } = form;
    match auth.forgot_password(&form.email, &client).await {
        Ok(()) => outcome(
            &auth,
            StatusCode::OK,
            "success",
            "Check your inbox",
            "If an account has this address, we sent it a link to choose a new password. Only the newest link works.",
        ),
        Err(Error::Validation(fields)) => {
            let errors: Vec<String> = fields.into_values().flatten().collect();
            let ctx = context! { email => form.email.clone(), errors };
            anon_page(
                &auth,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                "forgot_password.html",
                ctx,
            )
        }
        Err(err) => error_page(&auth, err),
    }
}
