//! Azure Key Vault's data plane for secrets and certificates, served at the
//! emulator's root so its URL is the vault URL (`KeyVaultUrl`):
//! - `GET /secrets/{name}[/{version}]?api-version=7.4`: a secret; a
//!   certificate's secret holds its private key (PKCS#12 or PEM);
//! - `GET /certificates/{name}[/{version}]?api-version=7.4`: the public
//!   certificate (`cer`, `x5t`) and the id of its secret (`sid`).
//!
//! Every call needs a bearer token this tenant issued for the Key Vault
//! resource (a managed identity's); without one the answer is Key Vault's
//! 401 challenge naming the authority and resource. Rotation is an admin
//! call (`POST /_emulator/key-vault/certificates/{name}/rotate`).

mod issue;
mod store;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

pub use issue::CertificateVersion;
pub use store::Vault;

use crate::managed_identity::KEY_VAULT_RESOURCES;
use crate::EmulatorState;

/// The vault's routes.
pub fn router() -> Router<Arc<EmulatorState>> {
    Router::new()
        .route("/secrets/{name}", get(latest_secret))
        .route("/secrets/{name}/{version}", get(secret_version))
        .route("/certificates/{name}", get(latest_certificate))
        .route("/certificates/{name}/{version}", get(certificate_version))
}

/// A new version id: 32 hex digits, like Key Vault's.
pub(crate) fn new_version() -> String {
    format!("{:032x}", rand::random::<u128>())
}

type VaultQuery = Query<HashMap<String, String>>;

async fn latest_secret(State(state): State<Arc<EmulatorState>>, headers: HeaderMap, Path(name): Path<String>, Query(query): VaultQuery) -> Response {
    secret(&state, &headers, &query, &name, None).await
}

async fn secret_version(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
    Query(query): VaultQuery,
) -> Response {
    secret(&state, &headers, &query, &name, Some(&version)).await
}

async fn latest_certificate(State(state): State<Arc<EmulatorState>>, headers: HeaderMap, Path(name): Path<String>, Query(query): VaultQuery) -> Response {
    certificate(&state, &headers, &query, &name, None).await
}

async fn certificate_version(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
    Query(query): VaultQuery,
) -> Response {
    certificate(&state, &headers, &query, &name, Some(&version)).await
}

async fn secret(state: &Arc<EmulatorState>, headers: &HeaderMap, query: &HashMap<String, String>, name: &str, version: Option<&str>) -> Response {
    if let Err(refusal) = admit(state, headers, query) {
        return refusal;
    }
    if let Some(stored) = state.vault.secret(name).filter(|stored| version.is_none_or(|wanted| wanted.eq_ignore_ascii_case(&stored.version))) {
        let mut body = json!({
            "value": stored.value,
            "id": format!("{}secrets/{name}/{}", state.base_url, stored.version),
            "attributes": attributes(stored.created),
            "tags": {},
        });
        if let Some(content_type) = &stored.content_type {
            body["contentType"] = json!(content_type);
        }
        return Json(body).into_response();
    }
    match Vault::certificate(state, name, version).await {
        Ok(Some((name, issued))) => Json(json!({
            "value": issued.secret_value,
            "contentType": issued.content_type,
            "id": format!("{}secrets/{name}/{}", state.base_url, issued.version),
            "kid": format!("{}keys/{name}/{}", state.base_url, issued.version),
            "managed": true,
            "attributes": attributes(issued.created),
            "tags": {},
        }))
        .into_response(),
        Ok(None) => vault_error(StatusCode::NOT_FOUND, "SecretNotFound", &format!("A secret with (name/id) {name} was not found in this key vault.")),
        Err(error) => vault_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &error.to_string()),
    }
}

async fn certificate(state: &Arc<EmulatorState>, headers: &HeaderMap, query: &HashMap<String, String>, name: &str, version: Option<&str>) -> Response {
    if let Err(refusal) = admit(state, headers, query) {
        return refusal;
    }
    match Vault::certificate(state, name, version).await {
        Ok(Some((name, issued))) => Json(json!({
            "id": format!("{}certificates/{name}/{}", state.base_url, issued.version),
            "kid": format!("{}keys/{name}/{}", state.base_url, issued.version),
            "sid": format!("{}secrets/{name}/{}", state.base_url, issued.version),
            "x5t": issued.x5t,
            "cer": STANDARD.encode(&issued.der),
            "attributes": attributes(issued.created),
            "tags": {},
        }))
        .into_response(),
        Ok(None) => vault_error(StatusCode::NOT_FOUND, "CertificateNotFound", &format!("A certificate with (name/id) {name} was not found in this key vault.")),
        Err(error) => vault_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &error.to_string()),
    }
}

/// Key Vault's checks before anything is read: an `api-version`, and a
/// bearer token from this tenant for the Key Vault resource.
fn admit(state: &EmulatorState, headers: &HeaderMap, query: &HashMap<String, String>) -> Result<(), Response> {
    if query.get("api-version").is_none_or(|version| version.trim().is_empty()) {
        return Err(vault_error(StatusCode::BAD_REQUEST, "BadParameter", "The api-version query parameter is missing."));
    }
    let challenge = || {
        let mut response = vault_error(StatusCode::UNAUTHORIZED, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.");
        let value = format!("Bearer authorization=\"{}{}\", resource=\"{}\"", state.base_url, state.config.tenant_id, KEY_VAULT_RESOURCES[0]);
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(challenge)?;
    state
        .minter()
        .verify_token_for_any(token.trim(), &KEY_VAULT_RESOURCES)
        .map(|_| ())
        .map_err(|reason| vault_error(StatusCode::UNAUTHORIZED, "Unauthorized", &format!("AKV10022: Invalid token: {reason}.")))
}

fn attributes(created: u64) -> Value {
    json!({ "enabled": true, "created": created, "updated": created, "recoveryLevel": "Recoverable+Purgeable" })
}

fn vault_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}
