//! The embedded SQLite identity store (sqlx), with its migrations compiled into the binary.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::sql::{self, sql_identity_store};
use super::{Identity, IdentityStore, Scope, StoreError, StoreFuture};

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
        sql::migrator().run(&pool).await?;
        Ok(SqliteStore { pool })
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
}

sql_identity_store!(SqliteStore, sqlx::sqlite::SqliteRow);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{contract, identity, SCOPE};

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
            store.insert(SCOPE, &identity("a", "key-a")).await.unwrap();
        }
        let store = SqliteStore::open(&url).await.unwrap();
        assert!(store.get(SCOPE, "a").await.unwrap().is_some());
    }
}
