//! The request log's SQL ([`RequestLogStore`](super::super::RequestLogStore)), for both
//! databases.

/// Implements `RequestLogStore` for `$store` (a struct with a `pool` field).
macro_rules! sql_requests_store {
    ($store:ty) => {
        impl super::RequestLogStore for $store {
            fn log_requests<'a>(
                &'a self,
                entries: &'a [super::RequestEntry],
            ) -> StoreFuture<'a, ()> {
                sql::timed("requests.log", async move {
                    // One transaction a batch: one commit (one fsync) for many entries.
                    let mut tx = self.begin_write().await?;
                    for entry in entries {
                        let calls = serde_json::to_string(&entry.calls)
                            .map_err(|e| StoreError::Corrupt(format!("platform calls: {e}")))?;
                        sqlx::query(
                            "INSERT INTO request_log (id, at, tenant, request_id, token, method, path, status, duration_ms, request_body, response_body, calls) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                        )
                        .bind(&entry.id)
                        .bind(sql::timestamp(entry.at))
                        .bind(&entry.tenant)
                        .bind(&entry.request_id)
                        .bind(&entry.token)
                        .bind(&entry.method)
                        .bind(&entry.path)
                        .bind(i32::from(entry.status))
                        .bind(entry.duration_ms)
                        .bind(&entry.request_body)
                        .bind(&entry.response_body)
                        .bind(calls)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn requests<'a>(
                &'a self,
                query: &'a super::RequestQuery,
            ) -> StoreFuture<'a, (Vec<super::RequestEntry>, u64)> {
                sql::timed("requests.read", async move {
                    use sqlx::Row;
                    // Every filter is a bound parameter; absent ones match everything.
                    let filters = "tenant = $1 AND ($2 = '' OR at >= $2) AND ($3 = '' OR at < $3) AND ($4 = '' OR method = $4) AND ($5 = '' OR request_id = $5) AND ($6 < 0 OR (status >= $6 AND status <= $7))";
                    let texts = [
                        query.tenant.clone(),
                        query.since.map(sql::timestamp).unwrap_or_default(),
                        query.until.map(sql::timestamp).unwrap_or_default(),
                        query.method.clone().unwrap_or_default(),
                        query.request_id.clone().unwrap_or_default(),
                    ];
                    let (low, high) = query
                        .status
                        .map_or((-1, -1), |(low, high)| (i32::from(low), i32::from(high)));
                    let statement = format!(
                        "SELECT id, at, tenant, request_id, token, method, path, status, duration_ms, request_body, response_body, calls FROM request_log WHERE {filters} ORDER BY at DESC, id DESC LIMIT $8 OFFSET $9"
                    );
                    let mut select = sqlx::query(&statement);
                    for value in &texts {
                        select = select.bind(value);
                    }
                    let rows = select
                        .bind(low)
                        .bind(high)
                        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
                        .bind(i64::try_from(query.offset).unwrap_or(i64::MAX))
                        .fetch_all(&self.pool)
                        .await?;
                    let count_statement =
                        format!("SELECT COUNT(*) AS n FROM request_log WHERE {filters}");
                    let mut count = sqlx::query(&count_statement);
                    for value in &texts {
                        count = count.bind(value);
                    }
                    let total: i64 = count
                        .bind(low)
                        .bind(high)
                        .fetch_one(&self.pool)
                        .await?
                        .try_get("n")?;
                    let mut entries = Vec::with_capacity(rows.len());
                    for row in rows {
                        let at: String = row.try_get("at")?;
                        let status: i32 = row.try_get("status")?;
                        let calls: String = row.try_get("calls")?;
                        entries.push(super::RequestEntry {
                            id: row.try_get("id")?,
                            at: sql::parse_time(&at)?,
                            tenant: row.try_get("tenant")?,
                            request_id: row.try_get("request_id")?,
                            token: row.try_get("token")?,
                            method: row.try_get("method")?,
                            path: row.try_get("path")?,
                            status: u16::try_from(status).unwrap_or(0),
                            duration_ms: row.try_get("duration_ms")?,
                            request_body: row.try_get("request_body")?,
                            response_body: row.try_get("response_body")?,
                            calls: serde_json::from_str(&calls).map_err(|e| {
                                StoreError::Corrupt(format!("request log calls: {e}"))
                            })?,
                        });
                    }
                    Ok((entries, u64::try_from(total).unwrap_or(0)))
                })
            }

            fn prune_requests<'a>(
                &'a self,
                before: time::OffsetDateTime,
            ) -> StoreFuture<'a, u64> {
                sql::timed("requests.prune", async move {
                    let done = sqlx::query(
                        "DELETE FROM request_log WHERE at < $1 OR tenant NOT IN (SELECT id FROM tenants)",
                    )
                    .bind(sql::timestamp(before))
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected())
                })
            }

            fn trim_requests<'a>(&'a self, tenant: &'a str, keep: u64) -> StoreFuture<'a, u64> {
                sql::timed("requests.trim", async move {
                    use sqlx::Row;
                    // The newest entry beyond the count (in the order they are read), then it
                    // and every older one: two index range scans, whatever the count.
                    let cutoff = sqlx::query(
                        "SELECT at, id FROM request_log WHERE tenant = $1 ORDER BY at DESC, id DESC LIMIT 1 OFFSET $2",
                    )
                    .bind(tenant)
                    .bind(i64::try_from(keep).unwrap_or(i64::MAX))
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(cutoff) = cutoff else {
                        return Ok(0);
                    };
                    let at: String = cutoff.try_get("at")?;
                    let id: String = cutoff.try_get("id")?;
                    let done = sqlx::query(
                        "DELETE FROM request_log WHERE tenant = $1 AND (at < $2 OR (at = $2 AND id <= $3))",
                    )
                    .bind(tenant)
                    .bind(at)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected())
                })
            }
        }
    };
}

pub(crate) use sql_requests_store;
