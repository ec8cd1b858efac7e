//! Shutting down the way a load balancer can follow: on the signal,
//! `/readyz` answers 503 at once while the listener keeps accepting for
//! `Hosting:ShutdownDrainSeconds` (the balancer notices and moves traffic;
//! answers in that time say `Connection: close`, so kept-alive clients
//! reconnect elsewhere), then the listener closes and requests in flight get
//! `Hosting:ShutdownTimeoutSeconds` more. What is still running then is
//! dropped: a termination grace period must not be outlasted by one slow
//! call.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Version};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

/// Whether this instance is on its way out; shared by the server loop,
/// `/readyz` and the connection-closing layer.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    draining: Arc<AtomicBool>,
}

impl Lifecycle {
    /// From now on `/readyz` answers 503 and answers close their connection.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

/// How long each shutdown phase lasts (`Hosting:ShutdownDrainSeconds`,
/// `Hosting:ShutdownTimeoutSeconds`).
#[derive(Debug, Clone, Copy)]
pub struct ShutdownTimes {
    /// The listener keeps accepting this long after the signal.
    pub drain: Duration,
    /// Requests in flight get this long once the listener has closed.
    pub finish: Duration,
}

impl ShutdownTimes {
    /// The times the configuration names.
    pub fn from_config(hosting: &idweb_identity::config::HostingConfig) -> Self {
        Self { drain: hosting.shutdown_drain, finish: hosting.shutdown_timeout }
    }
}

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight finished.
    Finished,
    /// Requests were still running when `finish` ran out; they were dropped.
    TimedOut,
}

/// Serves `app` on `listener` (with each peer's address, which the sign-in
/// throttle reads) until `signal` resolves, then drains and stops as the
/// module says.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    app: Router,
    lifecycle: Lifecycle,
    times: ShutdownTimes,
    signal: impl Future<Output = ()> + Send,
) -> std::io::Result<Stopped> {
    let (close, closed) = tokio::sync::oneshot::channel::<()>();
    let mut server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            // A dropped sender closes too: the listener never outlives this function.
            let _ = closed.await;
        })
        .into_future();
    tokio::select! {
        ended = &mut server => return ended.map(|()| Stopped::Finished),
        () = signal => {}
    }
    lifecycle.start_draining();
    tracing::info!(drain_s = times.drain.as_secs_f32(), "shutting down: /readyz answers 503; still accepting while the load balancer moves away");
    tokio::select! {
        ended = &mut server => return ended.map(|()| Stopped::Finished),
        () = tokio::time::sleep(times.drain) => {}
    }
    let _ = close.send(());
    tracing::info!(timeout_s = times.finish.as_secs_f32(), "listener closed; finishing requests in flight");
    match tokio::time::timeout(times.finish, &mut server).await {
        Ok(ended) => ended.map(|()| Stopped::Finished),
        Err(_) => {
            tracing::warn!(timeout_s = times.finish.as_secs_f32(), "requests still in flight when the shutdown timeout ran out; they are dropped");
            Ok(Stopped::TimedOut)
        }
    }
}

/// While draining, every HTTP/1 answer closes its connection, so a client
/// that keeps connections alive opens its next one through the balancer (to
/// another instance). HTTP/2 has no such header (hyper would drop it with a
/// warning); its connections get GOAWAY when the listener closes.
pub async fn close_connections_while_draining(State(lifecycle): State<Lifecycle>, request: Request, next: Next) -> Response {
    let http1 = request.version() < Version::HTTP_2;
    let mut response = next.run(request).await;
    if http1 && lifecycle.is_draining() {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
