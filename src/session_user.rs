//! Who is signed in, as the UI sees it (a name, never a token).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The signed-in user's public details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    /// Display name from the ID token.
    pub name: String,
    /// `preferred_username`, usually the UPN.
    pub username: String,
}

#[cfg(feature = "ssr")]
impl From<&idweb_identity::SignedInUser> for AccountSummary {
    fn from(user: &idweb_identity::SignedInUser) -> Self {
        Self { name: user.name.clone(), username: user.username.clone() }
    }
}

/// The signed-in user of this session, or `None`.
#[server(prefix = "/api", endpoint = "current_user", output = crate::json_text::JsonText)]
pub async fn current_user() -> Result<Option<AccountSummary>, AppError> {
    let user = crate::server::context::maybe_user().await?;
    Ok(user.as_ref().map(AccountSummary::from))
}
