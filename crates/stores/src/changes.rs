//! Change notices between instances: one instance tells the others that a
//! named entry (a token cache partition, a session) changed, so they drop
//! the copy they keep in memory. The token cache's L1 and the sessions' L1
//! both follow a feed; Redis carries it over pub/sub, PostgreSQL over
//! `LISTEN`/`NOTIFY` (each backend's `feed` module).
//!
//! Whether a feed can be trusted is its [`FeedState`], which the feed
//! itself keeps (not an event a slow follower could miss): it listens only
//! once a probe it sent through the store came back to it, and stops
//! listening as soon as its connection breaks or a probe is late (a
//! connection that died without a word). Every such change moves its epoch,
//! so a copy read under an earlier epoch is never used again.

// What only a feed uses (listening, probing) is unused in a build with neither backend.
#![cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::StoreError;

/// A message from a shared store's change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeEvent {
    /// An instance wrote or removed this entry (by storage name).
    Changed(String),
    /// The feed listens (again): notices sent before may have been missed,
    /// so every local copy is suspect; those made from now on are heard.
    Resync,
    /// The feed's connection broke or went quiet: notices are being missed
    /// until the next [`ChangeEvent::Resync`].
    Interrupted,
}

/// Tells the other instances about changes, and hears theirs.
#[async_trait::async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// Tells the other instances that `name` changed.
    async fn publish(&self, name: &str) -> Result<(), StoreError>;

    /// The other instances' changes (this instance's own are filtered out).
    fn subscribe(&self) -> broadcast::Receiver<ChangeEvent>;

    /// Whether the feed listens now, and since when (its epoch).
    fn state(&self) -> FeedState;
}

/// Whether a feed listens, and its epoch: one number, read with one atomic
/// load on every request that might use a copy.
#[derive(Debug, Clone, Default)]
pub struct FeedState(Arc<AtomicU64>);

impl FeedState {
    /// The state now: the epoch times two, plus one while listening.
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Whether `state` (a value of [`Self::now`]) is a listening one.
    pub fn listening(state: u64) -> bool {
        state & 1 == 1
    }

    /// The feed listens from now on (a new epoch).
    pub(crate) fn listen(&self) {
        self.move_to(true);
    }

    /// The feed stopped listening (a new epoch).
    pub(crate) fn stop(&self) {
        self.move_to(false);
    }

    /// Notices may have been missed while still listening: a new epoch.
    pub(crate) fn skip(&self) {
        let listening = Self::listening(self.now());
        self.move_to(listening);
    }

    fn move_to(&self, listening: bool) {
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| Some(((state >> 1) + 1) << 1 | u64::from(listening)));
    }
}

/// Marks the feed as not listening when its task ends, however it ends
/// (returned, aborted, panicked).
pub(crate) struct StopOnExit(pub FeedState);

impl Drop for StopOnExit {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Notices buffered per receiver; a slower receiver loses some and resyncs.
pub(crate) const FEED_CAPACITY: usize = 1024;
/// How often a feed sends itself a probe through the store.
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A probe not back this long after it was sent means the feed is deaf.
pub(crate) const PROBE_DEADLINE: Duration = Duration::from_secs(2);

/// A random name for this instance, so its own notices are told apart.
pub(crate) fn instance_name() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// `instance|name`, the payload of a notice.
pub(crate) fn notice(instance: &str, name: &str) -> String {
    format!("{instance}|{name}")
}

/// The payload of instance `instance`'s probe.
pub(crate) fn probe(instance: &str) -> String {
    format!("{instance}|#probe")
}

/// The entry a notice names, unless this instance sent it.
pub(crate) fn heard<'a>(payload: &'a str, own_prefix: &str) -> Option<&'a str> {
    if payload.starts_with(own_prefix) {
        return None;
    }
    payload.split_once('|').map(|(_, name)| name)
}

/// A digest of a session's id: what its notices name, and the key of its
/// copy in an L1, so the feed (which anyone allowed to subscribe can read)
/// never carries a session id.
pub fn session_digest(id: &str) -> [u8; 32] {
    Sha256::new().chain_update(b"idweb-session:").chain_update(id.as_bytes()).finalize().into()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The name a session's notices carry: `s:` and its digest in hex.
pub fn session_notice_name(id: &str) -> String {
    let mut name = String::with_capacity(2 + 64);
    name.push_str("s:");
    for byte in session_digest(id) {
        name.push(char::from(HEX[usize::from(byte >> 4)]));
        name.push(char::from(HEX[usize::from(byte & 15)]));
    }
    name
}

/// The digest a session notice's name carries (`None`: not a session notice).
pub(crate) fn session_notice_digest(name: &str) -> Option<[u8; 32]> {
    let hex = name.strip_prefix("s:")?.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let nibble = |c: u8| HEX.iter().position(|&h| h == c).and_then(|n| u8::try_from(n).ok());
    let mut digest = [0u8; 32];
    for (index, pair) in hex.chunks(2).enumerate() {
        digest[index] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(digest)
}

/// What a session store publishes when the session `id` changed: the
/// digest's name, from no instance (every L1 applies it, this one's too).
pub(crate) fn session_notice(id: &str) -> String {
    anonymous_notice(&session_notice_name(id))
}

/// What a store that announces its own changes publishes (no instance: every
/// follower, this instance's too, applies it).
pub(crate) fn anonymous_notice(name: &str) -> String {
    format!("-|{name}")
}

#[cfg(test)]
mod tests {
    use super::{anonymous_notice, heard, notice, session_digest, session_notice_digest, session_notice_name, FeedState};

    #[test]
    fn a_notice_names_its_entry_and_its_own_are_ignored() {
        let own = "00000000000000aa|";
        assert_eq!(heard(&notice("00000000000000bb", "u:key|with|bars"), own), Some("u:key|with|bars"));
        assert_eq!(heard(&notice("00000000000000aa", "u:key"), own), None);
        assert_eq!(heard(&anonymous_notice("s:00"), own), Some("s:00"));
        assert_eq!(heard("no separator", own), None);
    }

    #[test]
    fn a_session_notice_names_a_digest_never_the_id() {
        let id = "q8Jh2WmW0LQq7d2d3Zf0rw";
        let name = session_notice_name(id);
        assert!(!name.contains(id));
        assert_eq!(name.len(), 2 + 64);
        assert_eq!(name, session_notice_name(id));
        assert_ne!(name, session_notice_name("another"));
        assert_eq!(session_notice_digest(&name), Some(session_digest(id)));
        assert_eq!(session_notice_digest("s:00"), None);
        assert_eq!(session_notice_digest("u:partition"), None);
    }

    #[test]
    fn every_change_of_a_feed_state_is_a_new_epoch() {
        let state = FeedState::default();
        let first = state.now();
        assert!(!FeedState::listening(first));
        state.listen();
        let listening = state.now();
        assert!(FeedState::listening(listening) && listening != first);
        state.skip();
        assert!(FeedState::listening(state.now()) && state.now() != listening);
        state.stop();
        assert!(!FeedState::listening(state.now()));
    }
}
