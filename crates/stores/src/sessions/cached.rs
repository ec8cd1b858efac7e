//! An in-memory L1 in front of a shared session store (Redis, PostgreSQL),
//! so a signed-in request at steady state makes no round trip for its
//! session, while an ended session stays ended on every instance (SES-06):
//!
//! - load: the L1 copy when there is one (read in the change feed's current
//!   listening epoch, younger than the L1's time to live, its session not
//!   expired), else one read of the shared store, kept as the copy;
//! - save and delete: the shared store, which announces the change in the
//!   same script or statement (so neither happens without the other), with
//!   this instance's copy dropped before and after; the whole runs to its
//!   end even if the request that asked for it goes away;
//! - copies are used only while the feed listens ([`FeedState`]: its own
//!   probes come back through the store); when it stops (its connection
//!   broke, or a probe is late: a connection that died without a word),
//!   no copy made before is used again.
//!
//! A copy read from the shared store is kept only if no change was made or
//! heard here while it was being read (a generation counter) and the feed
//! stayed in the same epoch, so a read that raced a sign-out cannot leave
//! the ended session behind. Another instance refuses an ended session
//! once the notice arrives (on one network, well under a millisecond after
//! the instance that ended it answered), and within the probe deadline
//! should its feed go deaf; the time to live bounds anything else.
//!
//! Notices and copies are keyed by a digest of the session id: the feed,
//! which anyone allowed to subscribe to it can read, carries no session id.

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use moka::sync::Cache;
use time::OffsetDateTime;
use tokio::sync::broadcast;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::memory::time_left;
use crate::changes::{session_digest, session_notice_digest, ChangeEvent, ChangeFeed, FeedState};

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
    /// The feed, kept alive as long as its copies are used.
    feed: Option<Box<dyn ChangeFeed>>,
}

/// A session as read from the shared store, and the feed's state then.
struct Copy {
    record: Record,
    feed_state: u64,
}

type Digest = [u8; 32];

/// What the store and the task following the feed share.
struct Shared {
    /// The shared store; it announces its own saves and deletes.
    store: Arc<dyn SessionStore>,
    feed: FeedState,
    copies: Cache<Digest, Arc<Copy>>,
    /// Counts every change made or heard here; a copy read before one is not kept.
    generation: AtomicU64,
    /// Feed events applied so far.
    events: AtomicU64,
    /// Loads that read the shared store.
    reads: AtomicU64,
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
            .field("listening", &self.is_listening())
            .finish_non_exhaustive()
    }
}

/// A copy lives for the L1's time to live, or until its session expires if that is sooner.
struct CopyLifetime(Duration);

impl moka::Expiry<Digest, Arc<Copy>> for CopyLifetime {
    fn expire_after_create(&self, _digest: &Digest, copy: &Arc<Copy>, _created_at: Instant) -> Option<Duration> {
        Some(self.0.min(time_left(&copy.record)))
    }
}

impl CachedSessionStore {
    /// `store` (shared by every instance, announcing its saves and deletes
    /// on the feed) with an L1 here; `changes` and `feed` are that feed's
    /// notices and state. Starts following the notices (needs a Tokio
    /// runtime); no copy is used while the feed does not listen.
    pub fn new(store: Arc<dyn SessionStore>, changes: broadcast::Receiver<ChangeEvent>, feed: FeedState, settings: SessionL1Settings) -> Self {
        let copies = Cache::builder().max_capacity(settings.max_sessions).expire_after(CopyLifetime(settings.time_to_live)).build();
        let shared = Arc::new(Shared {
            store,
            feed,
            copies,
            generation: AtomicU64::new(0),
            events: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        });
        let follower = tokio::spawn(follow(changes, Arc::downgrade(&shared)));
        Self { shared, follower, feed: None }
    }

    /// The same store, owning `feed` (which stops when dropped).
    pub fn keeping(mut self, feed: impl ChangeFeed) -> Self {
        self.feed = Some(Box::new(feed));
        self
    }

