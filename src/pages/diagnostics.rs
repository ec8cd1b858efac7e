//! Diagnostics: what idweb knows about the signed-in user's sign-in and
//! tokens — the ID token's claims, which scopes are cached until when, and
//! where the last token came from. Never a token value.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth_links::PageFailure;
use crate::error::AppError;

/// One cached access token, described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedTokenRow {
    /// Its scopes, space-separated.
    pub scopes: String,
    /// When it expires, relative to now ("in 59 min").
    pub expires: String,
    /// When it is due for renewal, if the provider said (`refresh_in`).
    pub renew: Option<String>,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// ID token claims as name and value.
    pub claims: Vec<(String, String)>,
    /// Cached access tokens.
    pub tokens: Vec<CachedTokenRow>,
    /// Whether a refresh token is cached.
    pub has_refresh_token: bool,
    /// Where the last token came from.
    pub last_source: String,
}

/// "in 59 min" / "3 min ago" for a time in seconds since the epoch.
#[cfg(any(feature = "ssr", test))]
fn relative(at_secs: i64, now_secs: i64) -> String {
    let minutes = (at_secs - now_secs) / 60;
    match minutes {
        0 => "now".into(),
        future if future > 0 => format!("in {future} min"),
        past => format!("{} min ago", -past),
    }
}

/// The signed-in user's sign-in and token cache, described.
#[server(prefix = "/api", endpoint = "my_diagnostics", output = crate::json_text::JsonText)]
pub async fn my_diagnostics() -> Result<Diagnostics, AppError> {
    let (user, partition) =
        crate::server::context::for_user(|identity, user| async move { Ok((user.clone(), identity.tokens().partition(&user).await?)) }).await?;
    let summary = partition.map(|partition| partition.summary());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_secs() as i64).unwrap_or(0);
    let id_token = &user.id_token;
    let claims = vec![
        ("iss".to_owned(), id_token.issuer.clone()),
        ("aud".to_owned(), id_token.audiences.join(" ")),
        ("sub".to_owned(), id_token.subject.clone()),
        ("oid".to_owned(), user.object_id.clone()),
        ("tid".to_owned(), user.tenant_id.clone()),
        ("name".to_owned(), user.name.clone()),
        ("preferred_username".to_owned(), user.username.clone()),
        ("iat".to_owned(), relative(id_token.issued_at, now)),
        ("exp".to_owned(), relative(id_token.expires_at, now)),
    ];
    let (tokens, has_refresh_token, last_source) = match summary {
        Some(summary) => (
            summary
                .access_tokens
                .into_iter()
                .map(|token| CachedTokenRow {
                    scopes: token.scopes.join(" "),
                    expires: relative(token.expires_at as i64, now),
                    renew: token.refresh_on.map(|at| relative(at as i64, now)),
                })
                .collect(),
            summary.has_refresh_token,
            summary.last_source.map(|source| format!("{source:?}")).unwrap_or_else(|| "—".into()),
        ),
        None => (Vec::new(), false, "nothing cached".into()),
    };
    Ok(Diagnostics { claims, tokens, has_refresh_token, last_source })
}

/// The diagnostics page, for what the server read (or why it could not).
#[component]
pub fn DiagnosticsPage(diagnostics: Result<Diagnostics, AppError>) -> impl IntoView {
    let body = match diagnostics {
        Ok(diagnostics) => view! { <DiagnosticsTables diagnostics/> }.into_any(),
        Err(error) => view! { <PageFailure error return_to="/diagnostics" what="your diagnostics"/> }.into_any(),
    };
    view! {
        <section class="card">
            <h1>"Diagnostics"</h1>
            {body}
        </section>
    }
}

#[component]
fn DiagnosticsTables(diagnostics: Diagnostics) -> impl IntoView {
    view! {
        <h2>"ID token claims"</h2>
        <table class="table" data-testid="id-token-claims">
            <tbody>
                {diagnostics.claims.into_iter().map(|(name, value)| view! {
                    <tr><th scope="row"><code>{name}</code></th><td>{value}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Token cache"</h2>
        <p>
            "Refresh token: " <strong data-testid="has-refresh-token">{if diagnostics.has_refresh_token { "cached" } else { "none" }}</strong>
            ". Last token from: " <strong data-testid="last-source">{diagnostics.last_source}</strong> "."
        </p>
        <table class="table" data-testid="cached-tokens">
            <thead><tr><th scope="col">"Scopes"</th><th scope="col">"Expires"</th><th scope="col">"Renew"</th></tr></thead>
            <tbody>
                {diagnostics.tokens.into_iter().map(|token| view! {
                    <tr>
                        <td data-testid="cached-scopes">{token.scopes}</td>
                        <td class="when">{token.expires}</td>
                        <td class="when">{token.renew.unwrap_or_else(|| "—".into())}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::relative;

    #[test]
    fn times_read_relative_to_now() {
        assert_eq!(relative(1_000 + 3_540, 1_000), "in 59 min");
        assert_eq!(relative(1_000 - 180, 1_000), "3 min ago");
        assert_eq!(relative(1_000 + 30, 1_000), "now");
    }
}
