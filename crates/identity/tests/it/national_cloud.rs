//! A national cloud's Graph (US Government: `https://graph.microsoft.us`)
//! configured with its own scope prefix: the token endpoint lists the Graph
//! scopes it granted bare, and the cache still finds the token for the
//! prefixed scopes, so a second call costs no token request.

use crate::support;

use serde_json::json;
use support::{location, TestApp, ADELE};

const US_GRAPH: &str = "https://graph.microsoft.us";

#[tokio::test]
async fn graph_scopes_of_a_national_cloud_hit_the_cache() {
    let app = TestApp::start_with(|emulator, settings| {
        emulator.graph_resource_uri = US_GRAPH.into();
        *settings = json!({ "Graph": {
            "Scopes": [format!("{US_GRAPH}/User.Read")],
            "AppScopes": [format!("{US_GRAPH}/.default")],
        } });
    })
    .await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after");
    let after_sign_in = app.emulator.token_requests();
    for _ in 0..3 {
        assert_eq!(browser.get("/graph/me").await.text().await.unwrap(), ADELE);
    }
    assert_eq!(app.emulator.token_requests(), after_sign_in, "the token from sign-in serves every Graph call");

    let app_scopes = [format!("{US_GRAPH}/.default")];
    app.identity.tokens().for_app(&app_scopes).await.unwrap();
    app.identity.tokens().for_app(&app_scopes).await.unwrap();
    assert_eq!(app.emulator.token_requests(), after_sign_in + 1, "one app token request, then the cache");

    // A sign-in link may ask for the configured Graph scope in either form.
    for scope in [format!("{US_GRAPH}/User.Read"), "User.Read".to_owned()] {
        let answer = browser.get(&format!("/auth/sign-in?scope={}", urlencode(&scope))).await;
        let target = location(&answer).to_owned();
        assert!(!target.contains("not_offered"), "{scope}: {target}");
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[test]
fn the_cache_compares_a_national_cloud_s_graph_scopes_without_its_prefix() {
    let settings = json!({
        "AzureAd": { "Instance": "https://login.microsoftonline.us/", "TenantId": "t", "ClientId": "c", "ClientSecret": "s" },
        "Graph": { "BaseUrl": "https://graph.microsoft.us/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "https://app.example" },
    });
    let config = idweb_identity::IdentityConfig::from_json(&settings).unwrap();
    let normaliser = idweb_identity::scopes::ScopeNormaliser::for_graph(&config.graph);
    assert_eq!(normaliser.normalise(["https://graph.microsoft.us/User.Read", "openid"]), normaliser.normalise(["user.read"]));
    assert_ne!(
        normaliser.normalise(["https://graph.microsoft.com/Mail.Read"]),
        normaliser.normalise(["Mail.Read"]),
        "in a national cloud the worldwide Graph is another resource"
    );
    assert_ne!(normaliser.normalise(["api://other/User.Read"]), normaliser.normalise(["User.Read"]), "another API's scope keeps its resource");
}
