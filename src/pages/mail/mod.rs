//! Mail: the newest messages of the signed-in user's mailbox, from Graph
//! `/me/messages`, and one message at `/mail/{id}`. It needs `Mail.Read`,
//! which sign-in does not ask for: the first visit asks for it
//! (incremental consent).

mod list;
mod message;
#[cfg(any(feature = "ssr", test))]
mod text;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth_links::PageFailure;
use crate::error::AppError;
use list::MailList;
pub use message::{my_message, MessageDetail, MessagePage};

/// How many messages the page shows first, and each "load more" adds.
const PAGE_SIZE: u32 = 10;
/// The most messages the page shows.
const MAX_MESSAGES: u32 = 200;

/// One message as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailSummary {
    /// Graph's message id (keys the list).
    pub id: String,
    /// Subject line.
    pub subject: String,
    /// Sender's name, or address.
    pub from: String,
    /// When it arrived (ISO 8601).
    pub received: String,
    /// The same, for people: `2026-01-15 09:00 UTC`.
    pub received_display: String,
    /// The start of the body.
    pub preview: String,
    /// Whether it was read.
    pub is_read: bool,
}

/// The newest `count` messages, and whether the mailbox holds more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailBatch {
    /// The messages, newest first.
    pub messages: Vec<MailSummary>,
    /// Whether "load more" would find more.
    pub has_more: bool,
}

/// The newest `count` messages (data only: the token stays on the server),
/// following Graph's pages as far as needed.
#[server(prefix = "/api", endpoint = "my_messages", output = crate::json_text::JsonText)]
pub async fn my_messages(count: u32) -> Result<MailBatch, AppError> {
    let count = count.clamp(PAGE_SIZE, MAX_MESSAGES);
    // One more than shown tells whether there is more.
    let mut messages = crate::server::context::for_user_of(crate::error::Service::GRAPH, |identity, user| async move {
        identity.graph().messages_up_to(&user, count as usize + 1, PAGE_SIZE).await
    })
    .await?;
    // The page shows at most MAX_MESSAGES: there it ends, whatever the mailbox holds.
    let has_more = messages.len() > count as usize && count < MAX_MESSAGES;
    messages.truncate(count as usize);
    let messages = messages
        .into_iter()
        .map(|message| {
            let from = message.from.map(|from| from.email_address);
            MailSummary {
                id: message.id,
                subject: message.subject.filter(|subject| !subject.is_empty()).unwrap_or_else(|| "(no subject)".into()),
                from: from.and_then(|address| address.name.or(address.address)).unwrap_or_default(),
                received_display: readable_time(message.received_date_time.as_deref().unwrap_or_default()),
                received: message.received_date_time.unwrap_or_default(),
                preview: message.body_preview.unwrap_or_default(),
                is_read: message.is_read.unwrap_or(true),
            }
        })
        .collect();
    Ok(MailBatch { messages, has_more })
}

/// `2026-01-15T09:00:00Z` as `2026-01-15 09:00 UTC`; anything else as it came.
#[cfg(any(feature = "ssr", test))]
pub(crate) fn readable_time(iso: &str) -> String {
    match (iso.get(..10), iso.get(11..16), iso.ends_with('Z')) {
        (Some(date), Some(time), true) if iso.as_bytes().get(10) == Some(&b'T') => format!("{date} {time} UTC"),
        _ => iso.to_owned(),
    }
}

/// How many messages a `?count=` query asks for, within the page's bounds
/// (the first page for none or nonsense).
pub fn mail_count(query: Option<&str>) -> u32 {
    query.and_then(|count| count.parse::<u32>().ok()).unwrap_or(PAGE_SIZE).clamp(PAGE_SIZE, MAX_MESSAGES)
}

/// The mail page: the newest `count` messages the server read (`?count=N`,
/// see [`mail_count`]). "Load more" is a link to the next count, which the
/// list's island turns into loading the next messages in place.
#[component]
pub fn MailPage(count: u32, messages: Result<MailBatch, AppError>) -> impl IntoView {
    let body = match messages {
        Ok(batch) if batch.messages.is_empty() => view! { <p data-testid="mail-empty">"Your inbox is empty."</p> }.into_any(),
        Ok(batch) => view! { <MailList messages=batch.messages has_more=batch.has_more count/> }.into_any(),
        Err(error) => view! { <PageFailure error return_to="/mail" what="your mail"/> }.into_any(),
    };
    view! {
        <section class="card">
            <h1>"Your mail"</h1>
            {body}
        </section>
    }
}

/// `/mail/{id}` for Graph's message id, the id escaped as one path segment.
pub fn message_href(id: &str) -> String {
    format!("/mail/{}", idweb_routes::path_segment(id))
}

#[cfg(test)]
mod tests {
    use super::{mail_count, message_href, readable_time};

    #[test]
    fn a_message_link_keeps_its_id_in_one_path_segment() {
        assert_eq!(message_href("AAMkAG2b7c-0001"), "/mail/AAMkAG2b7c-0001");
        assert_eq!(message_href("a+b/c?d"), "/mail/a%2Bb%2Fc%3Fd");
        assert_eq!(message_href("../x"), "/mail/..%2Fx");
    }

    #[test]
    fn graph_times_read_as_date_and_minutes_in_utc() {
        assert_eq!(readable_time("2026-01-15T09:00:00Z"), "2026-01-15 09:00 UTC");
        assert_eq!(readable_time("yesterday"), "yesterday");
    }

    #[test]
    fn the_count_asked_for_stays_within_the_pages_bounds() {
        assert_eq!(mail_count(None), 10);
        assert_eq!(mail_count(Some("20")), 20);
        assert_eq!(mail_count(Some("3")), 10);
        assert_eq!(mail_count(Some("100000")), 200);
        assert_eq!(mail_count(Some("-1")), 10);
        assert_eq!(mail_count(Some("20<script>")), 10);
    }
}
