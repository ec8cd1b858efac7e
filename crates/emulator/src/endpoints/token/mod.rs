//! The token endpoint: client authentication, then the authorization code,
//! refresh token and client credentials grants.

mod app_grant;
pub mod assertion;
mod client_auth;
mod user_grants;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::check_tenant;
use crate::config::{AppRegistration, TestUser};
use crate::error::OAuthError;
use crate::scopes::{ResourceScopes, DEFAULT_SCOPE};
use crate::store::RefreshGrant;
use crate::tokens::{now_secs, random_token, AccessGrant, IdTokenRequest};
use crate::EmulatorState;

/// `POST /{tenant}/oauth2/v2.0/token`
pub async fn token(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, OAuthError> {
    state.token_requests.fetch_add(1, Ordering::Relaxed);
    check_tenant(&state, &tenant)?;
    let app = client_auth::authenticate_client(&state, &tenant, &headers, &form)?;
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or_default();
    if let Some(fault) = state.faults.take_token(grant_type) {
        tracing::info!(grant_type, delay_ms = fault.delay_ms, "token fault injected");
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        if let Some(raw) = &fault.raw {
            return Ok(raw_answer(raw));
        }
        if let Some(injected) = &fault.error {
            return Err(OAuthError::injected(injected));
        }
    }
    let body = match grant_type {
        "authorization_code" => user_token_response(&state, &app, user_grants::redeem_code(&state, &app, &form)?),
        "refresh_token" => user_token_response(&state, &app, user_grants::redeem_refresh_token(&state, &app, &form)?),
        "client_credentials" => app_grant::client_credentials(&state, &app, &form)?,
        "" => return Err(OAuthError::new("invalid_request", 900144, "The request body must contain the 'grant_type' parameter.")),
        other => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{other}'."),
            ))
        }
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// What a user grant resolved to: who, for which resource, and what to put in the tokens.
pub struct UserTokenRequest<'a> {
    /// The user.
    pub user: &'a TestUser,
    /// OpenID Connect scopes of the grant (`openid` gives an ID token, `offline_access` a refresh token).
    pub oidc: Vec<String>,
    /// The resource of the access token, with the scopes granted.
    pub resource: ResourceScopes,
    /// The original grant's `scope` text, kept with a new refresh token.
    pub grant_scope: String,
    /// The nonce for the ID token (none on refresh).
    pub nonce: Option<String>,
    /// The provider session id.
    pub session_id: String,
    /// A claims request (`xms_cc` client capabilities).
    pub claims: Option<String>,
}

fn invalid_scope(scope: String) -> OAuthError {
    OAuthError::new("invalid_scope", 70011, format!("The provided value for the input parameter 'scope' is not valid: {scope}."))
}

/// `xms_cc` values a claims request declares (`{"access_token":{"xms_cc":{"values":["cp1"]}}}`).
fn client_capabilities(claims: Option<&str>) -> Option<Vec<String>> {
    let parsed: Value = serde_json::from_str(claims?).ok()?;
    let values = parsed.get("access_token")?.get("xms_cc")?.get("values")?.as_array()?;
    let capabilities: Vec<String> = values.iter().filter_map(Value::as_str).map(str::to_owned).collect();
    (!capabilities.is_empty()).then_some(capabilities)
}

fn user_token_response(state: &EmulatorState, app: &AppRegistration, request: UserTokenRequest<'_>) -> Value {
    let config = &state.config;
    let minter = state.minter();
    let user = request.user;
    let resource = &request.resource;
    // `.default` stands for every scope the user consented to for the resource.
    let mut granted: Vec<String> = resource.names.iter().filter(|name| name.as_str() != DEFAULT_SCOPE).cloned().collect();
    if resource.is_default() {
        for name in state.consent.consented_names(config, &user.object_id, app, &resource.app_id) {
            if !granted.iter().any(|known| known.eq_ignore_ascii_case(&name)) {
                granted.push(name);
            }
        }
    }
    let access_grant = AccessGrant {
        audience: &resource.app_id,
        scopes: &granted,
        lifetime: config.access_token_lifetime_secs,
        client_capabilities: client_capabilities(request.claims.as_deref()),
    };
    let access_token = minter.user_access_token(app, user, &access_grant);
    let scope_text: Vec<String> =
        granted.iter().map(|name| resource.qualified(name)).chain(request.oidc.iter().cloned()).collect();
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope_text.join(" "),
        "expires_in": config.access_token_lifetime_secs,
        "ext_expires_in": config.access_token_lifetime_secs,
        "access_token": access_token,
        "client_info": URL_SAFE_NO_PAD.encode(json!({ "uid": user.object_id, "utid": config.tenant_id }).to_string()),
    });
    if let Some(refresh_in) = config.access_token_refresh_in_secs {
        body["refresh_in"] = json!(refresh_in);
    }
    let has = |scope: &str| request.oidc.iter().any(|asked| asked == scope);
    if has("openid") {
        let other_user = config.users.iter().find(|other| other.object_id != user.object_id);
        let id_request = IdTokenRequest {
            nonce: request.nonce,
            session_id: &request.session_id,
            lifetime: config.id_token_lifetime_secs,
            mutation: state.faults.take_id_token(),
            access_token: Some(&access_token),
        };
        body["id_token"] = json!(minter.id_token(app, user, other_user, id_request));
    }
    if has("offline_access") {
        let refresh_token = random_token(64);
        state.grants.insert_refresh_token(
            refresh_token.clone(),
            RefreshGrant {
                client_id: app.client_id.clone(),
                user_oid: user.object_id.clone(),
                scope: request.grant_scope,
                session_id: request.session_id,
                expires_at: now_secs() + config.refresh_token_lifetime_secs,
                revoked: false,
            },
        );
        body["refresh_token"] = json!(refresh_token);
    }
    tracing::info!(client_id = %app.client_id, resource = %resource.app_id, "tokens issued");
    body
}

/// A fault's raw answer; a status or content type that cannot be sent becomes a plain 502.
fn raw_answer(raw: &crate::faults::RawAnswer) -> Response {
    let status = StatusCode::from_u16(raw.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = HeaderValue::from_str(&raw.content_type).unwrap_or(HeaderValue::from_static("text/plain"));
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], raw.body.clone()).into_response();
    if let Some(seconds) = raw.retry_after_secs {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
