//! The pages as Axum routes. Each handler first reads what its page shows
//! (the page's own server functions, called in this process), then renders
//! the whole document in one synchronous pass.
//!
//! Pages render on the server only (the browser hydrates islands, not
//! pages), so a client-side router's matching, resources, `<Suspense>` and
//! a streaming render would only be cost per request: before this module
//! they were about half of a Profile request's instructions
//! (docs/BENCHMARKS.md).
//!
//! Every render gets the same context a server function sees (the request's
//! parts, `ResponseOptions`, the engine) in a root owner of its own that is
//! never left current on the worker thread ([`super::owner`], ISO-02). The
//! request's parts carry one [`PageUser`] in their extensions, so the header
//! and the page look the session's user up once, and nothing outside this
//! request can find it. A server function's status (401, 403, 502...) and
//! headers (a redirect to consent, the page's CSP) become the page's.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter};
use axum::Router;
use idweb_identity::Identity;
use idweb_routes::SignInError;
use leptos::prelude::*;
use leptos::reactive::computed::ScopedFuture;
use leptos_axum::{ResponseOptions, ResponseParts};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::context::PageUser;
use super::owner::fresh_root;
use super::page_head::PageHead;
use crate::app::{document, Frame};
use crate::pages::{
    mail_count, my_diagnostics, my_messages, my_profile, my_todos, DiagnosticsPage, HomePage, MailPage, NotFoundPage, ProfilePage,
    SignInErrorPage, TodoPage,
};
use crate::error::AppError;
use crate::session_user::{current_user, AccountSummary};

const HOME: &str = "/";
const PROFILE: &str = "/profile";
const MAIL: &str = "/mail";
const DIAGNOSTICS: &str = "/diagnostics";
const TODO: &str = "/todo";
/// The pages a path with a slash after it leads to (as the router before
/// took them); the home page is `/` itself.
const PAGES_BELOW_HOME: [&str; 5] = [PROFILE, MAIL, DIAGNOSTICS, TODO, idweb_routes::SIGN_IN_ERROR_PATH];

/// What every page handler needs.
#[derive(Clone)]
struct PageState {
    identity: Arc<Identity>,
    head: Arc<PageHead>,
    /// The build's static files (`/pkg/...`), precompressed ones preferred.
    files: ServeDir,
}

/// The pages and, for any other path, a file of the build or the not-found page.
pub fn page_routes(identity: Arc<Identity>, options: LeptosOptions) -> Router {
    // No directory listings or index files: a folder answers 404, never a redirect.
    let files = ServeDir::new(&*options.site_root).precompressed_gzip().precompressed_br().append_index_html_on_directories(false);
    let provider_origin = identity.config().azure_ad.instance.origin().ascii_serialization();
    let head = Arc::new(PageHead::new(options, provider_origin));
    let state = PageState { identity: identity.clone(), head, files };
    Router::new()
        .route(HOME, get(home))
        .route(PROFILE, get(profile))
        .route(MAIL, get(mail))
        .route(DIAGNOSTICS, get(diagnostics))
        .route(TODO, get(todo))
        .route(idweb_routes::SIGN_IN_ERROR_PATH, get(sign_in_error))
        .fallback(file_or_not_found)
        .with_state(state)
}

/// One route per registered server function (its path and method), run
/// with the engine in context, each call under a root owner of its own:
/// leptos_axum makes the call's owner a child of whatever owner is current,
/// and the call must inherit nothing from another request (ISO-02).
pub fn server_function_routes(identity: Arc<Identity>) -> Router {
    leptos::server_fn::axum::server_fn_paths().fold(Router::new(), |router, (path, method)| {
        let identity = identity.clone();
        let handler = move |request: Request| {
            let identity = identity.clone();
            let call = leptos_axum::handle_server_fns_with_context(move || provide_context(identity.clone()), request);
            let root = fresh_root();
            root.with(|| ScopedFuture::new(call))
        };
        match MethodFilter::try_from(method.clone()) {
            Ok(filter) => router.route(path, on(filter, handler)),
            Err(_) => {
                // server_fn offers GET, POST, PUT, PATCH and DELETE only, all of which Axum can route.
                tracing::error!(path, %method, "a server function uses a method Axum cannot route; it is not served");
                router
            }
        }
    })
}

