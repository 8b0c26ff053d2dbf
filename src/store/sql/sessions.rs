//! Sessions and refresh-token rotation, for both backends (see `super` for why this is a macro).

/// `impl SessionStore` for a store type over a sqlx driver.
macro_rules! impl_session_store {
    ($name:ty, $db:ty) => {
        impl $name {
            fn session_from_row(row: &<$db as sqlx::Database>::Row) -> StoreResult<SessionRecord> {
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
            async fn session_by_id(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
            ) -> StoreResult<Option<SessionRecord>> {
                let sql = format!("SELECT {SESSION_COLUMNS}, revoked_at FROM sessions WHERE session_id = $1");
                let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **tx).await.map_err(map_err)?;
                match row {
                    Some(row) if row.try_get::<Option<i64>, _>("revoked_at").map_err(map_err)?.is_none() => {
                        Ok(Some(Self::session_from_row(&row)?))
                    }
                    _ => Ok(None),
                }
            }
        }

        #[async_trait]
        impl SessionStore for $name {
            async fn create_session(&self, s: &NewSession, refresh_hash: &str) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(map_err)?;
                let id = s.id.to_string();
                let idle_expires = (s.created_at + s.idle_ttl).min(s.expires_at);
                // Only if the password and activation are still what the login checked.
                let created = sqlx::query(
                    "INSERT INTO sessions (session_id, user_id, created_at, last_used_at, expires_at, idle_ttl, idle_expires_at, remember_me, user_agent, ip) \
                     SELECT $1, $2, $3, $3, $4, $5, $6, $7, $8, $9 \
                     WHERE EXISTS (SELECT 1 FROM users WHERE user_id = $2 AND password_hash = $10 AND is_active)",
                )
                .bind(&id).bind(s.user_id.to_string()).bind(s.created_at).bind(s.expires_at).bind(s.idle_ttl)
                .bind(idle_expires).bind(s.remember_me).bind(&s.user_agent).bind(&s.ip).bind(&s.password_hash)
                .execute(&mut *tx).await.map_err(map_err)?;
                if created.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)")
                    .bind(refresh_hash).bind(&id).bind(s.created_at)
                    .execute(&mut *tx).await.map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(true)
            }

            async fn rotate_refresh(&self, r: &Rotation) -> StoreResult<RotateOutcome> {
                // Claim the token and extend its live session (see `claim_and_extend`): exactly
                // one concurrent caller gets the session back.
                if let Some(session) = self.claim_and_extend(r).await? {
                    return Ok(RotateOutcome::Rotated(session));
                }
                // Not claimed: unknown, a dead session, or a token already used. Which one?
                let mut tx = self.pool.begin().await.map_err(map_err)?;
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

            async fn cap_sessions(&self, user_id: Uuid, keep: i64, now: i64) -> StoreResult<Vec<Uuid>> {
                let ids: Vec<String> = sqlx::query_scalar(
                    "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL \
                     AND session_id NOT IN (SELECT session_id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
                       AND expires_at > $3 AND idle_expires_at > $3 ORDER BY created_at DESC, session_id DESC LIMIT $2) \
                     AND expires_at > $3 AND idle_expires_at > $3 RETURNING session_id",
                )
                .bind(user_id.to_string()).bind(keep).bind(now)
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
                rows.iter().map(Self::session_from_row).collect()
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

            async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
                let mut total = 0;
                for sql in [
                    "DELETE FROM revocations WHERE expires_at <= $1",
                    // Ended sessions are kept a day, so their last access tokens can still be revoked.
                    "DELETE FROM sessions WHERE expires_at <= $1 - 86400 OR idle_expires_at <= $1 - 86400 OR revoked_at <= $1 - 86400",
                    // A bucket whose arrival time has passed is the same as no bucket.
                    "DELETE FROM rate_limits WHERE tat_ms < $1 * 1000",
                    // Failures are forgotten after a day without attempts (and never while locked).
                    "DELETE FROM login_failures WHERE updated_at <= $1 - 86400 AND locked_until <= $1",
                ] {
                    total += sqlx::query(sql).bind(now).execute(&self.pool).await.map_err(map_err)?.rows_affected();
                }
                Ok(total)
            }
        }
    };
}

pub(super) use impl_session_store;

use sqlx::AssertSqlSafe;

use super::{PgStore, SESSION_COLUMNS, SqliteStore, map_err};
use crate::store::{Rotation, SessionRecord, StoreResult};

/// The new idle expiry of a session refreshed at `$2`, never past its absolute end.
const EXTEND_IDLE: &str =
    "idle_expires_at = CASE WHEN $2 + idle_ttl < expires_at THEN $2 + idle_ttl ELSE expires_at END";
/// A session refreshed at `$2` must still be alive.
const ALIVE: &str = "revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2";

impl SqliteStore {
    /// Mark the presented token used, extend its session and store the successor, in one
    /// transaction (SQLite has no data-modifying CTEs): `None` when nothing was claimed, or the
    /// session is dead (then the claim is rolled back).
    pub(super) async fn claim_and_extend(
        &self,
        r: &Rotation,
    ) -> StoreResult<Option<SessionRecord>> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // On SQLite writers serialise, so exactly one concurrent caller sees a row here.
        let claimed: Option<String> = sqlx::query_scalar(
            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL RETURNING session_id",
        )
        .bind(&r.presented_hash).bind(r.now).fetch_optional(&mut *tx).await.map_err(map_err)?;
        let Some(sid) = claimed else { return Ok(None) };
        let sql = format!(
            "UPDATE sessions SET last_used_at = $2, {EXTEND_IDLE} WHERE session_id = $1 AND {ALIVE} RETURNING {SESSION_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(&sid)
            .bind(r.now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let session = Self::session_from_row(&row)?;
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, issued_at) VALUES ($1, $2, $3, $4)")
            .bind(&r.child_hash).bind(&sid).bind(&r.presented_hash).bind(r.now)
            .execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(session))
    }
}

impl PgStore {
    /// The same as SQLite's, as one statement: a refresh is one round trip and one commit, not
    /// five (the benchmark's `refresh` against `db_floor`). Concurrent callers with one token
    /// queue on the row lock of the first UPDATE and then find it used. A token of a dead
    /// session is not claimed at all (a claim left behind would later read as a replay).
    pub(super) async fn claim_and_extend(
        &self,
        r: &Rotation,
    ) -> StoreResult<Option<SessionRecord>> {
        let returning: Vec<String> = SESSION_COLUMNS
            .split(", ")
            .map(|c| format!("sessions.{c}"))
            .collect();
        let sql = format!(
            "WITH claimed AS ( \
               UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
               AND EXISTS (SELECT 1 FROM sessions WHERE sessions.session_id = refresh_tokens.session_id AND {ALIVE}) \
               RETURNING session_id \
             ), extended AS ( \
               UPDATE sessions SET last_used_at = $2, {EXTEND_IDLE} FROM claimed \
               WHERE sessions.session_id = claimed.session_id AND {ALIVE} RETURNING {returning} \
             ), child AS ( \
               INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, issued_at) \
               SELECT $3, session_id, $1, $2 FROM extended \
             ) SELECT {SESSION_COLUMNS} FROM extended",
            returning = returning.join(", ")
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(&r.presented_hash)
            .bind(r.now)
            .bind(&r.child_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(Self::session_from_row).transpose()
    }
}
