//! The identity links' SQL ([`LinkStore`](super::super::LinkStore)), for both databases.

/// Implements `LinkStore` for `$store` (a struct with a `pool` field and an
/// `external_id_memo` method) whose rows are `$row`.
macro_rules! sql_links_store {
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
                    proof: row.try_get("proof")?,
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
                    "INSERT INTO identities (tenant, resource_type, scim_id, backend_key, external_id, shadow, platform, created, last_modified, proof) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10){suffix}"
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
                .bind(&identity.proof)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected())
            }
        }

        impl $store {
            /// Every link write forgets the `externalId` lookups kept (see `Memo`), whether
            /// or not it succeeded: a failed write may still have changed a row.
            fn forget_external_ids(&self) {
                if let Some(memo) = self.external_id_memo() {
                    memo.forget_all();
                }
            }
        }

        impl super::LinkStore for $store {
            fn get<'a>(
                &'a self,
                scope: Scope<'a>,
                scim_id: &'a str,
            ) -> StoreFuture<'a, Option<Identity>> {
                sql::timed("links.get", async move {
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
                sql::timed("links.get_many", async move { self.identities_where_in(scope, "scim_id", scim_ids).await })
            }

            fn ids_by_backend_keys<'a>(
                &'a self,
                scope: Scope<'a>,
                keys: &'a [String],
            ) -> StoreFuture<'a, Vec<(String, String)>> {
                sql::timed("links.ids_by_backend_keys", async move {
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
                sql::timed("links.get_by_backend_keys", async move { self.identities_where_in(scope, "backend_key", keys).await })
            }

            fn find_by_external_id<'a>(
                &'a self,
                scope: Scope<'a>,
                external_id: &'a str,
            ) -> StoreFuture<'a, Vec<Identity>> {
                sql::timed("links.find_by_external_id", async move {
                    super::memo::read_through(
                        self.external_id_memo(),
                        (
                            scope.tenant.to_owned(),
                            scope.resource_type.to_owned(),
                            external_id.to_owned(),
                        ),
                        self.identities_where(scope, "external_id", external_id),
                    )
                    .await
                })
            }

            fn insert<'a>(
                &'a self,
                scope: Scope<'a>,
                identity: &'a Identity,
            ) -> StoreFuture<'a, ()> {
                sql::timed("links.insert", async move {
                    let inserted = self.insert_row(scope, identity, "").await;
                    self.forget_external_ids();
                    match inserted {
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
                sql::timed("links.link_or_get", async move {
                    let inserted = self
                        .insert_row(scope, identity, " ON CONFLICT DO NOTHING")
                        .await;
                    self.forget_external_ids();
                    inserted.map_err(|e| {
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
                sql::timed("links.update", async move {
                    let result = sqlx::query(
                        "UPDATE identities SET backend_key = $1, external_id = $2, shadow = $3, platform = $4, last_modified = $5, proof = $9 WHERE tenant = $6 AND resource_type = $7 AND scim_id = $8",
                    )
                    .bind(&identity.backend_key)
                    .bind(&identity.external_id)
                    .bind(identity.shadow.to_string())
                    .bind(identity.platform.to_string())
                    .bind(sql::timestamp(identity.last_modified))
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(&identity.scim_id)
                    .bind(&identity.proof)
                    .execute(self.writer())
                    .await;
                    self.forget_external_ids();
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
                sql::timed("links.delete", async move {
                    use sqlx::Row;
                    let row = sqlx::query(
                        "DELETE FROM identities WHERE tenant = $1 AND resource_type = $2 AND scim_id = $3 RETURNING backend_key",
                    )
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(scim_id)
                    .fetch_optional(self.writer())
                    .await;
                    self.forget_external_ids();
                    match row? {
                        Some(row) => {
                            let key: String = row.try_get("backend_key")?;
                            self.announce(scope, scim_id, &key, true).await?;
                            Ok(true)
                        }
                        None => Ok(false),
                    }
                })
            }

            fn rekey<'a>(
                &'a self,
                scope: Scope<'a>,
                scim_id: &'a str,
                new_scim_id: &'a str,
            ) -> StoreFuture<'a, bool> {
                sql::timed("links.rekey", async move {
                    use sqlx::Row;
                    let row = sqlx::query(
                        "UPDATE identities SET scim_id = $4 WHERE tenant = $1 AND resource_type = $2 AND scim_id = $3 RETURNING backend_key",
                    )
                    .bind(scope.tenant)
                    .bind(scope.resource_type)
                    .bind(scim_id)
                    .bind(new_scim_id)
                    .fetch_optional(self.writer())
                    .await;
                    self.forget_external_ids();
                    match row? {
                        Some(row) => {
                            let key: String = row.try_get("backend_key")?;
                            // The old id is gone, the platform object is not.
                            self.announce(scope, scim_id, &key, false).await?;
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
                sql::timed("links.page", async move {
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
        }
    };
}

pub(crate) use sql_links_store;
