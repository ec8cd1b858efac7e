//! The ceiling of the Profile page benchmark: what the page costs with no
//! identity machinery at all. One Axum handler calls Microsoft Graph `/me`
//! with a fixed access token through reqwest and renders the same fields
//! as idweb's Profile page in a document of the same shape. No session, no
//! token cache, no router beyond one route: whatever idweb spends above
//! this is the price of its features.
//!
//! Settings come from the environment (the benchmark script sets them):
//! `CEILING_ADDR` (listen), `CEILING_GRAPH` (Graph's base URL),
//! `CEILING_TOKEN` (a user's access token for Graph), `CEILING_CA_FILE`
//! (a PEM CA to trust, the emulator's).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

struct Ceiling {
    http: reqwest::Client,
    me: String,
    token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    display_name: Option<String>,
    mail: Option<String>,
    user_principal_name: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    job_title: Option<String>,
    office_location: Option<String>,
}

fn setting(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let address = setting("CEILING_ADDR")?;
    let graph = setting("CEILING_GRAPH")?;
    let token = setting("CEILING_TOKEN")?;
    let mut http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(20));
    if let Ok(ca_file) = std::env::var("CEILING_CA_FILE") {
        let pem = std::fs::read(&ca_file).map_err(|error| format!("{ca_file}: {error}"))?;
        let certificate = reqwest::Certificate::from_pem(&pem).map_err(|error| format!("{ca_file}: {error}"))?;
        http = http.add_root_certificate(certificate);
    }
    let http = http.build().map_err(|error| error.to_string())?;
    let state = Arc::new(Ceiling { http, me: format!("{}/me", graph.trim_end_matches('/')), token });
    let app = Router::new().route("/profile", get(profile)).with_state(state);
    let listener = tokio::net::TcpListener::bind(&address).await.map_err(|error| format!("{address}: {error}"))?;
    axum::serve(listener, app).await.map_err(|error| error.to_string())
}

async fn profile(State(ceiling): State<Arc<Ceiling>>) -> Response {
    let answer = ceiling.http.get(&ceiling.me).bearer_auth(&ceiling.token).send().await;
    let me = match answer {
        Ok(response) if response.status().is_success() => response.json::<Me>().await.ok(),
        _ => None,
    };
    match me {
        Some(me) => ([(header::CACHE_CONTROL, "no-store")], Html(render(&me))).into_response(),
        None => (StatusCode::BAD_GATEWAY, "Graph did not answer").into_response(),
    }
}

/// The Profile page's document: head, header, the profile card's fields.
fn render(me: &Me) -> String {
    let field = |value: &Option<String>| escape(value.as_deref().unwrap_or("—"));
    let name = field(&me.display_name);
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><link rel="stylesheet" href="/pkg/idweb.css"/><title>idweb</title></head><body><header class="site-header"><a class="brand" href="/">idweb</a><nav><a href="/">Home</a><a href="/profile" aria-current="page">Profile</a><a href="/mail">Mail</a><a href="/todo">To-do</a></nav><div class="account"><span class="account-name">{name}</span><a href="/diagnostics" class="account-link">Diagnostics</a><form method="post" action="/auth/sign-out" class="inline-form"><button type="submit" class="button">Sign out</button></form></div></header><main><section class="card"><h1>Your profile</h1><img class="avatar" src="/profile/photo" alt="Photo of {name}" width="96" height="96"/><dl class="fields"><dt>Name</dt><dd>{name}</dd><dt>Email</dt><dd>{mail}</dd><dt>Username</dt><dd>{upn}</dd></dl><button type="button" class="button" aria-expanded="false" aria-controls="profile-details">Show details</button><dl class="fields" id="profile-details" hidden><dt>First name</dt><dd>{given}</dd><dt>Last name</dt><dd>{surname}</dd><dt>Job title</dt><dd>{job}</dd><dt>Office</dt><dd>{office}</dd></dl></section></main></body></html>"#,
        mail = field(&me.mail),
        upn = field(&me.user_principal_name),
        given = field(&me.given_name),
        surname = field(&me.surname),
        job = field(&me.job_title),
        office = field(&me.office_location),
    )
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}
