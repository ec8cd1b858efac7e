//! Fault injection: what the next requests should get wrong, on purpose,
//! so every row of the security matrix can be produced on demand.
//!
//! Faults are armed through the admin API (`admin.rs`) or, in tests, through
//! [`Faults`] directly. Each fault applies to a bounded number of requests
//! (`count`, default 1) and is then spent.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lock;

/// The longest delay a fault may ask for: long enough to trip any client
/// timeout, short enough that a forgotten fault cannot hang a test run.
pub const MAX_DELAY: Duration = Duration::from_secs(120);

fn one() -> u32 {
    1
}

/// What the next token requests get instead of (or before) their tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenFault {
    /// Only requests with this `grant_type` are affected; any when absent.
    #[serde(default)]
    pub grant_type: Option<String>,
    /// Wait this long before answering (a slow or hanging provider).
    #[serde(default)]
    pub delay_ms: u64,
    /// Answer with this error instead of tokens; absent: answer normally after the delay.
    #[serde(default)]
    pub error: Option<InjectedError>,
    /// Answer with this instead of anything OAuth-shaped (a gateway's HTML
    /// page, a `problem+json`): what clients meet when something in front of
    /// the provider fails. Wins over `error`.
    #[serde(default)]
    pub raw: Option<RawAnswer>,
    /// How many matching requests it applies to.
    #[serde(default = "one")]
    pub count: u32,
}

/// The next token request, answered normally (set what should go wrong).
impl Default for TokenFault {
    fn default() -> Self {
        Self { grant_type: None, delay_ms: 0, error: None, raw: None, count: one() }
    }
}

/// An OAuth error the token endpoint answers with, in Microsoft's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InjectedError {
    /// The OAuth `error` code: `invalid_grant`, `interaction_required`, `temporarily_unavailable`, ...
    pub error: String,
    /// HTTP status; 400 when absent.
    #[serde(default)]
    pub status: Option<u16>,
    /// The AADSTS number; a typical one for `error` when absent.
    #[serde(default)]
    pub aadsts: Option<u32>,
    /// The text after `AADSTSnnn: `; a typical one when absent.
    #[serde(default)]
    pub description: Option<String>,
    /// Microsoft's `suberror` (`bad_token`, `consent_required`, `basic_action`, ...).
    #[serde(default)]
    pub suberror: Option<String>,
    /// A claims challenge (JSON text) the client must send back on its next authorize request.
    #[serde(default)]
    pub claims: Option<String>,
}

impl InjectedError {
    /// The AADSTS number and text Microsoft typically sends with `error`.
    pub fn typical_text(error: &str) -> (u32, &'static str) {
        match error {
            "invalid_grant" => (50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed."),
            "interaction_required" => (50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource."),
            "consent_required" => (65001, "The user or administrator has not consented to use the application."),
            "temporarily_unavailable" | "server_error" => (90033, "A transient error has occurred. Please try again."),
            "invalid_client" => (7000215, "Invalid client secret provided."),
            _ => (90000, "The request failed as the emulator was told to make it fail."),
        }
    }
}

/// An HTTP answer given as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawAnswer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` header.
    pub content_type: String,
    /// The body.
    pub body: String,
    /// `Retry-After` seconds, if any (a throttling answer, a 503 naming when to come back).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

/// How the next ID token is spoiled (the IDT-* rows of the security matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenMutation {
    /// `iss` names another issuer.
    WrongIssuer,
    /// `aud` names another client.
    WrongAudience,
    /// No `aud`.
    MissingAudience,
    /// `nonce` differs from the authorize request's.
    WrongNonce,
    /// No `nonce`.
    MissingNonce,
    /// `sub` differs (a refreshed ID token for someone else, RT-02).
    WrongSubject,
    /// No `sub`.
    MissingSubject,
    /// `sub`, `oid`, `name` and `preferred_username` of another person.
    OtherUser,
    /// No `iat`.
    MissingIat,
    /// `exp` an hour ago.
    Expired,
    /// A signature that does not verify.
    BadSignature,
    /// `alg: none`, no signature.
    AlgNone,
    /// HS256 with the client secret as key (the algorithm-confusion attack).
    Hs256,
    /// Signed by the real key but naming a `kid` that is not published.
    UnknownKid,
    /// An `azp` naming another client.
    UnexpectedAzp,
    /// `iat` an hour in the future.
    IatInFuture,
    /// `nbf` an hour in the future.
    NbfInFuture,
    /// `exp` a minute ago: within a client's usual clock skew, so accepted.
    ExpiredWithinSkew,
    /// `tid` of another tenant (the issuer unchanged).
    OtherTenant,
    /// An `at_hash` that is not the access token's.
    WrongAtHash,
    /// `sub` the empty string.
    EmptySubject,
    /// `sub` of 256 characters (OpenID Connect allows at most 255).
    LongSubject,
    /// `name` and `preferred_username` of 10 000 characters each.
    LongName,
    /// Signed by the current key, but with no `kid` in the header.
    MissingKid,
}

/// What the authorization response carries as RFC 9207 `iss`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeIssFault {
    /// The `iss` to send; `null` leaves the parameter out.
    pub iss: Option<String>,
    /// How many authorization responses it applies to.
    #[serde(default = "one")]
    pub count: u32,
}

