//! Change notices between instances: one instance tells the others that a
//! named entry (a token cache partition, a session) changed, so they drop
//! the copy they keep in memory. The token cache's L1 and the sessions' L1
//! both follow a feed; Redis carries it over pub/sub, PostgreSQL over
//! `LISTEN`/`NOTIFY` (each backend's `feed` module).

use tokio::sync::broadcast;

use crate::StoreError;

/// A message from a shared store's change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeEvent {
    /// Another instance wrote or removed this entry (by storage name).
    Changed(String),
    /// The feed listens (again): notices sent before may have been missed,
    /// so every local copy is suspect; those made from now on are heard.
    Resync,
    /// The feed's connection broke: notices are being missed until the
    /// next [`ChangeEvent::Resync`], so no local copy may be trusted.
    Interrupted,
}

/// Tells the other instances about changes, and hears theirs.
#[async_trait::async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// Tells the other instances that `name` changed.
    async fn publish(&self, name: &str) -> Result<(), StoreError>;

    /// The other instances' changes (this instance's own are filtered out).
    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent>;
}

/// Notices buffered per receiver; a slower receiver loses some and resyncs.
pub(crate) const FEED_CAPACITY: usize = 1024;

/// A random name for this instance, so its own notices are told apart.
pub(crate) fn instance_name() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// `instance|name`, the payload of a notice.
pub(crate) fn notice(instance: &str, name: &str) -> String {
    format!("{instance}|{name}")
}

/// The entry a notice names, unless this instance sent it.
pub(crate) fn heard<'a>(payload: &'a str, own_prefix: &str) -> Option<&'a str> {
    if payload.starts_with(own_prefix) {
        return None;
    }
    payload.split_once('|').map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::{heard, notice};

    #[test]
    fn a_notice_names_its_entry_and_its_own_are_ignored() {
        let own = "00000000000000aa|";
        assert_eq!(heard(&notice("00000000000000bb", "u:key|with|bars"), own), Some("u:key|with|bars"));
        assert_eq!(heard(&notice("00000000000000aa", "u:key"), own), None);
        assert_eq!(heard("no separator", own), None);
    }
}
