//! Where sessions live: a bounded memory store for one instance, Redis or
//! PostgreSQL (tower-sessions' store crates) when several instances serve
//! the same users with no session affinity.
//!
//! In every store, saving a session updates it and never creates it
//! (SES-05): tower-sessions writes the whole record back at the end of a
//! request that changed it, and a request that loaded the session before a
//! sign-out or a provider logout deleted it must not bring it back, nor
//! fail because it is gone. Each store's `save` here is an update only, and
//! every session is created under a fresh id ([`SessionBackend::create`]).

mod memory;
mod postgres;
mod redis;
mod save_guard;

pub(crate) use save_guard::guarded;

use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

pub use memory::BoundedMemorySessionStore;
pub use postgres::PostgresSessionStore;
pub use redis::RedisSessionStore;

/// The configured session store.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    /// This process only (`Session:Store` = `Memory`).
    Memory(BoundedMemorySessionStore),
    /// Shared through Redis.
    Redis(RedisSessionStore),
    /// Shared through PostgreSQL.
    Postgres(PostgresSessionStore),
}

/// A shared store's answer as the session store's: an outage (`is_outage`)
/// noted on `outage` (one log line when it starts, one when it ends), any
/// other refusal logged every time.
fn observed<T, E: std::error::Error>(outage: &crate::outage::OutageLog, result: Result<T, E>, is_outage: fn(&E) -> bool) -> session_store::Result<T> {
    match result {
        Ok(value) => {
            outage.answered();
            Ok(value)
        }
        Err(error) => {
            if is_outage(&error) {
                outage.failed(&error);
            } else {
                tracing::error!(error = %error, "the session store refused a command");
            }
            Err(session_store::Error::Backend(error.to_string()))
        }
    }
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

    /// Logs a record that does not encode or decode: a defect, not an outage,
    /// logged every time (each shared store notes its own outages).
    fn observe<T>(&self, result: session_store::Result<T>) -> session_store::Result<T> {
        if let Err(error @ (session_store::Error::Encode(_) | session_store::Error::Decode(_))) = &result {
            tracing::error!(store = self.kind(), error = %error, "a session record cannot be encoded or decoded");
        }
        result
    }

    /// Whether the store answers (`/readyz`).
    pub async fn check_ready(&self) -> Result<(), crate::cache::CacheError> {
        // A load of an id nobody holds is a real round trip through the store's own client
        // (the store's, not `Self::load`: it is no refused cookie, nobody sent it).
        let probe = Id::default();
        let loaded = match self {
            Self::Memory(_) => return Ok(()),
            Self::Redis(store) => store.load(&probe).await,
            Self::Postgres(store) => store.load(&probe).await,
        };
        self.observe(loaded).map(|_| ()).map_err(|error| crate::cache::CacheError::unavailable(self.kind(), error))
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    /// Always under a new id (SES-05): tower-sessions' flush keeps the
    /// record's id, and a request still holding an ended session's id must
    /// find nothing to update, in every store.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        record.id = Id::default();
        let created = match self {
            Self::Memory(store) => store.create(record).await,
            Self::Redis(store) => store.create(record).await,
            Self::Postgres(store) => store.create(record).await,
        };
        self.observe(created)
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let saved = match self {
            Self::Memory(store) => store.save(record).await,
            Self::Redis(store) => store.save(record).await,
            Self::Postgres(store) => store.save(record).await,
        };
        self.observe(saved)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let loaded = match self {
            Self::Memory(store) => store.load(id).await,
            Self::Redis(store) => store.load(id).await,
            Self::Postgres(store) => store.load(id).await,
        };
        if let Ok(None) = loaded {
            // Expired or ended, mostly; many in a short time from one client is someone guessing.
            crate::telemetry::session_cookie_refused("unknown");
            tracing::info!(target: "idweb::security", "a session cookie names no session the store holds");
        }
        self.observe(loaded)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let deleted = match self {
            Self::Memory(store) => store.delete(id).await,
            Self::Redis(store) => store.delete(id).await,
            Self::Postgres(store) => store.delete(id).await,
        };
        self.observe(deleted)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use time::OffsetDateTime;
    use tower_sessions::session::{Id, Record};
    use tower_sessions::SessionStore;

    use super::{BoundedMemorySessionStore, SessionBackend};

    #[tokio::test]
    async fn ses_05_a_session_created_after_a_flush_never_gets_the_ended_sessions_id() {
        let store = SessionBackend::Memory(BoundedMemorySessionStore::new(100));
        let mut session = Record { id: Id::default(), data: HashMap::new(), expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1) };
        store.create(&mut session).await.unwrap();
        let ended = session.id;
        store.delete(&ended).await.unwrap();
        // tower-sessions' flush keeps the record's id; the next create must not reuse it.
        store.create(&mut session).await.unwrap();
        assert_ne!(session.id, ended);
        assert!(store.load(&ended).await.unwrap().is_none());
    }
}
