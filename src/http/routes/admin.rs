//! `/admin/*`: user and role management. Admins may do everything here; moderators may list and
//! view users and (de)activate users who are not admins.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use uuid::Uuid;

use crate::domain::Actor;
use crate::domain::ClientInfo;
use crate::http::dto::{AcceptedResponse, UserBody};
use crate::http::dto::{
    AdminUserPatch, AuditEntry, AuditListQuery, AuditPage, RoleList, RoleResponse, UserListQuery,
    UserPage,
};
use crate::http::extract::{Admin, Moderator, RequireRole};
use crate::http::json::JsonObject;
use crate::http::problem::Problem;
use crate::service::AuthState;
use crate::service::CurrentUser;
use crate::service::EventKind;
use crate::service::UserChanges;
use crate::service::{AuditQuery, UserQuery};
use crate::service::{Error, Result};

/// A query of the wrong type is a problem+json 422 like any other bad field, not axum's plain text.
fn query_or_422<T>(query: std::result::Result<Query<T>, QueryRejection>) -> Result<Query<T>> {
    query.map_err(|e| Error::field("query", e.body_text()))
}

/// The page size asked for (`default` if none), between 1 and `max`.
fn page_limit(asked: Option<i64>, default: i64, max: i64) -> Result<i64> {
    let limit = asked.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(Error::field(
            "limit",
            format!("must be between 1 and {max}"),
        ));
    }
    Ok(limit)
}

/// A unix time or a log position: never negative.
fn non_negative(field: &str, value: Option<i64>) -> Result<Option<i64>> {
    match value {
        Some(v) if v < 0 => Err(Error::field(field, "must be 0 or more")),
        v => Ok(v),
    }
}

fn actor(user: &CurrentUser, client: ClientInfo) -> Actor {
    Actor {
        id: Some(user.id),
        is_admin: user.has_role("admin"),
        client,
    }
}

fn user_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| Error::NotFound("user"))
}

/// List users, cursor-paginated by id. **Required role:** moderator or admin.
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("oauth2" = []), ("bearer" = [])), params(UserListQuery),
    responses((status = 200, body = UserPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_users(
    State(auth): State<AuthState>,
    _: RequireRole<Moderator>,
    query: std::result::Result<Query<UserListQuery>, QueryRejection>,
) -> Result<Json<UserPage>> {
    let Query(q) = query_or_422(query)?;
    let limit = page_limit(q.limit, 50, 100)?;
    let after = match q.after.as_deref() {
        Some(a) => Some(
            Uuid::parse_str(a)
                .map_err(|_| Error::field("after", "not a cursor returned by this endpoint"))?,
        ),
        None => None,
    };
    if q.q
        .as_deref()
        .is_some_and(|q| q.chars().any(char::is_control))
    {
        return Err(Error::field("q", "must not contain control characters"));
    }
    let query = UserQuery {
        limit: limit + 1,
        after,
        q: q.q.filter(|s| !s.is_empty()),
        role: q.role.filter(|s| !s.is_empty()),
        active: q.active,
    };
    let mut items = auth.list_users(&query).await?;
    let next = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|u| u.id.to_string())
    } else {
        None
    };
    let items = items.into_iter().map(UserBody::from).collect();
    Ok(Json(UserPage { items, next }))
}

/// One user. **Required role:** moderator or admin.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = UserBody), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    State(auth): State<AuthState>,
    _: RequireRole<Moderator>,
    Path(id): Path<String>,
) -> Result<Json<UserBody>> {
    Ok(Json(auth.user(user_id(&id)?).await?.into()))
}

/// Change roles (admins only) or activation. Takes effect on the user's next request.
/// **Required role:** admin; moderator for `is_active` of non-admins.
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AdminUserPatch,
    responses((status = 200, body = UserBody),
              (status = 403, body = Problem, description = "not an admin (roles), or a moderator acting on an admin"),
              (status = 404, body = Problem),
              (status = 409, body = Problem, description = "`last_admin`: the change would leave no active admin"),
              (status = 422, body = Problem, description = "an unknown role, or deactivating yourself")))]
pub async fn update_user(
    State(auth): State<AuthState>,
    actor: RequireRole<Moderator>,
    client: ClientInfo,
    Path(id): Path<String>,
    JsonObject(patch): JsonObject<AdminUserPatch>,
) -> Result<Json<UserBody>> {
    let id = user_id(&id)?;
    if id == actor.id && patch.is_active == Some(false) {
        return Err(Error::field("is_active", "you cannot deactivate yourself"));
    }
    let changes = UserChanges {
        roles: patch.roles,
        is_active: patch.is_active,
    };
    let user = auth
        .update_user(id, changes, &self::actor(&actor, client))
        .await?;
    Ok(Json(user.into()))
}

/// Delete a user and end all their sessions. **Required role:** admin.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`last_admin`: the user is the last active admin"),
        (status = 422, body = Problem, description = "deleting yourself")))]
