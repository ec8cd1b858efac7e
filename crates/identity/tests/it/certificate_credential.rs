//! TOK-01 with a certificate: idweb signs `private_key_jwt` assertions with
//! a PEM certificate's key, and the emulator (which knows no secret for the
//! app) accepts them for code redemption and app tokens.

use crate::support;

use serde_json::json;
use support::certificates::{app_with_certificate, certificate_files, PFX_PASSWORD};
use support::{location, start_up_error, TestApp, ADELE};

#[tokio::test]
async fn tok_01_a_certificate_signs_in_and_gets_app_tokens_without_a_secret() {
    let files = certificate_files();
    let entry = json!({ "SourceType": "Path", "CertificateDiskPath": files.combined });
    let app = app_with_certificate(&files, entry).await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(ADELE).await), "/after");
    assert_eq!(browser.whoami().await, ADELE);
    assert_eq!(browser.get("/graph/me").await.text().await.unwrap(), ADELE);
    let graph = vec!["https://graph.microsoft.com/.default".to_owned()];
    app.identity.tokens().for_app(&graph).await.expect("an app token with a fresh assertion");
}

#[tokio::test]
async fn a_separate_key_file_works_and_a_mismatched_one_is_refused_naming_the_key() {
    let files = certificate_files();
    let entry = json!({ "SourceType": "Path", "CertificateDiskPath": files.certificate_only, "KeyDiskPath": files.key_only });
    let app = app_with_certificate(&files, entry).await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");

    let other = certificate_files();
    let settings = |entry: serde_json::Value| {
        json!({
            "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "t", "ClientId": "c", "ClientCredentials": [entry] },
            "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
            "Hosting": { "PublicUrl": "http://127.0.0.1:9/" },
        })
    };
    let mismatched = settings(json!({ "SourceType": "Path", "CertificateDiskPath": files.certificate_only, "KeyDiskPath": other.key_only }));
    let error = start_up_error(&mismatched).await;
    assert!(error.contains("AzureAd:ClientCredentials:0 (Path)") && error.contains("does not belong"), "{error}");
    let unknown = settings(json!({ "SourceType": "KeyVaults" }));
    let error = idweb_identity::IdentityConfig::from_json(&unknown).unwrap_err().to_string();
    assert!(error.contains("AzureAd:ClientCredentials:0:SourceType") && error.contains("\"KeyVaults\""), "{error}");
    let missing = settings(json!({ "SourceType": "SignedAssertionFilePath", "SignedAssertionFileDiskPath": "/nonexistent/token" }));
    let error = start_up_error(&missing).await;
    assert!(error.contains("(SignedAssertionFilePath)") && error.contains("/nonexistent/token"), "{error}");
}

#[tokio::test]
async fn tok_01_a_signed_assertion_file_is_read_on_every_use() {
    let dir = std::env::temp_dir().join(format!("idweb-assertion-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("azure-identity-token");
    std::fs::write(&file, "placeholder until the emulator listens").unwrap();
    let entry = json!({ "SourceType": "SignedAssertionFilePath", "SignedAssertionFileDiskPath": file });
    let app = TestApp::start_with(move |emulator, settings| {
        let registration = &mut emulator.apps[0];
        registration.client_secrets.clear();
        registration.federated_credentials =
            vec![serde_json::from_value(json!({ "subject": "system:serviceaccount:idweb:web" })).unwrap()];
        *settings = json!({ "AzureAd": { "ClientCredentials": [entry] } });
    })
    .await;
    let minter = app.emulator.state().minter();
    let issuer = app.emulator.state().workload_issuer();
    let token = minter.workload_identity_token(&issuer, "system:serviceaccount:idweb:web", "api://AzureADTokenExchange", 600);
    std::fs::write(&file, format!("{token}\n")).unwrap();

    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after", "the code is redeemed with the file's assertion");
    let graph = vec!["https://graph.microsoft.com/.default".to_owned()];
    app.identity.tokens().for_app(&graph).await.expect("an app token with the same assertion");
    // The file is rotated (here: to an assertion for another workload); the next request reads it again.
    let other = minter.workload_identity_token(&issuer, "system:serviceaccount:other:app", "api://AzureADTokenExchange", 600);
    std::fs::write(&file, other).unwrap();
    let refused = app.identity.tokens().for_app(&["api://c1a9d3b7-6e2f-4d8a-9b5c-3f7e1d2a4b60/.default".to_owned()]).await.unwrap_err();
    assert!(refused.to_string().contains("invalid_client"), "{refused}");
}

#[tokio::test]
async fn tok_01_a_pkcs12_file_with_its_password_works_and_a_wrong_password_is_named() {
    let files = certificate_files();
    let entry = json!({ "SourceType": "Path", "CertificateDiskPath": files.pkcs12, "CertificatePassword": PFX_PASSWORD });
    let app = app_with_certificate(&files, entry).await;
    assert_eq!(location(&app.browser().sign_in(ADELE).await), "/after");

    let wrong = json!({
        "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "t", "ClientId": "c",
                     "ClientCredentials": [{ "SourceType": "Path", "CertificateDiskPath": files.pkcs12, "CertificatePassword": "nope" }] },
        "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:9/" },
    });
    let error = start_up_error(&wrong).await;
    assert!(error.contains("AzureAd:ClientCredentials:0 (Path)") && error.contains("CertificatePassword"), "{error}");
    assert!(!error.contains("nope"), "the password is not repeated");
}
