//! Sign-ins in flight, kept by the browser that started them (SES-04): the
//! state, nonce and PKCE verifier, the return path and the scopes asked
//! for, sealed (AES-256-GCM, [`KeyRing`]) in a short-lived cookie of their
//! own, one per `state`, so several tabs can sign in at once (AUTHZ-02,
//! AUTHZ-04).
//!
//! Starting a sign-in therefore writes nothing on the server: a flood of
//! starts cannot fill the session store or push signed-in users out of it.
//! The cookie binds the sign-in to this browser (CB-02); it expires with the
//! sign-in (10 minutes); the callback removes it, and records the `state` as
//! used in the shared record store for as long as the cookie could live, so
//! a copied cookie cannot complete a sign-in twice (single use).
//!
//! The cookies are sealed with `TokenCache:EncryptionKeys` when configured
//! (every instance behind a load balancer opens them), else with a key made
//! at start-up (one instance: a restart only loses sign-ins in flight).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tower_sessions::cookie::{Cookie, SameSite};

use crate::cache::encryption::{EncryptionKey, KeyRing};
use crate::cache::{RecordName, TokenCacheStore};
use crate::error::{IdentityError, SignInRejection};

/// A sign-in must come back within this time (AUTHZ-02: at most 10 minutes).
pub const PENDING_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long a used state is remembered: as long as its cookie could be sent.
const USED_STATE_LIFETIME: Duration = Duration::from_secs(11 * 60);
/// Sign-ins one browser may have in flight; the oldest cookies are dropped beyond it.
const MAX_PENDING: usize = 5;
/// The largest sealed cookie value written: browsers keep about 4 KB per cookie.
const MAX_COOKIE_VALUE_BYTES: usize = 3_800;
/// What follows the session cookie's name in a sign-in cookie's name.
const COOKIE_INFIX: &str = ".signin.";

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

impl PendingSignIn {
    fn is_expired(&self) -> bool {
        crate::clock::unix_seconds().saturating_sub(self.started_at) > PENDING_LIFETIME.as_secs()
    }
}

/// States already completed, when no store is shared: kept in this process
/// as long as a cookie could still carry them.
type UsedStates = moka::sync::Cache<[u8; 32], ()>;

/// The most used states kept in memory (one per completed sign-in in the last ten minutes).
const MAX_LOCAL_USED_STATES: u64 = 200_000;

/// Seals pending sign-ins into cookies and opens them again.
pub struct PendingSignIns {
    ring: Arc<KeyRing>,
    /// `None` with a shared store: used states are records there, seen by every instance.
    local_used: Option<UsedStates>,
    /// The session cookie's name (`__Host-idweb` in production): the sign-in
    /// cookies' names start with it, so they share its prefix rules.
    session_cookie: String,
    secure: bool,
}

impl std::fmt::Debug for PendingSignIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIns").field("session_cookie", &self.session_cookie).finish_non_exhaustive()
    }
}

/// The cookies a response sets: the new sign-in's, and removals.
pub type SetCookies = Vec<HeaderValue>;

impl PendingSignIns {
    /// Sealed with `ring` (the shared key ring, which shared stores come
    /// with), or with a key made now and used states kept in this process.
    pub fn new(ring: Option<Arc<KeyRing>>, session_cookie: &str, secure: bool) -> Result<Self, IdentityError> {
        let local_used = ring.is_none().then(|| UsedStates::builder().max_capacity(MAX_LOCAL_USED_STATES).time_to_live(USED_STATE_LIFETIME).build());
        let ring = match ring {
            Some(ring) => ring,
            None => {
                let random = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
                let key = EncryptionKey::from_base64("process", &random).map_err(|error| IdentityError::Misconfigured(format!("sign-in cookie key: {error}")))?;
                Arc::new(KeyRing::new(vec![key]).map_err(|error| IdentityError::Misconfigured(format!("sign-in cookie key: {error}")))?)
            }
        };
        Ok(Self { ring, local_used, session_cookie: session_cookie.to_owned(), secure })
    }