async fn home(State(state): State<PageState>, request: Request) -> Response {
    render(&state, request, StatusCode::OK, current_user(), |user| view! { <HomePage user/> }).await
}

async fn profile(State(state): State<PageState>, request: Request) -> Response {
    render(&state, request, StatusCode::OK, my_profile(), |profile| view! { <ProfilePage profile/> }).await
}

async fn mail(State(state): State<PageState>, request: Request) -> Response {
    let count = mail_count(query_value(&request, "count").as_deref());
    render(&state, request, StatusCode::OK, my_messages(count), move |messages| view! { <MailPage count messages/> }).await
}

async fn diagnostics(State(state): State<PageState>, request: Request) -> Response {
    render(&state, request, StatusCode::OK, my_diagnostics(), |diagnostics| view! { <DiagnosticsPage diagnostics/> }).await
}

async fn todo(State(state): State<PageState>, request: Request) -> Response {
    render(&state, request, StatusCode::OK, my_todos(), |todos| view! { <TodoPage todos/> }).await
}

async fn sign_in_error(State(state): State<PageState>, request: Request) -> Response {
    // Only what the engine could have written survives reading (AUTHZ-05).
    let page = SignInError::read(|name| query_value(&request, name));
    render(&state, request, StatusCode::OK, async {}, move |()| view! { <SignInErrorPage page/> }).await
}

/// A page's path with a slash after it (as the router before took it), a
/// file of the build (GET and HEAD only), else the not-found page.
async fn file_or_not_found(State(state): State<PageState>, request: Request) -> Response {
    if let Some(page) = page_without_trailing_slash(request.uri()) {
        return (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, page)]).into_response();
    }
    if request.method() == Method::GET || request.method() == Method::HEAD {
        // ServeDir cannot fail (its error type is Infallible); it answers 404 itself for a missing file.
        let Ok(mut file) = state.files.clone().oneshot(file_request(&request)).await;
        // A file, part of one, "not modified" or "no such range"; anything else (404, 405) is the not-found page.
        let status = file.status();
        if [StatusCode::OK, StatusCode::PARTIAL_CONTENT, StatusCode::NOT_MODIFIED, StatusCode::RANGE_NOT_SATISFIABLE].contains(&status) {
            let headers = file.headers_mut();
            // Same names from build to build: a browser may keep them but must check again.
            headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-cache"));
            // A brotli or gzip copy is chosen by Accept-Encoding: a shared cache must key on it.
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            return file.into_response();
        }
    }
    render(&state, request, StatusCode::NOT_FOUND, async {}, |()| view! { <NotFoundPage/> }).await
}

/// `/profile/?x` -> `/profile?x` for the pages; `None` for any other path.
fn page_without_trailing_slash(uri: &axum::http::Uri) -> Option<HeaderValue> {
    let page = uri.path().strip_suffix('/').filter(|page| PAGES_BELOW_HOME.contains(page))?;
    let location = match uri.query() {
        Some(query) => format!("{page}?{query}"),
        None => page.to_owned(),
    };
    HeaderValue::from_str(&location).ok()
}

/// What ServeDir needs of `request`: its method, path (never a scheme or
/// host the request line may carry) and the headers that choose an
/// encoding or allow a 304 (not its cookies).
fn file_request(request: &Request) -> Request {
    let mut file_request = Request::new(Body::empty());
    *file_request.method_mut() = request.method().clone();
    if let Some(path) = request.uri().path_and_query() {
        *file_request.uri_mut() = axum::http::Uri::from(path.clone());
    }
    for name in [header::ACCEPT_ENCODING, header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE, header::RANGE] {
        if let Some(value) = request.headers().get(&name) {
            file_request.headers_mut().insert(name, value.clone());
        }
    }
    file_request
}

