//! `docs/appsettings.schema.json` is generated from the settings types and
//! must be what they generate now.

#[test]
fn the_committed_schema_is_what_the_settings_types_generate() {
    let committed = std::fs::read_to_string("../../docs/appsettings.schema.json").expect("docs/appsettings.schema.json");
    let generated = serde_json::to_string_pretty(&idweb_identity::config::settings_schema()).unwrap();
    assert!(
        committed.trim_end() == generated,
        "docs/appsettings.schema.json is out of date; regenerate it with\n  cargo run -q -p idweb-identity --example settings_schema > docs/appsettings.schema.json"
    );
}
