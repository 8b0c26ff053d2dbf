//! One fresh database per test, and plain SQL on it for the few tests that must plant or read
//! a row the API cannot (each such caller says why).
//!
//! SQLite: a file in a temp dir. PostgreSQL: a database `authgate_test_<uuid>` created on the
//! `TEST_DATABASE_URL` server and dropped (WITH (FORCE)) when the test ends, even if it panicked.

use sqlx::Connection;
use tempfile::TempDir;
use uuid::Uuid;

use super::backends::{Backend, postgres_url};

/// `body` with `conn` a fresh connection to the test database of either backend.
macro_rules! on_connection {
    ($db:ident, |$conn:ident| $body:expr) => {
        match $db.backend {
            Backend::Sqlite => {
                let mut $conn = sqlx::SqliteConnection::connect(&$db.url)
                    .await
                    .expect("connect to the test database");
                $body
            }
            Backend::Postgres => {
                let mut $conn = sqlx::PgConnection::connect(&$db.url)
                    .await
                    .expect("connect to the test database");
                $body
            }
        }
    };
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pub(super) dir: TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn provision(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, pg_name) = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
                (url, None)
            }
            Backend::Postgres => {
                let admin = postgres_url().expect("TEST_DATABASE_URL");
                let name = format!("authgate_test_{}", Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                (replace_db_name(&admin, &name), Some(name))
            }
        };
        Self {
            url,
            backend,
            dir,
            pg_name,
        }
    }

    /// The PostgreSQL database's name (None on SQLite).
    pub fn pg_name(&self) -> Option<&str> {
        self.pg_name.as_deref()
    }

    /// Run one statement on this test's database; every bind is text (cast in the SQL where a
    /// column is not, e.g. `CAST($1 AS BIGINT)`, which both dialects read). Rows affected.
    pub async fn execute(&self, sql: &str, binds: &[&str]) -> u64 {
        on_connection!(self, |conn| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
            for bind in binds {
                query = query.bind(*bind);
            }
            query.execute(&mut conn).await.expect(sql).rows_affected()
        })
    }

    /// The single text value `sql` selects, if a row matched.
    pub async fn fetch_text(&self, sql: &str, binds: &[&str]) -> Option<String> {
        on_connection!(self, |conn| {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()));
            for bind in binds {
                query = query.bind(*bind);
            }
            query.fetch_optional(&mut conn).await.expect(sql)
        })
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let Some(admin) = postgres_url() else { return };
        // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}
