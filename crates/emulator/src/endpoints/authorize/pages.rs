//! The pages a person sees at the authorize endpoint: the account picker,
//! the consent page, and the auto-submitted form of `response_mode=form_post`.

use std::collections::HashMap;

use axum::response::Html;
use url::Url;

use super::request::AuthorizeRequest;
use crate::config::TestUser;
use crate::consent::PendingScope;
use crate::html::{escape, page};
use crate::EmulatorState;

/// Form fields the pages add; never echoed back as request parameters.
pub const PAGE_FIELDS: [&str; 4] = ["user_oid", "username", "cancel", "consent"];

/// The request's parameters as hidden inputs, so the page's form repeats the request.
fn hidden_fields(params: &HashMap<String, String>) -> String {
    let mut names: Vec<&String> = params.keys().filter(|name| !PAGE_FIELDS.contains(&name.as_str())).collect();
    names.sort();
    names
        .into_iter()
        .map(|name| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(&params[name])))
        .collect()
}

fn form_action(tenant: &str) -> String {
    format!("/{}/oauth2/v2.0/authorize", escape(tenant))
}

/// The users the picker offers: those of `domain_hint`'s domain when any
/// match, the `login_hint` user first.
fn offered_users<'a>(state: &'a EmulatorState, request: &AuthorizeRequest) -> Vec<&'a TestUser> {
    let in_domain = |user: &&TestUser, domain: &str| {
        user.user_principal_name.rsplit_once('@').is_some_and(|(_, user_domain)| user_domain.eq_ignore_ascii_case(domain))
    };
    let mut users: Vec<&TestUser> = match &request.domain_hint {
        Some(domain) if state.config.users.iter().any(|user| in_domain(&user, domain)) => {
            state.config.users.iter().filter(|user| in_domain(user, domain)).collect()
        }
        _ => state.config.users.iter().collect(),
    };
    if let Some(hint) = &request.login_hint {
        users.sort_by_key(|user| !user.user_principal_name.eq_ignore_ascii_case(hint));
    }
    users
}

/// The account picker: one button per offered user, a username field, Cancel.
pub fn sign_in_page(
    state: &EmulatorState,
    tenant: &str,
    request: &AuthorizeRequest,
    params: &HashMap<String, String>,
    problem: Option<&str>,
) -> Html<String> {
    let users: String = offered_users(state, request)
        .into_iter()
        .map(|user| {
            format!(
                "<button type=\"submit\" name=\"user_oid\" value=\"{}\">{}<small>{}</small></button>",
                escape(&user.object_id),
                escape(&user.display_name),
                escape(&user.user_principal_name)
            )
        })
        .collect();
    let problem = problem.map(|text| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(text))).unwrap_or_default();
    let hint = request.login_hint.as_deref().map(escape).unwrap_or_default();
    Html(page(
        "Sign in",
        &format!(
            "<h1>Pick an account</h1><p>to continue to <strong>{app}</strong></p>{problem}\
             <form method=\"post\" action=\"{action}\">{hidden}{users}\
             <label for=\"username\">Or sign in with another account</label>\
             <input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" placeholder=\"someone@contoso.example\" value=\"{hint}\">\
             <button type=\"submit\" name=\"signin\" value=\"username\">Next</button>\
             <button type=\"submit\" name=\"cancel\" value=\"1\" class=\"cancel\">Cancel</button></form>",
            app = escape(&request.app.display_name),
            action = form_action(tenant),
            hidden = hidden_fields(params),
        ),
    ))
}

/// The consent page: the scopes not consented yet, Accept or Cancel.
pub fn consent_page(
    tenant: &str,
    request: &AuthorizeRequest,
    params: &HashMap<String, String>,
    user: &TestUser,
    scopes: &[PendingScope],
) -> Html<String> {
    let items: String = scopes
        .iter()
        .map(|scope| format!("<li><code>{}</code> <small>({})</small></li>", escape(&scope.name), escape(&scope.resource)))
        .collect();
    Html(page(
        "Permissions requested",
        &format!(
            "<h1>Permissions requested</h1><p><strong>{app}</strong> would like to, for <strong>{who}</strong>:</p>\
             <ul class=\"scopes\">{items}</ul>\
             <form method=\"post\" action=\"{action}\">{hidden}\
             <input type=\"hidden\" name=\"user_oid\" value=\"{oid}\">\
             <button type=\"submit\" name=\"consent\" value=\"accept\">Accept</button>\
             <button type=\"submit\" name=\"consent\" value=\"decline\" class=\"cancel\">Cancel</button></form>",
            app = escape(&request.app.display_name),
            who = escape(&user.user_principal_name),
            action = form_action(tenant),
            hidden = hidden_fields(params),
            oid = escape(&user.object_id),
        ),
    ))
}

/// `response_mode=form_post`: a form POSTing the response to the app,
/// submitted by script, or by hand without JavaScript.
pub fn form_post(redirect_uri: &Url, pairs: &[(&str, String)]) -> Html<String> {
    let fields: String = pairs
        .iter()
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value)))
        .collect();
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Working...</title></head>\
         <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{action}\">{fields}\
         <noscript><p>Script is disabled. Press Continue to go back to the app.</p><button type=\"submit\">Continue</button></noscript>\
         </form></body></html>",
        action = escape(redirect_uri.as_str()),
    ))
}
