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
    // (Instance has a default, the worldwide cloud, as in Microsoft.Identity.Web.)
    for (section, key) in [("AzureAd", "ClientId"), ("AzureAd", "ClientSecret"), ("AzureAd", "TenantId"), ("Graph", "Scopes")] {
        let mut tree = valid_settings();
        remove(&mut tree, section, key);
        let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
        // Without a secret, the message goes on to say which credentials would do.
        assert!(error.starts_with(&format!("configuration key {section}:{key} is missing")), "{error}");
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
    assert_eq!(the_only_secret(&config), "from-env");
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
    assert_eq!(the_only_secret(&config), "overlay");
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

fn with_token_cache(token_cache: Value) -> Value {
    let mut tree = valid_settings();
    tree["TokenCache"] = token_cache;
    tree
}

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn the_memory_stores_are_the_default() {
    let config = IdentityConfig::from_json(&valid_settings()).unwrap();
    assert!(config.token_cache.store.shared.is_none());
    assert!(config.session.store.shared.is_none());
    assert_eq!(config.session.absolute_timeout, std::time::Duration::from_secs(12 * 3600));
}

#[test]
fn cfg_01_a_shared_token_cache_without_encryption_keys_stops_start_up_naming_the_key() {
    let tree = with_token_cache(json!({ "Store": "Redis", "ConnectionString": "redis://127.0.0.1:6379/" }));
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.starts_with("configuration key TokenCache:EncryptionKeys is missing: a Redis or Postgres token cache"), "{error}");
}

#[test]
fn cfg_01_store_settings_are_checked_and_named() {
    let cases = [
        (json!({ "Store": "Memcached" }), "TokenCache:Store is invalid"),
        (json!({ "Store": "Redis", "EncryptionKeys": [{ "Id": "1", "Key": KEY }] }), "TokenCache:ConnectionString is missing"),
        (json!({ "Store": "Redis", "ConnectionString": "postgres://x", "EncryptionKeys": [{ "Id": "1", "Key": KEY }] }), "TokenCache:ConnectionString is invalid"),
        (json!({ "Store": "Postgres", "ConnectionString": "postgres://x", "Schema": "Bad-Name", "EncryptionKeys": [{ "Id": "1", "Key": KEY }] }), "TokenCache:Schema is invalid"),
        (json!({ "Store": "Redis", "ConnectionString": "redis://x", "EncryptionKeys": [{ "Id": "1", "Key": "c2hvcnQ=" }] }), "TokenCache:EncryptionKeys:0 is invalid: the key must be 32 bytes"),
        (json!({ "Store": "Redis", "ConnectionString": "redis://x", "EncryptionKeys": [{ "Id": "1" }] }), "TokenCache:EncryptionKeys:0:Key is missing"),
        (json!({ "Store": "Redis", "ConnectionString": "redis://x", "EncryptionKeys": [{ "Id": "1", "Key": KEY }, { "Id": "1", "Key": KEY }] }), "two keys have the id"),
    ];
    for (token_cache, expected) in cases {
        let error = IdentityConfig::from_json(&with_token_cache(token_cache.clone())).unwrap_err().to_string();
        assert!(error.contains(expected), "{token_cache}: {error}");
    }
}

#[test]
fn sessions_on_the_same_engine_reuse_the_token_cache_connection_string_which_is_never_printed() {
    let mut tree = with_token_cache(json!({
        "Store": "Redis",
        "ConnectionString": "redis://:s3cret@cache.internal:6379/2",
        "EncryptionKeys": [{ "Id": "2026-11", "Key": KEY }],
    }));
    tree["Session"]["Store"] = json!("Redis");
    let config = IdentityConfig::from_json(&tree).unwrap();
    let sessions = config.session.store.shared.as_ref().unwrap();
    assert_eq!(sessions.connection_string.expose(), "redis://:s3cret@cache.internal:6379/2");
    assert_eq!(config.token_cache.store.encryption_keys.as_ref().unwrap().current_key_id(), "2026-11");
    assert!(!format!("{config:?}").contains("s3cret"), "Debug never prints a connection string");
    assert!(!format!("{config:?}").contains(KEY), "nor a key");
}

