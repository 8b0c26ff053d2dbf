//! The outbox sender: a background task per instance that claims due mails, sends them, and
//! retries with backoff. Claims hide a mail from every other instance for `LEASE_SECS`, so N
//! instances on one database send each mail once (ory/kratos#732 sent it N times).

use std::time::Duration;

use tracing::{info, warn};

use super::audit::{Event, EventKind};
use super::state::AuthState;
use crate::domain::Actor;
use crate::store::QueuedMail;

/// How often a sender looks for due mails. A sender is never woken by the request that
/// enqueued a mail: its writes then happen on its own clock, not right after the requests for
/// real accounts, so they cannot show in the timing of later requests (see `super::recovery`).
const POLL: Duration = Duration::from_secs(1);
/// How long a claim hides a mail from other senders (longer than any SMTP conversation).
const LEASE_SECS: i64 = 120;
/// Mails claimed at once.
const BATCH: i64 = 10;
/// Attempts before a mail is given up (audited as `mail_failed`).
pub(crate) const MAX_ATTEMPTS: i64 = 8;

/// Seconds before attempt `attempts + 1`: 30 s, doubling, at most an hour.
fn backoff(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    (30 * 2i64.pow(exp)).min(3600)
}

impl AuthState {
    /// The sender loop (started by `start_housekeeping`).
    pub(crate) fn spawn_mail_sender(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            loop {
                let claimed = state.send_due_mail().await;
                if claimed < BATCH as usize {
                    tokio::time::sleep(POLL).await;
                }
            }
        })
    }

    /// Where mail goes (for the start-up log), and whether it is really delivered.
    pub fn mail_transport(&self) -> Option<(String, bool)> {
        let issuer = self.issuer().ok()?;
        let mailer = &issuer.recovery.mailer;
        Some((mailer.describe(), mailer.delivers()))
    }

    /// Claim the due mails once and send them; returns how many were claimed.
    pub async fn send_due_mail(&self) -> usize {
        let Ok(issuer) = self.issuer() else { return 0 };
        let now = self.clock().now();
        let mails = match issuer.store.claim_mail(now, LEASE_SECS, BATCH).await {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "could not claim mail from the outbox");
                return 0;
            }
        };
        let claimed = mails.len();
        for mail in mails {
            self.send_one(mail).await;
        }
        claimed
    }

    async fn send_one(&self, mail: QueuedMail) {
        let Ok(issuer) = self.issuer() else { return };
        let context = serde_json::from_str(&mail.context).unwrap_or_default();
        let outcome = issuer
            .recovery
            .mailer
            .send(&mail.kind, &mail.recipient, &context)
            .await;
        let now = self.clock().now();
        let stored = match outcome {
            Ok(()) => {
                info!(mail_id = %mail.id, kind = mail.kind, "mail sent");
                issuer.store.mail_sent(mail.id, now).await
            }
            Err(e) if e.permanent || mail.attempts >= MAX_ATTEMPTS => {
                warn!(mail_id = %mail.id, kind = mail.kind, error = %e, "mail given up");
                let system = Actor::system();
                let event = Event::new(EventKind::MailFailed, &system.client)
                    .user(mail.user_id)
                    .detail(format!("{} after {} attempts", mail.kind, mail.attempts));
                self.audit(event).await;
                issuer
                    .store
                    .mail_failed(mail.id, None, now, &e.message)
                    .await
            }
            Err(e) => {
                let retry_at = now + backoff(mail.attempts);
                warn!(mail_id = %mail.id, kind = mail.kind, error = %e, retry_at, "mail not sent; will retry");
                issuer
                    .store
                    .mail_failed(mail.id, Some(retry_at), now, &e.message)
                    .await
            }
        };
        if let Err(e) = stored {
            // The claim runs out and the mail is tried again: at least once, never lost.
            warn!(mail_id = %mail.id, error = %e, "could not record the outcome of a mail");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_from_30_seconds_up_to_an_hour() {
        let waits: Vec<i64> = (1..=9).map(super::backoff).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
