//! `/users/me*`: the caller's own account and devices.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use crate::domain::ClientInfo;
use crate::http::dto::{ChangePasswordRequest, SessionList, SessionResponse, UpdateMeRequest};
use crate::http::dto::{TokenResponse, UserBody};
use crate::http::extract::EnrollingUser;
use crate::http::json::JsonObject;
use crate::http::problem::Problem;
use crate::http::routes::auth::no_store;
use crate::service::AuthState;
use crate::service::CurrentUser;
use crate::service::{Error, Result};

/// The caller's account, with its second factor (`mfa`). **Required role:** any signed-in
/// user (also a restricted token of AUTHGATE_REQUIRE_MFA_ROLES).
#[utoipa::path(get, path = "/users/me", tag = "users", security(("oauth2" = []), ("bearer" = [])),
    responses((status = 200, body = UserBody), (status = 401, body = Problem)))]
pub async fn me(
    State(auth): State<AuthState>,
    EnrollingUser(user): EnrollingUser,
) -> Result<Json<UserBody>> {
    // The extractor checked the session against the revocation list; the profile, and that the
    // session exists at all, come from the database once and then from the cache that every
    // change of the profile clears (`service/profile.rs`).
    let profile = auth.profile(user.id, user.session_id).await?;
    let mut body: UserBody = profile.user.clone().into();
    body.mfa = Some(profile.mfa.into());
    Ok(Json(body))
}

/// Change the caller's username (null removes it). **Required role:** any signed-in user.
#[utoipa::path(patch, path = "/users/me", tag = "users", security(("oauth2" = []), ("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = UserBody), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_me(
    State(auth): State<AuthState>,
    user: CurrentUser,
    JsonObject(req): JsonObject<UpdateMeRequest>,
) -> Result<Json<UserBody>> {
    let username = req.username.ok_or_else(|| {
        Error::field("username", "required: a new username, or null to remove it")
    })?;
    if username.as_deref().is_some_and(|u| u.trim().is_empty()) {
        return Err(Error::field(
            "username",
            "must not be empty: send null to remove the username",
        ));
    }
    Ok(Json(
        auth.set_username(user.id, username.as_deref())
            .await?
            .into(),
    ))
}

/// Change the password. Every session of the caller ends; the response is a fresh token pair
/// for a new session. **Required role:** any signed-in user.
#[utoipa::path(post, path = "/users/me/password", tag = "users", security(("oauth2" = []), ("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem, description = "wrong current password"),
              (status = 422, body = Problem)))]
pub async fn change_password(
    State(auth): State<AuthState>,
    user: CurrentUser,
    client: ClientInfo,
    JsonObject(req): JsonObject<ChangePasswordRequest>,
) -> Result<Response> {
    let tokens = auth
        .change_password_from(
            user.id,
            &req.current_password,
            req.new_password,
            client,
            user.has_second_factor(),
        )
        .await?;
    Ok(no_store(tokens))
}

/// The caller's active sessions (devices). **Required role:** any signed-in user.
#[utoipa::path(get, path = "/users/me/sessions", tag = "users", security(("oauth2" = []), ("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = Problem)))]
pub async fn sessions(
    State(auth): State<AuthState>,
    user: CurrentUser,
) -> Result<Json<SessionList>> {
    let items = auth
        .sessions(user.id, user.session_id)
        .await?
        .into_iter()
        .map(|s| SessionResponse::new(s, user.session_id))
        .collect();
    Ok(Json(SessionList { items }))
}

/// End one of the caller's sessions. **Required role:** any signed-in user (own sessions only).
#[utoipa::path(delete, path = "/users/me/sessions/{id}", tag = "users", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "session id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_session(
    State(auth): State<AuthState>,
    user: CurrentUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::NotFound("session"))?;
    auth.end_session(user.id, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
