//! To-do: the sample protected web API (not Graph), called through the
//! identity engine's `DownstreamApis` as `TodoList`.
//!
//! The page is a small app people can rely on: an item is added once
//! however often the form is sent (each add carries a transaction id the
//! API deduplicates on), items are completed or reopened, a deletion can be
//! undone, an error stays with the action that failed, and every action
//! works without JavaScript as a form post to `/todo` ([`form`]).

mod editor;
pub mod form;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth_links::PageFailure;
use crate::error::AppError;
pub use editor::EditorState;
use editor::TodoEditor;
pub use form::{TodoCommand, TodoNotice};

/// The configured name of the API (`DownstreamApis:TodoList`).
#[cfg(feature = "ssr")]
pub const TODO_API: &str = "TodoList";
/// The longest title the page sends (the sample API refuses longer ones too).
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest transaction id (the sample API's limit).
#[cfg(any(feature = "ssr", test))]
const MAX_TRANSACTION_ID_CHARS: usize = 64;

/// One to-do item as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoItem {
    /// The API's id; items list in the order of their ids.
    pub id: u64,
    /// What to do.
    pub title: String,
    /// Whether it is done.
    #[serde(default)]
    pub completed: bool,
}

/// What the API takes to add an item.
#[cfg(feature = "ssr")]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewTodo<'a> {
    title: &'a str,
    transaction_id: &'a str,
}

/// What the API takes to complete or reopen an item.
#[cfg(feature = "ssr")]
#[derive(Serialize)]
struct CompletedChange {
    completed: bool,
}

/// Why `title` cannot be a to-do, in the words the field shows; `None`
/// when it can. The same rule as the sample API's, checked first so a
/// blank title never leaves the browser (or the server).
pub fn title_problem(title: &str) -> Option<String> {
    let title = title.trim();
    if title.is_empty() {
        return Some("Write what there is to do: a to-do needs a title.".into());
    }
    let length = title.chars().count();
    (length > MAX_TITLE_CHARS).then(|| format!("A title has at most {MAX_TITLE_CHARS} characters; this one has {length}. Shorten it to add it."))
}

