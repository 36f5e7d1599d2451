//! The PostgreSQL identity store (sqlx), for several gateway replicas sharing one store. The
//! statements are the SQLite store's (see `sql.rs`); tables are created by the same migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::sql::{self, sql_store};
use super::{Change, Identity, Scope, StoreError, StoreFuture};

/// The channel every replica listens on.
const CHANNEL: &str = "scimgate_identity_changes";

/// The store on PostgreSQL, shared by several replicas: advisory locks per resource
/// and a `NOTIFY` change feed.
pub struct PostgresStore {
    pool: PgPool,
    /// Connections that hold the replicas' write locks (session advisory locks), apart from
    /// `pool`: a write holding a lock must still get a connection for its store calls.
    locks: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and runs the migrations (one replica at a time); the lock pool
    /// connects when first needed.
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
        let locks = PgPoolOptions::new()
            .max_connections(32)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            .idle_timeout(Some(Duration::from_secs(600)))
            .connect_lazy_with(PgConnectOptions::from_str(url)?.application_name("scimgate-locks"));
        Ok(PostgresStore { pool, locks })
    }
}

impl PostgresStore {
    /// A transaction that writes (PostgreSQL's row locks order writers; no lock up front).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Where a write outside a transaction goes: the pool (PostgreSQL queues writers itself).
    fn writer(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Tells every replica (NOTIFY) that a link changed, so their caches drop it.
    async fn announce(
        &self,
        scope: Scope<'_>,
        scim_id: &str,
        backend_key: &str,
        deleted: bool,
    ) -> Result<(), StoreError> {
        let change = Change {
            tenant: scope.tenant.to_owned(),
            resource_type: scope.resource_type.to_owned(),
            scim_id: scim_id.to_owned(),
            backend_key: backend_key.to_owned(),
            deleted,
        };
        // The write is committed already: a notice that cannot be sent is logged, never turned
        // into a failed write (the other replicas' caches then catch up within their TTL).
        let sent = match serde_json::to_string(&change) {
            Ok(payload) => sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "cannot announce a link change to other replicas");
        }
        Ok(())
    }

    /// Listens (LISTEN) for the links any replica changes. The listener reconnects by itself
    /// (sqlx's PgListener); notices lost while it was away are covered by the cache TTL.
    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Change>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(notice) => match serde_json::from_str::<Change>(notice.payload()) {
                        Ok(change) => {
                            if sender.send(change).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "unreadable change notice"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "change listener failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Some(receiver))
    }
}

impl PostgresStore {
    /// Other replicas write the tokens too: each request's token is read from the database,
    /// so a revocation through any replica holds at once on all.
    fn token_memo(&self) -> Option<&super::memo::TokenMemo> {
        None
    }

    /// The same for the links of an `externalId`.
    fn external_id_memo(&self) -> Option<&super::memo::ExternalIdMemo> {
        None
    }

    /// A session advisory lock on the resource's key, held on a connection of its own until
    /// dropped: every replica on this database waits for it before writing the resource.
    async fn lock_resource(&self, key: &str) -> Result<Option<super::ReplicaLock>, StoreError> {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        for (byte, from) in first.iter_mut().zip(digest.iter()) {
            *byte = *from;
        }
        // A stable key across processes and builds (unlike Rust's hashers).
        let id = i64::from_be_bytes(first);
        let mut conn = self.locks.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Ok(Some(Box::new(AdvisoryLock {
            id,
            conn: Some(conn),
        })))
    }
}

/// A held advisory lock; dropping it releases the lock.
struct AdvisoryLock {
    id: i64,
    conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let id = self.id;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(id)
                        .execute(&mut *conn)
                        .await;
                    if unlocked.is_err() {
                        // Ending the session releases its locks; the pool opens another.
                        let _ = conn.close().await;
                    }
                });
            }
            // No runtime to unlock on: closing the connection ends the session and its locks.
            Err(_) => drop(conn.detach()),
        }
    }
}

sql_store!(PostgresStore, sqlx::postgres::PgRow);
