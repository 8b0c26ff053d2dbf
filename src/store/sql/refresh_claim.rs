//! The claim of a refresh token, per backend: mark the presented token used, extend its live
//! session and store the successor, atomically, so that exactly one concurrent caller wins;
//! and read, in the same round trip, what the new pair is signed from (the user and its roles,
//! the session's second factor), so a refresh costs one trip to the database, not four.

use sqlx::{PgPool, Row, SqlitePool};

use crate::store::sql::parse_uuid;
use crate::store::{RotatedSession, Rotation, SessionRecord, StoreResult, UserRecord};

/// A [`RotatedSession`] from a row with the session columns (`session_id, user_id,
/// created_at, last_used_at, expires_at, idle_expires_at, remember_me, user_agent, ip, mfa_at,
/// amr`), the user's columns under `u_` names and its `roles`. A macro, not a function: the
/// two drivers' rows share no trait that decodes all of these.
macro_rules! rotated_from_row {
    ($row:expr, $roles:expr) => {{
        let row = $row;
        let session = SessionRecord {
            id: parse_uuid(row.try_get("session_id")?)?,
            user_id: parse_uuid(row.try_get("user_id")?)?,
            created_at: row.try_get("created_at")?,
            last_used_at: row.try_get("last_used_at")?,
            expires_at: row.try_get("expires_at")?,
            idle_expires_at: row.try_get("idle_expires_at")?,
            remember_me: row.try_get("remember_me")?,
            user_agent: row.try_get("user_agent")?,
            ip: row.try_get("ip")?,
        };
        let user = UserRecord {
            id: session.user_id,
            email: row.try_get("u_email")?,
            username: row.try_get("u_username")?,
            password_hash: row.try_get("u_password_hash")?,
            is_active: row.try_get("u_is_active")?,
            email_verified: row.try_get("u_email_verified")?,
            roles: $roles,
            created_at: row.try_get("u_created_at")?,
            last_login_at: row.try_get("u_last_login_at")?,
            last_activity_at: row.try_get("u_last_activity_at")?,
        };
        RotatedSession {
            session,
            user,
            mfa_at: row.try_get("mfa_at")?,
            amr: row.try_get("amr")?,
        }
    }};
}

/// The claim as one transaction (SQLite has no data-modifying CTEs). On SQLite writers
/// serialise, so exactly one concurrent caller's first UPDATE sees the row. When the session is
/// dead the transaction is rolled back, with the claim. The statements run on the
/// transaction's one connection: a single hand-off to the pool, not one per statement's query.
pub(super) async fn sqlite(pool: &SqlitePool, r: &Rotation) -> StoreResult<Option<RotatedSession>> {
    let mut tx = pool.begin().await?;
    let claimed: Option<String> = sqlx::query_scalar(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
         RETURNING session_id",
    )
    .bind(&r.presented_hash)
    .bind(r.now)
    .fetch_optional(&mut *tx)
    .await?;
    // Roll back at once, not on drop: a dropped transaction's rollback waits for the connection's
    // next use, and until then its UPDATE holds the write lock the caller's next step needs.
    let Some(sid) = claimed else {
        tx.rollback().await?;
        return Ok(None);
    };
    let extended: Option<String> = sqlx::query_scalar(
        // The new idle expiry is never past the session's absolute end.
        "UPDATE sessions SET last_used_at = $2, idle_expires_at = \
           CASE WHEN $2 + idle_ttl < expires_at THEN $2 + idle_ttl ELSE expires_at END \
         WHERE session_id = $1 \
           AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2 \
         RETURNING session_id",
    )
    .bind(&sid)
    .bind(r.now)
    .fetch_optional(&mut *tx)
    .await?;
    if extended.is_none() {
        tx.rollback().await?;
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, issued_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&r.child_hash)
    .bind(&sid)
    .bind(&r.presented_hash)
    .bind(r.now)
    .execute(&mut *tx)
    .await?;
    // A user's sessions go with the user (foreign key), so a live session has one.
    let Some(row) = sqlx::query(SQLITE_READ)
        .bind(&sid)
        .fetch_optional(&mut *tx)
        .await?
    else {
        tx.rollback().await?;
        return Ok(None);
    };
    let roles: String = row.try_get("roles")?;
    let roles: Vec<String> = serde_json::from_str(&roles).map_err(|e| anyhow::anyhow!(e))?;
    let out = rotated_from_row!(&row, roles);
    tx.commit().await?;
    Ok(Some(out))
}

