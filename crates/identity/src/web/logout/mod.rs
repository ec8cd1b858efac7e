//! Logout started by the provider: its front-channel request (OUT-02) and
//! its back-channel logout token (OUT-03). Both end the sessions the
//! provider names, on every instance sharing the stores, and remove the
//! user's cached tokens. Sign-out started by the user is `signin::sign_out`.

pub(crate) mod index;
pub mod token;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use crate::cache::RecordName;
use crate::error::IdentityError;
use crate::Identity;
use token::LogoutTokenError;

/// How long a logout token's id is remembered against replay: longer than
/// it can be accepted at all (its age limit plus the clock skew either way,
/// and a margin).
fn replay_guard(skew: chrono::Duration) -> std::time::Duration {
    let skew = u64::try_from(skew.num_seconds()).unwrap_or(0);
    std::time::Duration::from_secs((token::MAX_AGE_SECS as u64).saturating_add(skew.saturating_mul(2)).saturating_add(600))
}

#[derive(Debug, Deserialize)]
pub(crate) struct FrontChannelQuery {
    iss: Option<String>,
    sid: Option<String>,
}

/// `GET {RemoteSignOutPath}?iss=..&sid=..`, loaded by the provider in a
/// hidden iframe when the user signs out there (OpenID Connect Front-Channel
/// Logout 1.0). The iframe is cross-site, so the session cookie (SameSite=Lax)
/// does not come along: the provider session named by `iss` and `sid` is
/// ended through the sign-out index. Without them nothing is ended (400): a
/// cookie alone would let any site sign users out with a link. Idempotent;
/// 200 with an embeddable page.
///
/// The request carries no proof that the provider sent it: any page that
/// knows a user's `sid` can make their browser load it and sign them out
/// (a forced logout, no more). So it is acted on only where it must be: as
/// an iframe navigation where the browser says what it loads
/// (`Sec-Fetch-Dest`), and only when the provider has no back-channel
/// logout, whose signed logout tokens are used instead.
pub(crate) async fn front_channel(State(identity): State<Arc<Identity>>, headers: HeaderMap, Query(query): Query<FrontChannelQuery>) -> Response {
    let destination = headers.get("sec-fetch-dest").map(|value| value.as_bytes());
    let outcome = match (&query.iss, &query.sid) {
        _ if destination.is_some_and(|destination| destination != b"iframe") => {
            Err(IdentityError::InvalidRequest("a front-channel logout is loaded in the provider's iframe, not as this kind of request".into()))
        }
        (Some(iss), Some(sid)) => end_provider_session(&identity, iss, sid).await,
        _ => Err(IdentityError::InvalidRequest("a front-channel logout must name iss and sid".into())),
    };
    match outcome {
        Ok(ended) => {
            tracing::info!(sessions = ended, "front-channel logout");
            embeddable(identity.config(), Html("<!doctype html><title>Signed out</title><p>Signed out.</p>").into_response())
        }
        Err(error) => {
            error.log("front-channel logout");
            embeddable(identity.config(), (error.status(), "The sign-out request was not understood.").into_response())
        }
    }
}

async fn end_provider_session(identity: &Identity, iss: &str, sid: &str) -> Result<usize, IdentityError> {
    let provider = identity.provider().get().await?;
    if !provider.accepts_issuer(iss) {
        return Err(IdentityError::InvalidRequest("the logout names another issuer".into()));
    }
    if provider.back_channel_logout {
        tracing::info!("front-channel logout not acted on: the provider sends back-channel logout tokens");
        return Ok(0);
    }
    index::end(identity, &index::by_provider_session(iss, sid), true).await
}

/// A response the provider may frame: not stored, and `frame-ancestors`
/// naming only the provider's origin (the app's default CSP forbids framing).
fn embeddable(config: &crate::config::IdentityConfig, mut response: Response) -> Response {
    let origin = config.azure_ad.instance.origin().ascii_serialization();
    let policy = format!("default-src 'none'; frame-ancestors {origin}; base-uri 'none'; object-src 'none'");
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct BackChannelForm {
    logout_token: Option<String>,
}

/// `POST {BackChannelLogoutPath}` with `logout_token` (OpenID Connect
/// Back-Channel Logout 1.0, section 2.5): the provider's server tells the
/// app to end a session. 200 when done (or nothing to do), 400 with an
/// OAuth-shaped error for a token that is not acceptable, 503 when a store
/// is down (the provider may retry).
pub(crate) async fn back_channel(State(identity): State<Arc<Identity>>, Form(form): Form<BackChannelForm>) -> Response {
    let outcome = match form.logout_token {
        Some(logout_token) => back_channel_logout(&identity, &logout_token).await,
        None => Err(BackChannelError::Token(LogoutTokenError::Malformed)),
    };
    let mut response = match outcome {
        Ok(ended) => {
            tracing::info!(sessions = ended, "back-channel logout");
            StatusCode::OK.into_response()
        }
        Err(BackChannelError::Token(refused)) => {
            tracing::warn!(target: "idweb::security", reason = %refused, "logout token refused");
            let body = serde_json::json!({ "error": "invalid_request", "error_description": refused.to_string() });
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
        }
        Err(BackChannelError::Engine(error)) => {
            error.log("back-channel logout");
            error.status().into_response()
        }
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

enum BackChannelError {
    Token(LogoutTokenError),
    Engine(IdentityError),
}

impl From<IdentityError> for BackChannelError {
    fn from(error: IdentityError) -> Self {
        Self::Engine(error)
    }
}

async fn back_channel_logout(identity: &Identity, logout_token: &str) -> Result<usize, BackChannelError> {
    let mut provider = identity.provider().get().await?;
    let client_id = &identity.config().azure_ad.client_id;
    let now = chrono::Utc::now().timestamp();
    let claims = match token::verify(logout_token, &provider, client_id, now) {
        // JWKS-01: a key rotated since discovery; fetched again (rate limited), then decided.
        Err(LogoutTokenError::UnknownKey) => {
            provider = identity.provider().refetch_keys(&provider).await;
            token::verify(logout_token, &provider, client_id, now)
        }
        verified => verified,
    }
    .map_err(BackChannelError::Token)?;
    // The replay guard is shared: a token replayed to another instance is refused too.
    let guard = RecordName::digest("jti", &[&claims.issuer, &claims.token_id]);
    if !identity.cache().save_record(&guard, b"used", None, replay_guard(provider.clock_skew())).await.map_err(IdentityError::from)? {
        return Err(BackChannelError::Token(LogoutTokenError::Replayed));
    }
    let ended = match (&claims.session_id, &claims.subject) {
        (Some(sid), _) => index::end(identity, &index::by_provider_session(&claims.issuer, sid), true).await,
        (None, Some(sub)) => index::end(identity, &index::by_subject(&claims.issuer, sub), false).await,
        (None, None) => Ok(0),
    };
    if ended.is_err() {
        // Not done: the provider may send the same token again, which must then be accepted.
        if let Err(error) = identity.cache().remove_record(&guard).await {
            tracing::warn!(error = %crate::telemetry::error_chain(&error), "could not release the logout token's replay guard");
        }
    }
    Ok(ended?)
}
