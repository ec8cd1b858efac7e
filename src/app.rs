//! The app shell, router and page frame.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::auth_links::SignInLink;
use crate::pages::{DiagnosticsPage, HomePage, MailPage, NotFoundPage, ProfilePage, SignInErrorPage, TodoPage};
use crate::session_user::{current_user, use_current_user, CurrentUserResource};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The nonce the hydration scripts carry, and the page's CSP naming it (HDR-01).
    #[cfg(feature = "ssr")]
    crate::server::headers::provide_page_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // Fixed for every page, so written here rather than registered
                // per render through leptos_meta (and not shipped to the browser).
                <link id="leptos" rel="stylesheet" href="/pkg/idweb.css"/>
                <title>"idweb"</title>
                // Islands mode also tells the render that only islands' data is for the browser.
                <HydrationScripts options islands=true/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: header, routes, footer. Rendered on the server
/// only (links are plain page loads); the interactive parts are islands.
#[component]
pub fn App() -> impl IntoView {
    let user: CurrentUserResource = Resource::new(|| (), |_| current_user());
    provide_context(user);

    view! {
        <Router>
            <div class="frame">
                <a class="skip-link" href="#content">"Skip to content"</a>
                <Header/>
                <main id="content" tabindex="-1">
                    <Routes fallback=NotFoundPage>
                        // Async: the server sends finished HTML, so pages work without
                        // JavaScript and response headers are never lost to streaming.
                        <Route path=path!("") view=HomePage ssr=SsrMode::Async/>
                        <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async/>
                        <Route path=path!("/mail") view=MailPage ssr=SsrMode::Async/>
                        <Route path=path!("/diagnostics") view=DiagnosticsPage ssr=SsrMode::Async/>
                        <Route path=path!("/todo") view=TodoPage ssr=SsrMode::Async/>
                        // idweb_routes::SIGN_IN_ERROR_PATH (path! takes a literal; a test ties them).
                        <Route path=path!("/auth/error") view=SignInErrorPage ssr=SsrMode::Async/>
                    </Routes>
                </main>
                <footer class="footer">
                    "idweb — sign in with the Microsoft identity platform, call APIs on your behalf."
                </footer>
            </div>
            // Last: islands hydrate in document order, so when this one is live all are.
            <HydrationMarker/>
        </Router>
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

/// Site header: navigation (the current page marked for assistive
/// technology) and the sign-in / sign-out control.
#[component]
fn Header() -> impl IntoView {
    let user = use_current_user();
    // Plain links, as the router's <A> would only add reactive matching to
    // a page the server renders once: the path is read once.
    let path = leptos_router::hooks::use_location().pathname.get_untracked();
    let current = move |href: &str| is_current(&path, href).then_some("page");
    view! {
        <header class="header">
            <a href="/" class="brand">"idweb"</a>
            <nav aria-label="Main">
                <a href="/" aria-current=current("/")>"Home"</a>
                <a href="/profile" aria-current=current("/profile")>"Profile"</a>
                <a href="/mail" aria-current=current("/mail")>"Mail"</a>
                <a href="/todo" aria-current=current("/todo")>"To-do"</a>
            </nav>
            <div class="account">
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(user)) => view! {
                                <span class="account-name" data-testid="account-name">{user.name}</span>
                                <a href="/diagnostics" class="account-link">"Diagnostics"</a>
                                <SignOutButton/>
                            }.into_any(),
                            _ => view! { <SignInLink return_to="/"/> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
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

    #[test]
    fn the_error_page_route_is_where_the_engine_sends_failed_sign_ins() {
        let source = include_str!("app.rs");
        assert!(source.contains(&format!("path!(\"{}\")", idweb_routes::SIGN_IN_ERROR_PATH)));
    }
}