/// What Microsoft Graph or the sample API answer instead of data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum ApiFault {
    /// 401 with `WWW-Authenticate: ... error="insufficient_claims", claims="..."` (CAE).
    ClaimsChallenge {
        /// The claims JSON; an `nbf` requirement of "now" when absent.
        #[serde(default)]
        claims: Option<String>,
        /// How many calls it applies to.
        #[serde(default = "one")]
        count: u32,
    },
    /// 429 Too Many Requests with `Retry-After`.
    Throttle {
        /// Seconds in `Retry-After`.
        #[serde(default = "one_u64")]
        retry_after_secs: u64,
        /// How many calls it applies to.
        #[serde(default = "one")]
        count: u32,
    },
    /// Any status (503, 500, ...) with Graph's error body.
    Status {
        /// The HTTP status.
        status: u16,
        /// `Retry-After` seconds, if any.
        #[serde(default)]
        retry_after_secs: Option<u64>,
        /// How many calls it applies to.
        #[serde(default = "one")]
        count: u32,
    },
}

fn one_u64() -> u64 {
    1
}

impl ApiFault {
    fn count_mut(&mut self) -> &mut u32 {
        match self {
            Self::ClaimsChallenge { count, .. } | Self::Throttle { count, .. } | Self::Status { count, .. } => count,
        }
    }
}

/// A mutation with the number of ID tokens it still applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdTokenFault {
    /// How the ID token is spoiled.
    pub mutation: IdTokenMutation,
    /// How many ID tokens it applies to.
    #[serde(default = "one")]
    pub count: u32,
}

/// Fields that replace (or, set to `null`, remove) the discovery document's
/// own in the next discovery responses: another host's `token_endpoint`, a
/// mismatched `issuer`...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiscoveryFault {
    /// The fields, as they are to appear.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// How many discovery responses it applies to.
    #[serde(default = "one")]
    pub count: u32,
}

/// Every armed fault, each queue consumed front first.
#[derive(Debug, Default)]
pub struct Faults {
    token: Mutex<VecDeque<TokenFault>>,
    id_token: Mutex<VecDeque<IdTokenFault>>,
    authorize_iss: Mutex<VecDeque<AuthorizeIssFault>>,
    api: Mutex<VecDeque<ApiFault>>,
    discovery: Mutex<VecDeque<DiscoveryFault>>,
    /// How many JWKS answers still list every key's `kid` more than once.
    duplicate_kids: Mutex<u32>,
    /// How many JWKS answers still list the signing key alone.
    single_key: Mutex<u32>,
    /// How many JWKS requests still answer 503.
    failing_jwks: Mutex<u32>,
    /// A conditional access policy Graph and the sample API enforce: every
    /// access token that does not satisfy these claims is challenged.
    claims_policy: Mutex<Option<String>>,
    /// Access tokens minted before this mint number are refused with a
    /// plain 401, as a resource does after a revocation or a change of its
    /// keys or policy.
    access_tokens_revoked_before: Mutex<Option<u64>>,
}

/// A snapshot of what is armed, for the admin API.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmedFaults {
    /// Token endpoint faults.
    pub token: Vec<TokenFault>,
    /// ID token mutations.
    pub id_token: Vec<IdTokenFault>,
    /// Authorization response `iss` overrides.
    pub authorize_iss: Vec<AuthorizeIssFault>,
    /// Graph and sample API faults.
    pub api: Vec<ApiFault>,
    /// Discovery document overrides.
    pub discovery: Vec<DiscoveryFault>,
}

impl Faults {
    /// Queues a token endpoint fault (its delay is capped at [`MAX_DELAY`]).
    /// An error status outside 400..=599 is refused, naming the field.
    pub fn arm_token(&self, mut fault: TokenFault) -> Result<(), String> {
        if let Some(status) = fault.error.as_ref().and_then(|error| error.status) {
            check_error_status("error.status", status)?;
        }
        fault.delay_ms = fault.delay_ms.min(MAX_DELAY.as_millis() as u64);
        if fault.count > 0 {
            lock(&self.token).push_back(fault);
        }
        Ok(())
    }

    /// Queues an ID token mutation.
    pub fn arm_id_token(&self, fault: IdTokenFault) -> Result<(), String> {
        if fault.count > 0 {
            lock(&self.id_token).push_back(fault);
        }
        Ok(())
    }

