//! The identity store's SQL, shared by the SQLite and PostgreSQL stores.
//!
//! Both run the same statements: numbered placeholders (`$1`, which both drivers accept), TEXT
//! columns, `ON CONFLICT DO NOTHING`. [`sql_identity_store!`] writes the [`IdentityStore`]
//! implementation once for a store type with a `pool` field, so the two cannot drift apart.
//!
//! [`IdentityStore`]: super::IdentityStore

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::StoreError;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "identities",
        include_str!("migrations/0001_identities.sql"),
    ),
    (2, "audit", include_str!("migrations/0002_audit.sql")),
    (3, "tokens", include_str!("migrations/0003_tokens.sql")),
    (4, "tenants", include_str!("migrations/0004_tenants.sql")),
];

/// The migrations, compiled into the binary (the DDL is the same for both databases).
pub(super) fn migrator() -> Migrator {
    migrator_until(i64::MAX)
}

/// The migrations up to `last` (tests of upgrades from an older store).
pub(super) fn migrator_until(last: i64) -> Migrator {
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .filter(|(version, _, _)| *version <= last)
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Timestamps are stored as fixed-width UTC RFC 3339 text (always three fraction digits), so
/// that comparing and ordering the text compares and orders the times.
pub(super) fn timestamp(t: OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_default()
}

pub(super) fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("timestamp `{s}`: {e}")))
}

