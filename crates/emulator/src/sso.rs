//! The emulator's own sign-in sessions (a cookie on the emulator's origin),
//! so `prompt=none` can sign a user in silently and sign-out can reach
//! every app the user signed in to.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::lock;

use axum::http::{header, HeaderMap, HeaderValue};

use crate::tokens::{random_guid, random_token};

/// The session cookie's name.
pub const COOKIE: &str = "idweb_emulator_sso";

/// One browser's sign-in at the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSession {
    /// Who is signed in.
    pub user_oid: String,
    /// The provider session id (`sid` in ID tokens, front-channel logout).
    pub sid: String,
    /// Client ids the user signed in to during this session.
    pub apps: BTreeSet<String>,
}

/// Every live session, by cookie value.
#[derive(Debug, Default)]
pub struct SsoSessions {
    sessions: Mutex<HashMap<String, SsoSession>>,
}

impl SsoSessions {
    /// The session named by the request's cookie.
    pub fn from_headers(&self, headers: &HeaderMap) -> Option<(String, SsoSession)> {
        let id = cookie_value(headers)?;
        let session = lock(&self.sessions).get(&id).cloned()?;
        Some((id, session))
    }

    /// Signs `user_oid` in to `client_id` in this browser: keeps the session
    /// if it is the same user's, else starts a new one. Returns the cookie
    /// value and the session id.
    pub fn sign_in(&self, existing: Option<&str>, user_oid: &str, client_id: &str) -> (String, String) {
        let mut sessions = lock(&self.sessions);
        if let Some(id) = existing {
            if let Some(session) = sessions.get_mut(id).filter(|session| session.user_oid == user_oid) {
                session.apps.insert(client_id.to_owned());
                return (id.to_owned(), session.sid.clone());
            }
        }
        let id = random_token(32);
        let sid = random_guid();
        let session = SsoSession { user_oid: user_oid.to_owned(), sid: sid.clone(), apps: BTreeSet::from([client_id.to_owned()]) };
        sessions.insert(id.clone(), session);
        (id, sid)
    }

    /// Ends the session; returns what it was.
    pub fn sign_out(&self, id: &str) -> Option<SsoSession> {
        lock(&self.sessions).remove(id)
    }

    /// The provider session ids (`sid`) `user_oid` holds, in no order.
    pub fn sids_of(&self, user_oid: &str) -> Vec<String> {
        lock(&self.sessions).values().filter(|session| session.user_oid == user_oid).map(|session| session.sid.clone()).collect()
    }

    /// Ends every session of `user_oid` (revocation); returns how many.
    pub fn sign_out_user(&self, user_oid: &str) -> usize {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, session| session.user_oid != user_oid);
        before - sessions.len()
    }
}

/// `Set-Cookie` for a session (`None` clears it).
pub fn set_cookie(id: Option<&str>) -> HeaderValue {
    let value = match id {
        // Lax: sent on the top-level redirects from apps, never on cross-site subrequests.
        Some(id) => format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

