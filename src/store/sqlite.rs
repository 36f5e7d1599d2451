//! The embedded SQLite identity store (sqlx), with its migrations compiled into the binary.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::memo::{ExternalIdMemo, Memo, TokenMemo};
use super::sql::{self, sql_store};
use super::{Identity, Scope, StoreError, StoreFuture};

/// Most tokens, and most looked-up `externalId`s, kept in memory.
const MEMO_CAPACITY: usize = 10_000;

/// The embedded store on SQLite, owned by one process.
pub struct SqliteStore {
    /// Reads (WAL: never blocked by a write).
    pool: SqlitePool,
    /// Writes, on one connection: writers queue here in order, in the pool's fair queue,
    /// instead of in SQLite's busy handler, which polls for the lock in sleeps of up to 100 ms
    /// and so kept a write waiting 100s of ms (up to 1.9 s in a 30-minute soak) behind a lock
    /// that had long been free.
    writer: SqlitePool,
    /// Only this process writes an SQLite store: the tokens requests present are kept here,
    tokens: TokenMemo,
    /// and the links of the `externalId`s IdPs look up (tenant, resource type, externalId).
    external_ids: ExternalIdMemo,
}

impl SqliteStore {
    /// Opens the database `url` names (creating a missing file) and runs the migrations.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let memory = url.contains(":memory:");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            // For another process on the same file (a CLI), never between our own writers.
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
            .connect_with(options.clone())
            .await?;
        sql::migrator().run(&pool).await?;
        // An in-memory database is its one connection.
        let writer = if memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                // As long as SQLite's busy timeout: a write waits as long as before at most.
                .acquire_timeout(Duration::from_secs(5))
                .idle_timeout(Some(Duration::from_secs(600)))
                .max_lifetime(Some(Duration::from_secs(3600)))
                .connect_with(options)
                .await?
        };
        Ok(SqliteStore {
            pool,
            writer,
            tokens: Memo::new(MEMO_CAPACITY),
            external_ids: Memo::new(MEMO_CAPACITY),
        })
    }
}

impl SqliteStore {
    /// One process owns an SQLite store: nobody else to tell.
    async fn announce(&self, _: Scope<'_>, _: &str, _: &str, _: bool) -> Result<(), StoreError> {
        Ok(())
    }

    async fn listen(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<super::Change>>, StoreError> {
        Ok(None)
    }

    /// A transaction that writes: it takes the write lock at once (`BEGIN IMMEDIATE`). A
    /// deferred one that reads first fails with SQLITE_BUSY, without waiting, when another
    /// connection (the request log's writer, a SCIM write) commits between its read and its
    /// write.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// Where a write outside a transaction goes: the one writing connection.
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// One process owns an SQLite store: its own write locks serialize every write.
    async fn lock_resource(&self, _: &str) -> Result<Option<super::ReplicaLock>, StoreError> {
        Ok(None)
    }

    fn token_memo(&self) -> Option<&TokenMemo> {
        Some(&self.tokens)
    }

    fn external_id_memo(&self) -> Option<&ExternalIdMemo> {
        Some(&self.external_ids)
    }
}

sql_store!(SqliteStore, sqlx::sqlite::SqliteRow);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{contract, identity, tenants_for_tests, SCOPE};
    use crate::store::{LinkStore, TenantStore, TokenStore};

    #[tokio::test]
    async fn in_memory_store_keeps_the_contract() {
        contract(&SqliteStore::open("sqlite::memory:").await.unwrap()).await;
    }

    #[tokio::test]
    async fn file_database_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ids.sqlite").display());
        {
            let store = SqliteStore::open(&url).await.unwrap();
            tenants_for_tests(&store, &["default"]).await;
            store.insert(SCOPE, &identity("a", "key-a")).await.unwrap();
        }
        let store = SqliteStore::open(&url).await.unwrap();
        assert!(store.get(SCOPE, "a").await.unwrap().is_some());
    }

    /// A single-tenant store from before tenants (migrations 1 to 3) upgrades in place: its
    /// links and tokens become the `default` tenant's, which then exists.
    #[tokio::test]
    async fn a_store_from_before_tenants_upgrades() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("old.sqlite").display());
        {
            let options = SqliteConnectOptions::from_str(&url)
                .unwrap()
                .create_if_missing(true);
            let pool = SqlitePool::connect_with(options).await.unwrap();
            sql::migrator_until(3).run(&pool).await.unwrap();
            sqlx::query("INSERT INTO identities (tenant, resource_type, scim_id, backend_key, external_id, shadow, platform, created, last_modified) VALUES ('default', 'User', 'a', 'key-a', NULL, '{}', 'null', '2026-01-02T03:04:05.123456789Z', '2026-01-02T03:04:05.123456789Z')")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO tokens (id, tenant, name, hash, created) VALUES ('t1', 'default', 'okta', 'ab', '2025-12-31T23:59:59.123456Z')")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        let store = SqliteStore::open(&url).await.unwrap();
        assert!(store.get(SCOPE, "a").await.unwrap().is_some());
        let tenants = store.tenants(None).await.unwrap();
        assert_eq!(tenants.len(), 1);
        assert_eq!(
            (tenants[0].id.as_str(), tenants[0].backend.as_str()),
            ("default", "default")
        );
        let token = &store.tokens("default", Some("t1")).await.unwrap()[0];
        assert_eq!(token.issued, token.created);
        // Its times are in the store's fixed-width form (the oldest row's, made so), so it
        // updates as read.
        let mut default = tenants[0].clone();
        let read = default.updated;
        default.enabled = false;
        default.updated = read + time::Duration::seconds(1);
        store.update_tenant(&default, read).await.unwrap();
        // The tenant has a link now, so it stays.
        assert!(!store.delete_tenant("default").await.unwrap());
    }
}
