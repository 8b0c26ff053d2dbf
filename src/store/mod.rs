//! Persistence: six narrow traits, one SQL implementation of them per backend (SQLite,
//! PostgreSQL), and a contract suite that holds both to the traits' promises.
//!
//! - [`UserStore`]: users and roles. [`SessionStore`]: sessions and refresh-token rotation.
//!   [`GuardStore`]: rate-limit buckets and lockout counters. [`AuditStore`]: the audit log.
//!   [`DeviceStore`] (in `devices.rs`): device tokens. [`FeedStore`] (in `feed.rs`): verifier
//!   credentials and the revocation feed. [`OutboxStore`]: the e-mail outbox.
//!   [`TokenStore`]: one-time tokens (reset, verification). [`ImportStore`]: accounts moved in
//!   by `authgate import`, a batch at a time. [`MfaStore`] (in `mfa.rs`): the second factor.
//!   [`PasskeyStore`] (in `passkeys.rs`): passkeys and their ceremonies.
//!   [`Store`]: all of them, plus
//!   migrations, ping, signing keys, secrets and revocation entries. The rest of the crate
//!   holds the `Arc<dyn Store>` that [`connect`] opens.
//! - `tutorial.rs` reads another database: the users of a tutorial app, for `authgate import`.
//! - The SQL is in `sql/`, one file per trait (its module doc says how they are built); the
//!   schema in `migrations/<backend>/`; the promises, tested on both backends, in `contract/`.
//!
//! Handlers and services never see `sqlx::Error`: the store translates driver errors into
//! [`StoreError`] (a unique violation becomes `Conflict`, a dead connection `Unavailable`).

#[cfg(test)]
mod contract;
mod devices;
mod feed;
mod mfa;
mod migrate;
mod passkeys;
mod records;
mod sql;
pub mod tutorial;

use async_trait::async_trait;
use uuid::Uuid;

pub use devices::{DeviceStore, NewDeviceToken};
pub use feed::{FeedStore, VerifierRecord};
pub use mfa::{ChallengeRecord, FactorRecord, MfaStore, NewChallenge, RecoveryMail};
pub use passkeys::{CeremonyRecord, NewCeremony, PasskeyRecord, PasskeyStore, PasskeyUse};
pub use records::{
    AuditEvent, AuditQuery, AuditRecord, Imported, LockoutPolicy, NewMail, NewOneTimeToken,
    NewSession, NewUser, QueuedMail, Rate, RevocationRecord, RoleRecord, RotateOutcome,
    RotatedSession, Rotation, SessionEnd, SessionRecord, StoredKey, TokenOwner, UserQuery,
    UserRecord,
};
pub use sql::connect;

