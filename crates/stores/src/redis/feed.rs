//! Change notices over Redis pub/sub: published through the store's pool,
//! heard on a subscriber connection of their own.
//!
//! The feed listens ([`FeedState`]) only once a probe it published came
//! back on its subscription, and stops at once when the subscriber
//! connection reports an error or a probe is not back within
//! [`PROBE_DEADLINE`] (a connection that died without a word, a proxy that
//! dropped it, a Cluster link that lost messages): then the subscriber is
//! made to reconnect, subscribes again, and listens once its next probe is
//! back. Subscribing runs beside the feed, so notices keep flowing meanwhile.

use std::time::{Duration, Instant};

use fred::clients::{Pool, SubscriberClient};
use fred::prelude::*;
use tokio::sync::{broadcast, mpsc};

use super::{builder, classify, unavailable};
use crate::changes::{heard, instance_name, notice, probe, ChangeEvent, ChangeFeed, FeedState, StopOnExit, FEED_CAPACITY, PROBE_DEADLINE, PROBE_EVERY};
use crate::settings::SharedStoreConfig;
use crate::StoreError;

/// Tries at subscribing to change notices after each (re)connection.
const SUBSCRIBE_ATTEMPTS: u32 = 5;

/// One channel's notices in one Redis (or Redis Cluster).
pub struct RedisChangeFeed {
    publisher: Publisher,
    subscriber: SubscriberClient,
    channel: String,
    changes: broadcast::Sender<ChangeEvent>,
    state: FeedState,
    follower: tokio::task::JoinHandle<()>,
}

/// What publishing needs (the feed's task publishes its probes with it too).
#[derive(Clone)]
struct Publisher {
    pool: Pool,
    options: Options,
    channel: String,
    instance: String,
    timeout: Duration,
}

impl Publisher {
    async fn send(&self, payload: String) -> Result<(), StoreError> {
        let _: i64 = self
            .pool
            .next_connected()
            .with_options(&self.options)
            .publish(self.channel.as_str(), payload)
            .await
            .map_err(|error| classify(error, self.timeout))?;
        Ok(())
    }
}

impl Drop for RedisChangeFeed {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl std::fmt::Debug for RedisChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChangeFeed")
            .field("channel", &self.channel)
            .field("connected", &self.subscriber.is_connected())
            .field("listening", &FeedState::listening(self.state.now()))
            .finish()
    }
}

impl RedisChangeFeed {
    /// Notices on `channel` of the Redis `config` names, published through
    /// `pool`; the subscriber connects in the background (needs a Tokio
    /// runtime) and keeps reconnecting.
    pub fn start(config: &SharedStoreConfig, pool: Pool, channel: String) -> Result<Self, StoreError> {
        let subscriber = builder(config)?.build_subscriber_client().map_err(unavailable)?;
        let publisher = Publisher {
            pool,
            options: Options { fail_fast: true, timeout: Some(config.timeout), ..Default::default() },
            channel: channel.clone(),
            instance: instance_name(),
            timeout: config.timeout,
        };
        let (changes, _) = broadcast::channel(FEED_CAPACITY);
        let state = FeedState::default();
        // The receivers exist before the first connection, so its reconnect event (which subscribes) is never missed.
        let receivers = Receivers { messages: subscriber.message_rx(), reconnections: subscriber.reconnect_rx(), errors: subscriber.error_rx() };
        let follower = tokio::spawn(follow(subscriber.clone(), receivers, publisher.clone(), changes.clone(), state.clone()));
        drop(subscriber.connect());
        Ok(Self { publisher, subscriber, channel, changes, state, follower })
    }

    /// Whether the subscriber connection is up now.
    pub fn is_connected(&self) -> bool {
        self.subscriber.is_connected()
    }

