//! Sessions in PostgreSQL: tower-sessions-sqlx-store's table, records and
//! queries, except that saving only updates a session that is still there.
//! The store's own `save` is an upsert, so a request that loaded a session
//! before a sign-out or a provider logout deleted it would write it back
//! when it finished, signing the user in again (SES-05).

use std::sync::Arc;

use sqlx::PgPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_sqlx_store::PostgresStore;

/// The sessions table of one schema.
#[derive(Debug, Clone)]
pub struct PostgresSessionStore {
    store: PostgresStore,
    pool: PgPool,
    /// `UPDATE` of a live session's data and expiry, never an insert.
    update: Arc<str>,
    /// One log line per outage.
    pub(super) outage: Arc<crate::outage::OutageLog>,
}

impl PostgresSessionStore {
    /// The table `table` in `schema` (both already accepted as identifiers by `store`).
    pub fn new(store: PostgresStore, pool: PgPool, schema: &str, table: &str) -> Self {
        let update = format!(r#"update "{schema}"."{table}" set data = $2, expiry_date = $3 where id = $1 and expiry_date > now()"#);
        let outage = Arc::new(crate::outage::OutageLog::new("session store", "postgres"));
        Self { store, pool, update: update.into(), outage }
    }

    /// Creates the schema's sessions table if it is missing.
    pub async fn migrate(&self) -> sqlx::Result<()> {
        self.store.migrate().await
    }

    /// Deletes the sessions that have expired.
    pub async fn delete_expired(&self) -> session_store::Result<()> {
        tower_sessions::ExpiredDeletion::delete_expired(&self.store).await
    }
}

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

#[async_trait::async_trait]
impl SessionStore for PostgresSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.store.create(record).await
    }

    /// Updates the session if it is still there and unexpired; a deleted one stays deleted.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = rmp_serde::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))?;
        sqlx::query(&self.update)
            .bind(record.id.to_string())
            .bind(data)
            .bind(record.expiry_date)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.store.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete(id).await
    }
}
