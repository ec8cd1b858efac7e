//! The sign-in benchmark's load: each sign-in goes through the system's
//! real flow, as a browser would: its start route (following its redirects,
//! or the authorize link of a page that refreshes to it), the emulator's
//! account picker (which answers with the code), and the system's redirect
//! URI (code redemption, ID token checks, cache and session writes). A
//! sign-in counts as done when the callback answers a redirect that is no
//! error page; the cookies it set are the session.
//!
//! ```text
//! idweb-bench-sign-in APP_URL START_PATH USERS_FILE COUNT CONCURRENCY [RATE] [CA_FILE] [COOKIES_OUT]
//! ```
//! - USERS_FILE: the emulator's user object ids, one a line; sign-ins take
//!   them in turn (a user signs in again when COUNT exceeds them);
//! - CONCURRENCY: sign-ins in flight at most;
//! - RATE: sign-ins started per second (open loop: each sign-in's time runs
//!   from when it was due, so a system that falls behind shows it); 0 or
//!   absent: closed loop, the next starts when one ends;
//! - COOKIES_OUT: writes each completed sign-in's Cookie header, a line each.
//!
//! Prints one tab-separated line: completed, failed, seconds, sign-ins per
//! second, p50 ms, p99 ms, max ms; then the first failure, if any, on stderr.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};
use url::Url;

/// Redirects and pages followed from the start route before giving up.
const MAX_HOPS: usize = 5;
/// The part of a URL that marks the provider's authorize endpoint.
const AUTHORIZE: &str = "/oauth2/v2.0/authorize";

struct Plan {
    client: Client,
    app: Url,
    start: String,
    users: Vec<String>,
}

/// One browser's cookies: name and value, in the order first set.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else { continue };
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            match self.0.iter_mut().find(|(known, _)| *known == name) {
                Some(entry) => entry.1 = value,
                None => self.0.push((name, value)),
            }
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }
}

/// The authorize link in a page (Microsoft's `identity` package answers its
/// login route with a page that links to it), `&amp;` undone.
fn authorize_link(page: &str) -> Option<String> {
    let at = page.find(AUTHORIZE)?;
    let begin = page[..at].rfind(['"', '\'', ' ', '>', '='])? + 1;
    let end = at + page[at..].find(['"', '\'', ' ', '<'])?;
    Some(page[begin..end].replace("&amp;", "&"))
}

fn location(response: &reqwest::Response, base: &Url) -> Result<Url, String> {
    let text = response.headers().get(LOCATION).and_then(|value| value.to_str().ok()).ok_or_else(|| format!("{} without a Location", response.status()))?;
    base.join(text).map_err(|error| format!("Location {text}: {error}"))
}

async fn get(plan: &Plan, url: Url, jar: &Jar) -> Result<reqwest::Response, String> {
    let mut request = plan.client.get(url.clone());
    if !jar.0.is_empty() {
        request = request.header(COOKIE, jar.header());
    }
    request.send().await.map_err(|error| format!("GET {url}: {error}"))
}

/// Signs `user_oid` in; the Cookie header of the session.
async fn sign_in(plan: &Plan, user_oid: &str) -> Result<String, String> {
    let mut jar = Jar::default();
    let mut url = plan.app.join(&plan.start).map_err(|error| error.to_string())?;
    let mut hops = 0;
    while !url.path().ends_with(AUTHORIZE) {
        hops += 1;
        if hops > MAX_HOPS {
            return Err(format!("{} never led to the provider", plan.start));
        }
        let answer = get(plan, url.clone(), &jar).await?;
        jar.keep(&answer);
        url = if answer.status().is_redirection() {
            location(&answer, &url)?
        } else if answer.status() == StatusCode::OK {
            let page = answer.text().await.map_err(|error| error.to_string())?;
            let link = authorize_link(&page).ok_or("a page with no authorize link")?;
            url.join(&link).map_err(|error| error.to_string())?
        } else {
            return Err(format!("the start answered {}", answer.status()));
        };
    }
    // The emulator's account picker: the authorize request's parameters and the chosen user.
    let mut fields: Vec<(String, String)> = url.query_pairs().map(|(name, value)| (name.into_owned(), value.into_owned())).collect();
    fields.push(("user_oid".into(), user_oid.to_owned()));
    let mut picker = url.clone();
    picker.set_query(None);
    let picked = plan.client.post(picker).form(&fields).send().await.map_err(|error| format!("the picker: {error}"))?;
    let callback = location(&picked, &url)?;
    let done = get(plan, callback, &jar).await?;
    jar.keep(&done);
    let landed = done.headers().get(LOCATION).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    if done.status().is_client_error() || done.status().is_server_error() || landed.contains("error") {
        return Err(format!("the callback answered {} {landed}", done.status()));
    }
    Ok(jar.header())
}

