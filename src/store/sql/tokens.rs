//! Managed tokens' SQL ([`TokenStore`](super::super::TokenStore)), for both databases: each
//! change one statement on one column set, so concurrent changes never undo each other.

/// Implements `TokenStore` for `$store` (a struct with a `pool` field and a `token_memo`
/// method) whose rows are `$row`.
macro_rules! sql_tokens_store {
    ($store:ty, $row:ty) => {
        impl super::TokenStore for $store {
            fn put_token<'a>(&'a self, token: &'a super::TokenRecord) -> StoreFuture<'a, ()> {
                sql::timed("tokens.put_token", async move {
                    // A revocation is for good: no write made from an older read brings a
                    // token back.
                    sqlx::query(
                        "INSERT INTO tokens (id, tenant, name, hash, created, expires_at, last_used_at, revoked_at, issued, kind, client, parent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO UPDATE SET name = $3, hash = $4, expires_at = $6, last_used_at = $7, revoked_at = COALESCE(tokens.revoked_at, $8), issued = $9",
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
                    .bind(token.kind.as_str())
                    .bind(token.client.as_deref())
                    .bind(token.parent.as_deref())
                    .execute(self.writer())
                    .await
                    .map_err(|e| {
                        if sql::is_foreign_key_violation(&e) {
                            StoreError::TenantGone(token.tenant.clone())
                        } else {
                            e.into()
                        }
                    })?;
                    self.forget_tokens();
                    Ok(())
                })
            }

            fn write_token<'a>(
                &'a self,
                tenant: &'a str,
                id: &'a str,
                write: &'a super::TokenWrite,
            ) -> StoreFuture<'a, bool> {
                sql::timed("tokens.write_token", async move {
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
                    let done = query.execute(self.writer()).await?;
                    self.forget_tokens();
                    Ok(done.rows_affected() > 0)
                })
            }

            fn touch_token<'a>(
                &'a self,
                id: &'a str,
                at: time::OffsetDateTime,
            ) -> StoreFuture<'a, ()> {
                sql::timed("tokens.touch_token", async move {
                    sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2")
                        .bind(sql::timestamp(at))
                        .bind(id)
                        .execute(self.writer())
                        .await?;
                    self.forget_tokens();
                    Ok(())
                })
            }

            fn shorten_tokens<'a>(
                &'a self,
                tenant: &'a str,
                latest: time::OffsetDateTime,
            ) -> StoreFuture<'a, u64> {
                sql::timed("tokens.shorten_tokens", async move {
                    let latest = sql::timestamp(latest);
                    let done = sqlx::query(
                        "UPDATE tokens SET expires_at = $1 WHERE tenant = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
                    )
                    .bind(&latest)
                    .bind(tenant)
                    .execute(self.writer())
                    .await?;
                    self.forget_tokens();
                    Ok(done.rows_affected())
                })
            }

            fn prune_access_tokens<'a>(
                &'a self,
                tenant: &'a str,
                before: time::OffsetDateTime,
            ) -> StoreFuture<'a, u64> {
                sql::timed("tokens.prune_access_tokens", async move {
                    let done = sqlx::query(
                        "DELETE FROM tokens WHERE tenant = $1 AND kind = 'access' AND expires_at < $2",
                    )
                    .bind(tenant)
                    .bind(sql::timestamp(before))
                    .execute(self.writer())
                    .await?;
                    self.forget_tokens();
                    Ok(done.rows_affected())
                })
            }

            fn tokens<'a>(
                &'a self,
                tenant: &'a str,
                id: Option<&'a str>,
            ) -> StoreFuture<'a, Vec<super::TokenRecord>> {
                sql::timed("tokens.tokens", async move {
                    // One token by its key (every authenticated request asks), or a tenant's.
                    match id {
                        Some(id) => {
                            super::memo::read_through(
                                self.token_memo(),
                                (tenant.to_owned(), id.to_owned()),
                                self.read_tokens(tenant, Some(id)),
                            )
                            .await
                        }
                        None => self.read_tokens(tenant, None).await,
                    }
                })
            }
        }

        impl $store {
            /// A tenant's managed tokens (one, with `id`) as the database holds them.
            async fn read_tokens(
                &self,
                tenant: &str,
                id: Option<&str>,
            ) -> Result<Vec<super::TokenRecord>, StoreError> {
                use sqlx::Row;
                // A token of a revoked client, or issued for a revoked secret, is revoked: read
                // in the same query as the token, so a revocation made while a token was being
                // issued still holds for it.
                const COLUMNS: &str = "SELECT t.id, t.tenant, t.name, t.hash, t.created, t.expires_at, t.last_used_at, COALESCE(t.revoked_at, c.revoked_at, p.revoked_at) AS revoked_at, t.issued, t.kind, t.client, t.parent FROM tokens t LEFT JOIN oauth_clients c ON c.id = t.client LEFT JOIN tokens p ON p.id = t.parent";
                let rows = match id {
                    Some(id) => {
                        sqlx::query(&format!("{COLUMNS} WHERE t.id = $1 AND t.tenant = $2"))
                            .bind(id)
                            .bind(tenant)
                            .fetch_all(&self.pool)
                            .await?
                    }
                    None => {
                        sqlx::query(&format!(
                            "{COLUMNS} WHERE t.tenant = $1 ORDER BY t.created, t.id"
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
                    let kind: String = row.try_get("kind")?;
                    let kind = super::TokenKind::parse(&kind).ok_or_else(|| {
                        StoreError::Corrupt(format!("a token of kind `{kind}`"))
                    })?;
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
                        kind,
                        client: row.try_get("client")?,
                        parent: row.try_get("parent")?,
                    });
                }
                Ok(out)
            }

            /// Every token write forgets what the memo keeps (see `Memo`).
            fn forget_tokens(&self) {
                if let Some(memo) = self.token_memo() {
                    memo.forget_all();
                }
            }
        }
    };
}

pub(crate) use sql_tokens_store;
