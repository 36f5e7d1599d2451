//! Create intents' SQL ([`IntentStore`](super::super::IntentStore)), for both databases.

/// Implements `IntentStore` for `$store` (a struct with a `pool` field).
macro_rules! sql_intents_store {
    ($store:ty) => {
        impl super::IntentStore for $store {
            fn create_intent<'a>(
                &'a self,
                scope: Scope<'a>,
                name: &'a str,
            ) -> StoreFuture<'a, Option<super::CreateIntent>> {
                sql::timed("intents.create_intent", async move {
                    use sqlx::Row;
                    let row = sqlx::query(
                        "SELECT name, request, scim_id, started FROM create_intents WHERE tenant = $1 AND resource_type = $2 AND name = $3",
                    )
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let started: String = row.try_get("started")?;
                    Ok(Some(super::CreateIntent {
                        name: row.try_get("name")?,
                        request: row.try_get("request")?,
                        scim_id: row.try_get("scim_id")?,
                        started: sql::parse_time(&started)?,
                    }))
                })
            }

            fn begin_create<'a>(
                &'a self,
                scope: Scope<'a>,
                intent: &'a super::CreateIntent,
                stale: time::OffsetDateTime,
            ) -> StoreFuture<'a, ()> {
                sql::timed("intents.begin_create", async move {
                    sqlx::query("DELETE FROM create_intents WHERE tenant = $1 AND started < $2")
                        .bind(scope.tenant)
                        .bind(sql::timestamp(stale))
                        .execute(self.writer())
                        .await?;
                    sqlx::query(
                        "INSERT INTO create_intents (tenant, resource_type, name, request, scim_id, started) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, resource_type, name) DO UPDATE SET request = $4, scim_id = $5, started = $6",
                    )
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(&intent.name)
                    .bind(&intent.request)
                    .bind(&intent.scim_id)
                    .bind(sql::timestamp(intent.started))
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        if sql::is_foreign_key_violation(&e) {
                            StoreError::TenantGone(scope.tenant.to_owned())
                        } else {
                            e.into()
                        }
                    })?;
                    Ok(())
                })
            }

            fn drop_creates_of<'a>(
                &'a self,
                scope: Scope<'a>,
                scim_id: &'a str,
            ) -> StoreFuture<'a, ()> {
                sql::timed("intents.drop_creates_of", async move {
                    sqlx::query(
                        "DELETE FROM create_intents WHERE tenant = $1 AND resource_type = $2 AND scim_id = $3",
                    )
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(scim_id)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                })
            }

            fn drop_create<'a>(
                &'a self,
                scope: Scope<'a>,
                name: &'a str,
                scim_id: &'a str,
            ) -> StoreFuture<'a, ()> {
                sql::timed("intents.drop_create", async move {
                    sqlx::query(
                        "DELETE FROM create_intents WHERE tenant = $1 AND resource_type = $2 AND name = $3 AND scim_id = $4",
                    )
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(name)
                    .bind(scim_id)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                })
            }
        }
    };
}

pub(crate) use sql_intents_store;
