//! The HTTPS listener: a client trusting the local CA's certificate file
//! reaches the emulator, one that does not is refused at the handshake, and
//! a restarted emulator signs with the same CA, so the file stays valid.

use idweb_emulator::tls::{key_file_of, LocalCa};
use idweb_emulator::EmulatorConfig;

fn trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()).build().unwrap()
}

#[tokio::test]
async fn a_client_trusting_the_ca_file_connects_and_others_are_refused_even_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("idweb-emulator-tls-{}", rand::random::<u64>()));
    let ca_file = dir.join("emulator-ca.pem");
    let ca = LocalCa::load_or_create(&ca_file).unwrap();
    let written = std::fs::read_to_string(&ca_file).unwrap();
    assert_eq!(written, ca.certificate_pem());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_file_of(&ca_file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the CA key is its owner's only");
    }

    let emulator = idweb_emulator::spawn_tls(EmulatorConfig::default(), "127.0.0.1:0".parse().unwrap(), &ca).await.unwrap();
    let discovery = format!("{}{}/v2.0/.well-known/openid-configuration", emulator.base_url(), emulator.tenant_id());
    assert!(discovery.starts_with("https://"));
    let document: serde_json::Value = trusting(&written).get(&discovery).send().await.unwrap().json().await.unwrap();
    assert!(document["issuer"].as_str().unwrap().starts_with("https://127.0.0.1:"), "{document}");
    let admin = trusting(&written).get(format!("{}_emulator", emulator.base_url())).send().await.unwrap();
    assert_eq!(admin.status(), 200, "the admin API sees a loopback peer over TLS too");
    let untrusting = reqwest::Client::new().get(&discovery).send().await;
    assert!(untrusting.is_err(), "a client without the CA does not get through");
    emulator.shutdown().await;

    // A restart reads the same CA: clients keep the file they were given.
    let again = LocalCa::load_or_create(&ca_file).unwrap();
    let restarted = idweb_emulator::spawn_tls(EmulatorConfig::default(), "127.0.0.1:0".parse().unwrap(), &again).await.unwrap();
    let discovery = format!("{}{}/v2.0/.well-known/openid-configuration", restarted.base_url(), restarted.tenant_id());
    assert_eq!(trusting(&written).get(&discovery).send().await.unwrap().status(), 200);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_ca_cannot_vouch_for_another_host() {
    use rustls::client::danger::ServerCertVerifier;
    // A certificate for login.microsoftonline.com signed by the local CA (as
    // someone holding its key could make) is refused by a client that trusts the CA.
    let ca = LocalCa::ephemeral().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(ca.certificate_der())).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(std::sync::Arc::new(roots), provider).build().unwrap();
    let verify = |host: &str| {
        let (der, _) = ca.issue(&[host]).unwrap();
        let name = rustls::pki_types::ServerName::try_from(host.to_owned()).unwrap();
        verifier.verify_server_cert(&rustls::pki_types::CertificateDer::from(der), &[], &name, &[], rustls::pki_types::UnixTime::now())
    };
    assert!(verify("localhost").is_ok(), "the loopback names are vouched for");
    assert!(verify("127.0.0.1").is_ok());
    assert!(verify("login.microsoftonline.com").is_err(), "a name outside the CA's constraints is refused");
    assert!(verify("graph.microsoft.com").is_err());
}
