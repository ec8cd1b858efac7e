//! Microsoft Graph `/v1.0`, validating tokens like a real resource server.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::error::GraphError;
use crate::tokens::AccessTokenClaims;
use crate::{EmulatorState, GRAPH_APP_ID};

/// Any of these lets a user read their own profile.
const PROFILE_SCOPES: [&str; 4] = ["User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All"];

/// `GET /v1.0/me` (with optional `$select`).
pub async fn me(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GraphError> {
    let claims = authorize(&state, &headers, &PROFILE_SCOPES)?;
    let user = state
        .config
        .user(&claims.oid)
        .ok_or_else(|| GraphError::not_found(format!("Resource '{}' does not exist.", claims.oid)))?;
    let profile = json!({
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": user.given_name,
        "jobTitle": user.job_title,
        "mail": user.mail,
        "mobilePhone": null,
        "officeLocation": user.office_location,
        "preferredLanguage": "en-US",
        "surname": user.surname,
        "userPrincipalName": user.user_principal_name,
        "id": user.object_id,
    });
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(format!("{}v1.0/$metadata#users/$entity", state.base_url)));
    let fields = profile.as_object().cloned().unwrap_or_default();
    match query.get("$select") {
        Some(select) => {
            let wanted: Vec<&str> = select.split(',').map(str::trim).collect();
            for (name, value) in fields {
                if wanted.iter().any(|field| field.eq_ignore_ascii_case(&name)) {
                    body.insert(name, value);
                }
            }
        }
        None => body.extend(fields),
    }
    Ok(Json(Value::Object(body)))
}

/// The bearer token's claims if it is valid for Graph and carries one of `scopes`.
fn authorize(state: &EmulatorState, headers: &HeaderMap, scopes: &[&str]) -> Result<AccessTokenClaims, GraphError> {
    let unauthorized = |message: &str| GraphError::unauthorized(&state.base_url, message);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("Access token is empty."))?;
    let claims = state
        .minter()
        .verify_access_token(token.trim(), GRAPH_APP_ID)
        .map_err(|reason| unauthorized(&format!("Access token validation failure: {reason}.")))?;
    let granted = claims.scopes();
    if scopes.iter().any(|needed| granted.iter().any(|scope| scope.eq_ignore_ascii_case(needed))) {
        Ok(claims)
    } else {
        Err(GraphError::forbidden())
    }
}
