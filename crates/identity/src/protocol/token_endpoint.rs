//! Sending a token request and saying what its answer means.
//!
//! openidconnect parses the answer but forgets the HTTP status, so a 503
//! HTML page from a gateway and a 200 whose ID token does not parse both
//! come back as "parse error". What happened decides what the user is told
//! and whether a security event is logged: an outage is not an attack. The
//! request goes through [`ObservingClient`], which keeps the status and
//! content type next to the parsed result.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::{
    AsyncHttpClient, ClientCredentialsTokenRequest, CodeTokenRequest, HttpClientError, HttpRequest, HttpResponse, RefreshTokenRequest,
    RequestTokenError,
};

use crate::telemetry::{self, error_chain};
use crate::protocol::token_response::{MicrosoftErrorResponse, MicrosoftTokenResponse};

/// Longest we wait for the token endpoint.
pub(crate) const TOKEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a token request produced no tokens.
#[derive(Debug)]
pub(crate) enum TokenRequestFailure {
    /// The provider (or something in front of it) is down, slow or answered
    /// something that is not OAuth: a timeout, a connection error, a 5xx or
    /// 429, an HTML page, a `problem+json`. Worth a retry later; never a
    /// security event.
    Unavailable(Outage),
    /// The provider answered with an OAuth error (RFC 6749 5.2).
    Refused(MicrosoftErrorResponse),
    /// A success status whose JSON body does not parse as a token response
    /// (an ID token without `sub`, a missing `access_token`): the answer
    /// failed validation.
    Malformed(String),
    /// The request was never sent: it could not be built, or the app's
    /// credential gave no assertion (a managed identity endpoint down).
    NotSent(crate::error::IdentityError),
}

/// The token endpoint (or what stands in front of it) is down, slow or
/// throttling: no tokens, and no verdict on the request either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outage {
    /// What happened, for logs: status and content type, or the transport error.
    pub(crate) why: String,
    /// How long the provider asked to be left alone (`Retry-After`), if it said.
    pub(crate) retry_after: Option<Duration>,
    /// Whether it answered 429 (the app is being throttled, not the provider failing).
    pub(crate) throttled: bool,
}

impl Outage {
    fn new(why: impl Into<String>) -> Self {
        Self { why: why.into(), retry_after: None, throttled: false }
    }
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// Sends `request` to the token endpoint through `http`, waiting at most
/// `timeout`, and classifies the outcome. `grant` labels the latency metric.
pub(crate) async fn send<R: TokenRequest>(
    request: R,
    http: &reqwest::Client,
    grant: &'static str,
    timeout: Duration,
) -> Result<MicrosoftTokenResponse, TokenRequestFailure> {
    let client = ObservingClient { http, seen: Mutex::new(None) };
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, request.send_with(&client)).await;
    telemetry::token_endpoint(grant, started.elapsed());
    let seen = client.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    let result = match outcome {
        Err(_) => return Err(TokenRequestFailure::Unavailable(Outage::new("the token endpoint did not answer in time"))),
        Ok(result) => result,
    };
    classify(result, seen)
}

/// What the HTTP exchange showed, kept for [`classify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    status: u16,
    content_type: String,
    retry_after: Option<Duration>,
}

