//! What authgate does, independent of HTTP: accounts, sessions, admin changes. Handlers, the CLI
//! and host apps (see `examples/tutorial_app.rs`) all call these `AuthState` methods.

mod accounts;
mod admin;
mod sessions;

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::UserRecord;

/// A user as the API shows it (never the hash).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub username: Option<String>,
    pub roles: Vec<String>,
    pub is_active: bool,
    /// Unix seconds.
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub last_activity_at: Option<i64>,
}

impl From<UserRecord> for User {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            roles: u.roles,
            is_active: u.is_active,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            last_activity_at: u.last_activity_at,
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
    pub refresh_token: String,
    /// Seconds until the refresh token expires if unused.
    pub refresh_expires_in: i64,
}

/// Where a request came from: recorded on the session for the device list and in the audit
/// log, and the key of the per-IP rate limits.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    /// `addr` as text, as stored.
    pub ip: Option<String>,
    /// The client address (see [`crate::http::client_ip`]); `None` outside HTTP (CLI, tests),
    /// where no per-IP limit applies.
    pub addr: Option<std::net::IpAddr>,
}

impl ClientInfo {
    /// A client at `addr`, for host apps and tests that call the service directly.
    pub fn from_addr(addr: std::net::IpAddr) -> Self {
        Self {
            user_agent: None,
            ip: Some(addr.to_string()),
            addr: Some(addr),
        }
    }
}

/// Changes an admin or moderator makes to a user.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub roles: Option<Vec<String>>,
    pub is_active: Option<bool>,
}
