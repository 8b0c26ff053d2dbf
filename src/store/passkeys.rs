//! [`PasskeyStore`]: passkeys (WebAuthn credentials, issue #13), the ceremonies in flight, and
//! how a session was authenticated. The SQL is in `sql/passkeys.rs`, the promises in
//! `contract/passkeys.rs`.
//!
//! A ceremony is taken once: one `DELETE … RETURNING` decides, so of two finishes of one
//! challenge (a replay, or two instances) exactly one gets its state.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreResult;

/// A passkey as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The WebAuthn credential id, base64url without padding; unique across all users.
    pub credential_id: String,
    /// The webauthn-rs `Passkey`, as JSON (public key, counter, flags).
    pub passkey: String,
    /// The user's name for it.
    pub name: String,
    /// The signature counter last seen (0 for authenticators without one).
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A ceremony to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCeremony {
    pub id: Uuid,
    /// `register`, `signin` or `mfa`.
    pub kind: String,
    /// Whose ceremony it is, when known at the start (not for a discoverable sign-in).
    pub user_id: Option<Uuid>,
    /// What it is bound to (see the migration), if anything.
    pub bound_to: Option<String>,
    /// The webauthn-rs state (JSON), with the challenge.
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A ceremony taken for finishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyRecord {
    pub user_id: Option<Uuid>,
    pub bound_to: Option<String>,
    pub state: String,
}

/// After a passkey signed: its new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyUse<'a> {
    pub id: Uuid,
    pub passkey: &'a str,
    pub sign_count: i64,
    pub backup_state: bool,
    pub now: i64,
}

/// Passkeys and their ceremonies.
#[async_trait]
pub trait PasskeyStore: Send + Sync + 'static {
    /// Store a ceremony.
    async fn create_ceremony(&self, ceremony: &NewCeremony) -> StoreResult<()>;
    /// Take (delete and return) the ceremony `id` of `kind`: `Some` only for the first taker,
    /// and only while it is unexpired at `now`. An expired one is deleted all the same.
    async fn take_ceremony(
        &self,
        id: Uuid,
        kind: &str,
        now: i64,
    ) -> StoreResult<Option<CeremonyRecord>>;
    /// Add a passkey. `Conflict("credential")` (nothing written) when its credential id is
    /// registered already, to this user or another. `false` (nothing written) when the user
    /// has `max_per_user` passkeys.
    async fn add_passkey(&self, passkey: &PasskeyRecord, max_per_user: i64) -> StoreResult<bool>;
    /// The user's passkeys, oldest first.
    async fn passkeys(&self, user_id: Uuid) -> StoreResult<Vec<PasskeyRecord>>;
    /// The passkey of a credential id, whoever's it is.
    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>>;
    /// Rename the user's passkey `id`; `false` when it is not theirs.
    async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> StoreResult<bool>;
    /// Delete the user's passkey `id`; `false` when it is not theirs.
    async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool>;
    /// Record a use: the new state, counter and backup flag, `last_used_at`. Never moves the
    /// counter backwards (a slower parallel use loses). Whether it wrote.
    async fn passkey_used(&self, used: &PasskeyUse<'_>) -> StoreResult<bool>;
    /// Note the RFC 8176 `amr` values (space-separated) `session` was authenticated with.
    async fn set_session_amr(&self, session: Uuid, amr: &str) -> StoreResult<()>;
    /// The `amr` noted for `session`, if any.
    async fn session_amr(&self, session: Uuid) -> StoreResult<Option<String>>;
    /// Delete ceremonies that expired before `before`; returns how many.
    async fn purge_ceremonies(&self, before: i64) -> StoreResult<u64>;
}
