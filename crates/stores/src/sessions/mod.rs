//! Where sessions live: a bounded memory store for one instance, Redis or
//! PostgreSQL (this crate's `redis` and `postgres` features) when several
//! instances serve the same users with no session affinity.
//!
//! In every store, saving a session updates it and never creates it
//! (SES-05): tower-sessions writes the whole record back at the end of a
//! request that changed it, and a request that loaded the session before a
//! sign-out or a provider logout deleted it must not bring it back, nor
//! fail because it is gone. Each store's `save` here is an update only, and
//! every session is created under a fresh id ([`SessionBackend::create`]).

mod cached;
mod memory;

use std::sync::Arc;

use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

pub use cached::{CachedSessionStore, SessionL1Settings};
pub use memory::BoundedMemorySessionStore;

use crate::outage::OutageLog;

/// The session store the app's session layer uses: any store, with the
/// engine's rules around it (a new id for every session, unknown cookies
/// and records that do not decode logged).
#[derive(Clone)]
pub struct SessionBackend {
    store: Arc<dyn SessionStore>,
    kind: &'static str,
    /// The memory store, which counts its sessions; a shared store's own server counts them.
    memory: Option<BoundedMemorySessionStore>,
    /// A shared store's L1, when it has one.
    cached: Option<Arc<CachedSessionStore>>,
}

impl std::fmt::Debug for SessionBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBackend").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// A shared store's answer as the session store's: an outage (`is_outage`)
/// noted on `outage` (one log line when it starts, one when it ends), any
/// other refusal logged every time.
#[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
pub(crate) fn observed<T, E: std::error::Error>(outage: &OutageLog, result: Result<T, E>, is_outage: fn(&E) -> bool) -> session_store::Result<T> {
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
    /// Sessions in this process only (`Session:Store` = `Memory`).
    pub fn memory(store: BoundedMemorySessionStore) -> Self {
        Self { store: Arc::new(store.clone()), kind: "memory", memory: Some(store), cached: None }
    }

    /// Sessions in `store`, shared with other instances; `kind` names it in
    /// logs and readiness (`redis`, `postgres`). Its `save` must update an
    /// existing record only, never create one (SES-05): tower-sessions' own
    /// stores create on save, so only this crate's stores are taken.
    #[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
    pub(crate) fn shared(kind: &'static str, store: impl SessionStore) -> Self {
        Self { store: Arc::new(store), kind, memory: None, cached: None }
    }

    /// A shared store behind an L1 in this instance ([`CachedSessionStore`]):
    /// `store` must be one of this crate's (see [`Self::shared`]).
    #[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
    pub(crate) fn shared_with_l1(kind: &'static str, store: CachedSessionStore) -> Self {
        let cached = Arc::new(store);
        Self { store: cached.clone(), kind, memory: None, cached: Some(cached) }
    }

    /// `memory`, `redis` or `postgres`, for logs and readiness.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Sessions the memory store holds now (`None` for a shared store,
    /// whose sessions its own server counts).
    pub fn sessions_held(&self) -> Option<u64> {
        self.memory.as_ref().map(BoundedMemorySessionStore::len)
    }

    /// The shared store's L1, if it has one (for its counters).
    pub fn l1(&self) -> Option<&CachedSessionStore> {
        self.cached.as_deref()
    }

    /// Logs a record that does not encode or decode: a defect, not an outage,
    /// logged every time (each shared store notes its own outages).
    fn observe<T>(&self, result: session_store::Result<T>) -> session_store::Result<T> {
        if let Err(error @ (session_store::Error::Encode(_) | session_store::Error::Decode(_))) = &result {
            tracing::error!(store = self.kind, error = %error, "a session record cannot be encoded or decoded");
        }
        result
    }

    /// Whether the store answers (`/readyz`).
    pub async fn check_ready(&self) -> Result<(), crate::StoreError> {
        if self.memory.is_some() {
            return Ok(());
        }
        // A load of an id nobody holds is a real round trip through the store's own client
        // (the store's, not `Self::load`: it is no refused cookie, nobody sent it).
        let loaded = self.store.load(&Id::default()).await;
        self.observe(loaded).map(|_| ()).map_err(|error| crate::StoreError::unavailable(self.kind, error))
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    /// Always under a new id (SES-05): tower-sessions' flush keeps the
    /// record's id, and a request still holding an ended session's id must
    /// find nothing to update, in every store.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        record.id = Id::default();
        let created = self.store.create(record).await;
        self.observe(created)
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let saved = self.store.save(record).await;
        self.observe(saved)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let loaded = self.store.load(id).await;
        if let Ok(None) = loaded {
            // Expired or ended, mostly; many in a short time from one client is someone guessing.
            crate::telemetry::session_cookie_refused("unknown");
            tracing::info!(target: "idweb::security", "a session cookie names no session the store holds");
        }
        self.observe(loaded)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let deleted = self.store.delete(id).await;
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
        let store = SessionBackend::memory(BoundedMemorySessionStore::new(100));
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
