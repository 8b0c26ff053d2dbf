//! The account-recovery endpoints (tag `auth`, and `users` for the e-mail change): password
//! reset, e-mail verification, e-mail change. Each request for a mail is answered 202 at once
//! with the same body whatever the account; the mail follows from the outbox.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::domain::ClientInfo;
use crate::http::dto::{AcceptedResponse, ChangeEmailRequest, EmailRequest};
use crate::http::dto::{ResetPasswordRequest, UserBody, VerifyEmailRequest};
use crate::http::json::JsonObject;
use crate::http::problem::Problem;
use crate::service::{AuthState, CurrentUser, Result};

type Accepted = (StatusCode, Json<AcceptedResponse>);

fn accepted() -> Accepted {
    (StatusCode::ACCEPTED, Json(AcceptedResponse::ACCEPTED))
}

/// Ask for a password reset link.
///
/// Always 202 with the same body, as fast for an unknown or deactivated address as for a real
/// one; an active account gets at most one mail a minute. **Required role:** none.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = EmailRequest,
    responses((status = 202, body = AcceptedResponse), (status = 422, body = Problem, description = "not an e-mail address"),
              (status = 429, body = Problem, description = "too many requests from this client; see Retry-After")))]
pub async fn forgot_password(
    State(auth): State<AuthState>,
    client: ClientInfo,
    JsonObject(req): JsonObject<EmailRequest>,
) -> Result<Accepted> {
    auth.forgot_password(&req.email, &client).await?;
    Ok(accepted())
}

/// Set a new password with the token of a reset link.
///
/// Ends every session of the account, lifts its lockout and voids its other reset links.
/// **Required role:** none.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 204), (status = 400, body = Problem, description = "`invalid_token`: the link is invalid, used or expired"),
              (status = 422, body = Problem, description = "the new password does not meet the policy")))]
pub async fn reset_password(
    State(auth): State<AuthState>,
    client: ClientInfo,
    JsonObject(req): JsonObject<ResetPasswordRequest>,
) -> Result<StatusCode> {
    auth.reset_password(&req.token, &req.new_password, client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for a new verification link.
///
/// Always 202, as for a password reset; only an active, unverified account gets a mail.
/// **Required role:** none.
#[utoipa::path(post, path = "/auth/verify-email/request", tag = "auth", request_body = EmailRequest,
    responses((status = 202, body = AcceptedResponse), (status = 422, body = Problem, description = "not an e-mail address"),
              (status = 429, body = Problem, description = "too many requests from this client; see Retry-After")))]
pub async fn request_verification(
    State(auth): State<AuthState>,
    client: ClientInfo,
    JsonObject(req): JsonObject<EmailRequest>,
) -> Result<Accepted> {
    auth.request_verification(&req.email, &client).await?;
    Ok(accepted())
}

/// Confirm an address with the token of a verification or e-mail change link.
///
/// **Required role:** none.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = VerifyEmailRequest,
    responses((status = 200, body = UserBody), (status = 400, body = Problem, description = "`invalid_token`: the link is invalid, used or expired"),
              (status = 409, body = Problem, description = "another account took the new address meanwhile")))]
pub async fn verify_email(
    State(auth): State<AuthState>,
    client: ClientInfo,
    JsonObject(req): JsonObject<VerifyEmailRequest>,
) -> Result<Json<UserBody>> {
    Ok(Json(auth.verify_email(&req.token, client).await?.into()))
}

/// Change the caller's e-mail address.
///
/// Needs the current password (counted like a login). A link goes to the new address and a
/// notice to the current one; the address changes only when the link is used.
/// **Required role:** any signed-in user.
#[utoipa::path(post, path = "/users/me/email", tag = "users", security(("oauth2" = []), ("bearer" = [])), request_body = ChangeEmailRequest,
    responses((status = 202, body = AcceptedResponse), (status = 401, body = Problem, description = "wrong current password"),
              (status = 422, body = Problem, description = "not an e-mail address, or the current one"),
              (status = 429, body = Problem, description = "rate limit or account lock; see Retry-After")))]
pub async fn change_email(
    State(auth): State<AuthState>,
    user: CurrentUser,
    client: ClientInfo,
    JsonObject(req): JsonObject<ChangeEmailRequest>,
) -> Result<Accepted> {
    auth.change_email(user.id, &req.new_email, &req.current_password, client)
        .await?;
    Ok(accepted())
}
