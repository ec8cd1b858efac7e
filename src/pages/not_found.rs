//! The page for unknown paths (the server answers it with 404).

use leptos::prelude::*;

/// Shown for any path no page or file matches.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the home page"</a></p>
        </section>
    }
}