    /// The cookie of the sign-in started with `state`.
    fn cookie_name(&self, state: &str) -> String {
        let digest = Sha256::digest(state.as_bytes());
        format!("{}{COOKIE_INFIX}{}", self.session_cookie, &URL_SAFE_NO_PAD.encode(digest)[..16])
    }

    fn set_cookie(&self, name: String, value: String, max_age: Duration) -> Result<HeaderValue, IdentityError> {
        let cookie = Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            // Lax: sent on the provider's top-level redirect back to the callback (a GET).
            .same_site(SameSite::Lax)
            .max_age(tower_sessions::cookie::time::Duration::seconds(max_age.as_secs() as i64))
            .build();
        HeaderValue::from_str(&cookie.encoded().to_string()).map_err(|_| IdentityError::Misconfigured("a sign-in cookie is not a header value".into()))
    }

    fn removal(&self, name: String) -> Result<HeaderValue, IdentityError> {
        self.set_cookie(name, String::new(), Duration::ZERO)
    }

    /// The cookie that removes the sign-in started with `state` (sent
    /// whatever the callback's outcome: it is used once, or not at all).
    pub fn removal_for(&self, state: &str) -> Result<HeaderValue, IdentityError> {
        self.removal(self.cookie_name(state))
    }

    /// The sign-in cookies `headers` carry, as (name, value).
    fn cookies_in<'h>(&self, headers: &'h HeaderMap) -> impl Iterator<Item = (String, String)> + 'h {
        let prefix = format!("{}{COOKIE_INFIX}", self.session_cookie);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|text| Cookie::split_parse_encoded(text.to_owned()).filter_map(Result::ok).collect::<Vec<_>>())
            .filter(move |cookie| cookie.name().starts_with(&prefix))
            .map(|cookie| (cookie.name().to_owned(), cookie.value().to_owned()))
    }

    fn open(&self, name: &str, value: &str) -> Option<PendingSignIn> {
        let sealed = URL_SAFE_NO_PAD.decode(value).ok()?;
        let plain = self.ring.open(name, 0, &sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// The cookies that remember `pending` (started now) in this browser:
    /// its own, and removals of the oldest others beyond `MAX_PENDING` and
    /// of expired or unreadable ones.
    pub fn remember(&self, headers: &HeaderMap, mut pending: PendingSignIn) -> Result<SetCookies, IdentityError> {
        pending.started_at = crate::clock::unix_seconds();
        let name = self.cookie_name(&pending.state);
        let plain = serde_json::to_vec(&pending).map_err(|error| IdentityError::Misconfigured(format!("a pending sign-in does not encode: {error}")))?;
        let sealed = self.ring.seal(&name, 0, &plain).map_err(|_| IdentityError::SignInRejected(SignInRejection::BadRequest))?;
        let value = URL_SAFE_NO_PAD.encode(sealed);
        if value.len() > MAX_COOKIE_VALUE_BYTES {
            // Only a very long return path with many scopes gets here; the link is at fault.
            return Err(IdentityError::SignInRejected(SignInRejection::BadRequest));
        }
        let mut cookies = vec![self.set_cookie(name, value, PENDING_LIFETIME)?];
        let mut others: Vec<(String, Option<u64>)> =
            self.cookies_in(headers).map(|(name, value)| (name.clone(), self.open(&name, &value).filter(|other| !other.is_expired()).map(|other| other.started_at))).collect();
        // Newest first (browsers send older cookies first, which breaks ties
        // within a second); the unreadable and expired sort last and go.
        others.reverse();
        others.sort_by(|left, right| right.1.cmp(&left.1));
        for (index, (name, started_at)) in others.into_iter().enumerate() {
            if started_at.is_none() || index + 1 >= MAX_PENDING {
                cookies.push(self.removal(name)?);
            }
        }
        Ok(cookies)
    }

    /// The sign-in started with `state` in this browser. Single use: the
    /// state is recorded as used (in `records`, shared by every instance, or
    /// in this process when nothing is shared) for as long as its cookie
    /// could live, so the same cookie sent again (a replay, a copied cookie)
    /// finds it spent.
    pub async fn take(&self, headers: &HeaderMap, state: &str, records: &dyn TokenCacheStore) -> Result<PendingSignIn, IdentityError> {
        let name = self.cookie_name(state);
        let found: Vec<(String, String)> = self.cookies_in(headers).filter(|(cookie, _)| *cookie == name).collect();
        // Two cookies of one name: one was planted (from a sibling domain, or another port of localhost).
        let [(name, value)] = found.as_slice() else {
            if found.len() > 1 {
                tracing::warn!(target: "idweb::security", "a sign-in's cookie came twice; refused");
            }
            return Err(IdentityError::SignInRejected(SignInRejection::UnknownState));
        };
        let Some(pending) = self.open(name, value) else {
            return Err(IdentityError::SignInRejected(SignInRejection::UnknownState));
        };
        // The cookie's name is a digest of the state: check the state itself.
        if !constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
            return Err(IdentityError::SignInRejected(SignInRejection::UnknownState));
        }
        if pending.is_expired() {
            return Err(IdentityError::SignInRejected(SignInRejection::Expired));
        }
        let first_use = match &self.local_used {
            Some(used) => used.entry(Sha256::digest(state.as_bytes()).into()).or_insert(()).is_fresh(),
            None => records.save_record(&RecordName::digest("used-state", &[state]), b"1", None, USED_STATE_LIFETIME).await?,
        };
        if !first_use {
            tracing::warn!(target: "idweb::security", "a sign-in's state came back a second time; refused");
            return Err(IdentityError::SignInRejected(SignInRejection::UnknownState));
        }
        Ok(pending)
    }
}

