//! The PostgreSQL token cache backend: one row per partition in this app's
//! own schema (embedded migrations run at start-up, or on first use when
//! the database was down then), compare-and-set on the row's version,
//! expired rows swept, locks as rows with a time limit, and change notices
//! over `LISTEN`/`NOTIFY`.


mod feed;
mod sessions;
pub use feed::PostgresChangeFeed;
pub use sessions::PostgresSessionStore;

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::{broadcast, OnceCell};

use crate::changes::{ChangeEvent, ChangeFeed};
use crate::token_cache::{Etag, SealedEntry, SharedCacheBackend};
use crate::StoreError;
use crate::settings::SharedStoreConfig;

const STORE: &str = "postgres";
/// How often rows past their time limit are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// After a failed attempt at the migrations, callers fail at once for this long.
const MIGRATION_RETRY_AFTER: Duration = Duration::from_secs(1);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Token cache rows in PostgreSQL.
pub struct PostgresBackend {
    pool: PgPool,
    schema: String,
    feed: PostgresChangeFeed,
    timeout: Duration,
    migrated: Arc<OnceCell<()>>,
    /// When the last attempt at the migrations failed: callers in the next
    /// moment get that failure at once instead of queueing for another try.
    last_migration_failure: std::sync::Mutex<Option<std::time::Instant>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The pool every PostgreSQL store of the app uses for `config`: lazy (the
/// app starts while the database is down), bounded waits, UTC.
pub fn pool(config: &SharedStoreConfig, search_path: &str) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = config.connection_string.expose().parse().map_err(unavailable)?;
    let statement_timeout = format!("{}ms", config.timeout.as_millis());
    let options = options.options([("search_path", search_path), ("statement_timeout", statement_timeout.as_str()), ("TimeZone", "UTC")]);
    Ok(PgPoolOptions::new().max_connections(10).acquire_timeout(config.timeout).connect_lazy_with(options))
}

impl PostgresBackend {
    /// Connects (lazily), runs the migrations if the database answers, and
    /// starts the sweeper and the change listener.
    pub async fn connect(config: &SharedStoreConfig) -> Result<Self, StoreError> {
        let schema = config.namespace.clone();
        let pool = pool(config, &schema)?;
        let feed = PostgresChangeFeed::start(pool.clone(), format!("{schema}_token_cache"), config.timeout);
        let mut backend = Self {
            pool,
            schema,
            feed,
            timeout: config.timeout,
            migrated: Arc::new(OnceCell::new()),
            last_migration_failure: std::sync::Mutex::new(None),
            tasks: Vec::new(),
        };
        if let Err(error) = backend.migrated().await {
            tracing::warn!(error = %crate::telemetry::error_chain(&error), "token cache database not ready; retried on first use");
        }
        backend.tasks.push(tokio::spawn(sweep(backend.pool.clone())));
        Ok(backend)
    }

    /// The schema exists and the migrations ran (once per process). While the
    /// database is down, one caller tries every second; the others fail at once.
    async fn migrated(&self) -> Result<(), StoreError> {
        if self.migrated.initialized() {
            return Ok(());
        }
        let failed_recently = self
            .last_migration_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some_and(|at| at.elapsed() < MIGRATION_RETRY_AFTER);
        if failed_recently {
            return Err(StoreError::unavailable(STORE, "the token cache schema is not ready"));
        }
        let pool = self.pool.clone();
        let schema = self.schema.clone();
        let run = async move {
            // The schema first: the migrations' bookkeeping table is created in it.
            create_schema(&pool, &schema).await?;
            MIGRATOR.run(&pool).await
        };
        let outcome = self
            .migrated
            .get_or_try_init(|| async {
                match tokio::time::timeout(self.timeout * 3, run).await {
                    Ok(result) => result.map_err(|error: sqlx::migrate::MigrateError| unavailable(error)),
                    Err(_) => Err(StoreError::TimedOut { store: STORE, timeout: self.timeout * 3 }),
                }
            })
            .await
            .map(|_| ());
        if outcome.is_err() {
            *self.last_migration_failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(std::time::Instant::now());
        }
        outcome
    }

    /// Deletes the entries past their time limit now (the sweeper does it
    /// every minute); how many were deleted.
    pub async fn sweep_expired(&self) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        self.bounded(async move { sweep_expired(&pool).await }).await
    }

    async fn bounded<T>(&self, work: impl std::future::Future<Output = Result<T, sqlx::Error>>) -> Result<T, StoreError> {
        self.migrated().await?;
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result.map_err(|error| classify(error, self.timeout)),
            Err(_) => Err(StoreError::TimedOut { store: STORE, timeout: self.timeout }),
        }
    }
}

/// Creates `schema` unless it exists; another instance creating it at the same moment is fine.
pub(crate) async fn create_schema(pool: &PgPool, schema: &str) -> Result<(), sqlx::Error> {
    let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    match sqlx::raw_sql(&create).execute(pool).await {
        Ok(_) => Ok(()),
        Err(error) if error.as_database_error().is_some_and(|db| db.code().as_deref() == Some("23505")) => Ok(()),
        Err(error) => Err(error),
    }
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::unavailable(STORE, error)
}

/// SQLSTATE classes of a database that is there but cannot serve right now:
/// connection exceptions, insufficient resources, operator intervention
/// (shutdown, cancelled statements), and transaction rollbacks (serialization).
const TRANSIENT_SQLSTATE_CLASSES: [&str; 4] = ["08", "53", "57", "40"];

/// Whether `error` is the connection breaking under a statement (reset,
/// or ended by the server: `pg_terminate_backend`, a restart, a failover):
/// the pool opens another connection, so a statement that can be repeated
/// is worth one more try.
pub(crate) fn broken_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| code.starts_with("57P") || code.starts_with("08")),
        _ => false,
    }
}