#[test]
fn idt_09_id_token_algorithms_are_pinned_to_asymmetric_ones() {
    let config = IdentityConfig::from_json(&valid_settings()).unwrap();
    assert_eq!(config.azure_ad.id_token_signing_algorithms, vec!["RS256"]);
    assert_eq!(config.azure_ad.clock_skew, std::time::Duration::from_secs(300));
    for refused in ["HS256", "none"] {
        let mut tree = valid_settings();
        tree["AzureAd"]["IdTokenSigningAlgorithms"] = json!([refused]);
        let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
        assert!(error.starts_with("configuration key AzureAd:IdTokenSigningAlgorithms is invalid"), "{error}");
    }
}

#[test]
fn a_generic_provider_needs_its_authority_not_an_instance_or_tenant() {
    let mut tree = valid_settings();
    remove(&mut tree, "AzureAd", "Instance");
    remove(&mut tree, "AzureAd", "TenantId");
    tree["AzureAd"]["ProviderProfile"] = json!("Generic");
    let error = IdentityConfig::from_json(&tree).unwrap_err();
    assert_eq!(error.to_string(), "configuration key AzureAd:Authority is missing");
    tree["AzureAd"]["Authority"] = json!("http://127.0.0.1:5301/");
    let config = IdentityConfig::from_json(&tree).unwrap();
    assert_eq!(config.azure_ad.profile, ProviderProfile::Generic);
    assert_eq!(config.azure_ad.authority(), "http://127.0.0.1:5301");
    assert_eq!(config.azure_ad.instance.as_str(), "http://127.0.0.1:5301/");

    tree["AzureAd"]["ProviderProfile"] = json!("Okta");
    let error = IdentityConfig::from_json(&tree).unwrap_err();
    assert!(error.to_string().contains("AzureAd:ProviderProfile"), "{error}");
}

/// The example of Microsoft's documentation that did not start (issue 11):
/// a comment, an empty `ClientCertificates` beside a secret, `GraphBeta`.
const MIW_DOCS_EXAMPLE: &str = include_str!("../../tests/it/fixtures/microsoft-docs-appsettings.jsonc");

