//! The admin console at `/admin`: server-rendered pages for moderators and admins over the very
//! handlers' logic of the JSON admin API (`crate::http::routes::admin`): the same query parsing,
//! the same service methods with the same [`Actor`], and the same role guards (the
//! [`RoleMarker`]s of the JSON routes), so a moderator can do here exactly what the API lets
//! them do. Every POST checks the page session's CSRF token and the `Origin` header, then
//! answers 303 back to the page (post/redirect/get).
//!
//! - `GET /admin`: the users table (search, role and status filters, keyset pages);
//! - `GET /admin/console/users/{id}`: a user, their sessions and the actions the caller may take;
//! - `POST /admin/console/users/{id}/{active,roles,unlock,reset-mfa,send-reset}` and
//!   `POST /admin/console/users/{id}/sessions/{session}/revoke`;
//! - `GET /admin/console/audit`: the audit log with filters (type, user, time range).

mod view;

use std::collections::HashMap;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::{ClientInfo, role};
use crate::http::dto::{AuditListQuery, UserListQuery};
use crate::http::routes::admin as api;
use crate::http::{Admin, Moderator, RoleMarker};
use crate::service::{AuthState, CurrentUser, Error, EventKind, Result, User, UserChanges};

use crate::http::pages::session::PageSession;

/// The console's routes, documented under the `pages` tag.
pub(crate) fn routes<S>() -> OpenApiRouter<S>
where
    AuthState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    OpenApiRouter::new()
        .routes(routes!(users_table))
        .routes(routes!(user_page))
        .routes(routes!(set_active))
        .routes(routes!(set_roles))
        .routes(routes!(unlock))
        .routes(routes!(reset_mfa))
        .routes(routes!(send_reset))
        .routes(routes!(revoke_session))
        .routes(routes!(audit_page))
}

/// Does `user` pass the role guard `R` of the matching JSON route?
fn may<R: RoleMarker>(user: &CurrentUser) -> bool {
    user.has_any_role(R::ANY_OF)
}

/// What the caller may do on a user's page: each flag is the guard of the JSON route that does
/// the same (`Moderator` for `PATCH /admin/users/{id}` `is_active`, `Admin` for the rest), and
/// the service's own rule that a moderator does not touch admins.
#[derive(Serialize)]
struct Can {
    set_active: bool,
    roles: bool,
    unlock: bool,
    reset_mfa: bool,
    send_reset: bool,
    sessions: bool,
    audit: bool,
}

impl Can {
    fn on(caller: &CurrentUser, target: &User) -> Self {
        let admin = may::<Admin>(caller);
        let target_is_admin = target.roles.iter().any(|r| r == role::ADMIN);
        Self {
            set_active: may::<Moderator>(caller) && (admin || !target_is_admin),
            roles: admin,
            unlock: admin,
            reset_mfa: admin && caller.id != target.id,
            send_reset: admin,
            sessions: admin,
            audit: admin,
        }
    }
}

/// The navigation's context: where we are, who is signed in, which links they may follow.
fn nav(session: &PageSession, here: &str) -> Value {
    let role = if may::<Admin>(&session.user) {
        "admin"
    } else if may::<Moderator>(&session.user) {
        "moderator"
    } else {
        ""
    };
    context! {
        here,
        who => session.user.claims.email.clone(),
        role,
        audit => may::<Admin>(&session.user),
    }
}

/// A 403 page for a caller without the role the page needs.
fn forbidden(auth: &AuthState, session: &PageSession, why: &'static str) -> Response {
    view::error_page(auth, session, nav(session, ""), Error::Forbidden(why))
}