/// Whether `id` can name an add request (the sample API's rule).
#[cfg(any(feature = "ssr", test))]
pub fn valid_transaction_id(id: &str) -> bool {
    (1..=MAX_TRANSACTION_ID_CHARS).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// Whether this deployment configures the to-do list's API (the page and
/// its link are offered only then).
#[cfg(feature = "ssr")]
pub fn todo_api_configured(identity: &idweb_identity::Identity) -> bool {
    identity.downstream().api(TODO_API).is_ok()
}

/// `NotConfigured` (404) when this deployment has no to-do list API: the
/// page says so instead of asking anyone to sign in for nothing.
#[cfg(feature = "ssr")]
fn configured() -> Result<(), AppError> {
    if todo_api_configured(&*crate::server::context::identity()?) {
        return Ok(());
    }
    Err(crate::server::context::refuse(AppError::NotConfigured(format!(
        "This idweb has no to-do list service configured, so this page has nothing to show. An administrator adds one as DownstreamApis:{TODO_API} in appsettings.json."
    ))))
}

/// The signed-in user's items.
#[server(prefix = "/api", endpoint = "my_todos", output = crate::json_text::JsonText)]
pub async fn my_todos() -> Result<Vec<TodoItem>, AppError> {
    configured()?;
    crate::server::context::for_user_of(crate::error::Service::TODO_LIST, |identity, user| async move {
        identity.downstream().get_for_user(TODO_API, &user, None).await
    })
    .await
}

/// Adds an item for the signed-in user. `transaction_id` names this add:
/// sending it again (a double click, a retry after a lost answer) answers
/// the item it made instead of adding a second one.
#[server(prefix = "/api", endpoint = "add_todo", output = crate::json_text::JsonText)]
pub async fn add_todo(title: String, transaction_id: String) -> Result<TodoItem, AppError> {
    configured()?;
    use crate::server::context::refuse;
    if let Some(problem) = title_problem(&title) {
        return Err(refuse(AppError::Invalid(problem)));
    }
    if !valid_transaction_id(&transaction_id) {
        return Err(refuse(AppError::Invalid("This form is out of date. Reload the page and add the item again.".into())));
    }
    let added = crate::server::context::for_user_of(crate::error::Service::TODO_LIST, |identity, user| async move {
        let new = NewTodo { title: title.trim(), transaction_id: &transaction_id };
        match identity.downstream().post_for_user(TODO_API, &user, None, &new).await {
            // The API's own check of the title (400) belongs at the field, in its words.
            Err(idweb_identity::IdentityError::Downstream { status: 400, message, .. }) => Ok(Err(AppError::Invalid(format!(
                "The to-do list service did not take this title: {}",
                idweb_identity::telemetry::outside_text(&message)
            )))),
            // This transaction id already added another title, or its item was deleted since: a new add is needed.
            Err(idweb_identity::IdentityError::Downstream { status: 409, .. }) => {
                Ok(Err(AppError::Invalid("This add crossed an earlier one with the same form. Press Add again to add it.".into())))
            }
            answer => answer.map(Ok),
        }
    })
    .await?;
    added.map_err(refuse)
}

/// Completes (or reopens) one of the signed-in user's items; answers the
/// item as the API keeps it.
#[server(prefix = "/api", endpoint = "set_todo_completed", output = crate::json_text::JsonText)]
pub async fn set_todo_completed(id: u64, completed: bool) -> Result<TodoItem, AppError> {
    configured()?;
    crate::server::context::for_user_of(crate::error::Service::TODO_LIST, |identity, user| async move {
        identity.downstream().patch_for_user(TODO_API, &user, Some(&format!("todolist/{id}")), &CompletedChange { completed }).await
    })
    .await
}

/// Deletes one of the signed-in user's items; answers the id it deleted
/// (the API keeps it for a while, so [`restore_todo`] can undo this).
#[server(prefix = "/api", endpoint = "delete_todo", output = crate::json_text::JsonText)]
pub async fn delete_todo(id: u64) -> Result<u64, AppError> {
    configured()?;
    crate::server::context::for_user_of(crate::error::Service::TODO_LIST, |identity, user| async move {
        match identity.downstream().delete_for_user(TODO_API, &user, Some(&format!("todolist/{id}"))).await {
            // Gone already (a second click, a resent form, another tab): what was asked for is so.
            Err(idweb_identity::IdentityError::Downstream { status: 404, .. }) => Ok(()),
            answer => answer,
        }
    })
    .await?;
    Ok(id)
}

/// Undoes the deletion of one of the signed-in user's items: it is back
/// where it was, as it was.
#[server(prefix = "/api", endpoint = "restore_todo", output = crate::json_text::JsonText)]
pub async fn restore_todo(id: u64) -> Result<TodoItem, AppError> {
    configured()?;
    crate::server::context::for_user_of(crate::error::Service::TODO_LIST, |identity, user| async move {
        identity.downstream().post_for_user(TODO_API, &user, Some(&format!("todolist/{id}/restore")), &serde_json::json!({})).await
    })
    .await
}

/// The to-do page: the list the server read (or why it could not) and the
/// editor's state (a notice after a form post, the problem of one that failed).
#[component]
pub fn TodoPage(todos: Result<Vec<TodoItem>, AppError>, state: EditorState) -> impl IntoView {
    let body = match todos {
        Ok(items) => view! { <TodoEditor items state/> }.into_any(),
        Err(error) => view! { <PageFailure error return_to="/todo" what="your to-do list"/> }.into_any(),
    };
    view! {
        <section class="card">
            <h1>"Your to-do list"</h1>
            <p class="muted">"Kept by the sample web API, called with a token for its own scope."</p>
            {body}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{title_problem, valid_transaction_id};

    #[test]
    fn a_title_is_one_to_two_hundred_characters_once_trimmed() {
        assert!(title_problem("Water the plants").is_none());
        assert!(title_problem("  padded  ").is_none());
        assert!(title_problem("").unwrap().contains("needs a title"));
        assert!(title_problem(" \t ").unwrap().contains("needs a title"));
        assert!(title_problem(&"é".repeat(200)).is_none(), "characters, not bytes");
        assert!(title_problem(&"x".repeat(201)).unwrap().contains("this one has 201"));
    }

    #[test]
    fn transaction_ids_are_what_the_api_takes() {
        assert!(valid_transaction_id("Zm9v-3_12"));
        assert!(!valid_transaction_id(""));
        assert!(!valid_transaction_id("a b"));
        assert!(!valid_transaction_id(&"a".repeat(65)));
    }
}