fn classify(
    result: Result<MicrosoftTokenResponse, RequestTokenError<HttpClientError<reqwest::Error>, MicrosoftErrorResponse>>,
    seen: Option<Seen>,
) -> Result<MicrosoftTokenResponse, TokenRequestFailure> {
    let error = match result {
        Ok(response) => return Ok(response),
        Err(error) => error,
    };
    let Some(seen) = seen else {
        // No answer at all: connection refused, reset, TLS failure.
        return Err(TokenRequestFailure::Unavailable(Outage::new(format!("the token endpoint could not be reached: {}", error_chain(&error)))));
    };
    // Only the status and content type are named: the body may hold tokens or
    // the provider's free text.
    let what = || format!("the token endpoint answered {} with {}", seen.status, printable(&seen.content_type));
    let outage = |why: String| Outage { why, retry_after: seen.retry_after, throttled: seen.status == 429 };
    // The provider's own trouble, whatever the body says: 5xx and throttling.
    if seen.status >= 500 || seen.status == 429 {
        return Err(TokenRequestFailure::Unavailable(outage(what())));
    }
    match error {
        RequestTokenError::ServerResponse(refused) if refused.is_transient() => {
            Err(TokenRequestFailure::Unavailable(outage(format!("{}: {refused}", what()))))
        }
        RequestTokenError::ServerResponse(refused) => Err(TokenRequestFailure::Refused(refused)),
        RequestTokenError::Parse(parse, _body) if seen.status == 200 && is_json(&seen.content_type) => {
            // The body holds tokens: only the parser's complaint is kept.
            Err(TokenRequestFailure::Malformed(format!("the token response does not parse: {}", parse.inner())))
        }
        // An error status without an OAuth body, or a body that is not JSON:
        // a gateway, proxy or load balancer answered, not the token endpoint.
        _ => Err(TokenRequestFailure::Unavailable(outage(what()))),
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json"
}

/// A header value as it may appear in a message: printable ASCII, cut short.
fn printable(value: &str) -> String {
    let shown: String = value.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(80).collect();
    if shown.is_empty() {
        "no content type".into()
    } else {
        shown
    }
}

/// reqwest, remembering the status and content type of the answer.
pub(crate) struct ObservingClient<'h> {
    http: &'h reqwest::Client,
    seen: Mutex<Option<Seen>>,
}

type ObservedFuture<'c> = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpClientError<reqwest::Error>>> + Send + 'c>>;

impl<'c> AsyncHttpClient<'c> for ObservingClient<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = ObservedFuture<'c>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = crate::answer::CappedClient(self.http).call(request).await?;
            let content_type = response
                .headers()
                .get(openidconnect::http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let retry_after = crate::answer::retry_after(response.headers(), std::time::SystemTime::now());
            let seen = Seen { status: response.status().as_u16(), content_type, retry_after };
            *self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(seen);
            Ok(response)
        })
    }
}

/// A token request on its way (boxed: the request types borrow the client,
/// and a boxed future keeps the callers' futures `Send` for every lifetime).
pub(crate) type Sending<'c> =
    Pin<Box<dyn Future<Output = Result<MicrosoftTokenResponse, RequestTokenError<HttpClientError<reqwest::Error>, MicrosoftErrorResponse>>> + Send + 'c>>;

/// The token requests idweb sends (code, refresh token, client credentials).
pub(crate) trait TokenRequest: Sized + Send {
    /// Sends the request through `client`.
    fn send_with<'c>(self, client: &'c ObservingClient<'_>) -> Sending<'c>
    where
        Self: 'c;