/// What can go wrong in storage, as the rest of the crate needs to know it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was hit; names the field (`email`, `username`, `role`).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The input cannot be stored (PostgreSQL refuses NUL in text); the client's fault.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// The database could not be reached in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Refused, nothing written: the change would leave no active admin.
    #[error("the change would leave no active admin")]
    LastAdmin,
    /// Anything else: a bug or corrupt data.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// Users and roles.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Insert a user and their roles atomically. `Conflict("email"|"username")` when taken.
    async fn create_user(&self, user: &NewUser) -> StoreResult<UserRecord>;
    /// Look a user up by id.
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>>;
    /// The user `id`, only while `session` is theirs and not revoked: one round trip, for
    /// endpoints that confirm the token's session in the database. `None` for an unknown user,
    /// an unknown session or a revoked one. A session past its end still counts: its last
    /// access token lives out its few minutes, as on every other route.
    async fn user_with_live_session(
        &self,
        id: Uuid,
        session: Uuid,
    ) -> StoreResult<Option<UserRecord>>;
    /// Look a user up by lowercase e-mail or lowercase username.
    async fn user_by_login(&self, login_lower: &str) -> StoreResult<Option<UserRecord>>;
    /// One page of users, ordered by id (ids are UUIDv7, so this is creation order).
    async fn list_users(&self, query: &UserQuery) -> StoreResult<Vec<UserRecord>>;
    /// Change (or clear) the username: `(display, lowercase)`.
    async fn set_username(&self, id: Uuid, username: Option<(&str, &str)>) -> StoreResult<bool>;
    /// Replace the password hash (a password change).
    async fn set_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()>;
    /// Replace `old` with `new` only if `old` is still the stored hash (an upgrade on login must
    /// never overwrite a password change that landed meanwhile). Returns whether it did.
    async fn upgrade_password_hash(&self, id: Uuid, old: &str, new: &str) -> StoreResult<bool>;
    /// Replace the user's roles; unknown roles are checked by the caller. `LastAdmin` (nothing
    /// changed) when the user is the last active admin and `roles` lacks `admin`.
    async fn set_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool>;
    /// Activate or deactivate. `LastAdmin` (nothing changed) for the last active admin.
    async fn set_active(&self, id: Uuid, active: bool) -> StoreResult<bool>;
    /// Delete the user and (by cascade) their sessions. `LastAdmin` (nothing deleted) for the
    /// last active admin.
    ///
    /// These three check and change in one transaction that first locks the `admin` role's row,
    /// so concurrent changes of the last admins serialise and at least one is refused.
    async fn delete_user(&self, id: Uuid) -> StoreResult<bool>;
    /// Stamp `last_login_at`.
    async fn record_login(&self, id: Uuid, now: i64) -> StoreResult<()>;
    /// All roles.
    async fn list_roles(&self) -> StoreResult<Vec<RoleRecord>>;
    /// Create a role; `Conflict("role")` when it exists.
    async fn create_role(&self, role: &RoleRecord) -> StoreResult<()>;
}

/// Sessions (refresh-token families) and their rotation.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Start a session with its first refresh token. `false` (nothing written) when the user's
    /// password changed or the user was deactivated since the credentials were checked.
    async fn create_session(&self, session: &NewSession, refresh_hash: &str) -> StoreResult<bool>;
    /// The atomic heart of refresh: see [`RotateOutcome`].
    async fn rotate_refresh(&self, rotation: &Rotation) -> StoreResult<RotateOutcome>;
    /// Revoke one session of one user. The revoking methods write, in the same transaction, a
    /// `session` revocation entry expiring at `until` for every session they end (see
    /// [`Store::save_revocation`]), so other instances learn of it exactly when it commits.
    async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: i64,
        until: i64,
    ) -> StoreResult<SessionEnd>;
    /// Revoke every session of a user but `keep`; returns the ids revoked.
    async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: i64,
        until: i64,
    ) -> StoreResult<Vec<Uuid>>;
    /// End the user's live sessions beyond the newest `keep`; returns the ids ended.
    async fn cap_sessions(
        &self,
        user_id: Uuid,
        keep: i64,
        now: i64,
        until: i64,
    ) -> StoreResult<Vec<Uuid>>;
    /// The user's active sessions, newest first.
    async fn list_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<SessionRecord>>;
    /// Stamp `last_activity_at` on the user and `last_used_at` on the session.
    async fn record_activity(&self, user_id: Uuid, session_id: Uuid, now: i64) -> StoreResult<()>;
    /// Delete dead sessions (and with them their refresh tokens) and expired revocation entries.
    async fn purge_expired(&self, now: i64) -> StoreResult<u64>;
}

/// The counters behind rate limits and account lockout, shared by every instance on the database.
#[async_trait]
pub trait GuardStore: Send + Sync + 'static {
    /// Count one event in `bucket` under `rate`, atomically. `None` when allowed; otherwise the
    /// milliseconds until the next event would be allowed (nothing is counted then).
    async fn take(&self, bucket: &str, rate: Rate, now_ms: i64) -> StoreResult<Option<i64>>;
    /// Count one login attempt on `account` before its password is checked, atomically. `Ok`
    /// when the attempt may proceed: `Ok(true)` when it is the one that reached the threshold
    /// and locked the account pre-emptively (so parallel attempts can never exceed it; its
    /// success lifts the lock). `Err(locked_until)` when the account is locked: nothing counted.
    async fn begin_login_attempt(
        &self,
        account: &str,
        policy: LockoutPolicy,
        now: i64,
    ) -> StoreResult<Result<bool, i64>>;
    /// A successful login (or an admin unlock): forget the account's failures and any lock.
    /// Returns whether anything was forgotten.
    async fn clear_login_failures(&self, account: &str) -> StoreResult<bool>;
}

