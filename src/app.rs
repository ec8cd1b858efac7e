//! The HTML document and the frame every page sits in: header, main
//! content, footer. Pages render on the server in one pass from data read
//! beforehand (`server::pages`); the interactive parts are islands.

use leptos::prelude::*;

use crate::auth_links::SignInLink;
use crate::error::AppError;
use crate::session_user::AccountSummary;

/// What the frame shows besides the page: where the page is (for the
/// navigation) and who is signed in (for the header).
pub struct Frame {
    /// The request's path.
    pub path: String,
    /// The session's user, or why it could not be read.
    pub user: Result<Option<AccountSummary>, AppError>,
    /// Whether the navigation offers the To-do page (its API is configured).
    pub offers_todo: bool,
}

/// What every page's `<head>` holds. Only the nonce of the hydration
/// scripts and the page's `title` change from one response to the next, so
/// the server renders this once and fills them in per response
/// (`server::page_head`).
pub fn head_content(options: LeptosOptions, title: &'static str) -> impl IntoView {
    view! {
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <link id="leptos" rel="stylesheet" href="/pkg/idweb.css"/>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
        <title>{title}</title>
        // Islands mode also tells the render that only islands' data is for the browser.
        <HydrationScripts options islands=true/>
    }
}

/// The whole HTML document of one page: `head` (the [`head_content`] of
/// this response, as HTML) and `page` inside the frame.
pub fn document(head: String, frame: Frame, page: impl IntoView) -> impl IntoView {
    let Frame { path, user, offers_todo } = frame;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head inner_html=head></head>
            <body>
                <div class="frame">
                    <a class="skip-link" href="#content">"Skip to content"</a>
                    <Header path user offers_todo/>
                    <main id="content" tabindex="-1">{page}</main>
                    <footer class="footer">
                        "idweb — sign in with the Microsoft identity platform, call APIs on your behalf."
                    </footer>
                </div>
                <NavigationProgress/>
                // Last: islands hydrate in document order, so when this one is live all are.
                <HydrationMarker/>
            </body>
        </html>
    }
}

/// Lets end-to-end tests (and people) tell a page whose islands are live
/// from plain SSR: `data-hydrated` turns "true" once the browser ran them.
#[island]
fn HydrationMarker() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! { <span hidden data-hydrated=move || hydrated.get().to_string()></span> }
}

/// While the browser fetches the next page (a link followed, a form sent),
/// a bar at the top moves and a status says so: a slow service (Graph
/// asking to retry in seconds) shows as progress, not as a page that
/// stopped answering. Pages still arrive whole, each with its own status
/// code, and without JavaScript the browser's own indicator does this job.
#[island]
fn NavigationProgress() -> impl IntoView {
    let leaving = RwSignal::new(false);
    Effect::new(move |_| {
        navigation_progress::watch(leaving);
    });
    view! {
        <div class="navigation-progress" class:active=move || leaving.get() aria-hidden="true" data-testid="navigation-progress"></div>
        <p class="visually-hidden" role="status" data-testid="navigation-status">{move || leaving.get().then_some("Loading the page…")}</p>
    }
}

/// The browser events behind [`NavigationProgress`].
mod navigation_progress {
    use leptos::prelude::*;

    /// How long a navigation runs before the progress shows (a fast one never flickers).
    const SHOW_AFTER: std::time::Duration = std::time::Duration::from_millis(150);
    /// How long the progress shows at most: a navigation that never ends
    /// (stopped, a 204, a download) must not leave it on.
    const GIVE_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

