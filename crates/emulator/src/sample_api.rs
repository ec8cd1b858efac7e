//! The sample protected web API, "a downstream API other than Graph": a
//! to-do list per user at `/api/todolist`, guarded like Graph but for its
//! own audience and its `access_as_user` scope.
//!
//! It behaves as a careful real API does, so the app built on it has to
//! handle what real APIs do:
//! - creating is idempotent: a client may name its request with a
//!   `transactionId` (as Graph's events take one) and a repeat of it answers
//!   the item it already made (200, not a second 201);
//! - an item is completed or reopened with `PATCH`, and a deleted item is
//!   kept for a while so `POST /api/todolist/{id}/restore` can undo the
//!   deletion (as Graph's `deletedItems/{id}/restore` does), at its place;
//! - a bad title is refused with 400 and a message a person can read.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
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
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest `transactionId` accepted.
pub const MAX_TRANSACTION_ID_CHARS: usize = 64;
/// How many deleted items each user can still restore (the oldest go first).
const KEPT_DELETED_ITEMS: usize = 50;
/// How many transaction ids each user's list remembers (longer than the
/// items they made may live, so a late replay never makes a duplicate).
const KEPT_TRANSACTIONS: usize = 1_000;

/// One to-do item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TodoItem {
    /// Identifier, unique in this emulator; items list in the order of their ids.
    pub id: u64,
    /// What to do.
    pub title: String,
    /// Whether it is done.
    #[serde(default)]
    pub completed: bool,
    /// Object id of the user whose item it is.
    pub owner: String,
    /// The client's name for the request that created it, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// What a POST carries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewTodo {
    /// What to do.
    pub title: String,
    /// Whether it starts done.
    #[serde(default)]
    pub completed: bool,
    /// The client's name for this request: a repeat answers the same item.
    #[serde(default)]
    pub transaction_id: Option<String>,
}

/// What a PATCH carries: the fields to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TodoChange {
    /// A new title.
    #[serde(default)]
    pub title: Option<String>,
    /// Done or not.
    #[serde(default)]
    pub completed: Option<bool>,
}

/// One user's items, the deleted ones they can still restore, and the
/// transactions that made items (its id, the title and the item's id).
#[derive(Debug, Default)]
struct UserList {
    items: Vec<TodoItem>,
    deleted: VecDeque<TodoItem>,
    transactions: VecDeque<(String, String, u64)>,
}

/// Every user's items.
#[derive(Debug, Default)]
pub struct TodoStore {
    lists: Mutex<HashMap<String, UserList>>,
    next_id: AtomicU64,
}

/// The API's routes.
pub fn router() -> Router<Arc<EmulatorState>> {
    Router::new()
        .route("/api/todolist", get(list).post(create))
        .route("/api/todolist/{id}", patch(change).delete(remove))
        .route("/api/todolist/{id}/restore", post(restore))
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

/// The title as kept (trimmed), or the 400 that says what is wrong with it.
fn checked_title(title: &str) -> Result<String, GraphError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(GraphError::bad_request("A to-do needs a title; this one is blank."));
    }
    let length = title.chars().count();
    if length > MAX_TITLE_CHARS {
        return Err(GraphError::bad_request(format!("A title has at most {MAX_TITLE_CHARS} characters; this one has {length}.")));
    }
    Ok(title.to_owned())
}

