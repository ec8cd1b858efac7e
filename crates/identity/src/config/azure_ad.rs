//! The `AzureAd` section checked and completed: the provider profile, the
//! authority (`Instance` + `TenantId`, or `Authority`, which must agree),
//! the app's paths, and the ID token rules.

use std::path::Path;

use url::Url;

use super::raw::AzureAdSection;
use super::values::{app_path, count, flag, is_token, list, required_token, required_url, text};
use super::{credentials, AzureAdConfig, ConfigError, ProviderProfile};

/// The Microsoft identity platform's worldwide instance, when none is configured.
const DEFAULT_INSTANCE: &str = "https://login.microsoftonline.com/";

/// Asymmetric JWS algorithms: a token signed with one of them proves the
/// provider's key, unlike HMAC (keyed with something the client knows).
const ASYMMETRIC_ALGORITHMS: [&str; 9] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

/// The largest `ClockSkewSeconds` accepted: more would let tokens expired
/// (or issued in the future) by that much pass.
const MAX_CLOCK_SKEW_SECONDS: u32 = 600;

/// The checked `AzureAd` section; relative credential paths are read from
/// `dir`; `development` allows a provider on plain http off this machine.
pub(super) fn azure_ad(section: &AzureAdSection, dir: &Path, development: bool) -> Result<AzureAdConfig, ConfigError> {
    let profile = provider_profile(section)?;
    let (instance, tenant_id, generic_authority) = match profile {
        ProviderProfile::Microsoft => {
            let (instance, tenant_id) = microsoft_authority(section)?;
            (instance, tenant_id, None)
        }
        ProviderProfile::Generic => {
            let authority = required_url(&section.authority, "AzureAd:Authority", "https://login.example.com/realms/app")?;
            let origin = Url::parse(&authority.origin().ascii_serialization())
                .map_err(|error| ConfigError::Invalid { key: "AzureAd:Authority".into(), reason: error.to_string() })?;
            (origin, String::new(), Some(authority))
        }
    };
    let authority_key = if generic_authority.is_some() { "AzureAd:Authority" } else { "AzureAd:Instance" };
    if instance.scheme() == "http" && !development && !is_loopback(&instance) {
        return Err(ConfigError::Invalid {
            key: authority_key.into(),
            reason: "plain http is allowed only for this machine (localhost, 127.0.0.1, ::1), or with IDWEB_ENVIRONMENT=Development".into(),
        });
    }
    let clock_skew_seconds = count(&section.clock_skew_seconds, "AzureAd:ClockSkewSeconds", 300)?;
    if clock_skew_seconds > MAX_CLOCK_SKEW_SECONDS {
        return Err(ConfigError::Invalid {
            key: "AzureAd:ClockSkewSeconds".into(),
            reason: format!("at most {MAX_CLOCK_SKEW_SECONDS} (seconds); more would accept tokens expired that long ago"),
        });
    }
    let endpoint_origins = endpoint_origins(section, profile, &instance)?;
    Ok(AzureAdConfig {
        endpoint_origins,
        profile,
        generic_authority,
        instance,
        tenant_id,
        client_id: required_token(&section.client_id, "AzureAd:ClientId")?,
        credentials: credentials::client_credentials(section, dir)?,
        send_x5c: flag(&section.send_x5c, false),
        callback_path: app_path(&section.callback_path, "AzureAd:CallbackPath", "/signin-oidc")?,
        signed_out_callback_path: app_path(&section.signed_out_callback_path, "AzureAd:SignedOutCallbackPath", "/signout-callback-oidc")?,
        remote_sign_out_path: app_path(&section.remote_sign_out_path, "AzureAd:RemoteSignOutPath", "/signout-oidc")?,
        back_channel_logout_path: app_path(&section.back_channel_logout_path, "AzureAd:BackChannelLogoutPath", "/backchannel-logout")?,
        client_capabilities: list(&section.client_capabilities, "AzureAd:ClientCapabilities")?,
        clock_skew: std::time::Duration::from_secs(u64::from(clock_skew_seconds)),
        id_token_signing_algorithms: signing_algorithms(section)?,
        allowed_tenants: list(&section.allowed_tenants, "AzureAd:AllowedTenants")?,
    })
}

/// Whether `url` names this machine (where plain http cannot be intercepted on the way).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

