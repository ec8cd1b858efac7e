//! The emulator's configuration file: the shipped one loads, and mistakes
//! are refused with a message that names them.

use std::io::Write;

use idweb_emulator::EmulatorConfig;

#[test]
fn the_shipped_configuration_loads_and_matches_the_defaults() {
    let shipped = EmulatorConfig::from_file(std::path::Path::new("emulator.json")).unwrap();
    let defaults = EmulatorConfig::default();
    assert_eq!(shipped.tenant_id, defaults.tenant_id);
    assert_eq!(shipped.apps[0].client_id, defaults.apps[0].client_id);
    assert_eq!(shipped.apps[0].app_permissions, defaults.apps[0].app_permissions);
    assert_eq!(shipped.apis[0].app_id, defaults.apis[0].app_id);
    assert_eq!(shipped.users.len(), defaults.users.len());
}

fn load(json: &str) -> String {
    let mut file = scratch_file();
    file.1.write_all(json.as_bytes()).unwrap();
    EmulatorConfig::from_file(&file.0).unwrap_err().to_string()
}

/// A scratch file in the system temp directory (no temp-file crate needed).
fn scratch_file() -> (std::path::PathBuf, std::fs::File) {
    let dir = std::env::temp_dir().join(format!("idweb-emulator-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.json", idweb_emulator::tokens::random_guid()));
    let file = std::fs::File::create(&path).unwrap();
    (path, file)
}

#[test]
fn unknown_keys_and_unknown_scopes_are_named() {
    assert!(load(r#"{"tennantId": "x"}"#).contains("tennantId"));
    let unknown_scope = r#"{"apps": [{"clientId": "c", "displayName": "d", "appPermissions": ["api://nowhere/Read"]}]}"#;
    let error = load(unknown_scope);
    assert!(error.contains("apps[0].appPermissions") && error.contains("api://nowhere/Read"), "{error}");
    let bad_logout = r#"{"apps": [{"clientId": "c", "displayName": "d", "frontChannelLogoutUri": "not a url"}]}"#;
    assert!(load(bad_logout).contains("frontChannelLogoutUri"));
}