/// The audit log of security events.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Append an event.
    async fn record_event(&self, event: &AuditEvent) -> StoreResult<()>;
    /// One page of events, oldest first.
    async fn list_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;
    /// Delete events older than `before` (retention); returns how many.
    async fn purge_events(&self, before: i64) -> StoreResult<u64>;
}

/// The e-mail outbox: mails are enqueued with the change that causes them and sent by a
/// background task. A claim hides a row from other claims until `lease` seconds pass, so a
/// mail is sent by one instance; a sender that dies mid-send leaves it due again after that.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Enqueue a mail on its own (no change goes with it), due now.
    async fn enqueue_mail(&self, mail: &NewMail) -> StoreResult<()>;
    /// Claim up to `limit` due mails (unsent, not given up, `next_attempt_at <= now`), oldest
    /// first: each claimed row counts one more attempt and is due again only at `now + lease`.
    /// Concurrent claims (other instances) never return the same row.
    async fn claim_mail(&self, now: i64, lease: i64, limit: i64) -> StoreResult<Vec<QueuedMail>>;
    /// The mail went out: stamp it sent and empty its context.
    async fn mail_sent(&self, id: Uuid, now: i64) -> StoreResult<()>;
    /// Sending failed: due again at `retry_at`, or, with `None`, given up for good (context
    /// emptied). `error` is kept for the operator (no secrets in it).
    async fn mail_failed(
        &self,
        id: Uuid,
        retry_at: Option<i64>,
        now: i64,
        error: &str,
    ) -> StoreResult<()>;
    /// Delete mails sent or given up before `before`; returns how many.
    async fn purge_mail(&self, before: i64) -> StoreResult<u64>;
}

/// One-time tokens: only their keyed hash is stored, and each is used at most once.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Store `token` and enqueue `mails` in one transaction, using up every older unused token
    /// of the same user and purpose (a newer link voids the older ones).
    async fn issue_token(&self, token: &NewOneTimeToken, mails: &[NewMail]) -> StoreResult<()>;
    /// Create a user (as [`UserStore::create_user`]) with their first token and its mail, in
    /// one transaction.
    async fn create_user_with_token(
        &self,
        user: &NewUser,
        token: &NewOneTimeToken,
        mail: &NewMail,
    ) -> StoreResult<UserRecord>;
    /// Who an unused, unexpired token of `purpose` belongs to, without using it.
    async fn token_owner(
        &self,
        hash: &str,
        purpose: &str,
        now: i64,
    ) -> StoreResult<Option<TokenOwner>>;
    /// Use a reset token and set the password in one transaction (one atomic `UPDATE … WHERE
    /// used_at IS NULL AND expires_at > now` decides): every other reset token of the user is
    /// used up with it. `None` (nothing changed) for an unknown, used or expired token.
    async fn reset_password(
        &self,
        hash: &str,
        new_hash: &str,
        now: i64,
    ) -> StoreResult<Option<Uuid>>;
    /// Use a `verify` or `email_change` token and confirm its address in one transaction:
    /// `verify` marks the account verified if its address is still the one the link was sent
    /// to; `email_change` makes the address the account's, verified. `Conflict("email")`
    /// (nothing changed, the token still unused) when another account took the address
    /// meanwhile; `None` for an unknown, used or expired token.
    async fn confirm_email(&self, hash: &str, purpose: &str, now: i64)
    -> StoreResult<Option<Uuid>>;
    /// Delete tokens that expired before `before`; returns how many.
    async fn purge_tokens(&self, before: i64) -> StoreResult<u64>;
}

