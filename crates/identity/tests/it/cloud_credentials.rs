//! TOK-01 with the credentials production apps on Azure use, against the
//! emulator's Key Vault and managed identity endpoint: a Key Vault
//! certificate (read with a managed identity's token), certificateless
//! (a managed identity's token as the assertion), rotation picked up without
//! a restart, and the fallback through the configured list.

use crate::support;

use idweb_emulator::config::DEFAULT_VAULT_CERTIFICATE;
use idweb_identity::credentials::{ManagedIdentitySource, SecretText};
use serde_json::{json, Value};
use support::{location, TestApp, ADELE, EMULATOR};

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

/// An app whose only credentials are `entries`: the emulator knows no
/// secret for it, and the settings keep none.
async fn app_with_credentials(entries: Value, customise: impl FnOnce(&mut idweb_emulator::EmulatorConfig)) -> TestApp {
    TestApp::start_with(move |emulator, settings| {
        emulator.apps[0].client_secrets.clear();
        customise(emulator);
        *settings = json!({ "AzureAd": { "ClientSecret": null, "ClientCredentials": entries } });
    })
    .await
}

fn key_vault(name: &str) -> Value {
    json!({ "SourceType": "KeyVault", "KeyVaultUrl": EMULATOR, "KeyVaultCertificateName": name })
}

#[tokio::test]
async fn tok_01_a_key_vault_certificate_read_with_a_managed_identity_token_signs_in_and_gets_graph_data() {
    let app = app_with_credentials(json!([key_vault(DEFAULT_VAULT_CERTIFICATE)]), |_| {}).await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after", "the code is redeemed with an assertion the vault's key signed");
    assert_eq!(browser.get("/graph/me").await.text().await.unwrap(), ADELE);
    app.identity.tokens().for_app(&[GRAPH_DEFAULT.to_owned()]).await.expect("an app token too");
}

#[tokio::test]
async fn tok_01_a_pem_certificate_in_key_vault_works_like_a_pkcs12_one() {
    let entries = json!([key_vault("idweb-pem")]);
    let app = app_with_credentials(entries, |emulator| {
        let client_id = emulator.apps[0].client_id.clone();
        emulator.key_vault.certificates.push(
            serde_json::from_value(json!({ "name": "idweb-pem", "registeredOn": client_id, "contentType": "application/x-pem-file" })).unwrap(),
        );
    })
    .await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");
}

#[tokio::test]
async fn tok_01_a_managed_identity_alone_is_the_credential_no_secret_and_no_certificate() {
    let entries = json!([{ "SourceType": "SignedAssertionFromManagedIdentity" }]);
    let app = app_with_credentials(entries, |emulator| emulator.apps[0].certificates.clear()).await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after");
    assert_eq!(browser.get("/graph/me").await.text().await.unwrap(), ADELE);
    app.identity.tokens().for_app(&[GRAPH_DEFAULT.to_owned()]).await.expect("an app token with the same identity");

    // A virtual machine's IMDS endpoint works the same.
    let mut settings = app.settings.clone();
    settings["AzureAd"]["ClientCredentials"] = json!([{ "SourceType": "SignedAssertionFromManagedIdentity" }]);
    let imds = ManagedIdentitySource::Imds { endpoint: url::Url::parse(&format!("{}metadata/identity/oauth2/token", app.emulator.base_url())).unwrap() };
    let config = idweb_identity::IdentityConfig::from_json(&settings).unwrap();
    let identity = idweb_identity::Identity::builder(config).managed_identity(imds).build().await.unwrap();
    identity.tokens().for_app(&[GRAPH_DEFAULT.to_owned()]).await.expect("an app token through IMDS");
}

#[tokio::test]
async fn tok_01_a_user_assigned_identity_the_host_does_not_have_stops_start_up_naming_the_entry() {
    let app = TestApp::start().await;
    let mut settings = app.settings.clone();
    settings["AzureAd"]["ClientSecret"] = Value::Null;
    settings["AzureAd"]["ClientCredentials"] =
        json!([{ "SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": "0f0e0d0c-0000-4000-8000-000000000000" }]);
    let config = idweb_identity::IdentityConfig::from_json(&settings).unwrap();
    let error = match idweb_identity::Identity::builder(config).managed_identity(app.managed_identity.clone()).build().await {
        Ok(_) => panic!("started without a credential"),
        Err(error) => format!("{error}: {}", std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default()),
    };
    assert!(error.contains("AzureAd:ClientCredentials:0 (SignedAssertionFromManagedIdentity)") && error.contains("400"), "{error}");
}

