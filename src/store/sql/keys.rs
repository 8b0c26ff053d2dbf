//! [`Store`](crate::store::Store)'s own methods, on both backends (see `super` for the shape of
//! these files): the schema (migrations, ping) and what the server keeps about itself rather
//! than about users: signing keys, generated secrets, and revocation entries.

/// `impl Store for $store`, whose `pool` is a pool of a sqlx driver; `$migrator` is the
/// backend's `fn() -> Migrator` in `store::migrate`.
/// `$write` is the backend's `write_revocation` (`super::revocations`).
/// `$lock` serialises key additions (empty where writers serialise anyway), `$notify` tells
/// other instances about a key change (empty where nobody listens).
macro_rules! keys_store {
    ($store:ty, $migrator:path, $write:path, $subscribe:expr, $lock:expr, $notify:expr) => {
        use async_trait::async_trait;

        use $crate::store::{RevocationRecord, Store, StoreError, StoreResult, StoredKey};

        #[async_trait]
        impl Store for $store {
            async fn migrate(&self) -> StoreResult<()> {
                let _lock = self.lock_migrations().await?;
                let migrator = $migrator();
                migrator
                    .run(&self.pool)
                    .await
                    .map_err(|e| StoreError::Other(anyhow::Error::new(e)))
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn signing_keys(&self, alg: &str) -> StoreResult<Vec<StoredKey>> {
                type Row = (String, String, String, String, i64, i64, Option<i64>);
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT kid, alg, private_der, public_jwk, created_at, activates_at, \
                     retired_at FROM signing_keys WHERE alg = $1 ORDER BY created_at DESC, kid",
                )
                .bind(alg)
                .fetch_all(&self.pool)
                .await?;
                let mut keys = Vec::with_capacity(rows.len());
                for (kid, alg, private_der, public_jwk, created_at, activates_at, retired_at) in
                    rows
                {
                    keys.push(StoredKey {
                        kid,
                        alg,
                        private_der,
                        public_jwk,
                        created_at,
                        activates_at,
                        retired_at,
                    });
                }
                Ok(keys)
            }

            async fn insert_signing_key(&self, k: &StoredKey) -> StoreResult<()> {
                self.add_signing_key_unless(k, i64::MAX).await.map(drop)
            }

            async fn add_signing_key_unless(
                &self,
                k: &StoredKey,
                unless_created_since: i64,
            ) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                if !$lock.is_empty() {
                    sqlx::query($lock).execute(&mut *tx).await?;
                }
                let added = sqlx::query(
                    "INSERT INTO signing_keys \
                       (kid, alg, private_der, public_jwk, created_at, activates_at) \
                     SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM signing_keys \
                       WHERE alg = $2 AND retired_at IS NULL AND created_at >= $7) \
                     ON CONFLICT (kid) DO NOTHING",
                )
                .bind(&k.kid)
                .bind(&k.alg)
                .bind(&k.private_der)
                .bind(&k.public_jwk)
                .bind(k.created_at)
                .bind(k.activates_at)
                .bind(unless_created_since)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if added && !$notify.is_empty() {
                    sqlx::query($notify).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(added)
            }

            async fn retire_signing_key(&self, kid: &str, now: i64) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let retired = sqlx::query(
                    "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL",
                )
                .bind(kid)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if retired && !$notify.is_empty() {
                    sqlx::query($notify).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(retired)
            }

            async fn reseal_signing_key(
                &self,
                kid: &str,
                old: &str,
                new: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE signing_keys SET private_der = $3 WHERE kid = $1 AND private_der = $2",
                )
                .bind(kid)
                .bind(old)
                .bind(new)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn reseal_secret(&self, name: &str, old: &str, new: &str) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE server_secrets SET value = $3 WHERE name = $1 AND value = $2",
                )
                .bind(name)
                .bind(old)
                .bind(new)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn secret(&self, name: &str, candidate: &str, now: i64) -> StoreResult<String> {
                sqlx::query(
                    "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(candidate)
                .bind(now)
                .execute(&self.pool)
                .await?;
                let value = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(value)
            }

            async fn save_revocation(&self, e: &RevocationRecord) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                $write(&mut tx, e).await?;
                Ok(tx.commit().await?)
            }

            async fn load_revocations(
                &self,
                now: i64,
                after_seq: i64,
            ) -> StoreResult<Vec<RevocationRecord>> {
                let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT kind, subject, data, expires_at, created_at, seq FROM revocations \
                     WHERE expires_at > $1 AND seq > $2 ORDER BY seq",
                )
                .bind(now)
                .bind(after_seq)
                .fetch_all(&self.pool)
                .await?;
                let mut entries = Vec::with_capacity(rows.len());
                for (kind, subject, data, expires_at, created_at, seq) in rows {
                    entries.push(RevocationRecord {
                        kind,
                        subject,
                        data,
                        expires_at,
                        created_at,
                        seq,
                    });
                }
                Ok(entries)
            }

            fn subscribe(&self) -> Option<tokio::sync::mpsc::Receiver<$crate::store::Change>> {
                let subscribe: fn(&Self) -> Option<_> = $subscribe;
                subscribe(self)
            }
        }
    };
}

mod sqlite {
    keys_store!(
        crate::store::sql::SqliteStore,
        crate::store::migrate::sqlite,
        crate::store::sql::revocations::sqlite::write_revocation,
        |_| None,
        "",
        ""
    );
}

mod postgres {
    keys_store!(
        crate::store::sql::PgStore,
        crate::store::migrate::postgres,
        crate::store::sql::revocations::postgres::write_revocation,
        |store| {
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            tokio::spawn(crate::store::sql::listen::run(store.pool.clone(), tx));
            Some(rx)
        },
        // The key is arbitrary ("signkeys" in ASCII).
        "SELECT pg_advisory_xact_lock(8316866390069081459)",
        "SELECT pg_notify('authgate_keys', '')"
    );
}