    /// Whether copies can be used now (the change feed listens).
    pub fn is_listening(&self) -> bool {
        FeedState::listening(self.shared.feed.now())
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
    /// Drops this instance's copy of the session `digest` names, and any read of it in flight.
    fn forget(&self, digest: &Digest) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.copies.invalidate(digest);
    }

    /// Drops every copy, and every read in flight.
    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.copies.invalidate_all();
    }

    /// Keeps `record`, read when the generation was `read_at` and the feed
    /// in state `feed_state`, unless something changed since: the check
    /// follows the insert, so a change counted between them (which drops
    /// its copy after counting) or before the check removes it either way.
    fn keep(&self, digest: Digest, record: &Record, read_at: u64, feed_state: u64) {
        if !FeedState::listening(feed_state) {
            return;
        }
        self.copies.insert(digest, Arc::new(Copy { record: record.clone(), feed_state }));
        fence(Ordering::SeqCst);
        if self.generation.load(Ordering::SeqCst) != read_at || self.feed.now() != feed_state {
            self.copies.invalidate(&digest);
        }
    }

    /// Saves or deletes through the store, copies dropped before and after.
    async fn change(self: Arc<Self>, digest: Digest, change: Change) -> session_store::Result<()> {
        self.forget(&digest);
        let changed = match &change {
            Change::Save(record) => self.store.save(record).await,
            Change::Delete(id) => self.store.delete(id).await,
        };
        // A load here that read the store before the change landed may have kept the old record.
        self.forget(&digest);
        changed
    }
}

/// A change to a session.
enum Change {
    Save(Box<Record>),
    Delete(Id),
}

