//! The redirect URI: checks the authorization response, redeems the code,
//! validates the ID token, caches the tokens and signs the user in; or
//! falls back from a failed silent attempt to an interactive one.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::{AuthorizationCode, Nonce, OAuth2TokenResponse, PkceCodeVerifier};
use tower_sessions::Session;

use super::response::AuthorizationResponse;
use super::start::SignInRequest;
use super::{challenges, no_store, USER_KEY};
use crate::protocol::token_endpoint::token_url;
use crate::protocol::token_endpoint::TokenRequestFailure;
use crate::error::{IdentityError, SignInRejection};
use crate::user::{HomeAccountId, IdTokenSummary, SignedInUser};
use crate::Identity;

/// The most characters of a display claim (`name`, `preferred_username`)
/// kept in the session and shown on pages: the provider's text, cut.
const MAX_DISPLAY_CLAIM_CHARS: usize = 256;

/// A display claim cut to [`MAX_DISPLAY_CLAIM_CHARS`].
fn capped_claim(text: &str) -> String {
    text.chars().take(MAX_DISPLAY_CLAIM_CHARS).collect()
}

/// Errors of a silent (`prompt=none`) request that mean "ask the user".
const NEEDS_INTERACTION: [&str; 3] = ["login_required", "interaction_required", "consent_required"];

