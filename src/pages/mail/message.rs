//! One message at `/mail/{id}`: subject, sender, time and the body as
//! text. Graph's HTML never reaches the page ([`super::text`]).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth_links::PageFailure;
use crate::error::AppError;

/// A message as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDetail {
    /// Subject line.
    pub subject: String,
    /// Sender's name and address.
    pub from: String,
    /// When it arrived (ISO 8601).
    pub received: String,
    /// The same, for people, in UTC.
    pub received_display: String,
    /// The body as plain text.
    pub body: String,
}

/// The signed-in user's message `id`, its body as text.
#[server(prefix = "/api", endpoint = "my_message", output = crate::json_text::JsonText)]
pub async fn my_message(id: String) -> Result<MessageDetail, AppError> {
    use crate::server::context::refuse;
    let message = crate::server::context::for_user_of(crate::error::Service::GRAPH, |identity, user| async move {
        match identity.graph().message(&user, &id).await {
            // Not a Graph id: there is no such message, as for one Graph does not have.
            Err(idweb_identity::IdentityError::InvalidRequest(_)) => Ok(None),
            // Graph answers a malformed id with 400 (ErrorInvalidIdMalformed), one it does not hold with 404.
            Err(idweb_identity::IdentityError::Downstream { status: 400 | 404, .. }) => Ok(None),
            answer => answer.map(Some),
        }
    })
    .await?
    .ok_or_else(|| refuse(AppError::NotFound("There is no such message in your mailbox. It may have been deleted or moved.".into())))?;
    let body = message.body.map(|body| if body.content_type.eq_ignore_ascii_case("html") { super::text::html_to_text(&body.content) } else { body.content });
    let from = message.message.from.map(|from| from.email_address);
    let from = match from {
        Some(address) => match (address.name, address.address) {
            (Some(name), Some(mail)) => format!("{name} <{mail}>"),
            (Some(only), None) | (None, Some(only)) => only,
            (None, None) => String::new(),
        },
        None => String::new(),
    };
    let received = message.message.received_date_time.unwrap_or_default();
    Ok(MessageDetail {
        subject: message.message.subject.filter(|subject| !subject.is_empty()).unwrap_or_else(|| "(no subject)".into()),
        from,
        received_display: super::readable_time(&received),
        received,
        body: body.unwrap_or_default(),
    })
}

/// The page of one message (or why it cannot be shown).
#[component]
pub fn MessagePage(message: Result<MessageDetail, AppError>, return_to: String) -> impl IntoView {
    let body = match message {
        Ok(message) => view! {
            <h1 data-testid="message-title">{message.subject}</h1>
            <dl class="fields">
                <dt>"From"</dt>
                <dd data-testid="message-from">{message.from}</dd>
                <dt>"Received"</dt>
                <dd><time datetime=message.received>{message.received_display}</time></dd>
            </dl>
            // Text, never markup: Leptos escapes it; line breaks show through CSS.
            <div class="message-body" data-testid="message-body">{message.body}</div>
        }
        .into_any(),
        Err(error) => view! {
            <h1>"Message"</h1>
            <PageFailure error return_to=return_to.clone() what="this message"/>
        }
        .into_any(),
    };
    view! {
        <p><a href="/mail" data-testid="back-to-mail">"← Back to your mail"</a></p>
        <article class="card">{body}</article>
    }
}
