//! What server functions pull from the request: the session, the identity
//! engine and the signed-in user, and how their failures reach the page.
//!
//! Every server function that acts for a user runs through [`for_user`], so
//! each gets the user one way and each failure gets the same treatment: a
//! claims challenge kept in the session (AUTHZ-05) and an HTTP status that
//! says what happened (401 not signed in, 403 interaction required, 503 an
//! outage, 502 a downstream API, 500 only a defect).
//!
//! The futures of [`maybe_user`] and [`for_user`] are boxed: a server
//! function's future is moved by the server-function machinery and into a
//! page's render future, and unboxed these futures hold every state of the
//! engine's calls below them (session store, token acquisition, Graph),
//! kilobytes copied on each move.

use std::future::Future;
use std::sync::Arc;

use axum::http::request::Parts;
use idweb_identity::{Identity, IdentityError, SignedInUser};
use tokio::sync::OnceCell;
use tower_sessions::Session;

use crate::error::AppError;

/// The signed-in user, looked up at most once while a page renders: the
/// header and the page's own server functions all ask for it. Kept by
/// `server::pages` in the extensions of the page's own request, never in
/// reactive context, which another request could inherit (ISO-02); a
/// server function called on its own has none and looks the user up itself.
#[derive(Clone, Default)]
pub struct PageUser(Arc<OnceCell<Option<SignedInUser>>>);

impl PageUser {
    /// The user, if this render looked it up already (`Some(None)`: nobody is signed in).
    pub fn known(&self) -> Option<&Option<SignedInUser>> {
        self.0.get()
    }
}

/// The session's user, from this page render's [`PageUser`] when there is
/// one. Only a successful look-up is kept: a failed one is tried again (and
/// reported again) by the next caller.
async fn signed_in_user(identity: &Identity, session: &Session) -> Result<Option<SignedInUser>, IdentityError> {
    match from_request::<PageUser>() {
        Some(PageUser(user)) => user.get_or_try_init(|| identity.user(session)).await.cloned(),
        None => identity.user(session).await,
    }
}

/// A value the request carries in its extensions (its session, its page
/// render's user), read from the request's own parts: the nearest `Parts`
/// in context, which both the page render and leptos_axum provide for each
/// request in that request's own owner.
fn from_request<T: Clone + Send + Sync + 'static>() -> Option<T> {
    leptos::prelude::with_context::<Parts, _>(|parts| parts.extensions.get::<T>().cloned()).flatten()
}

/// The request's session (the session layer always provides one).
pub async fn session() -> Result<Session, AppError> {
    from_request::<Session>().ok_or_else(|| {
        tracing::error!("a server function ran without the session layer");
        refuse(AppError::Internal)
    })
}

/// The identity engine, provided as context by the router.
pub fn identity() -> Result<Arc<Identity>, AppError> {
    leptos::prelude::use_context::<Arc<Identity>>().ok_or_else(|| {
        tracing::error!("a server function ran without the identity engine in context");
        refuse(AppError::Internal)
    })
}

/// The signed-in user of this session, if any (the optional form).
pub async fn maybe_user() -> Result<Option<SignedInUser>, AppError> {
    Box::pin(async {
        let identity = identity()?;
        let session = session().await?;
        match signed_in_user(&identity, &session).await {
            Ok(user) => Ok(user),
            Err(error) => Err(failure(&identity, &session, error).await),
        }
    })
    .await
}

/// Runs `work` for the signed-in user (the required form): `NotSignedIn`
/// (401) when there is none; `work`'s errors become what the page shows.
pub async fn for_user<T, Work, Fut>(work: Work) -> Result<T, AppError>
where
    Work: FnOnce(Arc<Identity>, SignedInUser) -> Fut,
    Fut: Future<Output = Result<T, IdentityError>>,
{
    Box::pin(async {
        let identity = identity()?;
        let session = session().await?;
        let outcome = match signed_in_user(&identity, &session).await {
            Ok(Some(user)) => work(identity.clone(), user).await,
            Ok(None) => Err(IdentityError::NotSignedIn),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(value) => Ok(value),
            Err(error) => Err(failure(&identity, &session, error).await),
        }
    })
    .await
}

/// An error the server function (or this module) decided on itself, with
/// its status set.
pub fn refuse(error: AppError) -> AppError {
    set_status(&error);
    error
}

/// What the page gets for `error`: a claims challenge is kept in the
/// session and named by id; the response status is set.
async fn failure(identity: &Identity, session: &Session, error: IdentityError) -> AppError {
    let app_error = match error {
        IdentityError::InteractionRequired { scopes, claims: Some(claims), .. } => {
            match identity.sign_in_request(session, "/", &scopes, Some(&claims)).await {
                Ok(request) => AppError::InteractionRequired { scopes, challenge: request.challenge },
                Err(error) => AppError::from(error),
            }
        }
        other => AppError::from(other),
    };
    set_status(&app_error);
    app_error
}

fn set_status(error: &AppError) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
    }
}
