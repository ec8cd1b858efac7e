//! `GET /profile/photo`: the signed-in user's Graph photo, proxied so the
//! browser never holds a token (not even in a URL), briefly cached.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use idweb_identity::Identity;
use tower_sessions::Session;

/// The route path.
pub const PHOTO_PATH: &str = "/profile/photo";

/// The photo's bytes, 404 without one, 401 when signed out.
pub async fn profile_photo(State(identity): State<Arc<Identity>>, session: Session) -> Response {
    let user = match identity.user(&session).await {
        Ok(Some(user)) => user,
        Ok(None) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(error) => {
            tracing::warn!(%error, "photo: session unavailable");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match identity.graph().me_photo_cached(&user).await {
        Ok(Some(photo)) => {
            let content_type = HeaderValue::from_str(&photo.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let mut response = photo.bytes.clone().into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, content_type);
            // Private: one user's photo must never be stored by a shared cache.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
            response
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::warn!(%error, "photo: Graph call failed");
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}
