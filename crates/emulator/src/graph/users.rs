//! `/v1.0/users`: the directory, for apps granted `User.Read.All`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::me::user_resource;
use super::{page_of, GRAPH};
use crate::error::GraphError;
use crate::guard::{authorize, Requirement};
use crate::EmulatorState;

const DIRECTORY_PERMISSIONS: [&str; 3] = ["User.Read.All", "User.ReadBasic.All", "Directory.Read.All"];
/// Graph's page size for users when `$top` is absent.
const DEFAULT_PAGE: usize = 100;

/// `GET /v1.0/users` with `$top` and `$skip`: an app token with
/// `User.Read.All` (or a delegated directory scope).
pub async fn list(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GraphError> {
    let requirement = Requirement { audience: GRAPH, delegated: &DIRECTORY_PERMISSIONS, app_roles: &DIRECTORY_PERMISSIONS };
    authorize(&state, &headers, &requirement)?;
    let users = &state.config.users;
    let page = page_of(&query, DEFAULT_PAGE, users.len())?;
    let mut body = json!({
        "@odata.context": format!("{}v1.0/$metadata#users", state.base_url),
        "value": users[page.range.clone()].iter().map(user_resource).collect::<Vec<_>>(),
    });
    if let Some(next) = page.next_skip {
        body["@odata.nextLink"] = json!(format!("{}v1.0/users?$top={}&$skip={next}", state.base_url, page.top));
    }
    Ok(Json(body))
}
