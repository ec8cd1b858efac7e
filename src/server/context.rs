//! What server functions pull from the request: the session and the identity engine.

use std::sync::Arc;

use idweb_identity::{Identity, IdentityError, SignedInUser};
use tower_sessions::Session;

use crate::error::AppError;

/// The request's session (the session layer always provides one).
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|error| AppError::Transport(format!("no session: {error}")))
}

/// The identity engine, provided as context by the router.
pub fn identity() -> Result<Arc<Identity>, AppError> {
    leptos::prelude::use_context::<Arc<Identity>>()
        .ok_or_else(|| AppError::Unavailable("the identity engine is not configured".into()))
}

/// The engine and the signed-in user; `NotSignedIn` when there is none.
/// Every server function that acts for a user starts here.
pub async fn signed_in_user() -> Result<(Arc<Identity>, SignedInUser), AppError> {
    let identity = identity()?;
    let session = session().await?;
    let user = identity.user(&session).await?.ok_or(IdentityError::NotSignedIn)?;
    Ok((identity, user))
}
