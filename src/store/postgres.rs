//! The PostgreSQL identity store (sqlx), for several gateway replicas sharing one store. The
//! statements are the SQLite store's (see `sql.rs`); tables are created by the same migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::sql::{self, sql_identity_store};
use super::{Identity, IdentityStore, Scope, StoreError, StoreFuture};

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("scimgate");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Some(Duration::from_secs(600)))
            .connect_with(options)
            .await?;
        // Replicas starting together: the migrator takes an advisory lock, so one migrates and
        // the others wait.
        sql::migrator().run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

sql_identity_store!(PostgresStore, sqlx::postgres::PgRow);