/// The first value of query parameter `name`, percent-decoded.
fn query_value(request: &Request, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// Reads the page's data with `load` (server functions, in this request's
/// context), the header's user, then renders the document with `page`.
/// `status` is the page's own; a server function's status wins over it.
async fn render<Data, View>(
    state: &PageState,
    request: Request,
    status: StatusCode,
    load: impl Future<Output = Data> + Send,
    page: impl FnOnce(Data) -> View,
) -> Response
where
    View: IntoView,
{
    let (mut parts, _body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let response_options = ResponseOptions::default();
    // In the request itself: the page's server functions find it there, and no other request can.
    let page_user = PageUser::default();
    parts.extensions.insert(page_user.clone());
    // A root of its own, never left current (ISO-02), without a shared
    // context: the islands here take props only (an island with `children`,
    // or a resource inside one, needs the shared context and its data
    // script, which this render does not write).
    let owner = fresh_root();
    owner.with(|| {
        provide_context(parts);
        provide_context(response_options.clone());
        provide_context(state.identity.clone());
    });
    // Page data first: its failure sets the status, and the user it looked up serves the header.
    let (data, user) = owner.with(|| ScopedFuture::new(async { (load.await, header_user(&page_user).await) })).await;
    let head = state.head.fresh();
    let html = owner.with(|| document(head.html, Frame { path, user }, page(data)).to_html());
    drop(owner);
    let ResponseParts { status: chosen_status, headers } = std::mem::take(&mut *response_options.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()));
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = chosen_status.unwrap_or(status);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().extend(headers);
    if let Some(policy) = head.policy {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Who the header names: the user the page's server functions looked up
/// (or their failed look-up), else (a page that reads no user data) asked now.
async fn header_user(page_user: &PageUser) -> Result<Option<AccountSummary>, AppError> {
    match page_user.known() {
        Some(Ok(user)) => Ok(user.as_ref().map(AccountSummary::from)),
        Some(Err(error)) => Err(error.clone()),
        None => current_user().await,
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::Request;
    use axum::http::header;

    use super::{file_request, query_value};

    #[test]
    fn query_values_are_decoded_and_the_first_one_wins() {
        let request = Request::get("/auth/error?reason=expired&x=%3Cb%3E+y&reason=other").body(axum::body::Body::empty()).unwrap();
        assert_eq!(query_value(&request, "reason").as_deref(), Some("expired"));
        assert_eq!(query_value(&request, "x").as_deref(), Some("<b> y"));
        assert_eq!(query_value(&request, "missing"), None);
        let bad = Request::get("/mail?count=%FF%zz").body(axum::body::Body::empty()).unwrap();
        assert!(query_value(&bad, "count").is_some(), "malformed escapes are read, not refused");
    }

    #[test]
    fn a_page_path_with_a_trailing_slash_goes_to_the_page_and_nothing_else_does() {
        let location = |uri: &str| super::page_without_trailing_slash(&uri.parse().unwrap()).map(|value| value.to_str().unwrap().to_owned());
        assert_eq!(location("/profile/").as_deref(), Some("/profile"));
        assert_eq!(location("/mail/?count=20").as_deref(), Some("/mail?count=20"));
        assert_eq!(location("/auth/error/?reason=expired").as_deref(), Some("/auth/error?reason=expired"));
        for other in ["/", "/profile", "//profile/", "/pkg/", "/profile//", "http://evil.example/profile//"] {
            assert_eq!(location(other), None, "{other}");
        }
    }

    #[test]
    fn a_file_request_carries_the_path_and_encoding_but_not_the_cookies() {
        let absolute = Request::get("http://evil.example/pkg/idweb.js?v=1").body(axum::body::Body::empty()).unwrap();
        assert_eq!(file_request(&absolute).uri(), "/pkg/idweb.js?v=1", "no scheme or host reaches ServeDir");
        let request = Request::get("/pkg/idweb.js")
            .header(header::ACCEPT_ENCODING, "br")
            .header(header::COOKIE, "id=secret")
            .body(axum::body::Body::empty())
            .unwrap();
        let file = file_request(&request);
        assert_eq!(file.uri(), "/pkg/idweb.js");
        assert_eq!(file.headers().get(header::ACCEPT_ENCODING).unwrap(), "br");
        assert!(file.headers().get(header::COOKIE).is_none());
    }
}
