//! A bounded memory L1 in front of an encrypted shared L2 (Redis,
//! PostgreSQL), and the one place that decides what happens when the L2
//! fails (FLT-03):
//!
//! - read: L1 hit, no L2 call; miss: one L2 read, copied into L1. L2 down:
//!   the L1 copy serves if there is one, else [`CacheError`] (the app shows
//!   "try again shortly" or re-authorizes silently).
//! - write: compare-and-set in L2, then L1, then a change notice so other
//!   instances drop their L1 copy. L2 down: L1 only (this instance keeps
//!   working; the write reaches L2 on the next change after recovery).
//! - remove: L1 at once; L2 retried in the background while it is down (the
//!   entry's time limit ends it otherwise).
//! - an entry that fails authentication is dropped and counted, never used;
//!   one sealed with a key this instance lacks is an error, never dropped
//!   (another instance with the right key ring can still read it).
//!
//! An outage is logged once when it starts and once when it ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, Notify};

use super::encryption::{KeyRing, OpenError};
use super::memory::MemoryTokenCache;
use super::{
    CacheError, CacheTier, ChangeEvent, Etag, PartitionKey, PartitionLock, SaveOutcome, SealedEntry, SharedCacheBackend,
    TokenCacheStore, TokenPartition, Versioned,
};
use crate::telemetry;

/// How long a partition lock lasts if its holder never releases it (a
/// crashed instance): longer than one token request may take.
const LOCK_LIFETIME: Duration = Duration::from_secs(30);
/// How often a waiter tries a held lock again when no change notice wakes it.
const LOCK_POLL: Duration = Duration::from_millis(50);
/// A removal that failed during an outage is retried this often, this many times.
const PURGE_RETRY_EVERY: Duration = Duration::from_secs(5);
const PURGE_RETRIES: u32 = 120;

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
    l1: Arc<MemoryTokenCache>,
    l2: Arc<dyn SharedCacheBackend>,
    keys: Arc<KeyRing>,
    settings: LayeredSettings,
    health: Arc<L2Health>,
    changed: Arc<Notify>,
    feed: tokio::task::JoinHandle<()>,
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
        let l1 = Arc::new(MemoryTokenCache::l1(settings.l1_max_partitions, settings.l1_time_to_live));
        let changed = Arc::new(Notify::new());
        let feed = tokio::spawn(follow_changes(l2.changes(), l1.clone(), changed.clone()));
        let health = Arc::new(L2Health::new(l2.kind()));
        Self { l1, l2, keys, settings, health, changed, feed }
    }

    /// The L2's outage state.
    pub fn health(&self) -> &L2Health {
        &self.health
    }

    /// How many partitions the L1 holds now.
    pub fn l1_len(&self) -> u64 {
        self.l1.len()
    }

    /// Reads `key` from L2 and refreshes the L1 copy.
    async fn read_l2(&self, key: &PartitionKey) -> Result<Option<Versioned>, CacheError> {
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
            Err(OpenFailure::UnknownKey(key_id)) => Err(CacheError::UnknownKey { key_id }),
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
        serde_json::from_slice(&plaintext).map_err(|error| OpenFailure::Unusable(format!("does not parse: {error}")))
    }

    async fn publish(&self, name: &str) {
        if let Err(error) = self.l2.publish_change(name).await {
            // The others' copies then live out their L1 time to live.
            self.health.observe::<()>(Err(error)).ok();
        }
    }
}

enum OpenFailure {
    UnknownKey(String),
    Unusable(String),
}

#[async_trait::async_trait]
impl TokenCacheStore for LayeredTokenCache {
    async fn load(&self, key: &PartitionKey) -> Result<Option<Versioned>, CacheError> {
        if let Some(local) = self.l1.get(key) {
            return Ok(Some(local.as_ref().clone()));
        }
        self.read_l2(key).await
    }

    async fn load_latest(&self, key: &PartitionKey) -> Result<Option<Versioned>, CacheError> {
        match self.read_l2(key).await {
            Err(error) if error.is_outage() => match self.l1.get(key) {
                // Degraded: this instance's copy is the best there is.
                Some(local) => Ok(Some(local.as_ref().clone())),
                None => Err(error),
            },
            other => other,
        }
    }

