//! Managed identity token endpoints, in the two shapes Azure hosts offer:
//! - App Service, Container Apps, Functions: `GET {IDENTITY_ENDPOINT}?resource=..&api-version=2019-08-01`
//!   with `X-IDENTITY-HEADER: {IDENTITY_HEADER}` ([`APP_SERVICE_PATH`]);
//! - virtual machines (IMDS): `GET /metadata/identity/oauth2/token?resource=..&api-version=2018-02-01`
//!   with `Metadata: true` ([`IMDS_PATH`]).
//!
//! Tokens are for the Key Vault resource or for `api://AzureADTokenExchange`
//! (the assertion with which a managed identity acts as an app through a
//! federated credential). A user-assigned identity is named by `client_id`
//! (or `principal_id` / `object_id`); without one, the first configured
//! identity (the system-assigned one) answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::config::ManagedIdentity;
use crate::tokens::now_secs;
use crate::EmulatorState;

/// Where the App Service-shaped endpoint lives (what `IDENTITY_ENDPOINT` names).
pub const APP_SERVICE_PATH: &str = "/msi/token";
/// Where IMDS answers on a virtual machine (`http://169.254.169.254` + this).
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// The only App Service API version whose answer carries `expires_on` in seconds.
const APP_SERVICE_API_VERSION: &str = "2019-08-01";
/// Lifetime of managed identity tokens (Azure: about a day).
const TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

/// The Key Vault resources of Azure's clouds: the audience of vault tokens.
pub const KEY_VAULT_RESOURCES: [&str; 3] = ["https://vault.azure.net", "https://vault.usgovcloudapi.net", "https://vault.azure.cn"];
/// The token exchange audiences of Azure's clouds, for federated credentials.
pub const TOKEN_EXCHANGE_RESOURCES: [&str; 3] = ["api://AzureADTokenExchange", "api://AzureADTokenExchangeUSGov", "api://AzureADTokenExchangeChina"];

/// `GET /msi/token` (App Service shape).
pub async fn app_service_token(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let presented = headers.get("x-identity-header").and_then(|value| value.to_str().ok());
    if presented != Some(state.identity_header.expose()) {
        return refused(StatusCode::UNAUTHORIZED, "invalid_request", "X-IDENTITY-HEADER is missing or wrong: send the value of IDENTITY_HEADER.");
    }
    if query.get("api-version").map(String::as_str) != Some(APP_SERVICE_API_VERSION) {
        return refused(StatusCode::BAD_REQUEST, "invalid_request", "api-version must be 2019-08-01.");
    }
    let identity = match pick_identity(&state, &query, "principal_id") {
        Ok(identity) => identity,
        Err(response) => return response,
    };
    let resource = match resource(&query) {
        Ok(resource) => resource,
        Err(response) => return response,
    };
    let token = state.minter().managed_identity_token(identity, &resource, TOKEN_LIFETIME_SECS);
    tracing::info!(client_id = %identity.client_id, %resource, "managed identity token issued (App Service endpoint)");
    Json(json!({
        "access_token": token,
        "expires_on": (now_secs() + TOKEN_LIFETIME_SECS).to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": identity.client_id,
    }))
    .into_response()
}

/// `GET /metadata/identity/oauth2/token` (IMDS shape).
pub async fn imds_token(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    // IMDS refuses requests without the header, so a page cannot make a browser fetch tokens.
    if !headers.get("metadata").and_then(|value| value.to_str().ok()).is_some_and(|value| value.eq_ignore_ascii_case("true")) {
        return refused(StatusCode::BAD_REQUEST, "invalid_request", "Required metadata header not specified");
    }
    if query.get("api-version").is_none_or(|version| version.trim().is_empty()) {
        return refused(StatusCode::BAD_REQUEST, "invalid_request", "Required query variable 'api-version' is missing");
    }
    let identity = match pick_identity(&state, &query, "object_id") {
        Ok(identity) => identity,
        Err(response) => return response,
    };
    let resource = match resource(&query) {
        Ok(resource) => resource,
        Err(response) => return response,
    };
    let now = now_secs();
    let token = state.minter().managed_identity_token(identity, &resource, TOKEN_LIFETIME_SECS);
    tracing::info!(client_id = %identity.client_id, %resource, "managed identity token issued (IMDS endpoint)");
    Json(json!({
        "access_token": token,
        "refresh_token": "",
        "expires_in": TOKEN_LIFETIME_SECS.to_string(),
        "expires_on": (now + TOKEN_LIFETIME_SECS).to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": identity.client_id,
    }))
    .into_response()
}

/// The identity the query names (`client_id`, or the principal id under
/// `principal_key`), else the system-assigned one.
fn pick_identity<'a>(state: &'a EmulatorState, query: &HashMap<String, String>, principal_key: &str) -> Result<&'a ManagedIdentity, Response> {
    let identities = &state.config.managed_identities;
    let not_found = || refused(StatusCode::BAD_REQUEST, "invalid_request", "Identity not found");
    if let Some(client_id) = query.get("client_id") {
        return identities.iter().find(|identity| identity.client_id.eq_ignore_ascii_case(client_id)).ok_or_else(not_found);
    }
    if let Some(principal_id) = query.get(principal_key) {
        return identities.iter().find(|identity| identity.principal_id.eq_ignore_ascii_case(principal_id)).ok_or_else(not_found);
    }
    identities.first().ok_or_else(not_found)
}

/// The `resource` asked for, as its tokens' audience: a known Key Vault or
/// token exchange resource (a trailing `/` or `/.default` is dropped).
fn resource(query: &HashMap<String, String>) -> Result<String, Response> {
    let asked = query.get("resource").map(|resource| resource.trim()).unwrap_or_default();
    if asked.is_empty() {
        return Err(refused(StatusCode::BAD_REQUEST, "invalid_request", "Required query variable 'resource' is missing"));
    }
    let bare = asked.trim_end_matches("/.default").trim_end_matches('/');
    KEY_VAULT_RESOURCES
        .iter()
        .chain(TOKEN_EXCHANGE_RESOURCES.iter())
        .find(|known| known.eq_ignore_ascii_case(bare))
        .map(|known| (*known).to_owned())
        .ok_or_else(|| {
            refused(
                StatusCode::BAD_REQUEST,
                "invalid_resource",
                "AADSTS500011: The resource principal named in the request was not found in the tenant.",
            )
        })
}

fn refused(status: StatusCode, error: &'static str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}
