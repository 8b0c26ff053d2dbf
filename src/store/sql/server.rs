//! Migrations, health, signing keys, secrets and revocations, for both backends.

/// `impl Store` for a store type over a sqlx driver.
macro_rules! impl_server_store {
    ($name:ty, $migrator:path) => {
        #[async_trait]
        impl Store for $name {
            async fn migrate(&self) -> StoreResult<()> {
                $migrator().run(&self.pool).await.map_err(|e| StoreError::Other(anyhow::Error::new(e)))
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err).map(|_| ())
            }

            async fn signing_keys(&self, alg: &str) -> StoreResult<Vec<StoredKey>> {
                let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
                    "SELECT kid, alg, private_der, public_jwk, created_at FROM signing_keys WHERE alg = $1 ORDER BY created_at DESC, kid",
                )
                .bind(alg).fetch_all(&self.pool).await.map_err(map_err)?;
                Ok(rows.into_iter()
                    .map(|(kid, alg, private_der, public_jwk, created_at)| StoredKey { kid, alg, private_der, public_jwk, created_at })
                    .collect())
            }

            async fn insert_signing_key(&self, k: &StoredKey) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, private_der, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO NOTHING",
                )
                .bind(&k.kid).bind(&k.alg).bind(&k.private_der).bind(&k.public_jwk).bind(k.created_at)
                .execute(&self.pool).await.map_err(map_err)?;
                Ok(())
            }

            async fn secret(&self, name: &str, candidate: &str, now: i64) -> StoreResult<String> {
                sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                    .bind(name).bind(candidate).bind(now).execute(&self.pool).await.map_err(map_err)?;
                sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                    .bind(name).fetch_one(&self.pool).await.map_err(map_err)
            }

            async fn save_revocation(&self, e: &RevocationRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO revocations (kind, subject, data, expires_at, created_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (kind, subject) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, created_at = excluded.created_at",
                )
                .bind(&e.kind).bind(&e.subject).bind(&e.data).bind(e.expires_at).bind(e.created_at)
                .execute(&self.pool).await.map_err(map_err)?;
                Ok(())
            }

            async fn load_revocations(&self, now: i64, since: i64) -> StoreResult<Vec<RevocationRecord>> {
                let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
                    "SELECT kind, subject, data, expires_at, created_at FROM revocations WHERE expires_at > $1 AND created_at >= $2 ORDER BY created_at",
                )
                .bind(now).bind(since).fetch_all(&self.pool).await.map_err(map_err)?;
                Ok(rows.into_iter()
                    .map(|(kind, subject, data, expires_at, created_at)| RevocationRecord { kind, subject, data, expires_at, created_at })
                    .collect())
            }
        }
    };
}

pub(super) use impl_server_store;
