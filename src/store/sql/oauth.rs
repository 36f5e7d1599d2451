//! OAuth clients' SQL ([`OAuthStore`](super::super::OAuthStore)), for both databases.

/// Implements `OAuthStore` for `$store` (a struct with a `pool` field and a `token_memo`
/// method).
macro_rules! sql_oauth_store {
    ($store:ty) => {
        impl super::OAuthStore for $store {
            fn put_client<'a>(&'a self, client: &'a super::ClientRecord) -> StoreFuture<'a, ()> {
                sql::timed("oauth.put_client", async move {
                    let jwt = client.jwt.as_ref();
                    sqlx::query(
                        "INSERT INTO oauth_clients (id, tenant, name, created, access_token_minutes, jwks_url, jwt_issuer, jwt_subject, jwt_audience, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO UPDATE SET name = $3, access_token_minutes = $5, jwks_url = $6, jwt_issuer = $7, jwt_subject = $8, jwt_audience = $9, revoked_at = COALESCE(oauth_clients.revoked_at, $10)",
                    )
                    .bind(&client.id)
                    .bind(&client.tenant)
                    .bind(&client.name)
                    .bind(sql::timestamp(client.created))
                    .bind(i64::from(client.access_token_minutes))
                    .bind(jwt.map(|j| j.jwks_url.as_str()))
                    .bind(jwt.and_then(|j| j.issuer.as_deref()))
                    .bind(jwt.and_then(|j| j.subject.as_deref()))
                    .bind(jwt.and_then(|j| j.audience.as_deref()))
                    .bind(client.revoked_at.map(sql::timestamp))
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        if sql::is_foreign_key_violation(&e) {
                            StoreError::TenantGone(client.tenant.clone())
                        } else {
                            e.into()
                        }
                    })?;
                    Ok(())
                })
            }

            fn clients<'a>(
                &'a self,
                tenant: &'a str,
                id: Option<&'a str>,
            ) -> StoreFuture<'a, Vec<super::ClientRecord>> {
                sql::timed("oauth.clients", async move {
                    use sqlx::Row;
                    const COLUMNS: &str = "SELECT id, tenant, name, created, access_token_minutes, jwks_url, jwt_issuer, jwt_subject, jwt_audience, revoked_at FROM oauth_clients";
                    let rows = match id {
                        Some(id) => {
                            sqlx::query(&format!("{COLUMNS} WHERE tenant = $1 AND id = $2"))
                                .bind(tenant)
                                .bind(id)
                                .fetch_all(&self.pool)
                                .await?
                        }
                        None => {
                            sqlx::query(&format!("{COLUMNS} WHERE tenant = $1 ORDER BY created, id"))
                                .bind(tenant)
                                .fetch_all(&self.pool)
                                .await?
                        }
                    };
                    let mut out = Vec::with_capacity(rows.len());
                    for row in rows {
                        let created: String = row.try_get("created")?;
                        let revoked_at: Option<String> = row.try_get("revoked_at")?;
                        let minutes: i64 = row.try_get("access_token_minutes")?;
                        let jwks_url: Option<String> = row.try_get("jwks_url")?;
                        let jwt = match jwks_url {
                            Some(jwks_url) => Some(super::JwtTrust {
                                jwks_url,
                                issuer: row.try_get("jwt_issuer")?,
                                subject: row.try_get("jwt_subject")?,
                                audience: row.try_get("jwt_audience")?,
                            }),
                            None => None,
                        };
                        out.push(super::ClientRecord {
                            id: row.try_get("id")?,
                            tenant: row.try_get("tenant")?,
                            name: row.try_get("name")?,
                            created: sql::parse_time(&created)?,
                            access_token_minutes: u32::try_from(minutes).map_err(|_| {
                                StoreError::Corrupt(format!(
                                    "an OAuth client's access token lifetime of {minutes} minutes"
                                ))
                            })?,
                            jwt,
                            revoked_at: revoked_at.map(|t| sql::parse_time(&t)).transpose()?,
                        });
                    }
                    Ok(out)
                })
            }

            fn use_assertion<'a>(
                &'a self,
                client: &'a str,
                jti: &'a str,
                expires_at: time::OffsetDateTime,
                now: time::OffsetDateTime,
            ) -> StoreFuture<'a, bool> {
                sql::timed("oauth.use_assertion", async move {
                    sqlx::query("DELETE FROM used_assertions WHERE expires_at < $1")
                        .bind(sql::timestamp(now))
                        .execute(self.writer())
                        .await?;
                    // One statement: of two requests with one assertion, one inserts.
                    let done = sqlx::query(
                        "INSERT INTO used_assertions (client, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(client)
                    .bind(jti)
                    .bind(sql::timestamp(expires_at))
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn revoke_client<'a>(
                &'a self,
                tenant: &'a str,
                id: &'a str,
                at: time::OffsetDateTime,
            ) -> StoreFuture<'a, bool> {
                sql::timed("oauth.revoke_client", async move {
                    // The client and everything it holds, together: no secret outlives it.
                    let at = sql::timestamp(at);
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query(
                        "UPDATE oauth_clients SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant = $1 AND id = $2",
                    )
                    .bind(tenant)
                    .bind(id)
                    .bind(&at)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant = $1 AND client = $2",
                    )
                    .bind(tenant)
                    .bind(id)
                    .bind(&at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    if let Some(memo) = self.token_memo() {
                        memo.forget_all();
                    }
                    Ok(done.rows_affected() > 0)
                })
            }
        }
    };
}

pub(crate) use sql_oauth_store;
