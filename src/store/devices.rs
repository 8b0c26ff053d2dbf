//! [`DeviceStore`]: device tokens (OWASP's "device cookie"), and forgetting every guard counter
//! of an account. Its own trait and file, beside the four in `mod.rs`, so that it can grow
//! without touching theirs; the SQL is in `sql/devices.rs`.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreResult;

/// A device token to store: only its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeviceToken {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    pub user_id: Uuid,
    /// SHA-256 (hex) of the password hash it was issued under: a new hash voids it.
    pub pw_tag: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Device tokens, and the reset of every counter an account's logins are guarded by.
#[async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    /// Store a device token, and forget the user's oldest ones beyond the newest `keep`.
    async fn insert_device_token(&self, token: &NewDeviceToken, keep: i64) -> StoreResult<()>;
    /// Count one login attempt made with the device token `hash`, before its password is
    /// checked, atomically. `Some(failures)`, this attempt included, when the token is
    /// `user_id`'s, was issued under `pw_tag`, has not expired and has counted fewer than
    /// `max_failures` attempts since it was issued; `None` (nothing counted) otherwise.
    async fn begin_device_attempt(
        &self,
        hash: &str,
        user_id: Uuid,
        pw_tag: &str,
        max_failures: i64,
        now: i64,
    ) -> StoreResult<Option<i64>>;
    /// Delete one device token (used up by a login, or burned). Returns whether it existed.
    async fn delete_device_token(&self, hash: &str) -> StoreResult<bool>;
    /// Delete every device token of a user; returns how many.
    async fn delete_user_device_tokens(&self, user_id: Uuid) -> StoreResult<u64>;
    /// Forget every counter guarding the logins of `account` (the key of user `user_id`):
    /// the failure rows `account` and `account|<anything>`, the rate-limit bucket `bucket`,
    /// and the attempts counted on the user's device tokens. Returns whether anything was
    /// forgotten.
    async fn clear_account_guards(
        &self,
        account: &str,
        bucket: &str,
        user_id: Uuid,
    ) -> StoreResult<bool>;
    /// Delete expired device tokens; returns how many.
    async fn purge_device_tokens(&self, now: i64) -> StoreResult<u64>;
}
