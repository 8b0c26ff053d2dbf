//! [`FeedStore`](crate::store::FeedStore): verifier credentials and the revocation feed's
//! pages, on both backends (see `super` for the shape of these files).

/// `impl FeedStore for $store`, whose `pool` is a pool of a sqlx driver.
macro_rules! feed_store {
    ($store:ty) => {
        use async_trait::async_trait;

        use $crate::store::{FeedStore, RevocationRecord, StoreError, StoreResult, VerifierRecord};

        #[async_trait]
        impl FeedStore for $store {
            async fn create_verifier(
                &self,
                name: &str,
                token_hash: &str,
                now: i64,
            ) -> StoreResult<()> {
                let r = sqlx::query(
                    "INSERT INTO verifiers (name, token_hash, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(token_hash)
                .bind(now)
                .execute(&self.pool)
                .await?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::Conflict("verifier"));
                }
                Ok(())
            }

            async fn verifier_by_hash(
                &self,
                token_hash: &str,
            ) -> StoreResult<Option<VerifierRecord>> {
                let row: Option<(String, i64)> = sqlx::query_as(
                    "SELECT name, created_at FROM verifiers \
                     WHERE token_hash = $1 AND revoked_at IS NULL",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(name, created_at)| VerifierRecord {
                    name,
                    created_at,
                    revoked_at: None,
                }))
            }

            async fn list_verifiers(&self) -> StoreResult<Vec<VerifierRecord>> {
                let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT name, created_at, revoked_at FROM verifiers ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(name, created_at, revoked_at)| VerifierRecord {
                        name,
                        created_at,
                        revoked_at,
                    })
                    .collect())
            }

            async fn revoke_verifier(&self, name: &str, now: i64) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE verifiers SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                )
                .bind(name)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn revocations_page(
                &self,
                now: i64,
                after_seq: i64,
                limit: i64,
            ) -> StoreResult<Vec<RevocationRecord>> {
                let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
                    // Only the kinds the feed describes: a page must not fill up with rows
                    // its reader skips (its cursor is the last item's `seq`).
                    "SELECT kind, subject, data, expires_at, created_at, seq FROM revocations \
                     WHERE expires_at > $1 AND seq > $2 AND kind IN ('session', 'user') \
                     ORDER BY seq LIMIT $3",
                )
                .bind(now)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(kind, subject, data, expires_at, created_at, seq)| RevocationRecord {
                            kind,
                            subject,
                            data,
                            expires_at,
                            created_at,
                            seq,
                        },
                    )
                    .collect())
            }
        }
    };
}

mod sqlite {
    feed_store!(crate::store::sql::SqliteStore);
}

mod postgres {
    feed_store!(crate::store::sql::PgStore);
}