    /// Queues an authorization response `iss` override.
    pub fn arm_authorize_iss(&self, fault: AuthorizeIssFault) -> Result<(), String> {
        if fault.count > 0 {
            lock(&self.authorize_iss).push_back(fault);
        }
        Ok(())
    }

    /// Queues a Graph / sample API fault. A status outside 400..=599 is refused.
    pub fn arm_api(&self, mut fault: ApiFault) -> Result<(), String> {
        if let ApiFault::Status { status, .. } = fault {
            check_error_status("status", status)?;
        }
        if *fault.count_mut() > 0 {
            lock(&self.api).push_back(fault);
        }
        Ok(())
    }

    /// Queues discovery document overrides.
    pub fn arm_discovery(&self, fault: DiscoveryFault) -> Result<(), String> {
        if fault.count > 0 {
            lock(&self.discovery).push_back(fault);
        }
        Ok(())
    }

    /// The overrides for the next discovery response, spending one use of them.
    pub fn take_discovery(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut queue = lock(&self.discovery);
        if queue.is_empty() {
            return None;
        }
        spend(&mut queue, 0, |fault| &mut fault.count).map(|fault| fault.fields)
    }

    /// Disarms everything.
    pub fn clear(&self) {
        lock(&self.discovery).clear();
        lock(&self.token).clear();
        lock(&self.id_token).clear();
        lock(&self.authorize_iss).clear();
        lock(&self.api).clear();
        *lock(&self.failing_jwks) = 0;
        *lock(&self.duplicate_kids) = 0;
        *lock(&self.single_key) = 0;
        *lock(&self.claims_policy) = None;
        *lock(&self.access_tokens_revoked_before) = None;
    }

    /// What is armed now.
    pub fn armed(&self) -> ArmedFaults {
        ArmedFaults {
            token: lock(&self.token).iter().cloned().collect(),
            id_token: lock(&self.id_token).iter().cloned().collect(),
            authorize_iss: lock(&self.authorize_iss).iter().cloned().collect(),
            api: lock(&self.api).iter().cloned().collect(),
            discovery: lock(&self.discovery).iter().cloned().collect(),
        }
    }

    /// The fault for a token request with `grant_type`, spending one use of it.
    pub fn take_token(&self, grant_type: &str) -> Option<TokenFault> {
        let mut queue = lock(&self.token);
        let index = queue
            .iter()
            .position(|fault| fault.grant_type.as_deref().is_none_or(|wanted| wanted == grant_type))?;
        spend(&mut queue, index, |fault| &mut fault.count)
    }

    /// From now on, APIs challenge every access token that does not satisfy
    /// `claims` (a claims request: `access_token.nbf` = tokens issued before
    /// that time are revoked, as after a password change; `access_token.acrs`
    /// = an authentication context the token must carry). `None` lifts it.
    pub fn require_claims(&self, claims: Option<String>) {
        *lock(&self.claims_policy) = claims;
    }

    /// From now on, Graph and the sample API refuse every access token
    /// minted so far with a plain 401; tokens minted afterwards are accepted.
    /// Returns how many tokens that covers (in this process).
    pub fn revoke_access_tokens_minted_so_far(&self) -> u64 {
        let minted = crate::tokens::access_tokens_minted();
        *lock(&self.access_tokens_revoked_before) = Some(minted);
        minted
    }

    /// From now on, Graph and the sample API refuse every access token, even
    /// those minted later (a resource that no longer accepts this app's tokens).
    pub fn refuse_every_access_token(&self) {
        *lock(&self.access_tokens_revoked_before) = Some(u64::MAX);
    }

    /// Whether the access token with `uti` has been revoked.
    pub fn access_token_revoked(&self, uti: &str) -> bool {
        let Some(revoked_before) = *lock(&self.access_tokens_revoked_before) else { return false };
        crate::tokens::access_token_number(uti).is_none_or(|number| number < revoked_before)
    }

    /// The claims policy in force, if any.
    pub fn claims_policy(&self) -> Option<String> {
        lock(&self.claims_policy).clone()
    }

    /// The next `count` JWKS requests answer 503 (the key endpoint down).
    pub fn fail_jwks(&self, count: u32) {
        *lock(&self.failing_jwks) = count;
    }

    /// The next `count` JWKS answers list each key twice, and the second
    /// key's material again under the first key's `kid`.
    pub fn duplicate_jwks_kids(&self, count: u32) {
        *lock(&self.duplicate_kids) = count;
    }

    /// Whether this JWKS answer repeats its `kid`s, spending one use.
    pub fn take_duplicate_kids(&self) -> bool {
        let mut left = lock(&self.duplicate_kids);
        let duplicates = *left > 0;
        *left = left.saturating_sub(1);
        duplicates
    }

