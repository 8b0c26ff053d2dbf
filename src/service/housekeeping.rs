//! Work a server does on a timer rather than per request (picking up revocations written by the
//! CLI or other instances, purging what has expired), and the readiness check.

use std::time::Duration;

use super::error::{Error, Result};
use super::state::AuthState;
use crate::store::Change;

/// How often a server polls for revocations written by the CLI or other instances when the
/// database announces them (PostgreSQL `LISTEN/NOTIFY`): the fallback, should an announcement
/// be lost with its connection.
const REVOCATION_SYNC_MS: u64 = 3_000;
/// How often it polls when the database announces nothing (SQLite): a CLI change reaches a
/// running server within this, well inside a second. The poll is one indexed query.
const REVOCATION_POLL_MS: u64 = 250;
/// How often expired rows and buckets are purged.
const PURGE_SECS: u64 = 600;

/// Housekeeping running in the background for one [`AuthState`]; it stops when dropped.
#[must_use = "housekeeping stops when this handle is dropped"]
pub struct Housekeeping(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Housekeeping {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl AuthState {
    /// Start keeping this state in step with the database: on PostgreSQL, every revocation,
    /// user change and key-ring change another process commits is announced (`LISTEN/NOTIFY`)
    /// and picked up within milliseconds, with a poll every 3 s as the fallback; on SQLite, a
    /// poll every 250 ms. Purges run every 10 minutes. It also starts the mail sender, which
    /// delivers what the outbox holds (`super::outbox`). `Application` starts it; a host app
    /// that mounts `router()` itself calls this once and keeps the handle for as long as it
    /// serves. Without it, a logout made elsewhere never reaches this process.
    pub fn start_housekeeping(&self) -> Housekeeping {
        let changes = self.issuer().ok().and_then(|i| i.store.subscribe());
        let poll_ms = if changes.is_some() {
            REVOCATION_SYNC_MS
        } else {
            REVOCATION_POLL_MS
        };
        let state = self.clone();
        let mail_sender = self.spawn_mail_sender();
        let mut tasks = vec![tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(poll_ms));
            let mut last_purge = tokio::time::Instant::now();
            loop {
                tick.tick().await;
                state.sync_revocations().await;
                state.sync_keys().await;
                state.audit_held_back().await;
                if last_purge.elapsed() >= Duration::from_secs(PURGE_SECS) {
                    last_purge = tokio::time::Instant::now();
                    state.purge_expired().await;
                }
            }
        })];
        if let Some(mut changes) = changes {
            let state = self.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(first) = changes.recv().await {
                    // Announcements that queued up meanwhile are served by the same sync.
                    let mut keys = first != Change::Revocations;
                    while let Ok(next) = changes.try_recv() {
                        keys |= next != Change::Revocations;
                    }
                    state.sync_revocations().await;
                    if keys {
                        state.sync_keys().await;
                    }
                }
            }));
        }
        tasks.push(mail_sender);
        Housekeeping(tasks)
    }

    /// Readiness: `Unavailable` unless the database answers.
    pub(crate) async fn ping_database(&self) -> Result<()> {
        let issuer = self.issuer().map_err(|_| Error::Unavailable)?;
        issuer.store.ping().await.map_err(|_| Error::Unavailable)
    }

    /// Merge revocations written elsewhere (CLI, other instances) into memory.
    pub async fn sync_revocations(&self) {
        let Ok(issuer) = self.issuer() else { return };
        match issuer.revocations.sync(self.clock().now()).await {
            Ok(synced) => self.profiles_changed_elsewhere(&synced.users),
            Err(e) => tracing::warn!(error = %e, "could not sync revocations"),
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
        if let Err(e) = issuer.store.purge_ceremonies(now).await {
            tracing::warn!(error = %e, "passkey ceremony purge failed");
        }
        let retention = issuer.cfg.audit_retention;
        if let Err(e) = issuer.store.purge_events(now - retention).await {
            tracing::warn!(error = %e, "audit purge failed");
        }
    }
}
