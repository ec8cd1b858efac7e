//! `private_key_jwt`: client assertions signed with a registered
//! certificate's key, checked like Entra checks them (TOK-01).

use crate::support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use idweb_emulator::EmulatorConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::json;
use sha2::{Digest, Sha256};
use support::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An RSA key and a self-signed certificate for it.
struct TestCertificate {
    pem: String,
    der: Vec<u8>,
    key: EncodingKey,
}

fn certificate() -> TestCertificate {
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pkcs8 = private.to_pkcs8_pem(LineEnding::LF).unwrap();
    let key_pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["idweb-test".to_owned()]).unwrap().self_signed(&key_pair).unwrap();
    let key = EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes());
    TestCertificate { pem: cert.pem(), der: cert.der().to_vec(), key }
}

struct Assertion<'a> {
    certificate: &'a TestCertificate,
    client_id: &'a str,
    audience: String,
    lifetime_secs: i64,
    sha1_thumbprint: bool,
}

impl Assertion<'_> {
    fn sign(&self) -> String {
        let mut header = Header::new(Algorithm::RS256);
        if self.sha1_thumbprint {
            header.x5t = Some(URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&self.certificate.der)));
        } else {
            header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(Sha256::digest(&self.certificate.der)));
        }
        let now = idweb_emulator::tokens::now_secs() as i64;
        let claims = json!({
            "aud": self.audience, "iss": self.client_id, "sub": self.client_id,
            "jti": idweb_emulator::tokens::random_guid(), "nbf": now - 5, "iat": now - 5, "exp": now + self.lifetime_secs,
        });
        jsonwebtoken::encode(&header, &claims, &self.certificate.key).unwrap()
    }
}

async fn start(registered: &TestCertificate) -> Emulator {
    let mut config = EmulatorConfig::default();
    config.apps[0].certificates = vec![registered.pem.clone()];
    Emulator::start_with(config).await
}

fn assertion_for<'a>(emulator: &'a Emulator, certificate: &'a TestCertificate) -> Assertion<'a> {
    Assertion {
        certificate,
        client_id: &emulator.client_id,
        audience: emulator.tenant_url("oauth2/v2.0/token"),
        lifetime_secs: 300,
        sha1_thumbprint: false,
    }
}

async fn app_token(emulator: &Emulator, assertion: &str) -> reqwest::Response {
    emulator
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &emulator.client_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await
}

#[tokio::test]
async fn tok_01_a_signed_assertion_authenticates_the_client_once() {
    let registered = certificate();
    let emulator = start(&registered).await;
    let assertion = assertion_for(&emulator, &registered).sign();
    let response = app_token(&emulator, &assertion).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(claims(body["access_token"].as_str().unwrap())["azp"], emulator.client_id);
    assert_oauth_error(app_token(&emulator, &assertion).await, 401, "invalid_client", 700236).await;

    let sha1 = Assertion { sha1_thumbprint: true, ..assertion_for(&emulator, &registered) }.sign();
    assert_eq!(app_token(&emulator, &sha1).await.status(), 200, "x5t (SHA-1) names the certificate too");
}

#[tokio::test]
async fn tok_01_an_assertion_redeems_an_authorization_code() {
    let registered = certificate();
    let emulator = start(&registered).await;
    let code = emulator.code_for("openid User.Read").await;
    let assertion = assertion_for(&emulator, &registered).sign();
    let response = emulator
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &emulator.client_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn tok_01_wrong_audience_expiry_key_or_type_are_refused() {
    let registered = certificate();
    let emulator = start(&registered).await;
    let wrong_audience = Assertion { audience: "https://elsewhere.example/token".into(), ..assertion_for(&emulator, &registered) }.sign();
    assert_oauth_error(app_token(&emulator, &wrong_audience).await, 401, "invalid_client", 700212).await;
    let expired = Assertion { lifetime_secs: -600, ..assertion_for(&emulator, &registered) }.sign();
    assert_oauth_error(app_token(&emulator, &expired).await, 401, "invalid_client", 700024).await;
    let too_long = Assertion { lifetime_secs: 24 * 3600, ..assertion_for(&emulator, &registered) }.sign();
    assert_oauth_error(app_token(&emulator, &too_long).await, 401, "invalid_client", 700024).await;

    let stranger = certificate();
    let unregistered = assertion_for(&emulator, &stranger).sign();
    assert_oauth_error(app_token(&emulator, &unregistered).await, 401, "invalid_client", 700027).await;
    // A registered thumbprint over another key's signature.
    let mut forged = assertion_for(&emulator, &registered).sign();
    let stranger_signature = assertion_for(&emulator, &stranger).sign().rsplit('.').next().unwrap().to_owned();
    forged = format!("{}.{stranger_signature}", forged.rsplit_once('.').unwrap().0);
    assert_oauth_error(app_token(&emulator, &forged).await, 401, "invalid_client", 700027).await;

    let assertion = assertion_for(&emulator, &registered).sign();
    let wrong_type = emulator
        .token(&[("grant_type", "client_credentials"), ("client_assertion_type", "bearer"), ("client_assertion", &assertion), ("scope", "https://graph.microsoft.com/.default")])
        .await;
    assert_oauth_error(wrong_type, 400, "invalid_request", 50027).await;
}

#[tokio::test]
async fn a_certificate_that_is_not_pem_stops_start_up_naming_it() {
    let mut config = EmulatorConfig::default();
    config.apps[0].certificates = vec!["/nonexistent/idweb-cert.pem".into()];
    let error = idweb_emulator::spawn(config, "127.0.0.1:0".parse().unwrap()).await.err().unwrap();
    assert!(error.to_string().contains("/nonexistent/idweb-cert.pem"), "{error}");
}

async fn workload_token(emulator: &Emulator, body: serde_json::Value) -> String {
    let minted: serde_json::Value = emulator.admin("workload-identity/token", body).await.json().await.unwrap();
    minted["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_federated_credential_accepts_the_workload_identity_token_again_and_again() {
    let mut config = EmulatorConfig::default();
    config.apps[0].federated_credentials =
        vec![serde_json::from_value(json!({ "subject": "system:serviceaccount:idweb:web" })).unwrap()];
    let emulator = Emulator::start_with(config).await;
    let token = workload_token(&emulator, json!({ "subject": "system:serviceaccount:idweb:web" })).await;
    assert_eq!(claims(&token)["aud"], "api://AzureADTokenExchange");
    for _ in 0..2 {
        assert_eq!(app_token(&emulator, &token).await.status(), 200, "reused until it expires, like a projected token");
    }
    let stranger = workload_token(&emulator, json!({ "subject": "system:serviceaccount:other:app" })).await;
    assert_oauth_error(app_token(&emulator, &stranger).await, 401, "invalid_client", 700213).await;
    let elsewhere = workload_token(&emulator, json!({ "subject": "system:serviceaccount:idweb:web", "audience": "api://other" })).await;
    assert_oauth_error(app_token(&emulator, &elsewhere).await, 401, "invalid_client", 700212).await;
}
