//! Change notices over PostgreSQL `NOTIFY`, heard with `LISTEN` on a
//! connection of its own (a pool of one, apart from the store's, so a busy
//! store pool never holds the feed up nor the feed a store connection).
//!
//! The feed listens ([`FeedState`]) only once a probe it sent with
//! `pg_notify` came back, and stops at once when its connection breaks or
//! a probe is not back within [`PROBE_DEADLINE`] (then it listens anew on a
//! new connection).

use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::broadcast;

use super::{classify, STORE};
use crate::changes::{heard, instance_name, notice, probe, ChangeEvent, ChangeFeed, FeedState, StopOnExit, FEED_CAPACITY, PROBE_DEADLINE, PROBE_EVERY};
use crate::StoreError;

/// How long to wait before listening again after the notice connection failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// One channel's notices in one database.
pub struct PostgresChangeFeed {
    publisher: Publisher,
    changes: broadcast::Sender<ChangeEvent>,
    state: FeedState,
    listener: tokio::task::JoinHandle<()>,
}

/// What publishing needs (the listening task sends its probes with it too).
#[derive(Clone)]
struct Publisher {
    pool: PgPool,
    channel: String,
    instance: String,
    timeout: Duration,
}

impl Publisher {
    async fn send(&self, payload: String) -> Result<(), StoreError> {
        let notify = sqlx::query("SELECT pg_notify($1, $2)").bind(&self.channel).bind(payload).execute(&self.pool);
        match tokio::time::timeout(self.timeout, notify).await {
            Ok(result) => result.map(|_| ()).map_err(|error| classify(error, self.timeout)),
            Err(_) => Err(StoreError::TimedOut { store: STORE, timeout: self.timeout }),
        }
    }
}

impl Drop for PostgresChangeFeed {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl std::fmt::Debug for PostgresChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresChangeFeed")
            .field("channel", &self.publisher.channel)
            .field("listening", &FeedState::listening(self.state.now()))
            .finish_non_exhaustive()
    }
}

impl PostgresChangeFeed {
    /// Notices on `channel` (an SQL identifier) of `pool`'s database, each
    /// `NOTIFY` bounded by `timeout`; listens in the background (needs a
    /// Tokio runtime) on a connection of its own, again after every loss.
    pub fn start(pool: PgPool, channel: String, timeout: Duration) -> Self {
        let (changes, _) = broadcast::channel(FEED_CAPACITY);
        let state = FeedState::default();
        let listening_pool = PgPoolOptions::new().max_connections(1).acquire_timeout(timeout.max(Duration::from_secs(1))).connect_lazy_with((*pool.connect_options()).clone());
        let publisher = Publisher { pool, channel, instance: instance_name(), timeout };
        let listener = tokio::spawn(listen(listening_pool, publisher.clone(), changes.clone(), state.clone()));
        Self { publisher, changes, state, listener }
    }

    /// The channel, for stores that notify in the same statement as their change.
    pub fn channel(&self) -> &str {
        &self.publisher.channel
    }
}

#[async_trait::async_trait]
impl ChangeFeed for PostgresChangeFeed {
    async fn publish(&self, name: &str) -> Result<(), StoreError> {
        self.publisher.send(notice(&self.publisher.instance, name)).await
    }

    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.changes.subscribe()
    }

    fn state(&self) -> FeedState {
        self.state.clone()
    }
}

/// Listens, forwards other instances' notices and probes, for the life of the feed.
async fn listen(pool: PgPool, publisher: Publisher, changes: broadcast::Sender<ChangeEvent>, state: FeedState) {
    let _stop = StopOnExit(state.clone());
    let own_prefix = format!("{}|", publisher.instance);
    let own_probe = probe(&publisher.instance);
    loop {
        if let Some(why) = listen_once(&pool, &publisher, &own_prefix, &own_probe, &changes, &state).await {
            if FeedState::listening(state.now()) {
                tracing::warn!(channel = publisher.channel.as_str(), reason = why, "change notices stopped; local copies are not used until they are heard again");
            }
        }
        state.stop();
        let _ = changes.send(ChangeEvent::Interrupted);
        tokio::time::sleep(RELISTEN_AFTER).await;
    }
}

/// One connection's life: listen, probe, forward; why it ended.
async fn listen_once(
    pool: &PgPool,
    publisher: &Publisher,
    own_prefix: &str,
    own_probe: &str,
    changes: &broadcast::Sender<ChangeEvent>,
    state: &FeedState,
) -> Option<&'static str> {
    let Ok(mut listener) = PgListener::connect_with(pool).await else { return Some("cannot connect") };
    // A lost connection ends this listener; the loop above listens anew (and says so).
    listener.eager_reconnect(false);
    if listener.listen(&publisher.channel).await.is_err() {
        return Some("LISTEN failed");
    }
    let mut every = tokio::time::interval(PROBE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Listening is declared when the first probe comes back.
    let mut probe_sent = Some(Instant::now());
    send_probe(publisher, own_probe);
    loop {
        tokio::select! {
            received = listener.try_recv() => match received {
                Ok(Some(received)) => {
                    let payload = received.payload();
                    if payload == own_probe {
                        probe_sent = None;
                        if !FeedState::listening(state.now()) {
                            state.listen();
                            let _ = changes.send(ChangeEvent::Resync);
                        }
                    } else if let Some(name) = heard(payload, own_prefix) {
                        let _ = changes.send(ChangeEvent::Changed(name.to_owned()));
                    }
                }
                Ok(None) | Err(_) => return Some("the connection was lost"),
            },
            _ = every.tick() => match probe_sent {
                Some(sent) if sent.elapsed() > PROBE_DEADLINE => return Some("a probe did not come back in time"),
                // Not back yet: another, in case that one was lost on the way (the deadline runs from the first).
                Some(_) => send_probe(publisher, own_probe),
                None => {
                    probe_sent = Some(Instant::now());
                    send_probe(publisher, own_probe);
                }
            },
        }
    }
}

/// Sends a probe beside the listener (a failure shows as the probe not coming back).
fn send_probe(publisher: &Publisher, payload: &str) {
    let (publisher, payload) = (publisher.clone(), payload.to_owned());
    tokio::spawn(async move { let _ = publisher.send(payload).await; });
}
