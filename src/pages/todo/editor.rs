//! The to-do list's island: the add form and the items, live in the
//! browser, the same forms without JavaScript.
//!
//! Each action calls its server function on its own task (so two quick
//! actions on two items each get their answer), shows at once, and is put
//! right if the API refuses it; its error shows where it happened and goes
//! when a later action succeeds. Focus follows the work: the input after an
//! add, the next item after a delete, the restored item after an undo.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};

use super::form::{Problem, Target, TodoNotice};
use super::{add_todo, delete_todo, restore_todo, set_todo_completed, title_problem, TodoItem, MAX_TITLE_CHARS};
use crate::auth_links::sign_in_href;
use crate::error::AppError;

/// How long the undo offer stays after a deletion (longer while focus is in it).
const UNDO_OFFER: std::time::Duration = std::time::Duration::from_secs(10);
/// The id of the title field (the no-JavaScript page's failed add focuses it too).
const TITLE_FIELD: &str = "todo-title";

/// What the page shows besides the items: the notice after an action, the
/// problem of one that failed, the title typed (kept after a failed add)
/// and the name of the next add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditorState {
    /// The notice of the last action that worked.
    pub notice: Option<TodoNotice>,
    /// The last action that failed.
    pub problem: Option<Problem>,
    /// The title field's text.
    pub title: String,
    /// The transaction id the next add sends; fresh for each page.
    pub transaction_id: String,
}

/// A notice as the island shows it: its words, and an undo when it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Notice {
    text: String,
    undo: Option<u64>,
    /// Tells one notice from the next (an expiry only clears its own).
    generation: u32,
}

/// The problem to show for `error` at `at`, with a sign-in or consent link
/// when only the person can fix it.
fn problem(at: Target, prefix: &str, error: AppError) -> Problem {
    let fix = match &error {
        AppError::NotSignedIn | AppError::SignInAgain => Some(sign_in_href("/todo", &[], None)),
        AppError::InteractionRequired { scopes, challenge } => Some(sign_in_href("/todo", scopes, challenge.as_deref())),
        _ => None,
    };
    Problem { at, message: format!("{prefix}{error}"), fix }
}

/// Moves focus to the element with `id` once the page shows it.
fn focus_later(id: String) {
    request_animation_frame(move || {
        use leptos::wasm_bindgen::JsCast;
        if let Some(element) = document().get_element_by_id(&id).and_then(|element| element.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
            let _ = element.focus();
        }
    });
}

/// Whether focus is inside the element with `id` (the undo offer stays while it is).
fn focus_within(id: &str) -> bool {
    let (Some(container), Some(active)) = (document().get_element_by_id(id), document().active_element()) else { return false };
    container.contains(Some(&active))
}

/// `item` where its id sorts (the API lists items in id order).
fn insert_in_order(items: &mut Vec<TodoItem>, item: TodoItem) {
    if let Some(known) = items.iter_mut().find(|known| known.id == item.id) {
        *known = item;
    } else {
        let place = items.partition_point(|other| other.id < item.id);
        items.insert(place, item);
    }
}

