//! [`FeedStore`]: the credentials of verifiers elsewhere and the pages of the revocation feed
//! they read. Its own trait and file, like `devices.rs`, so that it touches no other trait; the
//! SQL is in `sql/feed.rs`.

use async_trait::async_trait;

use super::{RevocationRecord, StoreResult};

/// A verifier credential as stored: its name and dates, never the credential or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierRecord {
    pub name: String,
    pub created_at: i64,
    /// Set once revoked; a revoked credential reads nothing.
    pub revoked_at: Option<i64>,
}

/// Verifier credentials and the revocation feed.
#[async_trait]
pub trait FeedStore: Send + Sync + 'static {
    /// Store a new credential by the SHA-256 (hex) of its value. `Conflict("verifier")` when
    /// the name is taken (revoked names stay taken, so a log line names one credential).
    async fn create_verifier(&self, name: &str, token_hash: &str, now: i64) -> StoreResult<()>;
    /// The unrevoked credential whose hash is `token_hash`.
    async fn verifier_by_hash(&self, token_hash: &str) -> StoreResult<Option<VerifierRecord>>;
    /// Every credential, by name.
    async fn list_verifiers(&self) -> StoreResult<Vec<VerifierRecord>>;
    /// Revoke the credential `name`. Returns whether an unrevoked one was found.
    async fn revoke_verifier(&self, name: &str, now: i64) -> StoreResult<bool>;
    /// At most `limit` revocation entries still in force (expiring after `now`) with a `seq`
    /// above `after_seq`, in `seq` order: one page of the feed. The same promise as
    /// [`Store::load_revocations`](super::Store::load_revocations): a reader that has seen
    /// `seq` n has seen every entry written before it.
    async fn revocations_page(
        &self,
        now: i64,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<RevocationRecord>>;
}
