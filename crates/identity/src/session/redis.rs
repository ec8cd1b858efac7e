//! Sessions in Redis: tower-sessions-redis-store's keys and records, except
//! that saving a session that is gone is no error. The store saves with
//! `SET ... XX`, so a deleted session is never written back (SES-05), but
//! Redis answers such a `SET` with nil, which the store turns into an
//! error: the slow request that raced a sign-out would answer 500.

use fred::clients::Pool;
use fred::interfaces::KeysInterface;
use fred::types::{Expiration, SetOptions, Value};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_redis_store::RedisStore;

/// Sessions in the Redis the pool reaches.
#[derive(Debug, Clone)]
pub struct RedisSessionStore {
    store: RedisStore<Pool>,
    pool: Pool,
}

impl RedisSessionStore {
    /// The sessions of `pool`'s Redis.
    pub fn new(pool: Pool) -> Self {
        Self { store: RedisStore::new(pool.clone()), pool }
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
            .pool
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