/// The form and the items: the page's island.
#[island]
pub fn TodoEditor(items: Vec<TodoItem>, state: EditorState) -> impl IntoView {
    let EditorState { notice: first_notice, problem: first_problem, title: first_title, transaction_id } = state;
    let items = RwSignal::new(items);
    let problem_now = RwSignal::new(first_problem);
    let notice = RwSignal::new(first_notice.map(|notice| Notice { text: notice.text().to_owned(), undo: notice.undoable(), generation: 0 }));
    let generation = StoredValue::new(0_u32);
    // The add in flight (its title), and the items with a change in flight.
    let adding = RwSignal::new(None::<String>);
    let busy = RwSignal::new(Vec::<u64>::new());
    let adds_made = StoredValue::new(0_u32);
    let transaction = RwSignal::new(transaction_id.clone());
    // Later adds on this page are named after the first: `{first}-1`, `{first}-2`...
    let first_transaction = StoredValue::new(transaction_id.clone());
    let title_input = NodeRef::<leptos::html::Input>::new();

    let show_notice = move |text: String, undo: Option<u64>| {
        let this = generation.with_value(|generation| generation + 1);
        generation.set_value(this);
        notice.set(Some(Notice { text, undo, generation: this }));
        if undo.is_some() {
            expire_undo(notice, this);
        }
    };
    let settle = move |id: u64| busy.update(|busy| busy.retain(|other| *other != id));

    let on_add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        // A second Enter or click while the first add is out sends nothing.
        if adding.with_untracked(Option::is_some) {
            return;
        }
        let Some(input) = title_input.get_untracked() else { return };
        let title = input.value();
        if let Some(message) = title_problem(&title) {
            problem_now.set(Some(Problem { at: Target::Title, message, fix: None }));
            focus_later(TITLE_FIELD.to_owned());
            return;
        }
        adding.set(Some(title.trim().to_owned()));
        let transaction_id = transaction.get_untracked();
        spawn_local(async move {
            let answer = add_todo(title, transaction_id).await;
            adding.set(None);
            match answer {
                Ok(item) => {
                    let text = format!("Added “{}”.", item.title);
                    // A repeat of the same transaction answers the same item: it is not listed twice.
                    items.update(|items| insert_in_order(items, item));
                    input.set_value("");
                    let made = adds_made.with_value(|made| made + 1);
                    adds_made.set_value(made);
                    transaction.set(first_transaction.with_value(|first| format!("{first}-{made}")));
                    problem_now.set(None);
                    show_notice(text, None);
                }
                // The same transaction id stays: sending again cannot add the item twice.
                Err(error @ AppError::Invalid(_)) => problem_now.set(Some(problem(Target::Title, "", error))),
                Err(error) => problem_now.set(Some(problem(Target::Add, "Not added: ", error))),
            }
            focus_later(TITLE_FIELD.to_owned());
        });
    };

    let toggle = move |id: u64| {
        let Some(was) = items.with_untracked(|items| items.iter().find(|item| item.id == id).map(|item| item.completed)) else { return };
        if busy.with_untracked(|busy| busy.contains(&id)) {
            return;
        }
        busy.update(|busy| busy.push(id));
        let set = move |completed: bool| items.update(|items| items.iter_mut().filter(|item| item.id == id).for_each(|item| item.completed = completed));
        set(!was);
        spawn_local(async move {
            let answer = set_todo_completed(id, !was).await;
            settle(id);
            match answer {
                Ok(item) => {
                    let text = if item.completed { format!("Marked “{}” as done.", item.title) } else { format!("Marked “{}” as not done.", item.title) };
                    items.update(|items| insert_in_order(items, item));
                    problem_now.set(None);
                    show_notice(text, None);
                }
                Err(error) => {
                    set(was);
                    let prefix = if was { "Not marked as not done: " } else { "Not marked as done: " };
                    problem_now.set(Some(problem(Target::Item(id), prefix, error)));
                }
            }
        });
    };

    let delete = move |id: u64| {
        let Some(index) = items.with_untracked(|items| items.iter().position(|item| item.id == id)) else { return };
        if busy.with_untracked(|busy| busy.contains(&id)) {
            return;
        }
        busy.update(|busy| busy.push(id));
        let mut removed = None;
        items.update(|items| removed = Some(items.remove(index)));
        let Some(removed) = removed else { return };
        // Focus goes to the item that took its place, else the one before, else the title field.
        let next = items.with_untracked(|items| items.get(index).or_else(|| index.checked_sub(1).and_then(|before| items.get(before))).map(|item| item.id));
        focus_later(next.map_or_else(|| TITLE_FIELD.to_owned(), |next| format!("todo-{next}-done")));
        spawn_local(async move {
            let answer = delete_todo(id).await;
            settle(id);
            match answer {
                Ok(_) => {
                    problem_now.set(None);
                    show_notice(format!("Deleted “{}”.", removed.title), Some(id));
                }
                Err(error) => {
                    // The item was not deleted: it is back, with why.
                    items.update(|items| insert_in_order(items, removed));
                    problem_now.set(Some(problem(Target::Item(id), "Not deleted: ", error)));
                    focus_later(format!("todo-{id}-delete"));
                }
            }
        });
    };

    let undo = move |id: u64| {
        spawn_local(async move {
            match restore_todo(id).await {
                Ok(item) => {
                    let text = format!("Restored “{}”.", item.title);
                    items.update(|items| insert_in_order(items, item));
                    problem_now.set(None);
                    show_notice(text, None);
                    focus_later(format!("todo-{id}-done"));
                }
                Err(error) => problem_now.set(Some(problem(Target::Undo, "Not restored: ", error))),
            }
        });
    };

    let problem_at = move |at: Target| problem_now.with(|problem| problem.as_ref().filter(|problem| problem.at == at).cloned());
    let title_invalid = move || problem_at(Target::Title).is_some();
    view! {
        <form method="post" action="/todo" class="todo-form" on:submit=on_add>
            <input type="hidden" name="intent" value="add"/>
            <input type="hidden" name="transaction_id" value=move || transaction.get()/>
            <label for=TITLE_FIELD>"New to-do"</label>
            <input
                node_ref=title_input
                id=TITLE_FIELD
                name="title"
                type="text"
                required
                maxlength=MAX_TITLE_CHARS.to_string()
                autocomplete="off"
                value=first_title
                aria-invalid=move || title_invalid().then_some("true")
                aria-describedby=move || title_invalid().then_some("todo-title-error")
                data-testid="todo-title"
            />
            <button type="submit" class="button primary" disabled=move || adding.with(Option::is_some) data-testid="todo-add">
                {move || if adding.with(Option::is_some) { "Adding…" } else { "Add" }}
            </button>
            {move || problem_at(Target::Title).map(|problem| view! {
                <p id="todo-title-error" class="field-error" data-testid="todo-title-error">{problem.message}</p>
            })}
        </form>
        {move || problem_at(Target::Add).map(|problem| view! { <ProblemLine problem testid="todo-error"/> })}
        <div id="todo-notice" class="todo-notice" role="status" data-testid="todo-notice">
            {move || notice.get().map(|Notice { text, undo: undoable, .. }| view! {
                <span>{text}</span>
                {undoable.map(|id| view! {
                    " "
                    <form method="post" action="/todo" class="inline-form">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <button
                            type="submit"
                            name="intent"
                            value="restore"
                            class="button"
                            data-testid="todo-undo"
                            on:click=move |event| { event.prevent_default(); undo(id) }
                        >"Undo"</button>
                    </form>
                })}
            })}
        </div>
        {move || problem_at(Target::Undo).map(|problem| view! { <ProblemLine problem testid="todo-undo-error"/> })}
        <ul class="todos" data-testid="todos" aria-busy=move || adding.with(Option::is_some).then_some("true")>
            <For each=move || items.get() key=|item| item.id let:item>
                <TodoRow item items busy problem_at=Callback::new(move |id| problem_at(Target::Item(id))) toggle=Callback::new(toggle) delete=Callback::new(delete)/>
            </For>
            {move || adding.get().map(|title| view! {
                <li class="todo pending" data-testid="todo-pending"><span class="todo-title">{title}</span><span class="muted">" saving…"</span></li>
            })}
        </ul>
        {move || (items.with(Vec::is_empty) && adding.with(Option::is_none)).then(|| view! { <p class="muted" data-testid="todos-empty">"Nothing to do. Add something above."</p> })}
    }
}