pub(super) fn parse_json(s: &str, what: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(super) const COLUMNS: &str =
    "scim_id, backend_key, external_id, shadow, platform, created, last_modified";

/// Bound parameters per statement stay well below every database's limit.
pub(super) const CHUNK: usize = 500;

/// `$first, $first+1, ...` for `count` parameters.
pub(super) fn numbered(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(super) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// Implements `IdentityStore` for `$store` (a struct with a `pool` field) whose rows are `$row`.
macro_rules! sql_identity_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn identity_from_row(row: &$row) -> Result<Identity, StoreError> {
                use sqlx::Row;
                let shadow: String = row.try_get("shadow")?;
                let platform: String = row.try_get("platform")?;
                let created: String = row.try_get("created")?;
                let last_modified: String = row.try_get("last_modified")?;
                Ok(Identity {
                    scim_id: row.try_get("scim_id")?,
                    backend_key: row.try_get("backend_key")?,
                    external_id: row.try_get("external_id")?,
                    shadow: sql::parse_json(&shadow, "stored attributes")?,
                    platform: sql::parse_json(&platform, "stored platform object")?,
                    created: sql::parse_time(&created)?,
                    last_modified: sql::parse_time(&last_modified)?,
                })
            }

            /// The rows of `columns` whose `column` is one of `values`.
            async fn rows_where_in(
                &self,
                scope: Scope<'_>,
                columns: &str,
                column: &str,
                values: &[String],
            ) -> Result<Vec<$row>, StoreError> {
                let mut out = Vec::with_capacity(values.len());
                for chunk in values.chunks(sql::CHUNK) {
                    let statement = format!(
                        "SELECT {columns} FROM identities WHERE tenant = $1 AND resource_type = $2 AND {column} IN ({})",
                        sql::numbered(3, chunk.len())
                    );
                    let mut query = sqlx::query(&statement)
                        .bind(scope.tenant)
                        .bind(scope.resource_type);
                    for value in chunk {
                        query = query.bind(value);
                    }
                    out.extend(query.fetch_all(&self.pool).await?);
                }
                Ok(out)
            }

            /// The identities whose `column` equals `value`.
            async fn identities_where(
                &self,
                scope: Scope<'_>,
                column: &str,
                value: &str,
            ) -> Result<Vec<Identity>, StoreError> {
                sqlx::query(&format!(
                    "SELECT {} FROM identities WHERE tenant = $1 AND resource_type = $2 AND {column} = $3",
                    sql::COLUMNS
                ))
                .bind(scope.tenant)
                .bind(scope.resource_type)
                .bind(value)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::identity_from_row)
                .collect()
            }

            async fn identities_where_in(
                &self,
                scope: Scope<'_>,
                column: &str,
                values: &[String],
            ) -> Result<Vec<Identity>, StoreError> {
                self.rows_where_in(scope, sql::COLUMNS, column, values)
                    .await?
                    .iter()
                    .map(Self::identity_from_row)
                    .collect()
            }

            /// `INSERT` of one identity, with `suffix` appended (a conflict clause).
            async fn insert_row(
                &self,
                scope: Scope<'_>,
                identity: &Identity,
                suffix: &str,
            ) -> Result<u64, sqlx::Error> {
                let done = sqlx::query(&format!(
                    "INSERT INTO identities (tenant, resource_type, scim_id, backend_key, external_id, shadow, platform, created, last_modified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9){suffix}"
                ))
                .bind(scope.tenant)
                .bind(scope.resource_type)
                .bind(&identity.scim_id)
                .bind(&identity.backend_key)
                .bind(&identity.external_id)
                .bind(identity.shadow.to_string())
                .bind(identity.platform.to_string())
                .bind(sql::timestamp(identity.created))
                .bind(sql::timestamp(identity.last_modified))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }
        }

        impl IdentityStore for $store {
            fn get<'a>(
                &'a self,
                scope: Scope<'a>,
                scim_id: &'a str,
            ) -> StoreFuture<'a, Option<Identity>> {
                Box::pin(async move {
                    Ok(self
                        .identities_where(scope, "scim_id", scim_id)
                        .await?
                        .into_iter()
                        .next())
                })
            }

            fn get_many<'a>(
                &'a self,
                scope: Scope<'a>,
                scim_ids: &'a [String],
            ) -> StoreFuture<'a, Vec<Identity>> {
                Box::pin(async move { self.identities_where_in(scope, "scim_id", scim_ids).await })
            }

            fn ids_by_backend_keys<'a>(
                &'a self,
                scope: Scope<'a>,
                keys: &'a [String],
            ) -> StoreFuture<'a, Vec<(String, String)>> {
                Box::pin(async move {
                    use sqlx::Row;
                    let rows = self
                        .rows_where_in(scope, "backend_key, scim_id", "backend_key", keys)
                        .await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for row in rows {
                        out.push((row.try_get("backend_key")?, row.try_get("scim_id")?));
                    }
                    Ok(out)
                })
            }

            fn get_by_backend_keys<'a>(
                &'a self,
                scope: Scope<'a>,
                keys: &'a [String],
            ) -> StoreFuture<'a, Vec<Identity>> {
                Box::pin(async move { self.identities_where_in(scope, "backend_key", keys).await })
            }

            fn find_by_external_id<'a>(
                &'a self,
                scope: Scope<'a>,
                external_id: &'a str,
            ) -> StoreFuture<'a, Vec<Identity>> {
                Box::pin(async move {
                    self.identities_where(scope, "external_id", external_id)
                        .await
                })
            }

            fn insert<'a>(
                &'a self,
                scope: Scope<'a>,
                identity: &'a Identity,
            ) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    match self.insert_row(scope, identity, "").await {
                        Ok(_) => {
                            self.announce(scope, &identity.scim_id, &identity.backend_key, false)
                                .await
                        }
                        Err(e) if sql::is_unique_violation(&e) => {
                            Err(StoreError::Conflict(identity.backend_key.clone()))
                        }
                        Err(e) if sql::is_foreign_key_violation(&e) => {
                            Err(StoreError::TenantGone(scope.tenant.to_owned()))
                        }
                        Err(e) => Err(e.into()),
                    }
                })
            }

            fn link_or_get<'a>(
                &'a self,
                scope: Scope<'a>,
                identity: &'a Identity,
            ) -> StoreFuture<'a, Identity> {
                Box::pin(async move {
                    self.insert_row(scope, identity, " ON CONFLICT DO NOTHING")
                        .await
                        .map_err(|e| {
                            if sql::is_foreign_key_violation(&e) {
                                StoreError::TenantGone(scope.tenant.to_owned())
                            } else {
                                e.into()
                            }
                        })?;
self.identities_where(scope, "backend_key", &identity.backend_key)
                        .await?
                        .into_iter()
                        .next()
                        .ok_or(StoreError::NotFound)
                })
            }

            fn update<'a>(
                &'a self,
                scope: Scope<'a>,
                identity: &'a Identity,
            ) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    let result = sqlx::query(
                        "UPDATE identities SET backend_key = $1, external_id = $2, shadow = $3, platform = $4, last_modified = $5 WHERE tenant = $6 AND resource_type = $7 AND scim_id = $8",
                    )
                    .bind(&identity.backend_key)
                    .bind(&identity.external_id)
                    .bind(identity.shadow.to_string())
                    .bind(identity.platform.to_string())
                    .bind(sql::timestamp(identity.last_modified))
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(&identity.scim_id)
                    .execute(&self.pool)
                    .await;
                    match result {
                        Ok(done) if done.rows_affected() == 0 => Err(StoreError::NotFound),
                        Ok(_) => {
                            self.announce(scope, &identity.scim_id, &identity.backend_key, false)
                                .await
                        }
                        Err(e) if sql::is_unique_violation(&e) => {
                            Err(StoreError::Conflict(identity.backend_key.clone()))
                        }
                        Err(e) => Err(e.into()),
                    }
                })
            }

            fn delete<'a>(&'a self, scope: Scope<'a>, scim_id: &'a str) -> StoreFuture<'a, bool> {
                Box::pin(async move {
                    use sqlx::Row;
                    let row = sqlx::query(
                        "DELETE FROM identities WHERE tenant = $1 AND resource_type = $2 AND scim_id = $3 RETURNING backend_key",
                    )
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(scim_id)
                    .fetch_optional(&self.pool)
                    .await?;
                    match row {
                        Some(row) => {
                            let key: String = row.try_get("backend_key")?;
                            self.announce(scope, scim_id, &key, true).await?;
                            Ok(true)
                        }
                        None => Ok(false),
                    }
                })
            }

            fn page<'a>(
                &'a self,
                scope: Scope<'a>,
                offset: u64,
                limit: u64,
            ) -> StoreFuture<'a, (Vec<Identity>, u64)> {
                Box::pin(async move {
                    use sqlx::Row;
                    let rows = sqlx::query(&format!(
                        "SELECT {} FROM identities WHERE tenant = $1 AND resource_type = $2 ORDER BY created, scim_id LIMIT $3 OFFSET $4",
                        sql::COLUMNS
                    ))
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                    let total: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM identities WHERE tenant = $1 AND resource_type = $2",
                    )
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
                    let identities = rows
                        .iter()
                        .map(Self::identity_from_row)
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((identities, u64::try_from(total).unwrap_or(0)))
                })
            }

            fn record<'a>(&'a self, entry: &'a super::AuditEntry) -> StoreFuture<'a, ()> {
                Box::pin(async move {
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
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn audit<'a>(
                &'a self,
                query: &'a super::AuditQuery,
            ) -> StoreFuture<'a, (Vec<super::AuditEntry>, u64)> {
                Box::pin(async move {
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
                Box::pin(async move {
                    let done = sqlx::query("DELETE FROM audit WHERE at < $1")
                        .bind(sql::timestamp(before))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                })
            }

            fn put_token<'a>(&'a self, token: &'a super::TokenRecord) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    // A revocation is for good: no write made from an older read brings a
                    // token back.
                    sqlx::query(
                        "INSERT INTO tokens (id, tenant, name, hash, created, expires_at, last_used_at, revoked_at, issued) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET name = $3, hash = $4, expires_at = $6, last_used_at = $7, revoked_at = COALESCE(tokens.revoked_at, $8), issued = $9",
                    )
                    .bind(&token.id)
                    .bind(&token.tenant)
                    .bind(&token.name)
                    .bind(&token.hash)
                    .bind(sql::timestamp(token.created))
                    .bind(token.expires_at.map(sql::timestamp))
                    .bind(token.last_used_at.map(sql::timestamp))
                    .bind(token.revoked_at.map(sql::timestamp))
                    .bind(sql::timestamp(token.issued))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        if sql::is_foreign_key_violation(&e) {
                            StoreError::TenantGone(token.tenant.clone())
                        } else {
                            e.into()
                        }
                    })?;
                    Ok(())
                })
            }

            fn write_token<'a>(
                &'a self,
                tenant: &'a str,
                id: &'a str,
                write: &'a super::TokenWrite,
            ) -> StoreFuture<'a, bool> {
                Box::pin(async move {
                    use super::TokenWrite;
                    let statement = match write {
                        TokenWrite::Name(_) => {
                            "UPDATE tokens SET name = $3 WHERE tenant = $1 AND id = $2"
                        }
                        TokenWrite::Expiry(_) => {
                            "UPDATE tokens SET expires_at = $3 WHERE tenant = $1 AND id = $2"
                        }
                        TokenWrite::Revoke(_) => {
                            "UPDATE tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant = $1 AND id = $2"
                        }
                        TokenWrite::ShortenTo(_) => {
                            "UPDATE tokens SET expires_at = $3 WHERE tenant = $1 AND id = $2 AND expires_at IS NOT NULL AND expires_at >= $3"
                        }
                        TokenWrite::Secret { .. } => {
                            "UPDATE tokens SET hash = $3, issued = $4 WHERE tenant = $1 AND id = $2 AND revoked_at IS NULL"
                        }
                    };
                    let query = sqlx::query(statement).bind(tenant).bind(id);
                    let query = match write {
                        TokenWrite::Name(name) => query.bind(name.as_str()),
                        TokenWrite::Expiry(at) => query.bind(at.map(sql::timestamp)),
                        TokenWrite::ShortenTo(at) => query.bind(sql::timestamp(*at)),
                        TokenWrite::Revoke(at) => query.bind(sql::timestamp(*at)),
                        TokenWrite::Secret { hash, issued } => {
                            query.bind(hash.as_str()).bind(sql::timestamp(*issued))
                        }
                    };
                    let done = query.execute(&self.pool).await?;
                    Ok(done.rows_affected() > 0)
                })
            }

            fn touch_token<'a>(
                &'a self,
                id: &'a str,
                at: time::OffsetDateTime,
            ) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2")
                        .bind(sql::timestamp(at))
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            fn shorten_tokens<'a>(
                &'a self,
                tenant: &'a str,
                latest: time::OffsetDateTime,
            ) -> StoreFuture<'a, u64> {
                Box::pin(async move {
                    let latest = sql::timestamp(latest);
                    let done = sqlx::query(
                        "UPDATE tokens SET expires_at = $1 WHERE tenant = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
                    )
                    .bind(&latest)
                    .bind(tenant)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected())
                })
            }

            fn tokens<'a>(
                &'a self,
                tenant: &'a str,
                id: Option<&'a str>,
            ) -> StoreFuture<'a, Vec<super::TokenRecord>> {
                Box::pin(async move {
                    use sqlx::Row;
                    const COLUMNS: &str = "SELECT id, tenant, name, hash, created, expires_at, last_used_at, revoked_at, issued FROM tokens";
                    // One token by its key (every authenticated request asks), or a tenant's.
                    let rows = match id {
                        Some(id) => {
                            sqlx::query(&format!("{COLUMNS} WHERE id = $1 AND tenant = $2"))
                                .bind(id)
                                .bind(tenant)
                                .fetch_all(&self.pool)
                                .await?
                        }
                        None => {
                            sqlx::query(&format!(
                                "{COLUMNS} WHERE tenant = $1 ORDER BY created, id"
                            ))
                            .bind(tenant)
                            .fetch_all(&self.pool)
                            .await?
                        }
                    };
                    let time = |v: Option<String>| v.map(|t| sql::parse_time(&t)).transpose();
                    let mut out = Vec::with_capacity(rows.len());
                    for row in rows {
                        let created: String = row.try_get("created")?;
                        let created = sql::parse_time(&created)?;
                        out.push(super::TokenRecord {
                            id: row.try_get("id")?,
                            tenant: row.try_get("tenant")?,
                            name: row.try_get("name")?,
                            hash: row.try_get("hash")?,
                            created,
                            // Tokens from before issue times were kept: issued when made.
                            issued: time(row.try_get("issued")?)?.unwrap_or(created),
                            expires_at: time(row.try_get("expires_at")?)?,
                            last_used_at: time(row.try_get("last_used_at")?)?,
                            revoked_at: time(row.try_get("revoked_at")?)?,
                        });
                    }
                    Ok(out)
                })
            }

            fn insert_tenant<'a>(&'a self, tenant: &'a super::TenantRecord) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    // Any conflict: the id, or a backend another tenant fronts.
                    let done = sqlx::query(
                        "INSERT INTO tenants (id, name, enabled, backend, max_token_lifetime_days, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    )
                    .bind(&tenant.id)
                    .bind(&tenant.name)
                    .bind(i64::from(tenant.enabled))
                    .bind(&tenant.backend)
                    .bind(tenant.max_token_lifetime_days.map(i64::from))
                    .bind(sql::timestamp(tenant.created))
                    .bind(sql::timestamp(tenant.updated))
                    .execute(&self.pool)
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
                Box::pin(async move {
                    // Only the tenant as read (no admin's change undone), and the backend
                    // changes only while the tenant has no identity links (they name the old
                    // platform's accounts): both checked in the same statement, and the links
                    // once more after it, in the same transaction (on PostgreSQL a link
                    // committed while the update waited is seen only by a later statement).
                    let mut tx = self.pool.begin().await?;
                    let read_backend: Option<String> =
                        sqlx::query_scalar("SELECT backend FROM tenants WHERE id = $1")
                            .bind(&tenant.id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let done = sqlx::query(
                        "UPDATE tenants SET name = $2, enabled = $3, backend = $4, max_token_lifetime_days = $5, updated = $6 WHERE id = $1 AND updated = $7 AND (backend = $4 OR NOT EXISTS (SELECT 1 FROM identities WHERE tenant = $1))",
                    )
                    .bind(&tenant.id)
                    .bind(&tenant.name)
                    .bind(i64::from(tenant.enabled))
                    .bind(&tenant.backend)
                    .bind(tenant.max_token_lifetime_days.map(i64::from))
                    .bind(sql::timestamp(tenant.updated))
                    .bind(sql::timestamp(read_updated))
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
                Box::pin(async move {
                    // Tokens first (they refer to the tenant), then the tenant, only without
                    // identity links: a link made meanwhile makes the reference fail, and the
                    // whole is undone.
                    let mut tx = self.pool.begin().await?;
                    sqlx::query("DELETE FROM tokens WHERE tenant = $1")
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
                        Ok(done) if done.rows_affected() > 0 => tx.commit().await?,
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
                Box::pin(async move {
                    use sqlx::Row;
                    let rows = sqlx::query(
                        "SELECT id, name, enabled, backend, max_token_lifetime_days, created, updated FROM tenants WHERE ($1 = '' OR id = $1) ORDER BY id",
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
                            created: sql::parse_time(&created)?,
                            updated: sql::parse_time(&updated)?,
                        });
                    }
                    Ok(out)
                })
            }

            fn lock_resource<'a>(
                &'a self,
                key: &'a str,
            ) -> StoreFuture<'a, Option<super::ReplicaLock>> {
                Box::pin(async move { <$store>::lock_resource(self, key).await })
            }

            fn changes(
                &self,
            ) -> StoreFuture<'_, Option<tokio::sync::mpsc::Receiver<super::Change>>> {
                Box::pin(async move { self.listen().await })
            }
        }
    };
}

pub(super) use sql_identity_store;

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_sort_as_times() {
        let t = |s: &str| {
            super::timestamp(
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .unwrap(),
            )
        };
        assert_eq!(t("2026-11-24T01:20:00.12Z"), "2026-11-24T01:20:00.120Z");
        assert!(t("2026-11-24T01:20:00.12Z") < t("2026-11-24T01:20:00.123Z"));
        assert_eq!(t("2026-11-24T02:20:00+01:00"), "2026-11-24T01:20:00.000Z");
        assert_eq!(
            super::parse_time(&t("2026-11-24T01:20:00.5Z"))
                .unwrap()
                .millisecond(),
            500
        );
    }

    #[test]
    fn numbered_placeholders() {
        assert_eq!(super::numbered(3, 3), "$3, $4, $5");
        assert_eq!(super::numbered(1, 0), "");
    }
}
