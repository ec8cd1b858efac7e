//! `/metrics` in Prometheus text format, on its own listener
//! (`Hosting:MetricsAddress`), so the app's public port never serves it.
//! The metric names live in `idweb_identity::telemetry`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use idweb_identity::Identity;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets (seconds) for the token endpoint and the shared store.
const TOKEN_ENDPOINT_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0];
const STORE_BUCKETS: [f64; 10] = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0];
/// How often histogram samples are folded in when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide recorder; `None` (metrics off) if one is installed already.
pub fn install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(idweb_identity::telemetry::TOKEN_ENDPOINT_SECONDS.into()), &TOKEN_ENDPOINT_BUCKETS)
        .and_then(|builder| builder.set_buckets_for_metric(Matcher::Full(idweb_identity::telemetry::L2_SECONDS.into()), &STORE_BUCKETS));
    match builder.and_then(|builder| builder.install_recorder()) {
        Ok(handle) => Some(handle),
        Err(error) => {
            tracing::warn!(%error, "metrics are off");
            None
        }
    }
}

/// Serves `/metrics` on `listener` for the life of the process.
pub fn serve(listener: tokio::net::TcpListener, handle: PrometheusHandle, identity: Arc<Identity>) {
    let address = listener.local_addr().map(|address| address.to_string()).unwrap_or_default();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            let identity = identity.clone();
            async move {
                identity.record_gauges().await;
                ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
            }
        }),
    );
    tracing::info!("metrics on http://{address}/metrics");
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!(%error, "the metrics listener stopped");
        }
    });
}
