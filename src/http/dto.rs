//! Request and response bodies of the HTTP API, with their OpenAPI schemas.
//! Request types do not derive `Debug`: they carry passwords and tokens.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::service::{EventKind, RoleRecord, SessionRecord, TokenPair, User};

/// A user as the API shows them (never the hash); `User` in the OpenAPI document.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[schema(as = User)]
pub struct UserBody {
    pub id: Uuid,
    pub email: String,
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub is_active: bool,
    /// The address was confirmed by a one-time link sent to it.
    pub email_verified: bool,
    /// Unix seconds.
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub last_activity_at: Option<i64>,
    /// The caller's second factor (`GET /users/me` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<crate::http::dto_mfa::MfaBody>,
}

impl From<User> for UserBody {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            roles: u.roles,
            is_active: u.is_active,
            email_verified: u.email_verified,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            last_activity_at: u.last_activity_at,
            mfa: None,
        }
    }
}

/// The OAuth2 token response (RFC 6749 §5.1), for every way of getting tokens.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Absent when the login asked for `"transport": "cookie"`: the refresh token is then in
    /// the HttpOnly `authgate_refresh` cookie instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until the refresh token expires if unused.
    pub refresh_expires_in: i64,
    /// Password logins only: proof of this login, to send as `device_token` with the next
    /// login from this device (which is then not refused for locks caused from elsewhere).
    /// Keep it like a refresh token; each login uses it up and issues a new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

impl From<TokenPair> for TokenResponse {
    fn from(t: TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            refresh_token: Some(t.refresh_token),
            refresh_expires_in: t.refresh_expires_in,
            device_token: t.device_token,
        }
    }
}

/// `POST /auth/register`. Other fields (`roles`, `is_active`, …) are ignored.
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "alice@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 128 characters (the minimum is AUTHGATE_MIN_PASSWORD_LENGTH, 8 by default), not a
    /// common password, not the e-mail or username.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// 3 to 32 letters, digits, '.', '_' or '-' (surrounding spaces are dropped).
    #[schema(example = "alice", pattern = r"^\s*[\w.-]{3,32}\s*$")]
    pub username: Option<String>,
}

/// `POST /auth/login`.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// E-mail or username.
    pub username: String,
    pub password: String,
    /// A long session (30 days by default) instead of one that ends after a day idle.
    #[serde(default)]
    pub remember_me: bool,
    /// The `device_token` of the last login from this device, if any: with it, locks that
    /// failed attempts from other addresses caused do not apply.
    #[serde(default)]
    pub device_token: Option<String>,
    /// Where the refresh token goes: `body` (the default) or `cookie`, for browser apps: an
    /// HttpOnly cookie `authgate_refresh` scoped to `/auth/refresh` and `/auth/logout`, plus a
    /// page-readable `authgate_csrf` cookie whose value those two then need in `X-CSRF-Token`
    /// (names prefixed `__Secure-`/`__Host-` unless AUTHGATE_PUBLIC_URL is plain
    /// `http://localhost`). A second-factor step at `POST /auth/mfa` ends the same way.
    #[serde(default)]
    pub transport: Transport,
}

/// How a login hands over the refresh token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Transport {
    /// In the JSON answer (`refresh_token`).
    #[default]
    Body,
    /// In an HttpOnly, SameSite=Strict cookie; the answer carries the access token only.
    Cookie,
}

/// By hand, so that every wrong value (a number, null, another word) is the same 422 with a
/// message that says what is allowed (serde_json reports a number for an enum as a syntax
/// error, which would be a 400).
impl<'de> Deserialize<'de> for Transport {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "body" => Ok(Self::Body),
            serde_json::Value::String(s) if s == "cookie" => Ok(Self::Cookie),
            other => Err(serde::de::Error::custom(format!(
                "transport must be \"body\" or \"cookie\", not {other}"
            ))),
        }
    }
}

/// `POST /auth/refresh`. Empty (or no body at all) to refresh with the `authgate_refresh`
/// cookie; a `refresh_token` here wins over a cookie sent along.
#[derive(Deserialize, ToSchema, Default)]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /auth/token` (form fields, RFC 6749). Shown for documentation; parsed by hand so that
/// errors come out in RFC 6749 form.
#[derive(Deserialize, ToSchema)]
// Documents the form in OpenAPI; the handler reads the raw pairs itself, to refuse duplicates.
#[allow(dead_code)]
pub struct TokenForm {
    /// `password`, `refresh_token` or `urn:authgate:params:oauth:grant-type:mfa-otp`.
    pub grant_type: String,
    /// E-mail or username (password grant).
    pub username: Option<String>,
    pub password: Option<String>,
    pub scope: Option<String>,
    /// Refresh-token grant.
    pub refresh_token: Option<String>,
    /// Password grant: the `device_token` of the last login from this device, if any (locks
    /// caused from other addresses then do not apply).
    pub device_token: Option<String>,
    /// `mfa-otp` grant: the `mfa_token` of the password grant's `mfa_required` answer.
    pub mfa_token: Option<String>,
    /// `mfa-otp` grant: the 6-digit code of the authenticator app.
    pub otp: Option<String>,
}

/// `PATCH /users/me`.
#[derive(Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// The new username, or null to remove it. Required: `{}` is refused rather than read as null.
    /// 3 to 32 letters, digits, '.', '_' or '-' (surrounding spaces are dropped).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = true, pattern = r"^\s*[\w.-]{3,32}\s*$")]
    pub username: Option<Option<String>>,
}

