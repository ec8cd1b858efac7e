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

/// The signed-in user of this session, or `None`.
#[server(prefix = "/api", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<AccountSummary>, AppError> {
    let user = crate::server::context::maybe_user().await?;
    Ok(user.map(|user| AccountSummary { name: user.name, username: user.username }))
}
