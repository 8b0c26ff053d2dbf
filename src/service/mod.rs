//! What authgate does, independent of HTTP: accounts, sessions, the authentication of an access
//! token, admin changes, abuse limits, the audit log, housekeeping, account recovery with its
//! mail outbox, and imports and exports of accounts. Handlers, the CLI and
//! host apps (see `examples/tutorial_app.rs`) all call these `AuthState` methods; nothing above
//! this layer touches the store.
//!
//! `state` defines [`AuthState`] and imports no sibling; every other module adds the methods of
//! one job to it and imports only `state`, `error`, `audit` and `abuse` from here.

mod abuse;
mod accounts;
mod admin;
mod audit;
mod authenticate;
mod csrf;
mod devices;
mod error;
mod feed;
mod housekeeping;
mod import;
mod keys;
mod mfa;
mod mfa_login;
mod outbox;
mod passkeys;
mod profile;
mod recovery;
mod remote;
mod remote_feed;
mod sessions;
mod state;

use uuid::Uuid;

pub use crate::revocation::RevocationEvent;
pub use audit::EventKind;
pub use authenticate::CurrentUser;
pub use error::{Error, ErrorCode, FieldErrors, MfaChallenge, Result};
pub use feed::VerifierInfo;
pub use housekeeping::Housekeeping;
pub use import::{ImportProgress, ImportReport, NoteKind};
pub use keys::{KeyInfo, KeyStatus, PUBLISH_SECS};
pub use mfa::{MfaConfirmed, MfaStatus, TotpEnrolment};
pub use mfa_login::{COOKIE_MFA_PREFIX, MfaAnswer};
pub use passkeys::{PasskeyCeremony, PasskeyInfo};
pub use remote::install_tls_provider;
pub use remote_feed::RevocationFeed;
pub use state::{AuthConfig, AuthState};
// What `AuthState::authenticate` answers with, for the HTTP layer.
pub use crate::token::TokenError;

use crate::store::UserRecord;

// The store's query and record types are part of the service's vocabulary for the HTTP layer.
pub(crate) use crate::store::{AuditQuery, AuditRecord, RoleRecord, SessionRecord, UserQuery};

/// What `GET /users/me` shows: the account and its second factor, cached per user (see
/// `profile.rs`).
#[derive(Debug, Clone)]
pub struct Profile {
    pub user: User,
    pub mfa: MfaStatus,
}

/// A user as authgate shows them (never the hash).
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct User {
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
}

impl From<UserRecord> for User {
    fn from(u: UserRecord) -> Self {
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
        }
    }
}

/// What a login, a refresh or a password change issues: a signed access token and the opaque
/// refresh token of the session. The HTTP layer sends it as an RFC 6749 token response.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    /// Seconds until the refresh token expires if unused.
    pub refresh_expires_in: i64,
    /// Set by a password login: proof of it, to present at the next login from this device,
    /// which then never meets the locks other addresses caused (see `AuthState::login`).
    pub device_token: Option<String>,
}

/// Changes an admin or moderator makes to a user.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub roles: Option<Vec<String>>,
    pub is_active: Option<bool>,
}