impl CachedSessionStore {
    /// Runs `change` in a task of its own: a request that goes away while
    /// it runs (a client that left, a shutdown) cannot stop it between the
    /// store's write and the copies being dropped.
    async fn run(&self, digest: Digest, change: Change) -> session_store::Result<()> {
        let shared = self.shared.clone();
        match tokio::spawn(shared.change(digest, change)).await {
            Ok(changed) => changed,
            Err(error) => Err(session_store::Error::Backend(format!("the session change did not finish: {error}"))),
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
        self.run(session_digest(&record.id.to_string()), Change::Save(Box::new(record.clone()))).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let shared = &self.shared;
        let digest = session_digest(&id.to_string());
        let feed_state = shared.feed.now();
        if FeedState::listening(feed_state) {
            let copy = shared.copies.get(&digest).filter(|copy| copy.feed_state == feed_state && copy.record.id == *id);
            if let Some(copy) = copy.filter(|copy| copy.record.expiry_date > OffsetDateTime::now_utc()) {
                return Ok(Some(copy.record.clone()));
            }
        }
        let read_at = shared.generation.load(Ordering::SeqCst);
        shared.reads.fetch_add(1, Ordering::Relaxed);
        let loaded = shared.store.load(id).await?;
        if let Some(record) = loaded.as_ref().filter(|record| record.id == *id) {
            shared.keep(digest, record, read_at, feed_state);
        }
        Ok(loaded)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.run(session_digest(&id.to_string()), Change::Delete(*id)).await
    }
}

/// Applies the notices to the copies, for the store's life.
async fn follow(mut changes: broadcast::Receiver<ChangeEvent>, shared: Weak<Shared>) {
    loop {
        let event = changes.recv().await;
        let Some(shared) = shared.upgrade() else { return };
        match event {
            // Any other name was sent by something else: nothing of ours to drop.
            Ok(ChangeEvent::Changed(name)) => {
                if let Some(digest) = session_notice_digest(&name) {
                    shared.forget(&digest);
                }
            }
            // The feed's own state says whether copies may be used; these only clear them.
            Ok(ChangeEvent::Resync | ChangeEvent::Interrupted) | Err(broadcast::error::RecvError::Lagged(_)) => shared.forget_all(),
            Err(broadcast::error::RecvError::Closed) => {
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
    use crate::changes::{session_notice_name, ChangeEvent, FeedState};
    use crate::BoundedMemorySessionStore;

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
        events: broadcast::Sender<ChangeEvent>,
        feed: FeedState,
    }

    impl Instance {
        fn new() -> Self {
            let shared = Arc::new(SharedStore { sessions: BoundedMemorySessionStore::new(100), loads: AtomicUsize::new(0), hold: Mutex::new(None) });
            let events = broadcast::channel(16).0;
            let feed = FeedState::default();
            let settings = SessionL1Settings { max_sessions: 100, time_to_live: Duration::from_secs(60) };
            let store = Arc::new(CachedSessionStore::new(shared.clone(), events.subscribe(), feed.clone(), settings));
            Self { store, shared, events, feed }
        }

        fn loads(&self) -> usize {
            self.shared.loads.load(Ordering::SeqCst)
        }

        /// The feed's state moves as `event` says, then the event reaches the follower.
        async fn hear(&self, event: ChangeEvent) {
            match event {
                ChangeEvent::Resync => self.feed.listen(),
                ChangeEvent::Interrupted => self.feed.stop(),
                ChangeEvent::Changed(_) => {}
            }
            let applied = self.store.events_applied();
            self.events.send(event).unwrap();
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
        instance.hear(ChangeEvent::Changed(session_notice_name(&session.id.to_string()))).await;
        assert!(instance.store.load(&session.id).await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ses_06_no_copy_is_used_once_the_feed_stops_listening_even_before_the_follower_hears_it() {
        let instance = Instance::new();
        instance.hear(ChangeEvent::Resync).await;
        let session = instance.new_session().await;
        instance.store.load(&session.id).await.unwrap();
        // The feed stops; its event has not reached the follower (it may never: a lagging follower loses events).
        instance.feed.stop();
        instance.shared.sessions.delete(&session.id).await.unwrap();
        assert!(instance.store.load(&session.id).await.unwrap().is_none());
        let session = instance.new_session().await;
        let before = instance.loads();
        instance.store.load(&session.id).await.unwrap();
        instance.store.load(&session.id).await.unwrap();
        assert_eq!(instance.loads(), before + 2, "every load reads the store");
        // Listening again is a new epoch: copies from before it are not used.
        instance.hear(ChangeEvent::Resync).await;
        instance.store.load(&session.id).await.unwrap();
        instance.store.load(&session.id).await.unwrap();
        assert_eq!(instance.loads(), before + 3);
        instance.feed.skip();
        instance.store.load(&session.id).await.unwrap();
        assert_eq!(instance.loads(), before + 4, "notices missed while listening: a new epoch, the copy is not used");
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
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ses_06_a_sign_out_whose_request_goes_away_still_finishes() {
        let instance = Instance::new();
        instance.hear(ChangeEvent::Resync).await;
        let session = instance.new_session().await;
        instance.store.load(&session.id).await.unwrap();
        // The request is dropped as soon as its delete has started.
        let deleting = instance.store.delete(&session.id);
        let _ = tokio::time::timeout(Duration::ZERO, deleting).await;
        for _ in 0..200 {
            if instance.shared.sessions.load(&session.id).await.unwrap().is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(instance.shared.sessions.load(&session.id).await.unwrap().is_none(), "the delete ran to its end");
        assert!(instance.store.load(&session.id).await.unwrap().is_none(), "and left no copy");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_save_reaches_the_shared_store_and_leaves_no_old_copy() {
        let instance = Instance::new();
        instance.hear(ChangeEvent::Resync).await;
        let mut session = instance.new_session().await;
        instance.store.load(&session.id).await.unwrap();
        session.data.insert("user".into(), serde_json::json!("alex"));
        instance.store.save(&session).await.unwrap();
        assert_eq!(instance.shared.sessions.load(&session.id).await.unwrap().unwrap().data, session.data);
        assert_eq!(instance.store.load(&session.id).await.unwrap().unwrap().data, session.data, "no old copy");
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