    /// Adds `name=value` to the request body (the client assertion).
    fn extra(self, name: &'static str, value: String) -> Self;
}

macro_rules! token_requests {
    ($($request:ident),*) => {$(
        impl TokenRequest for $request<'_, MicrosoftErrorResponse, MicrosoftTokenResponse> {
            fn send_with<'c>(self, client: &'c ObservingClient<'_>) -> Sending<'c>
            where
                Self: 'c,
            {
                Box::pin(self.request_async(client))
            }

            fn extra(self, name: &'static str, value: String) -> Self {
                self.add_extra_param(name, value)
            }
        }
    )*};
}
token_requests!(CodeTokenRequest, RefreshTokenRequest, ClientCredentialsTokenRequest);

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(status: u16, content_type: &str) -> Option<Seen> {
        Some(Seen { status, content_type: content_type.into(), retry_after: None })
    }

    fn refused(error: &str) -> RequestTokenError<HttpClientError<reqwest::Error>, MicrosoftErrorResponse> {
        RequestTokenError::ServerResponse(serde_json::from_str(&format!(r#"{{"error":"{error}"}}"#)).unwrap())
    }

    fn unparsable(body: &str) -> RequestTokenError<HttpClientError<reqwest::Error>, MicrosoftErrorResponse> {
        let error = serde_path_to_error::deserialize::<_, MicrosoftTokenResponse>(&mut serde_json::Deserializer::from_str(body)).unwrap_err();
        RequestTokenError::Parse(error, body.as_bytes().to_vec())
    }

    #[test]
    fn flt_01_a_5xx_is_unavailable_whatever_its_body_says() {
        for status in [500, 502, 503, 504, 429] {
            let failure = classify(Err(refused("invalid_grant")), seen(status, "application/json")).unwrap_err();
            assert!(matches!(failure, TokenRequestFailure::Unavailable(_)), "{status}: {failure:?}");
        }
    }

    #[test]
    fn flt_01_html_and_problem_json_are_unavailable_not_a_validation_failure() {
        let html = classify(Err(unparsable("<html>Bad gateway</html>")), seen(400, "text/html")).unwrap_err();
        assert!(matches!(&html, TokenRequestFailure::Unavailable(outage) if outage.why.contains("400") && outage.why.contains("text/html")), "{html:?}");
        let problem = classify(Err(unparsable(r#"{"type":"about:blank","title":"Forbidden"}"#)), seen(403, "application/problem+json")).unwrap_err();
        assert!(matches!(problem, TokenRequestFailure::Unavailable(_)), "{problem:?}");
        let ok_html = classify(Err(RequestTokenError::Other("Unexpected response Content-Type".into())), seen(200, "text/html")).unwrap_err();
        assert!(matches!(ok_html, TokenRequestFailure::Unavailable(_)), "{ok_html:?}");
    }

    #[test]
    fn flt_04_a_429_is_throttling_and_keeps_its_retry_after() {
        let seen = Some(Seen { status: 429, content_type: "application/json".into(), retry_after: Some(Duration::from_secs(30)) });
        let failure = classify(Err(refused("temporarily_unavailable")), seen).unwrap_err();
        let TokenRequestFailure::Unavailable(outage) = failure else { panic!("{failure:?}") };
        assert!(outage.throttled);
        assert_eq!(outage.retry_after, Some(Duration::from_secs(30)));
        let failure = classify(Err(unparsable("<html/>")), Some(Seen { status: 503, content_type: "text/html".into(), retry_after: None })).unwrap_err();
        assert!(matches!(failure, TokenRequestFailure::Unavailable(Outage { throttled: false, .. })), "{failure:?}");
    }

    #[test]
    fn an_oauth_error_is_a_refusal_and_transient_codes_an_outage() {
        assert!(matches!(classify(Err(refused("invalid_grant")), seen(400, "application/json")), Err(TokenRequestFailure::Refused(_))));
        assert!(matches!(
            classify(Err(refused("temporarily_unavailable")), seen(400, "application/json")),
            Err(TokenRequestFailure::Unavailable(_))
        ));
    }

    #[test]
    fn a_success_that_does_not_parse_is_malformed() {
        let failure = classify(Err(unparsable(r#"{"token_type":"Bearer"}"#)), seen(200, "application/json; charset=utf-8")).unwrap_err();
        assert!(matches!(failure, TokenRequestFailure::Malformed(_)), "{failure:?}");
    }

    #[test]
    fn the_message_never_carries_control_characters_from_a_header() {
        let failure = classify(Err(unparsable("x")), seen(400, "text/html\u{1b}[31m\nforged")).unwrap_err();
        let TokenRequestFailure::Unavailable(outage) = failure else { panic!("{failure:?}") };
        assert!(!outage.why.chars().any(char::is_control), "{outage:?}");
    }
}

/// The client's token endpoint URL (what a client assertion's `aud` names).
pub(crate) fn token_url(client: &crate::protocol::provider::OidcClient) -> String {
    client.token_uri().map(|url| url.as_str().to_owned()).unwrap_or_default()
}
