//! [`ImportStore`](crate::store::ImportStore): batches of users moved in by `authgate import`,
//! on both backends (see `super` for the shape of these files).
//!
//! A batch goes in a few statements whatever its size: one multi-row `INSERT … ON CONFLICT DO
//! NOTHING RETURNING` for the users (a taken e-mail or username skips its row and never aborts
//! the transaction, as a failed statement would on PostgreSQL), one look-up of the e-mails of
//! the rows that were not inserted, and one multi-row insert of the new users' roles. Only a row
//! whose username alone was taken costs a statement of its own (inserted without it). Chunks
//! of [`CHUNK`] rows keep every statement under SQLite's and PostgreSQL's bind limits.

/// Rows per statement: 9 binds each, far under SQLite's 32,766 and PostgreSQL's 65,535.
const CHUNK: usize = 500;

/// `impl ImportStore for $store`, whose `pool` is a pool of the sqlx driver `$db`.
macro_rules! import_store {
    ($store:ty, $db:ty) => {
        use std::collections::HashSet;

        use async_trait::async_trait;
        use sqlx::QueryBuilder;

        use $crate::store::{ImportStore, Imported, NewUser, StoreResult};

        use super::CHUNK;

        /// Insert the users of `chunk` whose unique keys are free; the ids inserted.
        async fn insert_free(
            tx: &mut sqlx::Transaction<'static, $db>,
            chunk: &[NewUser],
        ) -> StoreResult<HashSet<String>> {
            let mut q = QueryBuilder::<$db>::new(
                "INSERT INTO users (user_id, email, email_lower, username, username_lower, \
                   password_hash, is_active, email_verified, created_at) ",
            );
            q.push_values(chunk, |mut row, u| {
                row.push_bind(u.id.to_string())
                    .push_bind(u.email.as_str())
                    .push_bind(u.email_lower.as_str())
                    .push_bind(u.username.as_deref())
                    .push_bind(u.username_lower.as_deref())
                    .push_bind(u.password_hash.as_str())
                    .push_bind(u.is_active)
                    .push_bind(u.email_verified)
                    .push_bind(u.created_at);
            });
            q.push(" ON CONFLICT DO NOTHING RETURNING user_id");
            let ids: Vec<String> = q.build_query_scalar().fetch_all(&mut **tx).await?;
            Ok(ids.into_iter().collect())
        }

        /// Which of `keys` are the e-mail key of a stored user.
        async fn known_emails(
            tx: &mut sqlx::Transaction<'static, $db>,
            keys: &[&str],
        ) -> StoreResult<HashSet<String>> {
            if keys.is_empty() {
                return Ok(HashSet::new());
            }
            let mut q =
                QueryBuilder::<$db>::new("SELECT email_lower FROM users WHERE email_lower IN (");
            let mut list = q.separated(", ");
            for key in keys {
                list.push_bind(*key);
            }
            q.push(")");
            let found: Vec<String> = q.build_query_scalar().fetch_all(&mut **tx).await?;
            Ok(found.into_iter().collect())
        }

        /// Insert `u` without its username unless its e-mail is taken; whether it was inserted.
        async fn insert_without_username(
            tx: &mut sqlx::Transaction<'static, $db>,
            u: &NewUser,
        ) -> StoreResult<bool> {
            let inserted: Option<String> = sqlx::query_scalar(
                "INSERT INTO users (user_id, email, email_lower, username, username_lower, \
                   password_hash, is_active, email_verified, created_at) \
                 VALUES ($1, $2, $3, NULL, NULL, $4, $5, $6, $7) \
                 ON CONFLICT DO NOTHING RETURNING user_id",
            )
            .bind(u.id.to_string())
            .bind(&u.email)
            .bind(&u.email_lower)
            .bind(&u.password_hash)
            .bind(u.is_active)
            .bind(u.email_verified)
            .bind(u.created_at)
            .fetch_optional(&mut **tx)
            .await?;
            Ok(inserted.is_some())
        }

        /// Give each created user of `chunk` its roles.
        async fn insert_roles(
            tx: &mut sqlx::Transaction<'static, $db>,
            chunk: &[NewUser],
            outcomes: &[Imported],
        ) -> StoreResult<()> {
            let pairs: Vec<(String, &str)> = chunk
                .iter()
                .zip(outcomes)
                .filter(|(_, o)| **o != Imported::Exists)
                .flat_map(|(u, _)| u.roles.iter().map(|r| (u.id.to_string(), r.as_str())))
                .collect();
            for part in pairs.chunks(CHUNK) {
                let mut q =
                    QueryBuilder::<$db>::new("INSERT INTO user_roles (user_id, role_name) ");
                q.push_values(part, |mut row, (id, role)| {
                    row.push_bind(id.as_str()).push_bind(*role);
                });
                q.build().execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Import one chunk inside the batch's transaction.
        async fn import_chunk(
            tx: &mut sqlx::Transaction<'static, $db>,
            chunk: &[NewUser],
        ) -> StoreResult<Vec<Imported>> {
            let inserted = insert_free(tx, chunk).await?;
            let left: Vec<&str> = chunk
                .iter()
                .filter(|u| !inserted.contains(&u.id.to_string()))
                .map(|u| u.email_lower.as_str())
                .collect();
            let known = known_emails(tx, &left).await?;
            let mut outcomes = Vec::with_capacity(chunk.len());
            for u in chunk {
                outcomes.push(if inserted.contains(&u.id.to_string()) {
                    Imported::Created
                } else if known.contains(&u.email_lower) {
                    Imported::Exists
                } else if insert_without_username(tx, u).await? {
                    // The e-mail was free, so the username was taken.
                    Imported::WithoutUsername
                } else {
                    // Taken meanwhile by a row of this chunk inserted just above.
                    Imported::Exists
                });
            }
            insert_roles(tx, chunk, &outcomes).await?;
            Ok(outcomes)
        }

        #[async_trait]
        impl ImportStore for $store {
            async fn import_users(
                &self,
                batch: &[NewUser],
                dry_run: bool,
            ) -> StoreResult<Vec<Imported>> {
                let mut tx = self.begin().await?;
                let mut outcomes = Vec::with_capacity(batch.len());
                for chunk in batch.chunks(CHUNK) {
                    outcomes.extend(import_chunk(&mut tx, chunk).await?);
                }
                if dry_run {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                }
                Ok(outcomes)
            }
        }
    };
}

mod sqlite {
    import_store!(crate::store::sql::SqliteStore, sqlx::Sqlite);
}

mod postgres {
    import_store!(crate::store::sql::PgStore, sqlx::Postgres);
}