    /// The next `count` JWKS answers list the current signing key only.
    pub fn single_jwks_key(&self, count: u32) {
        *lock(&self.single_key) = count;
    }

    /// Whether this JWKS answer lists the signing key alone, spending one use.
    pub fn take_single_key(&self) -> bool {
        let mut left = lock(&self.single_key);
        let single = *left > 0;
        *left = left.saturating_sub(1);
        single
    }

    /// Whether this JWKS request fails, spending one failure.
    pub fn take_jwks_failure(&self) -> bool {
        let mut left = lock(&self.failing_jwks);
        let fails = *left > 0;
        *left = left.saturating_sub(1);
        fails
    }

    /// The mutation for the next ID token, spending one use of it.
    pub fn take_id_token(&self) -> Option<IdTokenMutation> {
        let mut queue = lock(&self.id_token);
        if queue.is_empty() {
            return None;
        }
        spend(&mut queue, 0, |fault| &mut fault.count).map(|fault| fault.mutation)
    }

    /// The `iss` override for the next authorization response: `Some(None)` omits it.
    pub fn take_authorize_iss(&self) -> Option<Option<String>> {
        let mut queue = lock(&self.authorize_iss);
        if queue.is_empty() {
            return None;
        }
        spend(&mut queue, 0, |fault| &mut fault.count).map(|fault| fault.iss)
    }

    /// The fault for the next Graph or sample API call, spending one use of it.
    pub fn take_api(&self) -> Option<ApiFault> {
        let mut queue = lock(&self.api);
        if queue.is_empty() {
            return None;
        }
        spend(&mut queue, 0, ApiFault::count_mut)
    }
}

fn check_error_status(field: &str, status: u16) -> Result<(), String> {
    if (400..=599).contains(&status) {
        Ok(())
    } else {
        Err(format!("{field} must be an error status from 400 to 599, not {status}"))
    }
}

/// Returns a copy of `queue[index]` and uses one of its counts up, removing it when spent.
fn spend<T: Clone>(queue: &mut VecDeque<T>, index: usize, count: impl Fn(&mut T) -> &mut u32) -> Option<T> {
    let entry = queue.get_mut(index)?;
    let taken = entry.clone();
    let remaining = count(entry);
    *remaining = remaining.saturating_sub(1);
    if *remaining == 0 {
        queue.remove(index);
    }
    Some(taken)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_applies_count_times_then_is_spent() {
        let faults = Faults::default();
        faults.arm_id_token(IdTokenFault { mutation: IdTokenMutation::WrongNonce, count: 2 }).unwrap();
        assert_eq!(faults.take_id_token(), Some(IdTokenMutation::WrongNonce));
        assert_eq!(faults.take_id_token(), Some(IdTokenMutation::WrongNonce));
        assert_eq!(faults.take_id_token(), None);
    }

    #[test]
    fn token_faults_match_their_grant_type_only() {
        let faults = Faults::default();
        faults.arm_token(TokenFault { grant_type: Some("refresh_token".into()), delay_ms: 0, error: None, raw: None, count: 1 }).unwrap();
        assert!(faults.take_token("authorization_code").is_none());
        assert!(faults.take_token("refresh_token").is_some());
        assert!(faults.take_token("refresh_token").is_none());
    }

    #[test]
    fn delays_are_capped_and_zero_counts_are_not_armed() {
        let faults = Faults::default();
        faults.arm_token(TokenFault { grant_type: None, delay_ms: u64::MAX, error: None, raw: None, count: 1 }).unwrap();
        faults.arm_api(ApiFault::Throttle { retry_after_secs: 1, count: 0 }).unwrap();
        let armed = faults.armed();
        assert_eq!(armed.token[0].delay_ms, MAX_DELAY.as_millis() as u64);
        assert!(armed.api.is_empty());
    }

    #[test]
    fn a_status_that_is_not_an_error_is_refused_by_field() {
        let faults = Faults::default();
        let error = faults.arm_api(ApiFault::Status { status: 200, retry_after_secs: None, count: 1 }).unwrap_err();
        assert!(error.contains("status") && error.contains("200"), "{error}");
        assert!(faults.armed().api.is_empty(), "nothing half-armed");
    }

    #[test]
    fn admin_json_names_unknown_fields() {
        let error = serde_json::from_str::<TokenFault>(r#"{"eror": {"error": "invalid_grant"}}"#).unwrap_err();
        assert!(error.to_string().contains("eror"), "{error}");
        let fault: ApiFault = serde_json::from_str(r#"{"kind": "throttle", "retryAfterSecs": 3}"#).unwrap();
        assert_eq!(fault, ApiFault::Throttle { retry_after_secs: 3, count: 1 });
    }
}
