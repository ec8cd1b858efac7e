//! The session store of a single instance: bounded, and every session
//! leaves memory when it expires. (tower-sessions' own memory store keeps
//! every session ever created, including each anonymous sign-in attempt:
//! memory anyone could fill.) Saving updates a session that exists and
//! never brings back one that was deleted, expired or evicted at the bound
//! (SES-05): an evicted session is signed out, as the bound means.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::ops::compute::Op;
use moka::sync::Cache;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Sessions held in this process, at most a configured number (least
/// recently used dropped first), each dropped at its expiry.
#[derive(Clone)]
pub struct BoundedMemorySessionStore {
    sessions: Cache<Id, Arc<Record>>,
}

impl std::fmt::Debug for BoundedMemorySessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedMemorySessionStore").field("sessions", &self.sessions.entry_count()).finish()
    }
}

/// Each session lives until its record's expiry date.
struct UntilExpiryDate;

impl moka::Expiry<Id, Arc<Record>> for UntilExpiryDate {
    fn expire_after_create(&self, _id: &Id, record: &Arc<Record>, _created_at: Instant) -> Option<Duration> {
        Some(time_left(record))
    }

    fn expire_after_update(&self, _id: &Id, record: &Arc<Record>, _updated_at: Instant, _left: Option<Duration>) -> Option<Duration> {
        Some(time_left(record))
    }
}

pub(super) fn time_left(record: &Record) -> Duration {
    let left = record.expiry_date - OffsetDateTime::now_utc();
    Duration::try_from(left).unwrap_or(Duration::ZERO)
}

/// Bytes of a session record beyond its data (id, expiry, the cache's own entry).
const RECORD_OVERHEAD_BYTES: usize = 128;

/// What a record weighs: about the bytes it takes in memory.
fn record_bytes(record: &Record) -> usize {
    RECORD_OVERHEAD_BYTES + record.data.iter().map(|(key, value)| key.len() + value.to_string().len()).sum::<usize>()
}

impl BoundedMemorySessionStore {
    /// A store of at most `max_sessions` (and 256 MB).
    pub fn new(max_sessions: u64) -> Self {
        Self::with_byte_limit(max_sessions, 256 * 1024 * 1024)
    }

    /// A store of at most `max_sessions` taking at most `max_bytes`: each
    /// session weighs its bytes, and at least `max_bytes / max_sessions`, so
    /// both bounds hold with one weight (least recently used dropped first).
    pub fn with_byte_limit(max_sessions: u64, max_bytes: u64) -> Self {
        let least = u32::try_from(max_bytes / max_sessions.max(1)).unwrap_or(u32::MAX).max(1);
        let sessions = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(move |_id: &Id, record: &Arc<Record>| u32::try_from(record_bytes(record)).unwrap_or(u32::MAX).max(least))
            .expire_after(UntilExpiryDate)
            .build();
        Self { sessions }
    }

    /// Sessions held now (after pending expiries and evictions are applied).
    pub fn len(&self) -> u64 {
        self.sessions.run_pending_tasks();
        self.sessions.entry_count()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl SessionStore for BoundedMemorySessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits; a collision is near impossible, but never reuse one.
        while self.sessions.contains_key(&record.id) {
            record.id = Id::default();
        }
        self.sessions.insert(record.id, Arc::new(record.clone()));
        Ok(())
    }

    /// Updates the session if it is still held. A request that loaded the
    /// session before a sign-out or a provider logout deleted it must not
    /// write it back when it finishes (SES-05): the check and the write run
    /// under moka's lock on the id, as [`Self::delete`] does.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.sessions.entry(record.id).and_compute_with(|held| match held {
            Some(_) => Op::Put(Arc::new(record.clone())),
            None => Op::Nop,
        });
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let record = self.sessions.get(id).filter(|record| record.expiry_date > OffsetDateTime::now_utc());
        Ok(record.map(|record| record.as_ref().clone()))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        // Through the same per-id lock as `save`, so a save cannot slip in between its check and its write.
        self.sessions.entry(*id).and_compute_with(|_| Op::Remove);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn record(lifetime: time::Duration) -> Record {
        Record { id: Id::default(), data: HashMap::new(), expiry_date: OffsetDateTime::now_utc() + lifetime }
    }

    #[tokio::test]
    async fn the_store_holds_at_most_its_bound() {
        let store = BoundedMemorySessionStore::new(100);
        for _ in 0..5_000 {
            store.create(&mut record(time::Duration::hours(1))).await.unwrap();
        }
        assert!(store.len() <= 100, "bounded at 100, holds {}", store.len());
    }

    #[tokio::test]
    async fn ses_04_the_store_holds_at_most_its_bytes_whatever_the_sessions_hold() {
        let store = BoundedMemorySessionStore::with_byte_limit(1_000, 100 * 1024);
        for _ in 0..200 {
            let mut large = record(time::Duration::hours(1));
            large.data.insert("claims".into(), serde_json::json!("x".repeat(10 * 1024)));
            store.create(&mut large).await.unwrap();
        }
        // Ten sessions of ten kilobytes fill a hundred; the count bound (1 000) is not what holds.
        assert!(store.len() <= 10, "bounded at 100 KB, holds {} sessions of 10 KB", store.len());
    }

    #[tokio::test]
    async fn expired_sessions_leave_memory() {
        let store = BoundedMemorySessionStore::new(100);
        let mut short = record(time::Duration::milliseconds(50));
        store.create(&mut short).await.unwrap();
        let mut long = record(time::Duration::hours(1));
        store.create(&mut long).await.unwrap();
        assert!(store.load(&short.id).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(store.load(&short.id).await.unwrap().is_none());
        // moka's timer wheel turns about once a second; wait (boundedly) for it to drop the entry.
        for _ in 0..50 {
            if store.len() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(store.len(), 1, "the expired session is gone, the live one stays");
        store.delete(&long.id).await.unwrap();
        assert!(store.is_empty());
    }

    #[tokio::test]
    async fn ses_05_saving_updates_a_held_session_and_never_brings_a_deleted_one_back() {
        let store = BoundedMemorySessionStore::new(100);
        let mut session = record(time::Duration::hours(1));
        store.create(&mut session).await.unwrap();
        session.data.insert("user".into(), serde_json::json!("adele"));
        store.save(&session).await.unwrap();
        assert_eq!(store.load(&session.id).await.unwrap().unwrap().data["user"], "adele", "a held session is updated");

        store.delete(&session.id).await.unwrap();
        store.save(&session).await.unwrap();
        assert!(store.load(&session.id).await.unwrap().is_none(), "a deleted session stays deleted");
        assert!(store.is_empty());
        let never_created = record(time::Duration::hours(1));
        store.save(&never_created).await.unwrap();
        assert!(store.load(&never_created.id).await.unwrap().is_none(), "saving is no way to create a session");
    }
}
