//! The identity platform's v2.0 endpoints, one module each.

pub mod authorize;
pub mod discovery;
pub mod logout;
pub mod token;

use crate::config::TenantScope;
use crate::error::OAuthError;
use crate::EmulatorState;

/// What the tenant path segment selects; an unknown tenant is refused like
/// Microsoft does (AADSTS90002).
pub fn check_tenant(state: &EmulatorState, tenant: &str) -> Result<TenantScope, OAuthError> {
    state
        .config
        .tenant_scope(tenant)
        .ok_or_else(|| OAuthError::new("invalid_tenant", 90002, format!("Tenant '{tenant}' not found.")))
}
