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
use axum::extract::{Path, Request, State};
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
    mail_count, my_diagnostics, my_message, my_messages, my_profile, my_todos, DiagnosticsPage, EditorState, HomePage, MailPage, MessagePage,
    NotFoundPage, Problem, ProfilePage, SignInErrorPage, TodoCommand, TodoNotice, TodoPage,
};
use crate::pages::valid_transaction_id;
use crate::error::AppError;
use crate::session_user::{current_user, AccountSummary};

const HOME: &str = "/";
const PROFILE: &str = "/profile";
const MAIL: &str = "/mail";
const MESSAGE: &str = "/mail/{id}";
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
    /// Whether the To-do page's API is configured (the navigation offers it only then).
    offers_todo: bool,
    /// The build's static files (`/pkg/...`), precompressed ones preferred;
    /// shared, as the state is cloned per request and only file requests need a copy.
    files: Arc<ServeDir>,
}

/// The pages and, for any other path, a file of the build or the not-found page.
pub fn page_routes(identity: Arc<Identity>, options: LeptosOptions) -> Router {
    // No directory listings or index files: a folder answers 404, never a redirect.
    let files = ServeDir::new(&*options.site_root).precompressed_gzip().precompressed_br().append_index_html_on_directories(false);
    let provider_origin = identity.config().azure_ad.instance.origin().ascii_serialization();
    let head = Arc::new(PageHead::new(options, provider_origin));
    let offers_todo = crate::pages::todo_api_configured(&identity);
    let state = PageState { identity: identity.clone(), head, offers_todo, files: Arc::new(files) };
    Router::new()
        .route(HOME, get(home))
        .route(PROFILE, get(profile))
        .route(MAIL, get(mail))
        .route(MESSAGE, get(message))
        .route(DIAGNOSTICS, get(diagnostics))
        .route(TODO, get(todo).post(todo_form))
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
    render(&state, request, "idweb", StatusCode::OK, current_user(), |user| view! { <HomePage user/> }).await
}

async fn profile(State(state): State<PageState>, request: Request) -> Response {
    render(&state, request, "Profile · idweb", StatusCode::OK, my_profile(), |profile| view! { <ProfilePage profile/> }).await
}

async fn mail(State(state): State<PageState>, request: Request) -> Response {
    let count = mail_count(query_value(&request, "count").as_deref());
    render(&state, request, "Mail · idweb", StatusCode::OK, my_messages(count), move |messages| view! { <MailPage count messages/> }).await
}

async fn message(State(state): State<PageState>, Path(id): Path<String>, request: Request) -> Response {
    let return_to = crate::pages::message_href(&id);
    render(&state, request, "Message · idweb", StatusCode::OK, my_message(id), move |message| view! { <MessagePage message return_to/> }).await
}

async fn diagnostics(State(state): State<PageState>, request: Request) -> Response {
    render(&state, request, "Diagnostics · idweb", StatusCode::OK, my_diagnostics(), |diagnostics| view! { <DiagnosticsPage diagnostics/> }).await
}

async fn todo(State(state): State<PageState>, request: Request) -> Response {
    let notice = TodoNotice::from_query(query_value(&request, "done").as_deref(), query_value(&request, "id").as_deref());
    let editor = EditorState { notice, problem: None, title: String::new(), transaction_id: transaction_id() };
    render(&state, request, TODO_TITLE, StatusCode::OK, my_todos(), |todos| view! { <TodoPage todos state=editor/> }).await
}

/// The To-do page's title (its forms land on it too).
const TODO_TITLE: &str = "To-do · idweb";

/// The largest to-do form body read (a title is at most 200 characters).
const TODO_FORM_LIMIT: usize = 16 * 1024;

/// A to-do form posted without JavaScript: done, then a redirect to the
/// page with its notice (303, so a reload posts nothing again); failed,
/// the page with the problem where it happened and the error's status.
async fn todo_form(State(state): State<PageState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let command = match axum::body::to_bytes(body, TODO_FORM_LIMIT).await {
        Ok(body) => TodoCommand::from_form(&body),
        Err(_) => Err(format!("the form is larger than {TODO_FORM_LIMIT} bytes")),
    };
    let request = Request::from_parts(parts, Body::empty());
    let command = match command {
        Ok(command) => command,
        Err(what) => {
            let error = AppError::Invalid(format!("This form cannot be used: {what}. Reload the page and try again."));
            let problem = Problem { at: crate::pages::Target::Add, message: error.to_string(), fix: None };
            let editor = EditorState { notice: None, problem: Some(problem), title: String::new(), transaction_id: transaction_id() };
            return render(&state, request, TODO_TITLE, StatusCode::BAD_REQUEST, my_todos(), |todos| view! { <TodoPage todos state=editor/> }).await;
        }
    };
    // A failed add keeps what was typed and its transaction id: if the API did add it and only the
    // answer was lost, sending the form again answers that item instead of adding a second.
    let (typed_title, posted_transaction) = match &command {
        TodoCommand::Add { title, transaction_id } => (title.clone(), Some(transaction_id.clone()).filter(|id| valid_transaction_id(id))),
        _ => (String::new(), None),
    };
    let outcome = async move {
        match command.perform().await {
            Ok(notice) => Ok(notice),
            // Only the person can fix these, at the provider: the page says how (and a consent redirects there).
            Err((_, _, error @ (AppError::NotSignedIn | AppError::InteractionRequired { .. } | AppError::SignInAgain))) => Err((None, Err(error))),
            Err((at, prefix, error)) => Err((Some(Problem { at, message: format!("{prefix}{error}"), fix: None }), my_todos().await)),
        }
    };
    render_or_redirect(&state, request, TODO_TITLE, StatusCode::OK, outcome, |outcome| match outcome {
        Ok(notice) => Err(notice.location()),
        Err((problem, todos)) => {
            // A problem of an item no longer listed shows where the add form's do.
            let problem = problem.map(|problem| match (problem.at, &todos) {
                (crate::pages::Target::Item(id), Ok(items)) if !items.iter().any(|item| item.id == id) => Problem { at: crate::pages::Target::Add, ..problem },
                _ => problem,
            });
            // Only an add whose outcome is unknown (the service failed) keeps its transaction id; a
            // refused title was not added, and the next add of it is a new one.
            let (title, transaction_id) = match (problem.as_ref().map(|problem| problem.at), posted_transaction) {
                (Some(crate::pages::Target::Add), Some(posted)) => (typed_title, posted),
                (Some(crate::pages::Target::Add | crate::pages::Target::Title), _) => (typed_title, transaction_id()),
                _ => (String::new(), transaction_id()),
            };
            let editor = EditorState { notice: None, problem, title, transaction_id };
            Ok(view! { <TodoPage todos state=editor/> })
        }
    })
    .await
}

