//! The Redis token cache backend (single node or Cluster, through fred):
//! one key per partition, always with a time limit (Redis never grows
//! without bound), the version in the value's first 8 bytes so a Lua
//! script can compare-and-set, `SET NX PX` locks, and change notices over
//! pub/sub. Every command fails fast while Redis is unreachable and has a
//! time limit, so an outage is an error at once, never a hang.


mod feed;
mod sessions;
pub use feed::RedisChangeFeed;
pub use sessions::RedisSessionStore;

use std::time::Duration;

use fred::prelude::*;
use fred::types::{ClusterHash, CustomCommand};
use futures_util::TryStreamExt;
use tokio::sync::broadcast;

use crate::changes::{ChangeEvent, ChangeFeed, FEED_CAPACITY};
use crate::token_cache::{Etag, SealedEntry, SharedCacheBackend};
use crate::StoreError;
use crate::settings::SharedStoreConfig;

const STORE: &str = "redis";
/// Connections in the pool (each one per node in a Cluster).
const POOL_SIZE: usize = 4;

/// Writes the entry (`ARGV[2]`, time limit `ARGV[3]` ms) only if the stored
/// version (its first 8 bytes) is `ARGV[1]` (empty: no entry).
const PUT_IF_VERSION: &str = r"
local current = redis.call('GET', KEYS[1])
local version = ''
if current then version = string.sub(current, 1, 8) end
if version ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1";

/// Deletes the entry only if its version is `ARGV[1]`.
const DELETE_IF_VERSION: &str = r"
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, 8) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Deletes the lock only if `ARGV[1]` still owns it.
const UNLOCK_IF_OWNER: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Token cache entries in Redis.
pub struct RedisBackend {
    pool: Pool,
    feed: RedisChangeFeed,
    options: Options,
    prefix: String,
    timeout: Duration,
}

