//! Which sessions belong to a provider session (`sid`) and to a user
//! (`sub`), so a logout from the provider can end them on every instance.
//!
//! The index lives in the token cache store as records (shared and sealed
//! like partitions with a shared store), written at sign-in, read only when
//! the provider signs someone out: no cost on ordinary requests.

use serde::{Deserialize, Serialize};
use tower_sessions::session::Id;
use tower_sessions::SessionStore;

use crate::cache::{Etag, RecordName};
use crate::error::{IdentityError, SignInRejection};
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
    /// The provider ended this session (`sid` records only): kept as a
    /// tombstone, so a sign-in of that provider session completing after
    /// the logout is refused instead of outliving it.
    #[serde(default)]
    ended: bool,
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

/// The record's list and version, if there is one (a list that does not
/// parse was not written by this version: read as empty).
async fn load(identity: &Identity, name: &RecordName) -> Result<Option<(SessionList, Etag)>, IdentityError> {
    let loaded = identity.cache().load_record(name, identity.config().session.absolute_timeout).await?;
    Ok(loaded.map(|(bytes, etag)| (serde_json::from_slice(&bytes).unwrap_or_default(), etag)))
}

/// Writes `list` over the version `expected`; whether it was written.
async fn store(identity: &Identity, name: &RecordName, list: &SessionList, expected: Option<Etag>) -> Result<bool, IdentityError> {
    let bytes = serde_json::to_vec(list).map_err(|error| IdentityError::TokenCache(crate::cache::StoreError::Encoding(error)))?;
    Ok(identity.cache().save_record(name, &bytes, expected, identity.config().session.absolute_timeout).await?)
}

async fn add(identity: &Identity, name: &RecordName, home_account_id: &HomeAccountId, session_id: &str) -> Result<(), IdentityError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = load(identity, name).await?;
        let etag = current.as_ref().map(|(_, etag)| *etag);
        let mut list = current.map(|(list, _)| list).unwrap_or_default();
        if list.ended {
            return Err(IdentityError::SignInRejected(SignInRejection::ProviderSessionEnded));
        }
        list.home_account_id = home_account_id.as_str().to_owned();
        list.sessions.retain(|known| known != session_id);
        list.sessions.push(session_id.to_owned());
        if list.sessions.len() > MAX_SESSIONS {
            list.sessions.drain(..list.sessions.len() - MAX_SESSIONS);
        }
        if store(identity, name, &list, etag).await? {
            return Ok(());
        }
    }
    // Not silently: a session missing from the index could never be ended by the provider's logout.
    Err(IdentityError::TokenCache(crate::cache::StoreError::Contended { record: "sign-out index" }))
}

/// Ends every session the record `name` lists and removes the user's
/// cached tokens; how many sessions were ended. Nothing listed: nothing to do
/// (a repeated logout, or one for a session this app never saw).
///
/// The record is then written back by compare-and-set, never removed
/// blindly: a session registered while this ran is ended in the next round
/// instead of being wiped from the index. A provider session's record stays
/// as a tombstone (`ended`), so a sign-in of that session still completing
/// is refused; a user's record is emptied.
pub(crate) async fn end(identity: &Identity, name: &RecordName, provider_session: bool) -> Result<usize, IdentityError> {
    let mut ended = 0;
    let mut tokens_removed = false;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let Some((list, etag)) = load(identity, name).await? else {
            return Ok(ended);
        };
        if list.sessions.is_empty() && (list.ended || !provider_session) {
            return Ok(ended);
        }
        for session_id in &list.sessions {
            // An id that does not parse was never written by us: skipped.
            let Ok(id) = session_id.parse::<Id>() else { continue };
            identity.sessions().delete(&id).await.map_err(|error| IdentityError::Session(error.into()))?;
            ended += 1;
        }
        if !tokens_removed && !list.home_account_id.is_empty() {
            let account = HomeAccountId::from_text(&list.home_account_id);
            identity.tokens().remove_account(&account).await?;
            identity.graph().forget_photo_of(&account);
            tokens_removed = true;
        }
        let emptied = SessionList { home_account_id: list.home_account_id, sessions: Vec::new(), ended: provider_session };
        if store(identity, name, &emptied, Some(etag)).await? {
            return Ok(ended);
        }
    }
    Err(IdentityError::TokenCache(crate::cache::StoreError::Contended { record: "sign-out index" }))
}
