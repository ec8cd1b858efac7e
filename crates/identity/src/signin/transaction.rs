//! Sign-ins in flight: state, nonce and PKCE verifier kept server-side in
//! the session, one entry per `state` so several tabs can sign in at once
//! (AUTHZ-02, AUTHZ-04).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Records a new sign-in, dropping expired and surplus ones.
pub async fn remember(session: &Session, mut pending: PendingSignIn) -> Result<(), IdentityError> {
    pending.started_at = now_secs();
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
    now_secs().saturating_sub(entry.started_at) > PENDING_LIFETIME.as_secs()
}

/// Comparison whose time does not depend on where the inputs differ.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}