#[tokio::test]
async fn tok_01_a_rotated_key_vault_certificate_is_picked_up_after_the_provider_refuses_the_old_one() {
    let app = app_with_credentials(json!([key_vault(DEFAULT_VAULT_CERTIFICATE)]), |_| {}).await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");
    let state = app.emulator.state().clone();
    idweb_emulator::key_vault::Vault::rotate(&state, DEFAULT_VAULT_CERTIFICATE).await.unwrap().expect("the certificate exists");

    let before = app.emulator.token_requests();
    app.identity.tokens().for_app(&[GRAPH_DEFAULT.to_owned()]).await.expect("the new certificate, read again from the vault");
    assert_eq!(app.emulator.token_requests() - before, 2, "refused once with the old certificate, then accepted with the new one");
    // A new browser signs in with the new certificate straight away.
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");
    assert_eq!(app.emulator.token_requests() - before, 3);
}

#[tokio::test]
async fn tok_01_a_certificate_the_app_no_longer_trusts_fails_clearly_after_one_reload() {
    let app = app_with_credentials(json!([key_vault(DEFAULT_VAULT_CERTIFICATE)]), |_| {}).await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");
    // Someone deletes the certificate from the app registration and nothing replaces it in the vault.
    let client_id = app.emulator.state().config.apps[0].client_id.clone();
    let trusted = app.emulator.state().certificates.of_app(&client_id);
    for certificate in &trusted {
        app.emulator.state().certificates.unregister(&client_id, &certificate.x5t_s256);
    }
    let before = app.emulator.token_requests();
    let error = app.identity.tokens().for_app(&[GRAPH_DEFAULT.to_owned()]).await.unwrap_err().to_string();
    assert!(error.contains("invalid_client") && error.contains("AADSTS700027"), "{error}");
    assert_eq!(app.emulator.token_requests() - before, 2, "one retry after reloading, not a loop");
    // The next refusal within a minute does not reload again (nor retry): one request.
    let again = app.emulator.token_requests();
    app.identity.tokens().for_app(&["api://c1a9d3b7-6e2f-4d8a-9b5c-3f7e1d2a4b60/.default".to_owned()]).await.unwrap_err();
    assert_eq!(app.emulator.token_requests() - again, 1, "reloads are rate-limited");
}

#[tokio::test]
async fn tok_01_credentials_are_tried_in_order_and_the_first_that_loads_is_used() {
    let entries = json!([
        { "SourceType": "StoreWithThumbprint", "CertificateStorePath": "CurrentUser/My", "CertificateThumbprint": "962D129A859174EE8B5596985BD18EFEC6A56AA2" },
        key_vault("not-in-the-vault"),
        { "SourceType": "SignedAssertionFromManagedIdentity" },
    ]);
    let app = app_with_credentials(entries, |_| {}).await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after", "the managed identity, third in the list");
}

#[tokio::test]
async fn tok_01_when_no_credential_loads_start_up_names_each_and_why() {
    let app = TestApp::start().await;
    let mut settings = app.settings.clone();
    settings["AzureAd"]["ClientSecret"] = Value::Null;
    settings["AzureAd"]["ClientCredentials"] = json!([
        { "SourceType": "StoreWithDistinguishedName", "CertificateStorePath": "LocalMachine/My", "CertificateDistinguishedName": "CN=idweb" },
        { "SourceType": "KeyVault", "KeyVaultUrl": app.emulator.base_url(), "KeyVaultCertificateName": "not-in-the-vault" },
        { "SourceType": "Base64Encoded", "Base64EncodedValue": "bm90IGEgY2VydGlmaWNhdGU=" },
        { "SourceType": "SignedAssertionFromManagedIdentity" },
    ]);
    // No managed identity endpoint on this "host": IDENTITY_ENDPOINT points nowhere.
    let nowhere = ManagedIdentitySource::AppService { endpoint: url::Url::parse("http://127.0.0.1:9/msi/token").unwrap(), header: SecretText::new("h") };
    let config = idweb_identity::IdentityConfig::from_json(&settings).unwrap();
    let error = match idweb_identity::Identity::builder(config).managed_identity(nowhere).build().await {
        Ok(_) => panic!("started without a credential"),
        Err(error) => format!("{error}: {}", std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default()),
    };
    for expected in [
        "AzureAd:ClientCredentials:0 (StoreWithDistinguishedName)",
        "export the certificate to a file (SourceType Path) or keep it in Key Vault (SourceType KeyVault)",
        "AzureAd:ClientCredentials:1 (KeyVault)",
        "AzureAd:ClientCredentials:2 (Base64Encoded)",
        "PKCS#12",
        "AzureAd:ClientCredentials:3 (SignedAssertionFromManagedIdentity)",
        "did not answer",
    ] {
        assert!(error.contains(expected), "{expected:?} in {error}");
    }
    assert!(!error.contains("bm90IGEgY2VydGlmaWNhdGU"), "the value is not repeated");
}

#[tokio::test]
async fn a_base64_encoded_pkcs12_certificate_signs_in() {
    let files = support::certificates::certificate_files();
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, std::fs::read(&files.pkcs12).unwrap());
    let entry = json!({ "SourceType": "Base64Encoded", "Base64EncodedValue": encoded, "CertificatePassword": support::certificates::PFX_PASSWORD });
    let app = support::certificates::app_with_certificate(&files, entry).await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");
}
