//! Microsoft Graph and the other web APIs: which section describes Graph,
//! and each API section checked and completed.

use std::collections::BTreeMap;

use super::raw::{ApiSection, Settings};
use super::values::{count, flag, list, positive, required_url, scopes, text};
use super::{ConfigError, DownstreamApiConfig};

/// Where Microsoft Graph is described: `Graph`, or the section names
/// Microsoft's documentation uses. Two at once is an error naming both;
/// none is `Graph` with its keys missing (named as such).
pub(super) fn graph(settings: &Settings) -> Result<(DownstreamApiConfig, Option<String>), ConfigError> {
    let in_downstream = settings.downstream_apis.iter().find(|(name, _)| name.eq_ignore_ascii_case("MicrosoftGraph"));
    let present: Vec<(String, &ApiSection)> = [
        ("Graph".to_owned(), settings.graph.as_ref()),
        ("GraphBeta".to_owned(), settings.graph_beta.as_ref()),
        ("MicrosoftGraph".to_owned(), settings.microsoft_graph.as_ref()),
        (format!("DownstreamApis:{}", in_downstream.map(|(name, _)| name.as_str()).unwrap_or("MicrosoftGraph")), in_downstream.map(|(_, api)| api)),
    ]
    .into_iter()
    .filter_map(|(name, section)| section.map(|section| (name, section)))
    .collect();
    match present.as_slice() {
        [] => Ok((api(&ApiSection::default(), "Graph")?, None)),
        [(name, section)] => Ok((api(section, name)?, in_downstream.map(|(name, _)| name.clone()))),
        [(first, _), (second, _), ..] => Err(ConfigError::Invalid {
            key: second.clone(),
            reason: format!("{first} and {second} both describe Microsoft Graph; keep one"),
        }),
    }
}

/// The `DownstreamApis` entries by name, except the one that is Graph.
pub(super) fn downstream(settings: &Settings, graph_entry: Option<&str>) -> Result<BTreeMap<String, DownstreamApiConfig>, ConfigError> {
    settings
        .downstream_apis
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != graph_entry)
        .map(|(name, section)| Ok((name.clone(), api(section, &format!("DownstreamApis:{name}"))?)))
        .collect()
}

/// One API section, its keys named under `prefix` (`Graph`, `DownstreamApis:TodoList`).
fn api(section: &ApiSection, prefix: &str) -> Result<DownstreamApiConfig, ConfigError> {
    let key = |name: &str| format!("{prefix}:{name}");
    let method_text = text(&section.http_method).unwrap_or("GET");
    let http_method = reqwest::Method::from_bytes(method_text.to_ascii_uppercase().as_bytes())
        .map_err(|_| ConfigError::Invalid { key: key("HttpMethod"), reason: format!("{method_text:?} is not an HTTP method") })?;
    Ok(DownstreamApiConfig {
        base_url: required_url(&section.base_url, &key("BaseUrl"), "https://graph.microsoft.com/v1.0")?,
        scopes: scopes(&section.scopes, &key("Scopes"))?,
        relative_path: text(&section.relative_path).unwrap_or_default().to_owned(),
        http_method,
        request_app_token: flag(&section.request_app_token, false),
        timeout: std::time::Duration::from_secs(u64::from(positive(&section.timeout_seconds, &key("TimeoutSeconds"), 20)?)),
        max_retries: count(&section.max_retries, &key("MaxRetries"), 2)?,
        app_scopes: list(&section.app_scopes, &key("AppScopes"))?,
        retry_writes: flag(&section.retry_writes, false),
    })
}
