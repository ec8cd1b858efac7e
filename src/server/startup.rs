//! From the process's surroundings to the engine's configuration: which
//! settings environment, the settings tree, and, in a debug build that
//! `cargo leptos watch` started with no environment named (as in a fresh
//! clone), the emulator inside the process (`server::embedded_emulator`),
//! so the browser can sign in with nothing else running. A release build
//! never starts the emulator.

use std::path::PathBuf;

use idweb_identity::credentials::ManagedIdentitySource;
use idweb_identity::{ConfigError, IdentityConfig};
use serde_json::Value;

/// The environment a development build takes when none is named.
pub const DEVELOPMENT: &str = "Development";

/// Why start-up stopped before the engine was built.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The settings cannot be read or are wrong (the error names the key).
    #[error("{source}{hint}")]
    Config {
        /// What the configuration said.
        #[source]
        source: ConfigError,
        /// Where to look next, when the environment is the likely cause.
        hint: &'static str,
    },
    /// The embedded emulator could not start.
    #[error("the emulator inside the app cannot start: {0}")]
    Emulator(String),
}

/// What start-up reads from the process, once, in `main`.
#[derive(Debug, Clone)]
pub struct Surroundings {
    /// `IDWEB_CONFIG_DIR`, else the working directory.
    pub config_dir: PathBuf,
    /// `IDWEB_ENVIRONMENT`, if set.
    pub environment: Option<String>,
    /// Whether `cargo leptos watch` started the process (it sets
    /// `LEPTOS_WATCH=true`, which nothing else does; a deployment sets
    /// `LEPTOS_OUTPUT_NAME` and the like, never this).
    pub launched_by_cargo_leptos_watch: bool,
}

impl Surroundings {
    /// The surroundings of this process.
    pub fn from_process() -> Self {
        Self {
            config_dir: std::env::var_os("IDWEB_CONFIG_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")),
            environment: std::env::var("IDWEB_ENVIRONMENT").ok().filter(|environment| !environment.is_empty()),
            launched_by_cargo_leptos_watch: std::env::var("LEPTOS_WATCH").is_ok_and(|watch| watch.eq_ignore_ascii_case("true")),
        }
    }

    /// Whether this is the developer's own loop with nothing configured: a
    /// debug build `cargo leptos watch` started, no environment named. Then
    /// the environment is Development and the emulator runs inside.
    pub fn is_zero_configuration_development(&self) -> bool {
        cfg!(debug_assertions) && self.launched_by_cargo_leptos_watch && self.environment.is_none()
    }

    /// The settings environment: the one named, else Development for the
    /// developer's own loop, else none (`appsettings.json` alone).
    pub fn effective_environment(&self) -> Option<String> {
        match &self.environment {
            Some(environment) => Some(environment.clone()),
            None if self.is_zero_configuration_development() => Some(DEVELOPMENT.to_owned()),
            None => None,
        }
    }
}

/// What the engine is built from.
pub struct Prepared {
    /// The checked settings.
    pub config: IdentityConfig,
    /// The settings environment they were read for.
    pub environment: Option<String>,
    /// Where managed identity tokens come from, when the embedded emulator
    /// is the host (else the engine reads `IDENTITY_ENDPOINT` or IMDS).
    pub managed_identity: Option<ManagedIdentitySource>,
    /// The emulator running inside the app (kept as long as the app runs).
    #[cfg(all(feature = "embedded-emulator", debug_assertions))]
    pub emulator: Option<idweb_emulator::RunningEmulator>,
}

/// Reads the settings for `surroundings`, `overrides` merged over them
/// (tests move ports here), and starts the embedded emulator when this is
/// the developer's own loop and the settings ask for it (`Emulator:Embedded`).
pub async fn prepare(surroundings: &Surroundings, overrides: Option<Value>) -> Result<Prepared, StartupError> {
    let environment = surroundings.effective_environment();
    let hint = if environment.is_none() {
        " (no IDWEB_ENVIRONMENT: only appsettings.json was read; to develop, run scripts/run.sh or `cargo leptos watch`, which start the emulator)"
    } else {
        ""
    };
    let config_error = |source: ConfigError| StartupError::Config { source, hint };
    let mut tree = IdentityConfig::load_tree(&surroundings.config_dir, environment.as_deref()).map_err(config_error)?;
    if let Some(overrides) = overrides {
        idweb_identity::config::merge_json(&mut tree, overrides);
    }
    if surroundings.is_zero_configuration_development() && super::embedded_emulator::is_asked_for(&tree) {
        #[cfg(all(feature = "embedded-emulator", debug_assertions))]
        {
            let started = super::embedded_emulator::start(&mut tree, &surroundings.config_dir).await?;
            let config = IdentityConfig::from_json(&tree).map_err(config_error)?;
            return Ok(Prepared { config, environment, managed_identity: Some(started.managed_identity), emulator: Some(started.emulator) });
        }
        #[cfg(not(all(feature = "embedded-emulator", debug_assertions)))]
        tracing::warn!("Emulator:Embedded is set, but this build has no emulator (no embedded-emulator feature)");
    }
    let config = IdentityConfig::from_json(&tree).map_err(config_error)?;
    Ok(Prepared {
        config,
        environment,
        managed_identity: None,
        #[cfg(all(feature = "embedded-emulator", debug_assertions))]
        emulator: None,
    })
}