/// The same as SQLite's, as one statement: a refresh is one round trip and one commit, not
/// five (the benchmark's `refresh` against `db_floor`). Concurrent callers with one token
/// queue on the row lock of the first UPDATE and then find it used. A token of a dead
/// session is not claimed at all (a claim left behind would later read as a replay).
pub(super) async fn postgres(pool: &PgPool, r: &Rotation) -> StoreResult<Option<RotatedSession>> {
    let row = sqlx::query(POSTGRES_CLAIM)
        .bind(&r.presented_hash)
        .bind(r.now)
        .bind(&r.child_hash)
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => {
            let roles: Vec<String> = row.try_get("roles")?;
            Ok(Some(rotated_from_row!(&row, roles)))
        }
        None => Ok(None),
    }
}

/// SQLite: the claimed session with its user and roles (a JSON array), inside the claim's
/// transaction.
const SQLITE_READ: &str = "SELECT s.session_id, s.user_id, s.created_at, s.last_used_at, \
       s.expires_at, s.idle_expires_at, s.remember_me, s.user_agent, s.ip, s.mfa_at, s.amr, \
       u.email AS u_email, u.username AS u_username, u.password_hash AS u_password_hash, \
       u.is_active AS u_is_active, u.email_verified AS u_email_verified, \
       u.created_at AS u_created_at, u.last_login_at AS u_last_login_at, \
       u.last_activity_at AS u_last_activity_at, \
       (SELECT json_group_array(role_name) FROM \
         (SELECT role_name FROM user_roles WHERE user_id = s.user_id ORDER BY role_name)) AS roles \
     FROM sessions s JOIN users u ON u.user_id = s.user_id WHERE s.session_id = $1";

/// PostgreSQL: claim, extend, store the successor and read the user in data-modifying CTEs.
const POSTGRES_CLAIM: &str = "WITH claimed AS ( \
       UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
       AND EXISTS (SELECT 1 FROM sessions \
         WHERE sessions.session_id = refresh_tokens.session_id \
         AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2) \
       RETURNING session_id \
     ), extended AS ( \
       UPDATE sessions SET last_used_at = $2, idle_expires_at = \
         CASE WHEN $2 + idle_ttl < expires_at THEN $2 + idle_ttl ELSE expires_at END \
       FROM claimed \
       WHERE sessions.session_id = claimed.session_id \
       AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2 \
       RETURNING sessions.session_id, sessions.user_id, sessions.created_at, \
         sessions.last_used_at, sessions.expires_at, sessions.idle_expires_at, \
         sessions.remember_me, sessions.user_agent, sessions.ip, sessions.mfa_at, sessions.amr \
     ), child AS ( \
       INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, issued_at) \
       SELECT $3, session_id, $1, $2 FROM extended \
     ) SELECT e.session_id, e.user_id, e.created_at, e.last_used_at, e.expires_at, \
         e.idle_expires_at, e.remember_me, e.user_agent, e.ip, e.mfa_at, e.amr, \
         u.email AS u_email, u.username AS u_username, u.password_hash AS u_password_hash, \
         u.is_active AS u_is_active, u.email_verified AS u_email_verified, \
         u.created_at AS u_created_at, u.last_login_at AS u_last_login_at, \
         u.last_activity_at AS u_last_activity_at, \
         ARRAY(SELECT role_name FROM user_roles r WHERE r.user_id = e.user_id \
           ORDER BY role_name) AS roles \
       FROM extended e JOIN users u ON u.user_id = e.user_id";
