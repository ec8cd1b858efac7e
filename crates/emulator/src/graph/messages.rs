//! `/v1.0/me/messages`: a generated mailbox, newest first, in pages, and
//! `/v1.0/me/messages/{id}`: one message with its body, which is HTML as
//! real mail's often is (markup, a script, an image that runs code if
//! rendered) so an app must show it as text.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
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

/// The body of the `index`-th message: HTML with what a mail client must
/// never run (a script, an event handler) and must not fetch (a remote image).
fn body_html(user: &TestUser, index: usize, subject: &str) -> String {
    format!(
        "<html><head><style>p {{ color: red }}</style><script>alert('mail {index}')</script></head><body>\
         <p>Hi {name},</p><p>This is message {number} about: <b>{subject}</b>.</p>\
         <p>Details are in the attached notes &amp; the agenda.<br>Thanks!</p>\
         <img src=\"https://tracker.example/pixel.gif\" onerror=\"alert('img {index}')\"></body></html>",
        name = user.given_name,
        number = index + 1,
    )
}

/// The mailbox index a message id names, if it is one of `user`'s.
fn index_of(user: &TestUser, id: &str, total: usize) -> Option<usize> {
    let index = id.strip_prefix(&format!("AAMkAG{}-", &user.object_id[..8]))?.parse::<usize>().ok()?;
    (index < total).then_some(index)
}

/// `GET /v1.0/me/messages/{id}`: one of the caller's messages, with its HTML body.
pub async fn one(State(state): State<Arc<EmulatorState>>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>, GraphError> {
    let claims = authorize(&state, &headers, &Requirement { audience: GRAPH, delegated: &MAIL_SCOPES, app_roles: &[] })?;
    let user = state.config.user(&claims.oid).ok_or_else(|| GraphError::not_found(format!("Resource '{}' does not exist.", claims.oid)))?;
    let index = index_of(user, &id, state.config.messages_per_user as usize)
        .ok_or_else(|| GraphError::not_found("The specified object was not found in the store."))?;
    let mut message = message(&state, user, index);
    let subject = SUBJECTS[index % SUBJECTS.len()];
    message["body"] = json!({ "contentType": "html", "content": body_html(user, index, subject) });
    Ok(Json(message))
}
