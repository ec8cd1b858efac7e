//! What server functions pull from the request: the session, the identity
//! engine and the signed-in user, and how their failures reach the page.
//!
//! Every server function that acts for a user runs through [`for_user`], so
//! each gets the user one way and each failure gets the same treatment: a
//! claims challenge kept in the session (AUTHZ-05) and an HTTP status that
//! says what happened (401 not signed in, 403 interaction required, 503 an
//! outage, 502 a downstream API, 500 only a defect).

use std::future::Future;
use std::sync::Arc;

use idweb_identity::{Identity, IdentityError, SignedInUser};
use tower_sessions::Session;

use crate::error::AppError;

/// The request's session (the session layer always provides one).
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|error| {
        tracing::error!(%error, "a server function ran without the session layer");
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
    let identity = identity()?;
    let session = session().await?;
    match identity.user(&session).await {
        Ok(user) => Ok(user),
        Err(error) => Err(failure(&identity, &session, error).await),
    }
}

/// Runs `work` for the signed-in user (the required form): `NotSignedIn`
/// (401) when there is none; `work`'s errors become what the page shows.
pub async fn for_user<T, Work, Fut>(work: Work) -> Result<T, AppError>
where
    Work: FnOnce(Arc<Identity>, SignedInUser) -> Fut,
    Fut: Future<Output = Result<T, IdentityError>>,
{
    let identity = identity()?;
    let session = session().await?;
    let outcome = match identity.user(&session).await {
        Ok(Some(user)) => work(identity.clone(), user).await,
        Ok(None) => Err(IdentityError::NotSignedIn),
        Err(error) => Err(error),
    };
    match outcome {
        Ok(value) => Ok(value),
        Err(error) => Err(failure(&identity, &session, error).await),
    }
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
