//! Which sessions belong to a provider session (`sid`) and to a user
//! (`sub`), so a logout from the provider can end them on every instance.
//!
//! The index lives in the token cache store as records (shared and sealed
//! like partitions with a shared store), written at sign-in, read only when
//! the provider signs someone out: no cost on ordinary requests.

use serde::{Deserialize, Serialize};
use tower_sessions::session::Id;
use tower_sessions::SessionStore;

use crate::cache::RecordName;
use crate::error::IdentityError;
use crate::user::{HomeAccountId, SignedInUser};
use crate::Identity;

/// Sessions kept per provider session or user; the oldest are forgotten
/// first (they have most likely ended already).
const MAX_SESSIONS: usize = 32;
/// Compare-and-set attempts before an index update is given up.
const MAX_WRITE_ATTEMPTS: usize = 4;

/// One index record: the user and their session ids.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SessionList {
    home_account_id: String,
    sessions: Vec<String>,
}

/// The record of the provider session `sid` named by `issuer`.
pub(crate) fn by_provider_session(issuer: &str, sid: &str) -> RecordName {
    RecordName::digest("sid", &[issuer, sid])
}

/// The record of the user `sub` named by `issuer`.
pub(crate) fn by_subject(issuer: &str, sub: &str) -> RecordName {
    RecordName::digest("sub", &[issuer, sub])
}

/// Records that `session_id` belongs to `user` (under their `sid`, if the
/// ID token named one, and their `sub`). Called at sign-in.
pub(crate) async fn register(identity: &Identity, user: &SignedInUser, session_id: Id) -> Result<(), IdentityError> {
    let issuer = &user.id_token.issuer;
    let mut names = vec![by_subject(issuer, &user.id_token.subject)];
    if let Some(sid) = &user.provider_session_id {
        names.push(by_provider_session(issuer, sid));
    }
    for name in names {
        add(identity, &name, &user.home_account_id, &session_id.to_string()).await?;
    }
    Ok(())
}

async fn add(identity: &Identity, name: &RecordName, home_account_id: &HomeAccountId, session_id: &str) -> Result<(), IdentityError> {
    let store = identity.cache();
    let ttl = identity.config().session.absolute_timeout;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = store.load_record(name, ttl).await?;
        let mut list: SessionList = match &current {
            Some((bytes, _)) => serde_json::from_slice(bytes).unwrap_or_default(),
            None => SessionList::default(),
        };
        list.home_account_id = home_account_id.as_str().to_owned();
        list.sessions.retain(|known| known != session_id);
        list.sessions.push(session_id.to_owned());
        if list.sessions.len() > MAX_SESSIONS {
            list.sessions.drain(..list.sessions.len() - MAX_SESSIONS);
        }
        let bytes = serde_json::to_vec(&list).map_err(|error| IdentityError::TokenCache(crate::cache::CacheError::Encoding(error)))?;
        if store.save_record(name, &bytes, current.map(|(_, etag)| etag), ttl).await? {
            return Ok(());
        }
    }
    tracing::warn!("the sign-out index kept changing under this sign-in; this session may outlive a provider logout");
    Ok(())
}

/// Ends every session the record `name` lists and removes the user's
/// cached tokens; how many sessions were ended. Nothing listed: nothing to do
/// (a repeated logout, or one for a session this app never saw).
pub(crate) async fn end(identity: &Identity, name: &RecordName) -> Result<usize, IdentityError> {
    let store = identity.cache();
    let Some((bytes, _)) = store.load_record(name, identity.config().session.absolute_timeout).await? else {
        return Ok(0);
    };
    let list: SessionList = serde_json::from_slice(&bytes).unwrap_or_default();
    let mut ended = 0;
    for session_id in &list.sessions {
        // An id that does not parse was never written by us: skipped.
        let Ok(id) = session_id.parse::<Id>() else { continue };
        identity.sessions.delete(&id).await.map_err(|error| IdentityError::Session(error.into()))?;
        ended += 1;
    }
    if !list.home_account_id.is_empty() {
        let account = HomeAccountId::from_text(&list.home_account_id);
        identity.tokens().remove_account(&account).await?;
        identity.graph().forget_photo_of(&account);
    }
    store.remove_record(name).await?;
    Ok(ended)
}
