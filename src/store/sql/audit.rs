//! The audit log's SQL ([`AuditStore`](super::super::AuditStore)), for both databases.

/// Implements `AuditStore` for `$store` (a struct with a `pool` field) whose rows are `$row`.
macro_rules! sql_audit_store {
    ($store:ty, $row:ty) => {
        impl super::AuditStore for $store {
            fn record<'a>(&'a self, entry: &'a super::AuditEntry) -> StoreFuture<'a, ()> {
                sql::timed("audit.record", async move {
                    sqlx::query(
                        "INSERT INTO audit (id, at, tenant, actor, operation, resource_type, target, outcome, status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&entry.id)
                    .bind(sql::timestamp(entry.at))
                    .bind(&entry.tenant)
                    .bind(&entry.actor)
                    .bind(&entry.operation)
                    .bind(&entry.resource_type)
                    .bind(&entry.target)
                    .bind(&entry.outcome)
                    .bind(i32::from(entry.status))
                    .bind(&entry.detail)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                })
            }

            fn audit<'a>(
                &'a self,
                query: &'a super::AuditQuery,
            ) -> StoreFuture<'a, (Vec<super::AuditEntry>, u64)> {
                sql::timed("audit.audit", async move {
                    use sqlx::Row;
                    // Every filter is a bound parameter; absent ones match everything.
                    let filters = "tenant = $1 AND ($2 = '' OR actor = $2) AND ($3 = '' OR operation = $3) AND ($4 = '' OR target = $4) AND ($5 = '' OR outcome = $5) AND ($6 = '' OR at >= $6) AND ($7 = '' OR at < $7)";
                    let since = query.since.map(sql::timestamp).unwrap_or_default();
                    let until = query.until.map(sql::timestamp).unwrap_or_default();
                    let values = [
                        query.tenant.clone(),
                        query.actor.clone().unwrap_or_default(),
                        query.operation.clone().unwrap_or_default(),
                        query.target.clone().unwrap_or_default(),
                        query.outcome.clone().unwrap_or_default(),
                        since,
                        until,
                    ];
                    let statement = format!(
                        "SELECT id, at, tenant, actor, operation, resource_type, target, outcome, status, detail FROM audit WHERE {filters} ORDER BY at DESC, id DESC LIMIT $8 OFFSET $9"
                    );
                    let mut select = sqlx::query(&statement);
                    for value in &values {
                        select = select.bind(value);
                    }
                    let rows = select
                        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
                        .bind(i64::try_from(query.offset).unwrap_or(i64::MAX))
                        .fetch_all(&self.pool)
                        .await?;
                    let count_statement = format!("SELECT COUNT(*) AS n FROM audit WHERE {filters}");
                    let mut count = sqlx::query(&count_statement);
                    for value in &values {
                        count = count.bind(value);
                    }
                    let total: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
                    let mut entries = Vec::with_capacity(rows.len());
                    for row in rows {
                        let at: String = row.try_get("at")?;
                        let status: i32 = row.try_get("status")?;
                        entries.push(super::AuditEntry {
                            id: row.try_get("id")?,
                            at: sql::parse_time(&at)?,
                            tenant: row.try_get("tenant")?,
                            actor: row.try_get("actor")?,
                            operation: row.try_get("operation")?,
                            resource_type: row.try_get("resource_type")?,
                            target: row.try_get("target")?,
                            outcome: row.try_get("outcome")?,
                            status: u16::try_from(status).unwrap_or(0),
                            detail: row.try_get("detail")?,
                        });
                    }
                    Ok((entries, u64::try_from(total).unwrap_or(0)))
                })
            }

            fn prune_audit<'a>(&'a self, before: time::OffsetDateTime) -> StoreFuture<'a, u64> {
                sql::timed("audit.prune_audit", async move {
                    let done = sqlx::query("DELETE FROM audit WHERE at < $1")
                        .bind(sql::timestamp(before))
                        .execute(self.writer())
                        .await?;
                    Ok(done.rows_affected())
                })
            }
        }
    };
}

pub(crate) use sql_audit_store;