/// The authorization response: checks it, redeems the code, validates the
/// ID token, caches the tokens and signs the user in.
pub(super) async fn callback(
    State(identity): State<Arc<Identity>>,
    session: Session,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut removal = None;
    let outcome = match AuthorizationResponse::from_query(query.as_deref()) {
        Ok(authorization) => complete_sign_in(&identity, &session, &headers, authorization, &mut removal).await,
        Err(error) => Err(error),
    };
    let response = match outcome {
        Ok(return_to) => Redirect::to(&return_to).into_response(),
        Err(error) => error.into_response(),
    };
    // CB-05: the URL with the code must not leak through Referer.
    let mut response = no_store(response);
    // The sign-in's cookie goes, whatever the outcome: it was used once.
    if let Some(removal) = removal {
        response.headers_mut().append(header::SET_COOKIE, removal);
    }
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn complete_sign_in(
    identity: &Identity,
    session: &Session,
    headers: &HeaderMap,
    query: AuthorizationResponse,
    removal: &mut Option<HeaderValue>,
) -> Result<String, IdentityError> {
    let state = query.state.ok_or(IdentityError::SignInRejected(SignInRejection::StateMissing))?;
    *removal = Some(identity.pending_sign_ins().removal_for(&state)?);
    let pending = identity.pending_sign_ins().take(headers, &state, identity.cache().as_ref()).await?;
    let provider = identity.provider().get().await?;
    // RFC 9207, before anything else, error responses too: a response naming
    // another issuer, or none when the provider always names itself, may come
    // from a mix-up attack.
    match &query.iss {
        Some(iss) if iss != provider.issuer.as_str() => return Err(IdentityError::SignInRejected(SignInRejection::IssuerMismatch)),
        None if provider.iss_parameter_required => return Err(IdentityError::SignInRejected(SignInRejection::IssuerMissing)),
        _ => {}
    }
    if let Some(error) = query.error {
        if pending.silent && NEEDS_INTERACTION.contains(&error.as_str()) {
            // CACHE-01: silent re-authorization was not enough; ask once, interactively.
            tracing::info!(%error, "silent sign-in needs the user; asking interactively");
            let interactive = SignInRequest { return_to: pending.return_to, scopes: pending.scopes, challenge: pending.challenge, interactive: true };
            return Ok(interactive.url());
        }
        if error == "access_denied" && !pending.scopes.is_empty() {
            return Err(IdentityError::ConsentDeclined { scopes: pending.scopes, return_to: pending.return_to });
        }
        return Err(IdentityError::ProviderError { error, description: query.error_description });
    }
    let code = query.code.ok_or(IdentityError::SignInRejected(SignInRejection::CodeMissing))?;
    // Built again if the credential is reloaded: a code refused for the app's
    // credential (not `invalid_grant`) was not spent.
    let exchange = || {
        Ok(provider
            .client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .map_err(|error| IdentityError::Misconfigured(format!("token endpoint not configured: {error}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone())))
    };
    let response = match identity.tokens().redeem_code(exchange, &token_url(&provider.client)).await {
        Ok(response) => response,
        Err(TokenRequestFailure::NotSent(error)) => return Err(error),
        Err(TokenRequestFailure::Refused(refused)) if refused.error == "invalid_grant" => {
            // TOK-02: a replayed or stolen code surfaces here.
            crate::telemetry::provider_error(&refused.error);
            tracing::warn!(target: "idweb::security", error = %refused, "token endpoint refused the authorization code");
            return Err(IdentityError::CodeRejected(refused.to_string()));
        }
        // Not the code's fault: the app's credential or registration (invalid_client, unauthorized_client, ...).
        Err(TokenRequestFailure::Refused(refused)) => {
            crate::telemetry::provider_error(&refused.error);
            return Err(refused.into_error("redeeming the authorization code"));
        }
        // An outage is not a security event (FLT-01).
        Err(TokenRequestFailure::Unavailable(outage)) => return Err(IdentityError::ProviderUnavailable(outage.why)),
        // An ID token whose claims do not parse (no `sub`, no `iat`) lands here.
        Err(TokenRequestFailure::Malformed(why)) => return Err(IdentityError::IdTokenRejected(why)),
    };
    let id_token = response
        .extra_fields()
        .id_token()
        .ok_or_else(|| IdentityError::IdTokenRejected("the token response carries no ID token".into()))?;
    let nonce = Nonce::new(pending.nonce);
    let claims = identity.provider().verify_token_response(&provider, id_token, &nonce, response.access_token()).await?;
    let (object_id, tenant_id) = provider.profile.user_of(&claims)?;
    let user = SignedInUser {
        home_account_id: HomeAccountId::new(&object_id, &tenant_id),
        name: claims.name().and_then(|name| name.get(None)).map(|name| capped_claim(name.as_str())).unwrap_or_default(),
        username: claims.preferred_username().map(|name| capped_claim(name.as_str())).unwrap_or_default(),
        provider_session_id: claims.additional_claims().sid.clone(),
        id_token: IdTokenSummary {
            issuer: claims.issuer().to_string(),
            audiences: claims.audiences().iter().map(|audience| audience.to_string()).collect(),
            subject: claims.subject().to_string(),
            issued_at: claims.issue_time().timestamp(),
            expires_at: claims.expiration().timestamp(),
        },
        signed_in_at: crate::clock::unix_seconds(),
        object_id,
        tenant_id,
    };
    // Re-authorizing (incremental consent) does not extend the session's absolute lifetime.
    let mut user = user;
    if let Some(before) = session.get::<SignedInUser>(USER_KEY).await? {
        if before.home_account_id == user.home_account_id {
            user.signed_in_at = before.signed_in_at;
        }
    }
    let asked = provider.profile.sign_in_scopes(&pending.scopes, &identity.config().graph.scopes);
    let requested = identity.tokens().scopes().normalise(asked.iter().map(String::as_str));
    identity.tokens().store_response(&user, &response, &requested).await?;
    // Session fixation: the pre-sign-in id must not survive into the signed-in session.
    session.cycle_id().await?;
    session.insert(USER_KEY, &user).await?;
    session.insert(crate::web::session::ACTIVITY_KEY, crate::clock::unix_seconds()).await?;
    // Saved now to learn the new id: the provider may end this session later (OUT-02, OUT-03).
    session.save().await?;
    let registered = match session.id() {
        Some(session_id) => crate::web::logout::index::register(identity, &user, session_id).await,
        None => Err(IdentityError::Misconfigured("the session store gave the new session no id".into())),
    };
    if let Err(error) = registered {
        // A session the sign-out index does not list could never be ended by the
        // provider's logout: no session at all, rather than one that outlives it.
        if let Err(flush_error) = session.flush().await {
            tracing::error!(error = %crate::telemetry::error_chain(&flush_error), "could not end a session the sign-out index does not list");
        }
        return Err(error);
    }
    if let Some(challenge) = &pending.challenge {
        challenges::forget(session, challenge).await?;
    }
    tracing::info!("user signed in");
    Ok(pending.return_to)
}

