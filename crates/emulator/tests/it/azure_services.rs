//! The Azure services a cloud credential needs, shaped like the real ones:
//! the managed identity endpoints (App Service and IMDS), Key Vault's
//! secrets and certificates behind a bearer token, certificate rotation, and
//! a managed identity's token accepted as the app's client assertion
//! through a federated credential.

use crate::support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use idweb_emulator::config::{DEFAULT_MANAGED_IDENTITY_CLIENT_ID, DEFAULT_MANAGED_IDENTITY_PRINCIPAL_ID, DEFAULT_VAULT_CERTIFICATE};
use idweb_emulator::EmulatorConfig;
use serde_json::{json, Value};
use support::*;

const VAULT: &str = "https://vault.azure.net";
const API_VERSION: &str = "api-version=7.4";

impl Emulator {
    async fn managed_identity_token(&self, resource: &str) -> reqwest::Response {
        self.identity_token_for(resource, None).await
    }

    /// A token of the identity `client_id` (user-assigned), or the system-assigned one.
    async fn identity_token_for(&self, resource: &str, client_id: Option<&str>) -> reqwest::Response {
        let mut query = vec![("resource", resource), ("api-version", "2019-08-01")];
        query.extend(client_id.map(|id| ("client_id", id)));
        self.http
            .get(self.running.identity_endpoint())
            .query(&query)
            .header("X-IDENTITY-HEADER", self.running.identity_header())
            .send()
            .await
            .unwrap()
    }

    async fn vault_token(&self) -> String {
        let body: Value = self.managed_identity_token(VAULT).await.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn vault_get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }
}

#[tokio::test]
async fn the_app_service_endpoint_needs_its_header_and_issues_tokens_for_known_resources() {
    let emulator = Emulator::start().await;
    let endpoint = emulator.running.identity_endpoint();
    let without_header = emulator.http.get(&endpoint).query(&[("resource", VAULT), ("api-version", "2019-08-01")]).send().await.unwrap();
    assert_eq!(without_header.status(), 401);
    let old_version = emulator
        .http
        .get(&endpoint)
        .query(&[("resource", VAULT), ("api-version", "2017-09-01")])
        .header("X-IDENTITY-HEADER", emulator.running.identity_header())
        .send()
        .await
        .unwrap();
    assert_eq!(old_version.status(), 400);
    let unknown = emulator.managed_identity_token("https://storage.azure.com").await;
    assert_eq!(unknown.status(), 400);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"], "invalid_resource");

    let answer: Value = emulator.managed_identity_token("https://vault.azure.net/.default").await.json().await.unwrap();
    assert_eq!(answer["resource"], VAULT);
    assert_eq!(answer["client_id"], DEFAULT_MANAGED_IDENTITY_CLIENT_ID);
    let expires_on: u64 = answer["expires_on"].as_str().unwrap().parse().unwrap();
    assert!(expires_on > idweb_emulator::tokens::now_secs());
    let token = claims(answer["access_token"].as_str().unwrap());
    assert_eq!((token["aud"].as_str(), token["oid"].as_str()), (Some(VAULT), Some(DEFAULT_MANAGED_IDENTITY_PRINCIPAL_ID)));
    assert_eq!(token["iss"], emulator.running.authority());
}

#[tokio::test]
async fn imds_needs_the_metadata_header_and_names_identities_by_client_id() {
    let emulator = Emulator::start().await;
    let url = emulator.url("metadata/identity/oauth2/token");
    let query = [("resource", VAULT), ("api-version", "2018-02-01")];
    let without_header = emulator.http.get(&url).query(&query).send().await.unwrap();
    assert_eq!(without_header.status(), 400);
    let answer: Value = emulator.http.get(&url).query(&query).header("Metadata", "true").send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["expires_in"], "86400");
    assert!(answer["access_token"].as_str().is_some_and(|token| !token.is_empty()));
    let unknown = emulator
        .http
        .get(&url)
        .query(&[("resource", VAULT), ("api-version", "2018-02-01"), ("client_id", "00000000-0000-0000-0000-000000000000")])
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400, "a user-assigned identity the host does not have");
}

