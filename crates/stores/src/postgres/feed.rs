//! Change notices over PostgreSQL `NOTIFY`, heard with `LISTEN` on a
//! connection of their own. Listening (again) reports
//! [`ChangeEvent::Resync`]; the connection breaking reports
//! [`ChangeEvent::Interrupted`] before the next attempt.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::broadcast;

use super::{classify, STORE};
use crate::changes::{heard, instance_name, notice, ChangeEvent, ChangeFeed, FEED_CAPACITY};
use crate::StoreError;

/// How long to wait before listening again after the notice connection failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// One channel's notices in one database.
pub struct PostgresChangeFeed {
    pool: PgPool,
    channel: String,
    instance: String,
    timeout: Duration,
    changes: broadcast::Sender<ChangeEvent>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PostgresChangeFeed {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl std::fmt::Debug for PostgresChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresChangeFeed").field("channel", &self.channel).finish_non_exhaustive()
    }
}

impl PostgresChangeFeed {
    /// Notices on `channel` (an SQL identifier) of `pool`'s database, each
    /// `NOTIFY` bounded by `timeout`; listens in the background (needs a
    /// Tokio runtime), again after every lost connection.
    pub fn start(pool: PgPool, channel: String, timeout: Duration) -> Self {
        let (changes, _) = broadcast::channel(FEED_CAPACITY);
        let instance = instance_name();
        let listener = tokio::spawn(listen(pool.clone(), channel.clone(), instance.clone(), changes.clone()));
        Self { pool, channel, instance, timeout, changes, listener }
    }
}

#[async_trait::async_trait]
impl ChangeFeed for PostgresChangeFeed {
    async fn publish(&self, name: &str) -> Result<(), StoreError> {
        let notify = sqlx::query("SELECT pg_notify($1, $2)").bind(&self.channel).bind(notice(&self.instance, name)).execute(&self.pool);
        match tokio::time::timeout(self.timeout, notify).await {
            Ok(result) => result.map(|_| ()).map_err(|error| classify(error, self.timeout)),
            Err(_) => Err(StoreError::TimedOut { store: STORE, timeout: self.timeout }),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.changes.subscribe()
    }
}

/// Forwards other instances' notices, for the life of the feed.
async fn listen(pool: PgPool, channel: String, instance: String, changes: broadcast::Sender<ChangeEvent>) {
    let own_prefix = format!("{instance}|");
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(_) => {
                tokio::time::sleep(RELISTEN_AFTER).await;
                continue;
            }
        };
        if listener.listen(&channel).await.is_err() {
            tokio::time::sleep(RELISTEN_AFTER).await;
            continue;
        }
        // Anything written before we listened may have been missed.
        let _ = changes.send(ChangeEvent::Resync);
        // Ok(None) or an error: the connection dropped, notices may be lost; listen again.
        while let Ok(Some(received)) = listener.try_recv().await {
            if let Some(name) = heard(received.payload(), &own_prefix) {
                let _ = changes.send(ChangeEvent::Changed(name.to_owned()));
            }
        }
        let _ = changes.send(ChangeEvent::Interrupted);
        tokio::time::sleep(RELISTEN_AFTER).await;
    }
}