fn checked_transaction_id(id: Option<String>) -> Result<Option<String>, GraphError> {
    let Some(id) = id else { return Ok(None) };
    let well_formed = (1..=MAX_TRANSACTION_ID_CHARS).contains(&id.len())
        && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if !well_formed {
        return Err(GraphError::bad_request(format!(
            "transactionId: 1 to {MAX_TRANSACTION_ID_CHARS} letters, digits, '-' or '_'."
        )));
    }
    Ok(Some(id))
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, GraphError> {
    payload.map(|Json(body)| body).map_err(|rejection| GraphError::bad_request(rejection.body_text()))
}

fn no_such_item(id: u64) -> GraphError {
    GraphError::not_found(format!("No to-do item {id} in your list."))
}

/// `GET /api/todolist`: the caller's items; every user's for an app token with `TodoList.Read.All`.
async fn list(State(state): State<Arc<EmulatorState>>, headers: HeaderMap) -> Result<Json<Vec<TodoItem>>, GraphError> {
    let audience = api_app_id(&state)?;
    let claims = authorize(&state, &headers, &Requirement { audience, delegated: &[ACCESS_AS_USER], app_roles: &[READ_ALL_ROLE] })?;
    let lists = lock(&state.todos.lists);
    let visible = if claims.scopes().is_empty() {
        let mut all: Vec<TodoItem> = lists.values().flat_map(|list| list.items.iter()).cloned().collect();
        all.sort_by_key(|item| item.id);
        all
    } else {
        lists.get(&claims.oid).map(|list| list.items.clone()).unwrap_or_default()
    };
    Ok(Json(visible))
}

/// `POST /api/todolist` `{"title": "...", "transactionId": "..."}`: adds an
/// item for the caller (201), or answers the one this transaction made (200).
async fn create(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    payload: Result<Json<NewTodo>, JsonRejection>,
) -> Result<Response, GraphError> {
    let claims = as_user(&state, &headers)?;
    let new = body(payload)?;
    let title = checked_title(&new.title)?;
    let transaction_id = checked_transaction_id(new.transaction_id)?;
    let mut lists = lock(&state.todos.lists);
    let list = lists.entry(claims.oid.clone()).or_default();
    if let Some(transaction) = transaction_id.as_deref() {
        if let Some((_, made_title, made_id)) = list.transactions.iter().find(|(known, ..)| known == transaction) {
            if *made_title != title {
                return Err(GraphError::conflict("This transactionId already added an item with another title; send the new title with a new transactionId."));
            }
            return match list.items.iter().find(|item| item.id == *made_id) {
                Some(existing) => Ok((StatusCode::OK, Json(existing.clone())).into_response()),
                None => Err(GraphError::conflict("The item this transactionId added was deleted since.")),
            };
        }
    }
    let id = state.todos.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(transaction) = &transaction_id {
        list.transactions.push_back((transaction.clone(), title.clone(), id));
        if list.transactions.len() > KEPT_TRANSACTIONS {
            list.transactions.pop_front();
        }
    }
    let item = TodoItem { id, title, completed: new.completed, owner: claims.oid, transaction_id };
    list.items.push(item.clone());
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

/// `PATCH /api/todolist/{id}` `{"completed": true}`: changes one of the caller's items.
async fn change(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    payload: Result<Json<TodoChange>, JsonRejection>,
) -> Result<Json<TodoItem>, GraphError> {
    let claims = as_user(&state, &headers)?;
    let change = body(payload)?;
    let title = change.title.as_deref().map(checked_title).transpose()?;
    let mut lists = lock(&state.todos.lists);
    let item = lists.get_mut(&claims.oid).and_then(|list| list.items.iter_mut().find(|item| item.id == id)).ok_or_else(|| no_such_item(id))?;
    if let Some(title) = title {
        item.title = title;
    }
    if let Some(completed) = change.completed {
        item.completed = completed;
    }
    Ok(Json(item.clone()))
}

/// `DELETE /api/todolist/{id}`: removes one of the caller's items (restorable for a while).
async fn remove(State(state): State<Arc<EmulatorState>>, headers: HeaderMap, Path(id): Path<u64>) -> Result<StatusCode, GraphError> {
    let claims = as_user(&state, &headers)?;
    let mut lists = lock(&state.todos.lists);
    let list = lists.get_mut(&claims.oid).ok_or_else(|| no_such_item(id))?;
    let position = list.items.iter().position(|item| item.id == id).ok_or_else(|| no_such_item(id))?;
    let item = list.items.remove(position);
    list.deleted.push_back(item);
    if list.deleted.len() > KEPT_DELETED_ITEMS {
        list.deleted.pop_front();
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/todolist/{id}/restore`: puts a deleted item back where it was.
async fn restore(State(state): State<Arc<EmulatorState>>, headers: HeaderMap, Path(id): Path<u64>) -> Result<Json<TodoItem>, GraphError> {
    let claims = as_user(&state, &headers)?;
    let mut lists = lock(&state.todos.lists);
    let list = lists.get_mut(&claims.oid).ok_or_else(|| no_such_item(id))?;
    if let Some(existing) = list.items.iter().find(|item| item.id == id) {
        // Restored already (a repeated undo): the same answer again.
        return Ok(Json(existing.clone()));
    }
    let position = list.deleted.iter().position(|item| item.id == id).ok_or_else(|| no_such_item(id))?;
    let Some(item) = list.deleted.remove(position) else { return Err(no_such_item(id)) };
    // Items list in id order, so an item's place is where its id sorts.
    let place = list.items.partition_point(|other| other.id < item.id);
    list.items.insert(place, item.clone());
    Ok(Json(item))
}
