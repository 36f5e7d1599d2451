//! The embedded SQLite identity store (sqlx), with its migrations compiled into the binary.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::Row;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{Identity, IdentityStore, Scope, StoreError, StoreFuture};

const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "identities",
    include_str!("migrations/0001_identities.sql"),
)];

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let memory = url.contains(":memory:");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives in one connection.
            .max_connections(if memory { 1 } else { 4 })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(3600))
            })
            .connect_with(options)
            .await?;
        migrator().run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

impl SqliteStore {
    /// The identities whose `column` is one of `values`.
    async fn get_where_in(
        &self,
        scope: Scope<'_>,
        column: &str,
        values: &[String],
    ) -> Result<Vec<Identity>, StoreError> {
        let mut out = Vec::with_capacity(values.len());
        // SQLite limits bound parameters per statement; stay well below it.
        for chunk in values.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT {COLUMNS} FROM identities WHERE tenant = ? AND resource_type = ? AND {column} IN ({placeholders})"
            );
            let mut query = sqlx::query(&sql)
                .bind(scope.tenant)
                .bind(scope.resource_type);
            for value in chunk {
                query = query.bind(value);
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push(identity_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// `INSERT` of one identity, with `suffix` appended (a conflict clause).
    async fn insert_row(
        &self,
        scope: Scope<'_>,
        identity: &Identity,
        suffix: &str,
    ) -> Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO identities (tenant, resource_type, scim_id, backend_key, external_id, shadow, platform, created, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?){suffix}"
        ))
        .bind(scope.tenant)
        .bind(scope.resource_type)
        .bind(&identity.scim_id)
        .bind(&identity.backend_key)
        .bind(&identity.external_id)
        .bind(identity.shadow.to_string())
        .bind(identity.platform.to_string())
        .bind(timestamp(identity.created))
        .bind(timestamp(identity.last_modified))
        .execute(&self.pool)
        .await
    }
}

fn migrator() -> Migrator {
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
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

fn timestamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("timestamp `{s}`: {e}")))
}

fn identity_from_row(row: &SqliteRow) -> Result<Identity, StoreError> {
    let shadow: String = row.try_get("shadow")?;
    let platform: String = row.try_get("platform")?;
    let created: String = row.try_get("created")?;
    let last_modified: String = row.try_get("last_modified")?;
    Ok(Identity {
        scim_id: row.try_get("scim_id")?,
        backend_key: row.try_get("backend_key")?,
        external_id: row.try_get("external_id")?,
        shadow: serde_json::from_str(&shadow)
            .map_err(|e| StoreError::Corrupt(format!("stored attributes: {e}")))?,
        platform: serde_json::from_str(&platform)
            .map_err(|e| StoreError::Corrupt(format!("stored platform object: {e}")))?,
        created: parse_time(&created)?,
        last_modified: parse_time(&last_modified)?,
    })
}

