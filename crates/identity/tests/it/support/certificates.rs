//! A certificate credential for the app: a fresh RSA key and self-signed
//! certificate as PEM and PKCS#12 files, registered on the emulator's app.

use std::path::PathBuf;

use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::json;

use super::TestApp;

pub const PFX_PASSWORD: &str = "pfx-test-password";

pub struct Files {
    pub pkcs12: PathBuf,
    pub certificate_only: PathBuf,
    pub key_only: PathBuf,
    pub combined: PathBuf,
    pub certificate_pem: String,
}

/// A fresh RSA key and self-signed certificate written as PEM files.
pub fn certificate_files() -> Files {
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let key_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let key_pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["idweb".to_owned()]).unwrap().self_signed(&key_pair).unwrap();
    let certificate_pem = certificate.pem();
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![1u8],
        p12_keystore::PrivateKey::from_der(private.to_pkcs8_der().unwrap().as_bytes()).unwrap(),
        [p12_keystore::Certificate::from_der(certificate.der()).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("idweb", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let pkcs12 = store.writer(PFX_PASSWORD).write().unwrap();
    let dir = std::env::temp_dir().join(format!("idweb-certificate-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let pkcs12_path = dir.join("cert.pfx");
    std::fs::write(&pkcs12_path, pkcs12).unwrap();
    Files {
        pkcs12: pkcs12_path,
        certificate_only: write("cert.pem", &certificate_pem),
        key_only: write("key.pem", &key_pem),
        combined: write("combined.pem", &format!("{certificate_pem}{key_pem}")),
        certificate_pem,
    }
}

pub async fn app_with_certificate(files: &Files, entry: serde_json::Value) -> TestApp {
    let certificate = files.certificate_pem.clone();
    TestApp::start_with(move |emulator, settings| {
        let app = &mut emulator.apps[0];
        app.client_secrets.clear();
        app.certificates = vec![certificate];
        *settings = json!({ "AzureAd": { "ClientCredentials": [entry], "SendX5C": true } });
    })
    .await
}