#[test]
fn microsofts_documented_example_loads_as_written() {
    let dir = std::env::temp_dir().join(format!("idweb-miw-example-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("appsettings.json"), MIW_DOCS_EXAMPLE).unwrap();
    // What idweb adds to it (from the environment in production).
    std::fs::write(dir.join("appsettings.Example.json"), r#"{ "Hosting": { "PublicUrl": "https://app.example", }, }"#).unwrap();
    let config = IdentityConfig::load(&dir, Some("Example")).unwrap();
    assert!(config.azure_ad.is_multi_tenant());
    assert_eq!(the_only_secret(&config), "...", "the empty list is no certificate");
    assert_eq!(config.graph.base_url.as_str(), "https://graph.microsoft.com/beta");
    assert_eq!(config.graph.scopes, vec!["user.read"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_with_a_syntax_error_is_named_with_its_line() {
    let dir = std::env::temp_dir().join(format!("idweb-bad-json-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("appsettings.json"), "{\n  // fine\n  \"AzureAd\": { \"Instance\": nope }\n}").unwrap();
    let error = IdentityConfig::load(&dir, None).unwrap_err().to_string();
    assert!(error.contains("appsettings.json") && error.contains("line 3"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn graph_is_found_under_the_names_microsofts_docs_use_and_two_at_once_are_refused() {
    for section in ["GraphBeta", "MicrosoftGraph"] {
        let mut tree = valid_settings();
        let graph = tree["Graph"].take();
        tree.as_object_mut().unwrap().remove("Graph");
        tree[section] = graph;
        let config = IdentityConfig::from_json(&tree).unwrap();
        assert_eq!(config.graph.scopes, vec!["User.Read"], "{section}");
    }

    let mut tree = valid_settings();
    let graph = tree["Graph"].take();
    tree.as_object_mut().unwrap().remove("Graph");
    tree["DownstreamApis"] = json!({ "MicrosoftGraph": graph, "TodoList": { "BaseUrl": "http://127.0.0.1:5001/api", "Scopes": "api://x/y" } });
    let config = IdentityConfig::from_json(&tree).unwrap();
    assert_eq!(config.graph.base_url.as_str(), "http://127.0.0.1:5001/v1.0");
    assert_eq!(config.downstream_apis.keys().collect::<Vec<_>>(), ["TodoList"], "Graph is not also a downstream API");

    let mut tree = valid_settings();
    tree["GraphBeta"] = tree["Graph"].clone();
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.contains("Graph and GraphBeta both describe Microsoft Graph"), "{error}");
}

#[test]
fn scopes_may_be_separated_by_commas_or_spaces() {
    let mut tree = valid_settings();
    tree["Graph"]["Scopes"] = json!("User.Read, Mail.Read Calendars.Read");
    let config = IdentityConfig::from_json(&tree).unwrap();
    assert_eq!(config.graph.scopes, vec!["User.Read", "Mail.Read", "Calendars.Read"]);
}

#[test]
fn microsofts_authority_key_names_instance_and_tenant_and_a_conflict_is_refused() {
    let mut tree = valid_settings();
    remove(&mut tree, "AzureAd", "Instance");
    remove(&mut tree, "AzureAd", "TenantId");
    tree["AzureAd"]["Authority"] = json!("https://login.microsoftonline.us/contoso.onmicrosoft.com/v2.0");
    let config = IdentityConfig::from_json(&tree).unwrap();
    assert_eq!(config.azure_ad.instance.as_str(), "https://login.microsoftonline.us/");
    assert_eq!(config.azure_ad.tenant_id, "contoso.onmicrosoft.com");
    assert_eq!(config.azure_ad.authority(), "https://login.microsoftonline.us/contoso.onmicrosoft.com/v2.0");

    // The same thing said twice is fine; two different things are not.
    tree["AzureAd"]["Instance"] = json!("https://login.microsoftonline.us");
    tree["AzureAd"]["TenantId"] = json!("CONTOSO.onmicrosoft.com");
    assert!(IdentityConfig::from_json(&tree).is_ok());
    tree["AzureAd"]["TenantId"] = json!("common");
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.contains("AzureAd:Authority") && error.contains("conflict"), "{error}");

    let mut tree = valid_settings();
    remove(&mut tree, "AzureAd", "Instance");
    let config = IdentityConfig::from_json(&tree).unwrap();
    assert_eq!(config.azure_ad.instance.as_str(), "https://login.microsoftonline.com/", "the worldwide cloud by default");
}

/// The configured client secret, asserting it is the only credential.
fn the_only_secret(config: &IdentityConfig) -> &str {
    match config.azure_ad.credentials.as_slice() {
        [only] => match &only.source {
            crate::credentials::CredentialSource::ClientSecret(secret) => secret.expose(),
            other => panic!("expected a client secret, got {}", other.source_type()),
        },
        all => panic!("expected one credential, got {}", all.len()),
    }
}

/// The credential list `entries` (with the settings' secret after them) reads as.
fn credential_list(entries: Value) -> Result<Vec<crate::credentials::CredentialDescription>, ConfigError> {
    let mut tree = valid_settings();
    tree["AzureAd"]["ClientCredentials"] = entries;
    IdentityConfig::from_json(&tree).map(|config| config.azure_ad.credentials)
}

#[test]
fn every_microsoft_source_type_reads_with_its_keys_in_order_and_the_secret_comes_last() {
    let entries = json!([
        { "SourceType": "KeyVault", "KeyVaultUrl": "https://contoso.vault.azure.net", "KeyVaultCertificateName": "idweb-client", "ManagedIdentityClientId": "8e5b1f6a-3c2d-4b7e-9a10-6d4c2b1e0f71" },
        { "SourceType": "signedassertionfrommanagedidentity" },
        { "SourceType": "SignedAssertionFromManagedIdentity", "TokenExchangeUrl": "api://AzureADTokenExchangeUSGov" },
        { "SourceType": "Path", "CertificateDiskPath": "certs/app.pfx", "CertificatePassword": "p" },
        { "SourceType": "Base64Encoded", "Base64EncodedValue": "MIIK" },
        { "SourceType": "SignedAssertionFilePath", "SignedAssertionFileDiskPath": "/var/run/secrets/azure/tokens/azure-identity-token" },
        { "SourceType": "StoreWithThumbprint", "CertificateStorePath": "CurrentUser/My", "CertificateThumbprint": "962D129A" },
        { "SourceType": "ClientSecret", "ClientSecret": "in-the-list" },
    ]);
    let list = credential_list(entries).unwrap();
    let types: Vec<&str> = list.iter().map(|entry| entry.source.source_type()).collect();
    assert_eq!(
        types,
        [
            "KeyVault",
            "SignedAssertionFromManagedIdentity",
            "SignedAssertionFromManagedIdentity",
            "Path",
            "Base64Encoded",
            "SignedAssertionFilePath",
            "StoreWithThumbprint",
            "ClientSecret",
            "ClientSecret"
        ]
    );
    assert_eq!(list[8].key, "AzureAd:ClientSecret", "the legacy secret is the last resort");
    use crate::credentials::CredentialSource;
    match &list[0].source {
        CredentialSource::KeyVault { vault, certificate_name, managed_identity } => {
            assert_eq!(vault.as_str(), "https://contoso.vault.azure.net/");
            assert_eq!(certificate_name, "idweb-client");
            assert_eq!(managed_identity.as_deref(), Some("8e5b1f6a-3c2d-4b7e-9a10-6d4c2b1e0f71"));
        }
        other => panic!("{}", other.source_type()),
    }
    match (&list[1].source, &list[2].source) {
        (
            CredentialSource::ManagedIdentityAssertion { token_exchange_audience: worldwide, managed_identity: None },
            CredentialSource::ManagedIdentityAssertion { token_exchange_audience: us_government, .. },
        ) => assert_eq!((worldwide.as_str(), us_government.as_str()), ("api://AzureADTokenExchange", "api://AzureADTokenExchangeUSGov")),
        _ => panic!("managed identity entries"),
    }
    assert!(format!("{:?}", list).contains("[redacted]") && !format!("{:?}", list).contains("in-the-list"), "Debug shows no secret");
}

#[test]
fn a_credential_entry_of_the_wrong_shape_is_named_by_its_key() {
    let mut tree = valid_settings();
    tree["AzureAd"] = json!("not a section");
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.contains("AzureAd is invalid") && error.ends_with("invalid type: a string, expected an object"), "{error}");
    assert!(!error.contains("not a section"), "the value is not repeated: {error}");
    let mut tree = valid_settings();
    tree["DownstreamApis"] = json!({ "TodoList": { "BaseUrl": "https://api.example/", "Scopes": "s", "TimeoutSeconds": "soon" } });
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.contains("DownstreamApis:TodoList:TimeoutSeconds") && error.contains("expected a whole number"), "{error}");
    let cases = [
        (json!([{ "SourceType": "Magic" }]), "AzureAd:ClientCredentials:0:SourceType", "\"Magic\" is not one of ClientSecret, Path"),
        (json!([{ "SourceType": "KeyVault", "KeyVaultCertificateName": "c" }]), "AzureAd:ClientCredentials:0:KeyVaultUrl", "missing"),
        (json!([{ "SourceType": "KeyVault", "KeyVaultUrl": "https://v.vault.azure.net/" }]), "AzureAd:ClientCredentials:0:KeyVaultCertificateName", "missing"),
        (json!([{ "SourceType": "KeyVault", "KeyVaultUrl": "https://v.vault.azure.net/", "KeyVaultCertificateName": "../secrets/x" }]), "KeyVaultCertificateName", "only letters, digits and '-'"),
        (json!([{ "SourceType": "KeyVault", "KeyVaultUrl": "vault", "KeyVaultCertificateName": "c" }]), "KeyVaultUrl", "invalid"),
        (json!([{ "SourceType": "KeyVault", "KeyVaultUrl": "https://evil.example/", "KeyVaultCertificateName": "c" }]), "KeyVaultUrl", "expected a Key Vault URL"),
        (json!([{ "SourceType": "Path" }]), "AzureAd:ClientCredentials:0:CertificateDiskPath", "missing"),
        (json!([{ "SourceType": "Base64Encoded" }]), "AzureAd:ClientCredentials:0:Base64EncodedValue", "missing"),
        (json!([{ "SourceType": "ClientSecret" }]), "AzureAd:ClientCredentials:0:ClientSecret", "missing"),
        (json!([{ "SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": "a b" }]), "ManagedIdentityClientId", "invalid"),
        (json!({ "SourceType": "Path" }), "AzureAd:ClientCredentials", "invalid type: map, expected an array"),
        (json!([{ "SourceType": ["Path"] }]), "AzureAd:ClientCredentials:0:SourceType", "invalid type: sequence, expected a string"),
    ];
    for (entries, key, what) in cases {
        let error = credential_list(entries.clone()).unwrap_err().to_string();
        assert!(error.contains(key) && error.contains(what), "{entries}: {error}");
    }
}

#[test]
fn a_null_section_or_key_is_absent_as_in_dotnet_configuration() {
    let mut tree = valid_settings();
    tree["Session"] = Value::Null;
    tree["Http"] = Value::Null;
    tree["DownstreamApis"] = Value::Null;
    tree["AzureAd"]["CallbackPath"] = Value::Null;
    tree["Session"] = json!({ "SecureCookie": false });
    let config = IdentityConfig::from_json(&tree).unwrap();
    assert_eq!(config.azure_ad.callback_path, "/signin-oidc");
    assert!(config.downstream_apis.is_empty() && config.http.trusted_ca_files.is_empty());
}

#[test]
fn the_schema_knows_every_section_and_credential_key() {
    let schema = crate::config::settings_schema();
    let text = schema.to_string();
    for key in ["AzureAd", "GraphBeta", "DownstreamApis", "TokenCache", "Http", "TrustedCaFiles", "KeyVaultCertificateName", "SignedAssertionFileDiskPath", "ManagedIdentityClientId", "EncryptionKeys", "ConnectionString"] {
        assert!(text.contains(&format!("\"{key}\"")), "{key} is in the schema");
    }
}

#[test]
fn cfg_01_a_provider_on_plain_http_off_this_machine_is_refused_outside_development() {
    let mut tree = valid_settings();
    tree["AzureAd"]["Instance"] = json!("http://login.example.com/");
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.contains("AzureAd:Instance is invalid") && error.contains("plain http"), "{error}");
    for loopback in ["http://localhost:5001/", "http://127.0.0.1:5001/", "http://[::1]:5001/"] {
        tree["AzureAd"]["Instance"] = json!(loopback);
        IdentityConfig::from_json(&tree).unwrap_or_else(|error| panic!("{loopback}: {error}"));
    }
    tree["AzureAd"]["Instance"] = json!("http://emulator:5001/");
    tree[ENVIRONMENT_KEY] = json!("Development");
    IdentityConfig::from_json(&tree).expect("a development provider on another host of the developer's network");

    let mut generic = valid_settings();
    remove(&mut generic, "AzureAd", "Instance");
    remove(&mut generic, "AzureAd", "TenantId");
    generic["AzureAd"]["ProviderProfile"] = json!("Generic");
    generic["AzureAd"]["Authority"] = json!("http://op.example.com/");
    let error = IdentityConfig::from_json(&generic).unwrap_err().to_string();
    assert!(error.contains("AzureAd:Authority is invalid") && error.contains("plain http"), "{error}");
}

#[test]
fn cfg_01_a_clock_skew_over_ten_minutes_is_refused() {
    let mut tree = valid_settings();
    tree["AzureAd"]["ClockSkewSeconds"] = json!(600);
    IdentityConfig::from_json(&tree).expect("ten minutes is the most");
    tree["AzureAd"]["ClockSkewSeconds"] = json!(601);
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.contains("AzureAd:ClockSkewSeconds is invalid") && error.contains("at most 600"), "{error}");
}

#[test]
fn cfg_01_endpoint_origins_are_origins_and_only_for_a_generic_provider() {
    let mut tree = valid_settings();
    tree["AzureAd"]["EndpointOrigins"] = json!(["https://elsewhere.example"]);
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.contains("AzureAd:EndpointOrigins is invalid"), "{error}");

    let mut generic = valid_settings();
    remove(&mut generic, "AzureAd", "Instance");
    remove(&mut generic, "AzureAd", "TenantId");
    generic["AzureAd"]["ProviderProfile"] = json!("Generic");
    generic["AzureAd"]["Authority"] = json!("https://op.example.com/realm");
    generic["AzureAd"]["EndpointOrigins"] = json!(["https://keys.example.com", "https://token.example.com:8443"]);
    let config = IdentityConfig::from_json(&generic).unwrap();
    let origins: Vec<String> = config.azure_ad.endpoint_origins.iter().map(|origin| origin.ascii_serialization()).collect();
    assert_eq!(origins, ["https://op.example.com", "https://keys.example.com", "https://token.example.com:8443"]);
    for bad in ["https://keys.example.com/path", "http://keys.example.com", "keys.example.com", "ftp://keys.example.com"] {
        generic["AzureAd"]["EndpointOrigins"] = json!([bad]);
        let error = IdentityConfig::from_json(&generic).unwrap_err().to_string();
        assert!(error.contains("AzureAd:EndpointOrigins:0 is invalid"), "{bad}: {error}");
    }
}

#[test]
fn cfg_01_shared_sessions_need_the_key_ring_that_seals_sign_ins_in_flight() {
    let mut tree = valid_settings();
    tree["Session"]["Store"] = json!("Redis");
    tree["Session"]["ConnectionString"] = json!("redis://127.0.0.1:6379");
    let error = IdentityConfig::from_json(&tree).unwrap_err().to_string();
    assert!(error.contains("TokenCache:EncryptionKeys is missing"), "{error}");
}
