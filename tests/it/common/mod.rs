//! What the app crate's integration tests share.
#![allow(dead_code)] // each test binary uses a different part

#[cfg(feature = "ssr")]
pub mod browser;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A bare HTTP/1.1 GET, the whole response as text (the app crate has no
/// HTTP client dependency, and these tests want the raw status line).
pub async fn http_get(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// A bare HTTP/1.1 request with `headers` (`Name: value` lines) and `body`.
pub async fn http_request(address: std::net::SocketAddr, method: &str, path: &str, headers: &[&str], body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let extra: String = headers.iter().map(|line| format!("{line}\r\n")).collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// The value of `name` in a raw response (case-insensitive), if present.
pub fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Every value of `name` in a raw response.
pub fn headers<'a>(response: &'a str, name: &str) -> Vec<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.lines()
        .skip(1)
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
        .collect()
}
