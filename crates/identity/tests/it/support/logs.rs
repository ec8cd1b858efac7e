//! Capturing what the app logs, as it writes it (through the escaping writer).

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::subscriber::Interest;
use tracing::{span, Event, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;

/// Every test of this binary shares one process, and tracing caches per
/// call site whether any subscriber wants it. A call site first reached by
/// a test with no subscriber while no capture is alive would be cached as
/// wanted by nobody, and a capture created at that moment can miss it:
/// its lines would vanish from a log test. A global subscriber that asks to
/// be consulted on every call site (and takes nothing) keeps each one
/// "sometimes" wanted, so each event asks the subscriber of its own thread.
struct ConsultedOnEverything;

impl Subscriber for ConsultedOnEverything {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

#[ctor::ctor]
fn consult_every_call_site() {
    // Before main: no call site has been reached yet.
    tracing::subscriber::set_global_default(ConsultedOnEverything).expect("the first global subscriber of this test binary");
}

#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every event of this thread, at every level, written as the app writes
/// them (through the escaping writer), into the returned buffer while the guard lives.
pub fn capture_logs() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(idweb_identity::telemetry::Escaped(logs.clone()))
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// As [`capture_logs`], filtered as the app filters when `RUST_LOG` is unset.
pub fn capture_logs_as_served() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(idweb_identity::telemetry::DEFAULT_LOG_FILTER))
        .with_writer(idweb_identity::telemetry::Escaped(logs.clone()))
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}
