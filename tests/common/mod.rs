//! What the app crate's integration tests share.

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
