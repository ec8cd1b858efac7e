//! `/metrics` answers in Prometheus text format on its own listener, with
//! the engine's metrics (what docs/OPERATIONS.md lists).
#![cfg(feature = "ssr")]

use crate::common;

use common::http_get;

#[tokio::test]
async fn metrics_are_served_in_prometheus_text_on_their_own_listener() {
    let settings = serde_json::json!({
        "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "tenant", "ClientId": "client", "ClientSecret": "unused" },
        "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:3000/", "MetricsAddress": "127.0.0.1:0" },
        "Session": { "SecureCookie": false },
    });
    let config = idweb_identity::IdentityConfig::from_json(&settings).unwrap();
    assert!(config.hosting.metrics_address.is_some());
    let identity = idweb_identity::Identity::builder(config).build().await.unwrap();
    let handle = idweb::server::metrics::install().expect("the first recorder of this process");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    idweb::server::metrics::serve(listener, handle, identity);

    let response = http_get(address, "/metrics").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("text/plain; version=0.0.4"));
    assert!(response.contains(idweb_identity::telemetry::ACTIVE_SESSIONS), "{response}");
    // FLT-04: the breaker's state is published on every scrape, closed (0) at start.
    assert!(response.contains(&format!("{} 0", idweb_identity::telemetry::BREAKER_STATE)), "{response}");
}
