//! Sign-in, callback and sign-out routes (OpenID Connect authorization code
//! flow with state, nonce and PKCE S256).

mod callback;
pub mod challenges;
pub mod pending;
mod response;
mod return_url;
mod start;
pub(crate) mod throttle;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use openidconnect::{ClientId, LogoutRequest, PostLogoutRedirectUrl};
use tower_sessions::Session;

pub use return_url::safe_return_path;
pub use start::SignInRequest;

use crate::error::{IdentityError, SIGN_IN_PATH};
use crate::protocol::provider::redirect_url;
use crate::user::SignedInUser;
use crate::Identity;
pub(crate) use super::session::USER_KEY;

/// Bytes of randomness in `state` and `nonce` (AUTHZ-01 asks for at least 16).
const RANDOM_BYTES: u32 = 32;
/// Path that signs the user out (POST).
pub use idweb_routes::SIGN_OUT_PATH;

/// The sign-in routes, bound to `identity`.
pub fn router(identity: Arc<Identity>) -> Router {
    let azure_ad = &identity.config().azure_ad;
    Router::new()
        .route(SIGN_IN_PATH, get(start::sign_in))
        .route(&azure_ad.callback_path, get(callback::callback))
        .route(SIGN_OUT_PATH, post(sign_out))
        .route(&azure_ad.signed_out_callback_path, get(signed_out))
        .route(&azure_ad.remote_sign_out_path, get(crate::web::logout::front_channel))
        .route(&azure_ad.back_channel_logout_path, post(crate::web::logout::back_channel))
        .layer(axum::middleware::from_fn_with_state(identity.clone(), crate::web::csrf::same_origin_writes))
        .with_state(identity)
}

/// How long sign-out waits for the user's tokens to be removed (behind a
/// token request of the user in flight, or a slow store) once the session
/// has ended.
const TOKEN_REMOVAL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Signs out everywhere it must: the session, the user's cached tokens, and
/// then the provider's session via its end-session endpoint (OUT-01). The
/// session ends first: whatever happens to the tokens after, the user is
/// signed out here.
async fn sign_out(State(identity): State<Arc<Identity>>, session: Session) -> Result<Response, IdentityError> {
    // Read directly, not through `Identity::user`: a session past its lifetime
    // still names whose tokens to remove.
    let user = session.get::<SignedInUser>(USER_KEY).await?;
    session.flush().await?;
    tracing::info!("user signed out");
    if let Some(user) = user {
        identity.graph().forget_photo(&user);
        match tokio::time::timeout(TOKEN_REMOVAL_WAIT, identity.tokens().remove_user(&user)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(error = %crate::telemetry::error_chain(&error), "signed out, but the user's tokens could not be removed"),
            Err(_) => tracing::error!("signed out, but removing the user's tokens did not finish in time"),
        }
    }
    let config = identity.config();
    let end_session = match identity.provider().get().await {
        Ok(provider) => provider.end_session_endpoint.clone(),
        Err(error) => {
            tracing::warn!(error = %error, "signed out locally; provider unreachable for end-session");
            None
        }
    };
    let Some(end_session) = end_session else {
        return Ok(no_store(Redirect::to("/").into_response()));
    };
    let after_logout = redirect_url(&config.hosting.public_url, &config.azure_ad.signed_out_callback_path)?;
    let logout = LogoutRequest::from(end_session)
        .set_client_id(ClientId::new(config.azure_ad.client_id.clone()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(after_logout.url().clone()));
    Ok(no_store(Redirect::to(logout.http_get_url().as_str()).into_response()))
}

/// Where the provider returns after its sign-out.
async fn signed_out() -> Redirect {
    Redirect::to("/")
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
