//! [`PasskeyStore`](crate::store::PasskeyStore): passkeys, ceremonies in flight, a session's
//! `amr`, on both backends (see `super` for the shape of these files). A ceremony is taken by
//! one `DELETE … RETURNING`, so it is finished at most once.

/// `impl PasskeyStore for $store` over `$db`.
macro_rules! passkey_store {
    ($store:ty, $db:ty) => {
        use async_trait::async_trait;
        use sqlx::Row;
        use uuid::Uuid;

        use $crate::store::sql::parse_uuid;
        use $crate::store::{
            CeremonyRecord, NewCeremony, PasskeyRecord, PasskeyStore, PasskeyUse, StoreError,
            StoreResult,
        };

        fn record(row: &<$db as sqlx::Database>::Row) -> StoreResult<PasskeyRecord> {
            Ok(PasskeyRecord {
                id: parse_uuid(row.try_get("passkey_id")?)?,
                user_id: parse_uuid(row.try_get("user_id")?)?,
                credential_id: row.try_get("credential_id")?,
                passkey: row.try_get("passkey")?,
                name: row.try_get("name")?,
                sign_count: row.try_get("sign_count")?,
                backup_eligible: row.try_get("backup_eligible")?,
                backup_state: row.try_get("backup_state")?,
                created_at: row.try_get("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
            })
        }

        #[async_trait]
        impl PasskeyStore for $store {
            async fn create_ceremony(&self, c: &NewCeremony) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO passkey_ceremonies (ceremony_id, kind, user_id, bound_to, \
                       state, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(c.id.to_string())
                .bind(&c.kind)
                .bind(c.user_id.map(|u| u.to_string()))
                .bind(&c.bound_to)
                .bind(&c.state)
                .bind(c.created_at)
                .bind(c.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn take_ceremony(
                &self,
                id: Uuid,
                kind: &str,
                now: i64,
            ) -> StoreResult<Option<CeremonyRecord>> {
                let row = sqlx::query(
                    "DELETE FROM passkey_ceremonies WHERE ceremony_id = $1 AND kind = $2 \
                     RETURNING user_id, bound_to, state, expires_at",
                )
                .bind(id.to_string())
                .bind(kind)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let expires_at: i64 = row.try_get("expires_at")?;
                if expires_at <= now {
                    return Ok(None);
                }
                let user_id: Option<String> = row.try_get("user_id")?;
                Ok(Some(CeremonyRecord {
                    user_id: user_id.as_deref().map(parse_uuid).transpose()?,
                    bound_to: row.try_get("bound_to")?,
                    state: row.try_get("state")?,
                }))
            }

            async fn add_passkey(&self, p: &PasskeyRecord, max_per_user: i64) -> StoreResult<bool> {
                let user = p.user_id.to_string();
                let inserted = sqlx::query(
                    "INSERT INTO passkeys (passkey_id, user_id, credential_id, passkey, name, \
                       sign_count, backup_eligible, backup_state, created_at, last_used_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
                     WHERE (SELECT COUNT(*) FROM passkeys WHERE user_id = $2) < $11",
                )
                .bind(p.id.to_string())
                .bind(&user)
                .bind(&p.credential_id)
                .bind(&p.passkey)
                .bind(&p.name)
                .bind(p.sign_count)
                .bind(p.backup_eligible)
                .bind(p.backup_state)
                .bind(p.created_at)
                .bind(p.last_used_at)
                .bind(max_per_user)
                .execute(&self.pool)
                .await
                .map_err(|e| match StoreError::from(e) {
                    // The only unique column besides the (random) id.
                    StoreError::Conflict(_) => StoreError::Conflict("credential"),
                    other => other,
                })?
                .rows_affected();
                Ok(inserted == 1)
            }

            async fn passkeys(&self, user_id: Uuid) -> StoreResult<Vec<PasskeyRecord>> {
                let rows = sqlx::query(
                    "SELECT passkey_id, user_id, credential_id, passkey, name, sign_count, \
                       backup_eligible, backup_state, created_at, last_used_at \
                     FROM passkeys WHERE user_id = $1 ORDER BY created_at, passkey_id",
                )
                .bind(user_id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(record).collect()
            }

            async fn passkey_by_credential(
                &self,
                credential_id: &str,
            ) -> StoreResult<Option<PasskeyRecord>> {
                let row = sqlx::query(
                    "SELECT passkey_id, user_id, credential_id, passkey, name, sign_count, \
                       backup_eligible, backup_state, created_at, last_used_at \
                     FROM passkeys WHERE credential_id = $1",
                )
                .bind(credential_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(record).transpose()
            }

            async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE passkeys SET name = $3 WHERE user_id = $1 AND passkey_id = $2",
                )
                .bind(user_id.to_string())
                .bind(id.to_string())
                .bind(name)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
                let r = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND passkey_id = $2")
                    .bind(user_id.to_string())
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn passkey_used(&self, u: &PasskeyUse<'_>) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE passkeys SET passkey = $2, sign_count = $3, backup_state = $4, \
                       last_used_at = $5 WHERE passkey_id = $1 AND sign_count <= $3",
                )
                .bind(u.id.to_string())
                .bind(u.passkey)
                .bind(u.sign_count)
                .bind(u.backup_state)
                .bind(u.now)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn set_session_amr(&self, session: Uuid, amr: &str) -> StoreResult<()> {
                sqlx::query("UPDATE sessions SET amr = $2 WHERE session_id = $1")
                    .bind(session.to_string())
                    .bind(amr)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session_amr(&self, session: Uuid) -> StoreResult<Option<String>> {
                let amr: Option<Option<String>> =
                    sqlx::query_scalar("SELECT amr FROM sessions WHERE session_id = $1")
                        .bind(session.to_string())
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(amr.flatten())
            }

            async fn purge_ceremonies(&self, before: i64) -> StoreResult<u64> {
                let r = sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

mod sqlite {
    passkey_store!(crate::store::sql::SqliteStore, sqlx::Sqlite);
}

mod postgres {
    passkey_store!(crate::store::sql::PgStore, sqlx::Postgres);
}
