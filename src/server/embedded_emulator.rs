//! The emulator of the identity platform, Graph and the Azure services,
//! inside the app: what makes `cargo leptos watch` in a fresh clone serve
//! an app the browser can sign in to. Asked for by the Development
//! settings (`"Emulator": { "Embedded": true }`), started only in the
//! developer's own loop (`cargo leptos watch`, see
//! [`super::startup::Surroundings`]) and only in a
//! debug build with the `embedded-emulator` feature: a release build has no
//! code that starts it.
//!
//! The emulator reads `Emulator:ConfigFile` (default
//! `crates/emulator/emulator.json`), listens on `Emulator:Listen` (default:
//! the host and port of `AzureAd:Instance`), accepts a client secret made
//! for this run (or `AzureAd:ClientSecret` when set), registers the app's
//! own redirect URIs (`Hosting:PublicUrl` may name any port), and is the
//! app's managed identity endpoint. Settings that name the emulator at
//! `AzureAd:Instance`'s origin follow it wherever it listens.

use serde_json::Value;

/// `key` of a settings section, in any case (settings keys are case-insensitive).
fn entry<'a>(section: &'a Value, key: &str) -> Option<&'a Value> {
    section.as_object()?.iter().find(|(name, _)| name.eq_ignore_ascii_case(key)).map(|(_, value)| value)
}

/// Whether the settings ask for the emulator inside the app.
pub fn is_asked_for(tree: &Value) -> bool {
    let embedded = entry(tree, "Emulator").and_then(|section| entry(section, "Embedded"));
    match embedded {
        Some(Value::Bool(embedded)) => *embedded,
        // Environment variables arrive as text (`Emulator__Embedded=false`).
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(all(feature = "embedded-emulator", debug_assertions))]
pub use running::start;

#[cfg(all(feature = "embedded-emulator", debug_assertions))]
mod running {
    use std::net::SocketAddr;
    use std::path::Path;

    use idweb_emulator::config::ClientSecret;
    use idweb_emulator::{EmulatorConfig, RunningEmulator};
    use idweb_identity::credentials::{ManagedIdentitySource, SecretText};
    use idweb_identity::IdentityConfig;
    use serde_json::Value;

    use super::entry;
    use crate::server::startup::StartupError;

    /// The emulator's configuration when the settings name none.
    const DEFAULT_CONFIG_FILE: &str = "crates/emulator/emulator.json";

    /// The running emulator and how the engine reaches its managed identity endpoint.
    pub struct Started {
        /// Serves until dropped.
        pub emulator: RunningEmulator,
        /// The emulator as the app's host (App Service shape).
        pub managed_identity: ManagedIdentitySource,
    }

    fn text<'a>(tree: &'a Value, section: &str, key: &str) -> Option<&'a str> {
        entry(tree, section).and_then(|section| entry(section, key)).and_then(Value::as_str).filter(|text| !text.is_empty())
    }

    /// Starts the emulator for the settings in `tree` (read from `dir`)
    /// and points `tree` at it: the client secret, and the emulator's
    /// address wherever the settings name `AzureAd:Instance`'s origin.
    pub async fn start(tree: &mut Value, dir: &Path) -> Result<Started, StartupError> {
        let failed = |reason: String| StartupError::Emulator(reason);
        let secret = match text(tree, "AzureAd", "ClientSecret") {
            Some(secret) => secret.to_owned(),
            None => {
                // For this run only: 32 random bytes, as the emulator makes its own secrets.
                let secret = idweb_emulator::tokens::random_token(32);
                idweb_identity::config::merge_json(tree, serde_json::json!({ "AzureAd": { "ClientSecret": secret } }));
                secret
            }
        };
        // The app's own addresses, read as the engine reads them.
        let config = IdentityConfig::from_json(tree).map_err(|error| failed(format!("the settings it serves do not load: {error}")))?;
        let azure_ad = &config.azure_ad;
        let configured_origin = azure_ad.instance.origin().ascii_serialization();
        let listen: SocketAddr = match text(tree, "Emulator", "Listen") {
            Some(listen) => listen.parse().map_err(|_| failed(format!("Emulator:Listen {listen:?} is not an address such as 127.0.0.1:5001")))?,
            None => {
                // `localhost` and `[::1]` too: the address the settings name, resolved.
                let host = azure_ad.instance.host_str().unwrap_or("127.0.0.1").trim_matches(['[', ']']);
                let port = azure_ad.instance.port_or_known_default().unwrap_or(5001);
                std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
                    .ok()
                    .and_then(|mut addresses| addresses.next())
                    .ok_or_else(|| failed(format!("AzureAd:Instance {configured_origin} names no address the emulator can listen on; set Emulator:Listen")))?
            }
        };
        let file = dir.join(text(tree, "Emulator", "ConfigFile").unwrap_or(DEFAULT_CONFIG_FILE));
        let mut emulator_config = EmulatorConfig::from_file(&file).map_err(|error| failed(error.to_string()))?;
        let app = emulator_config
            .apps
            .iter_mut()
            .find(|app| app.client_id.eq_ignore_ascii_case(&azure_ad.client_id))
            .ok_or_else(|| failed(format!("{} registers no app with AzureAd:ClientId {}", file.display(), azure_ad.client_id)))?;
        app.client_secrets = vec![ClientSecret::new(secret)];
        let public = &config.hosting.public_url;
        let address = |path: &str| public.join(path).map(|url| url.to_string()).map_err(|error| failed(format!("{path}: {error}")));
        let redirect = address(&azure_ad.callback_path)?;
        let signed_out = address(&azure_ad.signed_out_callback_path)?;
        if !app.redirect_uris.contains(&redirect) {
            app.redirect_uris.push(redirect);
        }
        if !app.post_logout_redirect_uris.contains(&signed_out) {
            app.post_logout_redirect_uris.push(signed_out);
        }
        app.front_channel_logout_uri = Some(address(&azure_ad.remote_sign_out_path)?);
        app.backchannel_logout_uri = Some(address(&azure_ad.back_channel_logout_path)?);
        let emulator = idweb_emulator::spawn(emulator_config, listen)
            .await
            .map_err(|error| failed(format!("cannot listen on {listen} (is another emulator or app running? stop it, or set Emulator__Listen): {error}")))?;
        let actual_origin = emulator.base_url().trim_end_matches('/').to_owned();
        if actual_origin != configured_origin {
            follow(tree, &configured_origin, &actual_origin);
        }
        let endpoint = url::Url::parse(&emulator.identity_endpoint()).map_err(|error| failed(error.to_string()))?;
        let managed_identity = ManagedIdentitySource::AppService { endpoint, header: SecretText::new(emulator.identity_header()) };
        tracing::info!(emulator = %emulator.base_url(), "the emulator runs inside the app (development): sign in as any of its users");
        Ok(Started { emulator, managed_identity })
    }

    /// Every setting that starts with `from` (an origin) starts with `to` instead.
    fn follow(tree: &mut Value, from: &str, to: &str) {
        match tree {
            Value::String(text) if text.starts_with(from) && text[from.len()..].chars().next().is_none_or(|next| next == '/') => {
                *text = format!("{to}{}", &text[from.len()..]);
            }
            Value::Array(items) => items.iter_mut().for_each(|item| follow(item, from, to)),
            Value::Object(map) => map.values_mut().for_each(|value| follow(value, from, to)),
            _ => {}
        }
    }
}
