//! The Leptos site settings have one source (`[package.metadata.leptos]` in
//! Cargo.toml); the server must read them and they must agree with the
//! asset paths the HTML shell hard-codes.
#![cfg(feature = "ssr")]

#[test]
fn site_settings_come_from_cargo_toml_and_match_the_stylesheet_path() {
    // cargo-leptos' variables would take precedence; this test is about the file.
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_some() {
        return;
    }
    let options = idweb::server::site_options().expect("Cargo.toml has [package.metadata.leptos]");
    assert_eq!(options.output_name.as_ref(), "idweb");
    assert_eq!(options.site_pkg_dir.as_ref(), "pkg");
    let app_source = std::fs::read_to_string("src/app.rs").unwrap();
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    assert!(app_source.contains(&stylesheet), "the shell links {stylesheet}");
}

#[test]
fn the_development_settings_point_at_the_emulator_on_loopback() {
    let mut tree: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("appsettings.json").unwrap()).unwrap();
    let overlay = serde_json::from_str(&std::fs::read_to_string("appsettings.Development.json").unwrap()).unwrap();
    idweb_identity::config::merge_json(&mut tree, overlay);
    tree["AzureAd"]["ClientSecret"] = "supplied-by-the-run-script".into();
    let config = idweb_identity::IdentityConfig::from_json(&tree).unwrap();
    assert_eq!(config.azure_ad.instance.host_str(), Some("127.0.0.1"));
    assert_eq!(config.graph.base_url.host_str(), Some("127.0.0.1"));
    assert!(!config.session.secure_cookie);
}

#[test]
fn the_base_settings_hold_no_secret_and_fail_closed_without_a_tenant() {
    let tree: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("appsettings.json").unwrap()).unwrap();
    assert!(tree["AzureAd"].get("ClientSecret").is_none());
    let error = idweb_identity::IdentityConfig::from_json(&tree).unwrap_err();
    assert_eq!(error.to_string(), "configuration key AzureAd:TenantId is missing");
}
