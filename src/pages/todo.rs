//! Todo: the sample protected web API (not Graph), called through the
//! identity engine's `DownstreamApis` as `TodoList`. Adding and deleting
//! show at once and are undone if the API refuses; the forms work without
//! JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth_links::PageFailure;
use crate::error::AppError;

/// The configured name of the API (`DownstreamApis:TodoList`).
#[cfg(feature = "ssr")]
const TODO_API: &str = "TodoList";
/// The longest title the page sends (the API refuses longer ones too).
const MAX_TITLE_CHARS: usize = 200;

/// One to-do item as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoItem {
    /// The API's id.
    pub id: u64,
    /// What to do.
    pub title: String,
}

/// What the API takes to add an item.
#[cfg(feature = "ssr")]
#[derive(Serialize)]
struct NewTodo<'a> {
    title: &'a str,
}

/// The signed-in user's items.
#[server(prefix = "/api", endpoint = "my_todos")]
pub async fn my_todos() -> Result<Vec<TodoItem>, AppError> {
    crate::server::context::for_user(|identity, user| async move { identity.downstream().get_for_user(TODO_API, &user, None).await }).await
}

/// Adds an item for the signed-in user.
#[server(prefix = "/api", endpoint = "add_todo")]
pub async fn add_todo(title: String) -> Result<TodoItem, AppError> {
    let title = title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(crate::server::context::refuse(AppError::Invalid(format!("A to-do needs a title of 1 to {MAX_TITLE_CHARS} characters."))));
    }
    crate::server::context::for_user(|identity, user| async move {
        identity.downstream().post_for_user(TODO_API, &user, None, &NewTodo { title: &title }).await
    })
    .await
}

/// Deletes one of the signed-in user's items; answers the id it deleted
/// (the page removes that item once the API confirmed).
#[server(prefix = "/api", endpoint = "delete_todo")]
pub async fn delete_todo(id: u64) -> Result<u64, AppError> {
    crate::server::context::for_user(|identity, user| async move {
        identity.downstream().delete_for_user(TODO_API, &user, Some(&format!("todolist/{id}"))).await
    })
    .await?;
    Ok(id)
}

/// The to-do page: the list is read on the server; the editor is an island.
#[component]
pub fn TodoPage(todos: Result<Vec<TodoItem>, AppError>) -> impl IntoView {
    let body = match todos {
        Ok(items) => view! { <TodoEditor items/> }.into_any(),
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

/// The form and the items: the page's island. It starts from the items the
/// server read and applies each change the API confirmed (the added item
/// as the API answered it, a deletion once done), so a refused change
/// leaves the list as it was; the change in flight shows at once.
#[island]
fn TodoEditor(items: Vec<TodoItem>) -> impl IntoView {
    let items = RwSignal::new(items);
    let add = ServerAction::<AddTodo>::new();
    let delete = ServerAction::<DeleteTodo>::new();
    let title_input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(Ok(added)) = add.value().get() {
            items.update(|items| items.push(added));
            // Emptied for the next item (without JS the page reloads empty).
            if let Some(input) = title_input.get_untracked() {
                input.set_value("");
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(deleted)) = delete.value().get() {
            items.update(|items| items.retain(|item| item.id != deleted));
        }
    });
    let failure = move || {
        let failed_add = add.value().get().and_then(Result::err);
        let failed_delete = delete.value().get().and_then(Result::err);
        failed_add.or(failed_delete).map(|error| error.to_string())
    };
    let deleting = move || delete.input().get().map(|pending| pending.id);
    let adding = move || add.input().get().map(|pending| pending.title);
    view! {
        <ActionForm action=add attr:class="todo-form">
            <label for="todo-title">"New to-do"</label>
            <input node_ref=title_input id="todo-title" name="title" type="text" required maxlength=MAX_TITLE_CHARS.to_string() autocomplete="off" data-testid="todo-title"/>
            <button type="submit" class="button primary" data-testid="todo-add">"Add"</button>
        </ActionForm>
        {move || failure().map(|message| view! { <p role="alert" class="error" data-testid="todo-error">{message}</p> })}
        <ul class="todos" data-testid="todos">
            {move || items.get().into_iter().map(|item| {
                let id = item.id;
                view! {
                    <li class="todo" data-testid="todo" hidden=move || deleting() == Some(id)>
                        <span class="todo-title" data-testid="todo-item-title">{item.title}</span>
                        <ActionForm action=delete attr:class="inline-form">
                            <input type="hidden" name="id" value=id.to_string()/>
                            <button type="submit" class="button" data-testid="todo-delete">"Done"</button>
                        </ActionForm>
                    </li>
                }
            }).collect_view()}
            {move || adding().map(|title| view! {
                <li class="todo pending" data-testid="todo-pending"><span class="todo-title">{title}</span><span class="muted">" saving…"</span></li>
            })}
        </ul>
        {move || items.with(Vec::is_empty).then(|| view! { <p class="muted" data-testid="todos-empty">"Nothing to do. Add something above."</p> })}
    }
}
