//! The store's SQL, shared by the SQLite and PostgreSQL stores.
//!
//! Both run the same statements: numbered placeholders (`$1`, which both drivers accept), TEXT
//! columns, `ON CONFLICT DO NOTHING`. [`sql_store!`] writes every store trait's implementation
//! once for a store type with a `pool` field (one file per concern), so the two stores cannot
//! drift apart.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::StoreError;

pub(super) mod audit;
pub(super) mod intents;
pub(super) mod links;
pub(super) mod oauth;
pub(super) mod requests;
pub(super) mod tenants;
pub(super) mod tokens;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "identities",
        include_str!("../migrations/0001_identities.sql"),
    ),
    (2, "audit", include_str!("../migrations/0002_audit.sql")),
    (3, "tokens", include_str!("../migrations/0003_tokens.sql")),
    (4, "tenants", include_str!("../migrations/0004_tenants.sql")),
    (
        5,
        "identity proof",
        include_str!("../migrations/0005_identity_proof.sql"),
    ),
    (
        6,
        "tenant dialect",
        include_str!("../migrations/0006_tenant_dialect.sql"),
    ),
    (7, "oauth", include_str!("../migrations/0007_oauth.sql")),
    (
        8,
        "tenant lifecycle",
        include_str!("../migrations/0008_tenant_lifecycle.sql"),
    ),
    (
        9,
        "create intents",
        include_str!("../migrations/0009_create_intents.sql"),
    ),
    (
        10,
        "request log",
        include_str!("../migrations/0010_request_log.sql"),
    ),
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
    "scim_id, backend_key, external_id, shadow, platform, created, last_modified, proof";

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

/// `work`, timed in the metrics as the store operation `operation`.
pub(super) fn timed<'a, T>(
    operation: &'static str,
    work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'a,
) -> super::StoreFuture<'a, T> {
    Box::pin(async move {
        let started = std::time::Instant::now();
        let result = work.await;
        crate::metrics::metrics().store_operation(operation, started.elapsed());
        result
    })
}

/// Implements every store trait for `$store` (a struct with a `pool` field for reads, and
/// `writer`, `begin_write`, `announce`,
/// `listen` and `lock_resource` methods of its own) whose rows are `$row`.
macro_rules! sql_store {
    ($store:ty, $row:ty) => {
        $crate::store::sql::links::sql_links_store!($store, $row);
        $crate::store::sql::audit::sql_audit_store!($store, $row);
        $crate::store::sql::tokens::sql_tokens_store!($store, $row);
        $crate::store::sql::oauth::sql_oauth_store!($store);
        $crate::store::sql::intents::sql_intents_store!($store);
        $crate::store::sql::requests::sql_requests_store!($store);
        $crate::store::sql::tenants::sql_tenants_store!($store, $row);

        impl super::ReplicaSync for $store {
            fn ping(&self) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
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

pub(super) use sql_store;

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
