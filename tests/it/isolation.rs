//! ISO-01 and ISO-02 against the whole app router, as `main` builds it, on
//! a multi-threaded runtime: signed-in users render every page in a loop
//! while other users and anonymous clients call every server function, all
//! at once. Every answer must belong to its own caller: a page or a server
//! function that answered with another request's user (an owner left
//! current on a worker thread, context inherited from another request) is
//! what these tests exist to catch.
#![cfg(feature = "ssr")]

use crate::common;


use common::browser::{start_app, Browser};
use futures_util::future::join_all;
use idweb_emulator::config::TestUser;
use reqwest::StatusCode;
use serde_json::Value;

/// Users signed in; each renders pages in one task and calls server functions in another.
const SIGNED_IN: usize = 6;
/// Clients without a session, calling every server function and page.
const ANONYMOUS: usize = 4;
/// Times each task goes through its whole list.
const ROUNDS: usize = 25;

const PAGES: [&str; 8] =
    ["/", "/profile", "/mail?count=10", "/mail/AAMkAG00000000-0001", "/todo", "/diagnostics", "/auth/error?reason=expired", "/nowhere"];
/// Pages an anonymous visitor is told to sign in for (401).
const DATA_PAGES: [&str; 5] = ["/profile", "/mail?count=10", "/mail/AAMkAG00000000-0001", "/todo", "/diagnostics"];

/// One test user, and what names them in an answer.
#[derive(Clone)]
struct IsoUser {
    display_name: String,
    /// The UPN's local part (also in the to-do titles this user adds).
    tag: String,
    object_id: String,
    /// Only in this user's own mail ("Hi Given03, ..."): the other users'
    /// names are in it too, as senders.
    greeting: String,
}

impl IsoUser {
    fn new(index: usize) -> Self {
        Self {
            display_name: format!("Iso User {index:02}"),
            tag: format!("isouser{index:02}"),
            object_id: format!("00000000-0000-4000-8000-{index:012}"),
            greeting: format!("Hi Given{index:02},"),
        }
    }

    fn test_user(&self) -> TestUser {
        TestUser {
            object_id: self.object_id.clone(),
            display_name: self.display_name.clone(),
            given_name: format!("Given{}", &self.tag["isouser".len()..]),
            surname: self.display_name.clone(),
            user_principal_name: format!("{}@contoso.example", self.tag),
            mail: format!("{}@contoso.example", self.tag),
            job_title: None,
            office_location: None,
        }
    }

    /// Whether `text`, an answer at `what`, holds this user's data. Mail
    /// names other users as its senders: there only the greeting counts.
    fn named_in(&self, what: &str, text: &str) -> bool {
        let mail = what.contains("mail") || what.contains("message");
        text.contains(&self.greeting) || text.contains(&self.object_id) || (!mail && (text.contains(&self.display_name) || text.contains(&self.tag)))
    }
}

fn users() -> Vec<IsoUser> {
    (0..SIGNED_IN).map(IsoUser::new).collect()
}

/// What went wrong with answers, kept to report them all at the end.
#[derive(Default)]
struct Findings {
    answers: usize,
    wrong: Vec<String>,
}

impl Findings {
    fn merge(mut self, other: Findings) -> Self {
        self.answers += other.answers;
        self.wrong.extend(other.wrong);
        self
    }

    /// One answer to `caller` (`None`: anonymous) at `what`: it must name
    /// nobody else, and `check` must pass.
    fn answer(&mut self, caller: Option<&IsoUser>, what: &str, status: StatusCode, body: &str, check: Result<(), String>) {
        self.answers += 1;
        let who = caller.map_or("anonymous", |user| user.display_name.as_str());
        for other in users() {
            if caller.is_none_or(|caller| caller.object_id != other.object_id) && other.named_in(what, body) {
                self.wrong.push(format!("{who} got {} at {what} ({status})", other.display_name));
            }
        }
        if let Err(reason) = check {
            self.wrong.push(format!("{who} at {what} ({status}): {reason}"));
        }
    }

    fn assert_none(self, test: &str) {
        assert!(self.answers > 0, "{test}: no answers");
        let shown: Vec<&String> = self.wrong.iter().take(12).collect();
        let anonymous = self.wrong.iter().filter(|wrong| wrong.starts_with("anonymous")).count();
        assert!(
            self.wrong.is_empty(),
            "{test}: {} findings in {} answers ({anonymous} of them to anonymous clients), e.g. {shown:#?}",
            self.wrong.len(),
            self.answers
        );
    }
}

fn expect(condition: bool, reason: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(reason())
    }
}

/// The text of a page without the `<!>` markers Leptos puts between text nodes.
fn page_text(body: &str) -> String {
    body.replace("<!>", "")
}