/// Tell a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /users/me/password`.
#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// One device (session) of the caller.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    pub id: Uuid,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub remember_me: bool,
    /// Is this the session the request was made with?
    pub current: bool,
}

impl SessionResponse {
    pub fn new(s: SessionRecord, current: Uuid) -> Self {
        Self {
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.idle_expires_at.min(s.expires_at),
            user_agent: s.user_agent,
            ip: s.ip,
            remember_me: s.remember_me,
            current: s.id == current,
        }
    }
}

/// A list of sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionResponse>,
}

/// Query of `GET /admin/users`. Values out of range are refused (422), never clamped.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Page size, 1 to 100 (default 50).
    #[param(required = false, value_type = i64, minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next` cursor of the previous page.
    #[param(required = false, value_type = Uuid)]
    pub after: Option<String>,
    /// Substring of e-mail or username; no control characters.
    #[param(required = false, value_type = String, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub q: Option<String>,
    /// Users with this role.
    #[param(required = false, value_type = String)]
    pub role: Option<String>,
    /// `true`: active users only; `false`: deactivated users only.
    #[param(required = false, value_type = bool)]
    pub active: Option<bool>,
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserBody>,
    /// Pass as `after` for the next page; null on the last page.
    pub next: Option<String>,
}

/// `PATCH /admin/users/{id}`.
#[derive(Deserialize, ToSchema)]
pub struct AdminUserPatch {
    /// The complete new set of roles; each must exist (see `GET /admin/roles`).
    #[schema(value_type = Option<Vec<RoleNameValue>>, inline)]
    pub roles: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

/// A role.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RoleResponse {
    #[schema(value_type = RoleNameValue, inline)]
    pub name: String,
    /// At most 256 characters.
    #[serde(default)]
    #[schema(max_length = 256)]
    pub description: String,
}

/// A role name: 1 to 64 characters of a-z, 0-9, '_', '-', ':', starting with a letter.
pub struct RoleNameValue;

impl utoipa::PartialSchema for RoleNameValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z][a-z0-9_:-]{0,63}$"))
            .into()
    }
}

impl ToSchema for RoleNameValue {}

impl From<RoleRecord> for RoleResponse {
    fn from(r: RoleRecord) -> Self {
        Self {
            name: r.name,
            description: r.description,
        }
    }
}

/// A list of roles.
#[derive(Serialize, ToSchema)]
pub struct RoleList {
    pub items: Vec<RoleResponse>,
}

/// Query of `GET /admin/audit`. Values out of range are refused (422), never clamped.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListQuery {
    /// Events about this user id.
    #[param(required = false, value_type = Uuid)]
    pub user: Option<String>,
    /// Events of this type.
    #[serde(rename = "type")]
    #[param(required = false, rename = "type", value_type = AuditEventType, inline)]
    pub kind: Option<String>,
    /// The `next` cursor of the previous page: events after that one in the chosen order.
    #[param(required = false, value_type = i64, minimum = 0)]
    pub after: Option<i64>,
    /// `oldest` (default) or `newest` first.
    #[param(required = false, value_type = AuditOrder, inline)]
    pub order: Option<String>,
    /// Events at or after this unix time (seconds).
    #[param(required = false, value_type = i64, minimum = 0)]
    pub since: Option<i64>,
    /// Events at or before this unix time (seconds); not before `since`.
    #[param(required = false, value_type = i64, minimum = 0)]
    pub until: Option<i64>,
    /// Page size, 1 to 500 (default 100).
    #[param(required = false, value_type = i64, minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The orders of the audit log.
pub struct AuditOrder;

impl utoipa::PartialSchema for AuditOrder {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(["oldest", "newest"]))
            .into()
    }
}

impl utoipa::ToSchema for AuditOrder {}

/// The types of audit events, as the `type` filter takes them.
pub struct AuditEventType;

impl utoipa::PartialSchema for AuditEventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(EventKind::ALL.iter().map(|k| k.as_str())))
            .into()
    }
}

impl ToSchema for AuditEventType {}

/// One security event. Never contains a password or a token.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    /// Position in the log; pass the last one as `after` to read on.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub user_id: Option<Uuid>,
    /// The admin (or moderator) who acted, when not the user themself.
    pub actor_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
}

/// A page of the audit log, oldest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `after` for the next page; null on the last page.
    pub next: Option<i64>,
}

/// `POST /auth/password/forgot` and `POST /auth/verify-email/request`.
#[derive(Deserialize, ToSchema)]
pub struct EmailRequest {
    #[schema(example = "alice@example.com", format = Email, max_length = 254)]
    pub email: String,
}

/// `POST /auth/password/reset`.
#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The `token` of the reset link.
    #[schema(max_length = 128)]
    pub token: String,
    /// The same policy as at registration.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// `POST /auth/verify-email`.
#[derive(Deserialize, ToSchema)]
pub struct VerifyEmailRequest {
    /// The `token` of the verification (or e-mail change) link.
    #[schema(max_length = 128)]
    pub token: String,
}

/// `POST /users/me/email`.
#[derive(Deserialize, ToSchema)]
pub struct ChangeEmailRequest {
    #[schema(example = "alice@example.org", format = Email, max_length = 254)]
    pub new_email: String,
    pub current_password: String,
}

/// The answer to a request whose outcome is mailed (or not) later.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AcceptedResponse {
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: &'static str,
}

impl AcceptedResponse {
    pub const ACCEPTED: Self = Self { status: "accepted" };
}
