//! Work a server does on a timer rather than per request (picking up revocations written by the
//! CLI or other instances, purging what has expired), and the readiness check.

use std::time::Duration;

use super::error::{Error, Result};
use super::state::AuthState;

/// How often a server picks up revocations written by the CLI or other instances.
const REVOCATION_SYNC_SECS: u64 = 3;
/// How often expired rows and buckets are purged.
const PURGE_SECS: u64 = 600;

/// Housekeeping running in the background for one [`AuthState`]; it stops when dropped.
#[must_use = "housekeeping stops when this handle is dropped"]
pub struct Housekeeping {
    timer: tokio::task::JoinHandle<()>,
    mail_sender: tokio::task::JoinHandle<()>,
}

impl Drop for Housekeeping {
    fn drop(&mut self) {
        self.timer.abort();
        self.mail_sender.abort();
    }
}

impl AuthState {
    /// Start the timer that keeps this state in step with the database: revocations made by
    /// the CLI or another instance every 3 s, purges every 10 minutes; and the mail sender,
    /// which delivers what the outbox holds (`super::outbox`). `Application` starts it;
    /// a host app that mounts `router()` itself calls this once and keeps the handle for as
    /// long as it serves. Without it, a logout made elsewhere never reaches this process.
    pub fn start_housekeeping(&self) -> Housekeeping {
        let state = self.clone();
        let mail_sender = self.spawn_mail_sender();
        let timer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(REVOCATION_SYNC_SECS));
            for ticks in 1u64.. {
                tick.tick().await;
                state.sync_revocations().await;
                state.audit_held_back().await;
                if ticks % (PURGE_SECS / REVOCATION_SYNC_SECS) == 0 {
                    state.purge_expired().await;
                }
            }
        });
        Housekeeping { timer, mail_sender }
    }

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

    /// Write the summary rows of repeated refusals whose window has ended, then drop expired
    /// revocation entries, drained rate-limit buckets, dead sessions and audit events past
    /// their retention.
    pub async fn purge_expired(&self) {
        let Ok(issuer) = self.issuer() else { return };
        self.audit_held_back().await;
        let now = self.clock().now();
        issuer.revocations.purge(now);
        issuer.refresh_buckets.purge(self.clock().now_ms());
        if let Err(e) = issuer.store.purge_expired(now).await {
            tracing::warn!(error = %e, "purge failed");
        }
        if let Err(e) = issuer.store.purge_device_tokens(now).await {
            tracing::warn!(error = %e, "device token purge failed");
        }
        let mail_before = now - issuer.recovery.mail_retention;
        if let Err(e) = issuer.store.purge_mail(mail_before).await {
            tracing::warn!(error = %e, "outbox purge failed");
        }
        if let Err(e) = issuer.store.purge_tokens(now).await {
            tracing::warn!(error = %e, "one-time token purge failed");
        }
        if let Err(e) = issuer.store.purge_challenges(now).await {
            tracing::warn!(error = %e, "mfa challenge purge failed");
        }
        let retention = issuer.cfg.audit_retention;
        if let Err(e) = issuer.store.purge_events(now - retention).await {
            tracing::warn!(error = %e, "audit purge failed");
        }
    }
}
