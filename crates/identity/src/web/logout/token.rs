//! Logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.4):
//! what makes one acceptable, checked in the order the specification lists.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::provider::Provider;

/// The `events` member that makes a JWT a logout token.
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token is acted on only this soon after it was issued: it is
/// sent at once, so an older one is a replay or a stuck queue.
pub const MAX_AGE_SECS: i64 = 5 * 60;
/// The longest logout token accepted (bytes): far above any real one.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Whom a valid logout token signs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    /// The issuer (names the provider's session and subject namespaces).
    pub issuer: String,
    /// The provider session to end, if named.
    pub session_id: Option<String>,
    /// The user whose sessions to end, if named.
    pub subject: Option<String>,
    /// The token's id, for the replay guard.
    pub token_id: String,
    /// When it was issued (seconds since the epoch).
    pub issued_at: i64,
}

/// Why a logout token was refused: fixed texts, never the token's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    /// Not three base64url parts with JSON header and claims.
    #[error("the logout token is not a signed JWT")]
    Malformed,
    /// `typ` is not `logout+jwt` (an ID token or access token replayed here).
    #[error("the logout token is not typed logout+jwt")]
    WrongType,
    /// The signature, algorithm or key is not acceptable.
    #[error("the logout token's signature is not acceptable")]
    BadSignature,
    /// Signed with a key the provider does not publish (yet).
    #[error("the logout token names an unknown signing key")]
    UnknownKey,
    /// `iss` is not the provider's.
    #[error("the logout token comes from another issuer")]
    WrongIssuer,
    /// `aud` does not name this app.
    #[error("the logout token is not for this app")]
    WrongAudience,
    /// `iat`, `exp` missing, in the future, expired or too old.
    #[error("the logout token is expired, too old or not yet valid")]
    Expired,
    /// No `events` claim with the back-channel logout member.
    #[error("the logout token has no back-channel logout event")]
    NoEvent,
    /// Neither `sid` nor `sub`.
    #[error("the logout token names neither a session nor a subject")]
    NoSubject,
    /// A `nonce`: an ID token presented as a logout token.
    #[error("the logout token carries a nonce")]
    HasNonce,
    /// No `jti`.
    #[error("the logout token has no id")]
    NoTokenId,
    /// The same `jti` came before.
    #[error("the logout token was already used")]
    Replayed,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// Critical extensions (RFC 7515 4.1.11): idweb understands none, so any is refused.
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Checks everything but replay (the caller's shared guard) against
/// `provider`'s issuer and keys, for `client_id`, at `now`.
pub fn verify(token: &str, provider: &Provider, client_id: &str, now: i64) -> Result<LogoutClaims, LogoutTokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(LogoutTokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header_part), Some(claims_part), Some(signature_part), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(LogoutTokenError::Malformed);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| LogoutTokenError::Malformed);
    let header: Header = serde_json::from_slice(&decode(header_part)?).map_err(|_| LogoutTokenError::Malformed)?;
    let claims: Value = serde_json::from_slice(&decode(claims_part)?).map_err(|_| LogoutTokenError::Malformed)?;
    let signature = decode(signature_part)?;
    if header.crit.is_some() {
        return Err(LogoutTokenError::Malformed);
    }
    // Explicit typing (section 2.4): no other JWT of the provider's can be replayed here.
    let typ = header.typ.as_deref().map(|typ| typ.to_ascii_lowercase());
    if !matches!(typ.as_deref(), Some("logout+jwt" | "application/logout+jwt")) {
        return Err(LogoutTokenError::WrongType);
    }
    let signed = &token[..header_part.len() + 1 + claims_part.len()];
    provider.verify_signature(&header.alg, header.kid.as_deref(), signed.as_bytes(), &signature).map_err(|error| match error {
        crate::IdentityError::UnknownSigningKey => LogoutTokenError::UnknownKey,
        _ => LogoutTokenError::BadSignature,
    })?;
    check_claims(&claims, provider, client_id, now)
}

fn check_claims(claims: &Value, provider: &Provider, client_id: &str, now: i64) -> Result<LogoutClaims, LogoutTokenError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|value| !value.is_empty()).map(str::to_owned);
    let issuer = text("iss").ok_or(LogoutTokenError::WrongIssuer)?;
    if !provider.accepts_issuer(&issuer) {
        return Err(LogoutTokenError::WrongIssuer);
    }
    let for_us = match claims.get("aud") {
        Some(Value::String(audience)) => audience == client_id,
        Some(Value::Array(audiences)) => audiences.iter().any(|audience| audience.as_str() == Some(client_id)),
        _ => false,
    };
    if !for_us {
        return Err(LogoutTokenError::WrongAudience);
    }
    // In i128: no value a token carries can overflow the comparisons.
    let skew = i128::from(provider.clock_skew().num_seconds());
    let (Some(issued_at), Some(expires_at)) = (claims.get("iat").and_then(Value::as_i64), claims.get("exp").and_then(Value::as_i64)) else {
        return Err(LogoutTokenError::Expired);
    };
    let (now_wide, iat_wide, exp_wide) = (i128::from(now), i128::from(issued_at), i128::from(expires_at));
    if iat_wide > now_wide + skew || exp_wide < now_wide - skew || now_wide - iat_wide > i128::from(MAX_AGE_SECS) + skew {
        return Err(LogoutTokenError::Expired);
    }
    let event = claims.get("events").and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutTokenError::NoEvent);
    }
    // Present but not a non-empty string is malformed, never "absent": a bad
    // `sid` must not widen a session's logout to all of the user's sessions.
    for name in ["sid", "sub"] {
        if claims.get(name).is_some() && text(name).is_none() {
            return Err(LogoutTokenError::Malformed);
        }
    }
    let (session_id, subject) = (text("sid"), text("sub"));
    if session_id.is_none() && subject.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    if claims.get("nonce").is_some() {
        return Err(LogoutTokenError::HasNonce);
    }
    let token_id = text("jti").ok_or(LogoutTokenError::NoTokenId)?;
    Ok(LogoutClaims { issuer, session_id, subject, token_id, issued_at })
}
