//! `idweb-emulator`: runs the emulator as a process.
//!
//! ```text
//! idweb-emulator [--config FILE] [--listen 127.0.0.1:5001] [--public-url URL]
//!                [--redirect-uri URI]... [--post-logout-redirect-uri URI]...
//!                [--front-channel-logout-uri URI] [--backchannel-logout-uri URI] [--allow-remote]
//!                [--tls-ca-file FILE]
//! ```
//! With `--tls-ca-file` it serves HTTPS, with a certificate signed by a local
//! CA whose certificate is FILE (created with its key in FILE.key when absent).
//! The client secret comes from `IDWEB_EMULATOR_CLIENT_SECRET` (secrets never
//! live in files of the repository); it is given to every app without one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use idweb_emulator::{ClientSecret, EmulatorConfig};

const USAGE: &str = "usage: idweb-emulator [--config FILE] [--listen ADDR] [--public-url URL] \
[--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--front-channel-logout-uri URI] \
[--backchannel-logout-uri URI] [--allow-remote] [--tls-ca-file FILE]";
const SECRET_VARIABLE: &str = "IDWEB_EMULATOR_CLIENT_SECRET";
/// What the managed identity endpoint expects in `X-IDENTITY-HEADER` (random when unset).
const IDENTITY_HEADER_VARIABLE: &str = "IDWEB_EMULATOR_IDENTITY_HEADER";

#[derive(Debug)]
struct Options {
    config: Option<PathBuf>,
    listen: SocketAddr,
    public_url: Option<String>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    front_channel_logout_uri: Option<String>,
    backchannel_logout_uri: Option<String>,
    allow_remote: bool,
    tls_ca_file: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        config: None,
        listen: SocketAddr::from(([127, 0, 0, 1], 5001)),
        public_url: None,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        front_channel_logout_uri: None,
        backchannel_logout_uri: None,
        allow_remote: false,
        tls_ca_file: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--config" => options.config = Some(PathBuf::from(value()?)),
            "--listen" => {
                let text = value()?;
                options.listen = text.parse().map_err(|_| format!("--listen: {text:?} is not an address like 127.0.0.1:5001"))?;
            }
            "--public-url" => options.public_url = Some(value()?),
            "--redirect-uri" => options.redirect_uris.push(value()?),
            "--post-logout-redirect-uri" => options.post_logout_redirect_uris.push(value()?),
            "--front-channel-logout-uri" => options.front_channel_logout_uri = Some(value()?),
            "--backchannel-logout-uri" => options.backchannel_logout_uri = Some(value()?),
            "--allow-remote" => options.allow_remote = true,
            "--tls-ca-file" => options.tls_ca_file = Some(PathBuf::from(value()?)),
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("idweb-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let options = parse(std::env::args().skip(1))?;
    if !options.listen.ip().is_loopback() && !options.allow_remote {
        return Err(format!("refusing to listen on {} (not loopback); pass --allow-remote to mean it", options.listen));
    }
    let mut config = match &options.config {
        Some(path) => EmulatorConfig::from_file(path).map_err(|error| error.to_string())?,
        None => EmulatorConfig::default(),
    };
    if let Some(app) = config.apps.first_mut() {
        app.redirect_uris.extend(options.redirect_uris.iter().cloned());
        app.post_logout_redirect_uris.extend(options.post_logout_redirect_uris.iter().cloned());
        if let Some(uri) = &options.front_channel_logout_uri {
            app.front_channel_logout_uri = Some(uri.clone());
        }
        if let Some(uri) = &options.backchannel_logout_uri {
            app.backchannel_logout_uri = Some(uri.clone());
        }
    }
    match std::env::var(SECRET_VARIABLE) {
        Ok(secret) if !secret.is_empty() => {
            for app in config.apps.iter_mut().filter(|app| app.client_secrets.is_empty()) {
                app.client_secrets.push(ClientSecret::new(secret.clone()));
            }
        }
        _ => {}
    }
    // The value the app's host gives it in IDENTITY_HEADER (App Service shape).
    if let Ok(header) = std::env::var(IDENTITY_HEADER_VARIABLE) {
        if !header.is_empty() {
            config.identity_header = Some(ClientSecret::new(header));
        }
    }
    for app in config.apps.iter().filter(|app| app.client_secrets.is_empty()) {
        tracing::warn!(client_id = %app.client_id, "app has no client secret; set {SECRET_VARIABLE} or its token requests will fail");
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", options.listen))?;
    let bound = listener.local_addr().map_err(|error| error.to_string())?;
    let scheme = if options.tls_ca_file.is_some() { "https" } else { "http" };
    let public_url = options.public_url.unwrap_or_else(|| format!("{scheme}://{bound}/"));
    let tls_config = match &options.tls_ca_file {
        Some(ca_file) => {
            let ca = idweb_emulator::tls::LocalCa::load_or_create(ca_file).map_err(|error| error.to_string())?;
            tracing::info!(ca_file = %ca_file.display(), "serving HTTPS; clients trust the CA in that file");
            Some(ca.server_config().map_err(|error| error.to_string())?)
        }
        None => None,
    };
    let emulator = idweb_emulator::serve_with(listener, config, &public_url, tls_config).await.map_err(|error| error.to_string())?;
    tracing::info!(
        authority = %emulator.authority(),
        graph = %emulator.graph_base_url(),
        identity_endpoint = %emulator.identity_endpoint(),
        "idweb-emulator listening on {bound}"
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = emulator.wait() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split_whitespace().map(str::to_owned)
    }

    #[test]
    fn defaults_to_loopback_port_5001() {
        let options = parse(args("")).unwrap();
        assert_eq!(options.listen.to_string(), "127.0.0.1:5001");
        assert!(!options.allow_remote);
    }

    #[test]
    fn repeated_redirect_uris_accumulate() {
        let options = parse(args("--redirect-uri http://a/cb --redirect-uri http://b/cb --listen 127.0.0.1:0")).unwrap();
        assert_eq!(options.redirect_uris, vec!["http://a/cb", "http://b/cb"]);
    }

    #[test]
    fn bad_arguments_are_named() {
        assert!(parse(args("--listen nowhere")).unwrap_err().contains("nowhere"));
        assert!(parse(args("--frobnicate")).unwrap_err().contains("--frobnicate"));
        assert!(parse(args("--config")).unwrap_err().contains("--config needs a value"));
    }
}
