//! The message list's island: "Load more" appends the next messages in
//! place (the page keeps its scroll position; the address follows, so a
//! reload shows the same), times read in the browser's own zone, and
//! without JavaScript the same link loads the longer list as a page.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{message_href, my_messages, MailSummary, PAGE_SIZE};

/// The messages, "Load more" or the end of the list, and a failed load's reason.
#[island]
pub fn MailList(messages: Vec<MailSummary>, has_more: bool, count: u32) -> impl IntoView {
    let messages = RwSignal::new(messages);
    let has_more = RwSignal::new(has_more);
    let count = RwSignal::new(count);
    let loading = RwSignal::new(false);
    let failure = RwSignal::new(None::<String>);
    // Times are UTC as the server renders them, the browser's zone once this island runs.
    let in_local_time = RwSignal::new(false);
    Effect::new(move |_| in_local_time.set(true));

    let load_more = move |event: leptos::ev::MouseEvent| {
        event.prevent_default();
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        let next = count.get_untracked() + PAGE_SIZE;
        spawn_local(async move {
            match my_messages(next).await {
                Ok(batch) => {
                    let mut first_new = None;
                    messages.update(|shown| {
                        for message in batch.messages {
                            if !shown.iter().any(|known| known.id == message.id) {
                                first_new.get_or_insert_with(|| message.id.clone());
                                shown.push(message);
                            }
                        }
                    });
                    has_more.set(batch.has_more);
                    count.set(next);
                    failure.set(None);
                    follow_in_address_bar(next);
                    // Focus the first new message: keyboard and screen reader users go on where the list grew.
                    if let Some(id) = first_new {
                        focus_message(id);
                    }
                }
                Err(error) => failure.set(Some(format!("More messages could not be loaded: {error}"))),
            }
            loading.set(false);
        });
    };

    view! {
        <ul class="messages" data-testid="messages" aria-busy=move || loading.get().then_some("true")>
            <For each=move || messages.get() key=|message| message.id.clone() let:message>
                <MessageRow message in_local_time/>
            </For>
        </ul>
        {move || failure.get().map(|message| view! { <p role="alert" class="error" data-testid="mail-more-error">{message}</p> })}
        {move || if has_more.get() {
            view! {
                <p>
                    <a
                        href=move || format!("/mail?count={}", count.get() + PAGE_SIZE)
                        class="button"
                        data-testid="mail-more"
                        aria-disabled=move || loading.get().then_some("true")
                        on:click=load_more
                    >
                        {move || if loading.get() { "Loading…" } else { "Load more" }}
                    </a>
                </p>
            }
            .into_any()
        } else {
            view! { <p class="end-of-list" data-testid="mail-end">"You have reached the end of your inbox."</p> }.into_any()
        }}
    }
}

/// One message: unread marked by a dot and the word (for screen readers), its
/// subject a link to the whole message, the time in the reader's zone with UTC on hover.
#[component]
fn MessageRow(message: MailSummary, in_local_time: RwSignal<bool>) -> impl IntoView {
    let MailSummary { id, subject, from, received, received_display, preview, is_read } = message;
    let utc = received_display.clone();
    let iso = received.clone();
    let shown_time = move || if in_local_time.get() { local_time(&iso).unwrap_or_else(|| utc.clone()) } else { utc.clone() };
    let class = if is_read { "message" } else { "message unread" };
    view! {
        <li class=class data-testid="message">
            <p class="message-subject">
                // The mark is inside the link: it stays beside the subject however the line wraps.
                <a href=message_href(&id) id=format!("message-{id}")>
                    {(!is_read).then(|| view! {
                        <span class="unread-mark" aria-hidden="true"></span>
                        <span class="visually-hidden" data-testid="message-unread">"Unread: "</span>
                    })}
                    <span data-testid="message-subject">{subject}</span>
                </a>
            </p>
            <p class="message-meta">
                {from} " · " <time datetime=received title=received_display data-testid="message-time">{shown_time}</time>
            </p>
            <p class="message-preview">{preview}</p>
        </li>
    }
}

/// `iso` in the browser's time zone and locale ("15 Jan 2026, 10:00");
/// `None` outside a browser or for a time it cannot read.
fn local_time(iso: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        use leptos::wasm_bindgen::JsValue;
        use leptos::web_sys::js_sys::{Date, Object, Reflect};
        let date = Date::new(&JsValue::from_str(iso));
        if date.get_time().is_nan() {
            return None;
        }
        let options = Object::new();
        Reflect::set(&options, &"dateStyle".into(), &"medium".into()).ok()?;
        Reflect::set(&options, &"timeStyle".into(), &"short".into()).ok()?;
        date.to_locale_string("default", &options).as_string()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = iso;
        None
    }
}

/// Puts `/mail?count={count}` in the address bar (no new history entry), so
/// a reload or a shared link shows what is on the screen.
fn follow_in_address_bar(count: u32) {
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&leptos::wasm_bindgen::JsValue::NULL, "", Some(&format!("/mail?count={count}")));
    }
}

/// Moves focus to the link of message `id` once the page shows it.
fn focus_message(id: String) {
    request_animation_frame(move || {
        use leptos::wasm_bindgen::JsCast;
        if let Some(link) = document().get_element_by_id(&format!("message-{id}")).and_then(|element| element.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
            // Focus without scrolling: the list grew below, where the person already is.
            let options = leptos::web_sys::FocusOptions::new();
            options.set_prevent_scroll(true);
            let _ = link.focus_with_options(&options);
        }
    });
}