/// Comparison whose time does not depend on where the inputs differ.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::MemoryTokenCache;

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

    fn signins() -> PendingSignIns {
        PendingSignIns::new(None, "__Host-idweb", true).unwrap()
    }

    fn records() -> MemoryTokenCache {
        MemoryTokenCache::new(100, Duration::from_secs(3600))
    }

    /// The request headers a browser sends back after receiving `set_cookies`.
    fn browser_sends(set_cookies: &[HeaderValue]) -> HeaderMap {
        let pairs: Vec<String> = set_cookies
            .iter()
            .map(|value| Cookie::parse_encoded(value.to_str().unwrap().to_owned()).unwrap())
            .filter(|cookie| !cookie.value().is_empty())
            .map(|cookie| format!("{}={}", cookie.name(), cookie.value()))
            .collect();
        let mut headers = HeaderMap::new();
        if !pairs.is_empty() {
            headers.insert(header::COOKIE, HeaderValue::from_str(&pairs.join("; ")).unwrap());
        }
        headers
    }

    #[tokio::test]
    async fn authz_02_a_pending_sign_in_is_single_use_even_with_its_cookie_sent_again() {
        let (signins, records) = (signins(), records());
        let cookies = signins.remember(&HeaderMap::new(), pending("s1")).unwrap();
        let attributes = cookies[0].to_str().unwrap().to_ascii_lowercase();
        for attribute in ["httponly", "secure", "samesite=lax", "path=/", "max-age=600"] {
            assert!(attributes.contains(attribute), "{attribute}: {attributes}");
        }
        assert!(!attributes.contains("nonce-s1") && !attributes.contains("verifier-s1"), "sealed: {attributes}");
        let headers = browser_sends(&cookies);
        let taken = signins.take(&headers, "s1", &records).await.unwrap();
        assert_eq!(taken.nonce, "nonce-s1");
        assert!(signins.removal_for("s1").unwrap().to_str().unwrap().contains("Max-Age=0"));
        let replayed = signins.take(&headers, "s1", &records).await;
        assert!(matches!(replayed, Err(IdentityError::SignInRejected(SignInRejection::UnknownState))), "replayed");
    }

    #[tokio::test]
    async fn cb_02_a_state_without_its_cookie_or_with_another_sign_ins_cookie_is_refused() {
        let (signins, records) = (signins(), records());
        let cookies = signins.remember(&HeaderMap::new(), pending("mine")).unwrap();
        assert!(signins.take(&HeaderMap::new(), "mine", &records).await.is_err(), "another browser");
        let mut forged = browser_sends(&cookies);
        let value = forged.get(header::COOKIE).unwrap().to_str().unwrap().replace(&signins.cookie_name("mine"), &signins.cookie_name("theirs"));
        forged.insert(header::COOKIE, HeaderValue::from_str(&value).unwrap());
        assert!(signins.take(&forged, "theirs", &records).await.is_err(), "a cookie sealed for another state does not open under this name");
        let other_process = PendingSignIns::new(None, "__Host-idweb", true).unwrap();
        assert!(other_process.take(&browser_sends(&cookies), "mine", &records).await.is_err(), "another key does not open it");
    }

    #[tokio::test]
    async fn authz_02_with_a_shared_key_ring_used_states_are_records_every_instance_sees() {
        let ring = Arc::new(KeyRing::new(vec![EncryptionKey::from_base64("k1", &base64::engine::general_purpose::STANDARD.encode([7u8; 32])).unwrap()]).unwrap());
        let (first, second) = (PendingSignIns::new(Some(ring.clone()), "idweb", false).unwrap(), PendingSignIns::new(Some(ring), "idweb", false).unwrap());
        let records = records();
        let headers = browser_sends(&first.remember(&HeaderMap::new(), pending("shared")).unwrap());
        assert!(second.take(&headers, "shared", &records).await.is_ok(), "another instance opens it");
        assert!(first.take(&headers, "shared", &records).await.is_err(), "and the state is spent for every instance");
    }

    #[tokio::test]
    async fn cb_01_a_sign_in_cookie_sent_twice_under_one_name_is_refused() {
        let (signins, records) = (signins(), records());
        let mine = browser_sends(&signins.remember(&HeaderMap::new(), pending("s1")).unwrap());
        let pair = mine.get(header::COOKIE).unwrap().to_str().unwrap().to_owned();
        let mut doubled = HeaderMap::new();
        doubled.insert(header::COOKIE, HeaderValue::from_str(&format!("{pair}; {pair}")).unwrap());
        assert!(signins.take(&doubled, "s1", &records).await.is_err(), "a planted twin makes it ambiguous");
    }

    #[tokio::test]
    async fn authz_02_a_pending_sign_in_older_than_ten_minutes_is_refused_as_expired() {
        let (signins, records) = (signins(), records());
        let mut old = pending("old");
        old.started_at = crate::clock::unix_seconds() - PENDING_LIFETIME.as_secs() - 1;
        // Sealed as `remember` would, with the old start time kept.
        let name = signins.cookie_name("old");
        let sealed = signins.ring.seal(&name, 0, &serde_json::to_vec(&old).unwrap()).unwrap();
        let cookie = signins.set_cookie(name, URL_SAFE_NO_PAD.encode(sealed), PENDING_LIFETIME).unwrap();
        let refused = signins.take(&browser_sends(&[cookie]), "old", &records).await;
        assert!(matches!(refused, Err(IdentityError::SignInRejected(SignInRejection::Expired))));
    }

    #[tokio::test]
    async fn authz_04_several_sign_ins_in_flight_each_complete_and_at_most_five_are_kept() {
        let (signins, records) = (signins(), records());
        let mut jar: Vec<HeaderValue> = Vec::new();
        for index in 0..(MAX_PENDING + 2) {
            let set = signins.remember(&browser_sends(&jar), pending(&format!("s{index}"))).unwrap();
            // The browser applies removals (Max-Age=0) and keeps the rest.
            for cookie in set {
                let parsed = Cookie::parse_encoded(cookie.to_str().unwrap().to_owned()).unwrap();
                jar.retain(|kept| !kept.to_str().unwrap().starts_with(&format!("{}=", parsed.name())));
                if !parsed.value().is_empty() {
                    jar.push(cookie);
                }
            }
            // Starts within one second tie; the browser's cookie order (oldest first) breaks the tie.
        }
        assert!(jar.len() <= MAX_PENDING, "{} cookies kept", jar.len());
        let headers = browser_sends(&jar);
        let newest = format!("s{}", MAX_PENDING + 1);
        assert!(signins.take(&headers, &newest, &records).await.is_ok(), "the newest completes");
        assert!(signins.take(&headers, &format!("s{}", MAX_PENDING), &records).await.is_ok(), "and another tab's too");
    }

    #[test]
    fn authz_02_states_are_compared_in_full() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"), "a prefix is not a match");
    }
}
