//! Start-up errors that say what to fix: a client credential that cannot
//! load names its entry (`AzureAd:ClientCredentials:N`) and `SourceType`
//! and why, each entry tried is listed when none loads, and a malformed URL
//! says which form is expected. Each test reads what start-up prints
//! (`IdentityError::report`, or the configuration error).

use crate::support;

use serde_json::{json, Value};
use support::{start_up_error, start_up_error_with, TestApp, EMULATOR};

/// Settings whose only credentials are `entries` (nothing else is reached
/// before the credential loads).
fn with_credentials(entries: Value) -> Value {
    json!({
        "AzureAd": { "Instance": "http://127.0.0.1:9/", "TenantId": "t", "ClientId": "c", "ClientCredentials": entries },
        "Graph": { "BaseUrl": "http://127.0.0.1:9/v1.0", "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": "http://127.0.0.1:9/" },
    })
}

/// `settings` with the emulator's address in place of [`EMULATOR`], and
/// the emulator's managed identity endpoint, as an app in Azure has.
async fn start_up_error_against_the_emulator(app: &TestApp, entries: Value) -> String {
    let mut settings = with_credentials(entries);
    support::replace_placeholder(&mut settings, &app.emulator.base_url());
    start_up_error_with(&settings, Some(app.managed_identity.clone())).await
}

#[tokio::test]
async fn a_certificate_file_that_is_not_there_names_the_entry_and_the_file() {
    let report = start_up_error(&with_credentials(json!([{ "SourceType": "Path", "CertificateDiskPath": "/nonexistent/idweb.pem" }]))).await;
    assert!(report.contains("AzureAd:ClientCredentials:0 (Path)"), "{report}");
    assert!(report.contains("cannot read /nonexistent/idweb.pem") && report.contains("No such file"), "{report}");
}

#[tokio::test]
async fn a_key_vault_that_does_not_answer_names_the_entry_and_the_vault_host() {
    let app = TestApp::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let entry = json!({ "SourceType": "KeyVault", "KeyVaultUrl": format!("http://127.0.0.1:{closed}/"), "KeyVaultCertificateName": "idweb" });
    let report = start_up_error_against_the_emulator(&app, json!([entry])).await;
    assert!(report.contains("AzureAd:ClientCredentials:0 (KeyVault)"), "{report}");
    assert!(report.contains("Key Vault 127.0.0.1 is unreachable"), "{report}");
}

#[tokio::test]
async fn a_certificate_name_the_vault_does_not_hold_names_the_entry_and_the_name() {
    let app = TestApp::start().await;
    let entry = json!({ "SourceType": "KeyVault", "KeyVaultUrl": EMULATOR, "KeyVaultCertificateName": "no-such-certificate" });
    let report = start_up_error_against_the_emulator(&app, json!([entry])).await;
    assert!(report.contains("AzureAd:ClientCredentials:0 (KeyVault)"), "{report}");
    assert!(report.contains("has no certificate named \"no-such-certificate\" (404"), "{report}");
}

#[tokio::test]
async fn a_key_that_is_not_rsa_names_the_entry_and_says_so() {
    // rcgen makes ECDSA P-256 keys: a certificate and key a developer may well have at hand.
    let certified = rcgen::generate_simple_self_signed(vec!["idweb.example".into()]).unwrap();
    let folder = std::env::temp_dir().join(format!("idweb-ec-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let certificate = folder.join("ec.crt");
    let key = folder.join("ec.key");
    std::fs::write(&certificate, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let entry = json!({ "SourceType": "Path", "CertificateDiskPath": certificate, "KeyDiskPath": key });
    let report = start_up_error(&with_credentials(json!([entry]))).await;
    std::fs::remove_dir_all(&folder).unwrap();
    assert!(report.contains("AzureAd:ClientCredentials:0 (Path)"), "{report}");
    assert!(report.contains("not an RSA key"), "{report}");
}

#[tokio::test]
async fn a_source_type_idweb_does_not_support_names_the_entry_and_what_to_use_instead() {
    let report = start_up_error(&with_credentials(json!([{ "SourceType": "SignedAssertionFromVault" }]))).await;
    assert!(report.contains("AzureAd:ClientCredentials:0 (SignedAssertionFromVault)"), "{report}");
    assert!(report.contains("not supported") && report.contains("KeyVault"), "{report}");
}

#[tokio::test]
async fn when_no_entry_loads_each_one_tried_is_listed_on_a_line_of_its_own() {
    let entries = json!([
        { "SourceType": "Path", "CertificateDiskPath": "/nonexistent/first.pem" },
        { "SourceType": "SignedAssertionFromVault" },
        { "SourceType": "SignedAssertionFilePath", "SignedAssertionFileDiskPath": "/nonexistent/token" },
    ]);
    let report = start_up_error(&with_credentials(entries)).await;
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 4, "a heading and one line per entry: {report}");
    assert!(lines[0].contains("no configured client credential could be loaded"), "{report}");
    assert!(lines[1].contains("AzureAd:ClientCredentials:0 (Path)") && lines[1].contains("/nonexistent/first.pem"), "{report}");
    assert!(lines[2].contains("AzureAd:ClientCredentials:1 (SignedAssertionFromVault)") && lines[2].contains("not supported"), "{report}");
    assert!(lines[3].contains("AzureAd:ClientCredentials:2 (SignedAssertionFilePath)") && lines[3].contains("/nonexistent/token"), "{report}");
}

#[tokio::test]
async fn a_malformed_key_vault_url_says_which_form_is_expected() {
    let entry = json!({ "SourceType": "KeyVault", "KeyVaultUrl": "myvault.vault.azure.net", "KeyVaultCertificateName": "idweb" });
    let report = start_up_error(&with_credentials(json!([entry]))).await;
    assert!(report.contains("AzureAd:ClientCredentials:0:KeyVaultUrl"), "{report}");
    assert!(report.contains("expected an absolute http(s) URL such as https://{vault}.vault.azure.net/"), "{report}");
}
