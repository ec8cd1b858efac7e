//! Profile: the signed-in user's Microsoft Graph `/me`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth_links::PageFailure;
use crate::error::AppError;

/// What the profile page shows of Graph's user resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Display name.
    pub display_name: String,
    /// Primary email address, if the user has a mailbox.
    pub mail: Option<String>,
    /// User principal name.
    pub user_principal_name: Option<String>,
    /// First name.
    pub given_name: Option<String>,
    /// Last name.
    pub surname: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Office location.
    pub office_location: Option<String>,
}

/// The signed-in user's Graph profile (data only: the token stays on the server).
#[server(prefix = "/api", endpoint = "my_profile", output = crate::json_text::JsonText)]
pub async fn my_profile() -> Result<Profile, AppError> {
    let me = crate::server::context::for_user_of(crate::error::Service::GRAPH, |identity, user| async move { identity.graph().me(&user).await }).await?;
    Ok(Profile {
        display_name: me.display_name.unwrap_or_default(),
        mail: me.mail,
        user_principal_name: me.user_principal_name,
        given_name: me.given_name,
        surname: me.surname,
        job_title: me.job_title,
        office_location: me.office_location,
    })
}

/// The profile page, for the profile the server read (or why it could not).
#[component]
pub fn ProfilePage(profile: Result<Profile, AppError>) -> impl IntoView {
    let body = match profile {
        Ok(profile) => view! { <ProfileCard profile/> }.into_any(),
        Err(error) => view! { <PageFailure error return_to="/profile" what="your profile"/> }.into_any(),
    };
    view! {
        <section class="card">
            <h1>"Your profile"</h1>
            {body}
        </section>
    }
}

/// The profile's fields, with more details in a `<details>` element: the
/// browser opens and closes it, with or without JavaScript, and says so to
/// assistive technology.
#[component]
fn ProfileCard(profile: Profile) -> impl IntoView {
    let not_set = || "—".to_owned();
    view! {
        // Served by the app (a proxy of Graph's photo), so no token is ever in a URL.
        <img class="avatar" src="/profile/photo" alt=format!("Photo of {}", profile.display_name) width="96" height="96" data-testid="profile-photo"/>
        <dl class="fields">
            <dt>"Name"</dt>
            <dd data-testid="profile-display-name">{profile.display_name}</dd>
            <dt>"Email"</dt>
            <dd data-testid="profile-mail">{profile.mail.unwrap_or_else(not_set)}</dd>
            <dt>"Username"</dt>
            <dd>{profile.user_principal_name.unwrap_or_else(not_set)}</dd>
        </dl>
        <details class="more" data-testid="profile-more">
            <summary data-testid="toggle-details">"More details"</summary>
            <dl class="fields" data-testid="profile-details">
                <dt>"First name"</dt>
                <dd>{profile.given_name.unwrap_or_else(not_set)}</dd>
                <dt>"Last name"</dt>
                <dd>{profile.surname.unwrap_or_else(not_set)}</dd>
                <dt>"Job title"</dt>
                <dd data-testid="profile-job-title">{profile.job_title.unwrap_or_else(not_set)}</dd>
                <dt>"Office"</dt>
                <dd>{profile.office_location.unwrap_or_else(not_set)}</dd>
            </dl>
        </details>
    }
}
