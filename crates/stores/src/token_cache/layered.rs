//! A bounded memory L1 in front of an encrypted shared L2 (Redis,
//! PostgreSQL), and the one place that decides what happens when the L2
//! fails (FLT-03):
//!
//! - read: L1 hit, no L2 call; miss: one L2 read, copied into L1. L2 down:
//!   the L1 copy serves if there is one, else [`StoreError`] (the app shows
//!   "try again shortly" or re-authorizes silently).
//! - write: compare-and-set in L2, then L1, then a change notice so other
//!   instances drop their L1 copy. L2 down: L1 only, and the write is kept
//!   as pending; when the L2 answers again it is written back, folded into
//!   whatever other instances wrote meanwhile (the same merge as a lost race).
//! - remove: L1 at once; while the L2 is down, a pending removal written back
//!   on recovery (only the version this instance knew, so a newer sign-in
//!   elsewhere survives); the entry's time limit ends it otherwise.
//! - an entry that fails authentication is dropped and counted, never used;
//!   one sealed with a key this instance lacks, or written by another version
//!   of idweb, is an error, never dropped (other instances can still read it).
//!
//! An outage is logged once when it starts and once when it ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, Notify};

use super::encryption::{KeyRing, OpenError};
use super::memory::MemoryTokenCache;
use super::merge::merge;
use super::{
    StoreError, CacheTier, ChangeEvent, Etag, PartitionKey, PartitionLock, RecordName, SaveOutcome, SealedEntry, SharedCacheBackend,
    TokenCacheStore, TokenPartition, Versioned,
};
use crate::telemetry;

/// How long a partition lock lasts if its holder never releases it (a
/// crashed instance): longer than a renewal may take (discovery, the token
/// request, a key refetch, the write), so it never lapses under a live holder.
const LOCK_LIFETIME: Duration = Duration::from_secs(90);
/// How often a waiter tries a held lock again when no change notice wakes it.
const LOCK_POLL: Duration = Duration::from_millis(50);
/// While writes are pending, the L2 is tried this often, for at most this long
/// (after that the pending writes are dropped: L2 entries' time limits end them).
const WRITE_BACK_EVERY: Duration = Duration::from_secs(1);
const WRITE_BACK_FOR: Duration = Duration::from_secs(3600);
/// Compare-and-set attempts of one write-back.
const WRITE_BACK_ATTEMPTS: usize = 4;

/// Sizes and lifetimes of the layered store.
#[derive(Debug, Clone, Copy)]
pub struct LayeredSettings {
    /// Most partitions the L1 holds.
    pub l1_max_partitions: u64,
    /// Longest an L1 copy is served without reading L2 again (the bound on
    /// staleness when a change notice is lost).
    pub l1_time_to_live: Duration,
    /// Time limit of each L2 entry, renewed on every read and write.
    pub l2_time_to_live: Duration,
}

/// L1 + L2 token cache.
pub struct LayeredTokenCache {
    inner: Arc<Inner>,
    feed: tokio::task::JoinHandle<()>,
}

/// What the store and its background tasks share.
struct Inner {
    l1: MemoryTokenCache,
    l2: Arc<dyn SharedCacheBackend>,
    keys: Arc<KeyRing>,
    settings: LayeredSettings,
    health: L2Health,
    changed: Notify,
    /// Writes and removals the L2 has not seen (made while it was down).
    pending: Mutex<HashMap<PartitionKey, Pending>>,
    writing_back: AtomicBool,
}

/// A change made while the L2 was down.
struct Pending {
    /// The L2's version this instance last knew (what the change was made from).
    base: Option<Versioned>,
    /// The partition now; `None`: removed.
    ours: Option<TokenPartition>,
}

impl Drop for LayeredTokenCache {
    fn drop(&mut self) {
        self.feed.abort();
    }
}