/// Accounts moved in from elsewhere (`authgate import`).
#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    /// Insert a batch of users and their roles in one transaction, keyed by e-mail: a user whose
    /// `email_lower` is already stored (before or earlier in this batch) is left exactly as it
    /// is (`Imported::Exists`), so importing the same accounts again changes nothing. A user
    /// whose username key is taken by another account is inserted without a username
    /// (`Imported::WithoutUsername`). Roles must exist (the caller checks). `dry_run`: the same
    /// work and the same answer, then rolled back. One outcome per input, in order.
    async fn import_users(&self, batch: &[NewUser], dry_run: bool) -> StoreResult<Vec<Imported>>;
}

/// A change committed by another process, as the database announces it (PostgreSQL
/// `LISTEN/NOTIFY`, see [`Store::subscribe`]). Each says only where to look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Revocation entries (sessions, user changes) were written: sync them.
    Revocations,
    /// The signing keys changed: reload the key ring.
    Keys,
    /// The listener (re)connected; changes made while it was away were not announced: sync
    /// everything.
    Resync,
}

/// Everything authgate keeps: users, sessions, and the server's own state. Implementations must
/// be safe to call concurrently from many tasks; every multi-statement operation is one
/// transaction. On `dyn Store` every supertrait method is callable directly.
#[async_trait]
pub trait Store:
    UserStore
    + SessionStore
    + GuardStore
    + AuditStore
    + DeviceStore
    + OutboxStore
    + TokenStore
    + ImportStore
    + FeedStore
    + MfaStore
    + PasskeyStore
{
    /// Apply the embedded migrations (idempotent; one migrator at a time).
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap reachability check for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// Signing keys for one algorithm, retired ones included, newest first.
    async fn signing_keys(&self, alg: &str) -> StoreResult<Vec<StoredKey>>;
    /// Add a signing key (ignored if the kid exists).
    async fn insert_signing_key(&self, key: &StoredKey) -> StoreResult<()>;
    /// Add `key` unless a key of its algorithm that is not retired was created at or after
    /// `unless_created_since`: atomic, so of several instances rotating on a schedule exactly
    /// one adds a key per period. Returns whether it added it. Other instances are told
    /// (PostgreSQL `NOTIFY`), as by [`Store::retire_signing_key`].
    async fn add_signing_key_unless(
        &self,
        key: &StoredKey,
        unless_created_since: i64,
    ) -> StoreResult<bool>;
    /// Retire the key `kid` at `now` (it stops verifying). Returns whether it was live.
    async fn retire_signing_key(&self, kid: &str, now: i64) -> StoreResult<bool>;
    /// Replace a signing key's stored private part, only while it is still `old` (sealing a
    /// plaintext key on first start with a KEK; two instances doing it at once both succeed
    /// or find it done). Returns whether it replaced it.
    async fn reseal_signing_key(&self, kid: &str, old: &str, new: &str) -> StoreResult<bool>;
    /// Replace the value of the secret `name`, only while it is still `old` (as
    /// [`Store::reseal_signing_key`]). Returns whether it replaced it.
    async fn reseal_secret(&self, name: &str, old: &str, new: &str) -> StoreResult<bool>;
    /// Return the secret called `name`, creating it from `candidate` if it does not exist yet
    /// (the first instance to start wins, the others read its value).
    async fn secret(&self, name: &str, candidate: &str, now: i64) -> StoreResult<String>;
    /// Upsert a revocation entry by (kind, subject); every write gives it the next `seq`, and
    /// `seq`s are assigned in commit order, so a reader that has seen `seq` n has seen every
    /// entry written before it.
    async fn save_revocation(&self, entry: &RevocationRecord) -> StoreResult<()>;
    /// Revocation entries still in force (expiring after `now`) with a `seq` above `after_seq`
    /// (0 for all), in `seq` order.
    async fn load_revocations(
        &self,
        now: i64,
        after_seq: i64,
    ) -> StoreResult<Vec<RevocationRecord>>;
    /// Announcements of changes other processes commit, as they commit, if this backend makes
    /// them (PostgreSQL; `None` on SQLite, where only polling sees them). A background task
    /// listens, reconnects after a lost connection and then sends [`Change::Resync`]; it stops
    /// when the receiver is dropped. Must be called within a Tokio runtime.
    fn subscribe(&self) -> Option<tokio::sync::mpsc::Receiver<Change>>;
}
