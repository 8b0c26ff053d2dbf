//! `/admin/*`: user and role management. Admins may do everything here; moderators may list and
//! view users and (de)activate users who are not admins.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use uuid::Uuid;

use crate::domain::Actor;
use crate::domain::ClientInfo;
use crate::http::dto::{AcceptedResponse, SessionList, SessionResponse, UserBody};
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

/// The acting admin or moderator, as the service's permission checks and the audit log see them.
pub(crate) fn actor(user: &CurrentUser, client: ClientInfo) -> Actor {
    Actor {
        id: Some(user.id),
        is_admin: user.has_role("admin"),
        client,
    }
}

pub(crate) fn user_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| Error::NotFound("user"))
}

/// The store query for a `GET /admin/users` query (the console's users table reads the same),
/// asking one more than the page for the cursor; and the page size.
pub(crate) fn user_query(q: UserListQuery) -> Result<(UserQuery, i64)> {
    let limit = page_limit(q.limit, 50, 100)?;
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
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
    Ok((query, limit))
}

/// One page of users and the cursor of the next (`None` on the last page).
pub(crate) async fn users_page(
    auth: &AuthState,
    query: &UserQuery,
    limit: i64,
) -> Result<(Vec<crate::service::User>, Option<String>)> {
    let mut items = auth.list_users(query).await?;
    let next = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|u| u.id.to_string())
    } else {
        None
    };
    Ok((items, next))
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
    let (query, limit) = user_query(q)?;
    let (items, next) = users_page(&auth, &query, limit).await?;
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
    not_own_mfa(id, &actor)?;
    auth.reset_mfa(id, &self::actor(&actor, client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An admin's own factor goes through DELETE /users/me/mfa/totp (password and code), like
/// anyone's: resetting it here would end their own session.
pub(crate) fn not_own_mfa(id: Uuid, actor: &CurrentUser) -> Result<()> {
    if id == actor.id {
        return Err(Error::field(
            "id",
            "you cannot reset your own second factor here; use DELETE /users/me/mfa/totp",
        ));
    }
    Ok(())
}

/// The session a request is made with is ended by signing out, not from the admin tools.
pub(crate) fn not_own_session(session: Uuid, actor: &CurrentUser) -> Result<()> {
    if session == actor.session_id {
        return Err(Error::field(
            "session",
            "this is the session you are using; sign out instead (POST /auth/logout)",
        ));
    }
    Ok(())
}

/// A user's active sessions, newest first. **Required role:** admin.
#[utoipa::path(get, path = "/admin/users/{id}/sessions", tag = "admin", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = SessionList), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn user_sessions(
    State(auth): State<AuthState>,
    actor: RequireRole<Admin>,
    Path(id): Path<String>,
) -> Result<Json<SessionList>> {
    let sessions = auth.user_sessions(user_id(&id)?).await?;
    let items = sessions
        .into_iter()
        .map(|s| SessionResponse::new(s, actor.session_id))
        .collect();
    Ok(Json(SessionList { items }))
}

/// End one of a user's sessions: its refresh token dies, its access tokens are refused from the
/// next request; audited with the admin as actor. **Required role:** admin.
#[utoipa::path(delete, path = "/admin/users/{id}/sessions/{session}", tag = "admin", security(("oauth2" = []), ("bearer" = [])),
    params(("id" = Uuid, Path), ("session" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem),
              (status = 404, body = Problem, description = "no such user, or the session is not theirs or already ended"),
              (status = 422, body = Problem, description = "the session this request is made with: use POST /auth/logout")))]
pub async fn revoke_user_session(
    State(auth): State<AuthState>,
    actor: RequireRole<Admin>,
    client: ClientInfo,
    Path((id, session)): Path<(String, String)>,
) -> Result<StatusCode> {
    let id = user_id(&id)?;
    let session = Uuid::parse_str(&session).map_err(|_| Error::NotFound("session"))?;
    not_own_session(session, &actor)?;
    auth.revoke_user_session(id, session, &self::actor(&actor, client))
        .await?;
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

/// The store query for a `GET /admin/audit` query (the console's audit page reads the same),
/// asking one more than the page for the cursor; and the page size.
pub(crate) fn audit_query(q: AuditListQuery) -> Result<(AuditQuery, i64)> {
    let limit = page_limit(q.limit, 100, 500)?;
    let user_id = match q.user.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => Some(Uuid::parse_str(u).map_err(|_| Error::field("user", "not a user id"))?),
        None => None,
    };
    let event = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(EventKind::parse(k).ok_or_else(|| {
            let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            Error::field(
                "type",
                format!("unknown event type; one of {}", known.join(", ")),
            )
        })?),
        None => None,
    };
    let since = non_negative("since", q.since)?;
    let until = non_negative("until", q.until)?;
    if let (Some(since), Some(until)) = (since, until)
        && until < since
    {
        return Err(Error::field("until", "must not be before since"));
    }
    let newest_first = match q.order.as_deref() {
        None | Some("" | "oldest") => false,
        Some("newest") => true,
        Some(_) => return Err(Error::field("order", "one of oldest, newest")),
    };
    let query = AuditQuery {
        limit: limit + 1,
        user_id,
        event: event.map(|e| e.as_str().to_owned()),
        since,
        until,
        after_seq: non_negative("after", q.after)?,
        newest_first,
    };
    Ok((query, limit))
}

/// One page of the audit log and the cursor of the next (`None` on the last page).
pub(crate) async fn audit_page(
    auth: &AuthState,
    query: &AuditQuery,
    limit: i64,
) -> Result<(Vec<crate::service::AuditRecord>, Option<i64>)> {
    let mut records = auth.audit_log(query).await?;
    let next = if records.len() as i64 > limit {
        records.truncate(limit as usize);
        records.last().map(|r| r.seq)
    } else {
        None
    };
    Ok((records, next))
}

/// The audit log of security events (logins, failures, locks, refresh-token reuse, logouts,
/// password and role changes, deactivations), oldest first unless `order=newest`. **Required role:** admin.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("oauth2" = []), ("bearer" = [])), params(AuditListQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn audit_log(
    State(auth): State<AuthState>,
    _: RequireRole<Admin>,
    query: std::result::Result<Query<AuditListQuery>, QueryRejection>,
) -> Result<Json<AuditPage>> {
    let Query(q) = query_or_422(query)?;
    let (query, limit) = audit_query(q)?;
    let (records, next) = audit_page(&auth, &query, limit).await?;
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
