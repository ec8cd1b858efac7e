//! Axum extractors for the signed-in user: every protected route gets the
//! user one way, with the session's lifetimes enforced (`Identity::user`).
//!
//! `CurrentUser` (required): without a user the request is refused with
//! [`IdentityError::NotSignedIn`] (a redirect to sign-in for pages; routes
//! that want a 401 use `MaybeUser`). `MaybeUser` (optional): `None` when
//! nobody is signed in. Both need the session layer and an `Arc<Identity>`
//! reachable from the router state.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use tower_sessions::Session;

use crate::error::IdentityError;
use crate::user::SignedInUser;
use crate::Identity;

/// The signed-in user of the request; refuses the request without one.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub SignedInUser);

/// The signed-in user of the request, if any.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<SignedInUser>);

impl<S> FromRequestParts<S> for MaybeUser
where
    Arc<Identity>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = IdentityError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = Arc::<Identity>::from_ref(state);
        // The session layer always provides one; without it this is a wiring defect.
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| IdentityError::Misconfigured("the session layer is missing in front of this route".into()))?;
        Ok(Self(identity.user(&session).await?))
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    Arc<Identity>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = IdentityError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match MaybeUser::from_request_parts(parts, state).await? {
            MaybeUser(Some(user)) => Ok(Self(user)),
            MaybeUser(None) => Err(IdentityError::NotSignedIn),
        }
    }
}
