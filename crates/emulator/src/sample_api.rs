//! The sample protected web API, "a downstream API other than Graph": a
//! to-do list per user at `/api/todolist`, guarded like Graph but for its
//! own audience and its `access_as_user` scope.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::error::GraphError;
use crate::guard::{authorize, Requirement};
use crate::tokens::AccessTokenClaims;
use crate::{lock, EmulatorState};

/// The delegated scope the API requires.
pub const ACCESS_AS_USER: &str = "access_as_user";
/// The app role that lets a daemon read every user's list.
pub const READ_ALL_ROLE: &str = "TodoList.Read.All";
/// The longest title accepted.
const MAX_TITLE_CHARS: usize = 200;

/// One to-do item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TodoItem {
    /// Identifier, unique in this emulator.
    pub id: u64,
    /// What to do.
    pub title: String,
    /// Object id of the user whose item it is.
    pub owner: String,
}

/// What a POST carries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTodo {
    /// What to do.
    pub title: String,
}

/// Every user's items.
#[derive(Debug, Default)]
pub struct TodoStore {
    items: Mutex<HashMap<String, Vec<TodoItem>>>,
    next_id: AtomicU64,
}

/// The API's routes.
pub fn router() -> Router<Arc<EmulatorState>> {
    Router::new().route("/api/todolist", get(list).post(create)).route("/api/todolist/{id}", delete(remove))
}

fn api_app_id(state: &EmulatorState) -> Result<&str, GraphError> {
    // The first configured API is the sample; without one there is nothing to serve.
    state.config.apis.first().map(|api| api.app_id.as_str()).ok_or_else(|| GraphError::not_found("No sample API is configured."))
}

fn as_user(state: &EmulatorState, headers: &HeaderMap) -> Result<AccessTokenClaims, GraphError> {
    let audience = api_app_id(state)?;
    let claims = authorize(state, headers, &Requirement { audience, delegated: &[ACCESS_AS_USER], app_roles: &[] })?;
    Ok(claims)
}

/// `GET /api/todolist`: the caller's items; every user's for an app token with `TodoList.Read.All`.
async fn list(State(state): State<Arc<EmulatorState>>, headers: HeaderMap) -> Result<Json<Vec<TodoItem>>, GraphError> {
    let audience = api_app_id(&state)?;
    let claims = authorize(&state, &headers, &Requirement { audience, delegated: &[ACCESS_AS_USER], app_roles: &[READ_ALL_ROLE] })?;
    let items = lock(&state.todos.items);
    let visible = if claims.scopes().is_empty() {
        let mut all: Vec<TodoItem> = items.values().flatten().cloned().collect();
        all.sort_by_key(|item| item.id);
        all
    } else {
        items.get(&claims.oid).cloned().unwrap_or_default()
    };
    Ok(Json(visible))
}

/// `POST /api/todolist` `{"title": "..."}`: adds an item for the caller.
async fn create(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    payload: Result<Json<NewTodo>, JsonRejection>,
) -> Result<Response, GraphError> {
    let claims = as_user(&state, &headers)?;
    let Json(new) = payload.map_err(|rejection| GraphError::bad_request(rejection.body_text()))?;
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(GraphError::bad_request(format!("title must be 1 to {MAX_TITLE_CHARS} characters")));
    }
    let item = TodoItem { id: state.todos.next_id.fetch_add(1, Ordering::Relaxed) + 1, title: title.to_owned(), owner: claims.oid.clone() };
    lock(&state.todos.items).entry(claims.oid).or_default().push(item.clone());
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

/// `DELETE /api/todolist/{id}`: removes one of the caller's items.
async fn remove(State(state): State<Arc<EmulatorState>>, headers: HeaderMap, Path(id): Path<u64>) -> Result<StatusCode, GraphError> {
    let claims = as_user(&state, &headers)?;
    let mut items = lock(&state.todos.items);
    let mine = items.entry(claims.oid).or_default();
    let before = mine.len();
    mine.retain(|item| item.id != id);
    if mine.len() == before {
        return Err(GraphError::not_found(format!("No to-do item {id} in your list.")));
    }
    Ok(StatusCode::NO_CONTENT)
}