/// How a PostgreSQL failure counts: slow, down, or a refusal that a retry will not change.
enum Failure {
    TimedOut,
    Down,
    Refused,
}

fn failure(error: &sqlx::Error) -> Failure {
    let code = error.as_database_error().and_then(|db| db.code()).map(|code| code.into_owned());
    match (error, code.as_deref()) {
        (sqlx::Error::PoolTimedOut, _) | (_, Some("57014")) => Failure::TimedOut,
        (sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed, _) => Failure::Down,
        (_, Some(code)) if TRANSIENT_SQLSTATE_CLASSES.iter().any(|class| code.starts_with(class)) => Failure::Down,
        // Wrong permissions, a missing table, a bad statement: a defect or misconfiguration.
        _ => Failure::Refused,
    }
}

/// Whether `error` is PostgreSQL down or slow (an outage), not a refusal.
pub(crate) fn is_outage(error: &sqlx::Error) -> bool {
    !matches!(failure(error), Failure::Refused)
}

fn classify(error: sqlx::Error, timeout: Duration) -> StoreError {
    match failure(&error) {
        Failure::TimedOut => StoreError::TimedOut { store: STORE, timeout },
        Failure::Down => unavailable(error),
        Failure::Refused => StoreError::Protocol { store: STORE, detail: error.to_string() },
    }
}

fn seconds(ttl: Duration) -> f64 {
    ttl.as_secs_f64()
}

#[async_trait::async_trait]
impl SharedCacheBackend for PostgresBackend {
    fn kind(&self) -> &'static str {
        STORE
    }

    async fn get(&self, name: &str, ttl: Duration) -> Result<Option<SealedEntry>, StoreError> {
        // One statement reads and slides the time limit.
        let row: Option<(i64, Vec<u8>)> = self
            .bounded(
                sqlx::query_as(
                    "UPDATE token_cache SET expires_at = now() + make_interval(secs => $2)
                     WHERE name = $1 AND expires_at > now() RETURNING etag, payload",
                )
                .bind(name)
                .bind(seconds(ttl))
                .fetch_optional(&self.pool),
            )
            .await?;
        Ok(row.map(|(etag, bytes)| SealedEntry { etag: Etag(etag as u64), bytes }))
    }

    async fn put(&self, name: &str, expected: Option<Etag>, entry: &SealedEntry, ttl: Duration) -> Result<bool, StoreError> {
        let written: Option<(i32,)> = match expected {
            // Absent, or present only past its time limit.
            None => {
                self.bounded(
                    sqlx::query_as(
                        "INSERT INTO token_cache (name, etag, payload, expires_at)
                         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
                         ON CONFLICT (name) DO UPDATE
                           SET etag = EXCLUDED.etag, payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at
                           WHERE token_cache.expires_at <= now()
                         RETURNING 1",
                    )
                    .bind(name)
                    .bind(entry.etag.0 as i64)
                    .bind(&entry.bytes)
                    .bind(seconds(ttl))
                    .fetch_optional(&self.pool),
                )
                .await?
            }
            Some(expected) => {
                self.bounded(
                    sqlx::query_as(
                        "UPDATE token_cache SET etag = $2, payload = $3, expires_at = now() + make_interval(secs => $4)
                         WHERE name = $1 AND etag = $5 AND expires_at > now() RETURNING 1",
                    )
                    .bind(name)
                    .bind(entry.etag.0 as i64)
                    .bind(&entry.bytes)
                    .bind(seconds(ttl))
                    .bind(expected.0 as i64)
                    .fetch_optional(&self.pool),
                )
                .await?
            }
        };
        Ok(written.is_some())
    }

    async fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = self
            .bounded(sqlx::query("DELETE FROM token_cache WHERE name = $1").bind(name).execute(&self.pool))
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn delete_if(&self, name: &str, etag: Etag) -> Result<bool, StoreError> {
        let deleted = self
            .bounded(
                sqlx::query("DELETE FROM token_cache WHERE name = $1 AND etag = $2")
                    .bind(name)
                    .bind(etag.0 as i64)
                    .execute(&self.pool),
            )
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn try_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let taken: Option<(i32,)> = self
            .bounded(
                sqlx::query_as(
                    "INSERT INTO token_cache_locks (name, owner, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
                     ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
                       WHERE token_cache_locks.expires_at <= now()
                     RETURNING 1",
                )
                .bind(name)
                .bind(owner)
                .bind(seconds(ttl))
                .fetch_optional(&self.pool),
            )
            .await?;
        Ok(taken.is_some())
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.bounded(
            sqlx::query("DELETE FROM token_cache_locks WHERE name = $1 AND owner = $2")
                .bind(name)
                .bind(owner)
                .execute(&self.pool),
        )
        .await?;
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
        let (count,): (i64,) = self
            .bounded(sqlx::query_as("SELECT count(*) FROM token_cache WHERE expires_at > now() AND name NOT LIKE 'r:%'").fetch_one(&self.pool))
            .await?;
        Ok(count.max(0) as u64)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.bounded(sqlx::query("SELECT 1").execute(&self.pool)).await?;
        Ok(())
    }
}

/// Deletes rows and locks past their time limit, forever.
async fn sweep(pool: PgPool) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(error) = sweep_expired(&pool).await {
            tracing::debug!(error = %error, "token cache sweep skipped");
        }
    }
}

async fn sweep_expired(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let rows = sqlx::query("DELETE FROM token_cache WHERE expires_at <= now()").execute(pool).await?.rows_affected();
    sqlx::query("DELETE FROM token_cache_locks WHERE expires_at <= now()").execute(pool).await?;
    Ok(rows)
}