fn setting<T: std::str::FromStr>(args: &[String], index: usize, name: &str) -> Result<Option<T>, String> {
    args.get(index).filter(|text| !text.is_empty()).map(|text| text.parse().map_err(|_| format!("{name}: not a number: {text}"))).transpose()
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        return Err("usage: idweb-bench-sign-in APP_URL START_PATH USERS_FILE COUNT CONCURRENCY [RATE] [CA_FILE] [COOKIES_OUT]".into());
    }
    let app = Url::parse(&args[1]).map_err(|error| format!("APP_URL: {error}"))?;
    let users: Vec<String> = std::fs::read_to_string(&args[3]).map_err(|error| format!("{}: {error}", args[3]))?.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect();
    if users.is_empty() {
        return Err(format!("{}: no users", args[3]));
    }
    let count: usize = setting(&args, 4, "COUNT")?.unwrap_or(0);
    let concurrency: usize = setting(&args, 5, "CONCURRENCY")?.unwrap_or(1).max(1);
    let rate: f64 = setting(&args, 6, "RATE")?.unwrap_or(0.0);
    let mut client = Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(60)).pool_max_idle_per_host(concurrency);
    if let Some(ca_file) = args.get(7).filter(|path| !path.is_empty()) {
        let pem = std::fs::read(ca_file).map_err(|error| format!("{ca_file}: {error}"))?;
        client = client.add_root_certificate(reqwest::Certificate::from_pem(&pem).map_err(|error| format!("{ca_file}: {error}"))?);
    }
    let plan = Arc::new(Plan { client: client.build().map_err(|error| error.to_string())?, app, start: args[2].clone(), users });

    let next = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let cookies = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let began = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for index in 0..count {
        let due = if rate > 0.0 { began + Duration::from_secs_f64(index as f64 / rate) } else { Instant::now() };
        if rate > 0.0 {
            tokio::time::sleep_until(due.into()).await;
        }
        let slot = slots.clone().acquire_owned().await.map_err(|error| error.to_string())?;
        let (plan, next, times, cookies, failures) = (plan.clone(), next.clone(), times.clone(), cookies.clone(), failures.clone());
        let due = if rate > 0.0 { due } else { Instant::now() };
        tasks.push(tokio::spawn(async move {
            let user = &plan.users[next.fetch_add(1, Ordering::Relaxed) % plan.users.len()];
            let outcome = sign_in(&plan, user).await;
            let took = due.elapsed();
            drop(slot);
            match outcome {
                Ok(cookie) => {
                    times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(took);
                    cookies.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(cookie);
                }
                Err(error) => failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(error),
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|error| error.to_string())?;
    }
    let seconds = began.elapsed().as_secs_f64();
    let mut times = std::mem::take(&mut *times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    times.sort();
    let failures = std::mem::take(&mut *failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    if let Some(path) = args.get(8).filter(|path| !path.is_empty()) {
        let lines: String = cookies.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().map(|cookie| format!("{cookie}\n")).collect();
        std::fs::write(path, lines).map_err(|error| format!("{path}: {error}"))?;
    }
    println!(
        "{}\t{}\t{seconds:.3}\t{:.1}\t{:.2}\t{:.2}\t{:.2}",
        times.len(),
        failures.len(),
        times.len() as f64 / seconds,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0)
    );
    if let Some(first) = failures.first() {
        eprintln!("first failure of {}: {first}", failures.len());
    }
    Ok(())
}
