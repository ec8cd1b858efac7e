//! Opens the stores [`crate::settings`] describe: the token cache (memory,
//! or a memory L1 over Redis or PostgreSQL) and the session store. A
//! shared store named by the settings but left out of this build (its cargo
//! feature off) is an error that names the feature.

use std::sync::Arc;
#[cfg(feature = "postgres")]
use std::time::Duration;

use crate::settings::{SessionStoreSettings, SharedStoreConfig, StoreKind, TokenCacheSettings};
use crate::token_cache::{LayeredSettings, LayeredTokenCache, MemoryTokenCache, SharedCacheBackend, TokenCacheStore};
use crate::{BoundedMemorySessionStore, SessionBackend, StoreError};
#[cfg(any(feature = "redis", feature = "postgres"))]
use crate::sessions::{CachedSessionStore, SessionL1Settings};

/// The token cache `settings` describe. A shared store is connected to now
/// if it answers, else retried on use: the app starts while it is down.
pub async fn open_token_cache(settings: &TokenCacheSettings) -> Result<Arc<dyn TokenCacheStore>, StoreError> {
    let Some(shared) = &settings.shared else {
        return Ok(Arc::new(MemoryTokenCache::new(settings.max_partitions, settings.sliding_expiration)));
    };
    let keys = settings.encryption_keys.clone().ok_or_else(|| StoreError::Misconfigured("a shared token cache needs encryption keys".into()))?;
    let backend = connect_shared(shared).await?;
    let layered = LayeredSettings {
        l1_max_partitions: settings.l1_max_partitions,
        l1_time_to_live: settings.l1_expiration,
        l2_time_to_live: settings.sliding_expiration,
    };
    Ok(Arc::new(LayeredTokenCache::new(backend, keys, layered)))
}

/// The shared L2 `shared` names, connected.
async fn connect_shared(shared: &SharedStoreConfig) -> Result<Arc<dyn SharedCacheBackend>, StoreError> {
    match shared.kind {
        #[cfg(feature = "redis")]
        StoreKind::Redis => Ok(Arc::new(crate::redis::RedisBackend::connect(shared).await?)),
        #[cfg(feature = "postgres")]
        StoreKind::Postgres => Ok(Arc::new(crate::postgres::PostgresBackend::connect(shared).await?)),
        #[allow(unreachable_patterns)]
        kind => Err(not_built_in(kind)),
    }
}

/// The session store `settings` describe.
pub async fn open_session_store(settings: &SessionStoreSettings) -> Result<SessionBackend, StoreError> {
    let Some(shared) = &settings.shared else {
        return Ok(SessionBackend::memory(BoundedMemorySessionStore::with_byte_limit(settings.max_sessions, settings.max_bytes)));
    };
    match shared.kind {
        #[cfg(feature = "redis")]
        StoreKind::Redis => {
            use fred::interfaces::ClientLike;
            let pool = crate::redis::pool(shared)?;
            if tokio::time::timeout(shared.timeout, pool.wait_for_connect()).await.is_err() {
                tracing::warn!("session Redis not reachable yet; it is retried in the background");
            }
            let store = crate::redis::RedisSessionStore::new(pool.clone(), shared.timeout);
            if settings.l1_max_sessions == 0 {
                return Ok(SessionBackend::shared("redis", store));
            }
            let feed = crate::redis::RedisChangeFeed::start(shared, pool, format!("{}sessions:changes", shared.namespace))?;
            let store = store.announcing_on(feed.channel());
            Ok(SessionBackend::shared_with_l1("redis", with_l1(store, feed, settings)))
        }
        #[cfg(feature = "postgres")]
        StoreKind::Postgres => {
            use crate::postgres::PostgresSessionStore;
            let pool = crate::postgres::pool(shared, &shared.namespace)?;
            let store = tower_sessions_sqlx_store::PostgresStore::new(pool.clone())
                .with_schema_name(&shared.namespace)
                .and_then(|store| store.with_table_name(SESSION_TABLE))
                .map_err(StoreError::Misconfigured)?;
            let store = PostgresSessionStore::new(store, pool.clone(), &shared.namespace, SESSION_TABLE);
            // The table is created now if the database answers, else as soon as it does.
            let ready = create_session_table(&pool, &store, &shared.namespace, shared.timeout).await;
            if let Err(reason) = &ready {
                tracing::warn!(%reason, "session table not ready; retried in the background");
            }
            tokio::spawn(keep_postgres_sessions(pool.clone(), store.clone(), shared.namespace.clone(), shared.timeout, ready.is_ok()));
            if settings.l1_max_sessions == 0 {
                return Ok(SessionBackend::shared("postgres", store));
            }
            let feed = crate::postgres::PostgresChangeFeed::start(pool, format!("{}_sessions", shared.namespace), shared.timeout);
            let store = store.announcing_on(feed.channel());
            Ok(SessionBackend::shared_with_l1("postgres", with_l1(store, feed, settings)))
        }
        #[allow(unreachable_patterns)]
        kind => Err(not_built_in(kind)),
    }
}

