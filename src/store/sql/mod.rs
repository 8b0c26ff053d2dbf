//! The SQL store, written once and expanded for SQLite and PostgreSQL.
//!
//! Both backends accept `$N` placeholders, store ids as UUID text and times as unix seconds, so
//! one query text serves both. One file per store trait:
//!
//! | file          | trait          | holds                                                   |
//! |---------------|----------------|---------------------------------------------------------|
//! | `users.rs`    | `UserStore`    | users and roles                                         |
//! | `sessions.rs` | `SessionStore` | sessions and refresh-token rotation                     |
//! | `guard.rs`    | `GuardStore`   | rate-limit buckets and login-failure counters           |
//! | `audit.rs`    | `AuditStore`   | the audit log                                           |
//! | `devices.rs`  | `DeviceStore`  | device tokens; resetting an account's guard counters    |
//! | `import.rs`   | `ImportStore`  | batches of users moved in by `authgate import`          |
//! | `feed.rs`     | `FeedStore`    | verifier credentials; pages of the revocation feed      |
//! | `keys.rs`     | `Store`        | migrations, ping, signing keys, secrets, revocations    |
//! | `outbox.rs`   | `OutboxStore`  | the e-mail outbox                                       |
//! | `tokens.rs`   | `TokenStore`   | one-time tokens (reset, verification, e-mail change)    |
//! | `mfa.rs`      | `MfaStore`     | TOTP factors, recovery codes, login-step challenges     |
//! | `passkeys.rs` | `PasskeyStore` | passkeys, WebAuthn ceremonies in flight, session `amr`  |
//!
//! `revocations.rs` is no trait's: it writes revocation entries (and their `seq`) inside the
//! transaction of whichever method revokes something.
//!
//! # Why a macro per trait, not functions generic over `sqlx::Database`
//!
//! A generic function needs a bound for every type it binds or reads and for the executor
//! (`for<'e> &'e Pool<DB>: Executor<'e, Database = DB>`, `String: Type<DB> + Encode<'q, DB> +
//! Decode<'r, DB>`, `DB::Arguments<'q>: IntoArguments<'q, DB>`, `&str: ColumnIndex<DB::Row>` and
//! so on): a dozen `where` lines for every few lines of SQL, and the two backends are not
//! interchangeable anyway (the refresh claim and the migrator differ). So each file holds one
//! `macro_rules!` body that is ordinary Rust over a concrete driver type `$db`, and expands it
//! twice, inside `mod sqlite` and `mod postgres` at the bottom of the same file. A body names
//! every import itself (`use $crate::store::…` at its top), so it reads like a module and
//! depends on nothing at the place it is expanded; every query is a whole string literal at the
//! place it runs, and rustfmt formats the body like any other code (keep lines within 100
//! columns, or it silently gives up on the whole macro).

mod audit;
mod devices;
mod feed;
mod guard;
mod import;
mod keys;
mod listen;
mod mfa;
mod outbox;
mod passkeys;
mod refresh_claim;
mod revocations;
mod sessions;
mod tokens;
mod users;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::error::ErrorKind;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use super::{Store, StoreError, StoreResult};

/// How long a request waits for a pooled connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Open a pool for `url` (`sqlite://…` or `postgres://…`), without migrating.
pub async fn connect(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .context("could not connect to PostgreSQL (check DATABASE_URL)")?;
        Ok(Arc::new(PgStore { pool }))
    } else if url.starts_with("sqlite:") {
        // No `journal_mode` here: every connection the pool opens would run the pragma, and
        // it wants a lock it does not wait for, so a connection opened while another one
        // writes failed with "database is locked" (a 503 in the middle of a burst of sign-ups).
        // The file is switched to WAL once, below; WAL is a property of the file after that.
        let options = SqliteConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid sqlite: URL")?
            .create_if_missing(true)
            // FULL: an acknowledged registration survives power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let migration_lock = (!in_memory).then(|| {
            let mut path = options.get_filename().as_os_str().to_owned();
            path.push(".migrate-lock");
            PathBuf::from(path)
        });
        if !in_memory {
            switch_to_wal(&options).await?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_release(|conn, _| Box::pin(reusable(conn)))
            .connect_with(options)
            .await
            .context("could not open the SQLite database")?;
        Ok(Arc::new(SqliteStore {
            pool,
            migration_lock,
        }))
    } else {
        anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://")
    }
}

/// Put the SQLite file at `options` in WAL mode (readers never wait for the writer), with one
/// connection of its own, closed afterwards.
///
/// Instances starting at once on a fresh file race to switch it: the switch needs an exclusive
/// lock, and a connection that holds a shared one while another waits is refused at once
/// (SQLITE_BUSY, no busy wait: it would deadlock). Once one of them has switched, the pragma
/// only reads; so try again for a few seconds.
async fn switch_to_wal(options: &SqliteConnectOptions) -> anyhow::Result<()> {
    use sqlx::Connection;
    let options = options.clone().journal_mode(SqliteJournalMode::Wal);
    let mut attempt = 0;
    loop {
        match sqlx::SqliteConnection::connect_with(&options).await {
            Ok(conn) => return Ok(conn.close().await?),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("5") && attempt < 50 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e).context("could not open the SQLite database"),
        }
    }
}

