//! PostgreSQL `LISTEN/NOTIFY`: how one instance hears, within milliseconds, what another
//! committed (a revocation entry, a user change, a key-ring change).
//!
//! Writers send `NOTIFY` inside the transaction that makes the change, so PostgreSQL delivers it
//! only if and when that transaction commits. A notification carries no data the receiver
//! trusts: it only says "look now", and the receiver runs the same `seq`-ordered poll the
//! fallback timer runs, so a lost, duplicated or coalesced notification costs latency, never a
//! change. PostgreSQL does not queue notifications for a session that is not listening, so
//! after every (re)connection the listener first sends [`Change::Resync`]: the receiver then
//! catches up on everything committed while nobody was listening.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use crate::store::Change;

/// The channel revocation entries (sessions, user changes) are announced on.
pub(super) const REVOCATIONS: &str = "authgate_revocations";
/// The channel key-ring changes are announced on.
pub(super) const KEYS: &str = "authgate_keys";

/// Longest wait between two attempts to re-establish a lost listener connection.
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// Listen on `pool`'s database until `tx`'s receiver is dropped, reconnecting as needed.
pub(super) async fn run(pool: sqlx::PgPool, tx: mpsc::Sender<Change>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = tokio::select! {
            _ = tx.closed() => return,
            l = connect(&pool) => l,
        };
        let mut listener = match connected {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "could not listen for changes; retrying");
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        // Listening from here on: catch up on what committed before.
        if tx.send(Change::Resync).await.is_err() {
            return;
        }
        loop {
            let next = tokio::select! {
                _ = tx.closed() => return,
                n = listener.try_recv() => n,
            };
            let change = match next {
                Ok(Some(n)) if n.channel() == KEYS => Change::Keys,
                Ok(Some(_)) => Change::Revocations,
                Ok(None) | Err(_) => {
                    tracing::warn!("lost the change listener connection; reconnecting");
                    break;
                }
            };
            if tx.send(change).await.is_err() {
                return;
            }
        }
    }
}

async fn connect(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection makes `try_recv` return, and this loop builds a fresh listener and
    // sends `Resync` only once it is listening again.
    listener.eager_reconnect(false);
    listener.listen_all([REVOCATIONS, KEYS]).await?;
    Ok(listener)
}
