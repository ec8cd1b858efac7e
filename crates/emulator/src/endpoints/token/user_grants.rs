//! The grants that act for a user: `authorization_code` and `refresh_token`.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{invalid_scope, UserTokenRequest};
use crate::config::{AppRegistration, TestUser};
use crate::error::OAuthError;
use crate::scopes::ScopeRequest;
use crate::store::{CodeLookup, RefreshLookup};
use crate::EmulatorState;

/// `grant_type=authorization_code`: one-time code, same client and
/// redirect URI, PKCE S256 verifier.
pub fn redeem_code<'a>(
    state: &'a EmulatorState,
    app: &AppRegistration,
    form: &HashMap<String, String>,
) -> Result<UserTokenRequest<'a>, OAuthError> {
    let code = form.get("code").map(String::as_str).unwrap_or_default();
    let grant = match state.grants.redeem_code(code) {
        CodeLookup::Fresh(grant) => *grant,
        CodeLookup::AlreadyRedeemed => {
            return Err(OAuthError::new("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."))
        }
        CodeLookup::Expired => {
            return Err(OAuthError::new("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."))
        }
        CodeLookup::Unknown => return Err(OAuthError::new("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")),
    };
    if grant.client_id != app.client_id {
        return Err(OAuthError::new("invalid_grant", 70000, "The provided authorization code was issued to another client."));
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err(OAuthError::new("invalid_grant", 500112, "The reply address in the token request does not match the one in the authorization request."));
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier = form.get("code_verifier").map(String::as_str).unwrap_or_default();
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return Err(OAuthError::new("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request."));
        }
    }
    let user = known_user(state, &grant.user_oid)?;
    let scopes = ScopeRequest::parse(&grant.scope, &state.config).map_err(invalid_scope)?;
    Ok(UserTokenRequest {
        user,
        oidc: scopes.oidc.clone(),
        resource: scopes.token_resource(),
        grant_scope: grant.scope,
        nonce: grant.nonce,
        session_id: grant.session_id,
        claims: grant.claims,
    })
}

/// `grant_type=refresh_token`: any resource the user consented to (the
/// refresh token is multi-resource, as in Entra), one resource per request.
pub fn redeem_refresh_token<'a>(
    state: &'a EmulatorState,
    app: &AppRegistration,
    form: &HashMap<String, String>,
) -> Result<UserTokenRequest<'a>, OAuthError> {
    let presented = form.get("refresh_token").map(String::as_str).unwrap_or_default();
    let grant = match state.grants.refresh_grant(presented) {
        RefreshLookup::Live(grant) => grant,
        RefreshLookup::Revoked => {
            return Err(OAuthError::new("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.").with_suberror("bad_token"))
        }
        RefreshLookup::Expired => {
            return Err(OAuthError::new("invalid_grant", 700082, "The refresh token has expired due to inactivity.").with_suberror("bad_token"))
        }
        RefreshLookup::Unknown => {
            return Err(OAuthError::new("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.").with_suberror("bad_token"))
        }
    };
    if grant.client_id != app.client_id {
        return Err(OAuthError::new("invalid_grant", 700005, "Provided refresh token was issued to another client."));
    }
    let original = ScopeRequest::parse(&grant.scope, &state.config).map_err(invalid_scope)?;
    let requested = match form.get("scope").filter(|scope| !scope.trim().is_empty()) {
        Some(scope) => ScopeRequest::parse(scope, &state.config).map_err(invalid_scope)?,
        None => original.clone(),
    };
    if requested.resources.len() > 1 {
        return Err(OAuthError::new("invalid_scope", 28000, "Provided value for the input parameter scope is not valid because it contains more than one resource."));
    }
    let user = known_user(state, &grant.user_oid)?;
    let resource = requested.token_resource();
    if let Some((name, _)) = resource
        .names
        .iter()
        .zip(resource.consent_keys())
        .find(|(_, key)| !state.consent.covers(&state.config, &user.object_id, app, key))
    {
        return Err(OAuthError::new(
            "invalid_grant",
            65001,
            format!("The user or administrator has not consented to use the application with ID '{}'. Scope '{name}' was not granted.", app.client_id),
        )
        .with_suberror("consent_required"));
    }
    // A step-up (an authentication context) needs the user: a refresh cannot give it, as in Entra.
    if let Some(claims) = form.get("claims").filter(|claims| asks_authentication_context(claims)) {
        return Err(OAuthError::new("interaction_required", 50076, "The requested authentication context requires the user to sign in again.")
            .with_claims(claims.clone()));
    }
    Ok(UserTokenRequest {
        user,
        // A refresh keeps the grant's OpenID Connect scopes; refreshed ID tokens carry no nonce.
        oidc: original.oidc,
        resource,
        grant_scope: grant.scope,
        nonce: None,
        session_id: grant.session_id,
        claims: form.get("claims").cloned(),
    })
}

fn known_user<'a>(state: &'a EmulatorState, object_id: &str) -> Result<&'a TestUser, OAuthError> {
    state
        .config
        .user(object_id)
        .ok_or_else(|| OAuthError::new("invalid_grant", 50034, "The user account does not exist in this directory."))
}

/// Whether a claims request asks for an authentication context (`access_token.acrs`).
fn asks_authentication_context(claims: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(claims).is_ok_and(|parsed| !parsed["access_token"]["acrs"].is_null())
}
