//! [`SessionStore`](crate::store::SessionStore): sessions and refresh-token rotation, on both
//! backends (see `super` for the shape of these files). What differs between backends: the
//! statement that opens a session (at the bottom) and the claim of a refresh token
//! (`super::refresh_claim`).

/// `impl SessionStore for $store`, whose `pool` is a pool of the sqlx driver `$db`. `$claim` is
/// the backend's `async fn(&Pool<$db>, &Rotation) -> StoreResult<Option<RotatedSession>>`:
/// mark the presented token used, extend its live session and store the successor, atomically,
/// and read the user the new pair is signed for;
/// `None` when nothing was claimed (or the session is dead, and then nothing is written).
/// `$insert_session` is the backend's statement that opens a session only if the user's
/// password and activation are still what the login checked. `$write` is the backend's
/// `write_revocation` (`super::revocations`): every revocation here writes its entries in the
/// same transaction.
macro_rules! session_store {
    ($store:ty, $db:ty, $claim:path, $insert_session:path, $write:path) => {
        use async_trait::async_trait;
        use sqlx::Row;
        use uuid::Uuid;

        use $crate::store::sql::parse_uuid;
        use $crate::store::sql::revocations::session_entry;
        use $crate::store::{
            NewSession, RotateOutcome, RotatedSession, Rotation, SessionEnd, SessionRecord,
            SessionStore, StoreResult, UserStore,
        };

        /// Write the revocation entries of `ids` in `tx`, and commit.
        async fn commit_revoked(
            mut tx: sqlx::Transaction<'static, $db>,
            ids: &[String],
            now: i64,
            until: i64,
        ) -> StoreResult<Vec<Uuid>> {
            for id in ids {
                $write(&mut tx, &session_entry(id, now, until)).await?;
            }
            tx.commit().await?;
            ids.iter().map(|s| parse_uuid(s)).collect()
        }

        /// A row with the session columns (`session_id, user_id, created_at, last_used_at,
        /// expires_at, idle_expires_at, remember_me, user_agent, ip`).
        pub(in crate::store::sql) fn session_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> StoreResult<SessionRecord> {
            Ok(SessionRecord {
                id: parse_uuid(row.try_get("session_id")?)?,
                user_id: parse_uuid(row.try_get("user_id")?)?,
                created_at: row.try_get("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
                expires_at: row.try_get("expires_at")?,
                idle_expires_at: row.try_get("idle_expires_at")?,
                remember_me: row.try_get("remember_me")?,
                user_agent: row.try_get("user_agent")?,
                ip: row.try_get("ip")?,
            })
        }

        /// The session `id`, unless it was revoked (it may have expired).
        async fn unrevoked_session(
            tx: &mut sqlx::Transaction<'static, $db>,
            id: &str,
        ) -> StoreResult<Option<SessionRecord>> {
            let row = sqlx::query(
                "SELECT session_id, user_id, created_at, last_used_at, expires_at, \
                   idle_expires_at, remember_me, user_agent, ip, revoked_at \
                 FROM sessions WHERE session_id = $1",
            )
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
            match row {
                Some(row) if row.try_get::<Option<i64>, _>("revoked_at")?.is_none() => {
                    Ok(Some(session_from_row(&row)?))
                }
                _ => Ok(None),
            }
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(
                &self,
                s: &NewSession,
                refresh_hash: &str,
            ) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let id = s.id.to_string();
                let idle_expires = (s.created_at + s.idle_ttl).min(s.expires_at);
                // Only if the password and activation are still what the login checked.
                let created = sqlx::query($insert_session)
                    .bind(&id)
                    .bind(s.user_id.to_string())
                    .bind(s.created_at)
                    .bind(s.expires_at)
                    .bind(s.idle_ttl)
                    .bind(idle_expires)
                    .bind(s.remember_me)
                    .bind(&s.user_agent)
                    .bind(&s.ip)
                    .bind(&s.password_hash)
                    .execute(&mut *tx)
                    .await?;
                if created.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(refresh_hash)
                .bind(&id)
                .bind(s.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn rotate_refresh(&self, r: &Rotation) -> StoreResult<RotateOutcome> {
                // Claim the token and extend its live session: exactly one concurrent caller
                // gets the session back.
                if let Some(rotated) = $claim(&self.pool, r).await? {
                    return Ok(RotateOutcome::Rotated(rotated));
                }
                // Not claimed: unknown, a dead session, or a token already used. Which one?
                let mut tx = self.begin().await?;
                let used: Option<(String, Option<i64>)> = sqlx::query_as(
                    "SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = $1",
                )
                .bind(&r.presented_hash)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((sid, Some(used_at))) = used else {
                    return Ok(RotateOutcome::Invalid);
                };
                let child_used: Option<Option<i64>> =
                    sqlx::query_scalar("SELECT used_at FROM refresh_tokens WHERE token_hash = $1")
                        .bind(&r.child_hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                let session = unrevoked_session(&mut tx, &sid).await?;
                let within_grace = r.now - used_at <= r.grace_secs;
                match (session, child_used) {
                    (Some(session), Some(None)) if within_grace && session.expires_at > r.now => {
                        // The rare path (parallel tabs): the rest in round trips of its own.
                        tx.commit().await?;
                        let Some(user) = self.user_by_id(session.user_id).await? else {
                            return Ok(RotateOutcome::Invalid);
                        };
                        let (mfa_at, amr): (Option<i64>, Option<String>) = sqlx::query_as(
                            "SELECT mfa_at, amr FROM sessions WHERE session_id = $1",
                        )
                        .bind(&sid)
                        .fetch_one(&self.pool)
                        .await?;
                        Ok(RotateOutcome::Repeated(RotatedSession {
                            session,
                            user,
                            mfa_at,
                            amr,
                        }))
                    }
                    (Some(session), _) => {
                        // SECURITY: a rotated token came back: assume it was stolen and end
                        // the family.
                        sqlx::query(
                            "UPDATE sessions SET revoked_at = $2 \
                             WHERE session_id = $1 AND revoked_at IS NULL",
                        )
                        .bind(&sid)
                        .bind(r.now)
                        .execute(&mut *tx)
                        .await?;
                        commit_revoked(tx, &[sid], r.now, r.revoke_until).await?;
                        Ok(RotateOutcome::ReuseDetected {
                            session_id: session.id,
                            user_id: session.user_id,
                        })
                    }
                    (None, _) => Ok(RotateOutcome::Invalid),
                }
            }

            async fn revoke_session(
                &self,
                user_id: Uuid,
                session_id: Uuid,
                now: i64,
                until: i64,
            ) -> StoreResult<SessionEnd> {
                let mut tx = self.begin().await?;
                let id = session_id.to_string();
                // Write first: on SQLite this takes the write lock before any read.
                let r = sqlx::query(
                    "UPDATE sessions SET revoked_at = $3 \
                     WHERE session_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                )
                .bind(&id)
                .bind(user_id.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let end = if r.rows_affected() == 1 {
                    SessionEnd::Ended
                } else {
                    let theirs: Option<i32> = sqlx::query_scalar(
                        "SELECT 1 FROM sessions WHERE session_id = $1 AND user_id = $2",
                    )
                    .bind(&id)
                    .bind(user_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if theirs.is_none() {
                        return Ok(SessionEnd::Unknown);
                    }
                    SessionEnd::AlreadyEnded
                };
                commit_revoked(tx, &[id], now, until).await?;
                Ok(end)
            }

            async fn revoke_user_sessions(
                &self,
                user_id: Uuid,
                keep: Option<Uuid>,
                now: i64,
                until: i64,
            ) -> StoreResult<Vec<Uuid>> {
                let mut tx = self.begin().await?;
                // Sessions that ended less than a day ago are included: an access token issued
                // just before the end (at most 1h + 5m leeway) is still alive and must die too.
                let ids: Vec<String> = sqlx::query_scalar(
                    "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL \
                     AND ($2 IS NULL OR session_id <> $2) AND expires_at > $3 - 86400 \
                     RETURNING session_id",
                )
                .bind(user_id.to_string())
                .bind(keep.map(|k| k.to_string()))
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                commit_revoked(tx, &ids, now, until).await
            }

            async fn cap_sessions(
                &self,
                user_id: Uuid,
                keep: i64,
                now: i64,
                until: i64,
            ) -> StoreResult<Vec<Uuid>> {
                let mut tx = self.begin().await?;
                let ids: Vec<String> = sqlx::query_scalar(
                    "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL \
                     AND session_id NOT IN (SELECT session_id FROM sessions \
                       WHERE user_id = $1 AND revoked_at IS NULL \
                       AND expires_at > $3 AND idle_expires_at > $3 \
                       ORDER BY created_at DESC, session_id DESC LIMIT $2) \
                     AND expires_at > $3 AND idle_expires_at > $3 RETURNING session_id",
                )
                .bind(user_id.to_string())
                .bind(keep)
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                commit_revoked(tx, &ids, now, until).await
            }

            async fn list_sessions(
                &self,
                user_id: Uuid,
                now: i64,
            ) -> StoreResult<Vec<SessionRecord>> {
                let rows = sqlx::query(
                    "SELECT session_id, user_id, created_at, last_used_at, expires_at, \
                       idle_expires_at, remember_me, user_agent, ip \
                     FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
                     AND expires_at > $2 AND idle_expires_at > $2 \
                     ORDER BY created_at DESC, session_id DESC",
                )
                .bind(user_id.to_string())
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(session_from_row).collect()
            }

            async fn record_activity(
                &self,
                user_id: Uuid,
                session_id: Uuid,
                now: i64,
            ) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                // Writes are spawned in the background and may land out of order: never move
                // back in time.
                sqlx::query(
                    "UPDATE users SET last_activity_at = $2 WHERE user_id = $1 \
                     AND (last_activity_at IS NULL OR last_activity_at < $2)",
                )
                .bind(user_id.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE sessions SET last_used_at = $2 \
                     WHERE session_id = $1 AND last_used_at < $2",
                )
                .bind(session_id.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Ok(tx.commit().await?)
            }

            async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
                let mut total = 0;
                for sql in [
                    "DELETE FROM revocations WHERE expires_at <= $1",
                    // Ended sessions are kept a day, so their last access tokens can still be
                    // revoked.
                    "DELETE FROM sessions WHERE expires_at <= $1 - 86400 \
                     OR idle_expires_at <= $1 - 86400 OR revoked_at <= $1 - 86400",
                    // A bucket whose arrival time has passed is the same as no bucket.
                    "DELETE FROM rate_limits WHERE tat_ms < $1 * 1000",
                    // Failures are forgotten after a day without attempts (and never while
                    // locked).
                    "DELETE FROM login_failures WHERE updated_at <= $1 - 86400 \
                     AND locked_until <= $1",
                ] {
                    let done = sqlx::query(sql).bind(now).execute(&self.pool).await?;
                    total += done.rows_affected();
                }
                Ok(total)
            }
        }
    };
}

pub(super) mod sqlite {
    session_store!(
        crate::store::sql::SqliteStore,
        sqlx::Sqlite,
        super::super::refresh_claim::sqlite,
        super::SQLITE_INSERT_SESSION,
        super::super::revocations::sqlite::write_revocation
    );
}

pub(super) mod postgres {
    session_store!(
        crate::store::sql::PgStore,
        sqlx::Postgres,
        super::super::refresh_claim::postgres,
        super::POSTGRES_INSERT_SESSION,
        super::super::revocations::postgres::write_revocation
    );
}

/// SQLite: writers serialise, so the check and the insert see one state of the user row.
const SQLITE_INSERT_SESSION: &str = "INSERT INTO sessions (session_id, user_id, created_at, \
       last_used_at, expires_at, idle_ttl, idle_expires_at, remember_me, user_agent, ip) \
     SELECT $1, $2, $3, $3, $4, $5, $6, $7, $8, $9 \
     WHERE EXISTS (SELECT 1 FROM users \
       WHERE user_id = $2 AND password_hash = $10 AND is_active)";

/// PostgreSQL: `FOR SHARE` locks the user row until this transaction commits. Without it a
/// password change or deactivation could commit, and end the user's sessions, between this
/// check and the commit, and miss the session being opened (seen in `tests/api/races.rs`).
/// With it, such a change waits for this login, then ends its session; or it went first, and
/// the re-checked row no longer matches.
const POSTGRES_INSERT_SESSION: &str = "INSERT INTO sessions (session_id, user_id, created_at, \
       last_used_at, expires_at, idle_ttl, idle_expires_at, remember_me, user_agent, ip) \
     SELECT $1, $2, $3, $3, $4, $5, $6, $7, $8, $9 \
     WHERE EXISTS (SELECT 1 FROM users \
       WHERE user_id = $2 AND password_hash = $10 AND is_active FOR SHARE)";