/// Clears the undo offer `generation` after [`UNDO_OFFER`], unless another
/// notice replaced it; while focus is inside it, it waits longer.
fn expire_undo(notice: RwSignal<Option<Notice>>, generation: u32) {
    set_timeout(
        move || {
            if notice.with_untracked(|notice| notice.as_ref().map(|notice| notice.generation) != Some(generation)) {
                return;
            }
            if focus_within("todo-notice") {
                expire_undo(notice, generation);
            } else {
                notice.set(None);
            }
        },
        UNDO_OFFER,
    );
}

/// A failed action's message, with the link that fixes it when there is one.
#[component]
fn ProblemLine(problem: Problem, testid: &'static str) -> impl IntoView {
    view! {
        <p role="alert" class="error" data-testid=testid>
            {problem.message}
            {problem.fix.map(|href| view! { " " <a href=href rel="external">"Sign in"</a> })}
        </p>
    }
}

/// One item: a checkbox that completes it and a delete button, each a
/// form post without JavaScript; its own error under it.
#[component]
fn TodoRow(
    item: TodoItem,
    items: RwSignal<Vec<TodoItem>>,
    busy: RwSignal<Vec<u64>>,
    problem_at: Callback<u64, Option<Problem>>,
    toggle: Callback<u64>,
    delete: Callback<u64>,
) -> impl IntoView {
    let id = item.id;
    let completed = move || items.with(|items| items.iter().any(|item| item.id == id && item.completed));
    let title_id = format!("todo-{id}-title");
    let error_id = format!("todo-{id}-error");
    let error_id_for_row = error_id.clone();
    let problem = move || problem_at.run(id);
    view! {
        <li class="todo" class:completed=completed id=format!("todo-{id}") data-testid="todo" aria-busy=move || busy.with(|busy| busy.contains(&id)).then_some("true")>
            <form method="post" action="/todo" class="todo-row">
                <input type="hidden" name="id" value=id.to_string()/>
                <button
                    type="submit"
                    name="intent"
                    value=move || if completed() { "reopen" } else { "complete" }
                    role="checkbox"
                    aria-checked=move || completed().to_string()
                    aria-labelledby=title_id.clone()
                    aria-describedby=move || problem().map(|_| error_id.clone())
                    class="todo-check"
                    id=format!("todo-{id}-done")
                    data-testid="todo-done"
                    on:click=move |event| { event.prevent_default(); toggle.run(id) }
                ></button>
                <span class="todo-title" id=title_id data-testid="todo-item-title">{item.title.clone()}</span>
                <button
                    type="submit"
                    name="intent"
                    value="delete"
                    class="button todo-delete"
                    id=format!("todo-{id}-delete")
                    data-testid="todo-delete"
                    on:click=move |event| { event.prevent_default(); delete.run(id) }
                >
                    "Delete"<span class="visually-hidden">" “" {item.title} "”"</span>
                </button>
            </form>
            {move || problem().map(|problem| view! {
                <p role="alert" class="error" id=error_id_for_row.clone() data-testid="todo-item-error">
                    {problem.message}
                    {problem.fix.map(|href| view! { " " <a href=href rel="external">"Sign in"</a> })}
                </p>
            })}
        </li>
    }
}
