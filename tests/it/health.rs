//! `/healthz` answers while the process serves; `/readyz` answers 503 naming
//! the store when the token cache store is unreachable (FLT-03), and never
//! more than its name.
#![cfg(feature = "ssr")]

use crate::common;

use common::http_get;

#[tokio::test]
async fn flt_03_readiness_names_the_unreachable_store_and_health_stays_ok() {
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = serde_json::json!({
        "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "tenant", "ClientId": "client", "ClientSecret": "unused" },
        "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:3000/" },
        "Session": { "SecureCookie": false },
        "TokenCache": {
            "Store": "Redis",
            "ConnectionString": format!("redis://:hunter2@127.0.0.1:{dead_port}/"),
            "TimeoutMilliseconds": 200,
            "EncryptionKeys": [{ "Id": "k1", "Key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }],
        },
    });
    let config = idweb_identity::IdentityConfig::from_json(&settings).unwrap();
    let identity = idweb_identity::Identity::builder(config).build().await.expect("starts while Redis is down");
    let options = idweb::server::site_options().expect("Cargo.toml has [package.metadata.leptos]");
    let router = idweb::server::app_router(identity, options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let health = http_get(address, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = http_get(address, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.ends_with("not ready: the token cache store (redis) is unavailable"), "{ready}");
    assert!(!ready.contains("hunter2") && !ready.contains(&dead_port.to_string()), "nothing but the store's name: {ready}");
}
