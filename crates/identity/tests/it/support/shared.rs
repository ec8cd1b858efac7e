//! Real Redis and PostgreSQL for the shared-store tests: each test gets its
//! own key prefix or schema, removed when the test ends (even on failure).
//! scripts/test.sh makes sure both servers run; the addresses can be
//! changed with IDWEB_TEST_REDIS_URL and IDWEB_TEST_POSTGRES_URL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use fred::prelude::{ClientLike, Config, KeysInterface};
use idweb_identity::cache::{ChangeEvent, Etag, SealedEntry, SharedCacheBackend};
use idweb_identity::StoreError;
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// Which shared store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Redis,
    /// A Redis Cluster that scripts/test.sh starts on loopback ports.
    RedisCluster,
    Postgres,
}

pub fn redis_url() -> String {
    std::env::var("IDWEB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// The cluster scripts/test.sh started (`IDWEB_TEST_REDIS_CLUSTER_URL`), if any.
pub fn redis_cluster_url() -> Option<String> {
    std::env::var("IDWEB_TEST_REDIS_CLUSTER_URL").ok().filter(|url| !url.is_empty())
}

pub fn postgres_url() -> String {
    std::env::var("IDWEB_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A random 32-byte key in the configuration's base64 form.
pub fn new_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

/// One test's corner of a shared store.
pub struct SharedStore {
    pub engine: Engine,
    /// Redis key prefix or PostgreSQL schema.
    pub namespace: String,
}

impl SharedStore {
    pub fn new(engine: Engine) -> Self {
        let tag = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
        let namespace = match engine {
            Engine::Redis | Engine::RedisCluster => format!("idweb-test-{tag}:"),
            Engine::Postgres => format!("idweb_test_{tag}"),
        };
        Self { engine, namespace }
    }

    pub fn connection_string(&self) -> String {
        match self.engine {
            Engine::Redis => redis_url(),
            Engine::RedisCluster => redis_cluster_url().expect("IDWEB_TEST_REDIS_CLUSTER_URL"),
            Engine::Postgres => postgres_url(),
        }
    }

    /// The `TokenCache` section for this store, encrypting with `keys` (`[(id, base64)]`).
    pub fn token_cache_settings(&self, keys: &[(&str, &str)]) -> Value {
        let (store, namespace_key) = match self.engine {
            Engine::Redis | Engine::RedisCluster => ("Redis", "KeyPrefix"),
            Engine::Postgres => ("Postgres", "Schema"),
        };
        let keys: Vec<Value> = keys.iter().map(|(id, key)| json!({ "Id": id, "Key": key })).collect();
        json!({
            "Store": store,
            "ConnectionString": self.connection_string(),
            namespace_key: self.namespace,
            "EncryptionKeys": keys,
        })
    }

    /// The same store's settings for sessions too (`Session:Store`).
    pub fn session_settings(&self) -> Value {
        match self.engine {
            Engine::Redis | Engine::RedisCluster => json!({ "Store": "Redis", "ConnectionString": self.connection_string() }),
            Engine::Postgres => json!({ "Store": "Postgres", "ConnectionString": postgres_url(), "Schema": self.namespace }),
        }
    }

    /// Every raw token cache entry: (name, stored bytes, seconds to live).
    pub async fn raw_entries(&self) -> Vec<(String, Vec<u8>, i64)> {
        match self.engine {
            Engine::Redis | Engine::RedisCluster => {
                let client = redis_client(&self.connection_string()).await;
                let keys = redis_keys(&client, &format!("{}tokens:*", self.namespace)).await;
                let mut entries = Vec::new();
                for key in keys {
                    let bytes: Option<Vec<u8>> = client.get(key.as_str()).await.unwrap();
                    let ttl_ms: i64 = client.pttl(key.as_str()).await.unwrap();
                    if let Some(bytes) = bytes {
                        entries.push((key, bytes, ttl_ms / 1000));
                    }
                }
                entries
            }
            Engine::Postgres => {
                let pool = postgres_pool().await;
                let rows: Vec<(String, Vec<u8>, f64)> = sqlx::query_as(&format!(
                    "SELECT name, payload, extract(epoch FROM expires_at - now())::float8 FROM \"{}\".token_cache",
                    self.namespace
                ))
                .fetch_all(&pool)
                .await
                .unwrap();
                rows.into_iter().map(|(name, payload, ttl)| (name, payload, ttl as i64)).collect()
            }
        }
    }

    /// Overwrites the raw bytes of the entry named `name` (as [`Self::raw_entries`] names it), keeping its time limit.
    pub async fn overwrite_raw(&self, name: &str, bytes: Vec<u8>) {
        match self.engine {
            Engine::Redis | Engine::RedisCluster => {
                let client = redis_client(&self.connection_string()).await;
                let _: () = client.set(name, bytes.as_slice(), None, Some(fred::types::SetOptions::XX), false).await.unwrap();
                let _: i64 = client.pexpire(name, 600_000, None).await.unwrap();
            }
            Engine::Postgres => {
                let pool = postgres_pool().await;
                let sql = format!("UPDATE \"{}\".token_cache SET payload = $2 WHERE name = $1", self.namespace);
                sqlx::query(&sql).bind(name).bind(bytes).execute(&pool).await.unwrap();
            }
        }
    }

    /// Copies the raw entry `from` under the name `to`.
    pub async fn copy_raw(&self, from: &str, to: &str) {
        match self.engine {
            Engine::Redis | Engine::RedisCluster => {
                let client = redis_client(&self.connection_string()).await;
                let bytes: Vec<u8> = client.get(from).await.unwrap();
                let _: () = client.set(to, bytes.as_slice(), Some(fred::types::Expiration::PX(600_000)), None, false).await.unwrap();
            }
            Engine::Postgres => {
                let pool = postgres_pool().await;
                let sql = format!(
                    "INSERT INTO \"{0}\".token_cache (name, etag, payload, expires_at) SELECT $2, etag, payload, expires_at FROM \"{0}\".token_cache WHERE name = $1",
                    self.namespace
                );
                sqlx::query(&sql).bind(from).bind(to).execute(&pool).await.unwrap();
            }
        }
    }

    /// The raw name of a partition's entry.
    pub fn raw_name(&self, partition: &idweb_identity::PartitionKey) -> String {
        match self.engine {
            Engine::Redis | Engine::RedisCluster => format!("{}tokens:{}", self.namespace, partition.storage_name()),
            Engine::Postgres => partition.storage_name(),
        }
    }

    /// A backend over this store, built as the app builds it.
    pub async fn backend(&self) -> Arc<dyn SharedCacheBackend> {
        let config = self.config();
        match self.engine {
            Engine::Redis | Engine::RedisCluster => Arc::new(idweb_identity::stores::redis::RedisBackend::connect(&config).await.unwrap()),
            Engine::Postgres => Arc::new(idweb_identity::stores::postgres::PostgresBackend::connect(&config).await.unwrap()),
        }
    }

    /// The store's settings as configuration would give them.
    pub fn config(&self) -> idweb_identity::config::SharedStoreConfig {
        idweb_identity::config::SharedStoreConfig {
            kind: match self.engine {
                Engine::Redis | Engine::RedisCluster => idweb_identity::config::StoreKind::Redis,
                Engine::Postgres => idweb_identity::config::StoreKind::Postgres,
            },
            connection_string: idweb_identity::config::ConnectionString::new(self.connection_string()),
            namespace: self.namespace.clone(),
            timeout: Duration::from_secs(1),
        }
    }
}

impl Drop for SharedStore {
    fn drop(&mut self) {
        let engine = self.engine;
        let namespace = self.namespace.clone();
        let url = match engine {
            Engine::Postgres => String::new(),
            _ => self.connection_string(),
        };
        // Drop cannot await; a short-lived runtime on its own thread does the clean-up.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                match engine {
                    Engine::Redis | Engine::RedisCluster => {
                        let client = redis_client(&url).await;
                        for key in redis_keys(&client, &format!("{namespace}*")).await {
                            let _: i64 = client.del(key.as_str()).await.unwrap_or(0);
                        }
                    }
                    Engine::Postgres => {
                        let pool = postgres_pool().await;
                        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{namespace}\" CASCADE")).execute(&pool).await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

pub async fn redis_client(url: &str) -> fred::clients::Client {
    let config = Config::from_url(url).unwrap();
    let client = fred::clients::Client::new(config, None, None, None);
    client.init().await.expect("Redis must run for these tests (scripts/test.sh starts it)");
    client
}

pub async fn redis_keys(client: &fred::clients::Client, pattern: &str) -> Vec<String> {
    use futures_util::TryStreamExt;
    let keys: Vec<fred::types::Key> = if client.is_clustered() {
        client.scan_cluster_buffered(pattern, Some(1000), None).try_collect().await.unwrap()
    } else {
        client.scan_buffered(pattern, Some(1000), None).try_collect().await.unwrap()
    };
    keys.into_iter().filter_map(|key| key.into_string()).collect()
}

pub async fn postgres_pool() -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&postgres_url())
        .await
        .expect("PostgreSQL must run for these tests (scripts/test.sh starts it)")
}

/// A backend that counts the calls it passes on: each is one Redis
/// command or one SQL statement.
pub struct Counting {
    pub inner: Arc<dyn SharedCacheBackend>,
    pub calls: AtomicU64,
}

impl Counting {
    pub fn new(inner: Arc<dyn SharedCacheBackend>) -> Arc<Self> {
        Arc::new(Self { inner, calls: AtomicU64::new(0) })
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn tally(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl SharedCacheBackend for Counting {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn get(&self, name: &str, ttl: Duration) -> Result<Option<SealedEntry>, StoreError> {
        self.tally();
        self.inner.get(name, ttl).await
    }
    async fn put(&self, name: &str, expected: Option<Etag>, entry: &SealedEntry, ttl: Duration) -> Result<bool, StoreError> {
        self.tally();
        self.inner.put(name, expected, entry, ttl).await
    }
    async fn delete(&self, name: &str) -> Result<bool, StoreError> {
        self.tally();
        self.inner.delete(name).await
    }
    async fn delete_if(&self, name: &str, etag: Etag) -> Result<bool, StoreError> {
        self.tally();
        self.inner.delete_if(name, etag).await
    }
    async fn try_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.tally();
        self.inner.try_lock(name, owner, ttl).await
    }
    async fn unlock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.tally();
        self.inner.unlock(name, owner).await
    }
    async fn publish_change(&self, name: &str) -> Result<(), StoreError> {
        self.tally();
        self.inner.publish_change(name).await
    }
    fn changes(&self) -> broadcast::Receiver<ChangeEvent> {
        self.inner.changes()
    }
    async fn count(&self) -> Result<u64, StoreError> {
        self.inner.count().await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.tally();
        self.inner.ping().await
    }
}
