//! Builds the stores configuration names: the token cache (memory, or a
//! memory L1 over Redis or PostgreSQL) and the session store.

use std::sync::Arc;
use std::time::Duration;

use fred::interfaces::ClientLike;
use tower_sessions_sqlx_store::PostgresStore;

use crate::cache::{LayeredSettings, LayeredTokenCache, MemoryTokenCache, SharedCacheBackend, TokenCacheStore};
use crate::config::{SessionConfig, StoreKind, TokenCacheConfig};
use crate::error::IdentityError;
use crate::session::{BoundedMemorySessionStore, PostgresSessionStore, RedisSessionStore, SessionBackend};

/// The token cache `TokenCache` describes.
pub(crate) async fn token_cache(config: &TokenCacheConfig) -> Result<Arc<dyn TokenCacheStore>, IdentityError> {
    let Some(shared) = &config.shared else {
        return Ok(Arc::new(MemoryTokenCache::new(config.max_partitions, config.sliding_expiration)));
    };
    let keys = config
        .encryption_keys
        .clone()
        .ok_or_else(|| IdentityError::Misconfigured("TokenCache:EncryptionKeys is required for a shared token cache".into()))?;
    let backend: Arc<dyn SharedCacheBackend> = match shared.kind {
        StoreKind::Redis => Arc::new(crate::cache::redis::RedisBackend::connect(shared).await?),
        StoreKind::Postgres => Arc::new(crate::cache::postgres::PostgresBackend::connect(shared).await?),
    };
    let settings = LayeredSettings {
        l1_max_partitions: config.l1_max_partitions,
        l1_time_to_live: config.l1_expiration,
        l2_time_to_live: config.sliding_expiration,
    };
    Ok(Arc::new(LayeredTokenCache::new(backend, keys, settings)))
}

/// The session store `Session` describes.
pub(crate) async fn session_store(config: &SessionConfig) -> Result<SessionBackend, IdentityError> {
    let Some(shared) = &config.shared else {
        return Ok(SessionBackend::Memory(BoundedMemorySessionStore::with_byte_limit(config.max_sessions, config.max_bytes)));
    };
    match shared.kind {
        StoreKind::Redis => {
            let pool = crate::cache::redis::pool(shared)?;
            if tokio::time::timeout(shared.timeout, pool.wait_for_connect()).await.is_err() {
                tracing::warn!("session Redis not reachable yet; it is retried in the background");
            }
            Ok(SessionBackend::Redis(RedisSessionStore::new(pool, shared.timeout)))
        }
        StoreKind::Postgres => {
            let pool = crate::cache::postgres::pool(shared, &shared.namespace)?;
            let store = PostgresStore::new(pool.clone())
                .with_schema_name(&shared.namespace)
                .and_then(|store| store.with_table_name(SESSION_TABLE))
                .map_err(IdentityError::Misconfigured)?;
            let store = PostgresSessionStore::new(store, pool.clone(), &shared.namespace, SESSION_TABLE);
            // The table is created now if the database answers, else as soon as it does.
            let ready = create_session_table(&pool, &store, &shared.namespace, shared.timeout).await;
            if let Err(reason) = &ready {
                tracing::warn!(%reason, "session table not ready; retried in the background");
            }
            tokio::spawn(keep_postgres_sessions(pool, store.clone(), shared.namespace.clone(), shared.timeout, ready.is_ok()));
            Ok(SessionBackend::Postgres(store))
        }
    }
}

/// The PostgreSQL sessions table, in the configured schema.
const SESSION_TABLE: &str = "sessions";

/// How often expired PostgreSQL sessions are deleted.
const SESSION_SWEEP_EVERY: Duration = Duration::from_secs(300);

/// The schema (created first, so two instances starting together do not
/// trip the store's own schema creation) and the sessions table.
async fn create_session_table(pool: &sqlx::PgPool, store: &PostgresSessionStore, schema: &str, timeout: Duration) -> Result<(), String> {
    let create = async {
        crate::cache::postgres::create_schema(pool, schema).await?;
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
async fn keep_postgres_sessions(pool: sqlx::PgPool, store: PostgresSessionStore, schema: String, timeout: Duration, ready: bool) {
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