/// A fresh name for the next add of a to-do form: random, so two pages
/// (or two people) never share one.
fn transaction_id() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::thread_rng(), 22)
}

async fn sign_in_error(State(state): State<PageState>, request: Request) -> Response {
    // Only what the engine could have written survives reading (AUTHZ-05).
    let page = SignInError::read(|name| query_value(&request, name));
    render(&state, request, "Sign-in problem · idweb", StatusCode::OK, async {}, move |()| view! { <SignInErrorPage page/> }).await
}

/// A page's path with a slash after it (as the router before took it), a
/// file of the build (GET and HEAD only), else the not-found page.
async fn file_or_not_found(State(state): State<PageState>, request: Request) -> Response {
    if let Some(page) = page_without_trailing_slash(request.uri()) {
        return (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, page)]).into_response();
    }
    let file_type = served_type(request.uri().path());
    if let (Some(file_type), true) = (file_type, request.method() == Method::GET || request.method() == Method::HEAD) {
        // ServeDir cannot fail (its error type is Infallible); it answers 404 itself for a missing file.
        let Ok(mut file) = ServeDir::clone(&state.files).oneshot(file_request(&request)).await;
        // A file, part of one, "not modified" or "no such range"; anything else (404, 405) is the not-found page.
        let status = file.status();
        if [StatusCode::OK, StatusCode::PARTIAL_CONTENT, StatusCode::NOT_MODIFIED, StatusCode::RANGE_NOT_SATISFIABLE].contains(&status) {
            let headers = file.headers_mut();
            // Same names from build to build: a browser may keep them but must check again.
            headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-cache"));
            // A brotli or gzip copy is chosen by Accept-Encoding: a shared cache must key on it.
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(file_type));
            return file.into_response();
        }
    }
    render(&state, request, "Page not found · idweb", StatusCode::NOT_FOUND, async {}, |()| view! { <NotFoundPage/> }).await
}

/// The content type of a file the browser needs, by its name: the
/// bundle's script, WASM and style sheet, the icon, robots.txt. `None` for
/// anything else the build leaves beside them (wasm-bindgen's TypeScript
/// declarations, source maps), which is not served.
fn served_type(path: &str) -> Option<&'static str> {
    let (stem, extension) = path.rsplit_once('/')?.1.rsplit_once('.')?;
    if stem.is_empty() {
        return None;
    }
    Some(match extension {
        "js" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "png" => "image/png",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
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
/// context), the header's user, then renders the document titled `title`
/// with `page`. `status` is the page's own; a server function's status
/// wins over it.
async fn render<Data, View>(
    state: &PageState,
    request: Request,
    title: &'static str,
    status: StatusCode,
    load: impl Future<Output = Data> + Send,
    page: impl FnOnce(Data) -> View,
) -> Response
where
    View: IntoView,
{
    render_or_redirect(state, request, title, status, load, |data| Ok::<_, String>(page(data))).await
}

/// [`render`] for a page that may instead send the browser on: `page`
/// answers `Err(location)` for a 303 to `location` (a form post that worked).
async fn render_or_redirect<Data, View>(
    state: &PageState,
    request: Request,
    title: &'static str,
    status: StatusCode,
    load: impl Future<Output = Data> + Send,
    page: impl FnOnce(Data) -> Result<View, String>,
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
    let view = match owner.with(|| page(data)) {
        Ok(view) => view,
        Err(location) => {
            drop(owner);
            return match HeaderValue::from_str(&location) {
                Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
                Err(_) => {
                    tracing::error!("a page redirect is not a header value");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            };
        }
    };
    let head = state.head.fresh(title);
    let html = owner.with(|| document(head.html, Frame { path, user, offers_todo: state.offers_todo }, view).to_html());
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
    fn only_what_the_browser_needs_is_served_each_with_its_type() {
        use super::served_type;
        assert_eq!(served_type("/pkg/idweb.js"), Some("text/javascript; charset=utf-8"));
        assert_eq!(served_type("/pkg/idweb_bg.wasm"), Some("application/wasm"));
        assert_eq!(served_type("/pkg/idweb.css"), Some("text/css; charset=utf-8"));
        assert_eq!(served_type("/favicon.svg"), Some("image/svg+xml"));
        assert_eq!(served_type("/robots.txt"), Some("text/plain; charset=utf-8"));
        for not_served in ["/pkg/idweb.d.ts", "/pkg/idweb_bg.wasm.d.ts", "/pkg/idweb.js.map", "/pkg/", "/pkg", "/Cargo.toml", "/pkg/.js"] {
            assert_eq!(served_type(not_served), None, "{not_served}");
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
