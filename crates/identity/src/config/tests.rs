use serde_json::json;

use super::*;

fn valid_settings() -> Value {
    json!({
        "AzureAd": {
            "Instance": "http://127.0.0.1:5001/",
            "TenantId": "7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10",
            "ClientId": "5f4b6c2e-8d1a-4e3b-9c7f-1a2b3c4d5e6f",
            "ClientSecret": "from-the-test"
        },
        "Graph": { "BaseUrl": "http://127.0.0.1:5001/v1.0", "Scopes": ["User.Read"] },
        "Hosting": { "PublicUrl": "http://127.0.0.1:3000" },
        "Session": { "SecureCookie": false }
    })
}

fn remove(tree: &mut Value, section: &str, key: &str) {
    tree[section].as_object_mut().unwrap().remove(key);
}

#[test]
fn valid_settings_load_with_microsoft_defaults() {
    let config = IdentityConfig::from_json(&valid_settings()).unwrap();
    assert_eq!(config.azure_ad.callback_path, "/signin-oidc");
    assert_eq!(config.azure_ad.signed_out_callback_path, "/signout-callback-oidc");
    assert_eq!(
        config.azure_ad.authority(),
        "http://127.0.0.1:5001/7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10/v2.0"
    );
    assert_eq!(config.graph.scopes, vec!["User.Read"]);
    assert_eq!(config.session.cookie_name, "idweb");
}

#[test]
fn cfg_01_missing_keys_are_named() {
    for (section, key) in [("AzureAd", "ClientId"), ("AzureAd", "ClientSecret"), ("AzureAd", "Instance"), ("AzureAd", "TenantId"), ("Graph", "Scopes")] {
        let mut tree = valid_settings();
        remove(&mut tree, section, key);
        let error = IdentityConfig::from_json(&tree).unwrap_err();
        assert_eq!(error.to_string(), format!("configuration key {section}:{key} is missing"));
    }
}

#[test]
fn cfg_01_malformed_values_are_named() {
    let mut tree = valid_settings();
    tree["AzureAd"]["Instance"] = json!("not a url");
    assert!(IdentityConfig::from_json(&tree).unwrap_err().to_string().contains("AzureAd:Instance is invalid"));

    let mut tree = valid_settings();
    tree["AzureAd"]["ClientId"] = json!("../../etc");
    assert!(IdentityConfig::from_json(&tree).unwrap_err().to_string().contains("AzureAd:ClientId is invalid"));

    let mut tree = valid_settings();
    tree["AzureAd"]["CallbackPath"] = json!("//evil.example/cb");
    assert!(IdentityConfig::from_json(&tree).unwrap_err().to_string().contains("AzureAd:CallbackPath"));

    let mut tree = valid_settings();
    tree["Session"]["CookieName"] = json!("__Host-idweb");
    assert!(IdentityConfig::from_json(&tree).unwrap_err().to_string().contains("Session:CookieName"));
}

#[test]
fn scopes_accept_a_space_separated_string_like_older_microsoft_samples() {
    let mut tree = valid_settings();
    tree["Graph"]["Scopes"] = json!("User.Read Mail.Read");
    let config = IdentityConfig::from_json(&tree).unwrap();
    assert_eq!(config.graph.scopes, vec!["User.Read", "Mail.Read"]);
}

#[test]
fn environment_overrides_use_double_underscore_and_ignore_case() {
    let mut tree = valid_settings();
    remove(&mut tree, "AzureAd", "ClientSecret");
    let vars = vec![
        ("AZUREAD__CLIENTSECRET".to_owned(), "from-env".to_owned()),
        ("Graph__Scopes__1".to_owned(), "Mail.Read".to_owned()),
        ("PATH".to_owned(), "/usr/bin".to_owned()),
        ("Session__SecureCookie".to_owned(), "true".to_owned()),
        ("Session__CookieName".to_owned(), "__Host-idweb".to_owned()),
    ];
    apply_env_overrides(&mut tree, vars.into_iter());
    let config = IdentityConfig::from_json(&tree).unwrap();
    assert_eq!(config.azure_ad.credential.client_secret().unwrap().secret(), "from-env");
    assert_eq!(config.graph.scopes, vec!["User.Read", "Mail.Read"]);
    assert!(config.session.secure_cookie);
    assert!(tree.get("PATH").is_none());
}

#[test]
fn environment_file_overlays_the_base_file() {
    let dir = std::env::temp_dir().join(format!("idweb-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut base = valid_settings();
    remove(&mut base, "AzureAd", "ClientSecret");
    std::fs::write(dir.join("appsettings.json"), base.to_string()).unwrap();
    std::fs::write(
        dir.join("appsettings.Testing.json"),
        json!({"azuread": {"clientsecret": "overlay"}, "Graph": {"Scopes": ["Mail.Read"]}}).to_string(),
    )
    .unwrap();
    let config = IdentityConfig::load(&dir, Some("Testing")).unwrap();
    assert_eq!(config.azure_ad.credential.client_secret().unwrap().secret(), "overlay");
    assert_eq!(config.graph.scopes, vec!["Mail.Read"]);

    std::fs::write(dir.join("appsettings.Broken.json"), "{ not json").unwrap();
    let error = IdentityConfig::load(&dir, Some("Broken")).unwrap_err();
    assert!(error.to_string().contains("appsettings.Broken.json"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn client_secret_is_redacted_in_debug_output() {
    let config = IdentityConfig::from_json(&valid_settings()).unwrap();
    assert!(!format!("{config:?}").contains("from-the-test"));
}

#[test]
fn downstream_apis_are_read_by_name_with_microsofts_keys() {
    let mut tree = valid_settings();
    tree["DownstreamApis"] = json!({
        "TodoList": { "BaseUrl": "https://api.example/", "Scopes": "api://todo/access_as_user", "RelativePath": "todolist",
                      "HttpMethod": "post", "TimeoutSeconds": 5, "MaxRetries": 0 },
        "Daemon": { "BaseUrl": "https://api.example/", "Scopes": ["api://todo/.default"], "RequestAppToken": true },
    });
    let config = IdentityConfig::from_json(&tree).unwrap();
    let todo = &config.downstream_apis["TodoList"];
    assert_eq!(todo.http_method, reqwest::Method::POST);
    assert_eq!((todo.relative_path.as_str(), todo.max_retries, todo.timeout.as_secs()), ("todolist", 0, 5));
    assert!(config.downstream_apis["Daemon"].request_app_token);
    assert_eq!(config.graph.max_retries, 2, "defaults");

    tree["DownstreamApis"]["TodoList"]["HttpMethod"] = json!("FETCH ME");
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.contains("DownstreamApis:TodoList:HttpMethod"), "{error}");
    tree["DownstreamApis"] = json!({ "Broken": { "Scopes": "x" } });
    assert_eq!(IdentityConfig::from_json(&tree).unwrap_err().to_string(), "configuration key DownstreamApis:Broken:BaseUrl is missing");
}
