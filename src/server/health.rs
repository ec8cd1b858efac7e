//! `GET /healthz` (the process answers) and `GET /readyz` (the stores it
//! needs answer too), for load balancers and orchestrators.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idweb_identity::{Identity, IdentityError};

use super::shutdown::Lifecycle;

/// Liveness: the process serves requests.
pub const HEALTH_PATH: &str = "/healthz";
/// Readiness: the token cache and session stores answer.
pub const READY_PATH: &str = "/readyz";

/// Always 200 while the process serves.
pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 when the stores answer; 503 naming the store that does not. The
/// body names it only (`the token cache store (redis) is unavailable`): the
/// cause, which can name hosts and users, goes to the log. 503 at once when
/// the instance is shutting down, so the balancer stops sending it traffic.
pub async fn readyz(State((identity, lifecycle)): State<(Arc<Identity>, Lifecycle)>) -> Response {
    if lifecycle.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down").into_response();
    }
    match identity.check_ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(error) => {
            tracing::debug!(error = %idweb_identity::telemetry::error_chain(&error), "not ready");
            let which = match &error {
                IdentityError::TokenCache(store) => store.to_string(),
                other => other.to_string(),
            };
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {which}")).into_response()
        }
    }
}
