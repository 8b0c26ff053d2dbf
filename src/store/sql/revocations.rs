//! Writing revocation entries inside a caller's transaction, so that an entry commits with the
//! change it records (a session revoked, a user changed), and its `seq`.
//!
//! # Why `seq` order is commit order
//!
//! Other instances poll `seq > last_seen`, so a row must never commit with a `seq` below one
//! that a reader has already seen. SQLite writers serialise on the database's write lock, which
//! each transaction holds from its first write to its commit: bumping the counter row inside the
//! transaction (`revocation_seq`) is enough.
//!
//! PostgreSQL hands out `nextval` without waiting for earlier holders to commit: seq 11 may
//! commit before 10, and a poll after 11 would skip 10 for good. Re-reading a window below the
//! last seen value only narrows that (a transaction can stay open longer than any window), and
//! tracking gaps needs a timeout for gaps that never fill (rollbacks, upserts that move a row to
//! a new value). Instead every writer takes one transaction-level advisory lock before it takes
//! a value and keeps it until it commits or rolls back, so values are handed out in commit
//! order. PostgreSQL makes a commit visible before it releases the transaction's locks, so by
//! the time the next writer gets a value every earlier one is visible: any snapshot that sees
//! seq n sees everything below n. The cost is that revocation writes (logouts, admin changes)
//! serialise across instances, for the moment between the lock and the commit; writers take
//! it last in their transaction and then touch only `revocations`, which nothing else locks
//! (the purge's single `DELETE` waits on no one), so it cannot deadlock.

use crate::store::RevocationRecord;

/// `write_revocation(tx, entry)`: the body for a sqlx driver `$db`, with the backend's
/// statement that reserves the next `seq` (`$reserve`) and the upsert that uses it (`$upsert`).
macro_rules! revocation_writer {
    ($db:ty, $reserve:expr, $upsert:expr) => {
        use $crate::store::{RevocationRecord, StoreResult};

        /// Upsert `entry` inside `tx` with a fresh `seq` (its own `seq` is ignored).
        pub(in crate::store::sql) async fn write_revocation(
            tx: &mut sqlx::Transaction<'static, $db>,
            entry: &RevocationRecord,
        ) -> StoreResult<()> {
            sqlx::query($reserve).execute(&mut **tx).await?;
            sqlx::query($upsert)
                .bind(&entry.kind)
                .bind(&entry.subject)
                .bind(&entry.data)
                .bind(entry.expires_at)
                .bind(entry.created_at)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
    };
}

pub(super) mod sqlite {
    revocation_writer!(
        sqlx::Sqlite,
        "UPDATE revocation_seq SET value = value + 1 WHERE id = 1",
        "INSERT INTO revocations (kind, subject, data, expires_at, created_at, seq) \
         VALUES ($1, $2, $3, $4, $5, (SELECT value FROM revocation_seq WHERE id = 1)) \
         ON CONFLICT (kind, subject) DO UPDATE SET data = excluded.data, \
           expires_at = excluded.expires_at, created_at = excluded.created_at, seq = excluded.seq"
    );
}

pub(super) mod postgres {
    // The key is arbitrary ("revocati" in ASCII); sqlx's migration lock uses another. The
    // NOTIFY (`super::listen`) goes out when, and only if, the transaction commits.
    revocation_writer!(
        sqlx::Postgres,
        "SELECT pg_advisory_xact_lock(8243124913752339561), \
         pg_notify('authgate_revocations', '')",
        "INSERT INTO revocations (kind, subject, data, expires_at, created_at, seq) \
         VALUES ($1, $2, $3, $4, $5, nextval('revocation_seq')) \
         ON CONFLICT (kind, subject) DO UPDATE SET data = excluded.data, \
           expires_at = excluded.expires_at, created_at = excluded.created_at, seq = excluded.seq"
    );
}

/// The entry that marks `session` revoked until `until`.
pub(super) fn session_entry(session: &str, now: i64, until: i64) -> RevocationRecord {
    RevocationRecord {
        kind: "session".into(),
        subject: session.into(),
        data: "{}".into(),
        expires_at: until,
        created_at: now,
        seq: 0,
    }
}
