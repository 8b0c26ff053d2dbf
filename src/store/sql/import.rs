//! [`ImportStore`](crate::store::ImportStore): batches of users moved in by `authgate import`,
//! on both backends (see `super` for the shape of these files).
//!
//! Each user is one `INSERT … ON CONFLICT DO NOTHING RETURNING`: one round trip for the common
//! case (a new account), and a taken e-mail or username never aborts the batch's transaction
//! (on PostgreSQL a failed statement would). Only a conflict costs a second look, to tell a
//! known account (left alone) from a taken username (inserted without it).

/// `impl ImportStore for $store`, whose `pool` is a pool of the sqlx driver `$db`.
macro_rules! import_store {
    ($store:ty, $db:ty) => {
        use async_trait::async_trait;

        use $crate::store::{ImportStore, Imported, NewUser, StoreResult};

        /// Insert `u` (without its username when `with_username` is false) unless one of its
        /// unique keys is taken; whether it was inserted.
        async fn insert_new(
            tx: &mut sqlx::Transaction<'static, $db>,
            u: &NewUser,
            with_username: bool,
        ) -> StoreResult<bool> {
            let (username, username_lower) = if with_username {
                (u.username.as_deref(), u.username_lower.as_deref())
            } else {
                (None, None)
            };
            let inserted: Option<String> = sqlx::query_scalar(
                "INSERT INTO users (user_id, email, email_lower, username, username_lower, \
                   password_hash, is_active, email_verified, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT DO NOTHING RETURNING user_id",
            )
            .bind(u.id.to_string())
            .bind(&u.email)
            .bind(&u.email_lower)
            .bind(username)
            .bind(username_lower)
            .bind(&u.password_hash)
            .bind(u.is_active)
            .bind(u.email_verified)
            .bind(u.created_at)
            .fetch_optional(&mut **tx)
            .await?;
            Ok(inserted.is_some())
        }

        /// Import one user inside the batch's transaction.
        async fn import_one(
            tx: &mut sqlx::Transaction<'static, $db>,
            u: &NewUser,
        ) -> StoreResult<Imported> {
            let outcome = if insert_new(tx, u, true).await? {
                Imported::Created
            } else {
                let known: Option<String> =
                    sqlx::query_scalar("SELECT user_id FROM users WHERE email_lower = $1")
                        .bind(&u.email_lower)
                        .fetch_optional(&mut **tx)
                        .await?;
                if known.is_some() {
                    return Ok(Imported::Exists);
                }
                // The e-mail is free, so the username was taken: the account comes without it.
                if !insert_new(tx, u, false).await? {
                    return Ok(Imported::Exists);
                }
                Imported::WithoutUsername
            };
            for role in &u.roles {
                sqlx::query("INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2)")
                    .bind(u.id.to_string())
                    .bind(role)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(outcome)
        }

        #[async_trait]
        impl ImportStore for $store {
            async fn import_users(
                &self,
                batch: &[NewUser],
                dry_run: bool,
            ) -> StoreResult<Vec<Imported>> {
                let mut tx = self.pool.begin().await?;
                let mut outcomes = Vec::with_capacity(batch.len());
                for u in batch {
                    outcomes.push(import_one(&mut tx, u).await?);
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
