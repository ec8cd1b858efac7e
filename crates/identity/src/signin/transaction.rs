//! Sign-ins in flight: state, nonce and PKCE verifier kept server-side in
//! the session, one entry per `state` so several tabs can sign in at once
//! (AUTHZ-02, AUTHZ-04).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::{IdentityError, SignInRejection};

const PENDING_KEY: &str = "idweb.pending_sign_ins";
/// A sign-in must come back within this time (AUTHZ-02: at most 10 minutes).
pub const PENDING_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Oldest entries are dropped beyond this many, so a looping tab cannot grow the session.
const MAX_PENDING: usize = 5;

/// One sign-in waiting for its authorization response.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier whose S256 challenge was sent.
    pub pkce_verifier: String,
    /// Where to go after sign-in (already validated).
    pub return_to: String,
    /// Scopes asked beyond sign-in (incremental consent); empty for a first sign-in.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The id of the kept claims challenge the request answered (AUTHZ-05).
    #[serde(default)]
    pub challenge: Option<String>,
    /// Whether this was a silent (`prompt=none`) attempt, to fall back from.
    #[serde(default)]
    pub silent: bool,
    /// Seconds since the epoch when the sign-in started.
    pub started_at: u64,
}

// Hand-written so the nonce and verifier can never reach a log.
impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn").field("return_to", &self.return_to).field("started_at", &self.started_at).finish_non_exhaustive()
    }
}


/// Records a new sign-in, dropping expired and surplus ones.
pub async fn remember(session: &Session, mut pending: PendingSignIn) -> Result<(), IdentityError> {
    pending.started_at = crate::unix_seconds();
    let mut all: Vec<PendingSignIn> = session.get(PENDING_KEY).await?.unwrap_or_default();
    all.retain(|entry| !is_expired(entry));
    all.push(pending);
    if all.len() > MAX_PENDING {
        all.drain(..all.len() - MAX_PENDING);
    }
    session.insert(PENDING_KEY, all).await?;
    Ok(())
}

/// Removes and returns the sign-in started with `state`: single use, so a
/// replayed response finds nothing.
pub async fn take(session: &Session, state: &str) -> Result<PendingSignIn, IdentityError> {
    let Some(mut all) = session.get::<Vec<PendingSignIn>>(PENDING_KEY).await? else {
        return Err(IdentityError::SignInRejected(SignInRejection::UnknownState));
    };
    let position = all.iter().position(|entry| constant_time_eq(entry.state.as_bytes(), state.as_bytes()));
    let taken = position.map(|index| all.remove(index));
    all.retain(|entry| !is_expired(entry));
    if all.is_empty() {
        session.remove_value(PENDING_KEY).await?;
    } else {
        session.insert(PENDING_KEY, all).await?;
    }
    match taken {
        None => Err(IdentityError::SignInRejected(SignInRejection::UnknownState)),
        Some(entry) if is_expired(&entry) => Err(IdentityError::SignInRejected(SignInRejection::Expired)),
        Some(entry) => Ok(entry),
    }
}

fn is_expired(entry: &PendingSignIn) -> bool {
    crate::unix_seconds().saturating_sub(entry.started_at) > PENDING_LIFETIME.as_secs()
}

/// Comparison whose time does not depend on where the inputs differ.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn session() -> Session {
        Session::new(None, Arc::new(tower_sessions::MemoryStore::default()), None)
    }

    fn pending(state: &str) -> PendingSignIn {
        PendingSignIn {
            state: state.into(),
            nonce: format!("nonce-{state}"),
            pkce_verifier: format!("verifier-{state}"),
            return_to: "/".into(),
            scopes: Vec::new(),
            challenge: None,
            silent: false,
            started_at: 0,
        }
    }

    #[tokio::test]
    async fn authz_02_a_pending_sign_in_is_single_use() {
        let session = session();
        remember(&session, pending("s1")).await.unwrap();
        assert_eq!(take(&session, "s1").await.unwrap().nonce, "nonce-s1");
        assert!(matches!(take(&session, "s1").await, Err(IdentityError::SignInRejected(SignInRejection::UnknownState))), "replayed");
    }

    #[tokio::test]
    async fn authz_02_a_pending_sign_in_older_than_ten_minutes_is_refused_as_expired() {
        let session = session();
        remember(&session, pending("old")).await.unwrap();
        let mut all: Vec<PendingSignIn> = session.get(PENDING_KEY).await.unwrap().unwrap();
        all[0].started_at = crate::unix_seconds() - PENDING_LIFETIME.as_secs() - 1;
        session.insert(PENDING_KEY, all).await.unwrap();
        assert!(matches!(take(&session, "old").await, Err(IdentityError::SignInRejected(SignInRejection::Expired))));
        assert!(session.get::<Vec<PendingSignIn>>(PENDING_KEY).await.unwrap().is_none(), "and forgotten");
    }

    #[tokio::test]
    async fn authz_02_pending_sign_ins_are_bounded_per_session() {
        let session = session();
        for index in 0..(MAX_PENDING + 3) {
            remember(&session, pending(&format!("s{index}"))).await.unwrap();
        }
        assert!(take(&session, "s0").await.is_err(), "the oldest made room");
        assert!(take(&session, &format!("s{}", MAX_PENDING + 2)).await.is_ok(), "the newest is kept");
    }

    #[test]
    fn authz_02_states_are_compared_in_full() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"), "a prefix is not a match");
    }
}
