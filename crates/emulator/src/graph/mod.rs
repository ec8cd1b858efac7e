//! Microsoft Graph `/v1.0`, validating tokens like a real resource server
//! (see `guard.rs`), answering in Graph's JSON shapes.

pub mod me;
pub mod messages;
pub mod users;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};

use crate::error::GraphError;
use crate::{EmulatorState, GRAPH_APP_ID};

/// The audience of Graph tokens.
const GRAPH: &str = GRAPH_APP_ID;
/// The largest `$top` Graph accepts.
const MAX_TOP: usize = 999;

/// Graph's routes.
pub fn router() -> Router<Arc<EmulatorState>> {
    Router::new()
        .route("/oidc/userinfo", get(me::userinfo))
        .route("/v1.0/me", get(me::me))
        .route("/v1.0/me/photo/$value", get(me::photo))
        .route("/v1.0/me/messages", get(messages::list))
        .route("/v1.0/me/messages/{id}", get(messages::one))
        .route("/v1.0/users", get(users::list))
}

/// `$select=a,b`: keeps only those fields (any case); everything when absent.
fn select_fields(resource: Value, select: Option<&String>) -> Map<String, Value> {
    let fields = match resource {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    let Some(select) = select else { return fields };
    let wanted: Vec<&str> = select.split(',').map(str::trim).collect();
    fields.into_iter().filter(|(name, _)| wanted.iter().any(|field| field.eq_ignore_ascii_case(name))).collect()
}

/// One page of a collection: which items, and where the next page starts.
struct Page {
    range: Range<usize>,
    top: usize,
    next_skip: Option<usize>,
}

/// Reads `$top` (1..=999, `default_top` when absent) and `$skip`.
fn page_of(query: &HashMap<String, String>, default_top: usize, total: usize) -> Result<Page, GraphError> {
    let number = |name: &str| -> Result<Option<usize>, GraphError> {
        query
            .get(name)
            .map(|text| text.parse::<usize>().map_err(|_| GraphError::bad_request(format!("Invalid value '{text}' for query parameter {name}."))))
            .transpose()
    };
    let top = number("$top")?.unwrap_or(default_top);
    if top == 0 || top > MAX_TOP {
        return Err(GraphError::bad_request(format!("Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive.")));
    }
    let skip = number("$skip")?.unwrap_or(0).min(total);
    let end = (skip + top).min(total);
    Ok(Page { range: skip..end, top, next_skip: (end < total).then_some(end) })
}
