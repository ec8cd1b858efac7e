//! What Graph and the sample API do with a bearer token before anything
//! else, like a real resource server: signature by a published key, issuer,
//! audience, lifetime, then the permission; then any armed API fault.

use axum::http::{header, HeaderMap, StatusCode};

use crate::error::GraphError;
use crate::faults::ApiFault;
use crate::tokens::{now_secs, AccessTokenClaims};
use crate::EmulatorState;

/// What a route needs of the token.
pub struct Requirement<'a> {
    /// The resource's app id (`aud`).
    pub audience: &'a str,
    /// Any one of these delegated scopes (`scp`) will do.
    pub delegated: &'a [&'a str],
    /// Any one of these app roles (`roles`) will do.
    pub app_roles: &'a [&'a str],
}

/// The bearer token's claims if it is valid for the requirement; else the
/// 401/403 the resource answers. An armed API fault answers instead of a
/// valid call.
pub fn authorize(state: &EmulatorState, headers: &HeaderMap, requirement: &Requirement<'_>) -> Result<AccessTokenClaims, GraphError> {
    let unauthorized = |message: &str| GraphError::unauthorized(&state.base_url, message);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("Access token is empty."))?;
    let claims = state
        .minter()
        .verify_access_token(token.trim(), requirement.audience)
        .map_err(|reason| unauthorized(&format!("Access token validation failure: {reason}.")))?;
    if state.faults.access_token_revoked(&claims.uti) {
        return Err(unauthorized("Access token has been revoked."));
    }
    let has_scope = claims.scopes().iter().any(|granted| requirement.delegated.iter().any(|needed| granted.eq_ignore_ascii_case(needed)));
    let has_role = claims.app_roles().iter().any(|granted| requirement.app_roles.iter().any(|needed| granted.eq_ignore_ascii_case(needed)));
    if !has_scope && !has_role {
        return Err(GraphError::forbidden());
    }
    // Continuous access evaluation: the token itself decides, not a counter.
    if let Some(policy) = state.faults.claims_policy() {
        if !satisfies(&claims, &policy) {
            return Err(GraphError::claims_challenge(&state.base_url, &policy));
        }
    }
    match state.faults.take_api() {
        None => Ok(claims),
        Some(fault) => {
            tracing::info!(?fault, "API fault injected");
            Err(fault_response(state, fault))
        }
    }
}

fn fault_response(state: &EmulatorState, fault: ApiFault) -> GraphError {
    match fault {
        ApiFault::ClaimsChallenge { claims, .. } => {
            let claims = claims.unwrap_or_else(|| format!(r#"{{"access_token":{{"nbf":{{"essential":true,"value":"{}"}}}}}}"#, now_secs()));
            GraphError::claims_challenge(&state.base_url, &claims)
        }
        ApiFault::Throttle { retry_after_secs, .. } => GraphError::throttled(retry_after_secs),
        ApiFault::Status { status, retry_after_secs, .. } => {
            GraphError::failing(StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE), retry_after_secs)
        }
    }
}

/// Whether `token` meets a claims policy: issued at or after its `nbf`, and
/// carrying its `acrs` value, when the policy names them.
fn satisfies(token: &crate::tokens::AccessTokenClaims, policy: &str) -> bool {
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(policy) else { return true };
    let access_token = &policy["access_token"];
    let not_before = access_token["nbf"]["value"].as_str().and_then(|text| text.parse::<u64>().ok()).or_else(|| access_token["nbf"]["value"].as_u64());
    if not_before.is_some_and(|not_before| token.iat < not_before) {
        return false;
    }
    match access_token["acrs"]["value"].as_str() {
        Some(context) => token.acrs.as_deref().is_some_and(|held| held.iter().any(|value| value == context)),
        None => true,
    }
}
