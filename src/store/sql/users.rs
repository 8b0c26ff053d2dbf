//! [`UserStore`](crate::store::UserStore): users and their roles, on both backends (see `super`
//! for the shape of these files).

/// `impl UserStore for $store`, whose `pool` is a pool of the sqlx driver `$db`. `$narrow` is
/// the backend's `async fn(&Pool<$db>, &mut QueryBuilder<$db>, q: &str) -> StoreResult<bool>`:
/// it may add to the admin list's statement a condition that narrows the users to candidates
/// for the substring `q` through an index (true if it did); the exact `LIKE` follows anyway.
macro_rules! user_store {
    ($store:ty, $db:ty, $narrow:path) => {
        use async_trait::async_trait;
        use sqlx::Row;
        use uuid::Uuid;

        use $crate::store::sql::{like_pattern, parse_uuid};
        use $crate::store::{
            NewUser, RoleRecord, StoreError, StoreResult, UserQuery, UserRecord, UserStore,
        };

        type DbRow = <$db as sqlx::Database>::Row;

        /// A row with the user columns (`user_id, email, username, password_hash, is_active,
        /// email_verified, created_at, last_login_at, last_activity_at`), and the user's roles.
        fn user_from_row(row: &DbRow, roles: Vec<String>) -> StoreResult<UserRecord> {
            Ok(UserRecord {
                id: parse_uuid(row.try_get("user_id")?)?,
                email: row.try_get("email")?,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                is_active: row.try_get("is_active")?,
                email_verified: row.try_get("email_verified")?,
                roles,
                created_at: row.try_get("created_at")?,
                last_login_at: row.try_get("last_login_at")?,
                last_activity_at: row.try_get("last_activity_at")?,
            })
        }

        /// Run `sql`, a user query with `$1 = key` that returns the user columns plus
        /// `role_name`, one row per role ordered by role (a user without roles: one row, NULL
        /// role), so a user and their roles come back in one round trip.
        async fn user_with_roles(
            pool: &sqlx::Pool<$db>,
            sql: &'static str,
            key: &str,
        ) -> StoreResult<Option<UserRecord>> {
            let rows = sqlx::query(sql).bind(key).fetch_all(pool).await?;
            user_from_rows(&rows)
        }

        /// One user from the rows of a user query joined with its roles (see `user_with_roles`).
        fn user_from_rows(rows: &[DbRow]) -> StoreResult<Option<UserRecord>> {
            let Some(first) = rows.first() else {
                return Ok(None);
            };
            let mut roles = Vec::with_capacity(rows.len());
            for row in rows {
                if let Some(role) = row.try_get::<Option<String>, _>("role_name")? {
                    roles.push(role);
                }
            }
            Ok(Some(user_from_row(first, roles)?))
        }

        /// The roles of the users in `rows` (which have a `user_id`), by user id, each sorted.
        async fn page_roles(
            pool: &sqlx::Pool<$db>,
            rows: &[DbRow],
        ) -> StoreResult<std::collections::HashMap<String, Vec<String>>> {
            let mut by_user = std::collections::HashMap::new();
            if rows.is_empty() {
                return Ok(by_user);
            }
            let mut q = sqlx::QueryBuilder::<$db>::new(
                "SELECT user_id, role_name FROM user_roles WHERE user_id IN (",
            );
            let mut ids = q.separated(", ");
            for row in rows {
                ids.push_bind(row.try_get::<String, _>("user_id")?);
            }
            q.push(") ORDER BY user_id, role_name");
            let pairs: Vec<(String, String)> = q.build_query_as().fetch_all(pool).await?;
            for (user, role) in pairs {
                by_user.entry(user).or_insert_with(Vec::new).push(role);
            }
            Ok(by_user)
        }

        /// Lock the `admin` role's row until `tx` ends, and count the active admins. Every
        /// change that can remove an admin (`set_roles`, `set_active`, `delete_user`) starts so,
        /// so they serialise: on PostgreSQL a second one waits for the row lock (`UPDATE` of a
        /// non-key column: `FOR NO KEY UPDATE`, which does not block the foreign-key checks of
        /// users being given the role), and its count, a later statement under READ COMMITTED,
        /// sees what the first committed; on SQLite the `UPDATE` takes the write lock before
        /// any read.
        async fn lock_admins(tx: &mut sqlx::Transaction<'static, $db>) -> StoreResult<i64> {
            sqlx::query("UPDATE roles SET description = description WHERE name = 'admin'")
                .execute(&mut **tx)
                .await?;
            active_admins(tx).await
        }

        async fn active_admins(tx: &mut sqlx::Transaction<'static, $db>) -> StoreResult<i64> {
            let n = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users u JOIN user_roles r ON r.user_id = u.user_id \
                 WHERE r.role_name = 'admin' AND u.is_active",
            )
            .fetch_one(&mut **tx)
            .await?;
            Ok(n)
        }

        /// Commit `tx` unless it took the last active admin away (there were `before`).
        async fn commit_unless_no_admin_left(
            mut tx: sqlx::Transaction<'static, $db>,
            before: i64,
        ) -> StoreResult<()> {
            if before > 0 && active_admins(&mut tx).await? == 0 {
                // Dropping `tx` rolls the change back.
                return Err(StoreError::LastAdmin);
            }
            Ok(tx.commit().await?)
        }

        /// Insert `u` and their roles inside `tx` (registration writes its verification token
        /// and mail in the same transaction: `super::tokens`).
        pub(in crate::store::sql) async fn insert_user(
            tx: &mut sqlx::Transaction<'static, $db>,
            u: &NewUser,
        ) -> StoreResult<UserRecord> {
            let id = u.id.to_string();
            sqlx::query(
                "INSERT INTO users (user_id, email, email_lower, username, username_lower, \
                   password_hash, is_active, email_verified, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(&u.email)
            .bind(&u.email_lower)
            .bind(&u.username)
            .bind(&u.username_lower)
            .bind(&u.password_hash)
            .bind(u.is_active)
            .bind(u.email_verified)
            .bind(u.created_at)
            .execute(&mut **tx)
            .await?;
            for role in &u.roles {
                sqlx::query("INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2)")
                    .bind(&id)
                    .bind(role)
                    .execute(&mut **tx)
                    .await?;
            }
            let mut roles = u.roles.clone();
            roles.sort();
            Ok(UserRecord {
                id: u.id,
                email: u.email.clone(),
                username: u.username.clone(),
                password_hash: u.password_hash.clone(),
                is_active: u.is_active,
                email_verified: u.email_verified,
                roles,
                created_at: u.created_at,
                last_login_at: None,
                last_activity_at: None,
            })
        }

        #[async_trait]
        impl UserStore for $store {
            async fn create_user(&self, u: &NewUser) -> StoreResult<UserRecord> {
                let mut tx = self.begin().await?;
                let user = insert_user(&mut tx, u).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>> {
                let sql = "SELECT u.*, r.role_name FROM ( \
                       SELECT user_id, email, username, password_hash, is_active, email_verified, \
                         created_at, last_login_at, last_activity_at \
                       FROM users WHERE user_id = $1 \
                     ) u LEFT JOIN user_roles r ON r.user_id = u.user_id \
                     ORDER BY r.role_name";
                user_with_roles(&self.pool, sql, &id.to_string()).await
            }

            async fn user_with_live_session(
                &self,
                id: Uuid,
                session: Uuid,
            ) -> StoreResult<Option<UserRecord>> {
                let rows = sqlx::query(
                    "SELECT u.*, r.role_name FROM ( \
                       SELECT user_id, email, username, password_hash, is_active, email_verified, \
                         created_at, last_login_at, last_activity_at \
                       FROM users WHERE user_id = $1 AND EXISTS ( \
                         SELECT 1 FROM sessions s WHERE s.session_id = $2 \
                           AND s.user_id = $1 AND s.revoked_at IS NULL) \
                     ) u LEFT JOIN user_roles r ON r.user_id = u.user_id \
                     ORDER BY r.role_name",
                )
                .bind(id.to_string())
                .bind(session.to_string())
                .fetch_all(&self.pool)
                .await?;
                user_from_rows(&rows)
            }

            async fn user_by_login(&self, login_lower: &str) -> StoreResult<Option<UserRecord>> {
                // Usernames cannot contain '@', so the two columns never compete for one input.
                let sql = if login_lower.contains('@') {
                    "SELECT u.*, r.role_name FROM ( \
                       SELECT user_id, email, username, password_hash, is_active, email_verified, \
                         created_at, last_login_at, last_activity_at \
                       FROM users WHERE email_lower = $1 \
                     ) u LEFT JOIN user_roles r ON r.user_id = u.user_id \
                     ORDER BY r.role_name"
                } else {
                    "SELECT u.*, r.role_name FROM ( \
                       SELECT user_id, email, username, password_hash, is_active, email_verified, \
                         created_at, last_login_at, last_activity_at \
                       FROM users WHERE username_lower = $1 \
                     ) u LEFT JOIN user_roles r ON r.user_id = u.user_id \
                     ORDER BY r.role_name"
                };
                user_with_roles(&self.pool, sql, login_lower).await
            }

            async fn list_users(&self, q: &UserQuery) -> StoreResult<Vec<UserRecord>> {
                // Only the filters asked for are in the statement, so each form gets a plan of
                // its own (a `$n IS NULL OR …` form makes both planners scan every user). With a
                // role the page walks that role's members in id order (`user_roles_role_user`,
                // migration 0011) instead of every user; `(user_id, role_name)` is the key of
                // `user_roles`, so the join gives each user at most once.
                let mut sql = sqlx::QueryBuilder::<$db>::new(
                    "SELECT u.user_id, u.email, u.username, u.password_hash, u.is_active, \
                       u.email_verified, u.created_at, u.last_login_at, u.last_activity_at ",
                );
                let id = match &q.role {
                    Some(role) => {
                        sql.push(
                            "FROM user_roles r JOIN users u ON u.user_id = r.user_id \
                             WHERE r.role_name = ",
                        );
                        sql.push_bind(role.clone());
                        "r.user_id"
                    }
                    None => {
                        sql.push("FROM users u WHERE 1 = 1");
                        "u.user_id"
                    }
                };
                // A substring `q`: the backend may first narrow the users to the candidates its
                // index finds (`$narrow`); the LIKE decides, so the result is the same either way.
                let narrowed = match q.q.as_deref() {
                    Some(text) => {
                        let narrowed = $narrow(&self.pool, &mut sql, text).await?;
                        let pattern = like_pattern(text);
                        sql.push(" AND (u.email_lower LIKE ");
                        sql.push_bind(pattern.clone());
                        sql.push(" ESCAPE '\\' OR u.username_lower LIKE ");
                        sql.push_bind(pattern);
                        sql.push(" ESCAPE '\\')");
                        narrowed
                    }
                    None => false,
                };
                if let Some(after) = q.after {
                    // With candidates from an index, `+` keeps the cursor from being used as an
                    // index range: the planner then looks the few candidates up, rather than
                    // walking every id after the cursor and testing each against them.
                    let plus = if narrowed { "+" } else { "" };
                    sql.push(format_args!(" AND {plus}{id} > "));
                    sql.push_bind(after.to_string());
                }
                if let Some(active) = q.active {
                    sql.push(" AND u.is_active = ");
                    sql.push_bind(active);
                }
                sql.push(format_args!(" ORDER BY {id} LIMIT "));
                sql.push_bind(q.limit);
                let rows = sql.build().fetch_all(&self.pool).await?;
                // The page's roles in one query, not one per user (an export reads every page).
                let mut roles = page_roles(&self.pool, &rows).await?;
                rows.iter()
                    .map(|row| {
                        let id: &str = row.try_get("user_id")?;
                        user_from_row(row, roles.remove(id).unwrap_or_default())
                    })
                    .collect()
            }

            async fn set_username(
                &self,
                id: Uuid,
                username: Option<(&str, &str)>,
            ) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE users SET username = $2, username_lower = $3 WHERE user_id = $1",
                )
                .bind(id.to_string())
                .bind(username.map(|u| u.0))
                .bind(username.map(|u| u.1))
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn set_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()> {
                let mut tx = self.begin().await?;
                sqlx::query("UPDATE users SET password_hash = $2 WHERE user_id = $1")
                    .bind(id.to_string())
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
                // A new password voids every reset link still out (they were sent for the old).
                sqlx::query(
                    "UPDATE one_time_tokens SET used_at = created_at \
                     WHERE user_id = $1 AND purpose = 'reset' AND used_at IS NULL",
                )
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
                Ok(tx.commit().await?)
            }

            async fn set_roles(&self, id: Uuid, roles: &[String]) -> StoreResult<bool> {
                let id = id.to_string();
                let mut tx = self.begin().await?;
                let admins = lock_admins(&mut tx).await?;
                sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                let exists: Option<String> =
                    sqlx::query_scalar("SELECT user_id FROM users WHERE user_id = $1")
                        .bind(&id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_none() {
                    return Ok(false);
                }
                for role in roles {
                    sqlx::query("INSERT INTO user_roles (user_id, role_name) VALUES ($1, $2)")
                        .bind(&id)
                        .bind(role)
                        .execute(&mut *tx)
                        .await?;
                }
                commit_unless_no_admin_left(tx, admins).await?;
                Ok(true)
            }

            async fn upgrade_password_hash(
                &self,
                id: Uuid,
                old: &str,
                new: &str,
            ) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE users SET password_hash = $3 WHERE user_id = $1 AND password_hash = $2",
                )
                .bind(id.to_string())
                .bind(old)
                .bind(new)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn set_active(&self, id: Uuid, active: bool) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let admins = if active {
                    0
                } else {
                    lock_admins(&mut tx).await?
                };
                let r = sqlx::query("UPDATE users SET is_active = $2 WHERE user_id = $1")
                    .bind(id.to_string())
                    .bind(active)
                    .execute(&mut *tx)
                    .await?;
                commit_unless_no_admin_left(tx, admins).await?;
                Ok(r.rows_affected() == 1)
            }

            async fn delete_user(&self, id: Uuid) -> StoreResult<bool> {
                let mut tx = self.begin().await?;
                let admins = lock_admins(&mut tx).await?;
                let r = sqlx::query("DELETE FROM users WHERE user_id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                commit_unless_no_admin_left(tx, admins).await?;
                Ok(r.rows_affected() == 1)
            }

            async fn record_login(&self, id: Uuid, now: i64) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE users SET last_login_at = $2, last_activity_at = $2 WHERE user_id = $1",
                )
                .bind(id.to_string())
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_roles(&self) -> StoreResult<Vec<RoleRecord>> {
                let rows =
                    sqlx::query("SELECT name, description, created_at FROM roles ORDER BY name")
                        .fetch_all(&self.pool)
                        .await?;
                rows.iter()
                    .map(|r| {
                        Ok(RoleRecord {
                            name: r.try_get("name")?,
                            description: r.try_get("description")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect()
            }

            async fn create_role(&self, role: &RoleRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO roles (name, description, created_at) VALUES ($1, $2, $3)",
                )
                .bind(&role.name)
                .bind(&role.description)
                .bind(role.created_at)
                .execute(&self.pool)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict("role"),
                    other => other,
                })?;
                Ok(())
            }
        }
    };
}

