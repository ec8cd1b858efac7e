//! `GET /profile/photo`: the signed-in user's Graph photo, proxied so the
//! browser never holds a token (not even in a URL).
//!
//! The URL is the same for every user, so the browser must not keep the
//! answer (HDR-01): on a shared computer the next user would see the
//! previous user's face. Graph's content type is passed on only when it is
//! an image, so the route can never serve a page or script of Graph's.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use idweb_identity::{Identity, IdentityError, MaybeUser};

/// The route path.
pub const PHOTO_PATH: &str = "/profile/photo";

/// The photo's bytes, 404 without one, 401 when signed out, otherwise the
/// failure's status by its class ([`IdentityError::status`]: 503 for a store or
/// provider outage, 502 when Graph fails or refuses).
pub async fn profile_photo(State(identity): State<Arc<Identity>>, user: Result<MaybeUser, IdentityError>) -> Response {
    let user = match user {
        Ok(MaybeUser(Some(user))) => user,
        Ok(MaybeUser(None)) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(error) => {
            error.log("photo");
            return error.status().into_response();
        }
    };
    match identity.graph().me_photo_cached(&user).await {
        Ok(Some(photo)) => {
            let Some(content_type) = image_content_type(&photo.content_type) else {
                tracing::warn!(content_type = %idweb_identity::telemetry::outside_text(&photo.content_type), "photo: Graph answered something that is not an image");
                return StatusCode::BAD_GATEWAY.into_response();
            };
            let mut response = photo.bytes.clone().into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, content_type);
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            response
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            error.log("photo");
            error.status().into_response()
        }
    }
}

/// `content_type` when it names a raster image type a browser shows as an
/// image (SVG is refused: it can carry script).
fn image_content_type(content_type: &str) -> Option<HeaderValue> {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let raster = essence.strip_prefix("image/").is_some_and(|subtype| {
        !subtype.is_empty() && subtype != "svg+xml" && subtype.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
    });
    if raster {
        HeaderValue::from_str(&essence).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::image_content_type;

    #[test]
    fn hdr_01_only_raster_images_are_passed_on() {
        assert_eq!(image_content_type("image/jpeg").unwrap(), "image/jpeg");
        assert_eq!(image_content_type("Image/PNG; charset=binary").unwrap(), "image/png");
        for refused in ["text/html", "image/svg+xml", "application/octet-stream", "", "image/", "image/png\r\nSet-Cookie: a=b"] {
            assert!(image_content_type(refused).is_none(), "{refused}");
        }
    }
}
