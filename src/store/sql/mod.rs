//! The SQL store, written once and instantiated for SQLite and PostgreSQL.
//!
//! Both backends accept `$N` placeholders, store ids as UUID text and times as unix seconds, so
//! every query is valid on both. Each of `users`, `sessions` and `server` is a macro that
//! implements one store trait for a driver, invoked below once per backend: sqlx's generic
//! executor bounds would obscure the queries far more than a macro does.

mod guard;
mod server;
mod sessions;
mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::error::ErrorKind;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Row};

use super::{
    AuditEvent, AuditQuery, AuditRecord, AuditStore, GuardStore, LockoutPolicy, NewSession,
    NewUser, Rate, RevocationRecord, RoleRecord, RotateOutcome, Rotation, SessionRecord,
    SessionStore, Store, StoreError, StoreResult, StoredKey, UserQuery, UserRecord, UserStore,
};

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
        let options = SqliteConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid sqlite: URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged registration survives power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .context("could not open the SQLite database")?;
        Ok(Arc::new(SqliteStore { pool }))
    } else {
        anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://")
    }
}

/// Translate a driver error; the only place that looks at `sqlx::Error`.
fn map_err(e: sqlx::Error) -> StoreError {
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
        // PostgreSQL refuses NUL and unconvertible characters in text (22021, 22P05): the
        // input's fault, and every such input is validated before it gets here; this is the net.
        sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "22021" || c == "22P05") => {
            StoreError::Invalid("text with a NUL or an unsupported character")
        }
        // PostgreSQL: connection exceptions (08…), shutdown or restart (57P…), database gone (3D000).
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "3D000") =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(anyhow::Error::new(e)),
    }
}

fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("corrupt id {s:?} in database: {e}")))
}

const USER_COLUMNS: &str = "user_id, email, username, password_hash, is_active, created_at, last_login_at, last_activity_at";
const SESSION_COLUMNS: &str = "session_id, user_id, created_at, last_used_at, expires_at, idle_expires_at, remember_me, user_agent, ip";

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
pub struct SqliteStore {
    pub(crate) pool: sqlx::SqlitePool,
}

/// The store over a PostgreSQL connection pool.
pub struct PgStore {
    pub(crate) pool: sqlx::PgPool,
}

users::impl_user_store!(SqliteStore, sqlx::Sqlite);
users::impl_user_store!(PgStore, sqlx::Postgres);
sessions::impl_session_store!(SqliteStore, sqlx::Sqlite);
sessions::impl_session_store!(PgStore, sqlx::Postgres);
guard::impl_guard_store!(SqliteStore);
guard::impl_guard_store!(PgStore);
server::impl_server_store!(SqliteStore, crate::store::migrate::sqlite);
server::impl_server_store!(PgStore, crate::store::migrate::postgres);
