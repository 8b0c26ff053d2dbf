//! [`MfaStore`](crate::store::MfaStore): TOTP factors, recovery codes, login-step challenges,
//! on both backends (see `super` for the shape of these files). The once-only decisions are
//! single `UPDATE … WHERE` statements: a larger time step, an unused code, an attempt below the
//! budget. Mails go into the outbox inside the same transaction as their change.

/// `impl MfaStore for $store` over `$db`, writing mails with `$backend`'s helper.
macro_rules! mfa_store {
    ($store:ty, $db:ty, $backend:ident) => {
        use async_trait::async_trait;
        use sqlx::Row;
        use uuid::Uuid;

        use $crate::store::sql::outbox::$backend::insert_mail;
        use $crate::store::sql::parse_uuid;
        use $crate::store::{
            ChallengeRecord, FactorRecord, MfaStore, NewChallenge, NewMail, RecoveryMail,
            StoreResult,
        };

        /// Replace the user's recovery codes by `codes`, inside `tx`.
        async fn insert_codes(
            tx: &mut sqlx::Transaction<'static, $db>,
            user_id: Uuid,
            codes: &[String],
            now: i64,
        ) -> StoreResult<()> {
            let id = user_id.to_string();
            sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
                .bind(&id)
                .execute(&mut **tx)
                .await?;
            for code in codes {
                sqlx::query(
                    "INSERT INTO mfa_recovery_codes (code_hash, user_id, created_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(code)
                .bind(&id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        #[async_trait]
        impl MfaStore for $store {
            async fn put_pending_factor(&self, f: &FactorRecord) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let id = f.user_id.to_string();
                sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1 AND confirmed_at IS NULL")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                let inserted = sqlx::query(
                    "INSERT INTO mfa_factors (user_id, secret_sealed, key_id, created_at, \
                       last_step) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(&id)
                .bind(&f.secret_sealed)
                .bind(&f.key_id)
                .bind(f.created_at)
                .bind(f.last_step)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(inserted == 1)
            }

            async fn factor(&self, user_id: Uuid) -> StoreResult<Option<FactorRecord>> {
                let row = sqlx::query(
                    "SELECT secret_sealed, key_id, created_at, confirmed_at, last_step \
                     FROM mfa_factors WHERE user_id = $1",
                )
                .bind(user_id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(FactorRecord {
                    user_id,
                    secret_sealed: row.try_get("secret_sealed")?,
                    key_id: row.try_get("key_id")?,
                    created_at: row.try_get("created_at")?,
                    confirmed_at: row.try_get("confirmed_at")?,
                    last_step: row.try_get("last_step")?,
                }))
            }

            async fn confirm_factor(
                &self,
                user_id: Uuid,
                step: i64,
                codes: &[String],
                mail: Option<&NewMail>,
                now: i64,
            ) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let confirmed = sqlx::query(
                    "UPDATE mfa_factors SET confirmed_at = $3, last_step = $2 \
                     WHERE user_id = $1 AND confirmed_at IS NULL AND last_step < $2",
                )
                .bind(user_id.to_string())
                .bind(step)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if confirmed == 0 {
                    return Ok(false);
                }
                insert_codes(&mut tx, user_id, codes, now).await?;
                if let Some(mail) = mail {
                    insert_mail(&mut tx, mail).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn accept_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE mfa_factors SET last_step = $2 \
                     WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2",
                )
                .bind(user_id.to_string())
                .bind(step)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn replace_recovery_codes(
                &self,
                user_id: Uuid,
                codes: &[String],
                now: i64,
            ) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                // Taking the factor row's lock first serialises this with a concurrent delete.
                let active = sqlx::query(
                    "UPDATE mfa_factors SET last_step = last_step \
                     WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                )
                .bind(user_id.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if active == 0 {
                    return Ok(false);
                }
                insert_codes(&mut tx, user_id, codes, now).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn use_recovery_code(
                &self,
                user_id: Uuid,
                hash: &str,
                mail: RecoveryMail<'_>,
                now: i64,
            ) -> StoreResult<Option<i64>> {
                let mut tx = self.begin().await?;
                let id = user_id.to_string();
                let used = sqlx::query(
                    "UPDATE mfa_recovery_codes SET used_at = $3 \
                     WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL",
                )
                .bind(hash)
                .bind(&id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if used == 0 {
                    return Ok(None);
                }
                let left: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM mfa_recovery_codes \
                     WHERE user_id = $1 AND used_at IS NULL",
                )
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
                insert_mail(&mut tx, &mail(left)).await?;
                tx.commit().await?;
                Ok(Some(left))
            }

            async fn recovery_codes_left(&self, user_id: Uuid) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM mfa_recovery_codes \
                     WHERE user_id = $1 AND used_at IS NULL",
                )
                .bind(user_id.to_string())
                .fetch_one(&self.pool)
                .await?)
            }

            async fn delete_factor(
                &self,
                user_id: Uuid,
                mail: Option<&NewMail>,
            ) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let id = user_id.to_string();
                let deleted = sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                if deleted == 0 {
                    return Ok(false);
                }
                if let Some(mail) = mail {
                    insert_mail(&mut tx, mail).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn create_challenge(&self, c: &NewChallenge) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO mfa_challenges (challenge_hash, user_id, password_tag, \
                       remember_me, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&c.hash)
                .bind(c.user_id.to_string())
                .bind(&c.password_tag)
                .bind(c.remember_me)
                .bind(c.created_at)
                .bind(c.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn challenge_attempt(
                &self,
                hash: &str,
                max_attempts: i64,
                now: i64,
            ) -> StoreResult<Option<ChallengeRecord>> {
                let row = sqlx::query(
                    "UPDATE mfa_challenges SET attempts = attempts + 1 \
                     WHERE challenge_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                       AND attempts < $3 \
                     RETURNING user_id, password_tag, remember_me, attempts",
                )
                .bind(hash)
                .bind(now)
                .bind(max_attempts)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(ChallengeRecord {
                    user_id: parse_uuid(row.try_get("user_id")?)?,
                    password_tag: row.try_get("password_tag")?,
                    remember_me: row.try_get("remember_me")?,
                    attempts: row.try_get("attempts")?,
                }))
            }

            async fn finish_challenge(&self, hash: &str, now: i64) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE mfa_challenges SET used_at = $2 \
                     WHERE challenge_hash = $1 AND used_at IS NULL",
                )
                .bind(hash)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn mark_session_mfa(&self, session: Uuid, now: i64) -> StoreResult<()> {
                sqlx::query("UPDATE sessions SET mfa_at = $2 WHERE session_id = $1")
                    .bind(session.to_string())
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session_mfa(&self, session: Uuid) -> StoreResult<Option<i64>> {
                let at: Option<Option<i64>> =
                    sqlx::query_scalar("SELECT mfa_at FROM sessions WHERE session_id = $1")
                        .bind(session.to_string())
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(at.flatten())
            }

            async fn purge_challenges(&self, before: i64) -> StoreResult<u64> {
                let r = sqlx::query("DELETE FROM mfa_challenges WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

mod sqlite {
    mfa_store!(crate::store::sql::SqliteStore, sqlx::Sqlite, sqlite);
}

mod postgres {
    mfa_store!(crate::store::sql::PgStore, sqlx::Postgres, postgres);
}