impl LayeredTokenCache {
    /// The store over `l2`, sealing with `keys`. Starts listening to the
    /// other instances' change notices (needs a Tokio runtime).
    pub fn new(l2: Arc<dyn SharedCacheBackend>, keys: Arc<KeyRing>, settings: LayeredSettings) -> Self {
        let changes = l2.changes();
        let inner = Arc::new(Inner {
            l1: MemoryTokenCache::l1(settings.l1_max_partitions, settings.l1_time_to_live),
            health: L2Health::new(l2.kind()),
            l2,
            keys,
            settings,
            changed: Notify::new(),
            pending: Mutex::new(HashMap::new()),
            writing_back: AtomicBool::new(false),
        });
        let feed = tokio::spawn(follow_changes(changes, Arc::downgrade(&inner)));
        Self { inner, feed }
    }

    /// The L2's outage state.
    pub fn health(&self) -> &L2Health {
        &self.inner.health
    }

    /// How many partitions the L1 holds now.
    pub fn l1_len(&self) -> u64 {
        self.inner.l1.len()
    }

    /// How many changes made during an outage still wait for the L2.
    pub fn pending_writes(&self) -> usize {
        self.inner.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

impl Inner {
    /// Reads `key` from L2 and refreshes the L1 copy.
    async fn read_l2(&self, key: &PartitionKey) -> Result<Option<Versioned>, StoreError> {
        let name = key.storage_name();
        let started = Instant::now();
        let stored = self.l2.get(&name, self.settings.l2_time_to_live).await;
        telemetry::l2_latency("get", started.elapsed());
        let Some(entry) = self.health.observe(stored)? else {
            self.l1.remove_partition(key);
            return Ok(None);
        };
        match self.open(&name, &entry) {
            Ok(partition) => {
                let versioned = Versioned { partition, etag: entry.etag, tier: CacheTier::Shared };
                self.l1.put(key.clone(), Versioned { tier: CacheTier::Local, ..versioned.clone() });
                Ok(Some(versioned))
            }
            Err(OpenFailure::UnknownKey(key_id)) => Err(StoreError::UnknownKey { key_id, etag: entry.etag }),
            Err(OpenFailure::Undecodable(error)) => Err(StoreError::Undecodable {
                category: match error.classify() {
                    serde_json::error::Category::Io => "io",
                    serde_json::error::Category::Syntax => "syntax",
                    serde_json::error::Category::Data => "data",
                    serde_json::error::Category::Eof => "eof",
                },
                line: error.line(),
                column: error.column(),
                etag: entry.etag,
            }),
            Err(OpenFailure::Unusable(reason)) => {
                // Never trusted; dropped only if nobody replaced it meanwhile.
                telemetry::decrypt_failure();
                tracing::warn!(partition = %name, %reason, "token cache entry failed authentication; dropped");
                if let Err(error) = self.l2.delete_if(&name, entry.etag).await {
                    tracing::debug!(%error, "could not drop the unusable entry; its time limit will");
                }
                self.l1.remove_partition(key);
                Ok(None)
            }
        }
    }

    fn open(&self, name: &str, entry: &SealedEntry) -> Result<TokenPartition, OpenFailure> {
        let plaintext = self.keys.open(name, entry.etag.0, &entry.bytes).map_err(|error| match error {
            OpenError::UnknownKey(key_id) => OpenFailure::UnknownKey(key_id),
            other => OpenFailure::Unusable(other.to_string()),
        })?;
        // Authentic but unreadable: another version of idweb wrote it. Kept, and
        // serde's message never logged (it can quote a token).
        serde_json::from_slice(&plaintext).map_err(OpenFailure::Undecodable)
    }

    /// Seals and writes `partition` over version `expected`; the new version if written.
    async fn write(&self, key: &PartitionKey, partition: &TokenPartition, expected: Option<Etag>) -> Result<Option<Etag>, StoreError> {
        let name = key.storage_name();
        let etag = Etag::random();
        let plaintext = serde_json::to_vec(partition).map_err(StoreError::Encoding)?;
        let entry = SealedEntry { etag, bytes: self.keys.seal(&name, etag.0, &plaintext).map_err(|_| StoreError::Seal)? };
        let started = Instant::now();
        let written = self.l2.put(&name, expected, &entry, self.settings.l2_time_to_live).await;
        telemetry::l2_latency("put", started.elapsed());
        if self.health.observe(written)? {
            self.l1.put(key.clone(), Versioned { partition: partition.clone(), etag, tier: CacheTier::Local });
            self.publish(&name).await;
            Ok(Some(etag))
        } else {
            self.l1.remove_partition(key);
            Ok(None)
        }
    }

    async fn publish(&self, name: &str) {
        if let Err(error) = self.l2.publish_change(name).await {
            // The others' copies then live out their L1 time to live.
            self.health.observe::<()>(Err(error)).ok();
        }
    }

    /// Remembers a change the L2 could not take; `ours` `None` is a removal.
    fn keep_pending(self: &Arc<Self>, key: &PartitionKey, base_copy: Option<Arc<Versioned>>, ours: Option<TokenPartition>) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // The first change of an outage starts from the L2 version this instance last read.
            let entry = pending.entry(key.clone()).or_insert_with(|| Pending { base: base_copy.map(|copy| copy.as_ref().clone()), ours: None });
            entry.ours = ours;
        }
        if !self.writing_back.swap(true, Ordering::SeqCst) {
            tokio::spawn(write_back(self.clone()));
        }
    }

