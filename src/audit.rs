//! The audit log: every security event, stored with time, user, IP and user agent, and logged
//! as a structured `event` line. Never a password or a token: events carry ids and short,
//! secret-free details only.

use tracing::{info, warn};
use uuid::Uuid;

use crate::error::Result;
use crate::service::ClientInfo;
use crate::state::AuthState;
use crate::store::{AuditEvent, AuditQuery, AuditRecord};

/// What happened. The string form is what `GET /admin/audit?type=` filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    UserRegistered,
    LoginSucceeded,
    LoginFailed,
    /// An attempt refused without checking the password (account locked or rate limited).
    LoginBlocked,
    AccountLocked,
    AccountUnlocked,
    RateLimited,
    RefreshReuseDetected,
    Logout,
    LogoutAll,
    PasswordChanged,
    RolesChanged,
    UserDeactivated,
    UserActivated,
    UserDeleted,
}

impl EventKind {
    /// Every kind, for validating filters.
    pub const ALL: [EventKind; 15] = [
        Self::UserRegistered,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginBlocked,
        Self::AccountLocked,
        Self::AccountUnlocked,
        Self::RateLimited,
        Self::RefreshReuseDetected,
        Self::Logout,
        Self::LogoutAll,
        Self::PasswordChanged,
        Self::RolesChanged,
        Self::UserDeactivated,
        Self::UserActivated,
        Self::UserDeleted,
    ];

    /// The stable name stored and filtered on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user_registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginBlocked => "login_blocked",
            Self::AccountLocked => "account_locked",
            Self::AccountUnlocked => "account_unlocked",
            Self::RateLimited => "rate_limited",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::PasswordChanged => "password_changed",
            Self::RolesChanged => "roles_changed",
            Self::UserDeactivated => "user_deactivated",
            Self::UserActivated => "user_activated",
            Self::UserDeleted => "user_deleted",
        }
    }

    /// The kind called `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Who did something and from where: the request's client, and the acting user when it is not
/// the user the event is about (an admin). The CLI acts as [`Actor::system`].
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub is_admin: bool,
    pub client: ClientInfo,
}

impl Actor {
    /// The operator at the command line: an admin with no account and no IP.
    pub fn system() -> Self {
        Self {
            id: None,
            is_admin: true,
            client: ClientInfo::default(),
        }
    }
}

impl AuthState {
    /// Record a security event. A failure to store it is logged, never fatal: an unreachable
    /// database already fails the request that caused the event.
    pub(crate) async fn audit(
        &self,
        kind: EventKind,
        user_id: Option<Uuid>,
        actor_id: Option<Uuid>,
        client: &ClientInfo,
        detail: String,
    ) {
        info!(event = kind.as_str(), user_id = ?user_id, actor_id = ?actor_id, ip = ?client.ip, detail, "security event");
        let Ok(server) = self.server() else { return };
        let event = AuditEvent {
            at: self.clock().now(),
            event: kind.as_str().to_owned(),
            user_id,
            actor_id,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            detail,
        };
        if let Err(e) = server.store.record_event(&event).await {
            warn!(error = %e, event = kind.as_str(), "could not store an audit event");
        }
    }

    /// One page of the audit log, oldest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        Ok(self.server()?.store.list_events(query).await?)
    }
}
