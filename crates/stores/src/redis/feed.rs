//! Change notices over Redis pub/sub: published through the store's pool,
//! heard on a subscriber connection of their own. Every (re)connection of
//! that connection subscribes again and reports [`ChangeEvent::Resync`];
//! a connection error reports [`ChangeEvent::Interrupted`] at once, so a
//! follower stops trusting its copies while notices cannot reach it.

use std::time::Duration;

use fred::clients::{Pool, SubscriberClient};
use fred::prelude::*;
use tokio::sync::broadcast;

use super::{builder, classify, unavailable};
use crate::changes::{heard, instance_name, notice, ChangeEvent, ChangeFeed, FEED_CAPACITY};
use crate::settings::SharedStoreConfig;
use crate::StoreError;

/// Tries at subscribing to change notices after each (re)connection.
const SUBSCRIBE_ATTEMPTS: u32 = 5;

/// One channel's notices in one Redis (or Redis Cluster).
pub struct RedisChangeFeed {
    pool: Pool,
    subscriber: SubscriberClient,
    options: Options,
    channel: String,
    instance: String,
    timeout: Duration,
    changes: broadcast::Sender<ChangeEvent>,
    follower: tokio::task::JoinHandle<()>,
}

impl Drop for RedisChangeFeed {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl std::fmt::Debug for RedisChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChangeFeed").field("channel", &self.channel).field("connected", &self.subscriber.is_connected()).finish()
    }
}

impl RedisChangeFeed {
    /// Notices on `channel` of the Redis `config` names, published through
    /// `pool`; the subscriber connects in the background (needs a Tokio
    /// runtime) and keeps reconnecting.
    pub fn start(config: &SharedStoreConfig, pool: Pool, channel: String) -> Result<Self, StoreError> {
        let subscriber = builder(config)?.build_subscriber_client().map_err(unavailable)?;
        let instance = instance_name();
        let (changes, _) = broadcast::channel(FEED_CAPACITY);
        // The receivers exist before the first connection, so its reconnect event (which subscribes) is never missed.
        let (messages, reconnections, errors) = (subscriber.message_rx(), subscriber.reconnect_rx(), subscriber.error_rx());
        let follower = tokio::spawn(follow(subscriber.clone(), messages, reconnections, errors, channel.clone(), instance.clone(), changes.clone()));
        drop(subscriber.connect());
        Ok(Self {
            pool,
            subscriber,
            options: Options { fail_fast: true, timeout: Some(config.timeout), ..Default::default() },
            channel,
            instance,
            timeout: config.timeout,
            changes,
            follower,
        })
    }

    /// Whether the subscriber connection is up now.
    pub fn is_connected(&self) -> bool {
        self.subscriber.is_connected()
    }
}

#[async_trait::async_trait]
impl ChangeFeed for RedisChangeFeed {
    async fn publish(&self, name: &str) -> Result<(), StoreError> {
        let _: i64 = self
            .pool
            .next_connected()
            .with_options(&self.options)
            .publish(self.channel.as_str(), notice(&self.instance, name))
            .await
            .map_err(|error| classify(error, self.timeout))?;
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.changes.subscribe()
    }
}

/// Forwards the other instances' notices, for the life of the feed.
async fn follow(
    subscriber: SubscriberClient,
    mut messages: broadcast::Receiver<fred::types::Message>,
    mut reconnections: broadcast::Receiver<Server>,
    mut errors: broadcast::Receiver<(Error, Option<Server>)>,
    channel: String,
    instance: String,
    changes: broadcast::Sender<ChangeEvent>,
) {
    let own_prefix = format!("{instance}|");
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Ok(message) if &*message.channel == channel.as_str() => {
                    if let Some(name) = message.value.as_str().as_deref().and_then(|text| heard(text, &own_prefix)) {
                        let _ = changes.send(ChangeEvent::Changed(name.to_owned()));
                    }
                }
                Ok(_) => {}
                // Messages were dropped before this task read them.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = changes.send(ChangeEvent::Resync);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            reconnected = reconnections.recv() => match reconnected {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    let event = if subscribe(&subscriber, &channel).await { ChangeEvent::Resync } else { ChangeEvent::Interrupted };
                    let _ = changes.send(event);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            error = errors.recv() => match error {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = changes.send(ChangeEvent::Interrupted);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
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