    /// Writes one pending change back; `Err` (an outage) keeps it pending.
    async fn write_back_one(&self, key: &PartitionKey, pending: Pending) -> Result<(), StoreError> {
        let name = key.storage_name();
        let Some(mut ours) = pending.ours else {
            let deleted = match &pending.base {
                Some(base) => self.l2.delete_if(&name, base.etag).await,
                None => self.l2.delete(&name).await,
            };
            self.health.observe(deleted)?;
            self.publish(&name).await;
            return Ok(());
        };
        let mut base = pending.base.map(|base| base.partition);
        for _ in 0..WRITE_BACK_ATTEMPTS {
            let latest = match self.read_l2(key).await {
                Ok(latest) => latest,
                Err(error) if error.is_outage() => return Err(error),
                // Unreadable here: the instances that can read it own it now.
                Err(_) => return Ok(()),
            };
            let Some(merged) = merge(base.as_ref(), &ours, latest.as_ref().map(|stored| &stored.partition)) else {
                return Ok(());
            };
            if self.write(key, &merged, latest.as_ref().map(|stored| stored.etag)).await?.is_some() {
                return Ok(());
            }
            base = latest.map(|stored| stored.partition);
            ours = merged;
        }
        tracing::warn!(partition = %name, "a change made during the outage kept losing races; the others' version stays");
        Ok(())
    }
}

enum OpenFailure {
    UnknownKey(String),
    Undecodable(serde_json::Error),
    Unusable(String),
}

#[async_trait::async_trait]
impl TokenCacheStore for LayeredTokenCache {
    async fn load(&self, key: &PartitionKey) -> Result<Option<Versioned>, StoreError> {
        if let Some(local) = self.inner.l1.get(key) {
            return Ok(Some(local.as_ref().clone()));
        }
        self.inner.read_l2(key).await
    }

    async fn load_latest(&self, key: &PartitionKey) -> Result<Option<Versioned>, StoreError> {
        match self.inner.read_l2(key).await {
            Err(error) if error.is_outage() => match self.inner.l1.get(key) {
                // Degraded: this instance's copy is the best there is.
                Some(local) => Ok(Some(local.as_ref().clone())),
                None => Err(error),
            },
            other => other,
        }
    }

    async fn save(&self, key: &PartitionKey, partition: &TokenPartition, expected: Option<Etag>) -> Result<SaveOutcome, StoreError> {
        match self.inner.write(key, partition, expected).await {
            Ok(Some(etag)) => Ok(SaveOutcome::Saved(etag)),
            Ok(None) => Ok(SaveOutcome::Conflict),
            Err(error) if error.is_outage() => {
                let before = self.inner.l1.get(key);
                let etag = Etag::random();
                self.inner.l1.put(key.clone(), Versioned { partition: partition.clone(), etag, tier: CacheTier::Local });
                self.inner.keep_pending(key, before, Some(partition.clone()));
                Ok(SaveOutcome::Saved(etag))
            }
            Err(error) => Err(error),
        }
    }

