//! An in-memory L1 in front of a shared session store (Redis, PostgreSQL),
//! so a signed-in request at steady state makes no round trip for its
//! session, while an ended session stays ended on every instance:
//!
//! - load: the L1 copy when there is one (and it is younger than the L1's
//!   time to live and its session has not expired), else one read of the
//!   shared store, kept as the copy;
//! - save and delete: the shared store first (a save still only updates a
//!   session that exists: SES-05), this instance's copy dropped before and
//!   after, then a change notice so every other instance drops its copy;
//! - copies are used only while the change feed listens: when its
//!   connection breaks, every copy is dropped and every load reads the
//!   shared store until it listens again.
//!
//! A copy read from the shared store is kept only if no change was made or
//! heard while it was being read (a generation counter), so a read that
//! raced a sign-out cannot leave the ended session behind in memory. An
//! instance that did not end the session refuses it once the notice
//! arrives: on one network, well under a millisecond after the instance
//! that ended it answered; the time to live bounds the staleness should
//! a notice be lost without the feed noticing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use moka::sync::Cache;
use time::OffsetDateTime;
use tokio::sync::broadcast;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::memory::time_left;
use crate::changes::{ChangeEvent, ChangeFeed};

/// Sizes and lifetimes of the sessions' L1.
#[derive(Debug, Clone, Copy)]
pub struct SessionL1Settings {
    /// Most sessions the L1 holds (least recently used dropped first).
    pub max_sessions: u64,
    /// Longest a copy is used without reading the shared store again.
    pub time_to_live: Duration,
}

/// A shared session store with an L1 in this instance's memory.
pub struct CachedSessionStore {
    shared: Arc<Shared>,
    follower: tokio::task::JoinHandle<()>,
}

/// What the store and the task following the feed share.
struct Shared {
    store: Arc<dyn SessionStore>,
    feed: Arc<dyn ChangeFeed>,
    copies: Cache<Id, Arc<Record>>,
    /// Counts every change made or heard; a copy read before one is not kept.
    generation: AtomicU64,
    /// Whether the feed listens, so the copies can be trusted.
    listening: AtomicBool,
    /// Feed events applied so far.
    events: AtomicU64,
    /// Loads that read the shared store.
    reads: AtomicU64,
    time_to_live: Duration,
}

impl Drop for CachedSessionStore {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl std::fmt::Debug for CachedSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSessionStore")
            .field("copies", &self.shared.copies.entry_count())
            .field("listening", &self.shared.listening.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

/// A copy lives for the L1's time to live, or until its session expires if that is sooner.
struct CopyLifetime(Duration);

impl moka::Expiry<Id, Arc<Record>> for CopyLifetime {
    fn expire_after_create(&self, _id: &Id, record: &Arc<Record>, _created_at: Instant) -> Option<Duration> {
        Some(self.0.min(time_left(record)))
    }
}

impl CachedSessionStore {
    /// `store` (shared by every instance) with an L1 here, told of the other
    /// instances' changes by `feed` (which must carry only this store's
    /// notices). Starts following the feed (needs a Tokio runtime); no copy
    /// is used before the feed first listens.
    pub fn new(store: Arc<dyn SessionStore>, feed: Arc<dyn ChangeFeed>, settings: SessionL1Settings) -> Self {
        let changes = feed.subscribe();
        let copies = Cache::builder().max_capacity(settings.max_sessions).expire_after(CopyLifetime(settings.time_to_live)).build();
        let shared = Arc::new(Shared {
            store,
            feed,
            copies,
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            events: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            time_to_live: settings.time_to_live,
        });
        let follower = tokio::spawn(follow(changes, Arc::downgrade(&shared)));
        Self { shared, follower }
    }

    /// Whether copies are in use now (the change feed listens).
    pub fn is_listening(&self) -> bool {
        self.shared.listening.load(Ordering::SeqCst)
    }

    /// How many change feed events this store has applied.
    pub fn events_applied(&self) -> u64 {
        self.shared.events.load(Ordering::SeqCst)
    }

    /// How many loads read the shared store (the others were served by the L1).
    pub fn store_reads(&self) -> u64 {
        self.shared.reads.load(Ordering::SeqCst)
    }

    /// Sessions the L1 holds now.
    pub fn copies(&self) -> u64 {
        self.shared.copies.run_pending_tasks();
        self.shared.copies.entry_count()
    }
}

impl Shared {
    /// Drops this instance's copy of `id`, and any read of it in flight.
    fn forget(&self, id: &Id) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.copies.invalidate(id);
    }

    /// Drops every copy, and every read in flight.
    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.copies.invalidate_all();
    }

    /// Keeps `record`, read when the generation was `read_at`, unless
    /// something changed since: the check follows the insert, so a change
    /// counted between them (which drops its copy after counting) or before
    /// the check removes it either way.
    fn keep(&self, record: &Record, read_at: u64) {
        if !self.listening.load(Ordering::SeqCst) {
            return;
        }
        self.copies.insert(record.id, Arc::new(record.clone()));
        if self.generation.load(Ordering::SeqCst) != read_at {
            self.copies.invalidate(&record.id);
        }
    }

