//! Users and roles, for both backends (see `super` for why this is a macro).

/// `impl UserStore` for a store type over a sqlx driver.
macro_rules! impl_user_store {
    ($name:ty, $db:ty) => {
        impl $name {
            fn user_from_row(row: &<$db as sqlx::Database>::Row, roles: Vec<String>) -> StoreResult<UserRecord> {
                let get = |e: sqlx::Error| map_err(e);
                Ok(UserRecord {
                    id: parse_uuid(&row.try_get::<String, _>("user_id").map_err(get)?)?,
                    email: row.try_get("email").map_err(get)?,
                    username: row.try_get("username").map_err(get)?,
                    password_hash: row.try_get("password_hash").map_err(get)?,
                    is_active: row.try_get("is_active").map_err(get)?,
                    roles,
                    created_at: row.try_get("created_at").map_err(get)?,
                    last_login_at: row.try_get("last_login_at").map_err(get)?,
                    last_activity_at: row.try_get("last_activity_at").map_err(get)?,
                })
            }
            async fn roles_of(&self, id: &str) -> StoreResult<Vec<String>> {
                sqlx::query_scalar("SELECT role_name FROM user_roles WHERE user_id = $1 ORDER BY role_name")
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)
            }

            async fn user_where(&self, clause: &str, arg: &str) -> StoreResult<Option<UserRecord>> {
                // One round trip: the user, joined with one row per role (none: one row, NULL role).
                let sql = format!(
                    "SELECT u.*, r.role_name FROM (SELECT {USER_COLUMNS} FROM users WHERE {clause}) u \
                     LEFT JOIN user_roles r ON r.user_id = u.user_id ORDER BY r.role_name"
                );
                let rows = sqlx::query(AssertSqlSafe(sql)).bind(arg).fetch_all(&self.pool).await.map_err(map_err)?;
                let Some(first) = rows.first() else { return Ok(None) };
                let mut roles = Vec::with_capacity(rows.len());
                for row in &rows {
                    if let Some(role) = row.try_get::<Option<String>, _>("role_name").map_err(map_err)? {
                        roles.push(role);
                    }
                }
                Ok(Some(Self::user_from_row(first, roles)?))
            }
        }

        #[async_trait]
        impl UserStore for $name {
            async fn create_user(&self, u: &NewUser) -> StoreResult<UserRecord> {
                let mut tx = self.pool.begin().await.map_err(map_err)?;
                let id = u.id.to_string();
                sqlx::query(
                    "INSERT INTO users (user_id, email, email_lower, username, username_lower, password_hash, is_active, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&id).bind(&u.email).bind(&u.email_lower).bind(&u.username).bind(&u.username_lower)
                .bind(&u.password_hash).bind(u.is_active).bind(u.created_at)
                .execute(&mut *tx).await.map_err(map_err)?;
                for role in &u.roles {
                    sqlx::query("INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2)")
                        .bind(&id).bind(role).execute(&mut *tx).await.map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)?;
                let mut roles = u.roles.clone();
                roles.sort();
                Ok(UserRecord {
                    id: u.id, email: u.email.clone(), username: u.username.clone(),
                    password_hash: u.password_hash.clone(), is_active: u.is_active, roles,
                    created_at: u.created_at, last_login_at: None, last_activity_at: None,
                })
            }

            async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>> {
                self.user_where("user_id = $1", &id.to_string()).await
            }

            async fn user_by_login(&self, login_lower: &str) -> StoreResult<Option<UserRecord>> {
                // Usernames cannot contain '@', so the two columns never compete for one input.
                let clause = if login_lower.contains('@') { "email_lower = $1" } else { "username_lower = $1" };
                self.user_where(clause, login_lower).await
            }

            async fn list_users(&self, q: &UserQuery) -> StoreResult<Vec<UserRecord>> {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM users \
                     WHERE ($1 IS NULL OR user_id > $1) \
                       AND ($2 IS NULL OR email_lower LIKE $2 ESCAPE '\\' OR username_lower LIKE $2 ESCAPE '\\') \
                       AND ($3 IS NULL OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.user_id AND r.role_name = $3)) \
                       AND ($4 IS NULL OR is_active = $4) \
                     ORDER BY user_id LIMIT $5"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(q.after.map(|u| u.to_string()))
                    .bind(q.q.as_deref().map(like_pattern))
                    .bind(q.role.clone())
                    .bind(q.active)
                    .bind(q.limit)
                    .fetch_all(&self.pool).await.map_err(map_err)?;
                let mut users = Vec::with_capacity(rows.len());
                for row in &rows {
                    let roles = self.roles_of(&row.try_get::<String, _>("user_id").map_err(map_err)?).await?;
                    users.push(Self::user_from_row(row, roles)?);
                }
                Ok(users)
            }

            async fn set_username(&self, id: Uuid, username: Option<(&str, &str)>) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE users SET username = $2, username_lower = $3 WHERE user_id = $1")
                    .bind(id.to_string()).bind(username.map(|u| u.0)).bind(username.map(|u| u.1))
                    .execute(&self.pool).await.map_err(map_err)?;
                Ok(r.rows_affected() == 1)
            }

            async fn set_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()> {
                sqlx::query("UPDATE users SET password_hash = $2 WHERE user_id = $1")
                    .bind(id.to_string()).bind(hash).execute(&self.pool).await.map_err(map_err)?;
                Ok(())
            }

            async fn set_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool> {
                let id = id.to_string();
                let mut tx = self.pool.begin().await.map_err(map_err)?;
                // Write first: on SQLite this takes the write lock before any read.
                sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(&id).execute(&mut *tx).await.map_err(map_err)?;
                let exists: Option<String> = sqlx::query_scalar("SELECT user_id FROM users WHERE user_id = $1")
                    .bind(&id).fetch_optional(&mut *tx).await.map_err(map_err)?;
                if exists.is_none() {
                    return Ok(false);
                }
                for role in roles {
                    sqlx::query("INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2)")
                        .bind(&id).bind(role).execute(&mut *tx).await.map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)?;
                Ok(true)
            }

            async fn upgrade_password_hash(&self, id: Uuid, old: &str, new: &str) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE users SET password_hash = $3 WHERE user_id = $1 AND password_hash = $2")
                    .bind(id.to_string()).bind(old).bind(new).execute(&self.pool).await.map_err(map_err)?;
                Ok(r.rows_affected() == 1)
            }

            async fn set_active(&self, id: Uuid, active: bool) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE users SET is_active = $2 WHERE user_id = $1")
                    .bind(id.to_string()).bind(active).execute(&self.pool).await.map_err(map_err)?;
                Ok(r.rows_affected() == 1)
            }

            async fn delete_user(&self, id: Uuid) -> StoreResult<bool> {
                let r = sqlx::query("DELETE FROM users WHERE user_id = $1")
                    .bind(id.to_string()).execute(&self.pool).await.map_err(map_err)?;
                Ok(r.rows_affected() == 1)
            }

            async fn record_login(&self, id: Uuid, now: i64) -> StoreResult<()> {
                sqlx::query("UPDATE users SET last_login_at = $2, last_activity_at = $2 WHERE user_id = $1")
                    .bind(id.to_string()).bind(now).execute(&self.pool).await.map_err(map_err)?;
                Ok(())
            }

            async fn list_roles(&self) -> StoreResult<Vec<RoleRecord>> {
                let rows = sqlx::query("SELECT name, description, created_at FROM roles ORDER BY name")
                    .fetch_all(&self.pool).await.map_err(map_err)?;
                rows.iter()
                    .map(|r| Ok(RoleRecord {
                        name: r.try_get("name").map_err(map_err)?,
                        description: r.try_get("description").map_err(map_err)?,
                        created_at: r.try_get("created_at").map_err(map_err)?,
                    }))
                    .collect()
            }

            async fn create_role(&self, role: &RoleRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO roles (name, description, created_at) VALUES ($1, $2, $3)")
                    .bind(&role.name).bind(&role.description).bind(role.created_at)
                    .execute(&self.pool).await.map_err(|e| match map_err(e) {
                        StoreError::Conflict(_) => StoreError::Conflict("role"),
                        other => other,
                    })?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_user_store;
