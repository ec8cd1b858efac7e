//! HTTPS for the emulator, because Microsoft's endpoints and SDKs are
//! https-only: a local certificate authority (generated with rcgen, its
//! certificate written to a PEM file clients trust), a server certificate
//! it signs for the loopback names, and the accept loop that serves the
//! router over TLS.
//!
//! The CA is name-constrained to `localhost` and the loopback addresses, so
//! trusting it cannot make any other host trusted. Its key is kept next to its certificate (`{file}.key`, readable by
//! its owner only), so a restarted emulator signs with the same CA and
//! clients configured once keep trusting it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::Router;
use rcgen::{BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType, GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose, NameConstraints};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::oneshot;

use crate::error::EmulatorError;

/// The CA's name, as clients show it.
const CA_NAME: &str = "idweb-emulator local CA";
/// Names the server certificate is valid for.
const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A local certificate authority.
pub struct LocalCa {
    key: KeyPair,
    certificate: rcgen::Certificate,
}

impl LocalCa {
    /// A CA that lives as long as this process (tests).
    pub fn ephemeral() -> Result<Self, EmulatorError> {
        let key = KeyPair::generate().map_err(tls_error)?;
        Self::with_key(key)
    }

    /// The CA whose certificate is `ca_file`: created (certificate and
    /// `{ca_file}.key`) when the files are not there, else the same CA again.
    pub fn load_or_create(ca_file: &Path) -> Result<Self, EmulatorError> {
        let key_file = key_file_of(ca_file);
        let file_error = |path: &Path, error: std::io::Error| EmulatorError::Config(format!("{}: {error}", path.display()));
        if key_file.exists() && ca_file.exists() {
            let key_pem = std::fs::read_to_string(&key_file).map_err(|error| file_error(&key_file, error))?;
            let key = KeyPair::from_pem(&key_pem).map_err(|error| EmulatorError::Config(format!("{}: {error}", key_file.display())))?;
            return Self::with_key(key);
        }
        let ca = Self::ephemeral()?;
        if let Some(dir) = ca_file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| file_error(dir, error))?;
        }
        write_private(&key_file, &ca.key.serialize_pem()).map_err(|error| file_error(&key_file, error))?;
        std::fs::write(ca_file, ca.certificate_pem()).map_err(|error| file_error(ca_file, error))?;
        Ok(ca)
    }

    fn with_key(key: KeyPair) -> Result<Self, EmulatorError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, CA_NAME);
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // The CA vouches for this machine only: a client that trusts it (and
        // whoever holds its key) cannot be shown a certificate for
        // login.microsoftonline.com or any other real host.
        let mut ipv6_loopback = [0u8; 16];
        ipv6_loopback[15] = 1;
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: vec![
                GeneralSubtree::DnsName("localhost".into()),
                GeneralSubtree::IpAddress(CidrSubnet::V4([127, 0, 0, 0], [255, 0, 0, 0])),
                GeneralSubtree::IpAddress(CidrSubnet::V6(ipv6_loopback, [0xff; 16])),
            ],
            excluded_subtrees: Vec::new(),
        });
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let certificate = params.self_signed(&key).map_err(tls_error)?;
        Ok(Self { key, certificate })
    }

    /// The CA certificate, PEM: what clients trust.
    pub fn certificate_pem(&self) -> String {
        self.certificate.pem()
    }

    /// The CA certificate, DER.
    pub fn certificate_der(&self) -> Vec<u8> {
        self.certificate.der().to_vec()
    }

    /// A server certificate (DER) for `names` and its key. Names outside the
    /// CA's constraints are signed too, and refused by every client.
    pub fn issue(&self, names: &[&str]) -> Result<(Vec<u8>, KeyPair), EmulatorError> {
        let server_key = KeyPair::generate().map_err(tls_error)?;
        let params = CertificateParams::new(names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>()).map_err(tls_error)?;
        let server = params.signed_by(&server_key, &self.certificate, &self.key).map_err(tls_error)?;
        Ok((server.der().to_vec(), server_key))
    }

    /// A TLS configuration with a fresh server certificate for the loopback names.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, EmulatorError> {
        let (server_der, server_key) = self.issue(&SERVER_NAMES)?;
        let chain = vec![CertificateDer::from(server_der), CertificateDer::from(self.certificate.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(tls_error)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Where the CA's key is kept: next to its certificate.
pub fn key_file_of(ca_file: &Path) -> PathBuf {
    let mut name = ca_file.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

fn tls_error(error: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Tls(error.to_string())
}

/// Serves `router` over TLS on `listener` until `stop` fires. Each
/// connection's peer address reaches handlers as `ConnectInfo`, as with
/// plain HTTP (the admin API answers loopback peers only).
pub async fn serve(listener: tokio::net::TcpListener, router: Router, config: rustls::ServerConfig, mut stop: oneshot::Receiver<()>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let stream = match acceptor.accept(stream).await {
                Ok(stream) => stream,
                // A client that does not trust the CA hangs up here; nothing to serve.
                Err(error) => {
                    tracing::debug!(%error, %peer, "TLS handshake failed");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(router.layer(axum::Extension(ConnectInfo::<SocketAddr>(peer))));
            let connection = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if let Err(error) = connection {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
}