/// The query string of `pairs`, the empty ones left out.
fn query_string(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(
        pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The users table

/// The users table's filters, as its form sends them (empty fields mean "any").
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ConsoleUsersQuery {
    /// Substring of e-mail or username.
    #[param(required = false)]
    q: Option<String>,
    /// Users with this role.
    #[param(required = false)]
    role: Option<String>,
    /// `true` (active), `false` (deactivated) or empty (any).
    #[param(required = false)]
    active: Option<String>,
    /// The next-page cursor of the previous page.
    #[param(required = false)]
    after: Option<String>,
    /// Users a page, 1 to 100 (default 50).
    #[param(required = false)]
    limit: Option<String>,
}

/// The users table: search, role and status filters, 50 users a page in sign-up order, pages
/// by cursor. **Required role:** moderator or admin.
#[utoipa::path(get, path = "/admin", tag = "pages", params(ConsoleUsersQuery),
    responses(
        (status = 200, description = "the users table", content_type = "text/html", body = String),
        (status = 303, description = "not signed in: to `/signin?return_to=…`", headers(("Location" = String))),
        (status = 400, description = "an unreadable query", content_type = "text/html", body = String),
        (status = 403, description = "neither moderator nor admin", content_type = "text/html", body = String),
        (status = 422, description = "a filter or cursor out of shape; the table's form again, with the reason", content_type = "text/html", body = String),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn users_table(
    State(auth): State<AuthState>,
    session: PageSession,
    query: std::result::Result<Query<ConsoleUsersQuery>, QueryRejection>,
) -> Response {
    if !may::<Moderator>(&session.user) {
        return forbidden(&auth, &session, "the console is for moderators and admins");
    }
    let Ok(Query(filters)) = query else {
        return view::error_page(
            &auth,
            &session,
            nav(&session, "users"),
            Error::BadRequest("the filters could not be read; use the form".into()),
        );
    };
    let roles: Vec<String> = if may::<Admin>(&session.user) {
        match auth.roles().await {
            Ok(roles) => roles.into_iter().map(|r| r.name).collect(),
            Err(e) => return view::error_page(&auth, &session, nav(&session, "users"), e),
        }
    } else {
        Vec::new()
    };
    let shown = context! {
        q => filters.q.clone().unwrap_or_default(),
        role => filters.role.clone().unwrap_or_default(),
        active => filters.active.clone().unwrap_or_default(),
    };
    let page = async {
        let active = match filters.active.as_deref() {
            None | Some("") => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(Error::field("active", "choose active, deactivated or any")),
        };
        let limit = match filters.limit.as_deref() {
            None | Some("") => None,
            Some(l) => Some(
                l.parse::<i64>()
                    .map_err(|_| Error::field("limit", "must be between 1 and 100"))?,
            ),
        };
        let (query, limit) = api::user_query(UserListQuery {
            limit,
            after: filters.after.clone(),
            q: filters.q.clone(),
            role: filters.role.clone(),
            active,
        })?;
        api::users_page(&auth, &query, limit).await
    }
    .await;
    let (users, next, status, error) = match page {
        Ok((users, next)) => (
            users.into_iter().map(UserView::from).collect::<Vec<_>>(),
            next,
            StatusCode::OK,
            None,
        ),
        Err(e @ (Error::Validation(_) | Error::BadRequest(_))) => {
            let message = match &e {
                Error::Validation(fields) => fields
                    .values()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            (
                Vec::new(),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
            )
        }
        Err(e) => return view::error_page(&auth, &session, nav(&session, "users"), e),
    };
    let q = filters.q.as_deref().unwrap_or_default();
    let role = filters.role.as_deref().unwrap_or_default();
    let active = filters.active.as_deref().unwrap_or_default();
    let per_page = filters.limit.as_deref().unwrap_or_default();
    let next = next.map(|after| {
        format!(
            "/admin?{}",
            query_string(&[
                ("q", q),
                ("role", role),
                ("active", active),
                ("limit", per_page),
                ("after", &after)
            ])
        )
    });
    let first = filters.after.as_deref().filter(|a| !a.is_empty()).map(|_| {
        format!(
            "/admin?{}",
            query_string(&[
                ("q", q),
                ("role", role),
                ("active", active),
                ("limit", per_page)
            ])
        )
    });
    view::render(
        &auth,
        &session,
        status,
        "admin/users.html",
        context! {
            nav => nav(&session, "users"),
            users, next, first, roles, error,
            filters => shown,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// A user's page

/// Why the page was reloaded after an action (`?done=`), in fixed words.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DoneQuery {
    /// The action just done: `activated`, `deactivated`, `roles`, `unlocked`, `mfa-reset`,
    /// `reset-sent` or `revoked`.
    #[param(required = false)]
    done: Option<String>,
}

fn done_message(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "activated" => "The account is active again.",
        "deactivated" => "The account is deactivated and all its sessions have ended.",
        "roles" => "The roles are saved; they apply from the user's next request.",
        "unlocked" => "Sign-in is unlocked and the failed attempts are forgotten.",
        "mfa-reset" => "Two-factor is reset and the user's sessions have ended; they were mailed.",
        "reset-sent" => "A password reset link is on its way to the user.",
        "revoked" => "The session is revoked.",
        _ => return None,
    })
}

/// A user: details, the actions the caller may take, their sessions (admins). **Required
/// role:** moderator or admin.
#[utoipa::path(get, path = "/admin/console/users/{id}", tag = "pages",
    params(("id" = Uuid, Path), DoneQuery),
    responses(
        (status = 200, description = "the user's page", content_type = "text/html", body = String),
        (status = 303, description = "not signed in: to `/signin?return_to=…`", headers(("Location" = String))),
        (status = 403, description = "neither moderator nor admin", content_type = "text/html", body = String),
        (status = 404, description = "no such user", content_type = "text/html", body = String),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn user_page(
    State(auth): State<AuthState>,
    session: PageSession,
    Path(id): Path<String>,
    done: std::result::Result<Query<DoneQuery>, QueryRejection>,
) -> Response {
    if !may::<Moderator>(&session.user) {
        return forbidden(&auth, &session, "the console is for moderators and admins");
    }
    let done = done.ok().and_then(|Query(d)| d.done);
    match show_user(&auth, &session, &id, done.as_deref()).await {
        Ok(response) => response,
        Err(e) => view::error_page(&auth, &session, nav(&session, "users"), e),
    }
}

/// A user as the console shows them (times in words).
#[derive(Serialize)]
struct UserView {
    id: Uuid,
    email: String,
    username: Option<String>,
    roles: Vec<String>,
    is_active: bool,
    email_verified: bool,
    created_at: String,
    last_login_at: String,
    last_activity_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            roles: u.roles,
            is_active: u.is_active,
            email_verified: u.email_verified,
            created_at: view::when(Some(u.created_at)),
            last_login_at: view::when(u.last_login_at),
            last_activity_at: view::when(u.last_activity_at),
        }
    }
}

#[derive(Serialize)]
struct SessionRow {
    id: Uuid,
    created_at: String,
    last_used_at: String,
    ip: Option<String>,
    user_agent: Option<String>,
    current: bool,
}

async fn show_user(
    auth: &AuthState,
    session: &PageSession,
    id: &str,
    done: Option<&str>,
) -> Result<Response> {
    let id = api::user_id(id)?;
    let user = auth.user(id).await?;
    let can = Can::on(&session.user, &user);
    let (sessions, mfa, all_roles) = if may::<Admin>(&session.user) {
        let sessions: Vec<SessionRow> = auth
            .user_sessions(id)
            .await?
            .into_iter()
            .map(|s| SessionRow {
                current: s.id == session.session,
                id: s.id,
                created_at: view::when(Some(s.created_at)),
                last_used_at: view::when(Some(s.last_used_at)),
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect();
        let mfa = auth.mfa_status(id).await?.totp;
        let roles: Vec<String> = auth.roles().await?.into_iter().map(|r| r.name).collect();
        (sessions, Some(mfa), roles)
    } else {
        (Vec::new(), None, Vec::new())
    };
    Ok(view::render(
        auth,
        session,
        StatusCode::OK,
        "admin/user.html",
        context! {
            nav => nav(session, "users"),
            user => UserView::from(user), can, sessions, mfa, all_roles,
            csrf => session.csrf.clone(),
            done => done_message(done),
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// The actions

/// Every console form: its CSRF token and the action's own fields.
#[derive(ToSchema)]
pub struct ActionForm {
    /// The page session's CSRF token, from the form's hidden input.
    #[allow(dead_code)]
    csrf_token: String,
}

/// `POST /admin/console/users/{id}/active`: the account's new state.
#[derive(ToSchema)]
pub struct ActiveForm {
    /// The page session's CSRF token.
    #[allow(dead_code)]
    csrf_token: String,
    /// `true` to activate, `false` to deactivate.
    #[allow(dead_code)]
    is_active: bool,
}

/// `POST /admin/console/users/{id}/roles`: the complete new set of roles (`roles` repeated).
#[derive(ToSchema)]
pub struct RolesForm {
    /// The page session's CSRF token.
    #[allow(dead_code)]
    csrf_token: String,
    /// Each role the user is to have.
    #[allow(dead_code)]
    roles: Vec<String>,
}

type RawForm = std::result::Result<Form<Vec<(String, String)>>, FormRejection>;

/// The checks every console POST passes before it does anything (after the page session's own:
/// a same-origin `Origin` when one is sent): a readable form, the session's CSRF token, the role
/// to use the console. The form's
/// fields on success, the page to answer otherwise.
fn accept_post(
    auth: &AuthState,
    session: &PageSession,
    form: RawForm,
) -> std::result::Result<Vec<(String, String)>, Box<Response>> {
    // A foreign `Origin` was refused already by the page session's extractor (403 csrf_failed).
    let refuse = |e| Box::new(view::error_page(auth, session, nav(session, "users"), e));
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(rejection) => {
            let err = match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
                StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::UnsupportedMediaType(
                    "the form must be application/x-www-form-urlencoded".into(),
                ),
                _ => {
                    Error::BadRequest("the form could not be read; submit it from its page".into())
                }
            };
            return Err(refuse(err));
        }
    };
    let token = fields
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.as_str());
    auth.check_csrf(session.session, token).map_err(|e| {
        refuse(match e {
            Error::CsrfFailed(_) if token.is_none() => {
                Error::CsrfFailed("the form has no CSRF token; reload the page and submit it again")
            }
            other => other,
        })
    })?;
    if !may::<Moderator>(&session.user) {
        return Err(refuse(Error::Forbidden(
            "the console is for moderators and admins",
        )));
    }
    Ok(fields)
}

/// 303 back to the user's page, saying what was done.
fn back_to_user(id: Uuid, done: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let location = format!("/admin/console/users/{id}?done={done}");
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Run an action after [`accept_post`], answering its 303 or its error page.
async fn act<F, Fut>(auth: &AuthState, session: &PageSession, form: RawForm, action: F) -> Response
where
    F: FnOnce(Vec<(String, String)>) -> Fut,
    Fut: Future<Output = Result<Response>>,
{
    let fields = match accept_post(auth, session, form) {
        Ok(fields) => fields,
        Err(page) => return *page,
    };
    match action(fields).await {
        Ok(response) => response,
        Err(e) => view::error_page(auth, session, nav(session, "users"), e),
    }
}

/// The guard of the JSON route `R` for this action, as the API words its refusal.
fn require<R: RoleMarker>(user: &CurrentUser) -> Result<()> {
    if may::<R>(user) {
        Ok(())
    } else {
        Err(Error::Forbidden("you do not have the role this needs"))
    }
}

/// Activate or deactivate a user (what `PATCH /admin/users/{id}` `is_active` does; a
/// deactivated user's sessions end at once). **Required role:** moderator (not on admins) or
/// admin.
#[utoipa::path(post, path = "/admin/console/users/{id}/active", tag = "pages",
    params(("id" = Uuid, Path)),
    request_body(content = ActiveForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "done: back to the user's page; or not signed in: to `/signin?return_to=…`", headers(("Location" = String))),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "no CSRF token or a wrong one, another site's `Origin` (`csrf_failed`), or a role that may not do this (`forbidden`)", content_type = "text/html", body = String),
        (status = 404, description = "no such user", content_type = "text/html", body = String),
        (status = 409, description = "`last_admin`: it would leave no active admin", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "`is_active` missing or not true/false, or deactivating yourself", content_type = "text/html", body = String),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn set_active(
    State(auth): State<AuthState>,
    session: PageSession,
    client: ClientInfo,
    Path(id): Path<String>,
    form: RawForm,
) -> Response {
    let (auth, session) = (&auth, &session);
    act(auth, session, form, |fields| async move {
        require::<Moderator>(&session.user)?;
        let id = api::user_id(&id)?;
        let active = match field(&fields, "is_active") {
            Some("true") => true,
            Some("false") => false,
            _ => return Err(Error::field("is_active", "must be true or false")),
        };
        let changes = UserChanges {
            roles: None,
            is_active: Some(active),
        };
        auth.update_user(id, changes, &api::actor(&session.user, client))
            .await?;
        Ok(back_to_user(
            id,
            if active { "activated" } else { "deactivated" },
        ))
    })
    .await
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Set a user's roles (what `PATCH /admin/users/{id}` `roles` does). **Required role:** admin.
#[utoipa::path(post, path = "/admin/console/users/{id}/roles", tag = "pages",
    params(("id" = Uuid, Path)),
    request_body(content = RolesForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "done: back to the user's page; or not signed in: to `/signin?return_to=…`", headers(("Location" = String))),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "no CSRF token or a wrong one, another site's `Origin` (`csrf_failed`), or not an admin (`forbidden`)", content_type = "text/html", body = String),
        (status = 404, description = "no such user", content_type = "text/html", body = String),
        (status = 409, description = "`last_admin`: it would leave no active admin", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "an unknown role", content_type = "text/html", body = String),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn set_roles(
    State(auth): State<AuthState>,
    session: PageSession,
    client: ClientInfo,
    Path(id): Path<String>,
    form: RawForm,
) -> Response {
    let (auth, session) = (&auth, &session);
    act(auth, session, form, |fields| async move {
        require::<Admin>(&session.user)?;
        let id = api::user_id(&id)?;
        let roles: Vec<String> = fields
            .iter()
            .filter(|(k, _)| k == "roles")
            .map(|(_, v)| v.clone())
            .collect();
        let changes = UserChanges {
            roles: Some(roles),
            is_active: None,
        };
        auth.update_user(id, changes, &api::actor(&session.user, client))
            .await?;
        Ok(back_to_user(id, "roles"))
    })
    .await
}

/// Lift a user's sign-in lock (what `POST /admin/users/{id}/unlock` does). **Required role:**
/// admin.
#[utoipa::path(post, path = "/admin/console/users/{id}/unlock", tag = "pages",
    params(("id" = Uuid, Path)),
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "done: back to the user's page; or not signed in: to `/signin?return_to=…`", headers(("Location" = String))),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "no CSRF token or a wrong one, another site's `Origin` (`csrf_failed`), or not an admin (`forbidden`)", content_type = "text/html", body = String),
        (status = 404, description = "no such user", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn unlock(
    State(auth): State<AuthState>,
    session: PageSession,
    client: ClientInfo,
    Path(id): Path<String>,
    form: RawForm,
) -> Response {
    let (auth, session) = (&auth, &session);
    act(auth, session, form, |_| async move {
        require::<Admin>(&session.user)?;
        let id = api::user_id(&id)?;
        auth.unlock_user(id, &api::actor(&session.user, client))
            .await?;
        Ok(back_to_user(id, "unlocked"))
    })
    .await
}

/// Remove a user's second factor and end their sessions (what `DELETE /admin/users/{id}/mfa`
/// does). **Required role:** admin.
#[utoipa::path(post, path = "/admin/console/users/{id}/reset-mfa", tag = "pages",
    params(("id" = Uuid, Path)),
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "done: back to the user's page; or not signed in: to `/signin?return_to=…`", headers(("Location" = String))),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "no CSRF token or a wrong one, another site's `Origin` (`csrf_failed`), or not an admin (`forbidden`)", content_type = "text/html", body = String),
        (status = 404, description = "no such user", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "your own second factor (change it from your account)", content_type = "text/html", body = String),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn reset_mfa(
    State(auth): State<AuthState>,
    session: PageSession,
    client: ClientInfo,
    Path(id): Path<String>,
    form: RawForm,
) -> Response {
    let (auth, session) = (&auth, &session);
    act(auth, session, form, |_| async move {
        require::<Admin>(&session.user)?;
        let id = api::user_id(&id)?;
        api::not_own_mfa(id, &session.user)?;
        auth.reset_mfa(id, &api::actor(&session.user, client))
            .await?;
        Ok(back_to_user(id, "mfa-reset"))
    })
    .await
}

/// Mail a user a password reset link (what `POST /admin/users/{id}/send-reset` does).
/// **Required role:** admin.
#[utoipa::path(post, path = "/admin/console/users/{id}/send-reset", tag = "pages",
    params(("id" = Uuid, Path)),
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "done: back to the user's page; or not signed in: to `/signin?return_to=…`", headers(("Location" = String))),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "no CSRF token or a wrong one, another site's `Origin` (`csrf_failed`), or not an admin (`forbidden`)", content_type = "text/html", body = String),
        (status = 404, description = "no such user", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn send_reset(
    State(auth): State<AuthState>,
    session: PageSession,
    client: ClientInfo,
    Path(id): Path<String>,
    form: RawForm,
) -> Response {
    let (auth, session) = (&auth, &session);
    act(auth, session, form, |_| async move {
        require::<Admin>(&session.user)?;
        let id = api::user_id(&id)?;
        auth.send_reset(id, &api::actor(&session.user, client))
            .await?;
        Ok(back_to_user(id, "reset-sent"))
    })
    .await
}

/// End one of a user's sessions (what `DELETE /admin/users/{id}/sessions/{session}` does).
/// **Required role:** admin.
#[utoipa::path(post, path = "/admin/console/users/{id}/sessions/{session}/revoke", tag = "pages",
    params(("id" = Uuid, Path), ("session" = Uuid, Path)),
    request_body(content = ActionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "done: back to the user's page; or not signed in: to `/signin?return_to=…`", headers(("Location" = String))),
        (status = 400, description = "the form is unreadable", content_type = "text/html", body = String),
        (status = 403, description = "no CSRF token or a wrong one, another site's `Origin` (`csrf_failed`), or not an admin (`forbidden`)", content_type = "text/html", body = String),
        (status = 404, description = "no such user, or the session is not theirs or already ended", content_type = "text/html", body = String),
        (status = 413, description = "the body is larger than AUTHGATE_MAX_BODY_BYTES", content(
            (String = "text/html"), (crate::http::problem::Problem = "application/problem+json"))),
        (status = 415, description = "the form is not `application/x-www-form-urlencoded`", content_type = "text/html", body = String),
        (status = 422, description = "the session you are using (sign out instead)", content_type = "text/html", body = String),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn revoke_session(
    State(auth): State<AuthState>,
    session: PageSession,
    client: ClientInfo,
    Path((id, sid)): Path<(String, String)>,
    form: RawForm,
) -> Response {
    let (auth, session) = (&auth, &session);
    act(auth, session, form, |_| async move {
        require::<Admin>(&session.user)?;
        let id = api::user_id(&id)?;
        let sid = Uuid::parse_str(&sid).map_err(|_| Error::NotFound("session"))?;
        api::not_own_session(sid, &session.user)?;
        auth.revoke_user_session(id, sid, &api::actor(&session.user, client))
            .await?;
        Ok(back_to_user(id, "revoked"))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The audit log

/// The audit page's filters, as its form sends them (empty fields mean "any"; times are UTC,
/// `YYYY-MM-DDTHH:MM` as a `datetime-local` input sends them).
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ConsoleAuditQuery {
    /// An event type.
    #[serde(rename = "type")]
    #[param(required = false, rename = "type")]
    kind: Option<String>,
    /// A user id: events about that user.
    #[param(required = false)]
    user: Option<String>,
    /// Events from this time (UTC), `YYYY-MM-DDTHH:MM`.
    #[param(required = false)]
    since: Option<String>,
    /// Events up to this time (UTC, the whole minute), `YYYY-MM-DDTHH:MM`.
    #[param(required = false)]
    until: Option<String>,
    /// `newest` (default) or `oldest` first.
    #[param(required = false)]
    order: Option<String>,
    /// The next-page cursor of the previous page.
    #[param(required = false)]
    after: Option<String>,
}

/// A `datetime-local` value (UTC) as unix seconds; `end` takes the last second of its minute.
fn parse_time(field: &str, value: Option<&str>, end: bool) -> Result<Option<i64>> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || Error::field(field, "a date and time like 2026-12-02T14:30 (UTC)");
    let (date, clock) = value.split_once('T').ok_or_else(bad)?;
    let mut d = date.splitn(3, '-').map(str::parse::<i32>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(day))) = (d.next(), d.next(), d.next()) else {
        return Err(bad());
    };
    let mut c = clock.splitn(3, ':').map(str::parse::<u8>);
    let (Some(Ok(h)), Some(Ok(min))) = (c.next(), c.next()) else {
        return Err(bad());
    };
    let sec = match c.next() {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => return Err(bad()),
    };
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let day = u8::try_from(day).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(y, month, day).map_err(|_| bad())?;
    let t = time::Time::from_hms(h, min, sec.unwrap_or(0)).map_err(|_| bad())?;
    let secs = time::PrimitiveDateTime::new(date, t)
        .assume_utc()
        .unix_timestamp();
    if secs < 0 {
        return Err(Error::field(field, "must be after 1970"));
    }
    Ok(Some(if end && sec.is_none() {
        secs + 59
    } else {
        secs
    }))
}

#[derive(Serialize)]
struct EventRow {
    seq: i64,
    at: String,
    kind: String,
    user_id: Option<Uuid>,
    user_label: String,
    actor_id: Option<Uuid>,
    actor_label: String,
    ip: Option<String>,
    detail: String,
}

/// The audit log, newest first by default, 50 events a page, with filters by type, user and
/// time range. **Required role:** admin.
#[utoipa::path(get, path = "/admin/console/audit", tag = "pages", params(ConsoleAuditQuery),
    responses(
        (status = 200, description = "the audit log", content_type = "text/html", body = String),
        (status = 303, description = "not signed in: to `/signin?return_to=…`", headers(("Location" = String))),
        (status = 400, description = "an unreadable query", content_type = "text/html", body = String),
        (status = 403, description = "not an admin", content_type = "text/html", body = String),
        (status = 422, description = "a filter out of shape; the form again, with the reason", content_type = "text/html", body = String),
        (status = 503, description = "the database is unreachable", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait before retrying"))),
    ))]
pub async fn audit_page(
    State(auth): State<AuthState>,
    session: PageSession,
    query: std::result::Result<Query<ConsoleAuditQuery>, QueryRejection>,
) -> Response {
    // The guard of GET /admin/audit.
    if !may::<Admin>(&session.user) {
        return forbidden(&auth, &session, "the audit log is for admins");
    }
    let Ok(Query(filters)) = query else {
        return view::error_page(
            &auth,
            &session,
            nav(&session, "audit"),
            Error::BadRequest("the filters could not be read; use the form".into()),
        );
    };
    let order = match filters.order.as_deref() {
        Some("oldest") => "oldest",
        _ => "newest",
    };
    let page = async {
        let after = match filters.after.as_deref().filter(|a| !a.is_empty()) {
            Some(a) => Some(
                a.parse::<i64>()
                    .map_err(|_| Error::field("after", "not a cursor of this page"))?,
            ),
            None => None,
        };
        let (query, limit) = api::audit_query(AuditListQuery {
            user: filters.user.clone().map(|u| u.trim().to_owned()),
            kind: filters.kind.clone(),
            after,
            order: Some(order.to_owned()),
            since: parse_time("since", filters.since.as_deref(), false)?,
            until: parse_time("until", filters.until.as_deref(), true)?,
            limit: Some(50),
        })?;
        let (records, next) = api::audit_page(&auth, &query, limit).await?;
        // Who is who, once per id on the page (an id whose user is gone stays an id).
        let mut labels: HashMap<Uuid, String> = HashMap::new();
        let mut ids: Vec<Uuid> = Vec::new();
        for r in &records {
            ids.extend(r.event.user_id);
            ids.extend(r.event.actor_id);
        }
        for id in ids {
            if let std::collections::hash_map::Entry::Vacant(slot) = labels.entry(id) {
                let label = match auth.user(id).await {
                    Ok(u) => u.email,
                    Err(Error::NotFound(_)) => id.to_string(),
                    Err(e) => return Err(e),
                };
                slot.insert(label);
            }
        }
        let label = |id: Option<Uuid>| {
            id.and_then(|id| labels.get(&id).cloned())
                .unwrap_or_default()
        };
        let rows: Vec<EventRow> = records
            .into_iter()
            .map(|r| EventRow {
                seq: r.seq,
                at: view::when(Some(r.event.at)),
                user_label: label(r.event.user_id),
                actor_label: label(r.event.actor_id),
                kind: r.event.event,
                user_id: r.event.user_id,
                actor_id: r.event.actor_id,
                ip: r.event.ip,
                detail: r.event.detail,
            })
            .collect();
        Ok((rows, next))
    }
    .await;
    let (events, next, status, error) = match page {
        Ok((rows, next)) => (rows, next, StatusCode::OK, None),
        Err(Error::Validation(fields)) => (
            Vec::new(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(
                fields
                    .values()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        Err(e) => return view::error_page(&auth, &session, nav(&session, "audit"), e),
    };
    let kind = filters.kind.as_deref().unwrap_or_default();
    let user = filters.user.as_deref().unwrap_or_default();
    let since = filters.since.as_deref().unwrap_or_default();
    let until = filters.until.as_deref().unwrap_or_default();
    let base = [
        ("type", kind),
        ("user", user),
        ("since", since),
        ("until", until),
        ("order", order),
    ];
    let next = next.map(|after| {
        let after = after.to_string();
        let mut pairs = base.to_vec();
        pairs.push(("after", &after));
        format!("/admin/console/audit?{}", query_string(&pairs))
    });
    let first = filters
        .after
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(|_| format!("/admin/console/audit?{}", query_string(&base)));
    let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    view::render(
        &auth,
        &session,
        status,
        "admin/audit.html",
        context! {
            nav => nav(&session, "audit"),
            events, next, first, kinds, error,
            filters => context! { type => kind, user, since, until, order },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_values_are_read_as_utc() {
        assert_eq!(
            parse_time("since", Some("1970-01-01T00:01"), false).ok(),
            Some(Some(60))
        );
        assert_eq!(
            parse_time("until", Some("1970-01-01T00:01"), true).ok(),
            Some(Some(119))
        );
        assert_eq!(
            parse_time("until", Some("1970-01-01T00:01:30"), true).ok(),
            Some(Some(90))
        );
        assert_eq!(parse_time("since", Some(""), false).ok(), Some(None));
        for bad in [
            "yesterday",
            "2026-13-01T00:00",
            "2026-02-30T00:00",
            "2026-01-01T25:00",
            "1969-12-31T23:59",
        ] {
            assert!(parse_time("since", Some(bad), false).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_known_done_words_are_shown() {
        assert!(done_message(Some("deactivated")).is_some());
        assert!(done_message(Some("<script>")).is_none());
    }
}
