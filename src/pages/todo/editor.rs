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
/// The id of the undo offer's button.
const UNDO_BUTTON: &str = "todo-undo";

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

/// A deletion's undo offer: what it says, the item it restores, and which
/// offer it is (an expiry only clears its own).
#[derive(Debug, Clone, PartialEq, Eq)]
struct UndoOffer {
    text: String,
    id: u64,
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

/// Moves focus to the element `to` once the page shows it, if focus is
/// still where the action left it (on one of `from`, or nowhere): an answer
/// that comes late never pulls focus from where the person went since.
fn focus_later(to: String, from: Vec<String>) {
    request_animation_frame(move || {
        use leptos::wasm_bindgen::JsCast;
        let document = document();
        let undisturbed = match document.active_element() {
            None => true,
            Some(active) => document.body().is_some_and(|body| body.is_same_node(Some(&active))) || from.iter().any(|id| active.id() == *id),
        };
        if !undisturbed {
            return;
        }
        if let Some(element) = document.get_element_by_id(&to).and_then(|element| element.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
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

/// Each place's problem: a new one replaces the one at its place; a success clears its own places.
#[derive(Clone, Copy)]
struct Problems(RwSignal<Vec<Problem>>);

impl Problems {
    fn set(self, problem: Problem) {
        self.0.update(|problems| {
            problems.retain(|known| known.at != problem.at);
            problems.push(problem);
        });
    }

    fn clear(self, places: &[Target]) {
        self.0.update(|problems| problems.retain(|known| !places.contains(&known.at)));
    }

    fn at(self, place: Target) -> Option<Problem> {
        self.0.with(|problems| problems.iter().find(|problem| problem.at == place).cloned())
    }
}

/// The form and the items: the page's island.
#[island]
pub fn TodoEditor(items: Vec<TodoItem>, state: EditorState) -> impl IntoView {
    let EditorState { notice: first_notice, problem: first_problem, title: first_title, transaction_id } = state;
    let first_focus_on_title = first_problem.as_ref().is_some_and(|problem| matches!(problem.at, Target::Title | Target::Add));
    let items = RwSignal::new(items);
    let problems = Problems(RwSignal::new(first_problem.into_iter().collect()));
    // Passing notices ("Added ...") and the undo offer are apart: a later notice never takes an undo away.
    let notice = RwSignal::new(first_notice.filter(|notice| notice.undoable().is_none()).map(|notice| notice.text().to_owned()));
    let undo_offer = RwSignal::new(first_notice.and_then(|notice| notice.undoable().map(|id| UndoOffer { text: notice.text().to_owned(), id, generation: 0 })));
    let generation = StoredValue::new(0_u32);
    // The undo offer a no-JavaScript page came with expires too, once this island runs.
    Effect::new(move |_| {
        if let Some(offer) = undo_offer.get_untracked() {
            expire_undo(undo_offer, offer.generation);
        }
    });
    // The add in flight (its title), and the items with a change in flight.
    let adding = RwSignal::new(None::<String>);
    let busy = RwSignal::new(Vec::<u64>::new());
    // The transaction id the next add sends, and the title it was last sent with: a new
    // title (or an answer that settled the last one) takes a new id, a retry keeps it.
    let transaction = RwSignal::new(transaction_id.clone());
    // A page that answers a failed add without JavaScript keeps that add's id with its title.
    let sent_title = StoredValue::new(Some(first_title.trim().to_owned()).filter(|title| !title.is_empty()));
    let adds_made = StoredValue::new(0_u32);
    let first_transaction = StoredValue::new(transaction_id);
    let next_transaction = move || {
        let made = adds_made.with_value(|made| made + 1);
        adds_made.set_value(made);
        transaction.set(first_transaction.with_value(|first| format!("{first}-{made}")));
        sent_title.set_value(None);
    };
    let title_input = NodeRef::<leptos::html::Input>::new();

    let offer_undo = move |text: String, id: u64| {
        let this = generation.with_value(|generation| generation + 1);
        generation.set_value(this);
        undo_offer.set(Some(UndoOffer { text, id, generation: this }));
        expire_undo(undo_offer, this);
    };
    let settle = move |id: u64| busy.update(|busy| busy.retain(|other| *other != id));
    let add_controls = || vec![TITLE_FIELD.to_owned(), "todo-add".to_owned()];

    let on_add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        // A second Enter or click while the first add is out sends nothing.
        if adding.with_untracked(Option::is_some) {
            return;
        }
        let Some(input) = title_input.get_untracked() else { return };
        let title = input.value();
        if let Some(message) = title_problem(&title) {
            problems.set(Problem { at: Target::Title, message, fix: None });
            focus_later(TITLE_FIELD.to_owned(), add_controls());
            return;
        }
        let trimmed = title.trim().to_owned();
        if sent_title.with_value(|sent| sent.as_ref().is_some_and(|sent| *sent != trimmed)) {
            next_transaction();
        }
        sent_title.set_value(Some(trimmed.clone()));
        adding.set(Some(trimmed));
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
                    next_transaction();
                    problems.clear(&[Target::Title, Target::Add]);
                    notice.set(Some(text));
                }
                // Refused as it was: the next add is a new one.
                Err(error @ AppError::Invalid(_)) => {
                    next_transaction();
                    problems.clear(&[Target::Add]);
                    problems.set(problem(Target::Title, "", error));
                }
                // Perhaps added and the answer lost: the same transaction id stays, so sending again cannot add it twice.
                Err(error) => {
                    problems.clear(&[Target::Title]);
                    problems.set(problem(Target::Add, "Not added: ", error));
                }
            }
            focus_later(TITLE_FIELD.to_owned(), add_controls());
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
                    problems.clear(&[Target::Item(id)]);
                    notice.set(Some(text));
                }
                Err(error) => {
                    set(was);
                    let prefix = if was { "Not marked as not done: " } else { "Not marked as done: " };
                    problems.set(problem(Target::Item(id), prefix, error));
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
        let focused = next.map_or_else(|| TITLE_FIELD.to_owned(), |next| format!("todo-{next}-done"));
        focus_later(focused.clone(), vec![format!("todo-{id}-delete")]);
        spawn_local(async move {
            let answer = delete_todo(id).await;
            settle(id);
            match answer {
                Ok(_) => {
                    problems.clear(&[Target::Item(id)]);
                    offer_undo(format!("Deleted “{}”.", removed.title), id);
                }
                Err(error) => {
                    // The item was not deleted: it is back, with why.
                    items.update(|items| insert_in_order(items, removed));
                    problems.set(problem(Target::Item(id), "Not deleted: ", error));
                    focus_later(format!("todo-{id}-delete"), vec![focused]);
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
                    problems.clear(&[Target::Undo]);
                    // Only the offer this undo answered goes (a newer one stays).
                    undo_offer.update(|offer| {
                        if offer.as_ref().is_some_and(|offer| offer.id == id) {
                            *offer = None;
                        }
                    });
                    notice.set(Some(text));
                    focus_later(format!("todo-{id}-done"), vec![UNDO_BUTTON.to_owned()]);
                }
                Err(error) => problems.set(problem(Target::Undo, "Not restored: ", error)),
            }
        });
    };

    let title_invalid = move || problems.at(Target::Title).is_some();
    view! {
        <form method="post" action="/todo" class="todo-form" on:submit=on_add>
            <input type="hidden" name="intent" value="add"/>
            <input type="hidden" name="transaction_id" autocomplete="off" value=move || transaction.get()/>
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
                // A page that answers a failed add without JavaScript puts the person back at the field.
                autofocus=first_focus_on_title
                aria-invalid=move || title_invalid().then_some("true")
                aria-describedby=move || title_invalid().then_some("todo-title-error")
                data-testid="todo-title"
            />
            <button type="submit" id="todo-add" class="button primary" disabled=move || adding.with(Option::is_some) data-testid="todo-add">
                {move || if adding.with(Option::is_some) { "Adding…" } else { "Add" }}
            </button>
            {move || problems.at(Target::Title).map(|problem| view! {
                <p id="todo-title-error" class="field-error" role="alert" data-testid="todo-title-error">{problem.message}</p>
            })}
        </form>
        {move || problems.at(Target::Add).map(|problem| view! { <ProblemLine problem testid="todo-error"/> })}
        <div id="todo-notice" class="todo-notice" role="status" data-testid="todo-notice">
            {move || notice.get().map(|text| view! { <span>{text}</span> })}
            {move || undo_offer.get().map(|UndoOffer { text, id, .. }| view! {
                <span>{text}</span>
                " "
                <form method="post" action="/todo" class="inline-form">
                    <input type="hidden" name="id" value=id.to_string()/>
                    <button
                        type="submit"
                        name="intent"
                        value="restore"
                        id=UNDO_BUTTON
                        class="button"
                        data-testid="todo-undo"
                        on:click=move |event| { event.prevent_default(); undo(id) }
                    >"Undo"</button>
                </form>
            })}
        </div>
        {move || problems.at(Target::Undo).map(|problem| view! { <ProblemLine problem testid="todo-undo-error"/> })}
        <ul class="todos" data-testid="todos" aria-busy=move || adding.with(Option::is_some).then_some("true")>
            <For each=move || items.get() key=|item| item.id let:item>
                <TodoRow item items busy problem_at=Callback::new(move |id| problems.at(Target::Item(id))) toggle=Callback::new(toggle) delete=Callback::new(delete)/>
            </For>
            {move || adding.get().map(|title| view! {
                <li class="todo pending" data-testid="todo-pending"><span class="todo-title">{title}</span><span class="muted">" saving…"</span></li>
            })}
        </ul>
        {move || (items.with(Vec::is_empty) && adding.with(Option::is_none)).then(|| view! { <p class="muted" data-testid="todos-empty">"Nothing to do. Add something above."</p> })}
    }
}

/// Clears the undo offer `generation` after [`UNDO_OFFER`], unless another
/// offer replaced it; while focus is inside it, it waits longer.
fn expire_undo(offer: RwSignal<Option<UndoOffer>>, generation: u32) {
    set_timeout(
        move || {
            if offer.with_untracked(|offer| offer.as_ref().map(|offer| offer.generation) != Some(generation)) {
                return;
            }
            if focus_within("todo-notice") {
                expire_undo(offer, generation);
            } else {
                offer.set(None);
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
