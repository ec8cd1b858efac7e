//! How scopes are compared: in the token cache (a token's grant against
//! what a call asks for) and against what a sign-in link may offer.

use std::collections::BTreeSet;

/// OpenID Connect scopes never appear in an access token's grant.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// Microsoft Graph's resource in the worldwide cloud, as a scope prefix.
const WORLDWIDE_GRAPH_PREFIX: &str = "https://graph.microsoft.com/";
/// Microsoft Graph's hosts in the national clouds (US Government L4 and DoD, China).
pub const NATIONAL_GRAPH_HOSTS: [&str; 3] = ["graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"];

/// How scopes are compared, in the cache and against what sign-in offers:
/// lower case (Microsoft treats them case-insensitively), without the
/// OpenID Connect ones, and without Graph's resource prefix, so
/// `https://graph.microsoft.us/User.Read` and `User.Read` (how the token
/// endpoint lists Graph scopes it granted) match.
#[derive(Debug, Clone)]
pub struct ScopeNormaliser {
    /// Graph resource prefixes (`https://graph.microsoft.com/`), lower case.
    graph_prefixes: Vec<String>,
}

impl Default for ScopeNormaliser {
    /// The worldwide cloud's Graph only.
    fn default() -> Self {
        Self { graph_prefixes: vec![WORLDWIDE_GRAPH_PREFIX.into()] }
    }
}

impl ScopeNormaliser {
    /// For the Graph `graph` describes: its base URL's origin
    /// (`https://graph.microsoft.us/` in the US Government cloud), the
    /// resource its configured scopes name, and the worldwide prefix unless
    /// the base URL is a national cloud's Graph (there the worldwide Graph is
    /// another resource, whose scopes must not pass for this one's).
    pub fn for_graph(graph: &crate::config::DownstreamApiConfig) -> Self {
        let national = graph.base_url.host_str().is_some_and(|host| NATIONAL_GRAPH_HOSTS.iter().any(|national| national.eq_ignore_ascii_case(host)));
        let mut normaliser = if national { Self { graph_prefixes: Vec::new() } } else { Self::default() };
        let origin = format!("{}/", graph.base_url.origin().ascii_serialization());
        let named = graph.scopes.iter().chain(graph.app_scopes.iter()).filter_map(|scope| {
            let (resource, _) = scope.rsplit_once('/')?;
            let url = url::Url::parse(resource).ok()?;
            matches!(url.scheme(), "https" | "http").then(|| format!("{}/", resource.trim_end_matches('/')))
        });
        for prefix in std::iter::once(origin).chain(named) {
            let prefix = prefix.to_ascii_lowercase();
            if !normaliser.graph_prefixes.contains(&prefix) {
                normaliser.graph_prefixes.push(prefix);
            }
        }
        normaliser
    }

    /// `scopes` as the cache compares them.
    pub fn normalise<'a>(&self, scopes: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        scopes
            .into_iter()
            .map(|scope| scope.trim().to_ascii_lowercase())
            .map(|scope| match self.graph_prefixes.iter().find(|prefix| scope.starts_with(prefix.as_str())) {
                Some(prefix) => scope[prefix.len()..].to_owned(),
                None => scope,
            })
            .filter(|scope| !scope.is_empty() && !OIDC_SCOPES.contains(&scope.as_str()))
            .collect()
    }
}

/// [`ScopeNormaliser::normalise`] for the worldwide cloud's Graph.
pub fn normalise_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    ScopeNormaliser::default().normalise(scopes)
}

#[cfg(test)]
mod tests {
    use super::normalise_scopes;

    #[test]
    fn normalising_drops_oidc_scopes_and_the_graph_prefix() {
        let scopes = normalise_scopes(["openid", "Profile", "offline_access", "https://graph.microsoft.com/User.Read", "Mail.Read"]);
        assert_eq!(scopes.into_iter().collect::<Vec<_>>(), vec!["mail.read", "user.read"]);
    }
}
