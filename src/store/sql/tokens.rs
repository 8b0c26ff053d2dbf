//! [`TokenStore`](crate::store::TokenStore): one-time tokens, on both backends (see `super` for
//! the shape of these files). Every use is one `UPDATE … WHERE used_at IS NULL AND expires_at >
//! now … RETURNING`, so of two concurrent uses of one token exactly one wins.

/// `impl TokenStore for $store` over `$db`, writing users and mails with `$backend`'s helpers.
macro_rules! token_store {
    ($store:ty, $db:ty, $backend:ident) => {
        use async_trait::async_trait;
        use sqlx::Row;
        use uuid::Uuid;

        use $crate::domain::login_key;
        use $crate::store::sql::outbox::$backend::insert_mail;
        use $crate::store::sql::parse_uuid;
        use $crate::store::sql::users::$backend::insert_user;
        use $crate::store::{
            NewMail, NewOneTimeToken, NewUser, StoreResult, TokenOwner, TokenStore, UserRecord,
        };

        /// Use up the user's unused tokens of `purpose` and store `t`, inside `tx`.
        async fn insert_token(
            tx: &mut sqlx::Transaction<'static, $db>,
            t: &NewOneTimeToken,
        ) -> StoreResult<()> {
            sqlx::query(
                "UPDATE one_time_tokens SET used_at = $3 \
                 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
            )
            .bind(t.user_id.to_string())
            .bind(t.purpose)
            .bind(t.created_at)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO one_time_tokens \
                   (token_hash, user_id, purpose, email, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&t.hash)
            .bind(t.user_id.to_string())
            .bind(t.purpose)
            .bind(&t.email)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Use the token `hash` of `purpose` inside `tx`: its owner, or `None`.
        async fn use_token(
            tx: &mut sqlx::Transaction<'static, $db>,
            hash: &str,
            purpose: &str,
            now: i64,
        ) -> StoreResult<Option<TokenOwner>> {
            let row = sqlx::query(
                "UPDATE one_time_tokens SET used_at = $3 \
                 WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                 RETURNING user_id, email",
            )
            .bind(hash)
            .bind(purpose)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(TokenOwner {
                    user_id: parse_uuid(row.try_get("user_id")?)?,
                    email: row.try_get("email")?,
                })),
            }
        }

        #[async_trait]
        impl TokenStore for $store {
            async fn issue_token(
                &self,
                token: &NewOneTimeToken,
                mails: &[NewMail],
            ) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                insert_token(&mut tx, token).await?;
                for mail in mails {
                    insert_mail(&mut tx, mail).await?;
                }
                Ok(tx.commit().await?)
            }

            async fn create_user_with_token(
                &self,
                user: &NewUser,
                token: &NewOneTimeToken,
                mail: &NewMail,
            ) -> StoreResult<UserRecord> {
                let mut tx = self.begin().await?;
                let created = insert_user(&mut tx, user).await?;
                insert_token(&mut tx, token).await?;
                insert_mail(&mut tx, mail).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn token_owner(
                &self,
                hash: &str,
                purpose: &str,
                now: i64,
            ) -> StoreResult<Option<TokenOwner>> {
                let row = sqlx::query(
                    "SELECT user_id, email FROM one_time_tokens WHERE token_hash = $1 \
                       AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
                )
                .bind(hash)
                .bind(purpose)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    None => Ok(None),
                    Some(row) => Ok(Some(TokenOwner {
                        user_id: parse_uuid(row.try_get("user_id")?)?,
                        email: row.try_get("email")?,
                    })),
                }
            }

            async fn reset_password(
                &self,
                hash: &str,
                new_hash: &str,
                now: i64,
            ) -> StoreResult<Option<Uuid>> {
                let mut tx = self.begin().await?;
                let Some(owner) = use_token(&mut tx, hash, "reset", now).await? else {
                    return Ok(None);
                };
                let id = owner.user_id.to_string();
                sqlx::query("UPDATE users SET password_hash = $2 WHERE user_id = $1")
                    .bind(&id)
                    .bind(new_hash)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE one_time_tokens SET used_at = $2 \
                     WHERE user_id = $1 AND purpose = 'reset' AND used_at IS NULL",
                )
                .bind(&id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(owner.user_id))
            }

            async fn confirm_email(
                &self,
                hash: &str,
                purpose: &str,
                now: i64,
            ) -> StoreResult<Option<Uuid>> {
                let mut tx = self.begin().await?;
                let Some(owner) = use_token(&mut tx, hash, purpose, now).await? else {
                    return Ok(None);
                };
                let id = owner.user_id.to_string();
                let lower = login_key(&owner.email);
                let changed = if purpose == "email_change" {
                    // A unique violation (the address was taken meanwhile) drops `tx`: the
                    // token stays unused.
                    sqlx::query(
                        "UPDATE users SET email = $2, email_lower = $3, email_verified = TRUE \
                         WHERE user_id = $1",
                    )
                    .bind(&id)
                    .bind(&owner.email)
                    .bind(&lower)
                    .execute(&mut *tx)
                    .await?
                } else {
                    sqlx::query(
                        "UPDATE users SET email_verified = TRUE \
                         WHERE user_id = $1 AND email_lower = $2",
                    )
                    .bind(&id)
                    .bind(&lower)
                    .execute(&mut *tx)
                    .await?
                };
                if changed.rows_affected() == 0 {
                    // The account's address is no longer the one the link was sent to.
                    return Ok(None);
                }
                tx.commit().await?;
                Ok(Some(owner.user_id))
            }

            async fn purge_tokens(&self, before: i64) -> StoreResult<u64> {
                let r = sqlx::query("DELETE FROM one_time_tokens WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

mod sqlite {
    token_store!(crate::store::sql::SqliteStore, sqlx::Sqlite, sqlite);
}

mod postgres {
    token_store!(crate::store::sql::PgStore, sqlx::Postgres, postgres);
}