    async fn save(&self, key: &PartitionKey, partition: &TokenPartition, expected: Option<Etag>) -> Result<SaveOutcome, CacheError> {
        let name = key.storage_name();
        let etag = Etag::random();
        let plaintext = serde_json::to_vec(partition).map_err(CacheError::Encoding)?;
        let entry = SealedEntry { etag, bytes: self.keys.seal(&name, etag.0, &plaintext) };
        let started = Instant::now();
        let written = self.l2.put(&name, expected, &entry, self.settings.l2_time_to_live).await;
        telemetry::l2_latency("put", started.elapsed());
        match self.health.observe(written) {
            Ok(true) => {
                self.l1.put(key.clone(), Versioned { partition: partition.clone(), etag, tier: CacheTier::Local });
                self.publish(&name).await;
                Ok(SaveOutcome::Saved(etag))
            }
            Ok(false) => {
                self.l1.remove_partition(key);
                Ok(SaveOutcome::Conflict)
            }
            Err(error) if error.is_outage() => {
                self.l1.put(key.clone(), Versioned { partition: partition.clone(), etag, tier: CacheTier::Local });
                Ok(SaveOutcome::Saved(etag))
            }
            Err(error) => Err(error),
        }
    }

    async fn remove(&self, key: &PartitionKey) -> Result<bool, CacheError> {
        let name = key.storage_name();
        let in_l1 = self.l1.remove_partition(key);
        match self.health.observe(self.l2.delete(&name).await) {
            Ok(in_l2) => {
                self.publish(&name).await;
                Ok(in_l1 || in_l2)
            }
            Err(error) if error.is_outage() => {
                tracing::warn!(partition = %name, "token cache store unavailable: removal will be retried");
                tokio::spawn(retry_removal(self.l2.clone(), self.health.clone(), name));
                Ok(in_l1)
            }
            Err(error) => Err(error),
        }
    }

