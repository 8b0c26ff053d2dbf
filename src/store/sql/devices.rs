//! [`DeviceStore`](crate::store::DeviceStore): device tokens and the reset of an account's
//! guard counters, on both backends (see `super` for the shape of these files). Counting an
//! attempt is one atomic statement, so parallel attempts never exceed a token's budget.

/// `impl DeviceStore for $store`, whose `pool` is a pool of a sqlx driver.
macro_rules! device_store {
    ($store:ty) => {
        use async_trait::async_trait;
        use uuid::Uuid;

        use $crate::store::{DeviceStore, NewDeviceToken, StoreResult};

        #[async_trait]
        impl DeviceStore for $store {
            async fn insert_device_token(
                &self,
                token: &NewDeviceToken,
                keep: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO device_tokens \
                       (token_hash, user_id, pw_tag, failures, created_at, expires_at) \
                     VALUES ($1, $2, $3, 0, $4, $5)",
                )
                .bind(&token.token_hash)
                .bind(token.user_id.to_string())
                .bind(&token.pw_tag)
                .bind(token.created_at)
                .bind(token.expires_at)
                .execute(&self.pool)
                .await?;
                sqlx::query(
                    "DELETE FROM device_tokens WHERE user_id = $1 AND token_hash NOT IN ( \
                       SELECT token_hash FROM device_tokens WHERE user_id = $1 \
                       ORDER BY created_at DESC, token_hash LIMIT $2)",
                )
                .bind(token.user_id.to_string())
                .bind(keep)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn begin_device_attempt(
                &self,
                hash: &str,
                user_id: Uuid,
                pw_tag: &str,
                max_failures: i64,
                now: i64,
            ) -> StoreResult<Option<i64>> {
                let counted: Option<i64> = sqlx::query_scalar(
                    "UPDATE device_tokens SET failures = failures + 1 \
                     WHERE token_hash = $1 AND user_id = $2 AND pw_tag = $3 \
                       AND failures < $4 AND expires_at > $5 \
                     RETURNING failures",
                )
                .bind(hash)
                .bind(user_id.to_string())
                .bind(pw_tag)
                .bind(max_failures)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(counted)
            }

            async fn delete_device_token(&self, hash: &str) -> StoreResult<bool> {
                let r = sqlx::query("DELETE FROM device_tokens WHERE token_hash = $1")
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn delete_user_device_tokens(&self, user_id: Uuid) -> StoreResult<u64> {
                let r = sqlx::query("DELETE FROM device_tokens WHERE user_id = $1")
                    .bind(user_id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }

            async fn clear_account_guards(
                &self,
                account: &str,
                bucket: &str,
                user_id: Uuid,
            ) -> StoreResult<bool> {
                // substr, not LIKE: an account key may hold LIKE's wildcards.
                let failures = sqlx::query(
                    "DELETE FROM login_failures \
                     WHERE account = $1 OR substr(account, 1, length($2)) = $2",
                )
                .bind(account)
                .bind(format!("{account}|"))
                .execute(&self.pool)
                .await?;
                let buckets = sqlx::query("DELETE FROM rate_limits WHERE bucket = $1")
                    .bind(bucket)
                    .execute(&self.pool)
                    .await?;
                let devices = sqlx::query(
                    "UPDATE device_tokens SET failures = 0 WHERE user_id = $1 AND failures > 0",
                )
                .bind(user_id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(
                    failures.rows_affected() + buckets.rows_affected() + devices.rows_affected()
                        > 0,
                )
            }

            async fn purge_device_tokens(&self, now: i64) -> StoreResult<u64> {
                let r = sqlx::query("DELETE FROM device_tokens WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

mod sqlite {
    device_store!(crate::store::sql::SqliteStore);
}

mod postgres {
    device_store!(crate::store::sql::PgStore);
}
