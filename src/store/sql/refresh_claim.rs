//! The claim of a refresh token, per backend: mark the presented token used, extend its live
//! session and store the successor, atomically, so that exactly one concurrent caller wins, in
//! one statement; and read what the new pair is signed from (the user and its roles, the
//! session's second factor) in the same round trip (PostgreSQL) or before it, outside the
//! write lock (SQLite).

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

/// The claim as one statement: the successor's insert, which succeeds only while the presented
/// token is unused and its session alive; the trigger of migration 0013 marks the presented
/// token used and extends the session in the same statement. SQLite serialises writers, so
/// exactly one concurrent caller's insert finds the token unused, and a refresh holds the
/// write lock for one round trip to sqlx's connection thread, like the benchmark's write floor.
///
/// What the new pair is signed from (the user, its roles, the session) is read first, outside
/// the lock, on the same connection: in WAL mode a read takes no lock, and a token that is
/// unknown, used or of a dead session is answered from it without queueing for the lock at
/// all. The insert checks again under the lock, so a token claimed or a session revoked in
/// between is not claimed. The session a token belongs to never changes, so the read and the
/// claim see the same user; a role change landing between them is a refresh racing an admin
/// change, which the revocation list's user entry settles for the tokens either way.
pub(super) async fn sqlite(pool: &SqlitePool, r: &Rotation) -> StoreResult<Option<RotatedSession>> {
    let mut conn = pool.acquire().await?;
    let Some(row) = sqlx::query(SQLITE_READ_LIVE)
        .bind(&r.presented_hash)
        .bind(r.now)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let claimed = sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, issued_at) \
         SELECT $3, t.session_id, t.token_hash, $2 FROM refresh_tokens t \
           JOIN sessions s ON s.session_id = t.session_id \
         WHERE t.token_hash = $1 AND t.used_at IS NULL \
           AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.idle_expires_at > $2",
    )
    .bind(&r.presented_hash)
    .bind(r.now)
    .bind(&r.child_hash)
    .execute(&mut *conn)
    .await?;
    if claimed.rows_affected() != 1 {
        return Ok(None);
    }
    let roles: String = row.try_get("roles")?;
    let roles: Vec<String> = serde_json::from_str(&roles).map_err(|e| anyhow::anyhow!(e))?;
    let mut rotated = rotated_from_rows!(&row, &row, roles);
    // What the trigger wrote: the same expression as its UPDATE.
    let idle_ttl: i64 = row.try_get("idle_ttl")?;
    rotated.session.last_used_at = r.now;
    rotated.session.idle_expires_at = (r.now + idle_ttl).min(rotated.session.expires_at);
    Ok(Some(rotated))
}

/// The same on PostgreSQL, as one statement of data-modifying CTEs (no trigger): a refresh
/// is one round trip and one commit, not five (the benchmark's `refresh` against
/// `db_floor`). Concurrent callers with one token queue on the row lock of the first UPDATE and then find it used. A token of a dead
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

/// SQLite: the live session a refresh token belongs to, with the user (and roles, a JSON
/// array), if the token is unused.
const SQLITE_READ_LIVE: &str = "SELECT s.session_id, s.user_id, s.created_at, s.last_used_at, \
       s.expires_at, s.idle_ttl, s.idle_expires_at, s.remember_me, s.user_agent, s.ip, \
       s.mfa_at, s.amr, \
       u.email AS u_email, u.username AS u_username, \
       u.password_hash AS u_password_hash, u.is_active AS u_is_active, \
       u.email_verified AS u_email_verified, u.created_at AS u_created_at, \
       u.last_login_at AS u_last_login_at, u.last_activity_at AS u_last_activity_at, \
       (SELECT json_group_array(role_name) FROM \
         (SELECT role_name FROM user_roles WHERE user_id = u.user_id ORDER BY role_name)) AS roles \
     FROM refresh_tokens t JOIN sessions s ON s.session_id = t.session_id \
       JOIN users u ON u.user_id = s.user_id \
     WHERE t.token_hash = $1 AND t.used_at IS NULL \
       AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.idle_expires_at > $2";

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
