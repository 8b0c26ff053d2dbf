//! The claim of a refresh token, per backend: mark the presented token used, extend its live
//! session and store the successor, atomically, so that exactly one concurrent caller wins;
//! and read, in the same round trip, what the new pair is signed from (the user and its roles,
//! the session's second factor), so a refresh costs one trip to the database, not four.

use sqlx::{PgPool, Row, SqlitePool};

use crate::store::sql::parse_uuid;
use crate::store::{RotatedSession, Rotation, SessionRecord, StoreResult, UserRecord};

/// A [`RotatedSession`] from a row with the session columns (`session_id, user_id,
/// created_at, last_used_at, expires_at, idle_expires_at, remember_me, user_agent, ip, mfa_at,
/// amr`) and a row with the user's columns under `u_` names (the same row on PostgreSQL), and
/// the `roles`. A macro, not a function: the two drivers' rows share no trait that decodes all
/// of these.
macro_rules! rotated_from_rows {
    ($row:expr, $user_row:expr, $roles:expr) => {{
        let row = $row;
        let user_row = $user_row;
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
            email: user_row.try_get("u_email")?,
            username: user_row.try_get("u_username")?,
            password_hash: user_row.try_get("u_password_hash")?,
            is_active: user_row.try_get("u_is_active")?,
            email_verified: user_row.try_get("u_email_verified")?,
            roles: $roles,
            created_at: user_row.try_get("u_created_at")?,
            last_login_at: user_row.try_get("u_last_login_at")?,
            last_activity_at: user_row.try_get("u_last_activity_at")?,
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
/// dead the transaction is rolled back, with the claim.
///
/// The user is read first, outside the transaction, on the same connection: in WAL mode a read
/// takes no lock, so the write lock (which every refresh, login and logout queues on) is held
/// for the three writes only. The session the token belongs to never changes, so the read and
/// the claim see the same user; a role change landing between them is a refresh racing an admin
/// change, which the revocation list's user entry settles for the tokens either way.
pub(super) async fn sqlite(pool: &SqlitePool, r: &Rotation) -> StoreResult<Option<RotatedSession>> {
    let mut conn = pool.acquire().await?;
    let Some(user_row) = sqlx::query(SQLITE_USER_OF_TOKEN)
        .bind(&r.presented_hash)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
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
    // The new idle expiry is never past the session's absolute end.
    let extended = sqlx::query(
        "UPDATE sessions SET last_used_at = $2, idle_expires_at = \
           CASE WHEN $2 + idle_ttl < expires_at THEN $2 + idle_ttl ELSE expires_at END \
         WHERE session_id = $1 \
           AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2 \
         RETURNING session_id, user_id, created_at, last_used_at, expires_at, \
           idle_expires_at, remember_me, user_agent, ip, mfa_at, amr",
    )
    .bind(&sid)
    .bind(r.now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = extended else {
        tx.rollback().await?;
        return Ok(None);
    };
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
    tx.commit().await?;
    let roles: String = user_row.try_get("roles")?;
    let roles: Vec<String> = serde_json::from_str(&roles).map_err(|e| anyhow::anyhow!(e))?;
    Ok(Some(rotated_from_rows!(&row, &user_row, roles)))
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
            Ok(Some(rotated_from_rows!(&row, &row, roles)))
        }
        None => Ok(None),
    }
}

/// SQLite: the user (and roles, a JSON array) of the session a refresh token belongs to.
const SQLITE_USER_OF_TOKEN: &str = "SELECT u.email AS u_email, u.username AS u_username, \
       u.password_hash AS u_password_hash, u.is_active AS u_is_active, \
       u.email_verified AS u_email_verified, u.created_at AS u_created_at, \
       u.last_login_at AS u_last_login_at, u.last_activity_at AS u_last_activity_at, \
       (SELECT json_group_array(role_name) FROM \
         (SELECT role_name FROM user_roles WHERE user_id = u.user_id ORDER BY role_name)) AS roles \
     FROM refresh_tokens t JOIN sessions s ON s.session_id = t.session_id \
       JOIN users u ON u.user_id = s.user_id \
     WHERE t.token_hash = $1";

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