    async fn lock(&self, key: &PartitionKey, wait: Duration) -> Result<Option<PartitionLock>, CacheError> {
        let name = key.storage_name();
        let owner = format!("{:032x}", rand::random::<u128>());
        let deadline = Instant::now() + wait;
        loop {
            // Registered before trying, so a release between the try and the wait is not missed.
            let notified = self.changed.notified();
            match self.health.observe(self.l2.try_lock(&name, &owner, LOCK_LIFETIME).await) {
                Ok(true) => {
                    let l2 = self.l2.clone();
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

    async fn partition_count(&self) -> Result<u64, CacheError> {
        self.l2.count().await
    }

    async fn check_ready(&self) -> Result<(), CacheError> {
        self.health.observe(self.l2.ping().await)
    }
}

/// Drops L1 copies other instances changed, and wakes lock waiters.
async fn follow_changes(mut feed: broadcast::Receiver<ChangeEvent>, l1: Arc<MemoryTokenCache>, changed: Arc<Notify>) {
    loop {
        match feed.recv().await {
            Ok(ChangeEvent::Changed(name)) => {
                if let Some(key) = PartitionKey::from_storage_name(&name) {
                    if l1.remove_partition(&key) {
                        telemetry::l1_invalidation();
                    }
                }
            }
            Ok(ChangeEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                // Notices may have been missed: no L1 copy can be trusted.
                l1.clear();
                telemetry::l1_invalidation();
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
        changed.notify_waiters();
    }
}

async fn retry_removal(l2: Arc<dyn SharedCacheBackend>, health: Arc<L2Health>, name: String) {
    for _ in 0..PURGE_RETRIES {
        tokio::time::sleep(PURGE_RETRY_EVERY).await;
        if health.observe(l2.delete(&name).await).is_ok() {
            let _ = l2.publish_change(&name).await;
            tracing::info!(partition = %name, "removal reached the token cache store");
            return;
        }
    }
    tracing::warn!(partition = %name, "removal never reached the token cache store; the entry's time limit will end it");
}

/// Whether the L2 is answering, with one log line per outage.
pub struct L2Health {
    kind: &'static str,
    down: AtomicBool,
    since: Mutex<Option<(Instant, String)>>,
}

impl L2Health {
    fn new(kind: &'static str) -> Self {
        Self { kind, down: AtomicBool::new(false), since: Mutex::new(None) }
    }

    /// Whether the last call failed as an outage.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Since when, and the error that started the outage.
    pub fn outage(&self) -> Option<(Duration, String)> {
        let since = self.since.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        since.as_ref().map(|(at, reason)| (at.elapsed(), reason.clone()))
    }

    /// Passes `result` through, noting an outage start or end.
    fn observe<T>(&self, result: Result<T, CacheError>) -> Result<T, CacheError> {
        match &result {
            Err(error) if error.is_outage() => {
                telemetry::l2_error(self.kind);
                if !self.down.swap(true, Ordering::Relaxed) {
                    let reason = telemetry::error_chain(error);
                    tracing::warn!(store = self.kind, error = %reason, "token cache store unavailable; serving from memory where possible");
                    *self.since.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), reason));
                }
            }
            _ => {
                if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed) {
                    let since = self.since.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
                    let lasted = since.map(|(at, _)| at.elapsed()).unwrap_or_default();
                    tracing::info!(store = self.kind, ?lasted, "token cache store answering again");
                }
            }
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
    use crate::cache::encryption::EncryptionKey;
    use crate::user::HomeAccountId;

    /// An L2 in memory that can be switched off like a Redis that stopped.
    #[derive(Default)]
    struct SwitchableBackend {
        entries: Mutex<HashMap<String, SealedEntry>>,
        down: AtomicBool,
        changes: Mutex<Option<broadcast::Sender<ChangeEvent>>>,
    }

    impl SwitchableBackend {
        fn check(&self) -> Result<(), CacheError> {
            if self.down.load(Ordering::SeqCst) {
                Err(CacheError::TimedOut { store: "fake", timeout: Duration::from_millis(1) })
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
        async fn get(&self, name: &str, _ttl: Duration) -> Result<Option<SealedEntry>, CacheError> {
            self.check()?;
            Ok(self.entries.lock().unwrap().get(name).cloned())
        }
        async fn put(&self, name: &str, expected: Option<Etag>, entry: &SealedEntry, _ttl: Duration) -> Result<bool, CacheError> {
            self.check()?;
            let mut entries = self.entries.lock().unwrap();
            if entries.get(name).map(|stored| stored.etag) != expected {
                return Ok(false);
            }
            entries.insert(name.to_owned(), entry.clone());
            Ok(true)
        }
        async fn delete(&self, name: &str) -> Result<bool, CacheError> {
            self.check()?;
            Ok(self.entries.lock().unwrap().remove(name).is_some())
        }
        async fn delete_if(&self, name: &str, etag: Etag) -> Result<bool, CacheError> {
            self.check()?;
            let mut entries = self.entries.lock().unwrap();
            let matches = entries.get(name).is_some_and(|stored| stored.etag == etag);
            if matches {
                entries.remove(name);
            }
            Ok(matches)
        }
        async fn try_lock(&self, _name: &str, _owner: &str, _ttl: Duration) -> Result<bool, CacheError> {
            self.check().map(|()| true)
        }
        async fn unlock(&self, _name: &str, _owner: &str) -> Result<(), CacheError> {
            self.check()
        }
        async fn publish_change(&self, _name: &str) -> Result<(), CacheError> {
            self.check()
        }
        fn changes(&self) -> broadcast::Receiver<ChangeEvent> {
            let mut sender = self.changes.lock().unwrap();
            sender.get_or_insert_with(|| broadcast::channel(16).0).subscribe()
        }
        async fn count(&self) -> Result<u64, CacheError> {
            self.check()?;
            Ok(self.entries.lock().unwrap().len() as u64)
        }
        async fn ping(&self) -> Result<(), CacheError> {
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
            assert!(!cache.health().is_down());
        })
        .await;
        assert_eq!(log.matches("token cache store unavailable").count(), 1, "one warning per outage: {log}");
        assert_eq!(log.matches("answering again").count(), 1, "one line when it ends: {log}");
    }

    #[tokio::test]
    async fn a_write_during_an_outage_keeps_serving_from_l1_and_a_removal_is_retried_later() {
        let backend = Arc::new(SwitchableBackend::default());
        let cache = layered(backend.clone());
        let adele = user("adele");
        cache.save(&adele, &TokenPartition::default(), None).await.unwrap();
        backend.down.store(true, Ordering::SeqCst);
        let renewed = TokenPartition { last_source: Some(crate::cache::TokenSource::Refresh), ..Default::default() };
        let expected = cache.load(&adele).await.unwrap().map(|stored| stored.etag);
        assert!(matches!(cache.save(&adele, &renewed, expected).await.unwrap(), SaveOutcome::Saved(_)));
        assert_eq!(cache.load(&adele).await.unwrap().unwrap().partition.last_source, renewed.last_source);

        assert!(cache.remove(&adele).await.unwrap(), "sign-out succeeds during the outage");
        assert!(cache.load(&adele).await.is_err(), "and this instance no longer serves the copy");
        assert_eq!(backend.entries.lock().unwrap().len(), 1, "L2 still holds it until the retry");
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
        let stranger = LayeredTokenCache::new(backend.clone(), Arc::new(other_ring), writer.settings);
        assert!(matches!(stranger.load(&adele).await, Err(CacheError::UnknownKey { .. })));
        assert_eq!(backend.entries.lock().unwrap().len(), 1, "kept for the instances that hold the key");
    }
}
