//! `grant_type=client_credentials`: an app acting as itself, with the app
//! roles an administrator granted it.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::invalid_scope;
use crate::config::AppRegistration;
use crate::error::OAuthError;
use crate::scopes::{ScopeRequest, DEFAULT_SCOPE};
use crate::tokens::AccessGrant;
use crate::EmulatorState;

/// The token response body for an app token.
pub fn client_credentials(state: &EmulatorState, app: &AppRegistration, form: &HashMap<String, String>) -> Result<Value, OAuthError> {
    let scope = form.get("scope").map(String::as_str).unwrap_or_default();
    let requested = ScopeRequest::parse(scope, &state.config).map_err(invalid_scope)?;
    let only_default = requested.oidc.is_empty()
        && requested.resources.len() == 1
        && requested.resources[0].names.iter().all(|name| name == DEFAULT_SCOPE);
    if !only_default {
        return Err(OAuthError::new(
            "invalid_scope",
            1002012,
            format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        ));
    }
    let resource = &requested.resources[0];
    // Roles granted to this app for this resource: every granted permission naming it.
    let roles: Vec<String> = app
        .app_permissions
        .iter()
        .filter_map(|permission| ScopeRequest::parse(permission, &state.config).ok())
        .flat_map(|parsed| parsed.resources)
        .filter(|granted| granted.app_id == resource.app_id)
        .flat_map(|granted| granted.names)
        .collect();
    let lifetime = state.config.access_token_lifetime_secs;
    let grant = AccessGrant { audience: &resource.app_id, scopes: &roles, lifetime, client_capabilities: None };
    tracing::info!(client_id = %app.client_id, resource = %resource.app_id, roles = roles.len(), "app token issued");
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": state.minter().app_access_token(app, &grant),
    }))
}