/// A fred builder for `config`: reconnects forever with backoff, starts
/// while Redis is down, bounded waits.
pub fn builder(config: &SharedStoreConfig) -> Result<Builder, StoreError> {
    let mut redis_config = Config::from_url(config.connection_string.expose()).map_err(unavailable)?;
    // Start even while Redis is down; the reconnect policy then keeps trying.
    redis_config.fail_fast = false;
    let timeout = config.timeout;
    let mut builder = Builder::from_config(redis_config);
    builder
        .with_connection_config(|connection| {
            connection.connection_timeout = timeout.max(Duration::from_secs(1));
            connection.internal_command_timeout = timeout.max(Duration::from_secs(1));
            connection.max_command_attempts = 1;
        })
        .with_performance_config(|performance| {
            performance.default_command_timeout = timeout;
            performance.broadcast_channel_capacity = FEED_CAPACITY;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
    Ok(builder)
}

/// A pool over `config`, connecting in the background.
pub fn pool(config: &SharedStoreConfig) -> Result<Pool, StoreError> {
    let pool = builder(config)?.build_pool(POOL_SIZE).map_err(unavailable)?;
    // The connection task runs for the pool's life; dropping its handle does not stop it.
    drop(pool.connect());
    Ok(pool)
}

impl RedisBackend {
    /// Connects in the background (the app starts while Redis is down) and
    /// starts following the other instances' change notices.
    pub async fn connect(config: &SharedStoreConfig) -> Result<Self, StoreError> {
        let pool = pool(config)?;
        let prefix = format!("{}tokens:", config.namespace);
        let feed = RedisChangeFeed::start(config, pool.clone(), format!("{prefix}changes"))?;
        let backend = Self {
            options: Options { fail_fast: true, timeout: Some(config.timeout), ..Default::default() },
            pool,
            feed,
            prefix,
            timeout: config.timeout,
        };
        // A short wait lets a healthy Redis be ready for the first request; a down one is retried in the background.
        if tokio::time::timeout(config.timeout, backend.pool.wait_for_connect()).await.is_err() {
            tracing::warn!("token cache Redis not reachable yet; it is retried in the background");
        }
        Ok(backend)
    }

    fn entry_key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn lock_key(&self, name: &str) -> String {
        format!("{}lock:{name}", self.prefix)
    }

    fn client(&self) -> fred::clients::WithOptions<Pool> {
        self.pool.with_options(&self.options)
    }

    /// EVAL through `custom`, the one way fred applies the fail-fast and timeout options to a script.
    async fn script(&self, script: &'static str, key: String, args: Vec<Value>) -> Result<i64, StoreError> {
        // The key's slot, given explicitly: a Cluster must run the script on the node that owns the key.
        let slot = ClusterHash::from(key.as_str());
        let mut command = vec![Value::from(script), Value::from(1i64), Value::from(key)];
        command.extend(args);
        let eval = CustomCommand::new_static("EVAL", slot, false);
        self.client().custom::<i64, Value>(eval, command).await.map_err(|error| classify(error, self.timeout))
    }
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::unavailable(STORE, error)
}

/// Replies of a Redis that is there but cannot serve right now (loading, a
/// Cluster failing over): outages. Other error replies (`ERR`, `NOPERM`,
/// `WRONGTYPE`, ...) mean a misconfigured or too old Redis, not an outage.
const TRANSIENT_REPLIES: [&str; 6] = ["LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY"];

/// Whether `error` is Redis down, slow or failing over (an outage), not a
/// refusal that a retry will not change (an ACL, a wrong type, a script error).
pub(crate) fn is_outage(error: &Error) -> bool {
    classify(error.clone(), Duration::ZERO).is_outage()
}

fn classify(error: Error, timeout: Duration) -> StoreError {
    let transient_reply = TRANSIENT_REPLIES.iter().any(|reply| error.details().starts_with(reply));
    let reply_code = error.details().split(' ').next().is_some_and(|word| word.len() > 2 && word.chars().all(|c| c.is_ascii_uppercase()));
    match error.kind() {
        ErrorKind::Timeout => StoreError::TimedOut { store: STORE, timeout },
        ErrorKind::IO | ErrorKind::Canceled | ErrorKind::Cluster | ErrorKind::Backpressure | ErrorKind::Routing | ErrorKind::Tls => {
            unavailable(error)
        }
        _ if transient_reply || !reply_code => unavailable(error),
        _ => StoreError::Protocol { store: STORE, detail: error.details().to_owned() },
    }
}

fn millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

#[async_trait::async_trait]
impl SharedCacheBackend for RedisBackend {
    fn kind(&self) -> &'static str {
        STORE
    }

    async fn get(&self, name: &str, ttl: Duration) -> Result<Option<SealedEntry>, StoreError> {
        // GETEX reads and slides the time limit in one command.
        let key = self.entry_key(name);
        let getex = CustomCommand::new_static("GETEX", ClusterHash::from(key.as_str()), false);
        let args = vec![Value::from(key), Value::from("PX"), Value::from(millis(ttl))];
        let stored: Option<Vec<u8>> = self.client().custom(getex, args).await.map_err(|error| classify(error, self.timeout))?;
        let Some(stored) = stored else { return Ok(None) };
        if stored.len() < 8 {
            return Err(StoreError::Protocol { store: STORE, detail: format!("an entry of {} bytes has no version", stored.len()) });
        }
        let (version, bytes) = stored.split_at(8);
        let etag = Etag(u64::from_be_bytes(version.try_into().unwrap_or_default()));
        Ok(Some(SealedEntry { etag, bytes: bytes.to_vec() }))
    }

    async fn put(&self, name: &str, expected: Option<Etag>, entry: &SealedEntry, ttl: Duration) -> Result<bool, StoreError> {
        let expected = expected.map(|etag| etag.0.to_be_bytes().to_vec()).unwrap_or_default();
        let mut value = Vec::with_capacity(8 + entry.bytes.len());
        value.extend_from_slice(&entry.etag.0.to_be_bytes());
        value.extend_from_slice(&entry.bytes);
        let args = vec![Value::Bytes(expected.into()), Value::Bytes(value.into()), Value::from(millis(ttl))];
        Ok(self.script(PUT_IF_VERSION, self.entry_key(name), args).await? == 1)
    }

    async fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let deleted: i64 = self.client().del(self.entry_key(name)).await.map_err(|error| classify(error, self.timeout))?;
        Ok(deleted > 0)
    }

    async fn delete_if(&self, name: &str, etag: Etag) -> Result<bool, StoreError> {
        let args = vec![Value::Bytes(etag.0.to_be_bytes().to_vec().into())];
        Ok(self.script(DELETE_IF_VERSION, self.entry_key(name), args).await? == 1)
    }

    async fn try_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let taken: Option<String> = self
            .client()
            .set(self.lock_key(name), owner, Some(Expiration::PX(millis(ttl))), Some(SetOptions::NX), false)
            .await
            .map_err(|error| classify(error, self.timeout))?;
        Ok(taken.is_some())
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.script(UNLOCK_IF_OWNER, self.lock_key(name), vec![Value::from(owner)]).await?;
        // Waiters on other instances learn of the release through the change feed.
        self.publish_change(name).await
    }

    async fn publish_change(&self, name: &str) -> Result<(), StoreError> {
        self.feed.publish(name).await
    }

    fn changes(&self) -> broadcast::Receiver<ChangeEvent> {
        self.feed.subscribe()
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let pattern = format!("{}u:*", self.prefix);
        let client = self.pool.next_connected();
        let keys: Vec<Key> = if client.is_clustered() {
            client.scan_cluster_buffered(pattern, Some(1000), None).try_collect().await
        } else {
            client.scan_buffered(pattern, Some(1000), None).try_collect().await
        }
        .map_err(|error| classify(error, self.timeout))?;
        let app_pattern = format!("{}a:*", self.prefix);
        let app_keys: Vec<Key> = if client.is_clustered() {
            client.scan_cluster_buffered(app_pattern, Some(1000), None).try_collect().await
        } else {
            client.scan_buffered(app_pattern, Some(1000), None).try_collect().await
        }
        .map_err(|error| classify(error, self.timeout))?;
        Ok((keys.len() + app_keys.len()) as u64)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self.client().ping(None).await.map_err(|error| classify(error, self.timeout))?;
        Ok(())
    }
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend").field("prefix", &self.prefix).field("feed", &self.feed).finish()
    }
}
