//! The token endpoint: client authentication, then the authorization code
//! and refresh token grants.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::check_tenant;
use crate::config::{AppRegistration, TestUser};
use crate::error::OAuthError;
use crate::store::{CodeLookup, RefreshGrant, RefreshLookup};
use crate::tokens::{now_secs, random_token, AccessGrant, IdTokenRequest, RequestedScopes};
use crate::{EmulatorState, GRAPH_APP_ID};

/// `POST /{tenant}/oauth2/v2.0/token`
pub async fn token(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, OAuthError> {
    state.token_requests.fetch_add(1, Ordering::Relaxed);
    check_tenant(&state, &tenant)?;
    let app = authenticate_client(&state, &headers, &form)?;
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or_default();
    if let Some(fault) = state.faults.take_token(grant_type) {
        tracing::info!(grant_type, delay_ms = fault.delay_ms, "token fault injected");
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        if let Some(injected) = &fault.error {
            return Err(OAuthError::injected(injected));
        }
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => redeem_code(&state, &app, &form),
        Some("refresh_token") => redeem_refresh_token(&state, &app, &form),
        Some(other) => Err(OAuthError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
        None => Err(OAuthError::new("invalid_request", 900144, "The request body must contain the 'grant_type' parameter.")),
    }
}

/// `client_secret_basic` or `client_secret_post`.
fn authenticate_client(
    state: &EmulatorState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<AppRegistration, OAuthError> {
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

fn redeem_code(state: &EmulatorState, app: &AppRegistration, form: &HashMap<String, String>) -> Result<Response, OAuthError> {
    let code = form.get("code").map(String::as_str).unwrap_or_default();
    let grant = match state.grants.redeem_code(code) {
        CodeLookup::Fresh(grant) => grant,
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
    let scopes = RequestedScopes::parse(&grant.scope).map_err(invalid_scope)?;
    Ok(token_response(state, app, user, &scopes, &grant.scope, grant.nonce, &grant.session_id))
}

fn redeem_refresh_token(state: &EmulatorState, app: &AppRegistration, form: &HashMap<String, String>) -> Result<Response, OAuthError> {
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
    let original = RequestedScopes::parse(&grant.scope).map_err(invalid_scope)?;
    let requested = match form.get("scope").filter(|scope| !scope.trim().is_empty()) {
        Some(scope) => RequestedScopes::parse(scope).map_err(invalid_scope)?,
        None => original.clone(),
    };
    let consented = original.granted_graph();
    if let Some(missing) = requested.graph.iter().find(|scope| !consented.iter().any(|c| c.eq_ignore_ascii_case(scope))) {
        return Err(OAuthError::new(
            "invalid_grant",
            65001,
            format!("The user or administrator has not consented to use the application with ID '{}'. Scope '{missing}' was not granted.", app.client_id),
        )
        .with_suberror("consent_required"));
    }
    let user = known_user(state, &grant.user_oid)?;
    // A refresh keeps the grant's OpenID Connect scopes; refreshed ID tokens carry no nonce.
    let scopes = RequestedScopes { oidc: original.oidc.clone(), graph: requested.granted_graph() };
    Ok(token_response(state, app, user, &scopes, &grant.scope, None, &grant.session_id))
}

fn known_user<'a>(state: &'a EmulatorState, object_id: &str) -> Result<&'a TestUser, OAuthError> {
    state
        .config
        .user(object_id)
        .ok_or_else(|| OAuthError::new("invalid_grant", 50034, "The user account does not exist in this directory."))
}

fn invalid_scope(scope: String) -> OAuthError {
    OAuthError::new("invalid_scope", 70011, format!("The provided value for the input parameter 'scope' is not valid: {scope}."))
}

fn token_response(
    state: &EmulatorState,
    app: &AppRegistration,
    user: &TestUser,
    scopes: &RequestedScopes,
    grant_scope: &str,
    nonce: Option<String>,
    session_id: &str,
) -> Response {
    let config = &state.config;
    let minter = state.minter();
    let graph_scopes = scopes.granted_graph();
    let access_grant = AccessGrant {
        audience: GRAPH_APP_ID,
        scopes: &graph_scopes,
        lifetime: config.access_token_lifetime_secs,
        client_capabilities: None,
    };
    let mut body = json!({
        "token_type": "Bearer",
        "scope": graph_scopes.iter().cloned().chain(scopes.oidc.iter().cloned()).collect::<Vec<_>>().join(" "),
        "expires_in": config.access_token_lifetime_secs,
        "ext_expires_in": config.access_token_lifetime_secs,
        "access_token": minter.user_access_token(app, user, &access_grant),
        "client_info": URL_SAFE_NO_PAD.encode(json!({ "uid": user.object_id, "utid": config.tenant_id }).to_string()),
    });
    if scopes.has("openid") {
        let other_user = config.users.iter().find(|other| other.object_id != user.object_id);
        let request = IdTokenRequest {
            nonce,
            session_id,
            lifetime: config.id_token_lifetime_secs,
            mutation: state.faults.take_id_token(),
        };
        body["id_token"] = json!(minter.id_token(app, user, other_user, request));
    }
    if scopes.has("offline_access") {
        let refresh_token = random_token(64);
        state.grants.insert_refresh_token(
            refresh_token.clone(),
            RefreshGrant {
                client_id: app.client_id.clone(),
                user_oid: user.object_id.clone(),
                scope: grant_scope.to_owned(),
                session_id: session_id.to_owned(),
                expires_at: now_secs() + config.refresh_token_lifetime_secs,
                revoked: false,
            },
        );
        body["refresh_token"] = json!(refresh_token);
    }
    tracing::info!(client_id = %app.client_id, "tokens issued");
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
