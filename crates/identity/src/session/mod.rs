//! Where sessions live: a bounded memory store for one instance, Redis or
//! PostgreSQL (tower-sessions' store crates) when several instances serve
//! the same users with no session affinity.

mod memory;

use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_sqlx_store::PostgresStore;

pub use memory::BoundedMemorySessionStore;

/// The configured session store.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    /// This process only (`Session:Store` = `Memory`).
    Memory(BoundedMemorySessionStore),
    /// Shared through Redis.
    Redis(RedisStore<fred::clients::Pool>),
    /// Shared through PostgreSQL.
    Postgres(PostgresStore),
}

impl SessionBackend {
    /// `memory`, `redis` or `postgres`, for logs and readiness.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis(_) => "redis",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl SessionBackend {
    /// Whether the store answers (`/readyz`).
    pub async fn check_ready(&self) -> Result<(), crate::cache::CacheError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(_) | Self::Postgres(_) => {
                // A load of an id nobody holds is a real round trip through the store's own client.
                self.load(&Id::default()).await.map(|_| ()).map_err(|error| crate::cache::CacheError::unavailable(self.kind(), error))
            }
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Memory(store) => store.create(record).await,
            Self::Redis(store) => store.create(record).await,
            Self::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Memory(store) => store.save(record).await,
            Self::Redis(store) => store.save(record).await,
            Self::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Memory(store) => store.load(id).await,
            Self::Redis(store) => store.load(id).await,
            Self::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Memory(store) => store.delete(id).await,
            Self::Redis(store) => store.delete(id).await,
            Self::Postgres(store) => store.delete(id).await,
        }
    }
}