    async fn remove(&self, key: &PartitionKey) -> Result<bool, StoreError> {
        let name = key.storage_name();
        let before = self.inner.l1.get(key);
        let in_l1 = self.inner.l1.remove_partition(key);
        match self.inner.health.observe(self.inner.l2.delete(&name).await) {
            Ok(in_l2) => {
                self.inner.publish(&name).await;
                Ok(in_l1 || in_l2)
            }
            Err(error) if error.is_outage() => {
                tracing::warn!(partition = %name, "token cache store unavailable: the removal is written back when it answers");
                self.inner.keep_pending(key, before, None);
                Ok(in_l1)
            }
            Err(error) => Err(error),
        }
    }

    async fn load_record(&self, name: &RecordName, ttl: Duration) -> Result<Option<(Vec<u8>, Etag)>, StoreError> {
        let stored = self.inner.health.observe(self.inner.l2.get(name.as_str(), ttl).await)?;
        let Some(entry) = stored else { return Ok(None) };
        match self.inner.keys.open(name.as_str(), entry.etag.0, &entry.bytes) {
            Ok(bytes) => Ok(Some((bytes, entry.etag))),
            Err(OpenError::UnknownKey(key_id)) => Err(StoreError::UnknownKey { key_id, etag: entry.etag }),
            Err(error) => {
                telemetry::decrypt_failure();
                tracing::warn!(record = %name.as_str(), error = ?error, "a record failed authentication; treated as absent");
                Ok(None)
            }
        }
    }

    async fn save_record(&self, name: &RecordName, bytes: &[u8], expected: Option<Etag>, ttl: Duration) -> Result<bool, StoreError> {
        let etag = Etag::random();
        let entry = SealedEntry { etag, bytes: self.inner.keys.seal(name.as_str(), etag.0, bytes).map_err(|_| StoreError::Seal)? };
        self.inner.health.observe(self.inner.l2.put(name.as_str(), expected, &entry, ttl).await)
    }

    async fn remove_record(&self, name: &RecordName) -> Result<bool, StoreError> {
        self.inner.health.observe(self.inner.l2.delete(name.as_str()).await)
    }

    async fn lock(&self, key: &PartitionKey, wait: Duration) -> Result<Option<PartitionLock>, StoreError> {
        let name = key.storage_name();
        let owner = format!("{:032x}", rand::random::<u128>());
        let deadline = Instant::now() + wait;
        loop {
            // Registered before trying, so a release between the try and the wait is not missed.
            let notified = self.inner.changed.notified();
            match self.inner.health.observe(self.inner.l2.try_lock(&name, &owner, LOCK_LIFETIME).await) {
                Ok(true) => {
                    let l2 = self.inner.l2.clone();
                    return Ok(Some(PartitionLock::new(move || {
                        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                            runtime.spawn(async move { l2.unlock(&name, &owner).await });
                        }
                    })));
                }
                Ok(false) => {}
                // No lock to be had: go on; compare-and-set still guards the write.
                Err(error) if error.is_outage() => return Ok(None),
                Err(error) => return Err(error),
            }
            let now = Instant::now();
            if now >= deadline {
                tracing::warn!(partition = %name, "another instance held the token lock too long; going on without it");
                return Ok(None);
            }
            let _ = tokio::time::timeout(LOCK_POLL.min(deadline - now), notified).await;
        }
    }

    async fn partition_count(&self) -> Result<u64, StoreError> {
        self.inner.l2.count().await
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        self.inner.health.observe(self.inner.l2.ping().await)
    }
}