    /// The channel, for stores that publish their own notices (in the same
    /// script as their change, so neither happens without the other).
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

#[async_trait::async_trait]
impl ChangeFeed for RedisChangeFeed {
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

/// What the subscriber client reports.
struct Receivers {
    messages: broadcast::Receiver<fred::types::Message>,
    reconnections: broadcast::Receiver<Server>,
    errors: broadcast::Receiver<(Error, Option<Server>)>,
}

/// Forwards notices, keeps the feed's state, and probes, for the life of the feed.
async fn follow(subscriber: SubscriberClient, mut from: Receivers, publisher: Publisher, changes: broadcast::Sender<ChangeEvent>, state: FeedState) {
    let _stop = StopOnExit(state.clone());
    let own_prefix = format!("{}|", publisher.instance);
    let own_probe = probe(&publisher.instance);
    let (subscribed_tx, mut subscribed) = mpsc::channel::<bool>(4);
    let mut every = tokio::time::interval(PROBE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The probe on its way, and when it left.
    let mut probe_sent: Option<Instant> = None;
    let stop = |reason: &str| {
        if FeedState::listening(state.now()) {
            tracing::warn!(channel = publisher.channel.as_str(), reason, "change notices stopped; local copies are not used until they are heard again");
        }
        state.stop();
        let _ = changes.send(ChangeEvent::Interrupted);
    };
    loop {
        tokio::select! {
            // Errors first: a broken connection must stop the feed before anything else is believed.
            biased;
            error = from.errors.recv() => match error {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    stop("the subscriber connection failed");
                    probe_sent = None;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            reconnected = from.reconnections.recv() => match reconnected {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    let (subscriber, channel, done) = (subscriber.clone(), publisher.channel.clone(), subscribed_tx.clone());
                    tokio::spawn(async move { let _ = done.send(subscribe(&subscriber, &channel).await).await; });
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            Some(ok) = subscribed.recv() => {
                if ok {
                    // Listening is declared when this probe comes back.
                    probe_sent = Some(Instant::now());
                    send_probe(&publisher, &own_probe);
                } else {
                    stop("subscribing failed");
                }
            },
            message = from.messages.recv() => match message {
                Ok(message) if &*message.channel == publisher.channel.as_str() => {
                    let Some(text) = message.value.as_str() else { continue };
                    if *text == *own_probe {
                        probe_sent = None;
                        if !FeedState::listening(state.now()) {
                            state.listen();
                            let _ = changes.send(ChangeEvent::Resync);
                        }
                    } else if let Some(name) = heard(&text, &own_prefix) {
                        let _ = changes.send(ChangeEvent::Changed(name.to_owned()));
                    }
                }
                Ok(_) => {}
                // Messages were dropped before this task read them.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    state.skip();
                    let _ = changes.send(ChangeEvent::Resync);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = every.tick() => match probe_sent {
                Some(sent) if sent.elapsed() > PROBE_DEADLINE => {
                    stop("a probe did not come back in time");
                    probe_sent = None;
                    if subscriber.is_connected() {
                        // Connected but deaf: a new connection subscribes afresh.
                        let subscriber = subscriber.clone();
                        tokio::spawn(async move { let _ = subscriber.force_reconnection().await; });
                    }
                }
                // Not back yet: another, in case that one was lost on the way (the deadline runs from the first).
                Some(_) => send_probe(&publisher, &own_probe),
                None if subscriber.is_connected() => {
                    probe_sent = Some(Instant::now());
                    send_probe(&publisher, &own_probe);
                }
                None => {}
            },
        }
    }
}

/// Publishes a probe beside the feed (a failure shows as the probe not coming back).
fn send_probe(publisher: &Publisher, payload: &str) {
    let (publisher, payload) = (publisher.clone(), payload.to_owned());
    tokio::spawn(async move { let _ = publisher.send(payload).await; });
}

/// Subscribes to the change channel, trying a few times (a subscription
/// that timed out is not one fred renews by itself); whether it worked.
async fn subscribe(subscriber: &SubscriberClient, channel: &str) -> bool {
    for attempt in 1..=SUBSCRIBE_ATTEMPTS {
        match subscriber.subscribe(channel).await {
            Ok(()) => return true,
            Err(error) if attempt == SUBSCRIBE_ATTEMPTS => {
                tracing::warn!(error = %error, channel, "cannot subscribe to change notices; retried on the next reconnection");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await,
        }
    }
    false
}
