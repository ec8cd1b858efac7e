//! Sessions in Redis: tower-sessions-redis-store's keys and records, except
//! that saving a session that is gone is no error. The store saves with
//! `SET ... XX`, so a deleted session is never written back (SES-05), but
//! Redis answers such a `SET` with nil, which the store turns into an
//! error: the slow request that raced a sign-out would answer 500.
//!
//! Every command fails at once while the connection is down (fred's
//! `fail_fast`), as the token cache's do: a request during an outage gets
//! its "try again" page at once instead of queueing for the command timeout.

use std::sync::Arc;
use std::time::Duration;

use fred::clients::{Pool, WithOptions};
use fred::interfaces::{ClientLike, KeysInterface};
use fred::prelude::Options;
use fred::types::{Expiration, SetOptions, Value};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_redis_store::RedisStore;

/// Sessions in the Redis the pool reaches.
#[derive(Debug, Clone)]
pub struct RedisSessionStore {
    store: RedisStore<WithOptions<Pool>>,
    client: WithOptions<Pool>,
    /// One log line per outage.
    pub(super) outage: Arc<crate::outage::OutageLog>,
}

impl RedisSessionStore {
    /// The sessions of `pool`'s Redis, each command bounded by `timeout`
    /// and failing at once while disconnected.
    pub fn new(pool: Pool, timeout: Duration) -> Self {
        let client = pool.with_options(&Options { fail_fast: true, timeout: Some(timeout), ..Default::default() });
        let outage = Arc::new(crate::outage::OutageLog::new("session store", "redis"));
        Self { store: RedisStore::new(client.clone()), client, outage }
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.store.create(record).await
    }

    /// Updates the session if its key still exists (`XX`); nil, Redis' answer
    /// when it does not, means the session ended and stays ended.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = rmp_serde::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))?;
        let expiry = Expiration::EXAT(record.expiry_date.unix_timestamp());
        let _: Value = self
            .client
            .set(record.id.to_string(), data.as_slice(), Some(expiry), Some(SetOptions::XX), false)
            .await
            .map_err(|error| session_store::Error::Backend(error.to_string()))?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.store.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete(id).await
    }
}
