//! Scopes and the web APIs (resources) they belong to, as the v2.0
//! endpoint reads a `scope` parameter.
//!
//! A scope is `{resource}/{name}` where the resource is an Application ID
//! URI (`api://...`, `https://graph.microsoft.com`) or app id; a bare name
//! is a Microsoft Graph scope; `openid`, `profile`, `email` and
//! `offline_access` belong to OpenID Connect and never reach an access token.

use crate::config::EmulatorConfig;
use crate::GRAPH_APP_ID;

/// Scopes the OpenID Connect layer handles.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// Microsoft Graph's Application ID URI.
pub const GRAPH_URI: &str = "https://graph.microsoft.com";
/// The scope name that means "everything consented or granted for this resource".
pub const DEFAULT_SCOPE: &str = ".default";

/// The scopes asked of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScopes {
    /// The resource's app id (the `aud` of its tokens).
    pub app_id: String,
    /// The resource's name, for the consent page.
    pub display_name: String,
    /// The resource's Application ID URI.
    pub identifier_uri: String,
    /// Scope names as asked (case kept), without the resource prefix.
    pub names: Vec<String>,
}

impl ResourceScopes {
    /// `name` as the token response's `scope` lists it: bare for Graph,
    /// prefixed with the Application ID URI for any other API.
    pub fn qualified(&self, name: &str) -> String {
        if self.app_id == GRAPH_APP_ID {
            name.to_owned()
        } else {
            format!("{}/{name}", self.identifier_uri)
        }
    }

    /// Whether `.default` was asked.
    pub fn is_default(&self) -> bool {
        self.names.iter().any(|name| name == DEFAULT_SCOPE)
    }

    /// The consent key of each named scope (`{app id}/{name}`, lower case); `.default` has none.
    pub fn consent_keys(&self) -> Vec<String> {
        self.names
            .iter()
            .filter(|name| name.as_str() != DEFAULT_SCOPE)
            .map(|name| consent_key(&self.app_id, name))
            .collect()
    }
}

/// The key under which consent to `name` of `app_id` is remembered.
pub fn consent_key(app_id: &str, name: &str) -> String {
    format!("{}/{}", app_id.to_ascii_lowercase(), name.to_ascii_lowercase())
}

/// A parsed `scope` parameter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeRequest {
    /// OpenID Connect scopes asked, lower case.
    pub oidc: Vec<String>,
    /// Resource scopes, grouped by resource in the order they first appear.
    pub resources: Vec<ResourceScopes>,
}

impl ScopeRequest {
    /// Reads a space-separated `scope`. `Err` names the first scope that
    /// belongs to no known resource or that the resource does not expose.
    pub fn parse(text: &str, config: &EmulatorConfig) -> Result<Self, String> {
        let mut request = Self::default();
        for item in text.split_whitespace() {
            if let Some(oidc) = OIDC_SCOPES.iter().find(|oidc| oidc.eq_ignore_ascii_case(item)) {
                if !request.oidc.iter().any(|known| known == oidc) {
                    request.oidc.push((*oidc).to_owned());
                }
                continue;
            }
            let (resource, name) = resolve(item, config).ok_or_else(|| item.to_owned())?;
            match request.resources.iter_mut().find(|known| known.app_id == resource.app_id) {
                Some(known) => {
                    if !known.names.iter().any(|existing| existing.eq_ignore_ascii_case(&name)) {
                        known.names.push(name);
                    }
                }
                None => request.resources.push(ResourceScopes { names: vec![name], ..resource }),
            }
        }
        Ok(request)
    }

    /// Whether the OpenID Connect scope `scope` was asked.
    pub fn has(&self, scope: &str) -> bool {
        self.oidc.iter().any(|asked| asked == scope)
    }

    /// The resource an access token is issued for: the first one named, or
    /// Microsoft Graph with `User.Read` when only OpenID Connect scopes were
    /// asked (as Microsoft does).
    pub fn token_resource(&self) -> ResourceScopes {
        self.resources.first().cloned().unwrap_or_else(|| ResourceScopes {
            names: vec!["User.Read".into()],
            ..graph()
        })
    }

