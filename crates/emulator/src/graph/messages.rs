//! `/v1.0/me/messages`: a generated mailbox, newest first, in pages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::{page_of, GRAPH};
use crate::config::TestUser;
use crate::error::GraphError;
use crate::guard::{authorize, Requirement};
use crate::EmulatorState;

const MAIL_SCOPES: [&str; 2] = ["Mail.Read", "Mail.ReadWrite"];
/// Graph's page size for messages when `$top` is absent.
const DEFAULT_PAGE: usize = 10;

const SUBJECTS: [&str; 8] = [
    "Quarterly sales review",
    "Lunch on Friday?",
    "Updated travel policy",
    "Your expense report was approved",
    "Team offsite agenda",
    "Customer feedback summary",
    "Welcome to the project",
    "Reminder: timesheets due",
];

/// The `index`-th message of `user`'s mailbox (0 is the newest).
fn message(state: &EmulatorState, user: &TestUser, index: usize) -> Value {
    let senders: Vec<&TestUser> = state.config.users.iter().filter(|other| other.object_id != user.object_id).collect();
    let sender = senders.get(index % senders.len().max(1)).copied().unwrap_or(user);
    // A fixed clock, one message an hour back from it, so pages never shift under a test.
    let received = time::macros::datetime!(2026-01-15 09:00 UTC) - time::Duration::hours(index as i64);
    let received = received.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let subject = SUBJECTS[index % SUBJECTS.len()];
    json!({
        "id": format!("AAMkAG{}-{index:04}", &user.object_id[..8]),
        "receivedDateTime": received,
        "subject": subject,
        "bodyPreview": format!("Hi {}, this is message {} about: {subject}.", user.given_name, index + 1),
        "isRead": !index.is_multiple_of(3),
        "importance": if index.is_multiple_of(7) { "high" } else { "normal" },
        "from": { "emailAddress": { "name": sender.display_name, "address": sender.mail } },
        "toRecipients": [{ "emailAddress": { "name": user.display_name, "address": user.mail } }],
    })
}

/// `GET /v1.0/me/messages` with `$top` and `$skip`; `@odata.nextLink` while more remain.
pub async fn list(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, GraphError> {
    let claims = authorize(&state, &headers, &Requirement { audience: GRAPH, delegated: &MAIL_SCOPES, app_roles: &[] })?;
    let user = state.config.user(&claims.oid).ok_or_else(|| GraphError::not_found(format!("Resource '{}' does not exist.", claims.oid)))?;
    let total = state.config.messages_per_user as usize;
    let page = page_of(&query, DEFAULT_PAGE, total)?;
    let messages: Vec<Value> = page.range.clone().map(|index| message(&state, user, index)).collect();
    let mut body = json!({
        "@odata.context": format!("{}v1.0/$metadata#users('{}')/messages", state.base_url, user.object_id),
        "value": messages,
    });
    if let Some(next) = page.next_skip {
        body["@odata.nextLink"] = json!(format!("{}v1.0/me/messages?$top={}&$skip={next}", state.base_url, page.top));
    }
    Ok(Json(body))
}