#[tokio::test]
async fn key_vault_challenges_without_a_vault_token_and_serves_a_certificate_with_its_key() {
    let emulator = Emulator::start().await;
    let path = format!("certificates/{DEFAULT_VAULT_CERTIFICATE}?{API_VERSION}");
    let anonymous = emulator.http.get(emulator.url(&path)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("resource=\"https://vault.azure.net\"") && challenge.contains(emulator.running.tenant_id()), "{challenge}");
    let exchange: Value = emulator.managed_identity_token("api://AzureADTokenExchange").await.json().await.unwrap();
    let wrong_audience = emulator.vault_get(&path, exchange["access_token"].as_str().unwrap()).await;
    assert_eq!(wrong_audience.status(), 401, "a token for another resource");

    let token = emulator.vault_token().await;
    let no_version = emulator.vault_get(&format!("certificates/{DEFAULT_VAULT_CERTIFICATE}"), &token).await;
    assert_eq!(no_version.status(), 400);
    let certificate: Value = emulator.vault_get(&path, &token).await.json().await.unwrap();
    let der = STANDARD.decode(certificate["cer"].as_str().unwrap()).unwrap();
    let secret_id = certificate["sid"].as_str().unwrap();
    assert!(secret_id.starts_with(&emulator.url(&format!("secrets/{DEFAULT_VAULT_CERTIFICATE}/"))), "{secret_id}");
    let secret: Value = emulator.http.get(format!("{secret_id}?{API_VERSION}")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(secret["contentType"], "application/x-pkcs12");
    let pkcs12 = STANDARD.decode(secret["value"].as_str().unwrap()).unwrap();
    let store = p12_keystore::KeyStore::from_pkcs12(&pkcs12, "", p12_keystore::Pkcs12ImportPolicy::Strict).expect("PKCS#12 without a password");
    let (_, chain) = store.private_key_chain().expect("the key with its certificate");
    assert_eq!(chain.certs()[0].as_der(), der.as_slice(), "the secret holds the certificate's key");

    let missing = emulator.vault_get(&format!("secrets/nothing-here?{API_VERSION}"), &token).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"]["code"], "SecretNotFound");
}

#[tokio::test]
async fn a_rotated_vault_certificate_is_the_only_one_the_app_trusts_and_old_versions_stay_readable() {
    let emulator = Emulator::start().await;
    let token = emulator.vault_token().await;
    let path = format!("certificates/{DEFAULT_VAULT_CERTIFICATE}?{API_VERSION}");
    let first: Value = emulator.vault_get(&path, &token).await.json().await.unwrap();
    let client_id = emulator.client_id.clone();
    let trusted = |emulator: &Emulator| emulator.running.state().certificates.of_app(&client_id).into_iter().map(|known| known.x5t).collect::<Vec<_>>();
    assert_eq!(trusted(&emulator), vec![first["x5t"].as_str().unwrap().to_owned()]);

    let rotated: Value = emulator.admin(&format!("key-vault/certificates/{DEFAULT_VAULT_CERTIFICATE}/rotate"), json!({})).await.json().await.unwrap();
    let second: Value = emulator.vault_get(&path, &token).await.json().await.unwrap();
    assert_eq!(second["x5t"], rotated["x5t"]);
    assert_ne!(second["x5t"], first["x5t"]);
    assert_eq!(trusted(&emulator), vec![second["x5t"].as_str().unwrap().to_owned()], "the old certificate is no longer registered");
    let by_version = format!("{}?{API_VERSION}", first["id"].as_str().unwrap());
    let old: Value = emulator.http.get(by_version).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(old["x5t"], first["x5t"]);
    let unknown = emulator.admin("key-vault/certificates/nothing-here/rotate", json!({})).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn tok_01_a_managed_identity_token_for_the_exchange_audience_authenticates_the_app_it_is_federated_with() {
    let mut config = EmulatorConfig::default();
    config.managed_identities.push(serde_json::from_value(json!({ "clientId": "other-identity", "principalId": "other-principal" })).unwrap());
    let emulator = Emulator::start_with(config).await;
    let app_token = |assertion: String| {
        let emulator = &emulator;
        async move {
            emulator
                .token(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &emulator.client_id),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", &assertion),
                    ("scope", "https://graph.microsoft.com/.default"),
                ])
                .await
        }
    };
    let exchange: Value = emulator.managed_identity_token("api://AzureADTokenExchange").await.json().await.unwrap();
    let assertion = exchange["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app_token(assertion.clone()).await.status(), 200);
    assert_eq!(app_token(assertion).await.status(), 200, "reused until it expires, like other federated assertions");

    let other: Value = emulator.identity_token_for("api://AzureADTokenExchange", Some("other-identity")).await.json().await.unwrap();
    let refused = app_token(other["access_token"].as_str().unwrap().to_owned()).await;
    assert_oauth_error(refused, 401, "invalid_client", 700213).await;
    let vault_token = emulator.vault_token().await;
    assert_oauth_error(app_token(vault_token).await, 401, "invalid_client", 700212).await;
}
