//! The claim of a refresh token, per backend: mark the presented token used, extend its live
//! session and store the successor, atomically, so that exactly one concurrent caller wins.

use sqlx::{PgPool, SqlitePool};

use crate::store::{Rotation, SessionRecord, StoreResult};

/// The claim as one transaction of three statements (SQLite has no data-modifying CTEs). On
/// SQLite writers serialise, so exactly one concurrent caller's first UPDATE sees the row.
/// When the session is dead the transaction is dropped, which rolls the claim back.
pub(super) async fn sqlite(pool: &SqlitePool, r: &Rotation) -> StoreResult<Option<SessionRecord>> {
    let mut tx = pool.begin().await?;
    let claimed: Option<String> = sqlx::query_scalar(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
         RETURNING session_id",
    )
    .bind(&r.presented_hash)
    .bind(r.now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(sid) = claimed else { return Ok(None) };
    // The new idle expiry is never past the session's absolute end.
    let row = sqlx::query(
        "UPDATE sessions SET last_used_at = $2, idle_expires_at = \
           CASE WHEN $2 + idle_ttl < expires_at THEN $2 + idle_ttl ELSE expires_at END \
         WHERE session_id = $1 \
           AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2 \
         RETURNING session_id, user_id, created_at, last_used_at, expires_at, \
           idle_expires_at, remember_me, user_agent, ip",
    )
    .bind(&sid)
    .bind(r.now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let session = super::sessions::sqlite::session_from_row(&row)?;
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
    Ok(Some(session))
}

/// The same as SQLite's, as one statement: a refresh is one round trip and one commit, not
/// five (the benchmark's `refresh` against `db_floor`). Concurrent callers with one token
/// queue on the row lock of the first UPDATE and then find it used. A token of a dead
/// session is not claimed at all (a claim left behind would later read as a replay).
pub(super) async fn postgres(pool: &PgPool, r: &Rotation) -> StoreResult<Option<SessionRecord>> {
    let row = sqlx::query(
        "WITH claimed AS ( \
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
             sessions.remember_me, sessions.user_agent, sessions.ip \
         ), child AS ( \
           INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, issued_at) \
           SELECT $3, session_id, $1, $2 FROM extended \
         ) SELECT session_id, user_id, created_at, last_used_at, expires_at, \
             idle_expires_at, remember_me, user_agent, ip \
           FROM extended",
    )
    .bind(&r.presented_hash)
    .bind(r.now)
    .bind(&r.child_hash)
    .fetch_optional(pool)
    .await?;
    row.as_ref()
        .map(super::sessions::postgres::session_from_row)
        .transpose()
}