const COLUMNS: &str = "scim_id, backend_key, external_id, shadow, platform, created, last_modified";

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl IdentityStore for SqliteStore {
    fn get<'a>(&'a self, scope: Scope<'a>, scim_id: &'a str) -> StoreFuture<'a, Option<Identity>> {
        Box::pin(async move {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM identities WHERE tenant = ? AND resource_type = ? AND scim_id = ?"
            ))
            .bind(scope.tenant)
            .bind(scope.resource_type)
            .bind(scim_id)
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(identity_from_row).transpose()
        })
    }

    fn get_many<'a>(
        &'a self,
        scope: Scope<'a>,
        scim_ids: &'a [String],
    ) -> StoreFuture<'a, Vec<Identity>> {
        Box::pin(async move { self.get_where_in(scope, "scim_id", scim_ids).await })
    }

    fn ids_by_backend_keys<'a>(
        &'a self,
        scope: Scope<'a>,
        keys: &'a [String],
    ) -> StoreFuture<'a, Vec<(String, String)>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(500) {
                let placeholders = vec!["?"; chunk.len()].join(", ");
                let sql = format!(
                    "SELECT backend_key, scim_id FROM identities WHERE tenant = ? AND resource_type = ? AND backend_key IN ({placeholders})"
                );
                let mut query = sqlx::query(&sql)
                    .bind(scope.tenant)
                    .bind(scope.resource_type);
                for key in chunk {
                    query = query.bind(key);
                }
                for row in query.fetch_all(&self.pool).await? {
                    out.push((row.try_get("backend_key")?, row.try_get("scim_id")?));
                }
            }
            Ok(out)
        })
    }

    fn get_by_backend_keys<'a>(
        &'a self,
        scope: Scope<'a>,
        keys: &'a [String],
    ) -> StoreFuture<'a, Vec<Identity>> {
        Box::pin(async move { self.get_where_in(scope, "backend_key", keys).await })
    }

    fn find_by_external_id<'a>(
        &'a self,
        scope: Scope<'a>,
        external_id: &'a str,
    ) -> StoreFuture<'a, Vec<Identity>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM identities WHERE tenant = ? AND resource_type = ? AND external_id = ?"
            ))
            .bind(scope.tenant)
            .bind(scope.resource_type)
            .bind(external_id)
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(identity_from_row).collect()
        })
    }

    fn insert<'a>(&'a self, scope: Scope<'a>, identity: &'a Identity) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let result = self.insert_row(scope, identity, "").await;
            match result {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => {
                    Err(StoreError::Conflict(identity.backend_key.clone()))
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
                .await?;
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM identities WHERE tenant = ? AND resource_type = ? AND backend_key = ?"
            ))
            .bind(scope.tenant)
            .bind(scope.resource_type)
            .bind(&identity.backend_key)
            .fetch_one(&self.pool)
            .await?;
            identity_from_row(&row)
        })
    }

    fn update<'a>(&'a self, scope: Scope<'a>, identity: &'a Identity) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let result = sqlx::query(
                "UPDATE identities SET backend_key = ?, external_id = ?, shadow = ?, platform = ?, last_modified = ? WHERE tenant = ? AND resource_type = ? AND scim_id = ?",
            )
            .bind(&identity.backend_key)
            .bind(&identity.external_id)
            .bind(identity.shadow.to_string())
            .bind(identity.platform.to_string())
            .bind(timestamp(identity.last_modified))
            .bind(scope.tenant)
            .bind(scope.resource_type)
            .bind(&identity.scim_id)
            .execute(&self.pool)
            .await;
            match result {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => {
                    Err(StoreError::Conflict(identity.backend_key.clone()))
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn delete<'a>(&'a self, scope: Scope<'a>, scim_id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = sqlx::query(
                "DELETE FROM identities WHERE tenant = ? AND resource_type = ? AND scim_id = ?",
            )
            .bind(scope.tenant)
            .bind(scope.resource_type)
            .bind(scim_id)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(id: &str, key: &str) -> Identity {
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        Identity {
            scim_id: id.to_owned(),
            backend_key: key.to_owned(),
            external_id: Some(format!("ext-{id}")),
            shadow: json!({"userName": id}),
            platform: json!({"id": key}),
            created: now,
            last_modified: now,
        }
    }

    const SCOPE: Scope<'static> = Scope {
        tenant: "default",
        resource_type: "User",
    };

    #[tokio::test]
    async fn links_round_trip() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let a = identity("a", "key-a");
        store.insert(SCOPE, &a).await.unwrap();
        assert_eq!(store.get(SCOPE, "a").await.unwrap(), Some(a.clone()));
        assert!(matches!(
            store.insert(SCOPE, &identity("b", "key-a")).await,
            Err(StoreError::Conflict(_))
        ));
        let keys = vec!["key-a".to_owned(), "nope".to_owned()];
        assert_eq!(
            store.get_by_backend_keys(SCOPE, &keys).await.unwrap(),
            vec![a.clone()]
        );
        assert_eq!(
            store.ids_by_backend_keys(SCOPE, &keys).await.unwrap(),
            vec![("key-a".to_owned(), "a".to_owned())]
        );
        let ids = vec!["a".to_owned(), "zz".to_owned()];
        assert_eq!(store.get_many(SCOPE, &ids).await.unwrap(), vec![a.clone()]);
        assert_eq!(
            store.find_by_external_id(SCOPE, "ext-a").await.unwrap(),
            vec![a.clone()]
        );
        // A second link attempt for the same key returns the first link.
        let again = store
            .link_or_get(SCOPE, &identity("c", "key-a"))
            .await
            .unwrap();
        assert_eq!(again.scim_id, "a");
        let other_scope = Scope {
            tenant: "other",
            resource_type: "User",
        };
        assert_eq!(store.get(other_scope, "a").await.unwrap(), None);
        assert!(store.delete(SCOPE, "a").await.unwrap());
        assert!(!store.delete(SCOPE, "a").await.unwrap());
        assert_eq!(store.get(SCOPE, "a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn file_database_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ids.sqlite").display());
        {
            let store = SqliteStore::open(&url).await.unwrap();
            store.insert(SCOPE, &identity("a", "key-a")).await.unwrap();
        }
        let store = SqliteStore::open(&url).await.unwrap();
        assert!(store.get(SCOPE, "a").await.unwrap().is_some());
    }
}