    /// Tells the other instances that `id` changed. A notice that cannot be
    /// sent (the store just failed) is logged: their copies then last at
    /// most the L1's time to live.
    async fn announce(&self, id: &Id) {
        if let Err(error) = self.feed.publish(&id.to_string()).await {
            tracing::error!(
                error = %crate::telemetry::error_chain(&error),
                seconds = self.time_to_live.as_secs(),
                "a session change could not be announced; other instances may use their copy for up to this many seconds"
            );
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for CachedSessionStore {
    /// In the shared store only: the first load reads it back (a new session
    /// is often saved again at once, as sign-in does).
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.shared.store.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.shared.forget(&record.id);
        let saved = self.shared.store.save(record).await;
        // A load of this instance that read the store before the save landed may have kept the old record.
        self.shared.forget(&record.id);
        saved?;
        self.shared.announce(&record.id).await;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let shared = &self.shared;
        if shared.listening.load(Ordering::SeqCst) {
            if let Some(copy) = shared.copies.get(id).filter(|copy| copy.expiry_date > OffsetDateTime::now_utc()) {
                return Ok(Some(copy.as_ref().clone()));
            }
        }
        let read_at = shared.generation.load(Ordering::SeqCst);
        shared.reads.fetch_add(1, Ordering::Relaxed);
        let loaded = shared.store.load(id).await?;
        if let Some(record) = &loaded {
            shared.keep(record, read_at);
        }
        Ok(loaded)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.shared.forget(id);
        let deleted = self.shared.store.delete(id).await;
        self.shared.forget(id);
        deleted?;
        self.shared.announce(id).await;
        Ok(())
    }
}

/// Applies the other instances' notices to the copies, for the store's life.
async fn follow(mut changes: broadcast::Receiver<ChangeEvent>, shared: Weak<Shared>) {
    loop {
        let event = changes.recv().await;
        let Some(shared) = shared.upgrade() else { return };
        match event {
            Ok(ChangeEvent::Changed(name)) => {
                // A name that is no session id was sent by something else: nothing of ours to drop.
                if let Ok(id) = name.parse::<Id>() {
                    shared.forget(&id);
                }
            }
            Ok(ChangeEvent::Resync) => {
                shared.forget_all();
                shared.listening.store(true, Ordering::SeqCst);
            }
            // Notices dropped in this process: the feed still listens, the copies are suspect.
            Err(broadcast::error::RecvError::Lagged(_)) => shared.forget_all(),
            Ok(ChangeEvent::Interrupted) => {
                shared.listening.store(false, Ordering::SeqCst);
                shared.forget_all();
            }
            Err(broadcast::error::RecvError::Closed) => {
                shared.listening.store(false, Ordering::SeqCst);
                shared.forget_all();
                return;
            }
        }
        shared.events.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use time::OffsetDateTime;
    use tokio::sync::{broadcast, Notify};
    use tower_sessions::session::{Id, Record};
    use tower_sessions::session_store::{self, SessionStore};

    use super::{CachedSessionStore, SessionL1Settings};
    use crate::changes::{ChangeEvent, ChangeFeed};
    use crate::BoundedMemorySessionStore;

    /// A feed the test drives: what this instance published, and what it hears.
    struct TestFeed {
        heard: broadcast::Sender<ChangeEvent>,
        published: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl ChangeFeed for TestFeed {
        async fn publish(&self, name: &str) -> Result<(), crate::StoreError> {
            self.published.lock().unwrap().push(name.to_owned());
            Ok(())
        }

        fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
            self.heard.subscribe()
        }
    }

    /// The shared store, counting loads; a load can be held after it read
    /// the record, until the test lets it go.
    #[derive(Debug)]
    struct SharedStore {
        sessions: BoundedMemorySessionStore,
        loads: AtomicUsize,
        hold: Mutex<Option<Arc<(Notify, Notify)>>>,
    }

    #[async_trait::async_trait]
    impl SessionStore for SharedStore {
        async fn create(&self, record: &mut Record) -> session_store::Result<()> {
            self.sessions.create(record).await
        }
        async fn save(&self, record: &Record) -> session_store::Result<()> {
            self.sessions.save(record).await
        }
        async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            let loaded = self.sessions.load(id).await;
            let hold = self.hold.lock().unwrap().take();
            if let Some(hold) = hold {
                hold.0.notify_one();
                hold.1.notified().await;
            }
            loaded
        }
        async fn delete(&self, id: &Id) -> session_store::Result<()> {
            self.sessions.delete(id).await
        }
    }

    struct Instance {
        store: Arc<CachedSessionStore>,
        shared: Arc<SharedStore>,
        feed: Arc<TestFeed>,
    }

    impl Instance {
        fn new() -> Self {
            let shared = Arc::new(SharedStore { sessions: BoundedMemorySessionStore::new(100), loads: AtomicUsize::new(0), hold: Mutex::new(None) });
            let feed = Arc::new(TestFeed { heard: broadcast::channel(16).0, published: Mutex::new(Vec::new()) });
            let settings = SessionL1Settings { max_sessions: 100, time_to_live: Duration::from_secs(60) };
            let store = Arc::new(CachedSessionStore::new(shared.clone(), feed.clone(), settings));
            Self { store, shared, feed }
        }

        fn loads(&self) -> usize {
            self.shared.loads.load(Ordering::SeqCst)
        }

        /// Sends `event` as if from the store, and waits until the follower applied it.
        async fn hear(&self, event: ChangeEvent) {
            let applied = self.store.events_applied();
            self.feed.heard.send(event).unwrap();
            for _ in 0..1000 {
                if self.store.events_applied() > applied {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("the follower never applied the event");
        }

        async fn new_session(&self) -> Record {
            let mut record = Record {
                id: Id::default(),
                data: HashMap::from([("user".to_owned(), serde_json::json!("adele"))]),
                expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1),
            };
            self.store.create(&mut record).await.unwrap();
            record
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ses_06_copies_serve_only_once_the_feed_listens() {
        let instance = Instance::new();
        let session = instance.new_session().await;
        for _ in 0..3 {
            assert!(instance.store.load(&session.id).await.unwrap().is_some());
        }
        assert_eq!(instance.loads(), 3, "before the feed listens, every load reads the shared store");

        instance.hear(ChangeEvent::Resync).await;
        for _ in 0..100 {
            assert_eq!(instance.store.load(&session.id).await.unwrap().unwrap().data, session.data);
        }
        assert_eq!(instance.loads(), 4, "one read, then copies");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ses_06_a_notice_from_another_instance_drops_the_copy() {
        let instance = Instance::new();
        instance.hear(ChangeEvent::Resync).await;
        let session = instance.new_session().await;
        instance.store.load(&session.id).await.unwrap();
        // Another instance ends the session: the shared store loses it and the notice arrives.
        instance.shared.sessions.delete(&session.id).await.unwrap();
        assert!(instance.store.load(&session.id).await.unwrap().is_some(), "the copy serves until the notice comes");
        instance.hear(ChangeEvent::Changed(session.id.to_string())).await;
        assert!(instance.store.load(&session.id).await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ses_06_while_the_feed_is_interrupted_every_load_reads_the_shared_store() {
        let instance = Instance::new();
        instance.hear(ChangeEvent::Resync).await;
        let session = instance.new_session().await;
        instance.store.load(&session.id).await.unwrap();
        instance.hear(ChangeEvent::Interrupted).await;
        // Ended elsewhere while no notice can arrive.
        instance.shared.sessions.delete(&session.id).await.unwrap();
        assert!(instance.store.load(&session.id).await.unwrap().is_none());
        let session = instance.new_session().await;
        let before = instance.loads();
        instance.store.load(&session.id).await.unwrap();
        instance.store.load(&session.id).await.unwrap();
        assert_eq!(instance.loads(), before + 2);
        instance.hear(ChangeEvent::Resync).await;
        instance.store.load(&session.id).await.unwrap();
        instance.store.load(&session.id).await.unwrap();
        assert_eq!(instance.loads(), before + 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ses_05_a_read_that_raced_a_sign_out_does_not_keep_the_ended_session() {
        let instance = Instance::new();
        instance.hear(ChangeEvent::Resync).await;
        let session = instance.new_session().await;
        let hold = Arc::new((Notify::new(), Notify::new()));
        *instance.shared.hold.lock().unwrap() = Some(hold.clone());
        // A request reads the session; the read is held after the store answered.
        let racing = tokio::spawn({
            let store = instance.store.clone();
            let id = session.id;
            async move { store.load(&id).await.unwrap() }
        });
        hold.0.notified().await;
        // The user signs out on this instance meanwhile.
        instance.store.delete(&session.id).await.unwrap();
        hold.1.notify_one();
        assert!(racing.await.unwrap().is_some(), "the racing read answers what it read");
        assert!(instance.store.load(&session.id).await.unwrap().is_none(), "but did not keep it");
        assert_eq!(instance.feed.published.lock().unwrap().as_slice(), [session.id.to_string()], "the sign-out is announced");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_save_reaches_the_shared_store_and_is_announced() {
        let instance = Instance::new();
        instance.hear(ChangeEvent::Resync).await;
        let mut session = instance.new_session().await;
        instance.store.load(&session.id).await.unwrap();
        session.data.insert("user".into(), serde_json::json!("alex"));
        instance.store.save(&session).await.unwrap();
        assert_eq!(instance.shared.sessions.load(&session.id).await.unwrap().unwrap().data, session.data);
        assert_eq!(instance.store.load(&session.id).await.unwrap().unwrap().data, session.data, "no old copy");
        assert_eq!(instance.feed.published.lock().unwrap().as_slice(), [session.id.to_string()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expired_session_is_not_served_from_a_copy() {
        let instance = Instance::new();
        instance.hear(ChangeEvent::Resync).await;
        let mut record = Record { id: Id::default(), data: HashMap::new(), expiry_date: OffsetDateTime::now_utc() + time::Duration::milliseconds(300) };
        instance.store.create(&mut record).await.unwrap();
        assert!(instance.store.load(&record.id).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(instance.store.load(&record.id).await.unwrap().is_none());
    }
}
