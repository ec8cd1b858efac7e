//! OpenID Connect discovery and the signing keys.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::check_tenant;
use crate::error::OAuthError;
use crate::EmulatorState;

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`
pub async fn openid_configuration(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, OAuthError> {
    state.discovery_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scope = check_tenant(&state, &tenant)?;
    let base = &state.base_url;
    let mut document = json!({
        "token_endpoint": format!("{base}{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": state.config.id_token_signing_alg_values,
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": state.discovery_issuer(scope),
        "authorization_response_iss_parameter_supported": true,
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}{tenant}/oauth2/v2.0/authorize"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}{tenant}/oauth2/v2.0/logout"),
        "userinfo_endpoint": format!("{base}oidc/userinfo"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "oid", "sid", "email"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "idweb-emulator",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    });
    if let (Some(overrides), Some(fields)) = (state.faults.take_discovery(), document.as_object_mut()) {
        tracing::info!("discovery document deliberately changed");
        for (name, value) in overrides {
            match value {
                Value::Null => fields.remove(&name),
                value => fields.insert(name, value),
            };
        }
    }
    Ok(Json(document))
}

/// `GET /{tenant}/discovery/v2.0/keys`
pub async fn keys(State(state): State<Arc<EmulatorState>>, Path(tenant): Path<String>) -> Result<Json<Value>, OAuthError> {
    let scope = check_tenant(&state, &tenant)?;
    state.jwks_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if state.faults.take_jwks_failure() {
        return Err(OAuthError::unavailable("The key endpoint was told to fail."));
    }
    let mut jwks = state.keys.jwks(&state.discovery_issuer(scope));
    if state.faults.take_duplicate_kids() {
        duplicate_kids(&mut jwks);
    }
    if state.faults.take_single_key() {
        if let Some(keys) = jwks.get_mut("keys").and_then(Value::as_array_mut) {
            keys.truncate(1);
        }
    }
    Ok(Json(jwks))
}

/// Every key listed twice, and the second key's material once more under
/// the first key's `kid`: a set whose `kid`s do not name one key each.
fn duplicate_kids(jwks: &mut Value) {
    let Some(keys) = jwks.get_mut("keys").and_then(Value::as_array_mut) else { return };
    let mut listed: Vec<Value> = keys.iter().flat_map(|key| [key.clone(), key.clone()]).collect();
    if let (Some(first), Some(second)) = (keys.first(), keys.get(1)) {
        let mut impostor = second.clone();
        impostor["kid"] = first["kid"].clone();
        listed.push(impostor);
    }
    *keys = listed;
}
