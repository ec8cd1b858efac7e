//! The checks one setting's value gets, each naming its key when it fails:
//! present, a URL, an identifier, a path, a positive number.

use url::Url;

use super::raw::{Flag, List, Whole};
use super::ConfigError;

/// The text of a string setting, trimmed; blank counts as absent (as an
/// empty environment variable does).
pub fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|text| !text.is_empty())
}

/// A string setting that must be there.
pub fn required<'a>(value: &'a Option<String>, key: &str) -> Result<&'a str, ConfigError> {
    text(value).ok_or_else(|| ConfigError::Missing { key: key.into() })
}

/// Whether `text` is an identifier-like value (GUID, domain): no spaces or slashes.
pub fn is_token(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// A required identifier-like value (GUID, domain).
pub fn required_token(value: &Option<String>, key: &str) -> Result<String, ConfigError> {
    let text = required(value, key)?;
    if is_token(text) {
        Ok(text.to_owned())
    } else {
        Err(ConfigError::Invalid { key: key.into(), reason: "only letters, digits, '-', '.' and '_' are allowed".into() })
    }
}

/// An optional identifier-like value.
pub fn optional_token(value: &Option<String>, key: &str) -> Result<Option<String>, ConfigError> {
    match text(value) {
        None => Ok(None),
        Some(_) => required_token(value, key).map(Some),
    }
}

/// A required absolute http(s) URL.
pub fn required_url(value: &Option<String>, key: &str, example: &str) -> Result<Url, ConfigError> {
    let text = required(value, key)?;
    let expected = || format!("expected an absolute http(s) URL such as {example}");
    let url = Url::parse(text).map_err(|error| ConfigError::Invalid { key: key.into(), reason: format!("{error}; {}", expected()) })?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(ConfigError::Invalid { key: key.into(), reason: expected() });
    }
    Ok(url)
}

/// An optional absolute http(s) URL.
pub fn optional_url(value: &Option<String>, key: &str, example: &str) -> Result<Option<Url>, ConfigError> {
    match text(value) {
        None => Ok(None),
        Some(_) => required_url(value, key, example).map(Some),
    }
}

/// A path of this app (`/signin-oidc`), `default` when absent.
pub fn app_path(value: &Option<String>, key: &str, default: &str) -> Result<String, ConfigError> {
    let path = text(value).unwrap_or(default);
    if path.starts_with('/') && !path.starts_with("//") && !path.contains(['?', '#', '\\']) {
        Ok(path.to_owned())
    } else {
        Err(ConfigError::Invalid { key: key.into(), reason: "expected a path such as /signin-oidc".into() })
    }
}

/// A flag, `default` when absent.
pub fn flag(value: &Option<Flag>, default: bool) -> bool {
    value.map_or(default, |flag| flag.0)
}

/// A whole number above zero that fits 32 bits, `default` when absent.
pub fn positive(value: &Option<Whole>, key: &str, default: u32) -> Result<u32, ConfigError> {
    match value {
        None => Ok(default),
        Some(Whole(number)) => u32::try_from(*number)
            .ok()
            .filter(|number| *number > 0)
            .ok_or_else(|| ConfigError::Invalid { key: key.into(), reason: "expected a positive whole number".into() }),
    }
}

/// A whole number that may be zero and fits 32 bits, `default` when absent.
pub fn count(value: &Option<Whole>, key: &str, default: u32) -> Result<u32, ConfigError> {
    match value {
        None => Ok(default),
        Some(Whole(number)) => {
            u32::try_from(*number).map_err(|_| ConfigError::Invalid { key: key.into(), reason: "expected a whole number below 4294967296".into() })
        }
    }
}

/// A list of words, empty when absent; every word non-empty and without spaces.
pub fn list(value: &Option<List>, key: &str) -> Result<Vec<String>, ConfigError> {
    match value {
        None => Ok(Vec::new()),
        Some(_) => scopes(value, key),
    }
}

/// One or more scopes.
pub fn scopes(value: &Option<List>, key: &str) -> Result<Vec<String>, ConfigError> {
    let Some(List(items)) = value else { return Err(ConfigError::Missing { key: key.into() }) };
    if items.is_empty() || items.iter().any(|item| item.is_empty() || item.contains(char::is_whitespace)) {
        return Err(ConfigError::Invalid { key: key.into(), reason: "expected one or more non-empty scopes".into() });
    }
    Ok(items.clone())
}