/// Whether a SQLite connection going back to the pool may be handed out again.
///
/// SQLite rolls a transaction back by itself on some errors (a full disk, an I/O error);
/// sqlx does not notice, its own ROLLBACK then fails, and it still counts a transaction on
/// that connection. Handed out again, its next `BEGIN` would be a `SAVEPOINT` that a rollback
/// leaves open, holding the write lock against every other connection, so that writes stay
/// "database is locked" long after the disk has room again. Such a connection is closed
/// instead (the ping first runs any rollback still queued by a dropped transaction).
async fn reusable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

/// Translate a driver error; the only place that looks at `sqlx::Error`.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
                // SQLite has no constraint names, but both backends name the column in the message.
                let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
                let field = if text.contains("username") {
                    "username"
                } else if text.contains("email") {
                    "email"
                } else if text.contains("roles") {
                    "role"
                } else {
                    "record"
                };
                StoreError::Conflict(field)
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Database(db) if db.message().contains("database is locked") => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(db) if sqlite_file_unusable(db.as_ref()) => {
                StoreError::Unavailable(e.to_string())
            }
            // PostgreSQL refuses NUL and unconvertible characters in text (22021, 22P05): the
            // input's fault, and every such input is validated before it gets here; the net.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| c == "22021" || c == "22P05") =>
            {
                StoreError::Invalid("text with a NUL or an unsupported character")
            }
            // PostgreSQL: connection exceptions (08…), shutdown or restart (57P…), database
            // gone (3D000).
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| {
                    c.starts_with("08") || c.starts_with("57P") || c == "3D000"
                }) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Other(anyhow::Error::new(e)),
        }
    }
}

/// SQLite cannot use its file for now: the disk is full (`SQLITE_FULL`), the file or its
/// directory is read-only (`SQLITE_READONLY`), an I/O error (`SQLITE_IOERR`) or the file cannot
/// be opened (`SQLITE_CANTOPEN`), each with its extended codes. Like a PostgreSQL outage, this
/// passes: the server answers 503 and serves again once the file is usable, without a restart.
fn sqlite_file_unusable(db: &dyn sqlx::error::DatabaseError) -> bool {
    const READONLY: i32 = 8;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .and_then(|e| sqlx::error::DatabaseError::code(e)?.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, READONLY | IOERR | FULL | CANTOPEN))
}

/// An id column, which holds UUID text on both backends.
fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("corrupt id {s:?} in database: {e}")))
}

/// Escape `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The store over a SQLite connection pool.
pub(crate) struct SqliteStore {
    pool: sqlx::SqlitePool,
    /// A file beside the database that migration runs lock: sqlx's SQLite migrator takes no
    /// lock of its own, so two processes starting at once on a fresh file both try to create
    /// the tables. `None` for an in-memory database, which no other process can open.
    migration_lock: Option<PathBuf>,
}

impl SqliteStore {
    /// Begin a transaction that writes: `BEGIN IMMEDIATE`, which takes SQLite's write lock at
    /// once, waiting for it (the busy timeout) like any autocommitted write.
    ///
    /// A deferred `BEGIN` takes no lock until the first write, and anything that reads first
    /// (a `SELECT`, or SQLite preparing the FTS5 trigger of `users`, which reads the search
    /// index's own tables) opens a read transaction; SQLite then refuses the upgrade to a write
    /// at once with "database is locked" whenever another connection holds the lock, without
    /// the busy wait (waiting could deadlock). That was a 503 in a burst of sign-ups.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Wait for the migration lock; migrations run while the returned file is open.
    async fn lock_migrations(&self) -> StoreResult<Option<std::fs::File>> {
        let Some(path) = self.migration_lock.clone() else {
            return Ok(None);
        };
        let locked = tokio::task::spawn_blocking(move || {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            // Blocks until another process's migrations are done; released when closed.
            file.lock()?;
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(|e| StoreError::Other(anyhow::Error::new(e)))?;
        locked.map(Some).map_err(|e| {
            StoreError::Other(anyhow::Error::new(e).context("could not lock the migration file"))
        })
    }
}

/// The store over a PostgreSQL connection pool.
pub(crate) struct PgStore {
    pool: sqlx::PgPool,
}

impl PgStore {
    /// Begin a transaction (PostgreSQL locks rows as they are written; nothing to choose).
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Nothing to do: sqlx's PostgreSQL migrator holds an advisory lock while it runs.
    async fn lock_migrations(&self) -> StoreResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    /// A pool that cannot hand out a connection is `Unavailable` (503), not a bug (500).
    #[test]
    fn pool_errors_are_unavailable() {
        for e in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(matches!(StoreError::from(e), StoreError::Unavailable(_)));
        }
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Other(_)
        ));
    }
}
