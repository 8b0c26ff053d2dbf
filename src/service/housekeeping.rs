//! Work a server does on a timer rather than per request (picking up revocations written by the
//! CLI or other instances, purging what has expired), and the readiness check.

use super::error::{Error, Result};
use super::state::AuthState;

impl AuthState {
    /// Readiness: `Unavailable` unless the database answers.
    pub(crate) async fn ping_database(&self) -> Result<()> {
        let issuer = self.issuer().map_err(|_| Error::Unavailable)?;
        issuer.store.ping().await.map_err(|_| Error::Unavailable)
    }

    /// Merge revocations written elsewhere (CLI, other instances) into memory.
    pub async fn sync_revocations(&self) {
        let Ok(issuer) = self.issuer() else { return };
        if let Err(e) = issuer.revocations.sync(self.clock().now()).await {
            tracing::warn!(error = %e, "could not sync revocations");
        }
    }

    /// Drop expired revocation entries, drained rate-limit buckets, dead sessions and audit
    /// events past their retention.
    pub async fn purge_expired(&self) {
        let Ok(issuer) = self.issuer() else { return };
        let now = self.clock().now();
        issuer.revocations.purge(now);
        issuer.refresh_buckets.purge(self.clock().now_ms());
        if let Err(e) = issuer.store.purge_expired(now).await {
            tracing::warn!(error = %e, "purge failed");
        }
        let retention = issuer.cfg.audit_retention;
        if let Err(e) = issuer.store.purge_events(now - retention).await {
            tracing::warn!(error = %e, "audit purge failed");
        }
    }
}
