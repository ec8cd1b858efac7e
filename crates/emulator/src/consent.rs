//! Consent: which delegated scopes each user granted each app, remembered
//! across sign-ins, plus what an administrator consented for everyone.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::lock;

use crate::config::{AppRegistration, EmulatorConfig};
use crate::scopes::{ResourceScopes, ScopeRequest};

/// Consent given by users, per (user, app).
#[derive(Debug, Default)]
pub struct ConsentStore {
    granted: Mutex<HashMap<(String, String), BTreeSet<String>>>,
}

/// One scope the user has not consented to yet, for the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingScope {
    /// The resource's display name.
    pub resource: String,
    /// The scope name.
    pub name: String,
}

impl ConsentStore {
    /// The scopes of `request` that neither the user nor an administrator consented to.
    pub fn missing(&self, config: &EmulatorConfig, user_oid: &str, app: &AppRegistration, request: &ScopeRequest) -> Vec<PendingScope> {
        let consented = self.consented(config, user_oid, app);
        request
            .resources
            .iter()
            .flat_map(|resource| pending_in(resource, &consented))
            .collect()
    }

    /// Every scope of `request`, consented or not (what `prompt=consent` shows).
    pub fn all(request: &ScopeRequest) -> Vec<PendingScope> {
        request.resources.iter().flat_map(|resource| pending_in(resource, &BTreeSet::new())).collect()
    }

    /// Records that the user consented to every scope of `request`.
    pub fn grant(&self, user_oid: &str, app: &AppRegistration, request: &ScopeRequest) {
        let mut granted = lock(&self.granted);
        granted.entry((user_oid.to_owned(), app.client_id.clone())).or_default().extend(request.consent_keys());
    }

    /// Whether the user (or an administrator) consented to `key` (`{app id}/{scope}`).
    pub fn covers(&self, config: &EmulatorConfig, user_oid: &str, app: &AppRegistration, key: &str) -> bool {
        self.consented(config, user_oid, app).contains(key)
    }

    /// The names of the scopes consented for `resource_app_id` (what `.default` means for a user).
    pub fn consented_names(&self, config: &EmulatorConfig, user_oid: &str, app: &AppRegistration, resource_app_id: &str) -> Vec<String> {
        let prefix = format!("{}/", resource_app_id.to_ascii_lowercase());
        self.consented(config, user_oid, app)
            .into_iter()
            .filter_map(|key| key.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }

    fn consented(&self, config: &EmulatorConfig, user_oid: &str, app: &AppRegistration) -> BTreeSet<String> {
        let mut consented: BTreeSet<String> = app
            .admin_consented_scopes
            .iter()
            .filter_map(|scope| ScopeRequest::parse(scope, config).ok())
            .flat_map(|parsed| parsed.consent_keys())
            .collect();
        if let Some(by_user) = lock(&self.granted).get(&(user_oid.to_owned(), app.client_id.clone())) {
            consented.extend(by_user.iter().cloned());
        }
        consented
    }
}

fn pending_in(resource: &ResourceScopes, consented: &BTreeSet<String>) -> Vec<PendingScope> {
    resource
        .names
        .iter()
        .zip(resource.consent_keys())
        .filter(|(_, key)| !consented.contains(key))
        .map(|(name, _)| PendingScope { resource: resource.display_name.clone(), name: name.clone() })
        .collect()
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_consent_covers_everyone_and_user_consent_is_remembered_per_app() {
        let config = EmulatorConfig::default();
        let app = &config.apps[0];
        let store = ConsentStore::default();
        let request = ScopeRequest::parse("openid User.Read Mail.Read", &config).unwrap();
        let missing = store.missing(&config, "adele", app, &request);
        assert_eq!(missing.iter().map(|scope| scope.name.as_str()).collect::<Vec<_>>(), vec!["Mail.Read"]);
        store.grant("adele", app, &request);
        assert!(store.missing(&config, "adele", app, &request).is_empty());
        assert_eq!(store.missing(&config, "alex", app, &request).len(), 1, "consent is per user");
        assert_eq!(store.consented_names(&config, "adele", app, crate::GRAPH_APP_ID), vec!["mail.read", "user.read"]);
    }

    #[test]
    fn prompt_consent_lists_every_scope() {
        let config = EmulatorConfig::default();
        let request = ScopeRequest::parse("openid User.Read Mail.Read", &config).unwrap();
        assert_eq!(ConsentStore::all(&request).len(), 2);
    }
}
