//! Microsoft's documented Microsoft.Identity.Web settings, verbatim (with
//! its comment, its empty certificate list and its `GraphBeta` section),
//! start idweb against the emulator once the instance, the client id and
//! the secret point at it; a user signs in and Graph answers.

use crate::support;

use serde_json::{json, Value};
use support::{location, TestApp, ADELE, EMULATOR};

/// Microsoft's example as published (Microsoft.Identity.Web's wiki, "calling a web API").
const FROM_MICROSOFTS_DOCS: &str = include_str!("fixtures/microsoft-docs-appsettings.jsonc");

#[tokio::test]
async fn microsofts_documented_settings_sign_in_against_the_emulator() {
    let documented: Value = serde_json::from_str(&idweb_identity::config::jsonc::strip(FROM_MICROSOFTS_DOCS).unwrap()).unwrap();
    let client_id = documented["AzureAd"]["ClientId"].as_str().unwrap().to_owned();
    let app = TestApp::start_with(move |emulator, settings| {
        // The app registration the settings name, with the secret they hold.
        let registration = &mut emulator.apps[0];
        registration.client_id = client_id.clone();
        registration.client_secrets = vec![serde_json::from_value(json!("...")).unwrap()];
        emulator.key_vault.certificates.clear();
        let mut pointed = documented;
        pointed["AzureAd"]["Instance"] = json!(EMULATOR);
        pointed["GraphBeta"]["BaseUrl"] = json!(format!("{EMULATOR}v1.0"));
        // The test kit's own Graph section gives way to the documented one.
        pointed["Graph"] = Value::Null;
        *settings = pointed;
    })
    .await;
    assert!(app.identity.config().azure_ad.is_multi_tenant());
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after");
    assert_eq!(browser.get("/graph/me").await.text().await.unwrap(), ADELE, "Graph, described under GraphBeta, answers");
}
