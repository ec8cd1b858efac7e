//! Answers from other services, read with a size cap: the provider
//! (discovery, keys, tokens), Key Vault, the managed identity endpoint and
//! downstream APIs. None of them decides how much memory idweb spends on an
//! answer: past the cap the answer is refused, as an outage of that service.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use openidconnect::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};

/// The most bytes read of one answer (JSON documents of a few kilobytes in
/// practice; a Graph page of messages stays well under it).
pub(crate) const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The most bytes read of a Graph photo (Graph serves photos up to 648x648).
pub(crate) const MAX_PHOTO_BYTES: usize = 4 * 1024 * 1024;

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AnswerError {
    /// The answer is (or says it is) larger than the cap.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// The connection failed while the body was read.
    #[error("the answer could not be read")]
    Read(#[source] reqwest::Error),
    /// The body is not the JSON expected.
    #[error("the answer is not the JSON expected")]
    NotJson(#[source] serde_json::Error),
}

/// The body of `response`, at most `limit` bytes; refused at once when its
/// `Content-Length` says more, else as soon as more arrives.
pub(crate) async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, AnswerError> {
    let announced = response.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(AnswerError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(announced as usize);
    while let Some(chunk) = response.chunk().await.map_err(AnswerError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(AnswerError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The JSON body of `response` as a `T`, read with the [`MAX_ANSWER_BYTES`] cap.
pub(crate) async fn json_capped<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, AnswerError> {
    let body = read_capped(response, MAX_ANSWER_BYTES).await?;
    serde_json::from_slice(&body).map_err(AnswerError::NotJson)
}

/// reqwest for openidconnect's requests (token requests, key sets), each
/// answer read with [`MAX_ANSWER_BYTES`] as its cap.
pub(crate) struct CappedClient<'h>(pub &'h reqwest::Client);

/// An answer on its way.
type Answering<'c> = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpClientError<reqwest::Error>>> + Send + 'c>>;

impl<'c> AsyncHttpClient<'c> for CappedClient<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Answering<'c>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.0.execute(request.try_into().map_err(Box::new)?).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status()).version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = read_capped(response, MAX_ANSWER_BYTES).await.map_err(|error| HttpClientError::Other(error.to_string()))?;
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

/// How long an answer's `Retry-After` asks to wait: seconds, or an HTTP
/// date (the token endpoint's 429, an API's 429 or 503).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    mod retry_after {
        use std::time::{Duration, SystemTime};

        use reqwest::header::{HeaderMap, RETRY_AFTER};

        use crate::answer::retry_after;

        fn headers(value: &str) -> HeaderMap {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, value.parse().unwrap());
            headers
        }

        #[test]
        fn retry_after_reads_seconds_and_http_dates() {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
            assert_eq!(retry_after(&headers("7"), now), Some(Duration::from_secs(7)));
            assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:10 GMT"), now), Some(Duration::from_secs(10)));
            assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:27:00 GMT"), now), Some(Duration::ZERO), "a date in the past means now");
            assert_eq!(retry_after(&headers("soon"), now), None);
            assert_eq!(retry_after(&HeaderMap::new(), now), None);
        }
    }

    use super::{read_capped, AnswerError};

    /// Serves `body` once on a loopback port, with or without its length announced.
    async fn serve(body: Vec<u8>, announce_length: bool) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            // The request first (a bodiless GET), then the answer.
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let read = stream.read(&mut buffer).await.unwrap_or(0);
                if read == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..read]);
            }
            let head = if announce_length {
                format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len())
            } else {
                "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_owned()
            };
            stream.write_all(head.as_bytes()).await.ok();
            stream.write_all(&body).await.ok();
        });
        format!("http://{address}/")
    }

    #[tokio::test]
    async fn an_answer_within_the_cap_is_read_whole_and_a_larger_one_refused() {
        for announce_length in [true, false] {
            let url = serve(vec![b'a'; 1000], announce_length).await;
            let body = read_capped(reqwest::get(&url).await.unwrap(), 1000).await.unwrap();
            assert_eq!(body.len(), 1000);
            let url = serve(vec![b'a'; 1001], announce_length).await;
            let refused = read_capped(reqwest::get(&url).await.unwrap(), 1000).await.unwrap_err();
            assert!(matches!(refused, AnswerError::TooLarge { limit: 1000 }), "announced {announce_length}: {refused}");
        }
    }
}