/// The name the page's header shows as signed in, if any.
fn account_name(page: &str) -> Option<&str> {
    let span = page.split(r#"data-testid="account-name""#).nth(1)?;
    span.split_once('>')?.1.split('<').next()
}

/// A signed-in user goes through every page `ROUNDS` times: each names the
/// user in its header, and nobody else.
async fn render_pages(browser: Browser, user: IsoUser) -> Findings {
    let mut findings = Findings::default();
    for _ in 0..ROUNDS {
        for page in PAGES {
            let response = browser.get(page).await;
            let status = response.status();
            let body = page_text(&response.text().await.unwrap());
            let check = match status {
                StatusCode::OK | StatusCode::NOT_FOUND => {
                    let named = account_name(&body);
                    expect(named == Some(user.display_name.as_str()), || format!("the header names {named:?}"))
                }
                other => Err(format!("unexpected status {other}")),
            };
            findings.answer(Some(&user), page, status, &body, check);
        }
    }
    findings
}

/// A signed-in user calls every server function `ROUNDS` times: each
/// answers with this user's data.
async fn call_functions(browser: Browser, user: IsoUser) -> Findings {
    let mut findings = Findings::default();
    for round in 0..ROUNDS {
        let (status, body) = call(&browser, "/api/current_user", "").await;
        let check = json_field(&body, &["name"]).and_then(|name| expect(name == user.display_name, || format!("name {name}")));
        findings.answer(Some(&user), "current_user", status, &body, check);

        let (status, body) = call(&browser, "/api/my_profile", "").await;
        let check = json_field(&body, &["display_name"]).and_then(|name| expect(name == user.display_name, || format!("profile of {name}")));
        findings.answer(Some(&user), "my_profile", status, &body, check);

        let (status, body) = call(&browser, "/api/my_diagnostics", "").await;
        let check = expect(status == StatusCode::OK && body.contains(&format!(r#"["oid","{}"]"#, user.object_id)), || "not this user's claims".into());
        findings.answer(Some(&user), "my_diagnostics", status, &body, check);

        let title = format!("{} item {round}", user.tag);
        let form = format!("title={}&transaction_id={}-{round}", title.replace(' ', "+"), user.tag.replace(' ', "_"));
        let (status, body) = call(&browser, "/api/add_todo", &form).await;
        let added = serde_json::from_str::<Value>(&body).ok().and_then(|item| item["id"].as_u64());
        let check = expect(status == StatusCode::OK && body.contains(&title) && added.is_some(), || "the item was not added".into());
        findings.answer(Some(&user), "add_todo", status, &body, check);

        let (status, body) = call(&browser, "/api/my_todos", "").await;
        let check = own_items(&body, &user);
        findings.answer(Some(&user), "my_todos", status, &body, check);

        let (status, body) = call(&browser, "/api/my_messages", "count=10").await;
        let check = expect(status == StatusCode::OK && body.contains(&user.greeting), || "not this user's mail".into());
        findings.answer(Some(&user), "my_messages", status, &body, check);

        // Every test user's mailbox has a message of this id: each must get their own.
        let message_id = format!("AAMkAG{}-{:04}", &user.object_id[..8], round % 5);
        let (status, body) = call(&browser, "/api/my_message", &format!("id={message_id}")).await;
        let check = expect(status == StatusCode::OK && body.contains(&user.greeting), || "not this user's message".into());
        findings.answer(Some(&user), "my_message", status, &body, check);

        if let Some(id) = added {
            let (status, body) = call(&browser, "/api/set_todo_completed", &format!("id={id}&completed=true")).await;
            let check = expect(status == StatusCode::OK && body.contains(&title) && body.contains(r#""completed":true"#), || "own item not completed".into());
            findings.answer(Some(&user), "set_todo_completed", status, &body, check);
        }
        if let Some(id) = added.filter(|_| round % 2 == 0) {
            let (status, body) = call(&browser, "/api/delete_todo", &format!("id={id}")).await;
            let check = expect(status == StatusCode::OK && body.trim() == id.to_string(), || "own item not deleted".into());
            findings.answer(Some(&user), "delete_todo", status, &body, check);
            let (status, body) = call(&browser, "/api/restore_todo", &format!("id={id}")).await;
            let check = expect(status == StatusCode::OK && body.contains(&title), || "own item not restored".into());
            findings.answer(Some(&user), "restore_todo", status, &body, check);
        }
    }
    findings
}

/// A client without a session calls every server function and page
/// `ROUNDS` times: 401 (or "nobody" from `current_user`), never a user.
async fn call_anonymously(browser: Browser, client: usize) -> Findings {
    let mut findings = Findings::default();
    for round in 0..ROUNDS {
        let (status, body) = call(&browser, "/api/current_user", "").await;
        let check = expect(status == StatusCode::OK && body.trim() == "null", || "somebody is signed in".into());
        findings.answer(None, "current_user", status, &body, check);
        let calls = [
            ("my_profile", String::new()),
            ("my_diagnostics", String::new()),
            ("my_todos", String::new()),
            ("my_messages", "count=10".to_owned()),
            ("my_message", "id=AAMkAG00000000-0001".to_owned()),
            ("add_todo", format!("title=anonymous+{client}+{round}&transaction_id=anonymous-{client}-{round}")),
            ("set_todo_completed", format!("id={}&completed=true", round + 1)),
            ("delete_todo", format!("id={}", round + 1)),
            ("restore_todo", format!("id={}", round + 1)),
        ];
        for (function, form) in calls {
            let (status, body) = call(&browser, &format!("/api/{function}"), &form).await;
            let check = expect(status == StatusCode::UNAUTHORIZED && body.contains("NotSignedIn"), || "not refused as anonymous".into());
            findings.answer(None, function, status, &body, check);
        }
        for page in PAGES {
            let response = browser.get(page).await;
            let status = response.status();
            let body = page_text(&response.text().await.unwrap());
            let refused = if DATA_PAGES.contains(&page) { StatusCode::UNAUTHORIZED } else { status };
            let check = expect(status == refused && account_name(&body).is_none(), || "not an anonymous page".into());
            findings.answer(None, page, status, &body, check);
        }
    }
    findings
}

async fn call(browser: &Browser, path: &str, form: &str) -> (StatusCode, String) {
    let response = browser.call(path, form).await;
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// A string at `path` in a JSON body.
fn json_field(body: &str, path: &[&str]) -> Result<String, String> {
    let value: Value = serde_json::from_str(body).map_err(|_| format!("not JSON: {body}"))?;
    let field = path.iter().fold(&value, |value, key| &value[key]);
    field.as_str().map(str::to_owned).ok_or_else(|| format!("no {path:?} in {body}"))
}

/// Every to-do item in `body` is one `user` added.
fn own_items(body: &str, user: &IsoUser) -> Result<(), String> {
    let items: Vec<Value> = serde_json::from_str(body).map_err(|_| format!("not a list: {body}"))?;
    let foreign: Vec<&str> = items.iter().filter_map(|item| item["title"].as_str()).filter(|title| !title.starts_with(&user.tag)).collect();
    expect(foreign.is_empty(), || format!("items of others: {foreign:?}"))
}

async fn signed_in_browsers(app: &common::browser::RunningApp) -> Vec<(IsoUser, Browser)> {
    join_all(users().into_iter().map(|user| {
        let browser = Browser::new(&app.url);
        async move {
            browser.sign_in(&user.display_name).await;
            (user, browser)
        }
    }))
    .await
}

/// ISO-02: pages render for several users while other users and anonymous
/// clients call every server function; no answer carries another
/// request's user, anonymous calls are refused (and write nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn iso_02_pages_and_server_functions_interleaved_never_answer_as_another_request() {
    let app = start_app(users().iter().map(IsoUser::test_user).collect(), |_| {}).await;
    let browsers = signed_in_browsers(&app).await;
    let mut tasks = Vec::new();
    for (user, browser) in &browsers {
        tasks.push(tokio::spawn(render_pages(browser.clone(), user.clone())));
        tasks.push(tokio::spawn(call_functions(browser.clone(), user.clone())));
    }
    for client in 0..ANONYMOUS {
        tasks.push(tokio::spawn(call_anonymously(Browser::new(&app.url), client)));
    }
    let findings = join_all(tasks).await.into_iter().map(|task| task.expect("no task panicked")).fold(Findings::default(), Findings::merge);
    let answers = findings.answers;
    findings.assert_none("ISO-02");
    assert!(answers >= 3_000, "thousands of calls, made {answers}");

    // Nothing an anonymous client sent reached anyone's list.
    for (user, browser) in &browsers {
        let (status, body) = call(browser, "/api/my_todos", "").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        own_items(&body, user).unwrap();
        assert!(!body.contains("anonymous"), "{}'s list holds an anonymous client's item: {body}", user.display_name);
    }
}

/// ISO-01: many users at once, each on pages and server functions
/// interleaved with everyone else's: every answer is its user's, and every
/// token cached for a user was issued to that user.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn iso_01_signed_in_users_interleaved_each_get_only_their_own_data_and_tokens() {
    let app = start_app(users().iter().map(IsoUser::test_user).collect(), |_| {}).await;
    let browsers = signed_in_browsers(&app).await;
    let tasks = browsers.iter().flat_map(|(user, browser)| {
        [tokio::spawn(call_functions(browser.clone(), user.clone())), tokio::spawn(render_pages(browser.clone(), user.clone()))]
    });
    let findings = join_all(tasks).await.into_iter().map(|task| task.expect("no task panicked")).fold(Findings::default(), Findings::merge);
    findings.assert_none("ISO-01");

    for user in users() {
        let key = idweb_identity::PartitionKey::User(idweb_identity::HomeAccountId::new(&user.object_id, app.emulator.tenant_id()));
        let stored = app.identity.cache().load_latest(&key).await.unwrap().expect("a partition per signed-in user").partition;
        assert!(!stored.access_tokens.is_empty());
        for token in &stored.access_tokens {
            assert_eq!(token_object_id(token.token.secret()), user.object_id, "a token cached for {} names another user", user.display_name);
        }
    }
}

/// The `oid` claim of an access token (the emulator's tokens are JWTs).
fn token_object_id(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["oid"].as_str().unwrap().to_owned()
}
