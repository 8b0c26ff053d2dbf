//! The import scenario: `authgate import tutorial` of a tutorial-shaped database, timed.
//!
//! A fresh PostgreSQL database gets seed 000's schema (the same translated alembic migrations
//! as the CLI test, `tests/cli/fixtures/tutorial_000_schema.sql`) and `users` users made by one
//! `INSERT … SELECT FROM generate_series`: passlib bcrypt hashes (one hash shared, since the
//! import never verifies them), every user `ROLE_USER`, every 100th also `ROLE_MODERATOR`, every
//! 1,000th `ROLE_ADMIN`, every 50th without a password. Then `AuthState::import_tutorial` (what
//! the CLI runs) moves them into a fresh, empty authgate database on the run's backend, and
//! a second run checks that nothing changes. Both databases are dropped afterwards.

use std::time::Instant;

use anyhow::{Context, bail};
use authgate::AuthState;
use serde::Serialize;
use sqlx::Connection;

use crate::Db;
use crate::db::replace_db_name;
use crate::serve::authgate_settings;

/// Seed 000's tables, as its migrations create them.
const SCHEMA: &str = include_str!("../../tests/cli/fixtures/tutorial_000_schema.sql");
/// A passlib bcrypt hash (from `tests/cli/fixtures/tutorial_000_users.json`).
const PASSLIB_HASH: &str = "$2b$12$zOaFkN.UejrCjjSLJF7WQu0OEEoD73SjRjIMxtQZeX30kV05CXzae";
/// The target: 100,000 users in under a minute, i.e. at least this many a second.
pub const TARGET_PER_S: f64 = 100_000.0 / 60.0;

/// What the import scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct ImportFigure {
    pub users: usize,
    /// Wall time of the import (connect, read, check, write), seconds.
    pub seconds: f64,
    pub users_per_s: f64,
    /// Wall time of the second, idempotent run, seconds.
    pub rerun_seconds: f64,
}

impl ImportFigure {
    /// One line for the report.
    pub fn summary(&self) -> String {
        format!(
            "import: {} tutorial users in {:.1} s ({:.0} users/s); the idempotent re-run {:.1} s",
            self.users, self.seconds, self.users_per_s, self.rerun_seconds
        )
    }
}

/// Run the scenario with `users` tutorial users, authgate on `backend`.
pub async fn run(backend: Db, pg_url: &str, users: usize) -> anyhow::Result<ImportFigure> {
    let id = std::process::id();
    let source = Scratch::postgres(pg_url, &format!("authgate_bench_tutorial_{id}")).await?;
    let target = match backend {
        Db::Postgres => Scratch::postgres(pg_url, &format!("authgate_bench_import_{id}")).await?,
        Db::Sqlite => Scratch::sqlite(&format!("authgate-bench-import-{id}"))?,
    };
    let outcome = measure(&source.url, &target.url, users).await;
    source.drop().await;
    target.drop().await;
    outcome
}

async fn measure(source: &str, target: &str, users: usize) -> anyhow::Result<ImportFigure> {
    seed_tutorial(source, users).await?;
    let state = AuthState::from_settings(&authgate_settings(target)?).await?;
    let start = Instant::now();
    let report = state
        .import_tutorial(source, false, &mut ())
        .await
        .map_err(|e| anyhow::anyhow!("import: {e}"))?;
    let seconds = start.elapsed().as_secs_f64();
    if report.created != users as u64 || report.skipped != 0 {
        bail!(
            "import: {} of {users} users created, {} skipped",
            report.created,
            report.skipped
        );
    }
    let start = Instant::now();
    let again = state
        .import_tutorial(source, false, &mut ())
        .await
        .map_err(|e| anyhow::anyhow!("import again: {e}"))?;
    let rerun_seconds = start.elapsed().as_secs_f64();
    if again.created != 0 || again.existing != users as u64 {
        bail!(
            "a second import changed something: {} created",
            again.created
        );
    }
    Ok(ImportFigure {
        users,
        seconds,
        users_per_s: users as f64 / seconds,
        rerun_seconds,
    })
}

/// Seed 000's schema and `users` users.
async fn seed_tutorial(url: &str, users: usize) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(SCHEMA))
        .execute(&mut conn)
        .await
        .context("applying the tutorial's migrations")?;
    sqlx::query(
        "INSERT INTO users (id, username, email, password) \
         SELECT i, 'user' || i, 'User' || i || '@Tutorial.example', \
           CASE WHEN i % 50 = 0 THEN NULL ELSE $2 END \
         FROM generate_series(1, $1) AS i",
    )
    .bind(users as i32)
    .bind(PASSLIB_HASH)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO users_to_roles (user_id, role_id) \
         SELECT u.id, r.id FROM users u JOIN roles r ON r.name = 'ROLE_USER' \
           OR (r.name = 'ROLE_MODERATOR' AND u.id % 100 = 0) \
           OR (r.name = 'ROLE_ADMIN' AND u.id % 1000 = 0)",
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// A database that lives for the scenario.
struct Scratch {
    url: String,
    pg: Option<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

impl Scratch {
    async fn postgres(admin: &str, name: &str) -> anyhow::Result<Self> {
        let mut conn = sqlx::PgConnection::connect(admin)
            .await
            .with_context(|| format!("could not connect to PostgreSQL at {admin} (--pg-url)"))?;
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await?;
        }
        Ok(Self {
            url: replace_db_name(admin, name),
            pg: Some((admin.to_owned(), name.to_owned())),
            dir: None,
        })
    }

    fn sqlite(name: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            url: format!("sqlite://{}?mode=rwc", dir.join("authgate.db").display()),
            pg: None,
            dir: Some(dir),
        })
    }

    async fn drop(self) {
        if let Some((admin, name)) = &self.pg
            && let Ok(mut conn) = sqlx::PgConnection::connect(admin).await
        {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
            {
                eprintln!("warning: could not drop {name}: {e}");
            }
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
