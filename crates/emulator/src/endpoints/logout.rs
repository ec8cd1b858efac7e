//! The end-session endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use url::Url;

use crate::error::ErrorPage;
use crate::html::{escape, page};
use crate::EmulatorState;

/// `GET /{tenant}/oauth2/v2.0/logout`: redirects only to a
/// `post_logout_redirect_uri` the app registered; otherwise shows a page.
pub async fn logout(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if state.config.tenant_scope(&tenant).is_none() {
        return ErrorPage::new(90002, format!("Tenant '{tenant}' not found.")).into_response();
    }
    let app = params
        .get("client_id")
        .and_then(|client_id| state.config.app(client_id));
    let requested = params.get("post_logout_redirect_uri");
    let allowed = match (app, requested) {
        (Some(app), Some(uri)) if app.post_logout_redirect_uris.iter().any(|registered| registered == uri) => {
            Url::parse(uri).ok()
        }
        _ => None,
    };
    if let Some(mut target) = allowed {
        if let Some(state_param) = params.get("state") {
            target.query_pairs_mut().append_pair("state", state_param);
        }
        tracing::info!("signed out; returning to the app");
        return Redirect::to(target.as_str()).into_response();
    }
    let note = match requested {
        Some(uri) => format!(
            "<p class=\"error\">The address <code>{}</code> is not registered for this app, so you were not sent back to it.</p>",
            escape(uri)
        ),
        None => String::new(),
    };
    Html(page("Signed out", &format!("<h1>You signed out of your account</h1>{note}<p>It's a good idea to close all browser windows.</p>"))).into_response()
}
