//! Reading the users of a tutorial's PostgreSQL database (seed 000's schema: `users(id,
//! username, email, password)`, `roles(id, name)`, `users_to_roles(user_id, role_id)`), for
//! `authgate import tutorial`. Read-only: one connection, keyset pages in `users.id` order, so
//! memory stays bounded however many users there are.

use anyhow::Context;
use sqlx::{Connection, PgConnection, Row};

/// One tutorial user, as stored there (nothing checked yet).
#[derive(Debug, Clone)]
pub struct TutorialUser {
    pub id: i64,
    pub username: Option<String>,
    pub email: Option<String>,
    /// passlib's hash (`$2b$…`), or whatever the column holds.
    pub password: Option<String>,
    /// `roles.name` of each of the user's roles (`ROLE_USER`, …).
    pub roles: Vec<String>,
}

/// An open connection to a tutorial's database.
pub struct TutorialSource {
    conn: PgConnection,
}

impl TutorialSource {
    /// Connect to `url` (`postgres://…`) and check that it has the tutorial's tables.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            anyhow::bail!("--from must be a postgres:// URL of the tutorial's database");
        }
        let mut conn = PgConnection::connect(url)
            .await
            .context("could not connect to the tutorial's database (check --from)")?;
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = \
             current_schema() AND table_name IN ('users', 'roles', 'users_to_roles')",
        )
        .fetch_one(&mut conn)
        .await?;
        if tables != 3 {
            anyhow::bail!(
                "the database at --from lacks the tutorial's tables (users, roles, \
                 users_to_roles); was its `alembic upgrade head` run?"
            );
        }
        Ok(Self { conn })
    }

    /// How many users there are.
    pub async fn count(&mut self) -> anyhow::Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut self.conn)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` users with an id above `after`, in id order, each with their role names.
    pub async fn page(&mut self, after: i64, limit: i64) -> anyhow::Result<Vec<TutorialUser>> {
        let rows = sqlx::query(
            // The page is cut before the joins: grouping first would aggregate every later
            // user on every page (quadratic in the table's size).
            "SELECT u.id::bigint AS id, u.username::text AS username, u.email::text AS email, \
               u.password::text AS password, \
               COALESCE(ARRAY_AGG(r.name::text ORDER BY r.name) \
                 FILTER (WHERE r.name IS NOT NULL), '{}') AS roles \
             FROM (SELECT * FROM users WHERE id > $1 ORDER BY id LIMIT $2) u \
             LEFT JOIN users_to_roles ur ON ur.user_id = u.id \
             LEFT JOIN roles r ON r.id = ur.role_id \
             GROUP BY u.id, u.username, u.email, u.password ORDER BY u.id",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&mut self.conn)
        .await
        .context("could not read the tutorial's users")?;
        rows.iter()
            .map(|r| {
                Ok(TutorialUser {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    email: r.try_get("email")?,
                    password: r.try_get("password")?,
                    roles: r.try_get("roles")?,
                })
            })
            .collect()
    }
}
