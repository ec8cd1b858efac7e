//! Microsoft's endpoints are https-only: the emulator serves HTTPS with a
//! local CA, and idweb trusts it through `Http:TrustedCaFiles`; the sign-in,
//! Graph, Key Vault and managed identity calls all go over TLS.

use crate::support;

use serde_json::{json, Value};
use support::{location, start_up_error, TestApp, ADELE, EMULATOR};

#[tokio::test]
async fn tok_01_with_the_local_ca_trusted_everything_works_over_https() {
    let app = TestApp::start_https(|emulator, settings| {
        emulator.apps[0].client_secrets.clear();
        *settings = json!({ "AzureAd": {
            "ClientSecret": null,
            "ClientCredentials": [{ "SourceType": "KeyVault", "KeyVaultUrl": EMULATOR, "KeyVaultCertificateName": "idweb-client" }],
        } });
    })
    .await;
    assert!(app.emulator.base_url().starts_with("https://127.0.0.1:"), "{}", app.emulator.base_url());
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after");
    assert_eq!(browser.get("/graph/me").await.text().await.unwrap(), ADELE);
}

#[tokio::test]
async fn without_the_ca_trusted_the_provider_is_unreachable_not_trusted_blindly() {
    let app = TestApp::start_https(|_, _| {}).await;
    let mut settings = app.settings.clone();
    settings["Http"] = Value::Null;
    let config = idweb_identity::IdentityConfig::from_json(&settings).unwrap();
    let identity = idweb_identity::Identity::builder(config).build().await.unwrap();
    let error = identity.tokens().for_app(&["https://graph.microsoft.com/.default".to_owned()]).await.unwrap_err();
    assert!(matches!(error, idweb_identity::IdentityError::ProviderUnavailable(_)), "{error:?}");
    let before = app.emulator.discovery_requests();
    assert_eq!(before, 0, "no request got past the TLS handshake");
}

#[tokio::test]
async fn a_trusted_ca_file_that_is_missing_or_not_pem_stops_start_up_naming_the_key() {
    let app = TestApp::start_https(|_, _| {}).await;
    let not_pem = std::env::temp_dir().join(format!("idweb-not-a-ca-{}.pem", rand::random::<u64>()));
    std::fs::write(&not_pem, "hello").unwrap();
    for (file, reason) in [(json!("/nonexistent/ca.pem"), "No such file"), (json!(not_pem), "no PEM certificate")] {
        let mut settings = app.settings.clone();
        settings["Http"]["TrustedCaFiles"] = json!([file]);
        let error = start_up_error(&settings).await;
        assert!(error.contains("Http:TrustedCaFiles:0") && error.contains(reason), "{error}");
    }
}
