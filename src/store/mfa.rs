//! [`MfaStore`]: the second factor (issue #11): one TOTP factor per user (its secret sealed by
//! the caller), recovery codes (keyed hashes), the login step's challenges, and which sessions
//! passed the second factor. The SQL is in `sql/mfa.rs`, the promises in `contract/mfa.rs`.
//!
//! Every decision that must happen once is one atomic `UPDATE … WHERE`: a time step is
//! accepted only if it is larger than the stored one, a recovery code only while unused, a
//! challenge attempt only below its budget.

use async_trait::async_trait;
use uuid::Uuid;

use super::{NewMail, StoreResult};

/// A user's TOTP factor as stored (the secret still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorRecord {
    pub user_id: Uuid,
    /// The sealed secret (`crate::token::sealed`); never shown, never logged.
    pub secret_sealed: String,
    /// The id of the key it is sealed under.
    pub key_id: String,
    pub created_at: i64,
    /// `None` while the enrolment waits for its first code.
    pub confirmed_at: Option<i64>,
    /// The last accepted RFC 6238 time step.
    pub last_step: i64,
}

/// The login step's challenge to store: only the keyed hash of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChallenge {
    pub hash: String,
    pub user_id: Uuid,
    /// SHA-256 (hex) of the password hash the password was checked against.
    pub password_tag: String,
    pub remember_me: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A challenge that may take one more attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    pub user_id: Uuid,
    pub password_tag: String,
    pub remember_me: bool,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// Builds the mail about a used recovery code once the number left is known (inside the
/// transaction that uses it).
pub type RecoveryMail<'a> = &'a (dyn Fn(i64) -> NewMail + Send + Sync);

/// The second factor's records.
#[async_trait]
pub trait MfaStore: Send + Sync + 'static {
    /// Start (or restart) an enrolment: replace the user's pending factor by this one.
    /// `false` (nothing written) when the user has a confirmed factor.
    async fn put_pending_factor(&self, factor: &FactorRecord) -> StoreResult<bool>;
    /// The user's factor, pending or confirmed.
    async fn factor(&self, user_id: Uuid) -> StoreResult<Option<FactorRecord>>;
    /// Confirm the pending factor with the code of `step`, in one transaction: the factor is
    /// active with `last_step = step`, the user's recovery codes are replaced by `codes`
    /// (keyed hashes), `mail` is enqueued. `false` (nothing written) when there is no pending
    /// factor or `step` is not above its `last_step`.
    async fn confirm_factor(
        &self,
        user_id: Uuid,
        step: i64,
        codes: &[String],
        mail: Option<&NewMail>,
        now: i64,
    ) -> StoreResult<bool>;
    /// Accept `step` for the confirmed factor: `true` only if it is above the stored step,
    /// which then becomes `step`. Of concurrent calls with one step exactly one wins.
    async fn accept_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool>;
    /// Replace the user's recovery codes (all of them, used or not) by `codes`. `false`
    /// (nothing written) without a confirmed factor.
    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        codes: &[String],
        now: i64,
    ) -> StoreResult<bool>;
    /// Use the recovery code `hash` of the user and enqueue `mail(left)` in one transaction.
    /// `Some(left)` (unused codes after this one) when it was unused; `None` otherwise.
    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        hash: &str,
        mail: RecoveryMail<'_>,
        now: i64,
    ) -> StoreResult<Option<i64>>;
    /// Unused recovery codes of the user.
    async fn recovery_codes_left(&self, user_id: Uuid) -> StoreResult<i64>;
    /// Delete the user's factor and recovery codes (and enqueue `mail`) in one transaction.
    /// Returns whether there was a factor.
    async fn delete_factor(&self, user_id: Uuid, mail: Option<&NewMail>) -> StoreResult<bool>;
    /// Store a login-step challenge.
    async fn create_challenge(&self, challenge: &NewChallenge) -> StoreResult<()>;
    /// Count one attempt on the challenge `hash`, atomically: `Some` while it is unused,
    /// unexpired and below `max_attempts` (this attempt counted); `None` (nothing counted)
    /// otherwise.
    async fn challenge_attempt(
        &self,
        hash: &str,
        max_attempts: i64,
        now: i64,
    ) -> StoreResult<Option<ChallengeRecord>>;
    /// Use up the challenge (its second factor passed, or it is to die). Whether it was unused.
    async fn finish_challenge(&self, hash: &str, now: i64) -> StoreResult<bool>;
    /// Note that `session`'s second factor was checked at `now`.
    async fn mark_session_mfa(&self, session: Uuid, now: i64) -> StoreResult<()>;
    /// When `session`'s second factor was checked, if it was.
    async fn session_mfa(&self, session: Uuid) -> StoreResult<Option<i64>>;
    /// Delete challenges that expired before `before`; returns how many.
    async fn purge_challenges(&self, before: i64) -> StoreResult<u64>;
}
