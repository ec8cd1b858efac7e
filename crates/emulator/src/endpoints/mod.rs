//! The identity platform's v2.0 endpoints, one module each.

pub mod authorize;
pub mod discovery;
pub mod logout;
pub mod token;

use crate::error::OAuthError;
use crate::EmulatorState;

/// Rejects a tenant path segment that is not ours, like Microsoft (AADSTS90002).
pub fn check_tenant(state: &EmulatorState, tenant: &str) -> Result<(), OAuthError> {
    if state.config.is_tenant(tenant) {
        Ok(())
    } else {
        Err(OAuthError::new("invalid_tenant", 90002, format!("Tenant '{tenant}' not found.")))
    }
}