    /// Sets `leaving` while a followed link or a sent form loads the next
    /// page. Each start and end of a wait has its number: a timer set for an
    /// earlier one (the page left and shown again from the back/forward
    /// cache, Escape pressed) changes nothing.
    pub fn watch(leaving: RwSignal<bool>) {
        use leptos::wasm_bindgen::JsCast;
        use leptos::web_sys::{Element, HtmlFormElement, MouseEvent};
        let wait = StoredValue::new(0_u32);
        let stop = move || {
            wait.update_value(|wait| *wait += 1);
            leaving.set(false);
        };
        // Checked a moment later: an island that handles the event itself prevents its default first.
        let start = move |prevented: Box<dyn Fn() -> bool>| {
            let this = wait.with_value(|wait| *wait);
            set_timeout(
                move || {
                    if wait.with_value(|wait| *wait) == this && !prevented() {
                        leaving.set(true);
                        set_timeout(move || if wait.with_value(|wait| *wait) == this { leaving.set(false) }, GIVE_UP_AFTER);
                    }
                },
                SHOW_AFTER,
            );
        };
        let _ = window_event_listener(leptos::ev::click, move |event: MouseEvent| {
            if event.button() != 0 || event.ctrl_key() || event.meta_key() || event.shift_key() || event.alt_key() {
                return;
            }
            let link = event.target().and_then(|target| target.dyn_into::<Element>().ok()).and_then(|target| target.closest("a[href]").ok().flatten());
            let Some(link) = link else { return };
            let opens_elsewhere = link.get_attribute("target").is_some_and(|target| target != "_self") || link.has_attribute("download");
            if opens_elsewhere || only_the_fragment_changes(&link) {
                return;
            }
            start(Box::new(move || event.default_prevented()));
        });
        let _ = window_event_listener(leptos::ev::submit, move |event: leptos::web_sys::SubmitEvent| {
            let form = event.target().and_then(|target| target.dyn_into::<HtmlFormElement>().ok());
            if form.is_some_and(|form| !form.target().is_empty() && form.target() != "_self") {
                return;
            }
            start(Box::new(move || event.default_prevented()));
        });
        let _ = window_event_listener(leptos::ev::keydown, move |event| {
            if event.key() == "Escape" {
                stop();
            }
        });
        let _ = window_event_listener(leptos::ev::pagehide, move |_| stop());
        let _ = window_event_listener(leptos::ev::pageshow, move |_| stop());
    }

    /// Whether following `link` only moves within this page (`#section`, or this page's own address with one).
    fn only_the_fragment_changes(link: &leptos::web_sys::Element) -> bool {
        let Some(href) = link.get_attribute("href") else { return false };
        if href.starts_with('#') {
            return true;
        }
        let Ok(here) = window().location().href() else { return false };
        let (Ok(target), Ok(here)) = (leptos::web_sys::Url::new_with_base(&href, &here), leptos::web_sys::Url::new(&here)) else { return false };
        !target.hash().is_empty() && target.origin() == here.origin() && target.pathname() == here.pathname() && target.search() == here.search()
    }
}

/// Site header: navigation (the current page marked for assistive
/// technology) and the sign-in / sign-out control.
#[component]
fn Header(path: String, user: Result<Option<AccountSummary>, AppError>, offers_todo: bool) -> impl IntoView {
    let current = |href: &str| is_current(&path, href).then_some("page");
    let account = match user {
        Ok(Some(user)) => view! {
            <span class="account-name" data-testid="account-name">{user.name}</span>
            <a href="/diagnostics" class="account-link">"Diagnostics"</a>
            <SignOutButton/>
        }
        .into_any(),
        // The page itself says why the user could not be read, if it needs one.
        Ok(None) | Err(_) => view! { <SignInLink return_to="/"/> }.into_any(),
    };
    view! {
        <header class="header">
            <a href="/" class="brand">"idweb"</a>
            <nav aria-label="Main">
                <a href="/" aria-current=current("/")>"Home"</a>
                <a href="/profile" aria-current=current("/profile")>"Profile"</a>
                <a href="/mail" aria-current=current("/mail")>"Mail"</a>
                {offers_todo.then(|| view! { <a href="/todo" aria-current=current("/todo")>"To-do"</a> })}
            </nav>
            <div class="account">{account}</div>
        </header>
    }
}

/// Whether a navigation link to `href` is the page at `path` (or a page under it).
fn is_current(path: &str, href: &str) -> bool {
    path == href || (href != "/" && path.strip_prefix(href).is_some_and(|rest| rest.starts_with('/')))
}

/// Sign-out is a POST so a cross-site link cannot sign people out.
#[component]
fn SignOutButton() -> impl IntoView {
    view! {
        <form method="post" action=idweb_routes::SIGN_OUT_PATH class="inline-form">
            <button type="submit" class="button" data-testid="sign-out">"Sign out"</button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_navigation_link_is_current_on_its_page_and_the_pages_under_it() {
        assert!(super::is_current("/", "/"));
        assert!(!super::is_current("/profile", "/"));
        assert!(super::is_current("/profile", "/profile"));
        assert!(super::is_current("/profile/photo", "/profile"));
        assert!(!super::is_current("/profiles", "/profile"));
    }
}