/// Drops L1 copies other instances changed, and wakes lock waiters; ends
/// with the store.
async fn follow_changes(mut feed: broadcast::Receiver<ChangeEvent>, inner: std::sync::Weak<Inner>) {
    loop {
        let event = feed.recv().await;
        let Some(inner) = inner.upgrade() else { return };
        match event {
            Ok(ChangeEvent::Changed(name)) => {
                if let Some(key) = PartitionKey::from_storage_name(&name) {
                    if inner.l1.remove_partition(&key) {
                        telemetry::l1_invalidation();
                    }
                }
            }
            // The L2 is out of reach: its copies keep serving (FLT-03), the
            // Resync on reconnection clears them, the L1's time limit bounds them.
            Ok(ChangeEvent::Interrupted) => {}
            Ok(ChangeEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                // Notices may have been missed: no L1 copy can be trusted
                // (changes pending for the L2 are kept apart and survive this).
                inner.l1.clear();
                telemetry::l1_invalidation();
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
        inner.changed.notify_waiters();
    }
}

/// Writes the changes made during an outage back once the L2 answers.
async fn write_back(inner: Arc<Inner>) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(WRITE_BACK_EVERY).await;
        let batch: Vec<(PartitionKey, Pending)> = {
            let mut pending = inner.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            pending.drain().collect()
        };
        let mut kept = Vec::new();
        let mut down = false;
        for (key, change) in batch {
            if down {
                kept.push((key, change));
                continue;
            }
            let retained = Pending { base: change.base.clone(), ours: change.ours.clone() };
            if let Err(error) = inner.write_back_one(&key, change).await {
                if error.is_outage() {
                    down = true;
                    kept.push((key, retained));
                } else {
                    tracing::warn!(error = %telemetry::error_chain(&error), "a change made during the outage could not be written back");
                }
            }
        }
        let mut pending = inner.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (key, change) in kept {
            // A newer change of the same partition made meanwhile wins; it keeps the first base.
            pending.entry(key).or_insert(change);
        }
        if pending.is_empty() {
            inner.writing_back.store(false, Ordering::SeqCst);
            tracing::info!("changes made during the token cache outage are written back");
            return;
        }
        if started.elapsed() > WRITE_BACK_FOR {
            tracing::warn!(partitions = pending.len(), "changes made during the outage were never written back; the entries' time limits end them");
            pending.clear();
            inner.writing_back.store(false, Ordering::SeqCst);
            return;
        }
    }
}

/// Whether the L2 is answering, with one log line per outage.
pub struct L2Health {
    kind: &'static str,
    outage: crate::outage::OutageLog,
}

impl L2Health {
    fn new(kind: &'static str) -> Self {
        Self { kind, outage: crate::outage::OutageLog::new("token cache store", kind) }
    }

    /// Whether the last call failed as an outage.
    pub fn is_down(&self) -> bool {
        self.outage.is_down()
    }

    /// Passes `result` through, noting an outage start or end.
    fn observe<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match &result {
            Err(error) if error.is_outage() => {
                telemetry::l2_error(self.kind);
                self.outage.failed(error);
            }
            _ => self.outage.answered(),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicBool;

    use base64::Engine as _;

    use super::*;
    use crate::token_cache::encryption::EncryptionKey;
    use crate::HomeAccountId;

    /// An L2 in memory that can be switched off like a Redis that stopped.
    #[derive(Default)]
    struct SwitchableBackend {
        entries: Mutex<HashMap<String, SealedEntry>>,
        down: AtomicBool,
        changes: Mutex<Option<broadcast::Sender<ChangeEvent>>>,
    }

    impl SwitchableBackend {
        fn check(&self) -> Result<(), StoreError> {
            if self.down.load(Ordering::SeqCst) {
                Err(StoreError::TimedOut { store: "fake", timeout: Duration::from_millis(1) })
            } else {
                Ok(())
            }
        }
    }

    #[async_trait::async_trait]
    impl SharedCacheBackend for SwitchableBackend {
        fn kind(&self) -> &'static str {
            "fake"
        }
        async fn get(&self, name: &str, _ttl: Duration) -> Result<Option<SealedEntry>, StoreError> {
            self.check()?;
            Ok(self.entries.lock().unwrap().get(name).cloned())
        }
        async fn put(&self, name: &str, expected: Option<Etag>, entry: &SealedEntry, _ttl: Duration) -> Result<bool, StoreError> {
            self.check()?;
            let mut entries = self.entries.lock().unwrap();
            if entries.get(name).map(|stored| stored.etag) != expected {
                return Ok(false);
            }
            entries.insert(name.to_owned(), entry.clone());
            Ok(true)
        }
        async fn delete(&self, name: &str) -> Result<bool, StoreError> {
            self.check()?;
            Ok(self.entries.lock().unwrap().remove(name).is_some())
        }
        async fn delete_if(&self, name: &str, etag: Etag) -> Result<bool, StoreError> {
            self.check()?;
            let mut entries = self.entries.lock().unwrap();
            let matches = entries.get(name).is_some_and(|stored| stored.etag == etag);
            if matches {
                entries.remove(name);
            }
            Ok(matches)
        }
        async fn try_lock(&self, _name: &str, _owner: &str, _ttl: Duration) -> Result<bool, StoreError> {
            self.check().map(|()| true)
        }
        async fn unlock(&self, _name: &str, _owner: &str) -> Result<(), StoreError> {
            self.check()
        }
        async fn publish_change(&self, _name: &str) -> Result<(), StoreError> {
            self.check()
        }
        fn changes(&self) -> broadcast::Receiver<ChangeEvent> {
            let mut sender = self.changes.lock().unwrap();
            sender.get_or_insert_with(|| broadcast::channel(16).0).subscribe()
        }
        async fn count(&self) -> Result<u64, StoreError> {
            self.check()?;
            Ok(self.entries.lock().unwrap().len() as u64)
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.check()
        }
    }

