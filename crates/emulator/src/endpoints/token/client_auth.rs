//! Client authentication at the token endpoint.

use std::collections::HashMap;

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::assertion;
use crate::config::AppRegistration;
use crate::error::OAuthError;
use crate::EmulatorState;

/// `private_key_jwt`, `client_secret_basic` or `client_secret_post`.
pub fn authenticate_client(
    state: &EmulatorState,
    tenant: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<AppRegistration, OAuthError> {
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str) != Some(assertion::JWT_BEARER) {
            return Err(OAuthError::new(
                "invalid_request",
                50027,
                format!("client_assertion_type must be '{}'.", assertion::JWT_BEARER),
            ));
        }
        let client_id = assertion::verify(state, tenant, assertion, form.get("client_id").map(String::as_str))?;
        return state
            .config
            .app(&client_id)
            .cloned()
            .ok_or_else(|| OAuthError::new("unauthorized_client", 700016, "Application not found in the directory."));
    }
    let (client_id, secret) = match basic_credentials(headers)? {
        Some(credentials) => credentials,
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    let Some(app) = state.config.app(&client_id) else {
        return Err(OAuthError::new(
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory."),
        ));
    };
    let presented = Sha256::digest(secret.as_bytes());
    // Comparing digests keeps the comparison time independent of the secret's content.
    let matches = !secret.is_empty()
        && app.client_secrets.iter().any(|known| Sha256::digest(known.expose().as_bytes()) == presented);
    if matches {
        Ok(app.clone())
    } else {
        Err(OAuthError::invalid_client(7000215, "Invalid client secret provided."))
    }
}

/// RFC 6749 2.3.1: id and secret are form-url-encoded before base64.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) else {
        return Ok(None);
    };
    let Some(encoded) = value.strip_prefix("Basic ") else { return Ok(None) };
    let malformed = || OAuthError::invalid_client(7000215, "Malformed Basic authorization header.");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let unescape = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

