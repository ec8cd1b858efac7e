//! idweb's engine in an Axum app of its own: `/` greets the signed-in user
//! with their Microsoft Graph name, `/todo` calls the `TodoList` API named
//! in `appsettings.json` for them, and the engine's routes sign in and out.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use idweb_identity::{CurrentUser, Identity, IdentityError, MaybeUser, SIGN_IN_ERROR_PATH, SIGN_OUT_PATH};

/// The app: its pages, the engine's sign-in routes, the engine's session layer.
pub fn app(identity: Arc<Identity>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/todo", get(todo))
        .route(SIGN_IN_ERROR_PATH, get(sign_in_failed))
        .with_state(identity.clone())
        .merge(identity.router())
        .layer(identity.session_layer())
}

async fn home(State(identity): State<Arc<Identity>>, MaybeUser(user): MaybeUser) -> Result<Html<String>, IdentityError> {
    let Some(user) = user else {
        return Ok(Html(r#"<a href="/auth/sign-in?returnUrl=/">Sign in</a>"#.into()));
    };
    // Not signed in, consent missing: the error's own answer sends the browser where it must go.
    let me = identity.graph().me(&user).await?;
    let name = escape(me.display_name.as_deref().unwrap_or("you"));
    Ok(Html(format!(
        r#"<p>Hello, {name}.</p><a href="/todo">To-do</a><form method="post" action="{SIGN_OUT_PATH}"><button>Sign out</button></form>"#
    )))
}

async fn todo(State(identity): State<Arc<Identity>>, CurrentUser(user): CurrentUser) -> Result<Html<String>, IdentityError> {
    let items: Vec<serde_json::Value> = identity.downstream().get_for_user("TodoList", &user, None).await?;
    let titles: String = items.iter().filter_map(|item| item["title"].as_str()).map(|title| format!("<li>{}</li>", escape(title))).collect();
    Ok(Html(format!("<p>{} to-do items</p><ul>{titles}</ul>", items.len())))
}

async fn sign_in_failed(Query(query): Query<HashMap<String, String>>) -> Html<String> {
    let reason = query.get("reason").map(String::as_str).unwrap_or("unknown");
    Html(format!(r#"<p>That did not work ({}).</p><a href="/">Home</a>"#, escape(reason)))
}

/// Text from Graph or an API, safe inside HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
