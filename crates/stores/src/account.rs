//! Whose partition: the key every user's tokens are kept under.

use serde::{Deserialize, Serialize};

/// MSAL's home account id: `{oid}.{tid}`. Users are keyed by it, never by
/// email or UPN, which can change or be reassigned (IDT-12).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HomeAccountId(String);

impl HomeAccountId {
    /// Builds the id from the object id and tenant id claims.
    pub fn new(object_id: &str, tenant_id: &str) -> Self {
        Self(format!("{object_id}.{tenant_id}"))
    }

    /// The id from its `{oid}.{tid}` text (as a shared cache or a stored record names it).
    pub fn from_text(text: &str) -> Self {
        Self(text.to_owned())
    }

    /// The `{oid}.{tid}` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
