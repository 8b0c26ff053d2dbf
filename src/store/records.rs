//! Plain data carried across the [`Store`](super::Store) boundary.

use uuid::Uuid;

/// A user as stored, with their roles.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub username: Option<String>,
    /// PHC string (`$argon2id$…`) or a legacy bcrypt hash (`$2b$…`).
    pub password_hash: String,
    pub is_active: bool,
    /// The address was confirmed by a one-time link sent to it.
    pub email_verified: bool,
    pub roles: Vec<String>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub last_activity_at: Option<i64>,
}

/// A user to insert.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub email: String,
    pub email_lower: String,
    pub username: Option<String>,
    pub username_lower: Option<String>,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub is_active: bool,
    pub email_verified: bool,
    pub created_at: i64,
}

/// What importing one user came to (see [`ImportStore`](super::ImportStore)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// Inserted as given.
    Created,
    /// Inserted, but without its username: another account has that username key.
    WithoutUsername,
    /// An account with this e-mail key exists already; nothing written.
    Exists,
}

/// Filters and cursor for the admin user list.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub limit: i64,
    /// Return users with an id greater than this.
    pub after: Option<Uuid>,
    /// Substring of e-mail or username, case-insensitive.
    pub q: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
}

/// A role.
#[derive(Debug, Clone)]
pub struct RoleRecord {
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: i64,
    pub expires_at: i64,
    pub idle_ttl: i64,
    pub remember_me: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The password hash the credentials were checked against. The session is created only if
    /// it is still the user's hash and the user is still active, so a login that raced a
    /// password change or a deactivation opens nothing.
    pub password_hash: String,
}

/// A session as listed to its owner.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub idle_expires_at: i64,
    pub remember_me: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// What a refresh needs to sign the new pair, read in the statement (PostgreSQL) or the
/// transaction (SQLite) that claims the token, not in round trips of its own.
#[derive(Debug, Clone)]
pub struct RotatedSession {
    pub session: SessionRecord,
    /// The session's user, with its roles as they are now (admin changes reach new tokens).
    pub user: UserRecord,
    /// When the session passed a second factor (`sessions.mfa_at`).
    pub mfa_at: Option<i64>,
    /// The session's own RFC 8176 `amr` values, space-separated (`sessions.amr`: passkeys).
    pub amr: Option<String>,
}

/// One refresh request, as the store needs it.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// SHA-256 (hex) of the presented token.
    pub presented_hash: String,
    /// SHA-256 (hex) of its successor. The successor is derived from the presented token, so
    /// concurrent requests with the same token agree on it without talking to each other.
    pub child_hash: String,
    pub now: i64,
    /// When the revocation entry written on reuse detection expires.
    pub revoke_until: i64,
    /// How long after its first use a token may be presented again and get the same successor.
    pub grace_secs: i64,
}

/// What a refresh attempt came to.
#[derive(Debug, Clone)]
pub enum RotateOutcome {
    /// First use: the successor is stored and the session extended.
    Rotated(RotatedSession),
    /// A concurrent or retried use within the grace window: the same successor stands.
    Repeated(RotatedSession),
    /// A replay of a rotated token: the whole session (the token family) has been revoked, and
    /// that revocation is committed.
    ReuseDetected { session_id: Uuid, user_id: Uuid },
    /// Unknown token, or its session expired or was revoked.
    Invalid,
}

/// A stored signing key.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// Base64 DER of the private key.
    pub private_der: String,
    /// The public JWK, as JSON.
    pub public_jwk: String,
    /// Published (in the JWKS, and trusted) from here on.
    pub created_at: i64,
    /// Signs new tokens from here on (the newest active key signs); `created_at` for a key
    /// that signs at once.
    pub activates_at: i64,
    /// Neither signs nor verifies from here on.
    pub retired_at: Option<i64>,
}

/// A persisted revocation entry (see `crate::revocation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRecord {
    /// `session` or `user`.
    pub kind: String,
    pub subject: String,
    /// Kind-specific JSON payload.
    pub data: String,
    pub expires_at: i64,
    pub created_at: i64,
    /// Assigned by the store on every write (insert or upsert), increasing in commit order:
    /// what other instances poll by. Ignored when saving.
    pub seq: i64,
}

/// What ending one session came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// It was live and is revoked now.
    Ended,
    /// It was revoked already (a retried logout); its revocation entry is written again.
    AlreadyEnded,
    /// No such session of this user.
    Unknown,
}

pub use crate::domain::{LockoutPolicy, Rate};

/// A security event to record.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub at: i64,
    /// `login_succeeded`, `login_failed`, `account_locked`, ... (see `crate::audit::EventKind`).
    pub event: String,
    /// The account the event is about, when known.
    pub user_id: Option<Uuid>,
    /// Who did it, when not the user themself (an admin changing roles).
    pub actor_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Short, secret-free detail (`roles=admin,user`).
    pub detail: String,
}

/// A recorded security event.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub seq: i64,
    pub event: AuditEvent,
}

/// Filters and cursor for the audit log (oldest first, or newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub limit: i64,
    pub user_id: Option<Uuid>,
    pub event: Option<String>,
    /// Events at or after this unix time.
    pub since: Option<i64>,
    /// Events at or before this unix time.
    pub until: Option<i64>,
    /// Events after this sequence number in the listing's order (pagination): greater than
    /// it oldest first, smaller than it newest first.
    pub after_seq: Option<i64>,
    /// Newest first (decreasing `seq`) instead of oldest first.
    pub newest_first: bool,
}

/// A mail to send, enqueued in the transaction of the change that causes it.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub id: Uuid,
    /// The template (`reset_password`, `verify_email`, ...).
    pub kind: String,
    pub recipient: String,
    /// The account the mail is about.
    pub user_id: Option<Uuid>,
    /// The template's values, as JSON (links included: emptied once sent).
    pub context: String,
    pub created_at: i64,
}

/// A mail claimed for sending.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub user_id: Option<Uuid>,
    pub context: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub created_at: i64,
}

/// A one-time token to store (only its keyed hash).
#[derive(Debug, Clone)]
pub struct NewOneTimeToken {
    /// HMAC-SHA256 of the token under the server's secret, hex.
    pub hash: String,
    pub user_id: Uuid,
    /// `reset`, `verify` or `email_change`.
    pub purpose: &'static str,
    /// The address the link goes to: the one it confirms for `verify` and `email_change`.
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An unused, unexpired one-time token's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub user_id: Uuid,
    pub email: String,
}
