//! The SQL store, written once and instantiated for SQLite and PostgreSQL.
//!
//! Both backends accept `$N` placeholders, store ids as UUID text and times as unix seconds, so
//! every query below is valid on both. A macro stamps out one implementation per driver: sqlx's
//! generic executor bounds would obscure the queries far more than the macro does.

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

macro_rules! sql_store {
    ($module:ident, $name:ident, $db:ty, $pool:ty, $migrator:path) => {
        mod $module {
            use super::*;
            use crate::store::*;
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};

            type DbRow = <$db as sqlx::Database>::Row;

            /// The store over this backend's connection pool.
            pub struct $name {
                pub(crate) pool: $pool,
            }

            fn user_from_row(row: &DbRow, roles: Vec<String>) -> StoreResult<UserRecord> {
                let get = |e: sqlx::Error| map_err(e);
                Ok(UserRecord {
                    id: parse_uuid(&row.try_get::<String, _>("user_id").map_err(get)?)?,
                    email: row.try_get("email").map_err(get)?,
                    username: row.try_get("username").map_err(get)?,
                    password_hash: row.try_get("password_hash").map_err(get)?,
                    is_active: row.try_get("is_active").map_err(get)?,
                    roles,
                    created_at: row.try_get("created_at").map_err(get)?,
                    last_login_at: row.try_get("last_login_at").map_err(get)?,
                    last_activity_at: row.try_get("last_activity_at").map_err(get)?,
                })
            }

            fn session_from_row(row: &DbRow) -> StoreResult<SessionRecord> {
                let get = |e: sqlx::Error| map_err(e);
                Ok(SessionRecord {
                    id: parse_uuid(&row.try_get::<String, _>("session_id").map_err(get)?)?,
                    user_id: parse_uuid(&row.try_get::<String, _>("user_id").map_err(get)?)?,
                    created_at: row.try_get("created_at").map_err(get)?,
                    last_used_at: row.try_get("last_used_at").map_err(get)?,
                    expires_at: row.try_get("expires_at").map_err(get)?,
                    idle_expires_at: row.try_get("idle_expires_at").map_err(get)?,
                    remember_me: row.try_get("remember_me").map_err(get)?,
                    user_agent: row.try_get("user_agent").map_err(get)?,
                    ip: row.try_get("ip").map_err(get)?,
                })
            }

            impl $name {
                async fn roles_of(&self, id: &str) -> StoreResult<Vec<String>> {
                    sqlx::query_scalar("SELECT role_name FROM user_roles WHERE user_id = $1 ORDER BY role_name")
                        .bind(id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(map_err)
                }

                async fn user_where(&self, clause: &str, arg: &str) -> StoreResult<Option<UserRecord>> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {clause}");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(arg).fetch_optional(&self.pool).await.map_err(map_err)?;
                    match row {
                        Some(row) => {
                            let roles = self.roles_of(&row.try_get::<String, _>("user_id").map_err(map_err)?).await?;
                            Ok(Some(user_from_row(&row, roles)?))
                        }
                        None => Ok(None),
                    }
                }

                async fn session_by_id(
                    tx: &mut sqlx::Transaction<'static, $db>,
                    id: &str,
                ) -> StoreResult<Option<SessionRecord>> {
                    let sql = format!("SELECT {SESSION_COLUMNS}, revoked_at FROM sessions WHERE session_id = $1");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **tx).await.map_err(map_err)?;
                    match row {
                        Some(row) if row.try_get::<Option<i64>, _>("revoked_at").map_err(map_err)?.is_none() => {
                            Ok(Some(session_from_row(&row)?))
                        }
                        _ => Ok(None),
                    }
                }
            }

            #[async_trait]
            impl Store for $name {
                async fn migrate(&self) -> StoreResult<()> {
                    $migrator().run(&self.pool).await.map_err(|e| StoreError::Other(anyhow::Error::new(e)))
                }

                async fn ping(&self) -> StoreResult<()> {
                    sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err).map(|_| ())
                }

                async fn create_user(&self, u: &NewUser) -> StoreResult<UserRecord> {
                    let mut tx = self.pool.begin().await.map_err(map_err)?;
                    let id = u.id.to_string();
                    sqlx::query(
                        "INSERT INTO users (user_id, email, email_lower, username, username_lower, password_hash, is_active, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&id).bind(&u.email).bind(&u.email_lower).bind(&u.username).bind(&u.username_lower)
                    .bind(&u.password_hash).bind(u.is_active).bind(u.created_at)
                    .execute(&mut *tx).await.map_err(map_err)?;
                    for role in &u.roles {
                        sqlx::query("INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2)")
                            .bind(&id).bind(role).execute(&mut *tx).await.map_err(map_err)?;
                    }
                    tx.commit().await.map_err(map_err)?;
                    let mut roles = u.roles.clone();
                    roles.sort();
                    Ok(UserRecord {
                        id: u.id, email: u.email.clone(), username: u.username.clone(),
                        password_hash: u.password_hash.clone(), is_active: u.is_active, roles,
                        created_at: u.created_at, last_login_at: None, last_activity_at: None,
                    })
                }

                async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>> {
                    self.user_where("user_id = $1", &id.to_string()).await
                }

                async fn user_by_login(&self, login_lower: &str) -> StoreResult<Option<UserRecord>> {
                    // Usernames cannot contain '@', so the two columns never compete for one input.
                    let clause = if login_lower.contains('@') { "email_lower = $1" } else { "username_lower = $1" };
                    self.user_where(clause, login_lower).await
                }

                async fn list_users(&self, q: &UserQuery) -> StoreResult<Vec<UserRecord>> {
                    let sql = format!(
                        "SELECT {USER_COLUMNS} FROM users \
                         WHERE ($1 IS NULL OR user_id > $1) \
                           AND ($2 IS NULL OR email_lower LIKE $2 ESCAPE '\\' OR username_lower LIKE $2 ESCAPE '\\') \
                           AND ($3 IS NULL OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.user_id AND r.role_name = $3)) \
                           AND ($4 IS NULL OR is_active = $4) \
                         ORDER BY user_id LIMIT $5"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(q.after.map(|u| u.to_string()))
                        .bind(q.q.as_deref().map(like_pattern))
                        .bind(q.role.clone())
                        .bind(q.active)
                        .bind(q.limit)
                        .fetch_all(&self.pool).await.map_err(map_err)?;
                    let mut users = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let roles = self.roles_of(&row.try_get::<String, _>("user_id").map_err(map_err)?).await?;
                        users.push(user_from_row(row, roles)?);
                    }
                    Ok(users)
                }

                async fn set_username(&self, id: Uuid, username: Option<(&str, &str)>) -> StoreResult<bool> {
                    let r = sqlx::query("UPDATE users SET username = $2, username_lower = $3 WHERE user_id = $1")
                        .bind(id.to_string()).bind(username.map(|u| u.0)).bind(username.map(|u| u.1))
                        .execute(&self.pool).await.map_err(map_err)?;
                    Ok(r.rows_affected() == 1)
                }

                async fn set_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()> {
                    sqlx::query("UPDATE users SET password_hash = $2 WHERE user_id = $1")
                        .bind(id.to_string()).bind(hash).execute(&self.pool).await.map_err(map_err)?;
                    Ok(())
                }

                async fn set_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool> {
                    let id = id.to_string();
                    let mut tx = self.pool.begin().await.map_err(map_err)?;
                    // Write first: on SQLite this takes the write lock before any read.
                    sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(&id).execute(&mut *tx).await.map_err(map_err)?;
                    let exists: Option<String> = sqlx::query_scalar("SELECT user_id FROM users WHERE user_id = $1")
                        .bind(&id).fetch_optional(&mut *tx).await.map_err(map_err)?;
                    if exists.is_none() {
                        return Ok(false);
                    }
                    for role in roles {
                        sqlx::query("INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2)")
                            .bind(&id).bind(role).execute(&mut *tx).await.map_err(map_err)?;
                    }
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn set_active(&self, id: Uuid, active: bool) -> StoreResult<bool> {
                    let r = sqlx::query("UPDATE users SET is_active = $2 WHERE user_id = $1")
                        .bind(id.to_string()).bind(active).execute(&self.pool).await.map_err(map_err)?;
                    Ok(r.rows_affected() == 1)
                }

                async fn delete_user(&self, id: Uuid) -> StoreResult<bool> {
                    let r = sqlx::query("DELETE FROM users WHERE user_id = $1")
                        .bind(id.to_string()).execute(&self.pool).await.map_err(map_err)?;
                    Ok(r.rows_affected() == 1)
                }

                async fn record_login(&self, id: Uuid, now: i64) -> StoreResult<()> {
                    sqlx::query("UPDATE users SET last_login_at = $2, last_activity_at = $2 WHERE user_id = $1")
                        .bind(id.to_string()).bind(now).execute(&self.pool).await.map_err(map_err)?;
                    Ok(())
                }

                async fn record_activity(&self, user_id: Uuid, session_id: Uuid, now: i64) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(map_err)?;
                    // Writes are spawned in the background and may land out of order: never move back in time.
                    sqlx::query("UPDATE users SET last_activity_at = $2 WHERE user_id = $1 AND (last_activity_at IS NULL OR last_activity_at < $2)")
                        .bind(user_id.to_string()).bind(now).execute(&mut *tx).await.map_err(map_err)?;
                    sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE session_id = $1 AND last_used_at < $2")
                        .bind(session_id.to_string()).bind(now).execute(&mut *tx).await.map_err(map_err)?;
                    tx.commit().await.map_err(map_err)
                }

                async fn list_roles(&self) -> StoreResult<Vec<RoleRecord>> {
                    let rows = sqlx::query("SELECT name, description, created_at FROM roles ORDER BY name")
                        .fetch_all(&self.pool).await.map_err(map_err)?;
                    rows.iter()
                        .map(|r| Ok(RoleRecord {
                            name: r.try_get("name").map_err(map_err)?,
                            description: r.try_get("description").map_err(map_err)?,
                            created_at: r.try_get("created_at").map_err(map_err)?,
                        }))
                        .collect()
                }

                async fn create_role(&self, role: &RoleRecord) -> StoreResult<()> {
                    sqlx::query("INSERT INTO roles (name, description, created_at) VALUES ($1, $2, $3)")
                        .bind(&role.name).bind(&role.description).bind(role.created_at)
                        .execute(&self.pool).await.map_err(|e| match map_err(e) {
                            StoreError::Conflict(_) => StoreError::Conflict("role"),
                            other => other,
                        })?;
                    Ok(())
                }

                async fn create_session(&self, s: &NewSession, refresh_hash: &str) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(map_err)?;
                    let id = s.id.to_string();
                    let idle_expires = (s.created_at + s.idle_ttl).min(s.expires_at);
                    sqlx::query(
                        "INSERT INTO sessions (session_id, user_id, created_at, last_used_at, expires_at, idle_ttl, idle_expires_at, remember_me, user_agent, ip) \
                         VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&id).bind(s.user_id.to_string()).bind(s.created_at).bind(s.expires_at).bind(s.idle_ttl)
                    .bind(idle_expires).bind(s.remember_me).bind(&s.user_agent).bind(&s.ip)
                    .execute(&mut *tx).await.map_err(map_err)?;
                    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)")
                        .bind(refresh_hash).bind(&id).bind(s.created_at)
                        .execute(&mut *tx).await.map_err(map_err)?;
                    tx.commit().await.map_err(map_err)
                }

                async fn rotate_refresh(&self, r: &Rotation) -> StoreResult<RotateOutcome> {
                    let mut tx = self.pool.begin().await.map_err(map_err)?;
                    // Claim the token: exactly one concurrent caller sees a row here. On PostgreSQL the
                    // others block on the row lock and then see used_at set; on SQLite writers serialise.
                    let claimed: Option<String> = sqlx::query_scalar(
                        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL RETURNING session_id",
                    )
                    .bind(&r.presented_hash).bind(r.now).fetch_optional(&mut *tx).await.map_err(map_err)?;

                    if let Some(sid) = claimed {
                        let Some(session) = Self::session_by_id(&mut tx, &sid).await? else {
                            return Ok(RotateOutcome::Invalid);
                        };
                        if session.expires_at <= r.now || session.idle_expires_at <= r.now {
                            return Ok(RotateOutcome::Invalid);
                        }
                        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, issued_at) VALUES ($1, $2, $3, $4)")
                            .bind(&r.child_hash).bind(&sid).bind(&r.presented_hash).bind(r.now)
                            .execute(&mut *tx).await.map_err(map_err)?;
                        let new_idle: i64 = sqlx::query_scalar(
                            "UPDATE sessions SET last_used_at = $2, \
                             idle_expires_at = CASE WHEN $2 + idle_ttl < expires_at THEN $2 + idle_ttl ELSE expires_at END \
                             WHERE session_id = $1 RETURNING idle_expires_at",
                        )
                        .bind(&sid).bind(r.now).fetch_one(&mut *tx).await.map_err(map_err)?;
                        tx.commit().await.map_err(map_err)?;
                        return Ok(RotateOutcome::Rotated(SessionRecord { last_used_at: r.now, idle_expires_at: new_idle, ..session }));
                    }

                    let used: Option<(String, Option<i64>)> = sqlx::query_as(
                        "SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = $1",
                    )
                    .bind(&r.presented_hash).fetch_optional(&mut *tx).await.map_err(map_err)?;
                    let Some((sid, Some(used_at))) = used else {
                        return Ok(RotateOutcome::Invalid);
                    };
                    let child_used: Option<Option<i64>> = sqlx::query_scalar("SELECT used_at FROM refresh_tokens WHERE token_hash = $1")
                        .bind(&r.child_hash).fetch_optional(&mut *tx).await.map_err(map_err)?;
                    let session = Self::session_by_id(&mut tx, &sid).await?;
                    let within_grace = r.now - used_at <= r.grace_secs;
                    match (session, child_used) {
                        (Some(session), Some(None)) if within_grace && session.expires_at > r.now => {
                            Ok(RotateOutcome::Repeated(session))
                        }
                        (Some(session), _) => {
                            // SECURITY: a rotated token came back: assume it was stolen and end the family.
                            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL")
                                .bind(&sid).bind(r.now).execute(&mut *tx).await.map_err(map_err)?;
                            tx.commit().await.map_err(map_err)?;
                            Ok(RotateOutcome::ReuseDetected { session_id: session.id, user_id: session.user_id })
                        }
                        (None, _) => Ok(RotateOutcome::Invalid),
                    }
                }

                async fn revoke_session(&self, user_id: Uuid, session_id: Uuid, now: i64) -> StoreResult<bool> {
                    let r = sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE session_id = $1 AND user_id = $2 AND revoked_at IS NULL")
                        .bind(session_id.to_string()).bind(user_id.to_string()).bind(now)
                        .execute(&self.pool).await.map_err(map_err)?;
                    Ok(r.rows_affected() == 1)
                }

                async fn revoke_user_sessions(&self, user_id: Uuid, keep: Option<Uuid>, now: i64) -> StoreResult<Vec<Uuid>> {
                    // Sessions that ended less than a day ago are included: an access token issued just
                    // before the end (at most 1h + 5m leeway) is still alive and must die too.
                    let ids: Vec<String> = sqlx::query_scalar(
                        "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL \
                         AND ($2 IS NULL OR session_id <> $2) AND expires_at > $3 - 86400 RETURNING session_id",
                    )
                    .bind(user_id.to_string()).bind(keep.map(|k| k.to_string())).bind(now)
                    .fetch_all(&self.pool).await.map_err(map_err)?;
                    ids.iter().map(|s| parse_uuid(s)).collect()
                }

                async fn list_sessions(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<SessionRecord>> {
                    let sql = format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
                         AND expires_at > $2 AND idle_expires_at > $2 ORDER BY created_at DESC, session_id DESC"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql)).bind(user_id.to_string()).bind(now)
                        .fetch_all(&self.pool).await.map_err(map_err)?;
                    rows.iter().map(session_from_row).collect()
                }

                async fn signing_keys(&self, alg: &str) -> StoreResult<Vec<StoredKey>> {
                    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
                        "SELECT kid, alg, private_der, public_jwk, created_at FROM signing_keys WHERE alg = $1 ORDER BY created_at DESC, kid",
                    )
                    .bind(alg).fetch_all(&self.pool).await.map_err(map_err)?;
                    Ok(rows.into_iter()
                        .map(|(kid, alg, private_der, public_jwk, created_at)| StoredKey { kid, alg, private_der, public_jwk, created_at })
                        .collect())
                }

                async fn insert_signing_key(&self, k: &StoredKey) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO signing_keys (kid, alg, private_der, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO NOTHING",
                    )
                    .bind(&k.kid).bind(&k.alg).bind(&k.private_der).bind(&k.public_jwk).bind(k.created_at)
                    .execute(&self.pool).await.map_err(map_err)?;
                    Ok(())
                }

                async fn secret(&self, name: &str, candidate: &str, now: i64) -> StoreResult<String> {
                    sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                        .bind(name).bind(candidate).bind(now).execute(&self.pool).await.map_err(map_err)?;
                    sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                        .bind(name).fetch_one(&self.pool).await.map_err(map_err)
                }

                async fn save_revocation(&self, e: &RevocationRecord) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO revocations (kind, subject, data, expires_at, created_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (kind, subject) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, created_at = excluded.created_at",
                    )
                    .bind(&e.kind).bind(&e.subject).bind(&e.data).bind(e.expires_at).bind(e.created_at)
                    .execute(&self.pool).await.map_err(map_err)?;
                    Ok(())
                }

                async fn load_revocations(&self, now: i64, since: i64) -> StoreResult<Vec<RevocationRecord>> {
                    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
                        "SELECT kind, subject, data, expires_at, created_at FROM revocations WHERE expires_at > $1 AND created_at >= $2 ORDER BY created_at",
                    )
                    .bind(now).bind(since).fetch_all(&self.pool).await.map_err(map_err)?;
                    Ok(rows.into_iter()
                        .map(|(kind, subject, data, expires_at, created_at)| RevocationRecord { kind, subject, data, expires_at, created_at })
                        .collect())
                }

                async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
                    let mut total = 0;
                    for sql in [
                        "DELETE FROM revocations WHERE expires_at <= $1",
                        // Ended sessions are kept a day, so their last access tokens can still be revoked.
                        "DELETE FROM sessions WHERE expires_at <= $1 - 86400 OR idle_expires_at <= $1 - 86400 OR revoked_at <= $1 - 86400",
                    ] {
                        total += sqlx::query(sql).bind(now).execute(&self.pool).await.map_err(map_err)?.rows_affected();
                    }
                    Ok(total)
                }
            }
        }
        pub use $module::$name;
    };
}

sql_store!(
    sqlite_impl,
    SqliteStore,
    sqlx::Sqlite,
    sqlx::SqlitePool,
    crate::store::migrate::sqlite
);
sql_store!(
    postgres_impl,
    PgStore,
    sqlx::Postgres,
    sqlx::PgPool,
    crate::store::migrate::postgres
);
