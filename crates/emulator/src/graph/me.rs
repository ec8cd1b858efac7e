//! `/v1.0/me` and `/v1.0/me/photo/$value`: the signed-in user's profile and picture.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{select_fields, GRAPH};
use crate::config::TestUser;
use crate::error::GraphError;
use crate::guard::{authorize, Requirement};
use crate::EmulatorState;

/// Any of these lets a user read their own profile.
const PROFILE_SCOPES: [&str; 4] = ["User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All"];

/// A user resource as Graph returns it.
pub fn user_resource(user: &TestUser) -> Value {
    json!({
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
    })
}

fn signed_in_user<'a>(state: &'a EmulatorState, headers: &HeaderMap) -> Result<&'a TestUser, GraphError> {
    let claims = authorize(state, headers, &Requirement { audience: GRAPH, delegated: &PROFILE_SCOPES, app_roles: &[] })?;
    state.config.user(&claims.oid).ok_or_else(|| GraphError::not_found(format!("Resource '{}' does not exist.", claims.oid)))
}

/// `GET /v1.0/me` (with optional `$select`).
pub async fn me(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GraphError> {
    let user = signed_in_user(&state, &headers)?;
    let mut body = select_fields(user_resource(user), query.get("$select"));
    body.insert("@odata.context".into(), json!(format!("{}v1.0/$metadata#users/$entity", state.base_url)));
    Ok(Json(Value::Object(body)))
}

/// `GET /oidc/userinfo`: the OpenID Connect UserInfo endpoint, which Microsoft
/// serves from Graph; `sub` is the one in the ID tokens the client got.
pub async fn userinfo(State(state): State<Arc<EmulatorState>>, headers: HeaderMap) -> Result<Json<Value>, GraphError> {
    let claims = authorize(&state, &headers, &Requirement { audience: GRAPH, delegated: &USERINFO_SCOPES, app_roles: &[] })?;
    let user = state.config.user(&claims.oid).ok_or_else(|| GraphError::not_found(format!("Resource '{}' does not exist.", claims.oid)))?;
    Ok(Json(json!({
        "sub": crate::tokens::pairwise_subject(user, &claims.azp),
        "name": user.display_name,
        "family_name": user.surname,
        "given_name": user.given_name,
        "email": user.mail,
        "picture": format!("{}v1.0/me/photo/$value", state.base_url),
    })))
}

/// Scopes that admit the UserInfo endpoint (any token for the signed-in user's profile).
const USERINFO_SCOPES: [&str; 5] = ["openid", "profile", "email", "User.Read", "User.ReadBasic.All"];

/// `GET /v1.0/me/photo/$value`: a picture generated from the user's id, the same every time.
pub async fn photo(State(state): State<Arc<EmulatorState>>, headers: HeaderMap) -> Result<Response, GraphError> {
    let user = signed_in_user(&state, &headers)?;
    let image = identicon_png(&user.object_id).map_err(|error| {
        tracing::error!(%error, "cannot encode the photo");
        GraphError::failing(axum::http::StatusCode::INTERNAL_SERVER_ERROR, None)
    })?;
    let mut response = image.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    Ok(response)
}

/// Side of the picture in pixels, and of one cell of its 5x5 pattern.
const PHOTO_SIZE: u32 = 120;
const CELL: u32 = PHOTO_SIZE / 6;

/// A mirrored 5x5 pattern in a colour derived from `seed`, on a light
/// background, encoded as PNG.
pub fn identicon_png(seed: &str) -> Result<Vec<u8>, String> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let colour = [digest[0] / 2 + 64, digest[1] / 2 + 64, digest[2] / 2 + 64];
    let background = [240u8, 240, 240];
    let lit = |column: u32, row: u32| {
        let mirrored = column.min(4 - column);
        digest[(3 + row * 3 + mirrored) as usize] % 2 == 0
    };
    let margin = (PHOTO_SIZE - 5 * CELL) / 2;
    let mut pixels = Vec::with_capacity((PHOTO_SIZE * PHOTO_SIZE * 3) as usize);
    for y in 0..PHOTO_SIZE {
        for x in 0..PHOTO_SIZE {
            let inside = (margin..margin + 5 * CELL).contains(&x) && (margin..margin + 5 * CELL).contains(&y);
            let on = inside && lit((x - margin) / CELL, (y - margin) / CELL);
            pixels.extend_from_slice(if on { &colour } else { &background });
        }
    }
    let mut encoded = Vec::new();
    let mut encoder = png::Encoder::new(&mut encoded, PHOTO_SIZE, PHOTO_SIZE);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|error| error.to_string())?;
    writer.write_image_data(&pixels).map_err(|error| error.to_string())?;
    writer.finish().map_err(|error| error.to_string())?;
    Ok(encoded)
}