pub(super) mod sqlite {
    user_store!(
        crate::store::sql::SqliteStore,
        sqlx::Sqlite,
        super::narrow_sqlite
    );
}

pub(super) mod postgres {
    user_store!(
        crate::store::sql::PgStore,
        sqlx::Postgres,
        super::narrow_postgres
    );
}

/// At most this many index candidates for `q` make the SQLite search go through the index;
/// with more, `q` is unselective and the list scans in id order as before (see
/// [`narrow_sqlite`]).
const SQLITE_SEARCH_CANDIDATES: i64 = 2_000;

/// SQLite: narrow a search for `q` (three characters or more) through the FTS5 trigram index
/// `user_search` (migration 0012), when that is the cheaper plan.
///
/// The costs, per page of the list: through the index, every candidate is found, looked up by
/// its key and sorted, so the cost grows with the number of users `q` matches (about a
/// microsecond each), not with the number of users; by the scan in id order (the plan without
/// the index), the cost is the users read until a page of matches is found, about
/// `limit × users ÷ matches` rows when matches are spread out, and every user when there are
/// fewer matches than a page. A selective `q` (an address, a name) is therefore fast only
/// through the index; an unselective one (`example.com`, matching most users) is fast only by
/// the scan, which stops after one page, while the index would fetch and sort every match
/// (over a second at a million users). So a probe first counts the candidates, stopping at
/// [`SQLITE_SEARCH_CANDIDATES`]: below that the index is used, and costs at most that many
/// lookups (about 2 ms); at or above it the scan reads about `limit × users ÷ 2000` rows per
/// page when the matches are spread out (25,000 for a page of 50 at a million users, a few
/// ms), and one page's worth when most users match. The probe reads at most that many index
/// entries (about 1 ms), the price every unselective search now pays on top of its scan. Shorter `q` cannot use a trigram index (no trigram to look up) and scans.
///
/// The phrase query matches exactly the rows whose `email_lower` or `username_lower` contains
/// `q` (trigram phrases are substrings; the tokenizer's case folding is per character, so it
/// can only add candidates, which the LIKE drops); inside `"…"` only `"` is special, and is
/// doubled, so `%`, `_` and `\` are literal here too.
async fn narrow_sqlite(
    pool: &sqlx::SqlitePool,
    sql: &mut sqlx::QueryBuilder<sqlx::Sqlite>,
    q: &str,
) -> crate::store::StoreResult<bool> {
    let lower = q.to_lowercase();
    if lower.chars().count() < 3 {
        return Ok(false);
    }
    let phrase = format!("\"{}\"", lower.replace('"', "\"\""));
    let candidates: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM user_search WHERE user_search MATCH $1 LIMIT $2)",
    )
    .bind(&phrase)
    .bind(SQLITE_SEARCH_CANDIDATES)
    .fetch_one(pool)
    .await?;
    if candidates >= SQLITE_SEARCH_CANDIDATES {
        return Ok(false);
    }
    sql.push(
        " AND u.user_id IN (SELECT k.user_id FROM user_search s \
           JOIN user_search_ids k ON k.search_id = s.rowid WHERE user_search MATCH ",
    );
    sql.push_bind(phrase);
    sql.push(")");
    Ok(true)
}

/// PostgreSQL: nothing to add. The trigram GIN indexes of migration 0011 (pg_trgm) serve the
/// LIKE itself, and the planner weighs them against the scan in id order from its statistics.
async fn narrow_postgres(
    _pool: &sqlx::PgPool,
    _sql: &mut sqlx::QueryBuilder<sqlx::Postgres>,
    _q: &str,
) -> crate::store::StoreResult<bool> {
    Ok(false)
}
