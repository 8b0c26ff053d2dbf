//! The run's database: provisioned fresh (a temp-dir SQLite file, or a new PostgreSQL database
//! that is dropped at the end), migrated by authgate itself, then seeded in one transaction.
//!
//! Seeding hashes one password once, with the server's argon2 parameters, and gives every user
//! that hash: 10,000 real hashes would take minutes and measure nothing.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use sqlx::Connection;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use crate::Db;

/// Every seeded user's password.
pub const PASSWORD: &str = "bench password 1";
/// The user with three roles (for the token-size check).
pub const THREE_ROLE_EMAIL: &str = "three-roles@bench.example";

/// The e-mail of seeded user `i`.
pub fn email(i: usize) -> String {
    format!("user{i}@bench.example")
}

/// A database that exists for one run.
pub struct BenchDb {
    pub backend: Db,
    pub url: String,
    dir: std::path::PathBuf,
    pg: Option<(String, String)>,
}

impl BenchDb {
    pub async fn provision(backend: Db, pg_admin_url: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("authgate-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        match backend {
            Db::Sqlite => Ok(Self {
                backend,
                url: format!("sqlite://{}?mode=rwc", dir.join("authgate.db").display()),
                dir,
                pg: None,
            }),
            Db::Postgres => {
                let name = format!("authgate_bench_{}", std::process::id());
                let mut conn = sqlx::PgConnection::connect(pg_admin_url)
                    .await
                    .with_context(|| {
                        format!("could not connect to PostgreSQL at {pg_admin_url} (--pg-url)")
                    })?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .context("could not create the bench database")?;
                Ok(Self {
                    backend,
                    url: replace_db_name(pg_admin_url, &name),
                    dir,
                    pg: Some((pg_admin_url.to_owned(), name)),
                })
            }
        }
    }