pub async fn delete_user(
    State(auth): State<AuthState>,
    actor: RequireRole<Admin>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = user_id(&id)?;
    if id == actor.id {
        return Err(Error::field("id", "you cannot delete yourself"));
    }
    auth.delete_user(id, &self::actor(&actor, client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift an account lock after failed logins and forget the failures. **Required role:** admin.
#[utoipa::path(post, path = "/admin/users/{id}/unlock", tag = "admin", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn unlock_user(
    State(auth): State<AuthState>,
    actor: RequireRole<Admin>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    auth.unlock_user(user_id(&id)?, &self::actor(&actor, client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a user's second factor (TOTP and recovery codes), for someone who lost both device
/// and codes, and end all their sessions; the user is mailed. A user without one answers the
/// same. A password reset never does this. **Required role:** admin.
#[utoipa::path(delete, path = "/admin/users/{id}/mfa", tag = "admin", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem, description = "your own id: use DELETE /users/me/mfa/totp")))]
pub async fn reset_mfa(
    State(auth): State<AuthState>,
    actor: RequireRole<Admin>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = user_id(&id)?;
    if id == actor.id {
        // It would end the admin's own session; their own factor goes through
        // DELETE /users/me/mfa/totp (password and code), like anyone's.
        return Err(Error::field(
            "id",
            "you cannot reset your own second factor here; use DELETE /users/me/mfa/totp",
        ));
    }
    auth.reset_mfa(id, &self::actor(&actor, client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mail the user a password reset link (it voids their older ones). **Required role:** admin.
#[utoipa::path(post, path = "/admin/users/{id}/send-reset", tag = "admin", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 202, body = AcceptedResponse), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn send_reset(
    State(auth): State<AuthState>,
    actor: RequireRole<Admin>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<AcceptedResponse>)> {
    auth.send_reset(user_id(&id)?, &self::actor(&actor, client))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(AcceptedResponse::ACCEPTED)))
}

/// The audit log of security events (logins, failures, locks, refresh-token reuse, logouts,
/// password and role changes, deactivations), oldest first. **Required role:** admin.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("oauth2" = []), ("bearer" = [])), params(AuditListQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn audit_log(
    State(auth): State<AuthState>,
    _: RequireRole<Admin>,
    query: std::result::Result<Query<AuditListQuery>, QueryRejection>,
) -> Result<Json<AuditPage>> {
    let Query(q) = query_or_422(query)?;
    let limit = page_limit(q.limit, 100, 500)?;
    let user_id = match q.user.as_deref() {
        Some(u) => Some(Uuid::parse_str(u).map_err(|_| Error::field("user", "not a user id"))?),
        None => None,
    };
    let event = match q.kind.as_deref() {
        Some(k) => Some(EventKind::parse(k).ok_or_else(|| {
            let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            Error::field(
                "type",
                format!("unknown event type; one of {}", known.join(", ")),
            )
        })?),
        None => None,
    };
    let query = AuditQuery {
        limit: limit + 1,
        user_id,
        event: event.map(|e| e.as_str().to_owned()),
        since: non_negative("since", q.since)?,
        after_seq: non_negative("after", q.after)?,
    };
    let mut records = auth.audit_log(&query).await?;
    let next = if records.len() as i64 > limit {
        records.truncate(limit as usize);
        records.last().map(|r| r.seq)
    } else {
        None
    };
    let items = records
        .into_iter()
        .map(|r| AuditEntry {
            seq: r.seq,
            at: r.event.at,
            kind: r.event.event,
            user_id: r.event.user_id,
            actor_id: r.event.actor_id,
            ip: r.event.ip,
            user_agent: r.event.user_agent,
            detail: r.event.detail,
        })
        .collect();
    Ok(Json(AuditPage { items, next }))
}

/// All roles. **Required role:** admin.
#[utoipa::path(get, path = "/admin/roles", tag = "admin", security(("oauth2" = []), ("bearer" = [])),
    responses((status = 200, body = RoleList), (status = 403, body = Problem)))]
pub async fn list_roles(
    State(auth): State<AuthState>,
    _: RequireRole<Admin>,
) -> Result<Json<RoleList>> {
    Ok(Json(RoleList {
        items: auth
            .roles()
            .await?
            .into_iter()
            .map(RoleResponse::from)
            .collect(),
    }))
}

/// Create a role. **Required role:** admin.
#[utoipa::path(post, path = "/admin/roles", tag = "admin", security(("oauth2" = []), ("bearer" = [])), request_body = RoleResponse,
    responses((status = 201, body = RoleResponse), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_role(
    State(auth): State<AuthState>,
    _: RequireRole<Admin>,
    JsonObject(req): JsonObject<RoleResponse>,
) -> Result<(StatusCode, Json<RoleResponse>)> {
    let role = auth.create_role(&req.name, &req.description).await?;
    Ok((StatusCode::CREATED, Json(role.into())))
}
