//! The end-session endpoint: ends the emulator's session in this browser,
//! loads each signed-in app's front-channel logout URL, and returns only to
//! a `post_logout_redirect_uri` the app registered.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use url::Url;

use crate::error::ErrorPage;
use crate::html::{escape, page};
use crate::{sso, EmulatorState};

/// How long the sign-out page waits for front-channel iframes before leaving anyway.
const FRONT_CHANNEL_WAIT_MS: u32 = 3000;

/// `GET /{tenant}/oauth2/v2.0/logout`
pub async fn logout(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if state.config.tenant_scope(&tenant).is_none() {
        return ErrorPage::new(90002, format!("Tenant '{tenant}' not found.")).into_response();
    }
    let ended = state.sso.from_headers(&headers).and_then(|(id, _)| state.sso.sign_out(&id));
    // OpenID Connect Front-Channel Logout 1.0: each app's URL with iss and sid.
    let front_channel: Vec<Url> = ended
        .iter()
        .flat_map(|session| session.apps.iter().map(move |client_id| (session, client_id)))
        .filter_map(|(session, client_id)| {
            let mut url = Url::parse(state.config.app(client_id)?.front_channel_logout_uri.as_ref()?).ok()?;
            url.query_pairs_mut().append_pair("iss", &state.issuer).append_pair("sid", &session.sid);
            Some(url)
        })
        .collect();
    // Back-channel logout: a logout token to each app that registered a URL, sent before the browser moves on.
    if let Some(session) = &ended {
        send_back_channel_logouts(&state, session).await;
    }
    let return_to = allowed_return(&state, &params);
    tracing::info!(front_channel = front_channel.len(), returns = return_to.is_some(), "signed out at the emulator");
    let mut response = match (&return_to, front_channel.is_empty()) {
        (Some(target), true) => Redirect::to(target.as_str()).into_response(),
        _ => signed_out_page(&params, return_to.as_ref(), &front_channel).into_response(),
    };
    response.headers_mut().append(header::SET_COOKIE, sso::set_cookie(None));
    response
}

/// How long the end-session endpoint waits for each app's back-channel endpoint.
const BACK_CHANNEL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// POSTs a logout token (with `sid` and the app's pairwise `sub`) to every
/// app of `session` that registered a back-channel logout URL. Failures are
/// logged, never shown: the user's sign-out at the provider stands.
async fn send_back_channel_logouts(state: &EmulatorState, session: &sso::SsoSession) {
    let Ok(http) = reqwest::Client::builder().timeout(BACK_CHANNEL_TIMEOUT).redirect(reqwest::redirect::Policy::none()).build() else {
        return;
    };
    for client_id in &session.apps {
        let Some(app) = state.config.app(client_id) else { continue };
        let Some(uri) = &app.backchannel_logout_uri else { continue };
        let subject = state.config.user(&session.user_oid).map(|user| crate::tokens::pairwise_subject(user, client_id));
        let token = state.minter().logout_token(client_id, Some(&session.sid), subject.as_deref());
        match http.post(uri).form(&[("logout_token", token)]).send().await {
            Ok(response) => tracing::info!(client_id = %client_id, status = response.status().as_u16(), "back-channel logout sent"),
            Err(error) => tracing::warn!(client_id = %client_id, %error, "back-channel logout failed"),
        }
    }
}

/// The `post_logout_redirect_uri` (with `state`) if the app registered it.
fn allowed_return(state: &EmulatorState, params: &HashMap<String, String>) -> Option<Url> {
    let app = state.config.app(params.get("client_id")?)?;
    let requested = params.get("post_logout_redirect_uri")?;
    if !app.post_logout_redirect_uris.iter().any(|registered| registered == requested) {
        return None;
    }
    let mut target = Url::parse(requested).ok()?;
    if let Some(state_param) = params.get("state") {
        target.query_pairs_mut().append_pair("state", state_param);
    }
    Some(target)
}

/// The page shown while front-channel logouts load, or when there is nowhere to return to.
fn signed_out_page(params: &HashMap<String, String>, return_to: Option<&Url>, front_channel: &[Url]) -> Html<String> {
    let frames: String = front_channel
        .iter()
        .map(|url| format!("<iframe class=\"front-channel\" src=\"{}\" hidden></iframe>", escape(url.as_str())))
        .collect();
    let refused = match (return_to, params.get("post_logout_redirect_uri")) {
        (None, Some(uri)) => format!(
            "<p class=\"error\">The address <code>{}</code> is not registered for this app, so you were not sent back to it.</p>",
            escape(uri)
        ),
        _ => String::new(),
    };
    let onward = match return_to {
        Some(target) => {
            let target = escape(target.as_str());
            format!(
                "<p><a id=\"return\" href=\"{target}\">Return to the app</a></p>\
                 <script>(function(){{var frames=document.querySelectorAll('iframe.front-channel'),left=frames.length;\
                 function go(){{location.replace(document.getElementById('return').href)}}\
                 if(!left){{go();return}}frames.forEach(function(f){{f.addEventListener('load',function(){{if(--left===0)go()}})}});\
                 setTimeout(go,{FRONT_CHANNEL_WAIT_MS})}})();</script>"
            )
        }
        None => String::new(),
    };
    Html(page(
        "Signed out",
        &format!("<h1>You signed out of your account</h1>{refused}<p>It's a good idea to close all browser windows.</p>{frames}{onward}"),
    ))
}