/// `store` (announcing its changes on `feed`) behind the L1 `settings` ask
/// for; the feed lives as long as the L1.
#[cfg(any(feature = "redis", feature = "postgres"))]
fn with_l1(store: impl tower_sessions::SessionStore, feed: impl crate::changes::ChangeFeed, settings: &SessionStoreSettings) -> CachedSessionStore {
    let l1 = SessionL1Settings { max_sessions: settings.l1_max_sessions, time_to_live: settings.l1_expiration };
    let (changes, state) = (feed.subscribe(), feed.state());
    CachedSessionStore::new(Arc::new(store), changes, state, l1).keeping(feed)
}

/// The error for a store whose feature this build leaves out.
#[cfg_attr(all(feature = "redis", feature = "postgres"), allow(dead_code))]
fn not_built_in(kind: StoreKind) -> StoreError {
    match kind {
        StoreKind::Redis => StoreError::NotBuiltIn { store: "Redis", feature: "redis" },
        StoreKind::Postgres => StoreError::NotBuiltIn { store: "Postgres", feature: "postgres" },
    }
}

/// The PostgreSQL sessions table, in the configured schema.
#[cfg(feature = "postgres")]
const SESSION_TABLE: &str = "sessions";

/// How often expired PostgreSQL sessions are deleted.
#[cfg(feature = "postgres")]
const SESSION_SWEEP_EVERY: Duration = Duration::from_secs(300);

/// The schema (created first, so two instances starting together do not
/// trip the store's own schema creation) and the sessions table.
#[cfg(feature = "postgres")]
async fn create_session_table(pool: &sqlx::PgPool, store: &crate::postgres::PostgresSessionStore, schema: &str, timeout: Duration) -> Result<(), String> {
    let create = async {
        crate::postgres::create_schema(pool, schema).await?;
        store.migrate().await
    };
    match tokio::time::timeout(timeout * 10, create).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Creates the sessions table if start-up could not (retrying while the
/// database is down), then deletes expired sessions now and then, for the
/// life of the process.
#[cfg(feature = "postgres")]
async fn keep_postgres_sessions(pool: sqlx::PgPool, store: crate::postgres::PostgresSessionStore, schema: String, timeout: Duration, ready: bool) {
    let mut delay = Duration::from_millis(200);
    let mut ready = ready;
    while !ready {
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
        ready = create_session_table(&pool, &store, &schema, timeout).await.is_ok();
    }
    tracing::debug!("session table ready");
    let mut every = tokio::time::interval(SESSION_SWEEP_EVERY);
    loop {
        every.tick().await;
        if let Err(error) = store.delete_expired().await {
            tracing::debug!(error = %error, "expired session sweep skipped");
        }
    }
}
