//! Rate-limit buckets, login-failure counters and the audit log, for both backends. Every
//! decision is one atomic statement, so instances sharing a database never double-count.

/// `impl GuardStore + AuditStore` for a store type over a sqlx driver.
macro_rules! impl_guard_store {
    ($name:ty) => {
        #[async_trait]
        impl GuardStore for $name {
            async fn take(&self, bucket: &str, rate: Rate, now_ms: i64) -> StoreResult<Option<i64>> {
                // GCRA: the bucket's theoretical arrival time moves one interval per event; an
                // event is allowed while that stays within one period of now.
                let taken: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO rate_limits (bucket, tat_ms) VALUES ($1, $2 + $3) \
                     ON CONFLICT (bucket) DO UPDATE \
                       SET tat_ms = (CASE WHEN rate_limits.tat_ms > $2 THEN rate_limits.tat_ms ELSE $2 END) + $3 \
                       WHERE (CASE WHEN rate_limits.tat_ms > $2 THEN rate_limits.tat_ms ELSE $2 END) + $3 - $2 <= $4 \
                     RETURNING tat_ms",
                )
                .bind(bucket).bind(now_ms).bind(rate.interval_ms).bind(rate.period_ms)
                .fetch_optional(&self.pool).await.map_err(map_err)?;
                if taken.is_some() {
                    return Ok(None);
                }
                let tat: Option<i64> = sqlx::query_scalar("SELECT tat_ms FROM rate_limits WHERE bucket = $1")
                    .bind(bucket).fetch_optional(&self.pool).await.map_err(map_err)?;
                let wait = tat.map_or(1, |tat| tat + rate.interval_ms - rate.period_ms - now_ms);
                Ok(Some(wait.max(1)))
            }

            async fn begin_login_attempt(&self, account: &str, p: LockoutPolicy, now: i64) -> StoreResult<Result<bool, i64>> {
                // The attempt that reaches the threshold resets the count and sets the lock now,
                // before its password is even checked; its success (clear_login_failures) lifts it.
                let counted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO login_failures (account, failures, locked_until, next_lock, updated_at) VALUES ($1, \
                       CASE WHEN 1 >= $3 THEN 0 ELSE 1 END, \
                       CASE WHEN 1 >= $3 THEN $2 + $4 ELSE 0 END, \
                       CASE WHEN 1 >= $3 THEN (CASE WHEN $4 * 2 > $5 THEN $5 ELSE $4 * 2 END) ELSE $4 END, \
                       $2) \
                     ON CONFLICT (account) DO UPDATE SET \
                       failures = CASE WHEN login_failures.failures + 1 >= $3 THEN 0 ELSE login_failures.failures + 1 END, \
                       locked_until = CASE WHEN login_failures.failures + 1 >= $3 THEN $2 + login_failures.next_lock ELSE 0 END, \
                       next_lock = CASE WHEN login_failures.failures + 1 >= $3 \
                         THEN (CASE WHEN login_failures.next_lock * 2 > $5 THEN $5 ELSE login_failures.next_lock * 2 END) \
                         ELSE login_failures.next_lock END, \
                       updated_at = $2 \
                     WHERE login_failures.locked_until <= $2 \
                     RETURNING failures",
                )
                .bind(account).bind(now).bind(p.threshold).bind(p.first_lock).bind(p.max_lock)
                .fetch_optional(&self.pool).await.map_err(map_err)?;
                if let Some(failures) = counted {
                    // The count restarts at 0 exactly when this attempt set the lock.
                    return Ok(Ok(failures == 0));
                }
                let locked_until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM login_failures WHERE account = $1")
                    .bind(account).fetch_optional(&self.pool).await.map_err(map_err)?;
                Ok(Err(locked_until.unwrap_or(now + 1).max(now + 1)))
            }

            async fn clear_login_failures(&self, account: &str) -> StoreResult<bool> {
                let r = sqlx::query("DELETE FROM login_failures WHERE account = $1")
                    .bind(account).execute(&self.pool).await.map_err(map_err)?;
                Ok(r.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl AuditStore for $name {
            async fn record_event(&self, e: &AuditEvent) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO audit_log (at, event, user_id, actor_id, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(e.at).bind(&e.event).bind(e.user_id.map(|u| u.to_string())).bind(e.actor_id.map(|u| u.to_string()))
                .bind(&e.ip).bind(&e.user_agent).bind(&e.detail)
                .execute(&self.pool).await.map_err(map_err)?;
                Ok(())
            }

            async fn list_events(&self, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
                let rows: Vec<(i64, i64, String, Option<String>, Option<String>, Option<String>, Option<String>, String)> =
                    sqlx::query_as(
                        "SELECT seq, at, event, user_id, actor_id, ip, user_agent, detail FROM audit_log \
                         WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR event = $2) \
                           AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR seq > $4) \
                         ORDER BY seq LIMIT $5",
                    )
                    .bind(q.user_id.map(|u| u.to_string())).bind(q.event.clone()).bind(q.since).bind(q.after_seq).bind(q.limit)
                    .fetch_all(&self.pool).await.map_err(map_err)?;
                let parse = |id: Option<String>| id.as_deref().map(parse_uuid).transpose();
                rows.into_iter()
                    .map(|(seq, at, event, user_id, actor_id, ip, user_agent, detail)| {
                        Ok(AuditRecord {
                            seq,
                            event: AuditEvent { at, event, user_id: parse(user_id)?, actor_id: parse(actor_id)?, ip, user_agent, detail },
                        })
                    })
                    .collect()
            }

            async fn purge_events(&self, before: i64) -> StoreResult<u64> {
                let r = sqlx::query("DELETE FROM audit_log WHERE at < $1")
                    .bind(before).execute(&self.pool).await.map_err(map_err)?;
                Ok(r.rows_affected())
            }
        }
    };
}

pub(super) use impl_guard_store;
