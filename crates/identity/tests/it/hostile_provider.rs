//! The provider decides nothing it should not: a discovery document that
//! places an endpoint on another origin is refused before anything (the
//! client secret, a code, its PKCE verifier, a browser) is sent there
//! (DISC-01); no answer is read past its size cap, and no claim is kept past
//! its length (SIZE-01); a key set that names a kid twice stops nothing (JWKS-01).

use crate::support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use idweb_emulator::faults::DiscoveryFault;
use reqwest::StatusCode;
use serde_json::json;
use support::{location, TestApp};

/// A listener on another loopback port (so another origin) that counts the
/// connections made to it and answers none of them.
async fn elsewhere() -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicU64::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (origin, connections)
}

#[tokio::test]
async fn disc_01_discovery_placing_any_endpoint_on_another_origin_is_refused_and_nothing_is_sent_there() {
    for endpoint in ["token_endpoint", "jwks_uri", "authorization_endpoint", "end_session_endpoint"] {
        let app = TestApp::start().await;
        let (origin, connections) = elsewhere().await;
        let mut fields = serde_json::Map::new();
        fields.insert(endpoint.into(), json!(format!("{origin}/{}/{endpoint}", app.emulator.tenant_id())));
        app.emulator.faults().arm_discovery(DiscoveryFault { fields, count: 1 }).unwrap();

        let browser = app.browser();
        let answer = browser.get("/auth/sign-in?returnUrl=/").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{endpoint}");
        assert!(location(&answer).starts_with("/auth/error?reason=provider_misconfigured"), "{endpoint}: {}", location(&answer));
        assert_eq!(connections.load(Ordering::SeqCst), 0, "{endpoint}: something was sent to the other origin");
        assert_eq!(browser.whoami().await, "nobody");
    }
}

#[tokio::test]
async fn disc_01_the_same_host_by_another_name_is_another_origin() {
    let app = TestApp::start().await;
    let base = url::Url::parse(&app.emulator.base_url()).unwrap();
    // localhost and 127.0.0.1 reach the same emulator, but are not the same origin.
    let alias = format!("http://localhost:{}/{}/oauth2/v2.0/token", base.port().unwrap(), app.emulator.tenant_id());
    let mut fields = serde_json::Map::new();
    fields.insert("token_endpoint".into(), json!(alias));
    app.emulator.faults().arm_discovery(DiscoveryFault { fields, count: 1 }).unwrap();
    let answer = app.browser().get("/auth/sign-in?returnUrl=/").await;
    assert!(location(&answer).starts_with("/auth/error?reason=provider_misconfigured"), "{}", location(&answer));
}

/// Two megabytes of JSON: twice what idweb reads of any answer.
fn oversized_json() -> String {
    format!("{{\"padding\": \"{}\"}}", "x".repeat(2 * 1024 * 1024))
}

#[tokio::test]
async fn size_01_a_token_answer_over_the_size_cap_is_an_outage_not_a_sign_in() {
    let app = TestApp::start().await;
    let raw = idweb_emulator::faults::RawAnswer { status: 200, content_type: "application/json".into(), body: oversized_json(), retry_after_secs: None };
    let fault = idweb_emulator::faults::TokenFault { grant_type: Some("authorization_code".into()), delay_ms: 0, error: None, raw: Some(raw), count: 1 };
    app.emulator.faults().arm_token(fault).unwrap();
    let browser = app.browser();
    let answer = browser.sign_in(support::ADELE).await;
    assert!(location(&answer).starts_with("/auth/error?reason=provider_unavailable"), "{}", location(&answer));
    assert_eq!(browser.whoami().await, "nobody");
}

#[tokio::test]
async fn size_01_a_discovery_document_over_the_size_cap_is_an_outage() {
    let app = TestApp::start().await;
    let mut fields = serde_json::Map::new();
    fields.insert("padding".into(), json!("x".repeat(2 * 1024 * 1024)));
    app.emulator.faults().arm_discovery(DiscoveryFault { fields, count: 1 }).unwrap();
    let answer = app.browser().get("/auth/sign-in?returnUrl=/").await;
    assert!(location(&answer).starts_with("/auth/error?reason=provider_unavailable"), "{}", location(&answer));
}

#[tokio::test]
async fn size_01_display_claims_are_kept_at_most_256_characters_long() {
    let app = TestApp::start().await;
    app.emulator
        .faults()
        .arm_id_token(idweb_emulator::faults::IdTokenFault { mutation: idweb_emulator::faults::IdTokenMutation::LongName, count: 1 })
        .unwrap();
    let browser = app.browser();
    browser.sign_in(support::ADELE).await;
    let name = browser.whoami().await;
    assert_eq!(name.chars().count(), 256, "{name}");
}

#[tokio::test]
async fn jwks_01_a_key_set_listing_a_kid_twice_does_not_stop_sign_in() {
    let app = TestApp::start().await;
    app.emulator.faults().duplicate_jwks_kids(1);
    let browser = app.browser();
    browser.sign_in(support::ADELE).await;
    assert_eq!(browser.whoami().await, support::ADELE);
    assert_eq!(app.emulator.jwks_requests(), 1, "the duplicated set was the one used");
}
