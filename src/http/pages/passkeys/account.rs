//! `/account`'s passkeys: "Add a passkey" (the script's start and finish calls, CSRF token in
//! `X-CSRF-Token`), and rename and remove, plain forms that work without JavaScript. The list
//! itself is rendered by `account`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CsrfHeader, RedirectResponse, json_answer};
use crate::domain::ClientInfo;
use crate::http::json::JsonObject;
use crate::http::pages::account::{client_or_page, form_error};
use crate::http::pages::render::see_other;
use crate::http::pages::session::{PageForm, PageSession};
use crate::http::routes::passkeys::CeremonyResponse;
use crate::service::{AuthState, Error, Result};

/// `POST /account/passkeys/start`.
#[derive(Deserialize, ToSchema)]
pub struct RegisterStartBody {
    /// Required unless this page session passed a second factor (a passkey or TOTP sign-in).
    pub current_password: Option<String>,
}

/// `POST /account/passkeys/finish`.
#[derive(Deserialize, ToSchema)]
pub struct RegisterFinishBody {
    pub ceremony_id: Uuid,
    /// What `navigator.credentials.create` returned, as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: Value,
    /// 1 to 64 characters; default `Passkey`.
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
}

/// Start "Add a passkey" for the signed-in user: the options for `navigator.credentials.create`.
#[utoipa::path(post, path = "/account/passkeys/start", tag = "pages",
    params(("X-CSRF-Token" = String, Header, description = "the account page's CSRF token")),
    request_body = RegisterStartBody,
    responses((status = 200, body = CeremonyResponse),
              (status = 303, description = "no page session: on to /signin"),
              (status = 401, body = crate::http::problem::Problem, description = "the current password is wrong"),
              (status = 403, description = "`csrf_failed` (problem+json; an HTML page for a foreign Origin), or passkeys are off", content(
                  (crate::http::problem::Problem = "application/problem+json"), (String = "text/html"))),
              (status = 422, body = crate::http::problem::Problem, description = "`current_password` missing, or the account has 20 passkeys"),
              (status = 429, body = crate::http::problem::Problem, description = "too many password attempts; see Retry-After",
                  headers(("Retry-After" = u64, description = "seconds to wait before retrying")))))]
pub async fn register_start(
    State(auth): State<AuthState>,
    csrf: CsrfHeader,
    client: ClientInfo,
    session: PageSession,
    JsonObject(body): JsonObject<RegisterStartBody>,
) -> Result<Response> {
    auth.check_csrf(session.session, Some(&csrf.0))?;
    let ceremony = auth
        .begin_passkey_registration(&session.user, body.current_password.as_deref(), &client)
        .await?;
    Ok(json_answer(
        StatusCode::OK,
        CeremonyResponse::from(ceremony),
    ))
}

/// Finish "Add a passkey": it is stored under its name and the page goes back to `/account`.
#[utoipa::path(post, path = "/account/passkeys/finish", tag = "pages",
    params(("X-CSRF-Token" = String, Header, description = "the account page's CSRF token")),
    request_body = RegisterFinishBody,
    responses((status = 201, body = RedirectResponse, description = "added"),
              (status = 303, description = "no page session: on to /signin"),
              (status = 400, body = crate::http::problem::Problem, description = "`credential` is not a WebAuthn registration response"),
              (status = 401, body = crate::http::problem::Problem, description = "`invalid_passkey`: the ceremony is unknown, used, expired or another session's, or the credential does not verify"),
              (status = 403, description = "`csrf_failed` (problem+json; an HTML page for a foreign Origin), or passkeys are off", content(
                  (crate::http::problem::Problem = "application/problem+json"), (String = "text/html"))),
              (status = 409, body = crate::http::problem::Problem, description = "this passkey is registered already"),
              (status = 422, body = crate::http::problem::Problem, description = "a bad name, or the account has 20 passkeys")))]
pub async fn register_finish(
    State(auth): State<AuthState>,
    csrf: CsrfHeader,
    client: ClientInfo,
    session: PageSession,
    JsonObject(body): JsonObject<RegisterFinishBody>,
) -> Result<Response> {
    auth.check_csrf(session.session, Some(&csrf.0))?;
    auth.finish_passkey_registration(
        session.user.id,
        session.session,
        body.ceremony_id,
        &body.credential,
        body.name.as_deref(),
        &client,
    )
    .await?;
    let body = RedirectResponse {
        redirect: "/account?done=passkey_added#passkeys".to_owned(),
    };
    Ok(json_answer(StatusCode::CREATED, body))
}

/// The rename form of one passkey.
#[derive(Deserialize, ToSchema)]
pub struct RenameForm {
    /// The passkey's id.
    passkey_id: String,
    /// 1 to 64 characters.
    name: String,
}

/// Rename one of the user's passkeys.
#[utoipa::path(post, path = "/account/passkeys/rename", tag = "pages",
    request_body(content = RenameForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "renamed: back to /account (or no session: on to /signin)"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 404, description = "no such passkey of yours", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "a bad name (empty, over 64 characters, control characters)", content_type = "text/html", body = String),
        (status = 429, description = "too many session refreshes from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn rename(State(auth): State<AuthState>, form: PageForm<RenameForm>) -> Response {
    let PageForm { session, form } = form;
    let Ok(id) = Uuid::try_parse(form.passkey_id.trim()) else {
        return form_error(&auth, &session, "passkeys", Error::NotFound("passkey")).await;
    };
    match auth.rename_passkey(session.user.id, id, &form.name).await {
        Ok(_) => see_other("/account?done=passkey_renamed#passkeys"),
        Err(e) => form_error(&auth, &session, "passkeys", e).await,
    }
}

/// The remove form of one passkey.
#[derive(Deserialize, ToSchema)]
pub struct RemoveForm {
    /// The passkey's id.
    passkey_id: String,
}

/// Remove one of the user's passkeys (sessions it opened stay; end them under Devices).
#[utoipa::path(post, path = "/account/passkeys/remove", tag = "pages",
    request_body(content = RemoveForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "removed: back to /account (or no session: on to /signin)"),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "`csrf_failed`", content_type = "text/html", body = String),
        (status = 404, description = "no such passkey of yours", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 429, description = "too many session refreshes from this address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn remove(
    State(auth): State<AuthState>,
    client: std::result::Result<ClientInfo, Error>,
    form: PageForm<RemoveForm>,
) -> Response {
    let client = match client_or_page(&auth, client) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let PageForm { session, form } = form;
    let Ok(id) = Uuid::try_parse(form.passkey_id.trim()) else {
        return form_error(&auth, &session, "passkeys", Error::NotFound("passkey")).await;
    };
    match auth.delete_passkey(session.user.id, id, &client).await {
        Ok(()) => see_other("/account?done=passkey_removed#passkeys"),
        Err(e) => form_error(&auth, &session, "passkeys", e).await,
    }
}