    /// Every consent key the request names.
    pub fn consent_keys(&self) -> Vec<String> {
        self.resources.iter().flat_map(ResourceScopes::consent_keys).collect()
    }
}

/// The resource and the scope name of one non-OpenID-Connect `item`.
fn resolve(item: &str, config: &EmulatorConfig) -> Option<(ResourceScopes, String)> {
    let Some((prefix, name)) = item.rsplit_once('/') else {
        return Some((graph(), item.to_owned()));
    };
    if name.is_empty() {
        return None;
    }
    let graph_prefix = prefix.eq_ignore_ascii_case(GRAPH_URI) || prefix.eq_ignore_ascii_case(config.graph_resource_uri.trim_end_matches('/'));
    if graph_prefix || prefix.eq_ignore_ascii_case(GRAPH_APP_ID) {
        return Some((graph(), name.to_owned()));
    }
    let api = config.apis.iter().find(|api| {
        prefix.eq_ignore_ascii_case(&api.identifier_uri()) || prefix.eq_ignore_ascii_case(&api.app_id)
    })?;
    let exposed = name == DEFAULT_SCOPE
        || api.scopes.iter().chain(api.app_roles.iter()).any(|known| known.eq_ignore_ascii_case(name));
    exposed.then(|| {
        let resource = ResourceScopes {
            app_id: api.app_id.clone(),
            display_name: api.display_name.clone(),
            identifier_uri: api.identifier_uri(),
            names: Vec::new(),
        };
        (resource, name.to_owned())
    })
}

fn graph() -> ResourceScopes {
    ResourceScopes {
        app_id: GRAPH_APP_ID.into(),
        display_name: "Microsoft Graph".into(),
        identifier_uri: GRAPH_URI.into(),
        names: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SAMPLE_API_APP_ID;

    fn parse(text: &str) -> Result<ScopeRequest, String> {
        ScopeRequest::parse(text, &EmulatorConfig::default())
    }

    #[test]
    fn bare_and_prefixed_graph_scopes_belong_to_graph() {
        let request = parse("openid Profile User.Read https://graph.microsoft.com/Mail.Read offline_access").unwrap();
        assert_eq!(request.oidc, vec!["openid", "profile", "offline_access"]);
        assert_eq!(request.resources.len(), 1);
        assert_eq!(request.resources[0].app_id, GRAPH_APP_ID);
        assert_eq!(request.resources[0].names, vec!["User.Read", "Mail.Read"]);
    }

    #[test]
    fn api_scopes_resolve_by_identifier_uri_or_app_id_in_order() {
        let request = parse(&format!("api://{SAMPLE_API_APP_ID}/access_as_user User.Read {SAMPLE_API_APP_ID}/.default")).unwrap();
        assert_eq!(request.token_resource().app_id, SAMPLE_API_APP_ID);
        assert_eq!(request.resources[0].names, vec!["access_as_user", ".default"]);
        assert!(request.resources[0].is_default());
        assert_eq!(request.resources[1].app_id, GRAPH_APP_ID);
        assert_eq!(request.consent_keys(), vec![format!("{SAMPLE_API_APP_ID}/access_as_user"), format!("{GRAPH_APP_ID}/user.read")]);
    }

    #[test]
    fn unknown_resources_and_unexposed_scopes_are_named() {
        assert_eq!(parse("openid api://unknown/read").unwrap_err(), "api://unknown/read");
        let unexposed = format!("api://{SAMPLE_API_APP_ID}/delete_everything");
        assert_eq!(parse(&unexposed).unwrap_err(), unexposed);
        assert_eq!(parse("https://graph.microsoft.com/").unwrap_err(), "https://graph.microsoft.com/");
    }

    #[test]
    fn only_openid_connect_scopes_get_a_graph_user_read_token() {
        let resource = parse("openid profile").unwrap().token_resource();
        assert_eq!((resource.app_id.as_str(), resource.names), (GRAPH_APP_ID, vec!["User.Read".to_owned()]));
    }
}
