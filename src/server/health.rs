//! `GET /healthz` (the process answers) and `GET /readyz` (the stores it
//! needs answer too), for load balancers and orchestrators.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idweb_identity::Identity;

/// Liveness: the process serves requests.
pub const HEALTH_PATH: &str = "/healthz";
/// Readiness: the token cache and session stores answer.
pub const READY_PATH: &str = "/readyz";

/// Always 200 while the process serves.
pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 when the stores answer; 503 naming the one that does not.
pub async fn readyz(State(identity): State<Arc<Identity>>) -> Response {
    match identity.check_ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(error) => {
            let reason = idweb_identity::telemetry::error_chain(&error);
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}")).into_response()
        }
    }
}