/// Where the provider's endpoints may be: the authority's origin, and for a
/// generic provider the origins `AzureAd:EndpointOrigins` adds.
fn endpoint_origins(section: &AzureAdSection, profile: ProviderProfile, authority: &Url) -> Result<Vec<url::Origin>, ConfigError> {
    let key = "AzureAd:EndpointOrigins";
    let configured = list(&section.endpoint_origins, key)?;
    if profile == ProviderProfile::Microsoft && !configured.is_empty() {
        return Err(ConfigError::Invalid { key: key.into(), reason: "only a generic provider's endpoints may be elsewhere than its instance".into() });
    }
    let mut origins = vec![authority.origin()];
    for (index, text) in configured.iter().enumerate() {
        let invalid = |reason: &str| ConfigError::Invalid { key: format!("{key}:{index}"), reason: reason.into() };
        let url = Url::parse(text).map_err(|_| invalid("expected an origin such as https://login.example.com"))?;
        if url.path() != "/" || url.query().is_some() || !matches!(url.scheme(), "https" | "http") {
            return Err(invalid("expected an origin such as https://login.example.com (scheme, host and port only)"));
        }
        if url.scheme() == "http" && !is_loopback(&url) {
            return Err(invalid("plain http is allowed only for this machine"));
        }
        origins.push(url.origin());
    }
    Ok(origins)
}

/// `AzureAd:ProviderProfile`: `Microsoft` (default) or `Generic`.
fn provider_profile(section: &AzureAdSection) -> Result<ProviderProfile, ConfigError> {
    match text(&section.provider_profile).map(str::to_ascii_lowercase).as_deref() {
        None | Some("microsoft") => Ok(ProviderProfile::Microsoft),
        Some("generic") => Ok(ProviderProfile::Generic),
        Some(_) => Err(ConfigError::Invalid { key: "AzureAd:ProviderProfile".into(), reason: "expected Microsoft or Generic".into() }),
    }
}

/// The instance and tenant: from `Instance` (default the worldwide cloud)
/// and `TenantId`, or from Microsoft.Identity.Web's `Authority`
/// (`https://login.microsoftonline.com/{tenant}/v2.0`). Both at once must
/// agree: which one was meant is not guessed.
fn microsoft_authority(section: &AzureAdSection) -> Result<(Url, String), ConfigError> {
    const AUTHORITY: &str = "AzureAd:Authority";
    let instance_setting = super::values::optional_url(&section.instance, "AzureAd:Instance", "https://login.microsoftonline.com/")?;
    let tenant_setting = super::values::optional_token(&section.tenant_id, "AzureAd:TenantId")?;
    if text(&section.authority).is_none() {
        let instance = match instance_setting {
            Some(instance) => instance,
            None => Url::parse(DEFAULT_INSTANCE).map_err(|error| ConfigError::Invalid { key: "AzureAd:Instance".into(), reason: error.to_string() })?,
        };
        return Ok((instance, tenant_setting.ok_or_else(|| ConfigError::Missing { key: "AzureAd:TenantId".into() })?));
    }
    let authority = required_url(&section.authority, AUTHORITY, "https://login.microsoftonline.com/{tenant}/v2.0")?;
    let mut segments: Vec<&str> = authority.path_segments().map(|parts| parts.filter(|part| !part.is_empty()).collect()).unwrap_or_default();
    if segments.last().is_some_and(|last| last.eq_ignore_ascii_case("v2.0")) {
        segments.pop();
    }
    let invalid = |reason: String| ConfigError::Invalid { key: AUTHORITY.into(), reason };
    let tenant = segments.pop().ok_or_else(|| invalid("expected https://{instance}/{tenant}/v2.0".into()))?.to_owned();
    if !is_token(&tenant) {
        return Err(invalid(format!("{tenant:?} is not a tenant id or domain")));
    }
    let prefix: String = segments.iter().map(|part| format!("{part}/")).collect();
    let instance = Url::parse(&format!("{}/{prefix}", authority.origin().ascii_serialization())).map_err(|error| invalid(error.to_string()))?;
    let same_instance = instance_setting.as_ref().is_none_or(|configured| configured.as_str().trim_end_matches('/') == instance.as_str().trim_end_matches('/'));
    let same_tenant = tenant_setting.as_ref().is_none_or(|configured| configured.eq_ignore_ascii_case(&tenant));
    if !(same_instance && same_tenant) {
        return Err(invalid(format!(
            "it names {instance} and tenant {tenant}, but AzureAd:Instance and AzureAd:TenantId say {} and {}; they conflict, so keep Authority or Instance and TenantId",
            instance_setting.map(|url| url.to_string()).unwrap_or_else(|| "the same instance".into()),
            tenant_setting.unwrap_or_else(|| "the same tenant".into()),
        )));
    }
    Ok((instance, tenant))
}

/// `AzureAd:IdTokenSigningAlgorithms`, default `RS256`.
fn signing_algorithms(section: &AzureAdSection) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "AzureAd:IdTokenSigningAlgorithms";
    let listed = list(&section.id_token_signing_algorithms, KEY)?;
    if listed.is_empty() {
        return Ok(vec!["RS256".into()]);
    }
    match listed.iter().find(|alg| !ASYMMETRIC_ALGORITHMS.contains(&alg.as_str())) {
        Some(refused) => Err(ConfigError::Invalid { key: KEY.into(), reason: format!("{refused:?} is not one of {}", ASYMMETRIC_ALGORITHMS.join(", ")) }),
        None => Ok(listed),
    }
}
