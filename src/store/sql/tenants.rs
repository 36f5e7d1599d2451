//! Tenants' SQL ([`TenantStore`](super::super::TenantStore)), for both databases.

/// Implements `TenantStore` for `$store` (a struct with a `pool` field) whose rows are `$row`.
macro_rules! sql_tenants_store {
    ($store:ty, $row:ty) => {
        impl super::TenantStore for $store {
            fn insert_tenant<'a>(&'a self, tenant: &'a super::TenantRecord) -> StoreFuture<'a, ()> {
                sql::timed("tenants.insert_tenant", async move {
                    // Any conflict: the id, or a backend another tenant fronts.
                    let done = sqlx::query(
                        "INSERT INTO tenants (id, name, enabled, backend, max_token_lifetime_days, created, updated, dialect, bare_token, deprovision, reactivate, extensions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
                    )
                    .bind(&tenant.id)
                    .bind(&tenant.name)
                    .bind(i64::from(tenant.enabled))
                    .bind(&tenant.backend)
                    .bind(tenant.max_token_lifetime_days.map(i64::from))
                    .bind(sql::timestamp(tenant.created))
                    .bind(sql::timestamp(tenant.updated))
                    .bind(tenant.dialect.as_str())
                    .bind(i64::from(tenant.bare_token))
                    .bind(tenant.deprovision.as_str())
                    .bind(i64::from(tenant.reactivate))
                    .bind(tenant.extensions.to_string())
                    .execute(self.writer())
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::Conflict(format!(
                            "tenant {} or a tenant of backend {}",
                            tenant.id, tenant.backend
                        )));
                    }
                    self.announce(
                        super::Change::tenant_scope(&tenant.id),
                        &tenant.id,
                        &tenant.backend,
                        false,
                    )
                    .await
                })
            }

            fn update_tenant<'a>(
                &'a self,
                tenant: &'a super::TenantRecord,
                read_updated: time::OffsetDateTime,
            ) -> StoreFuture<'a, ()> {
                sql::timed("tenants.update_tenant", async move {
                    // Only the tenant as read (no admin's change undone), and the backend
                    // changes only while the tenant has no identity links (they name the old
                    // platform's accounts): both checked in the same statement, and the links
                    // once more after it, in the same transaction (on PostgreSQL a link
                    // committed while the update waited is seen only by a later statement).
                    let mut tx = self.begin_write().await?;
                    let read_backend: Option<String> =
                        sqlx::query_scalar("SELECT backend FROM tenants WHERE id = $1")
                            .bind(&tenant.id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let done = sqlx::query(
                        "UPDATE tenants SET name = $2, enabled = $3, backend = $4, max_token_lifetime_days = $5, updated = $6, dialect = $8, bare_token = $9, deprovision = $10, reactivate = $11, extensions = $12 WHERE id = $1 AND updated = $7 AND (backend = $4 OR NOT EXISTS (SELECT 1 FROM identities WHERE tenant = $1))",
                    )
                    .bind(&tenant.id)
                    .bind(&tenant.name)
                    .bind(i64::from(tenant.enabled))
                    .bind(&tenant.backend)
                    .bind(tenant.max_token_lifetime_days.map(i64::from))
                    .bind(sql::timestamp(tenant.updated))
                    .bind(sql::timestamp(read_updated))
                    .bind(tenant.dialect.as_str())
                    .bind(i64::from(tenant.bare_token))
                    .bind(tenant.deprovision.as_str())
                    .bind(i64::from(tenant.reactivate))
                    .bind(tenant.extensions.to_string())
                    .execute(&mut *tx)
                    .await;
                    let done = match done {
                        Ok(done) => done,
                        Err(e) => {
                            tx.rollback().await?;
                            return Err(if sql::is_unique_violation(&e) {
                                StoreError::Conflict(format!(
                                    "another tenant fronts backend {}",
                                    tenant.backend
                                ))
                            } else {
                                e.into()
                            });
                        }
                    };
                    if done.rows_affected() == 0 {
                        tx.rollback().await?;
                        return Err(StoreError::NotFound);
                    }
                    if read_backend.as_deref() != Some(tenant.backend.as_str()) {
                        // A move: any link now (of the old platform) undoes it.
                        let linked: Option<i64> = sqlx::query_scalar(
                            "SELECT 1 FROM identities WHERE tenant = $1 LIMIT 1",
                        )
                        .bind(&tenant.id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if linked.is_some() {
                            tx.rollback().await?;
                            return Err(StoreError::NotFound);
                        }
                    }
                    tx.commit().await?;
                    self.announce(
                        super::Change::tenant_scope(&tenant.id),
                        &tenant.id,
                        &tenant.backend,
                        false,
                    )
                    .await
                })
            }

            fn delete_tenant<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
                sql::timed("tenants.delete_tenant", async move {
                    // Tokens, OAuth clients, create intents and the request log first, then the tenant, only without
                    // identity links: a link made meanwhile makes the reference fail, and the
                    // whole is undone.
                    let mut tx = self.begin_write().await?;
                    sqlx::query("DELETE FROM tokens WHERE tenant = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM oauth_clients WHERE tenant = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM create_intents WHERE tenant = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    // Its request log goes with it (a tenant made again under the id starts
                    // with none).
                    sqlx::query("DELETE FROM request_log WHERE tenant = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let done = sqlx::query(
                        "DELETE FROM tenants WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM identities WHERE tenant = $1)",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await;
                    match done {
                        Ok(done) if done.rows_affected() > 0 => {
                            tx.commit().await?;
                            self.forget_tokens();
                        }
                        Ok(_) => {
                            tx.rollback().await?;
                            return Ok(false);
                        }
                        Err(e) if sql::is_foreign_key_violation(&e) => {
                            tx.rollback().await?;
                            return Ok(false);
                        }
                        Err(e) => return Err(e.into()),
                    }
                    self.announce(super::Change::tenant_scope(id), id, "", true)
                        .await?;
                    Ok(true)
                })
            }

            fn tenants<'a>(
                &'a self,
                id: Option<&'a str>,
            ) -> StoreFuture<'a, Vec<super::TenantRecord>> {
                sql::timed("tenants.tenants", async move {
                    use sqlx::Row;
                    let rows = sqlx::query(
                        "SELECT id, name, enabled, backend, max_token_lifetime_days, created, updated, dialect, bare_token, deprovision, reactivate, extensions FROM tenants WHERE ($1 = '' OR id = $1) ORDER BY id",
                    )
                    .bind(id.unwrap_or_default())
                    .fetch_all(&self.pool)
                    .await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for row in rows {
                        let created: String = row.try_get("created")?;
                        let updated: String = row.try_get("updated")?;
                        let enabled: i64 = row.try_get("enabled")?;
                        let lifetime: Option<i64> = row.try_get("max_token_lifetime_days")?;
                        let dialect: String = row.try_get("dialect")?;
                        let bare_token: i64 = row.try_get("bare_token")?;
                        let deprovision: String = row.try_get("deprovision")?;
                        let reactivate: i64 = row.try_get("reactivate")?;
                        let extensions: String = row.try_get("extensions")?;
                        out.push(super::TenantRecord {
                            id: row.try_get("id")?,
                            name: row.try_get("name")?,
                            enabled: enabled != 0,
                            backend: row.try_get("backend")?,
                            max_token_lifetime_days: lifetime
                                .map(|d| {
                                    u32::try_from(d).map_err(|_| {
                                        StoreError::Corrupt(format!("token lifetime {d} days"))
                                    })
                                })
                                .transpose()?,
                            dialect: crate::scim::Dialect::parse(&dialect).ok_or_else(|| {
                                StoreError::Corrupt(format!("tenant dialect {dialect:?}"))
                            })?,
                            bare_token: bare_token != 0,
                            deprovision: super::Deprovision::parse(&deprovision).ok_or_else(
                                || StoreError::Corrupt(format!("tenant deprovisioning {deprovision:?}")),
                            )?,
                            reactivate: reactivate != 0,
                            extensions: serde_json::from_str(&extensions).map_err(|e| {
                                StoreError::Corrupt(format!("tenant extensions: {e}"))
                            })?,
                            created: sql::parse_time(&created)?,
                            updated: sql::parse_time(&updated)?,
                        });
                    }
                    Ok(out)
                })
            }
        }
    };
}

pub(crate) use sql_tenants_store;
