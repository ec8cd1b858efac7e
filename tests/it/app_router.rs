//! The whole app router, as `main` builds it, exercised over HTTP: security
//! headers (HDR-01), the session cookie in production (SES-01), and what
//! anonymous calls get (401, never a 500).
#![cfg(feature = "ssr")]

use crate::common;

use std::net::SocketAddr;

use common::{header, headers, http_get, http_request};
use serde_json::json;

/// Runs `test` alone, on the one runtime every test of this file shares, as
/// a server process runs one app. Building and rendering several apps at
/// once in one process (tests in parallel) now and then left a Leptos render
/// unfinished forever (about one run in 25, the not-found page and `/`
/// alike); one app serving thousands of concurrent pages never hung.
fn on_one_runtime(test: impl std::future::Future<Output = ()>) {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime"));
    runtime.block_on(test);
}

/// Serves the app over `settings` on a free loopback port.
async fn serve(settings: serde_json::Value) -> SocketAddr {
    serve_site(settings, None).await
}

/// As [`serve`], with the built site (`/pkg/...`) at `site_root` instead of cargo-leptos' output.
async fn serve_site(settings: serde_json::Value, site_root: Option<&std::path::Path>) -> SocketAddr {
    let config = idweb_identity::IdentityConfig::from_json(&settings).unwrap();
    let identity = idweb_identity::Identity::builder(config).build().await.unwrap();
    let mut options = idweb::server::site_options().expect("Cargo.toml has [package.metadata.leptos]");
    if let Some(root) = site_root {
        options.site_root = root.display().to_string().into();
    }
    let router = idweb::server::app_router(identity, options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

/// A built site of its own in the temp directory, removed when dropped: the
/// tests must not depend on a cargo-leptos build having run.
struct TempSite(std::path::PathBuf);

impl TempSite {
    /// A site holding one file, `path` (relative to the site root), with `contents`.
    fn with_file(name: &str, path: &str, contents: &str) -> Self {
        let site = Self(std::env::temp_dir().join(format!("idweb-site-{name}-{}", std::process::id())));
        let file = site.0.join(path);
        std::fs::create_dir_all(file.parent().expect("a file inside the site")).unwrap();
        std::fs::write(file, contents).unwrap();
        site
    }
}

impl Drop for TempSite {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Settings against `instance` (an emulator, or a dead port) with `public_url`.
fn settings(instance: &str, tenant: &str, client_id: &str, public_url: &str, secure_cookie: Option<bool>) -> serde_json::Value {
    let mut settings = json!({
        "AzureAd": { "Instance": instance, "TenantId": tenant, "ClientId": client_id, "ClientSecret": "end2end-only-secret" },
        "Graph": { "BaseUrl": format!("{instance}v1.0"), "Scopes": "User.Read" },
        "Hosting": { "PublicUrl": public_url },
    });
    if let Some(secure) = secure_cookie {
        settings["Session"] = json!({ "SecureCookie": secure });
    }
    settings
}

async fn local_app() -> SocketAddr {
    serve(settings("http://127.0.0.1:9/", "tenant", "client", "http://127.0.0.1:3000/", Some(false))).await
}

/// [`local_app`] with the to-do list's API configured (`DownstreamApis:TodoList`).
async fn local_app_with_todo() -> SocketAddr {
    let mut settings = settings("http://127.0.0.1:9/", "tenant", "client", "http://127.0.0.1:3000/", Some(false));
    settings["DownstreamApis"] = json!({ "TodoList": { "BaseUrl": "http://127.0.0.1:9/api", "Scopes": ["api://todo/access_as_user"] } });
    serve(settings).await
}

#[test]
fn hdr_01_a_page_carries_a_fresh_nonce_policy_and_is_not_stored() {
    on_one_runtime(async {
        let address = local_app().await;
        let first = http_get(address, "/").await;
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        let policy = header(&first, "content-security-policy").expect("a CSP").to_owned();
        let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce in script-src").to_owned();
        assert!(nonce.len() >= 16, "{nonce}");
        assert!(policy.contains(&format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval';")), "{policy}");
        assert!(policy.contains("connect-src 'self';") && policy.contains("frame-ancestors 'none'") && policy.contains("object-src 'none'"));
        assert!(first.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the nonce");
        assert_eq!(header(&first, "cache-control"), Some("no-store"));
        assert_eq!(header(&first, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&first, "strict-transport-security"), None, "no HSTS over http");

        let second = http_get(address, "/").await;
        let second_policy = header(&second, "content-security-policy").unwrap();
        assert!(!second_policy.contains(&nonce), "a new nonce per response");
    });
}

#[test]
fn hdr_01_static_assets_may_be_cached_and_other_responses_may_not() {
    on_one_runtime(async {
        let site = TempSite::with_file("assets", "pkg/idweb.css", "body { margin: 0 }");
        let address = serve_site(settings("http://127.0.0.1:9/", "tenant", "client", "http://127.0.0.1:3000/", Some(false)), Some(&site.0)).await;
        let asset = http_get(address, "/pkg/idweb.css").await;
        assert!(asset.starts_with("HTTP/1.1 200"), "{asset}");
        assert_eq!(header(&asset, "cache-control"), Some("no-cache"), "kept, but checked again: {asset}");
        let health = http_get(address, "/healthz").await;
        assert_eq!(header(&health, "cache-control"), Some("no-store"));
        assert!(header(&health, "content-security-policy").is_some_and(|policy| policy.starts_with("default-src 'none'")));
    });
}

#[test]
fn hdr_01_hsts_when_the_public_url_is_https() {
    on_one_runtime(async {
        let address = serve(settings("http://127.0.0.1:9/", "tenant", "client", "https://app.example/", None)).await;
        let page = http_get(address, "/healthz").await;
        assert_eq!(header(&page, "strict-transport-security"), Some("max-age=31536000"));
    });
}

#[test]
fn server_functions_and_the_photo_answer_401_without_a_session() {
    on_one_runtime(async {
        let address = local_app_with_todo().await;
        let form = ["Content-Type: application/x-www-form-urlencoded", "Accept: application/json"];
        for endpoint in ["/api/my_profile", "/api/my_messages", "/api/my_todos", "/api/my_diagnostics"] {
            let body = if endpoint == "/api/my_messages" { "count=10" } else { "" };
            let response = http_request(address, "POST", endpoint, &form, body).await;
            assert!(response.starts_with("HTTP/1.1 401"), "{endpoint}: {response}");
            assert!(response.contains("NotSignedIn"), "the typed body the UI reads: {response}");
            assert_eq!(header(&response, "cache-control"), Some("no-store"), "{endpoint}");
        }
        let anonymous = http_request(address, "POST", "/api/current_user", &form, "").await;
        assert!(anonymous.starts_with("HTTP/1.1 200"), "asking who is signed in is no error: {anonymous}");
        let photo = http_get(address, "/profile/photo").await;
        assert!(photo.starts_with("HTTP/1.1 401"), "{photo}");
    });
}

#[test]
fn ses_01_in_production_the_session_cookie_is_host_prefixed_secure_http_only_and_lax() {
    on_one_runtime(async {
        let mut emulator_config = idweb_emulator::EmulatorConfig::default();
        emulator_config.apps[0].client_secrets = vec![serde_json::from_value(json!("end2end-only-secret")).unwrap()];
        emulator_config.apps[0].redirect_uris = vec!["https://app.example/signin-oidc".into()];
        let client_id = emulator_config.apps[0].client_id.clone();
        let emulator = idweb_emulator::spawn(emulator_config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        // Production: an https public URL and no Session settings at all.
        let address = serve(settings(&emulator.base_url(), emulator.tenant_id(), &client_id, "https://app.example/", None)).await;
        let start = http_get(address, "/auth/sign-in?returnUrl=/").await;
        assert!(start.starts_with("HTTP/1.1 303"), "{start}");
        // SES-04: starting a sign-in creates no session; the sign-in's own cookie is __Host- too.
        let cookies = headers(&start, "set-cookie");
        assert!(!cookies.iter().any(|cookie| cookie.starts_with("__Host-idweb=")), "no session yet: {cookies:?}");
        let pending = cookies.iter().find(|cookie| cookie.starts_with("__Host-idweb.signin.")).expect("the sign-in's cookie");
        assert_host_cookie(pending);

        // The browser goes to the provider, picks a user, and comes back to this app's callback.
        let provider = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let authorize = url::Url::parse(header(&start, "location").unwrap()).unwrap();
        let picker = provider.get(authorize.clone()).send().await.unwrap().text().await.unwrap();
        let user_oid = picker.split("name=\"user_oid\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a user to pick");
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.push(("user_oid".into(), user_oid.to_owned()));
        let mut action = authorize.clone();
        action.set_query(None);
        let chosen = provider.post(action).form(&form).send().await.unwrap();
        let callback = url::Url::parse(chosen.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(callback.path(), "/signin-oidc");
        let pending_pair = pending.split(';').next().unwrap();
        let path = format!("/signin-oidc?{}", callback.query().unwrap());
        let signed_in = http_request(address, "GET", &path, &[&format!("Cookie: {pending_pair}")], "").await;
        assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
        let cookies = headers(&signed_in, "set-cookie");
        let session = cookies.iter().find(|cookie| cookie.starts_with("__Host-idweb=")).expect("the __Host- session cookie");
        assert_host_cookie(session);
        let removed = cookies.iter().find(|cookie| cookie.starts_with("__Host-idweb.signin.")).expect("the sign-in's cookie removed");
        assert!(removed.to_ascii_lowercase().contains("max-age=0"), "{removed}");
    });
}

/// A `__Host-` cookie as browsers require it, and as idweb wants it: secure, not for scripts, lax.
fn assert_host_cookie(cookie: &str) {
    let attributes: Vec<String> = cookie.split(';').skip(1).map(|part| part.trim().to_ascii_lowercase()).collect();
    for expected in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attributes.iter().any(|attribute| attribute == expected), "{expected} missing: {cookie}");
    }
    assert!(!attributes.iter().any(|attribute| attribute.starts_with("domain=")), "__Host- cookies name no domain: {cookie}");
}

#[test]
fn csrf_01_a_cross_site_write_to_a_server_function_is_refused_before_it_runs() {
    on_one_runtime(async {
        let address = local_app_with_todo().await;
        let form = "Content-Type: application/x-www-form-urlencoded";
        let cross_site = http_request(address, "POST", "/api/add_todo", &[form, "Sec-Fetch-Site: cross-site"], "title=x").await;
        assert!(cross_site.starts_with("HTTP/1.1 403"), "{cross_site}");
        let foreign = http_request(address, "POST", "/api/delete_todo", &[form, "Origin: https://evil.example"], "id=1").await;
        assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");
        let missing = http_request(address, "POST", "/api/add_todo", &[form, "Sec-Fetch-Site: same-origin"], "title=x").await;
        assert!(missing.contains("Invalid") && missing.contains("transaction_id"), "a call without an argument says which: {missing}");
        let same_origin = http_request(address, "POST", "/api/add_todo", &[form, "Sec-Fetch-Site: same-origin"], "title=x&transaction_id=t1").await;
        assert!(same_origin.starts_with("HTTP/1.1 401"), "reaches the function, which wants a session: {same_origin}");
        let huge = format!("title={}&transaction_id=t1", "x".repeat(100 * 1024));
        let too_large = http_request(address, "POST", "/api/add_todo", &[form, "Sec-Fetch-Site: same-origin"], &huge).await;
        assert!(too_large.starts_with("HTTP/1.1 413"), "a body no form sends is refused unread: {}", &too_large[..too_large.len().min(200)]);
    });
}

#[test]
fn csrf_01_a_cross_site_post_of_a_pages_form_is_refused_and_a_same_site_one_lands_on_a_page() {
    on_one_runtime(async {
        let address = local_app_with_todo().await;
        let form = "Content-Type: application/x-www-form-urlencoded";
        let body = "intent=add&title=x&transaction_id=t1";
        let cross_site = http_request(address, "POST", "/todo", &[form, "Sec-Fetch-Site: cross-site"], body).await;
        assert!(cross_site.starts_with("HTTP/1.1 403"), "{cross_site}");
        let same_origin = http_request(address, "POST", "/todo", &[form, "Sec-Fetch-Site: same-origin", "Accept: text/html"], body).await.replace("<!>", "");
        assert!(same_origin.starts_with("HTTP/1.1 401"), "{same_origin}");
        assert!(same_origin.contains("Sign in to see your to-do list.") && same_origin.ends_with("</html>"), "a page, not JSON: {same_origin}");
        let nonsense = http_request(address, "POST", "/todo", &[form, "Sec-Fetch-Site: same-origin"], "intent=drop").await.replace("<!>", "");
        assert!(nonsense.starts_with("HTTP/1.1 400") || nonsense.starts_with("HTTP/1.1 401"), "{nonsense}");
        assert!(nonsense.ends_with("</html>"), "a page: {nonsense}");
    });
}

#[test]
fn every_page_renders_for_an_anonymous_visitor_with_the_status_that_says_why() {
    on_one_runtime(async {
        let address = local_app().await;
        let home = http_get(address, "/").await;
        assert!(home.starts_with("HTTP/1.1 200") && home.contains("Welcome to idweb"), "{home}");
        assert_eq!(header(&home, "content-type"), Some("text/html; charset=utf-8"));
        assert!(home.contains(r#"<a href="/" aria-current="page">Home</a>"#), "the current page is marked: {home}");
        assert!(home.contains(r#"data-testid="sign-in""#) && home.contains("data-hydrated"), "{home}");
        for (path, what) in [("/profile", "your profile"), ("/mail?count=20", "your mail"), ("/diagnostics", "your diagnostics")] {
            // Leptos separates a view's text nodes with `<!>`: read the text without them.
            let page = http_get(address, path).await.replace("<!>", "");
            assert!(page.starts_with("HTTP/1.1 401"), "{path}: {page}");
            assert!(page.contains(&format!("Sign in to see {what}.")), "{path}: {page}");
            assert!(page.contains("<!DOCTYPE html>") && page.ends_with("</html>"), "a whole page: {path}");
        }
        let profile = http_get(address, "/profile").await;
        assert!(profile.contains(r#"<a href="/profile" aria-current="page">Profile</a>"#), "{profile}");
        assert!(profile.contains("<title>Profile · idweb</title>"), "each page its own title: {profile}");

        let with_todo = local_app_with_todo().await;
        let todo = http_get(with_todo, "/todo").await.replace("<!>", "");
        assert!(todo.starts_with("HTTP/1.1 401") && todo.contains("Sign in to see your to-do list."), "{todo}");
        assert!(todo.contains(r#"<a href="/todo" aria-current="page">To-do</a>"#), "{todo}");
    });
}

#[test]
fn a_page_whose_api_is_not_configured_says_so_and_the_navigation_does_not_offer_it() {
    on_one_runtime(async {
        let address = local_app().await;
        let home = http_get(address, "/").await;
        assert!(home.contains(r#"<a href="/profile""#) && !home.contains(r#"href="/todo""#), "no To-do link: {home}");
        let todo = http_get(address, "/todo").await.replace("<!>", "");
        assert!(todo.starts_with("HTTP/1.1 404"), "{todo}");
        assert!(todo.contains("no to-do list service configured") && todo.contains("DownstreamApis:TodoList"), "{todo}");
        assert!(!todo.contains("Sign in to see"), "nobody is asked to sign in for nothing: {todo}");
        let call = http_request(address, "POST", "/api/my_todos", &["Content-Type: application/x-www-form-urlencoded"], "").await;
        assert!(call.starts_with("HTTP/1.1 404") && call.contains("NotConfigured"), "{call}");
    });
}

#[test]
fn authz_05_the_sign_in_error_page_shows_only_what_the_engine_could_have_written() {
    on_one_runtime(async {
        let address = local_app().await;
        let expired = http_get(address, "/auth/error?reason=expired&error=access_denied&aadsts=50058&returnUrl=/mail").await;
        assert!(expired.starts_with("HTTP/1.1 200"), "{expired}");
        assert!(expired.contains("The sign-in took too long."), "{expired}");
        assert!(expired.contains(r#"<code data-testid="provider-error">access_denied</code>"#), "{expired}");
        assert!(expired.contains("AADSTS50058"), "{expired}");
        let hostile = http_get(address, "/auth/error?reason=%3Cscript%3E&error=%3Cimg%20src%3Dx%3E&aadsts=12ab&returnUrl=https://evil.example/").await;
        assert!(hostile.starts_with("HTTP/1.1 200"), "{hostile}");
        assert!(!hostile.contains("<script>") && !hostile.contains("<img") && !hostile.contains("evil.example"), "{hostile}");
        assert!(hostile.contains("Something went wrong while signing you in."), "{hostile}");
    });
}

#[test]
fn unknown_paths_get_the_not_found_page_and_build_files_are_served() {
    on_one_runtime(async {
        let site = TempSite::with_file("not-found", "pkg/idweb.js", "export default 1;");
        let address = serve_site(settings("http://127.0.0.1:9/", "tenant", "client", "http://127.0.0.1:3000/", Some(false)), Some(&site.0)).await;
        let script = http_get(address, "/pkg/idweb.js").await;
        assert!(script.starts_with("HTTP/1.1 200") && script.ends_with("export default 1;"), "{script}");
        assert_eq!(header(&script, "vary"), Some("accept-encoding"), "{script}");
        // Folders are no pages: never a redirect (`//pkg` would send the browser to a host named pkg).
        for path in ["/nowhere", "/pkg/missing.js", "/api/no_such_function", "/pkg/../Cargo.toml", "/pkg", "/pkg/", "//pkg"] {
            let page = http_get(address, path).await;
            assert!(page.starts_with("HTTP/1.1 404"), "{path}: {page}");
            assert!(page.contains("Page not found") && page.contains(r#"aria-label="Main""#), "the whole page: {path}");
            assert!(header(&page, "content-security-policy").is_some_and(|policy| policy.contains("'nonce-")), "{path}");
            assert_eq!(header(&page, "cache-control"), Some("no-store"), "{path}");
        }
        let slash = http_get(address, "/mail/?count=20").await;
        assert!(slash.starts_with("HTTP/1.1 308"), "{slash}");
        assert_eq!(header(&slash, "location"), Some("/mail?count=20"));
        let post = http_request(address, "POST", "/pkg/idweb.js", &["Sec-Fetch-Site: same-origin"], "").await;
        assert!(post.starts_with("HTTP/1.1 404"), "files are read, not posted to: {post}");
    });
}
