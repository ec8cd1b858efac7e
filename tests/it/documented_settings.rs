//! Every settings example in the README and docs is a fixture: each
//! ```json or ```jsonc block must load, as an app's settings (with only what
//! it leaves out supplied: a client id, tenant, secret, public URL and Graph
//! when it names none of them) or as the emulator's configuration.
#![cfg(feature = "ssr")]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Top-level sections of an app's settings.
const APP_SECTIONS: [&str; 9] = ["AzureAd", "Graph", "GraphBeta", "MicrosoftGraph", "DownstreamApis", "Hosting", "Session", "TokenCache", "Logging"];
/// Top-level keys of the emulator's configuration.
const EMULATOR_KEYS: [&str; 7] = ["tenantId", "apps", "users", "apis", "keyVault", "managedIdentities", "identityHeader"];

fn documents() -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("README.md")];
    let mut folders = vec![PathBuf::from("docs")];
    for crate_dir in std::fs::read_dir("crates").unwrap().flatten() {
        found.push(crate_dir.path().join("README.md"));
    }
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                found.push(path);
            }
        }
    }
    found.into_iter().filter(|path| path.exists()).collect()
}

/// The ```json and ```jsonc blocks of `text`, with the line each starts on.
fn json_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (number, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut open {
            None if fence == "```json" || fence == "```jsonc" => open = Some((number + 1, String::new())),
            Some(_) if fence.starts_with("```") => blocks.extend(open.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn has_any(object: &serde_json::Map<String, Value>, keys: &[&str]) -> bool {
    object.keys().any(|key| keys.iter().any(|wanted| wanted.eq_ignore_ascii_case(key)))
}

/// Validates `settings` against the published schema, as an editor would.
fn valid_for_editors(settings: &Value) -> Result<(), String> {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(&std::fs::read_to_string("docs/appsettings.schema.json").unwrap()).unwrap();
        jsonschema::validator_for(&schema).expect("docs/appsettings.schema.json is a valid JSON Schema")
    });
    let problems: Vec<String> = validator.iter_errors(settings).map(|error| format!("{} at {}", error, error.instance_path())).collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("not valid against docs/appsettings.schema.json: {}", problems.join("; ")))
    }
}

/// Loads `example` as an app's settings, supplying only what it leaves out.
fn load_app_settings(example: Value) -> Result<(), String> {
    valid_for_editors(&example)?;
    let object = example.as_object().cloned().unwrap_or_default();
    let azure_ad = object.iter().find(|(key, _)| key.eq_ignore_ascii_case("AzureAd")).and_then(|(_, value)| value.as_object().cloned()).unwrap_or_default();
    let mut base = json!({ "AzureAd": { "ClientId": "2ec40e65-ba09-4853-bcde-bcb60029e596" }, "Hosting": { "PublicUrl": "https://app.example" } });
    if !has_any(&azure_ad, &["TenantId", "Authority"]) {
        base["AzureAd"]["TenantId"] = json!("organizations");
    }
    if !has_any(&azure_ad, &["ClientSecret", "ClientCredentials", "ClientCertificates"]) {
        base["AzureAd"]["ClientSecret"] = json!("supplied-by-the-test");
    }
    if !has_any(&object, &["Graph", "GraphBeta", "MicrosoftGraph"]) && !example.pointer("/DownstreamApis/MicrosoftGraph").is_some() {
        base["Graph"] = json!({ "BaseUrl": "https://graph.microsoft.com/v1.0", "Scopes": ["User.Read"] });
    }
    idweb_identity::config::merge_json(&mut base, example);
    idweb_identity::IdentityConfig::from_json(&base).map(|_| ()).map_err(|error| error.to_string())
}

fn check(path: &Path, line: usize, body: &str) -> Result<&'static str, String> {
    let plain = idweb_identity::config::jsonc::strip(body).map_err(|reason| format!("not JSON with comments: {reason}"))?;
    let example: Value = serde_json::from_str(&plain).map_err(|error| format!("not JSON: {error}"))?;
    let Some(object) = example.as_object() else { return Err("not an object: write whole files, not fragments".into()) };
    if has_any(object, &EMULATOR_KEYS) {
        let config: idweb_emulator::EmulatorConfig = serde_json::from_value(example.clone()).map_err(|error| error.to_string())?;
        config.validate().map_err(|error| error.to_string())?;
        return Ok("emulator");
    }
    if has_any(object, &APP_SECTIONS) {
        load_app_settings(example).map(|()| "app")
    } else {
        Err(format!("{}:{line}: neither app settings nor emulator configuration", path.display()))
    }
}

#[test]
fn every_documented_settings_example_loads() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, body) in json_blocks(&text) {
            match check(&path, line, &body) {
                Ok(_) => checked += 1,
                Err(reason) => failures.push(format!("{}:{line}: {reason}", path.display())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 2, "the README's examples were found ({checked})");
}

#[test]
fn the_shipped_settings_and_emulator_configuration_load() {
    let read = |file: &str| -> Value { serde_json::from_str(&idweb_identity::config::jsonc::strip(&std::fs::read_to_string(file).unwrap()).unwrap()).unwrap() };
    let base = read("appsettings.json");
    assert_eq!(base["$schema"], "./docs/appsettings.schema.json", "editors find the schema");
    load_app_settings(base.clone()).unwrap_or_else(|error| panic!("appsettings.json: {error}"));
    // The Development file is an overlay on the base file, as the server reads them.
    let mut development = base;
    idweb_identity::config::merge_json(&mut development, read("appsettings.Development.json"));
    load_app_settings(development).unwrap_or_else(|error| panic!("appsettings.Development.json over appsettings.json: {error}"));
    let emulator = idweb_emulator::EmulatorConfig::from_file(Path::new("crates/emulator/emulator.json")).unwrap();
    assert!(!emulator.key_vault.certificates.is_empty() && !emulator.apps[0].federated_credentials.is_empty());
}

#[test]
fn a_broken_example_would_be_caught() {
    let broken = "{ \"AzureAd\": { \"ClientCredentials\": [ { \"SourceType\": \"Magic\" } ] } }";
    let error = check(Path::new("example.md"), 1, broken).unwrap_err();
    assert!(error.contains("SourceType"), "{error}");
    assert!(check(Path::new("example.md"), 1, "\"AzureAd\": {}").is_err(), "fragments are refused");
    let mistyped = check(Path::new("example.md"), 1, "{ \"AzureAd\": { \"SendX5C\": [1] } }").unwrap_err();
    assert!(mistyped.contains("docs/appsettings.schema.json"), "the schema catches what an editor would: {mistyped}");
    assert_eq!(json_blocks("text\n```jsonc\n{}\n```\n```sh\nx\n```\n"), vec![(2, "{}\n".to_owned())]);
}
