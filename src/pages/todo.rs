//! Todo: the sample protected web API (not Graph), called through the
//! identity engine's `DownstreamApis` as `TodoList`. Adding and deleting
//! show at once and are rolled back if the API refuses; the forms work
//! without JavaScript.

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

/// Deletes one of the signed-in user's items.
#[server(prefix = "/api", endpoint = "delete_todo")]
pub async fn delete_todo(id: u64) -> Result<(), AppError> {
    crate::server::context::for_user(|identity, user| async move {
        identity.downstream().delete_for_user(TODO_API, &user, Some(&format!("todolist/{id}"))).await
    })
    .await
}

/// The to-do page.
#[component]
pub fn TodoPage() -> impl IntoView {
    let add = ServerAction::<AddTodo>::new();
    let delete = ServerAction::<DeleteTodo>::new();
    // Refetched after every add or delete, so a refused change rolls back.
    let todos = Resource::new(move || (add.version().get(), delete.version().get()), |_| my_todos());
    // After a successful add the field is emptied for the next item (without JS the page reloads empty).
    let title_input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if add.value().with(|result| matches!(result, Some(Ok(_)))) {
            if let Some(input) = title_input.get() {
                input.set_value("");
            }
        }
    });
    let failure = move || {
        let failed_add = add.value().get().and_then(Result::err);
        let failed_delete = delete.value().get().and_then(Result::err);
        failed_add.or(failed_delete).map(|error| error.to_string())
    };
    view! {
        <section class="card">
            <h1>"Your to-do list"</h1>
            <p class="muted">"Kept by the sample web API, called with a token for its own scope."</p>
            <ActionForm action=add attr:class="todo-form">
                <label for="todo-title">"New to-do"</label>
                <input node_ref=title_input id="todo-title" name="title" type="text" required maxlength=MAX_TITLE_CHARS.to_string() autocomplete="off" data-testid="todo-title"/>
                <button type="submit" class="button primary" data-testid="todo-add">"Add"</button>
            </ActionForm>
            {move || failure().map(|message| view! { <p role="alert" class="error" data-testid="todo-error">{message}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading your to-do list…"</p> }>
                {move || Suspend::new(async move {
                    match todos.await {
                        Ok(items) => view! { <TodoList items add delete/> }.into_any(),
                        Err(error) => view! { <PageFailure error return_to="/todo" what="your to-do list"/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The items, with the change in flight shown optimistically.
#[component]
fn TodoList(items: Vec<TodoItem>, add: ServerAction<AddTodo>, delete: ServerAction<DeleteTodo>) -> impl IntoView {
    let deleting = move || delete.input().get().map(|pending| pending.id);
    let adding = move || add.input().get().map(|pending| pending.title);
    let empty = items.is_empty();
    view! {
        <ul class="todos" data-testid="todos">
            {items
                .into_iter()
                .map(|item| {
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
                })
                .collect_view()}
            {move || adding().map(|title| view! {
                <li class="todo pending" data-testid="todo-pending"><span class="todo-title">{title}</span><span class="muted">" saving…"</span></li>
            })}
        </ul>
        {empty.then(|| view! { <p class="muted" data-testid="todos-empty">"Nothing to do. Add something above."</p> })}
    }
}