    fn layered(backend: Arc<SwitchableBackend>) -> LayeredTokenCache {
        let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let ring = KeyRing::new(vec![EncryptionKey::from_base64("k", &key).unwrap()]).unwrap();
        let settings = LayeredSettings {
            l1_max_partitions: 100,
            l1_time_to_live: Duration::from_secs(60),
            l2_time_to_live: Duration::from_secs(60),
        };
        LayeredTokenCache::new(backend, Arc::new(ring), settings)
    }

    fn user(name: &str) -> PartitionKey {
        PartitionKey::User(HomeAccountId::new(name, "tid"))
    }

    /// Log lines written while `work` runs (this thread's subscriber only).
    async fn logged<F: std::future::Future<Output = ()>>(work: F) -> String {
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        work.await;
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[tokio::test]
    async fn flt_03_an_outage_serves_l1_copies_fails_misses_at_once_and_is_logged_once() {
        let backend = Arc::new(SwitchableBackend::default());
        let cache = layered(backend.clone());
        let (adele, alex) = (user("adele"), user("alex"));
        let SaveOutcome::Saved(etag) = cache.save(&adele, &TokenPartition::default(), None).await.unwrap() else { panic!("saved") };
        backend.down.store(true, Ordering::SeqCst);

        let log = logged(async {
            for _ in 0..10 {
                assert_eq!(cache.load(&adele).await.unwrap().unwrap().etag, etag, "the L1 copy serves");
                assert_eq!(cache.load_latest(&adele).await.unwrap().unwrap().etag, etag, "a renewal can start from it");
                assert!(cache.load(&alex).await.unwrap_err().is_outage(), "a miss is an outage error");
            }
            assert!(cache.health().is_down());
            backend.down.store(false, Ordering::SeqCst);
            assert!(cache.load(&alex).await.unwrap().is_none());
            // The outage is declared over after a quiet spell with no failure.
            tokio::time::sleep(Duration::from_millis(2100)).await;
            assert!(cache.load(&alex).await.unwrap().is_none());
            assert!(!cache.health().is_down());
        })
        .await;
        assert_eq!(log.matches("token cache store unavailable").count(), 1, "one warning per outage: {log}");
        assert_eq!(log.matches("answering again").count(), 1, "one line when it ends: {log}");
    }

    /// Waits (boundedly) until the changes made during the outage reached the L2.
    async fn until_written_back(cache: &LayeredTokenCache) {
        for _ in 0..100 {
            if cache.pending_writes() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the pending changes were never written back");
    }

    fn consented(refresh: &str, generation: u64) -> TokenPartition {
        TokenPartition {
            refresh_token: Some(openidconnect::RefreshToken::new(refresh.into())),
            grant_generation: generation,
            ..Default::default()
        }
    }

    fn refresh_of(stored: &Versioned) -> String {
        stored.partition.refresh_token.as_ref().map(|token| token.secret().clone()).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_change_made_during_an_outage_is_written_back_when_the_store_returns() {
        let backend = Arc::new(SwitchableBackend::default());
        let cache = layered(backend.clone());
        let adele = user("adele");
        let SaveOutcome::Saved(first) = cache.save(&adele, &consented("rt-1", 1), None).await.unwrap() else { panic!("saved") };
        backend.down.store(true, Ordering::SeqCst);
        // Consent given during the outage: a newer grant, held in L1 only.
        assert!(matches!(cache.save(&adele, &consented("rt-consented", 2), Some(first)).await.unwrap(), SaveOutcome::Saved(_)));
        assert_eq!(refresh_of(&cache.load(&adele).await.unwrap().unwrap()), "rt-consented", "served from L1");
        assert_eq!(cache.pending_writes(), 1);

        // Meanwhile another instance renewed the old grant in the L2.
        backend.down.store(false, Ordering::SeqCst);
        let other = layered(backend.clone());
        let stored = other.load_latest(&adele).await.unwrap().unwrap();
        other.save(&adele, &consented("rt-1-rotated", 1), Some(stored.etag)).await.unwrap();

        until_written_back(&cache).await;
        let latest = other.load_latest(&adele).await.unwrap().unwrap();
        assert_eq!(refresh_of(&latest), "rt-consented", "the newer grant reached the L2, folded over the other's write");
    }

    #[tokio::test]
    async fn a_sign_out_during_an_outage_removes_only_the_version_this_instance_knew() {
        let backend = Arc::new(SwitchableBackend::default());
        let cache = layered(backend.clone());
        let (adele, alex) = (user("adele"), user("alex"));
        cache.save(&adele, &consented("rt-adele", 1), None).await.unwrap();
        cache.save(&alex, &consented("rt-alex", 1), None).await.unwrap();
        backend.down.store(true, Ordering::SeqCst);
        assert!(cache.remove(&adele).await.unwrap(), "sign-out succeeds during the outage");
        assert!(cache.remove(&alex).await.unwrap());
        assert!(cache.load(&adele).await.is_err(), "this instance no longer serves the copy");

        // Alex signs in again on another instance before the store comes back to this one.
        backend.down.store(false, Ordering::SeqCst);
        let other = layered(backend.clone());
        let stored = other.load_latest(&alex).await.unwrap().unwrap();
        other.save(&alex, &consented("rt-alex-new", 2), Some(stored.etag)).await.unwrap();

        until_written_back(&cache).await;
        assert!(other.load_latest(&adele).await.unwrap().is_none(), "Adele's removal reached the L2");
        assert_eq!(refresh_of(&other.load_latest(&alex).await.unwrap().unwrap()), "rt-alex-new", "Alex's new sign-in survives");
    }

    #[tokio::test]
    async fn an_entry_that_fails_authentication_is_dropped_but_one_under_an_unknown_key_is_kept() {
        let backend = Arc::new(SwitchableBackend::default());
        let writer = layered(backend.clone());
        let adele = user("adele");
        writer.save(&adele, &TokenPartition::default(), None).await.unwrap();
        let name = adele.storage_name();
        if let Some(byte) = backend.entries.lock().unwrap().get_mut(&name).unwrap().bytes.last_mut() {
            *byte ^= 1;
        }
        let reader = layered(backend.clone());
        assert!(reader.load(&adele).await.unwrap().is_none(), "never trusted");
        assert!(backend.entries.lock().unwrap().is_empty(), "dropped");

        writer.save(&adele, &TokenPartition::default(), None).await.unwrap();
        let other_ring = KeyRing::new(vec![EncryptionKey::from_base64("other", &base64::engine::general_purpose::STANDARD.encode([1u8; 32])).unwrap()]).unwrap();
        let stranger = LayeredTokenCache::new(backend.clone(), Arc::new(other_ring), writer.inner.settings);
        assert!(matches!(stranger.load(&adele).await, Err(StoreError::UnknownKey { .. })));
        assert_eq!(backend.entries.lock().unwrap().len(), 1, "kept for the instances that hold the key");
    }
}