    /// Remove the database (call after every child process using it has stopped).
    pub async fn drop_db(self) {
        if let Some((admin, name)) = &self.pg
            && let Ok(mut conn) = sqlx::PgConnection::connect(admin).await
        {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await
            {
                eprintln!("warning: could not drop {name}: {e}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// A directory for the run's scratch files (port files, the child processes' logs).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

/// `postgres://u@h:p/db?x` with `db` replaced.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// argon2id with authgate's parameters `m_kib` and `t`, one lane.
pub fn argon2(m_kib: u32, t: u32) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(m_kib, t, 1, None).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// One argon2id hash with authgate's parameters (the PHC string every seeded user gets).
pub fn hash_password(m_kib: u32, t: u32) -> anyhow::Result<String> {
    argon2(m_kib, t)?
        .hash_password(PASSWORD.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

/// Rows per multi-row INSERT: 8 parameters each, well under both backends' limits.
const CHUNK: usize = 1000;

macro_rules! seed_with {
    ($db:ty, $pool:expr, $users:expr, $hash:expr) => {{
        let pool = $pool;
        let now = unix_now();
        let mut tx = pool.begin().await?;
        let mut rows: Vec<(String, String, Option<String>)> = (0..$users)
            .map(|i| (Uuid::now_v7().to_string(), email(i), Some(format!("user{i}"))))
            .collect();
        let three = Uuid::now_v7().to_string();
        rows.push((three.clone(), THREE_ROLE_EMAIL.to_owned(), None));
        for chunk in rows.chunks(CHUNK) {
            let mut q = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO users (user_id, email, email_lower, username, username_lower, password_hash, is_active, created_at) ",
            );
            q.push_values(chunk, |mut b, (id, email, username)| {
                b.push_bind(id.clone())
                    .push_bind(email.clone())
                    .push_bind(email.to_lowercase())
                    .push_bind(username.clone())
                    .push_bind(username.as_ref().map(|u| u.to_lowercase()))
                    .push_bind($hash.to_owned())
                    .push_bind(true)
                    .push_bind(now);
            });
            q.build().execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO user_roles (user_id, role_name) SELECT user_id, 'user' FROM users")
            .execute(&mut *tx)
            .await?;
        for role in ["moderator", "admin"] {
            sqlx::query("INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2)")
                .bind(&three)
                .bind(role)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        pool.close().await;
    }};
}

/// Migrate with authgate's own migrations, then insert `users` users (plus the three-role one)
/// sharing `hash`, in one transaction.
pub async fn seed(db: &BenchDb, users: usize, hash: &str) -> anyhow::Result<()> {
    // Only the migrations, not `AuthState::from_settings`: that would also create the signing
    // key, which the first start of the child process does (and its start-up figure includes).
    let store = authgate::internals::connect(&db.url).await?;
    store
        .migrate()
        .await
        .context("applying migrations failed")?;
    drop(store);
    match db.backend {
        Db::Sqlite => seed_with!(
            sqlx::Sqlite,
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(sqlite_options(&db.url)?)
                .await?,
            users,
            hash
        ),
        Db::Postgres => seed_with!(
            sqlx::Postgres,
            PgPoolOptions::new()
                .max_connections(1)
                .connect(&db.url)
                .await?,
            users,
            hash
        ),
    }
    Ok(())
}

/// The id of seeded user `i` in a `--scale` run: UUID-shaped and, like authgate's UUIDv7
/// ids, in creation order (the admin list's order).
pub fn scale_user_id(i: usize) -> String {
    format!("00000000-0000-7000-8000-{i:012x}")
}

/// Sessions, refresh tokens and audit rows a `--scale` run gives every user, and the revoked
/// sessions it puts in force (so every server it starts loads them into memory).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ScaleShape {
    pub users: usize,
    pub sessions_per_user: usize,
    pub audit_per_user: usize,
    pub revoked_sessions: usize,
}

/// The `--scale` seeding statements for one backend, each with `$1` = a row count and (where
/// used) `$2` = the password hash, `$3` = now. Set-based (`generate_series` / a recursive
/// CTE), so the rows never cross the connection: a million users take seconds, not the
/// minutes a million bound parameters would.
struct ScaleSql {
    users: &'static str,
    sessions: &'static str,
    refresh_tokens: &'static str,
    audit: &'static str,
    revocations: &'static str,
    revocation_seq: &'static str,
}

const SCALE_SQLITE: ScaleSql = ScaleSql {
    users: "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
        INSERT INTO users (user_id, email, email_lower, username, username_lower, password_hash, \
          is_active, created_at) \
        SELECT printf('00000000-0000-7000-8000-%012x', i), 'user' || i || '@bench.example', \
          'user' || i || '@bench.example', 'user' || i, 'user' || i, $2, 1, $3 FROM n",
    sessions: "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
        INSERT INTO sessions (session_id, user_id, created_at, last_used_at, expires_at, idle_ttl, \
          idle_expires_at, remember_me, user_agent, ip) \
        SELECT printf('00000000-0000-7000-9000-%012x', i), \
          printf('00000000-0000-7000-8000-%012x', i % $3), \
          $2, $2, $2 + 2592000, 1209600, $2 + 1209600, 0, 'authgate-bench', '127.0.0.1' FROM n",
    refresh_tokens: "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
        INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, issued_at) \
        SELECT 'bench-seed-' || i, printf('00000000-0000-7000-9000-%012x', i), NULL, $2 FROM n",
    audit: "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
        INSERT INTO audit_log (at, event, user_id, ip, user_agent, detail) \
        SELECT $2 - $1 + i, CASE i % 2 WHEN 0 THEN 'registered' ELSE 'login_succeeded' END, \
          printf('00000000-0000-7000-8000-%012x', i % $3), '127.0.0.1', 'authgate-bench', '' \
        FROM n",
    revocations: "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
        INSERT INTO revocations (kind, subject, data, expires_at, created_at, seq) \
        SELECT 'session', printf('00000000-0000-7000-a000-%012x', i), '', $2 + 86400, $2, i + 1 \
        FROM n",
    revocation_seq: "UPDATE revocation_seq SET value = $1 WHERE id = 1",
};

const SCALE_POSTGRES: ScaleSql = ScaleSql {
    users: "INSERT INTO users (user_id, email, email_lower, username, username_lower, \
          password_hash, is_active, created_at) \
        SELECT '00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'), \
          'user' || i || '@bench.example', 'user' || i || '@bench.example', 'user' || i, \
          'user' || i, $2, TRUE, $3 FROM generate_series(0, $1 - 1) AS i",
    sessions: "INSERT INTO sessions (session_id, user_id, created_at, last_used_at, expires_at, \
          idle_ttl, idle_expires_at, remember_me, user_agent, ip) \
        SELECT '00000000-0000-7000-9000-' || lpad(to_hex(i), 12, '0'), \
          '00000000-0000-7000-8000-' || lpad(to_hex(i % $3), 12, '0'), \
          $2, $2, $2 + 2592000, 1209600, $2 + 1209600, FALSE, 'authgate-bench', '127.0.0.1' \
        FROM generate_series(0, $1 - 1) AS i",
    refresh_tokens: "INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, issued_at) \
        SELECT 'bench-seed-' || i, '00000000-0000-7000-9000-' || lpad(to_hex(i), 12, '0'), \
          NULL, $2 FROM generate_series(0, $1 - 1) AS i",
    audit: "INSERT INTO audit_log (at, event, user_id, ip, user_agent, detail) \
        SELECT $2 - $1 + i, CASE i % 2 WHEN 0 THEN 'registered' ELSE 'login_succeeded' END, \
          '00000000-0000-7000-8000-' || lpad(to_hex(i % $3), 12, '0'), '127.0.0.1', \
          'authgate-bench', '' FROM generate_series(0, $1 - 1) AS i",
    revocations: "INSERT INTO revocations (kind, subject, data, expires_at, created_at, seq) \
        SELECT 'session', '00000000-0000-7000-a000-' || lpad(to_hex(i), 12, '0'), '', \
          $2 + 86400, $2, i + 1 FROM generate_series(0, $1 - 1) AS i",
    revocation_seq: "SELECT setval('revocation_seq', GREATEST($1, 1))",
};

macro_rules! seed_scale_with {
    ($db:ty, $pool:expr, $sql:expr, $shape:expr, $hash:expr) => {{
        let pool = $pool;
        let (sql, shape) = ($sql, $shape);
        let now = unix_now();
        let users = shape.users as i64;
        let mut tx = pool.begin().await?;
        sqlx::query(sql.users)
            .bind(users)
            .bind($hash.to_owned())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let three = Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO users (user_id, email, email_lower, password_hash, is_active, created_at)              VALUES ($1, $2, $2, $3, TRUE, $4)",
        )
        .bind(&three)
        .bind(THREE_ROLE_EMAIL)
        .bind($hash.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO user_roles (user_id, role_name) SELECT user_id, 'user' FROM users")
            .execute(&mut *tx)
            .await?;
        for role in ["moderator", "admin"] {
            sqlx::query("INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2)")
                .bind(&three)
                .bind(role)
                .execute(&mut *tx)
                .await?;
        }
        let sessions = (shape.users * shape.sessions_per_user) as i64;
        sqlx::query(sql.sessions)
            .bind(sessions)
            .bind(now)
            .bind(users)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql.refresh_tokens)
            .bind(sessions)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql.audit)
            .bind((shape.users * shape.audit_per_user) as i64)
            .bind(now)
            .bind(users)
            .execute(&mut *tx)
            .await?;
        let revoked = shape.revoked_sessions as i64;
        sqlx::query(sql.revocations)
            .bind(revoked)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql.revocation_seq)
            .bind(revoked)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Statistics, as a live database has them (autovacuum's, or SQLite's optimize).
        sqlx::query("ANALYZE").execute(&pool).await?;
        pool.close().await;
    }};
}

/// Migrate, then seed a `--scale` database: `shape.users` users sharing `hash` (plus the
/// three-role user, the admin that searches), each with the role `user`, their sessions with
/// one refresh token each, their audit rows, and `shape.revoked_sessions` revoked sessions.
pub async fn seed_scale(db: &BenchDb, shape: ScaleShape, hash: &str) -> anyhow::Result<()> {
    let store = authgate::internals::connect(&db.url).await?;
    store
        .migrate()
        .await
        .context("applying migrations failed")?;
    drop(store);
    match db.backend {
        Db::Sqlite => seed_scale_with!(
            sqlx::Sqlite,
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(sqlite_options(&db.url)?.synchronous(SqliteSynchronous::Normal))
                .await?,
            SCALE_SQLITE,
            shape,
            hash
        ),
        Db::Postgres => seed_scale_with!(
            sqlx::Postgres,
            PgPoolOptions::new()
                .max_connections(1)
                .connect(&db.url)
                .await?,
            SCALE_POSTGRES,
            shape,
            hash
        ),
    }
    Ok(())
}

/// The database's size on disk: the SQLite file and its WAL, or `pg_database_size`.
pub async fn size_bytes(db: &BenchDb) -> anyhow::Result<u64> {
    match db.backend {
        Db::Sqlite => {
            let file = db.dir.join("authgate.db");
            let mut total = std::fs::metadata(&file)?.len();
            for extra in ["authgate.db-wal", "authgate.db-shm"] {
                total += std::fs::metadata(db.dir.join(extra)).map_or(0, |m| m.len());
            }
            Ok(total)
        }
        Db::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await?;
            let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(&mut conn)
                .await?;
            Ok(size as u64)
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The same connection options authgate's store uses (WAL, synchronous FULL, busy timeout).
fn sqlite_options(url: &str) -> anyhow::Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true))
}

/// The database's own floor under a refresh: durable single-row `UPDATE … RETURNING`,
/// each autocommitted, through sqlx with authgate's pool sizes. Clones share the pool.
#[derive(Clone)]
pub enum Floor {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Floor {
    /// Create `bench_floor` with one row per connection.
    pub async fn open(db: &BenchDb, rows: usize) -> anyhow::Result<Self> {
        let floor = match db.backend {
            Db::Sqlite => Floor::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(sqlite_options(&db.url)?)
                    .await?,
            ),
            Db::Postgres => Floor::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .connect(&db.url)
                    .await?,
            ),
        };
        let create =
            "CREATE TABLE IF NOT EXISTS bench_floor (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)";
        let insert = "INSERT INTO bench_floor (id, n) VALUES ($1, 0) ON CONFLICT (id) DO NOTHING";
        match &floor {
            Floor::Sqlite(pool) => {
                sqlx::query(create).execute(pool).await?;
                for id in 0..rows as i64 {
                    sqlx::query(insert).bind(id).execute(pool).await?;
                }
            }
            Floor::Postgres(pool) => {
                sqlx::query(create).execute(pool).await?;
                for id in 0..rows as i64 {
                    sqlx::query(insert).bind(id).execute(pool).await?;
                }
            }
        }
        Ok(floor)
    }

    /// One durable write: bump row `id` and read the new value back.
    pub async fn bump(&self, id: i64) -> anyhow::Result<i64> {
        let sql = "UPDATE bench_floor SET n = n + 1 WHERE id = $1 RETURNING n";
        Ok(match self {
            Floor::Sqlite(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await?,
            Floor::Postgres(pool) => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await?,
        })
    }

    /// Close the pool (every clone's).
    pub async fn close(self) {
        match self {
            Floor::Sqlite(pool) => pool.close().await,
            Floor::Postgres(pool) => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            replace_db_name("postgres://postgres@127.0.0.1:5432/test", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            replace_db_name("postgres://u:p@h/x?sslmode=disable", "b"),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(replace_db_name("postgres://h:1", "b"), "postgres://h:1/b");
    }
}
