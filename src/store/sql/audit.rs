//! [`AuditStore`](crate::store::AuditStore): the audit log of security events, on both backends
//! (see `super` for the shape of these files).

/// `impl AuditStore for $store`, whose `pool` is a pool of a sqlx driver.
macro_rules! audit_store {
    ($store:ty) => {
        use async_trait::async_trait;

        use $crate::store::sql::parse_uuid;
        use $crate::store::{AuditEvent, AuditQuery, AuditRecord, AuditStore, StoreResult};

        /// `seq, at, event, user_id, actor_id, ip, user_agent, detail`.
        type EventRow = (
            i64,
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        );

        #[async_trait]
        impl AuditStore for $store {
            async fn record_event(&self, e: &AuditEvent) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO audit_log (at, event, user_id, actor_id, ip, user_agent, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(e.at)
                .bind(&e.event)
                .bind(e.user_id.map(|u| u.to_string()))
                .bind(e.actor_id.map(|u| u.to_string()))
                .bind(&e.ip)
                .bind(&e.user_agent)
                .bind(&e.detail)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_events(&self, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
                // One statement per order, each written out whole (seq is the primary key).
                let sql = if q.newest_first {
                    "SELECT seq, at, event, user_id, actor_id, ip, user_agent, detail \
                     FROM audit_log \
                     WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR event = $2) \
                       AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR seq < $4) \
                       AND ($6 IS NULL OR at <= $6) \
                     ORDER BY seq DESC LIMIT $5"
                } else {
                    "SELECT seq, at, event, user_id, actor_id, ip, user_agent, detail \
                     FROM audit_log \
                     WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR event = $2) \
                       AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR seq > $4) \
                       AND ($6 IS NULL OR at <= $6) \
                     ORDER BY seq LIMIT $5"
                };
                let rows: Vec<EventRow> = sqlx::query_as(sql)
                    .bind(q.user_id.map(|u| u.to_string()))
                    .bind(q.event.clone())
                    .bind(q.since)
                    .bind(q.after_seq)
                    .bind(q.limit)
                    .bind(q.until)
                    .fetch_all(&self.pool)
                    .await?;
                let parse = |id: Option<String>| id.as_deref().map(parse_uuid).transpose();
                rows.into_iter()
                    .map(
                        |(seq, at, event, user_id, actor_id, ip, user_agent, detail)| {
                            let event = AuditEvent {
                                at,
                                event,
                                user_id: parse(user_id)?,
                                actor_id: parse(actor_id)?,
                                ip,
                                user_agent,
                                detail,
                            };
                            Ok(AuditRecord { seq, event })
                        },
                    )
                    .collect()
            }

            async fn purge_events(&self, before: i64) -> StoreResult<u64> {
                let r = sqlx::query("DELETE FROM audit_log WHERE at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

mod sqlite {
    audit_store!(crate::store::sql::SqliteStore);
}

mod postgres {
    audit_store!(crate::store::sql::PgStore);
}
