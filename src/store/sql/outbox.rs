//! [`OutboxStore`](crate::store::OutboxStore): the e-mail outbox, on both backends (see `super`
//! for the shape of these files). The claim differs: PostgreSQL skips rows another instance
//! has locked (`FOR UPDATE SKIP LOCKED`), SQLite serialises writers anyway.

/// `impl OutboxStore for $store` over the sqlx driver `$db`; `$claim` is the backend's claim.
macro_rules! outbox_store {
    ($store:ty, $db:ty, $claim:expr) => {
        use async_trait::async_trait;
        use sqlx::Row;
        use uuid::Uuid;

        use $crate::store::sql::parse_uuid;
        use $crate::store::{NewMail, OutboxStore, QueuedMail, StoreResult};

        /// Enqueue `mail` inside `tx`, due at once.
        pub(in crate::store::sql) async fn insert_mail(
            tx: &mut sqlx::Transaction<'static, $db>,
            mail: &NewMail,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO outbox (mail_id, kind, recipient, user_id, context, \
                   next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(mail.id.to_string())
            .bind(&mail.kind)
            .bind(&mail.recipient)
            .bind(mail.user_id.map(|u| u.to_string()))
            .bind(&mail.context)
            .bind(mail.created_at)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        #[async_trait]
        impl OutboxStore for $store {
            async fn enqueue_mail(&self, mail: &NewMail) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                insert_mail(&mut tx, mail).await?;
                Ok(tx.commit().await?)
            }

            async fn claim_mail(
                &self,
                now: i64,
                lease: i64,
                limit: i64,
            ) -> StoreResult<Vec<QueuedMail>> {
                // Most polls find nothing: a read first, so they take no write lock (SQLite).
                let due: Option<i32> = sqlx::query_scalar(
                    "SELECT 1 FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL \
                       AND next_attempt_at <= $1 LIMIT 1",
                )
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                let rows = sqlx::query($claim)
                    .bind(now)
                    .bind(lease)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                let mut mails = Vec::with_capacity(rows.len());
                for row in &rows {
                    let user: Option<String> = row.try_get("user_id")?;
                    mails.push(QueuedMail {
                        id: parse_uuid(row.try_get("mail_id")?)?,
                        kind: row.try_get("kind")?,
                        recipient: row.try_get("recipient")?,
                        user_id: user.as_deref().map(parse_uuid).transpose()?,
                        context: row.try_get("context")?,
                        attempts: row.try_get("attempts")?,
                        created_at: row.try_get("created_at")?,
                    });
                }
                mails.sort_by_key(|m| (m.created_at, m.id));
                Ok(mails)
            }

            async fn mail_sent(&self, id: Uuid, now: i64) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE outbox SET sent_at = $2, context = '{}', last_error = NULL \
                     WHERE mail_id = $1",
                )
                .bind(id.to_string())
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn mail_failed(
                &self,
                id: Uuid,
                retry_at: Option<i64>,
                now: i64,
                error: &str,
            ) -> StoreResult<()> {
                let error: String = error.chars().take(500).collect();
                let sql = if retry_at.is_some() {
                    "UPDATE outbox SET next_attempt_at = $2, last_error = $4 WHERE mail_id = $1"
                } else {
                    "UPDATE outbox SET failed_at = $3, context = '{}', last_error = $4 \
                     WHERE mail_id = $1"
                };
                sqlx::query(sql)
                    .bind(id.to_string())
                    .bind(retry_at.unwrap_or(now))
                    .bind(now)
                    .bind(error)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn purge_mail(&self, before: i64) -> StoreResult<u64> {
                let r = sqlx::query(
                    "DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < $1) \
                       OR (failed_at IS NOT NULL AND failed_at < $1)",
                )
                .bind(before)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

pub(super) mod sqlite {
    // Writers serialise on SQLite: the UPDATE's own read is the claim.
    outbox_store!(
        crate::store::sql::SqliteStore,
        sqlx::Sqlite,
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1 + $2 \
         WHERE mail_id IN (SELECT mail_id FROM outbox \
           WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
           ORDER BY created_at, mail_id LIMIT $3) \
         RETURNING mail_id, kind, recipient, user_id, context, attempts, created_at"
    );
}

pub(super) mod postgres {
    // Rows another instance's claim holds are skipped, not waited for: N senders, each mail once.
    outbox_store!(
        crate::store::sql::PgStore,
        sqlx::Postgres,
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1 + $2 \
         WHERE mail_id IN (SELECT mail_id FROM outbox \
           WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
           ORDER BY created_at, mail_id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING mail_id, kind, recipient, user_id, context, attempts, created_at"
    );
}
