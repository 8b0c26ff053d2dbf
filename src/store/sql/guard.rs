//! [`GuardStore`](crate::store::GuardStore): rate-limit buckets and login-failure counters, on
//! both backends (see `super` for the shape of these files). Every decision is one atomic
//! statement, so instances sharing a database never double-count.

/// `impl GuardStore for $store`, whose `pool` is a pool of a sqlx driver.
macro_rules! guard_store {
    ($store:ty) => {
        use async_trait::async_trait;

        use $crate::store::{GuardStore, LockoutPolicy, Rate, StoreResult};

        #[async_trait]
        impl GuardStore for $store {
            async fn take(
                &self,
                bucket: &str,
                rate: Rate,
                now_ms: i64,
            ) -> StoreResult<Option<i64>> {
                // GCRA: the bucket's theoretical arrival time moves one interval per event; an
                // event is allowed while that stays within one period of now.
                let taken: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO rate_limits (bucket, tat_ms) VALUES ($1, $2 + $3) \
                     ON CONFLICT (bucket) DO UPDATE SET tat_ms = (CASE \
                         WHEN rate_limits.tat_ms > $2 THEN rate_limits.tat_ms ELSE $2 \
                       END) + $3 \
                     WHERE (CASE \
                         WHEN rate_limits.tat_ms > $2 THEN rate_limits.tat_ms ELSE $2 \
                       END) + $3 - $2 <= $4 \
                     RETURNING tat_ms",
                )
                .bind(bucket)
                .bind(now_ms)
                .bind(rate.interval_ms)
                .bind(rate.period_ms)
                .fetch_optional(&self.pool)
                .await?;
                if taken.is_some() {
                    return Ok(None);
                }
                let tat: Option<i64> =
                    sqlx::query_scalar("SELECT tat_ms FROM rate_limits WHERE bucket = $1")
                        .bind(bucket)
                        .fetch_optional(&self.pool)
                        .await?;
                let wait = tat.map_or(1, |tat| tat + rate.interval_ms - rate.period_ms - now_ms);
                Ok(Some(wait.max(1)))
            }

            async fn begin_login_attempt(
                &self,
                account: &str,
                p: LockoutPolicy,
                now: i64,
            ) -> StoreResult<Result<bool, i64>> {
                // The attempt that reaches the threshold resets the count and sets the lock now,
                // before its password is even checked; its success (clear_login_failures) lifts
                // it. $3 threshold, $4 first lock, $5 longest lock.
                let counted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO login_failures \
                       (account, failures, locked_until, next_lock, updated_at) \
                     VALUES ($1, \
                       CASE WHEN 1 >= $3 THEN 0 ELSE 1 END, \
                       CASE WHEN 1 >= $3 THEN $2 + $4 ELSE 0 END, \
                       CASE WHEN 1 >= $3 \
                         THEN (CASE WHEN $4 * 2 > $5 THEN $5 ELSE $4 * 2 END) ELSE $4 END, \
                       $2) \
                     ON CONFLICT (account) DO UPDATE SET \
                       failures = CASE WHEN login_failures.failures + 1 >= $3 THEN 0 \
                         ELSE login_failures.failures + 1 END, \
                       locked_until = CASE WHEN login_failures.failures + 1 >= $3 \
                         THEN $2 + login_failures.next_lock ELSE 0 END, \
                       next_lock = CASE WHEN login_failures.failures + 1 >= $3 \
                         THEN (CASE WHEN login_failures.next_lock * 2 > $5 THEN $5 \
                           ELSE login_failures.next_lock * 2 END) \
                         ELSE login_failures.next_lock END, \
                       updated_at = $2 \
                     WHERE login_failures.locked_until <= $2 \
                     RETURNING failures",
                )
                .bind(account)
                .bind(now)
                .bind(p.threshold)
                .bind(p.first_lock)
                .bind(p.max_lock)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(failures) = counted {
                    // The count restarts at 0 exactly when this attempt set the lock.
                    return Ok(Ok(failures == 0));
                }
                let locked_until: Option<i64> = sqlx::query_scalar(
                    "SELECT locked_until FROM login_failures WHERE account = $1",
                )
                .bind(account)
                .fetch_optional(&self.pool)
                .await?;
                Ok(Err(locked_until.unwrap_or(now + 1).max(now + 1)))
            }

            async fn clear_login_failures(&self, account: &str) -> StoreResult<bool> {
                let r = sqlx::query("DELETE FROM login_failures WHERE account = $1")
                    .bind(account)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }
        }
    };
}

mod sqlite {
    guard_store!(crate::store::sql::SqliteStore);
}

mod postgres {
    guard_store!(crate::store::sql::PgStore);
}
