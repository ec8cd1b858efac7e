//! The in-memory token cache store: bounded (least recently used
//! partitions go first), O(1) lookups. Alone it is the store of a single
//! instance (sliding expiry); in front of a shared store it is the L1 (a
//! fixed time to live bounds how long a copy can be stale).

use std::sync::Arc;
use std::time::Duration;

use moka::ops::compute::Op;
use moka::sync::Cache;

use super::{StoreError, CacheTier, Etag, PartitionKey, RecordName, SaveOutcome, TokenCacheStore, TokenPartition, Versioned};

/// Defaults: room for this many partitions, each dropped after this long unused.
pub const DEFAULT_MAX_PARTITIONS: u64 = 100_000;
/// See [`DEFAULT_MAX_PARTITIONS`].
pub const DEFAULT_SLIDING_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// Token cache held in this process.
pub struct MemoryTokenCache {
    partitions: Cache<PartitionKey, Arc<Versioned>>,
    records: Cache<RecordName, Arc<Record>>,
}

/// A record, its version and its own time limit.
struct Record {
    bytes: Vec<u8>,
    etag: Etag,
    ttl: Duration,
}

/// Each record lapses its own `ttl` after it was written.
struct RecordExpiry;

impl moka::Expiry<RecordName, Arc<Record>> for RecordExpiry {
    fn expire_after_create(&self, _name: &RecordName, record: &Arc<Record>, _now: std::time::Instant) -> Option<Duration> {
        Some(record.ttl)
    }

    fn expire_after_update(&self, _name: &RecordName, record: &Arc<Record>, _now: std::time::Instant, _left: Option<Duration>) -> Option<Duration> {
        Some(record.ttl)
    }
}

fn records(max_records: u64) -> Cache<RecordName, Arc<Record>> {
    Cache::builder().max_capacity(max_records).expire_after(RecordExpiry).build()
}

impl Default for MemoryTokenCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PARTITIONS, DEFAULT_SLIDING_EXPIRY)
    }
}

impl MemoryTokenCache {
    /// A cache of at most `max_partitions`, each dropped after `sliding_expiry` unused.
    pub fn new(max_partitions: u64, sliding_expiry: Duration) -> Self {
        Self { partitions: Cache::builder().max_capacity(max_partitions).time_to_idle(sliding_expiry).build(), records: records(max_partitions * 4) }
    }

    /// An L1: at most `max_partitions`, each copy kept at most `time_to_live`
    /// after it was read from or written to the shared store.
    pub fn l1(max_partitions: u64, time_to_live: Duration) -> Self {
        // An L1 keeps no records: they live in the shared store only.
        Self { partitions: Cache::builder().max_capacity(max_partitions).time_to_live(time_to_live).build(), records: records(0) }
    }

    /// The partition and its version, if cached.
    pub fn get(&self, key: &PartitionKey) -> Option<Arc<Versioned>> {
        self.partitions.get(key)
    }

    /// Replaces the partition unconditionally (an L1 copying the shared store).
    pub fn put(&self, key: PartitionKey, versioned: Versioned) {
        self.partitions.insert(key, Arc::new(versioned));
    }

    /// Removes the partition; whether there was one.
    pub fn remove_partition(&self, key: &PartitionKey) -> bool {
        self.partitions.remove(key).is_some()
    }

    /// Drops every partition (an L1 that may have missed invalidations).
    pub fn clear(&self) {
        self.partitions.invalidate_all();
    }

    /// How many partitions are cached (after pending evictions are applied).
    pub fn len(&self) -> u64 {
        self.partitions.run_pending_tasks();
        self.partitions.entry_count()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait::async_trait]
impl TokenCacheStore for MemoryTokenCache {
    async fn load(&self, key: &PartitionKey) -> Result<Option<Versioned>, StoreError> {
        Ok(self.get(key).map(|versioned| versioned.as_ref().clone()))
    }

    async fn save(&self, key: &PartitionKey, partition: &TokenPartition, expected: Option<Etag>) -> Result<SaveOutcome, StoreError> {
        let written = Etag::random();
        // The compare and the write happen under moka's per-key lock.
        let result = self.partitions.entry(key.clone()).and_compute_with(|current| {
            let current_etag = current.map(|entry| entry.value().etag);
            if current_etag == expected {
                Op::Put(Arc::new(Versioned { partition: partition.clone(), etag: written, tier: CacheTier::Local }))
            } else {
                Op::Nop
            }
        });
        Ok(match result {
            moka::ops::compute::CompResult::Inserted(_) | moka::ops::compute::CompResult::ReplacedWith(_) => SaveOutcome::Saved(written),
            _ => SaveOutcome::Conflict,
        })
    }

    async fn remove(&self, key: &PartitionKey) -> Result<bool, StoreError> {
        Ok(self.remove_partition(key))
    }

    async fn partition_count(&self) -> Result<u64, StoreError> {
        Ok(self.len())
    }

    async fn load_record(&self, name: &RecordName, _ttl: Duration) -> Result<Option<(Vec<u8>, Etag)>, StoreError> {
        Ok(self.records.get(name).map(|record| (record.bytes.clone(), record.etag)))
    }

    async fn save_record(&self, name: &RecordName, bytes: &[u8], expected: Option<Etag>, ttl: Duration) -> Result<bool, StoreError> {
        let written = Etag::random();
        let result = self.records.entry(name.clone()).and_compute_with(|current| {
            if current.map(|entry| entry.value().etag) == expected {
                Op::Put(Arc::new(Record { bytes: bytes.to_vec(), etag: written, ttl }))
            } else {
                Op::Nop
            }
        });
        Ok(matches!(result, moka::ops::compute::CompResult::Inserted(_) | moka::ops::compute::CompResult::ReplacedWith(_)))
    }

    async fn remove_record(&self, name: &RecordName) -> Result<bool, StoreError> {
        Ok(self.records.remove(name).is_some())
    }
}
