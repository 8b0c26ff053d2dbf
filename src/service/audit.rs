//! The audit log: every security event, stored with time, user, IP and user agent, and logged
//! as a structured `event` line. Never a password or a token: events carry ids and short,
//! secret-free details only.

use tracing::{info, warn};
use uuid::Uuid;

use super::error::Result;
use super::state::AuthState;
use crate::domain::abuse::Repeat;
use crate::domain::{Actor, ClientInfo};
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
    /// A just-rotated refresh token presented again within the grace window, from a user
    /// agent other than the session's.
    RefreshGraceReplay,
    Logout,
    LogoutAll,
    PasswordChanged,
    RolesChanged,
    UserDeactivated,
    UserActivated,
    UserDeleted,
    /// A reset link was issued (by mail, an admin or the CLI).
    PasswordResetRequested,
    PasswordReset,
    VerificationRequested,
    EmailVerified,
    EmailChangeRequested,
    EmailChanged,
    /// A registration with an address that has an account (AUTHGATE_REQUIRE_VERIFIED_EMAIL: answered like a new one).
    SignupWithTakenEmail,
    /// A mail given up after its last attempt.
    MailFailed,
    /// One run of `authgate import` (not a dry run), with its counts.
    UsersImported,
    /// A second factor was confirmed.
    MfaEnabled,
    /// The user turned the second factor off.
    MfaDisabled,
    /// An admin (or the CLI) removed a user's second factor.
    MfaReset,
    /// A wrong, reused or malformed second-factor code, or a dead mfa_token.
    MfaFailed,
    /// Second-factor failures locked the account's second factor (from this address).
    MfaLocked,
    /// A second-factor attempt refused because the second factor is locked.
    MfaBlocked,
    /// A recovery code stood in for the authenticator.
    RecoveryCodeUsed,
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRegenerated,
    /// A passkey was added to the account.
    PasskeyAdded,
    /// The user removed a passkey.
    PasskeyRemoved,
}

impl EventKind {
    /// Every kind, for validating filters.
    pub const ALL: [EventKind; 33] = [
        Self::UserRegistered,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginBlocked,
        Self::AccountLocked,
        Self::AccountUnlocked,
        Self::RateLimited,
        Self::RefreshReuseDetected,
        Self::RefreshGraceReplay,
        Self::Logout,
        Self::LogoutAll,
        Self::PasswordChanged,
        Self::RolesChanged,
        Self::UserDeactivated,
        Self::UserActivated,
        Self::UserDeleted,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::VerificationRequested,
        Self::EmailVerified,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::SignupWithTakenEmail,
        Self::MailFailed,
        Self::UsersImported,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::MfaReset,
        Self::MfaFailed,
        Self::MfaLocked,
        Self::MfaBlocked,
        Self::RecoveryCodeUsed,
        Self::RecoveryCodesRegenerated,
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
            Self::RefreshGraceReplay => "refresh_grace_replay",
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::PasswordChanged => "password_changed",
            Self::RolesChanged => "roles_changed",
            Self::UserDeactivated => "user_deactivated",
            Self::UserActivated => "user_activated",
            Self::UserDeleted => "user_deleted",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::VerificationRequested => "verification_requested",
            Self::EmailVerified => "email_verified",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::SignupWithTakenEmail => "signup_with_taken_email",
            Self::MailFailed => "mail_failed",
            Self::UsersImported => "users_imported",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::MfaReset => "mfa_reset",
            Self::MfaFailed => "mfa_failed",
            Self::MfaLocked => "mfa_locked",
            Self::MfaBlocked => "mfa_blocked",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
        }
    }

    /// Refusals an attacker can produce at request rate: written once per address per minute,
    /// with a count.
    fn is_refusal(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::LoginBlocked | Self::MfaBlocked
        )
    }

    /// The kind called `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One security event, before it is stored: what happened, to which account, by whom (when an
/// admin acts on someone else), from which client.
#[derive(Debug)]
pub(crate) struct Event<'a> {
    kind: EventKind,
    user: Option<Uuid>,
    actor: Option<Uuid>,
    client: &'a ClientInfo,
    detail: String,
}

impl<'a> Event<'a> {
    /// `kind`, seen from `client`, about no account yet.
    pub(crate) fn new(kind: EventKind, client: &'a ClientInfo) -> Self {
        Self {
            kind,
            user: None,
            actor: None,
            client,
            detail: String::new(),
        }
    }

    /// The account the event is about (`None`: an unknown login name).
    pub(crate) fn user(mut self, user: impl Into<Option<Uuid>>) -> Self {
        self.user = user.into();
        self
    }

    /// Done by `actor` (an admin, a moderator or the CLI), from the actor's client.
    pub(crate) fn by(mut self, actor: &'a Actor) -> Self {
        self.actor = actor.id;
        self.client = &actor.client;
        self
    }

    /// A short, secret-free detail.
    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

impl AuthState {
    /// Record a security event. A failure to store it is logged, never fatal: an unreachable
    /// database already fails the request that caused the event.
    pub(crate) async fn audit(&self, event: Event<'_>) {
        let Event {
            kind,
            user,
            actor,
            client,
            detail,
        } = event;
        // Counted before repeats are held back from the log: logins by outcome
        // (login_succeeded, login_failed, login_blocked), lockouts, refresh reuse, …
        metrics::counter!("authgate_security_events_total", "kind" => kind.as_str()).increment(1);
        if let (Some(addr), Ok(issuer)) = (client.addr, self.issuer()) {
            let repeat = kind.is_refusal().then(|| {
                let now_ms = self.clock().now_ms();
                issuer.repeated_events.note(kind.as_str(), addr, now_ms)
            });
            if repeat == Some(Repeat::HeldBack) {
                return;
            }
        }
        info!(event = kind.as_str(), user_id = ?user, actor_id = ?actor, ip = ?client.ip, detail, "security event");
        let Ok(issuer) = self.issuer() else { return };
        let record = AuditEvent {
            at: self.clock().now(),
            event: kind.as_str().to_owned(),
            user_id: user,
            actor_id: actor,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            detail,
        };
        if let Err(e) = issuer.store.record_event(&record).await {
            warn!(error = %e, event = kind.as_str(), "could not store an audit event");
        }
    }

    /// Write one summary row for each address whose repeated refusals were held back in a
    /// window that has ended (called by housekeeping).
    pub(crate) async fn audit_held_back(&self) {
        let Ok(issuer) = self.issuer() else { return };
        for (kind, addr, count) in issuer.repeated_events.close_ended(self.clock().now_ms()) {
            let record = AuditEvent {
                at: self.clock().now(),
                event: kind.to_owned(),
                ip: Some(addr.to_string()),
                detail: format!("{count} more from this address in the last minute"),
                ..AuditEvent::default()
            };
            info!(event = kind, ip = %addr, count, "repeated security events");
            if let Err(e) = issuer.store.record_event(&record).await {
                warn!(error = %e, event = kind, "could not store an audit event");
            }
        }
    }

    /// One page of the audit log, oldest first.
    pub(crate) async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        Ok(self.issuer()?.store.list_events(query).await?)
    }
}
