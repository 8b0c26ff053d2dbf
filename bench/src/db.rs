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
