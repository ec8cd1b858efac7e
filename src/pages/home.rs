//! Home: a greeting when signed in, an invitation to sign in otherwise.

use leptos::prelude::*;

use crate::auth_links::SignInLink;
use crate::error::AppError;
use crate::session_user::AccountSummary;

/// The landing page, for the session's user (read by the server beforehand).
#[component]
pub fn HomePage(user: Result<Option<AccountSummary>, AppError>) -> impl IntoView {
    let greeting = match user {
        Ok(Some(user)) => view! {
            <h1 data-testid="greeting">"Hello, " {user.name} "!"</h1>
            <p>"You are signed in as " <strong>{user.username}</strong> "."</p>
            <p><a href="/profile" class="button primary">"See your profile"</a></p>
        }
        .into_any(),
        Ok(None) => view! {
            <h1>"Welcome to idweb"</h1>
            <p>"Sign in with your work or school account to see your Microsoft Graph profile."</p>
            <p><SignInLink return_to="/"/></p>
        }
        .into_any(),
        Err(error) => view! {
            <h1>"Welcome to idweb"</h1>
            <p role="alert" class="error">{error.to_string()}</p>
        }
        .into_any(),
    };
    view! { <section class="card hero">{greeting}</section> }
}
