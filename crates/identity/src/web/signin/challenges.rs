//! Claims challenges the server itself received (a downstream API's
//! `insufficient_claims`, a token endpoint's `claims`), kept in the session
//! and referenced from sign-in links by an opaque id (AUTHZ-05).
//!
//! A sign-in link never carries claims: a link anyone can craft would then
//! decide what the provider is asked (an authentication context, a
//! capability) on the victim's behalf. The id means nothing outside the
//! session that received the challenge.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::IdentityError;

const CHALLENGES_KEY: &str = "idweb.claims_challenges";
/// How long a challenge can be answered: as long as a sign-in may take.
const CHALLENGE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Oldest challenges are dropped beyond this many.
const MAX_CHALLENGES: usize = 8;
/// Bytes of randomness in an id.
const ID_BYTES: usize = 16;

/// A claims challenge and when it was received.
#[derive(Clone, Serialize, Deserialize)]
struct KeptChallenge {
    id: String,
    claims: String,
    received_at: u64,
}


fn is_current(challenge: &KeptChallenge) -> bool {
    crate::clock::unix_seconds().saturating_sub(challenge.received_at) <= CHALLENGE_LIFETIME.as_secs()
}

/// Keeps `claims` in `session` and returns the id a sign-in link may carry.
/// The same claims kept again get the same id, so a page that asks twice
/// does not fill the session.
pub async fn remember(session: &Session, claims: &str) -> Result<String, IdentityError> {
    let mut kept: Vec<KeptChallenge> = session.get(CHALLENGES_KEY).await?.unwrap_or_default();
    kept.retain(is_current);
    if let Some(existing) = kept.iter().find(|challenge| challenge.claims == claims) {
        return Ok(existing.id.clone());
    }
    let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; ID_BYTES]>());
    kept.push(KeptChallenge { id: id.clone(), claims: claims.to_owned(), received_at: crate::clock::unix_seconds() });
    if kept.len() > MAX_CHALLENGES {
        kept.drain(..kept.len() - MAX_CHALLENGES);
    }
    session.insert(CHALLENGES_KEY, kept).await?;
    Ok(id)
}

/// The claims kept under `id` in this session, if it is current.
pub(crate) async fn find(session: &Session, id: &str) -> Result<Option<String>, IdentityError> {
    let kept: Vec<KeptChallenge> = session.get(CHALLENGES_KEY).await?.unwrap_or_default();
    Ok(kept.into_iter().find(|challenge| challenge.id == id && is_current(challenge)).map(|challenge| challenge.claims))
}

/// Drops the challenge `id` once a sign-in answered it.
pub(crate) async fn forget(session: &Session, id: &str) -> Result<(), IdentityError> {
    let Some(mut kept) = session.get::<Vec<KeptChallenge>>(CHALLENGES_KEY).await? else {
        return Ok(());
    };
    kept.retain(|challenge| challenge.id != id && is_current(challenge));
    if kept.is_empty() {
        session.remove_value(CHALLENGES_KEY).await?;
    } else {
        session.insert(CHALLENGES_KEY, kept).await?;
    }
    Ok(())
}
