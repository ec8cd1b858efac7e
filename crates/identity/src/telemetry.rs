//! The engine's metrics, named in one place (docs/OPERATIONS.md explains
//! each; they go to whatever `metrics` recorder the app installs, and with
//! none, recording costs next to nothing), and the logging boundary: log
//! lines leave the process with every control character escaped (LOG-02).

use std::io::Write;
use std::time::Duration;

pub use idweb_stores::telemetry::{error_chain, ACTIVE_SESSIONS, DECRYPT_FAILURES, L1_INVALIDATIONS, L2_ERRORS, L2_SECONDS, SESSION_COOKIES_REFUSED};

/// Tokens handed out, by `source`: `l1`, `l2`, `refresh`, `code`, `client_credentials`.
pub const TOKENS_SERVED: &str = "idweb_tokens_served_total";
/// Seconds per token endpoint request, by `grant`.
pub const TOKEN_ENDPOINT_SECONDS: &str = "idweb_token_endpoint_seconds";
/// Error codes the token endpoint answered, by `error`.
pub const PROVIDER_ERRORS: &str = "idweb_provider_errors_total";
/// Renewals not tried because renewals were held (FLT-04), by `reason`:
/// `backoff` (this partition's last renewal failed), `breaker` (most recent
/// token requests failed), `throttled` (the token endpoint's 429).
pub const RENEWALS_DEFERRED: &str = "idweb_token_renewals_deferred_total";
/// Access tokens served past their renewal time because the provider could
/// not renew them (FLT-04); never past their expiry.
pub const SERVED_PAST_RENEWAL: &str = "idweb_tokens_served_past_renewal_total";
/// The token endpoint breaker's state: 0 closed, 1 half open, 2 open.
pub const BREAKER_STATE: &str = "idweb_token_endpoint_breaker_state";
/// The token endpoint breaker's transitions, by the state entered (`to`).
pub const BREAKER_TRANSITIONS: &str = "idweb_token_endpoint_breaker_transitions_total";

pub(crate) fn renewal_deferred(reason: &'static str) {
    metrics::counter!(RENEWALS_DEFERRED, "reason" => reason).increment(1);
}

pub(crate) fn served_past_renewal() {
    metrics::counter!(SERVED_PAST_RENEWAL).increment(1);
}

pub(crate) fn breaker_state(value: f64) {
    metrics::gauge!(BREAKER_STATE).set(value);
}

pub(crate) fn breaker_transition(to: &'static str, state: f64) {
    metrics::counter!(BREAKER_TRANSITIONS, "to" => to).increment(1);
    breaker_state(state);
}

pub(crate) fn token_served(source: &'static str) {
    metrics::counter!(TOKENS_SERVED, "source" => source).increment(1);
}

pub(crate) fn token_endpoint(grant: &'static str, took: Duration) {
    metrics::histogram!(TOKEN_ENDPOINT_SECONDS, "grant" => grant).record(took.as_secs_f64());
}

pub(crate) fn provider_error(code: &str) {
    // Only OAuth-shaped codes become label values: nothing from outside grows the label set freely.
    let code = if code.len() <= 40 && code.chars().all(|c| c.is_ascii_lowercase() || c == '_') { code.to_owned() } else { "other".into() };
    metrics::counter!(PROVIDER_ERRORS, "error" => code).increment(1);
}

/// What is logged when `RUST_LOG` says nothing: `info` and up, except
/// tower-sessions' own lines, which repeat each failed session store call
/// as an error, once per request. The engine logs a store's outage once
/// when it starts and once when it ends ([`idweb_stores::outage::OutageLog`]).
/// (Their "possibly suspicious" lines are replaced by the engine's own, on
/// the `idweb::security` target, and by [`SESSION_COOKIES_REFUSED`].)
/// The directive covers tower-sessions' core and store crates too: targets match by prefix.
pub const DEFAULT_LOG_FILTER: &str = "info,tower_sessions=off";

/// The most characters of one piece of outside text (a provider's error
/// code, a path, an API's message) that reach a log line or an error message.
pub const OUTSIDE_TEXT_LIMIT: usize = 200;

/// `text` from outside, cut to [`OUTSIDE_TEXT_LIMIT`] characters (LOG-02):
/// a provider or client cannot fill the logs through one field. What was
/// cut is counted, never kept.
pub fn outside_text(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(OUTSIDE_TEXT_LIMIT) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}… ({} more characters)", &text[..end], text[end..].chars().count())),
    }
}

/// A log writer that escapes control characters (LOG-02): a newline, a
/// carriage return or a terminal escape that came from outside (a query
/// parameter, a provider's error text, a header) can neither forge a log line
/// nor drive the reader's terminal. Each formatted event arrives in one
/// write; its final newline is the only one kept. C0 controls, DEL and the
/// C1 controls (U+0080 to U+009F) are written as `\x..` / `\u{..}`; so
/// are the Unicode line and paragraph separators (U+2028, U+2029) and the
/// bidirectional embedding, override and isolate controls (U+202A to U+202E,
/// U+2066 to U+2069), which can make a line read as something else.
pub struct EscapingWriter<W: Write> {
    inner: W,
}

impl<W: Write> EscapingWriter<W> {
    /// Escapes what is written before it reaches `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner }
    }
}

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.inner.write_all(&escape_controls(bytes))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `bytes` with every control character escaped but a final newline.
pub fn escape_controls(bytes: &[u8]) -> Vec<u8> {
    let (body, ending) = match bytes.strip_suffix(b"\n") {
        Some(body) => (body, &b"\n"[..]),
        None => (bytes, &b""[..]),
    };
    let mut escaped = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < body.len() {
        let byte = body[index];
        // C1 controls are two bytes in UTF-8: 0xC2 then 0x80..=0x9F (never split: control bytes are ASCII).
        if byte == 0xC2 && body.get(index + 1).is_some_and(|next| (0x80..=0x9F).contains(next)) {
            escaped.extend_from_slice(format!("\\u{{{:02x}}}", body[index + 1]).as_bytes());
            index += 2;
            continue;
        }
        // U+2028/2029 and U+202A..=202E are E2 80 A8..=AE; U+2066..=2069 are E2 81 A6..=A9.
        if byte == 0xE2 {
            if let (Some(&second), Some(&third)) = (body.get(index + 1), body.get(index + 2)) {
                let separator_or_embedding = second == 0x80 && (0xA8..=0xAE).contains(&third);
                let isolate = second == 0x81 && (0xA6..=0xA9).contains(&third);
                if separator_or_embedding || isolate {
                    let code_point = 0x2000 + (u32::from(second & 0x3F) << 6) + u32::from(third & 0x3F);
                    escaped.extend_from_slice(format!("\\u{{{code_point:04x}}}").as_bytes());
                    index += 3;
                    continue;
                }
            }
        }
        if byte < 0x20 || byte == 0x7F {
            escaped.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
        } else {
            escaped.push(byte);
        }
        index += 1;
    }
    escaped.extend_from_slice(ending);
    escaped
}

/// A `tracing_subscriber` writer factory that wraps each writer `make`
/// gives in an [`EscapingWriter`].
#[derive(Clone)]
pub struct Escaped<M>(pub M);

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a> for Escaped<M> {
    type Writer = EscapingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter::new(self.0.make_writer())
    }
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn log_02_control_characters_are_escaped_and_only_the_final_newline_kept() {
        let line = "WARN sign-in refused error=access_denied\nINFO user signed in\r\x1b[31mred\u{9b}2J\x7f\n".as_bytes();
        let escaped = String::from_utf8(escape_controls(line)).unwrap();
        assert_eq!(escaped, "WARN sign-in refused error=access_denied\\x0aINFO user signed in\\x0d\\x1b[31mred\\u{9b}2J\\x7f\n");
        assert_eq!(escaped.matches('\n').count(), 1);
        assert_eq!(String::from_utf8(escape_controls("Adèle Vancé ✓\n".as_bytes())).unwrap(), "Adèle Vancé ✓\n", "text is untouched");
    }

    #[test]
    fn log_02_unicode_separators_and_bidi_controls_are_escaped() {
        let line = "user=\u{202e}nimda\u{202c} next\u{2028}INFO forged\u{2029}x\u{2066}a\u{2069} \u{2010}dash \u{20ac}\n";
        let escaped = String::from_utf8(escape_controls(line.as_bytes())).unwrap();
        assert_eq!(escaped, "user=\\u{202e}nimda\\u{202c} next\\u{2028}INFO forged\\u{2029}x\\u{2066}a\\u{2069} \u{2010}dash \u{20ac}\n");
    }

    #[test]
    fn log_02_outside_text_is_cut_at_the_limit_and_the_rest_counted() {
        use super::{outside_text, OUTSIDE_TEXT_LIMIT};
        assert_eq!(outside_text("access_denied"), "access_denied");
        let long = "é".repeat(OUTSIDE_TEXT_LIMIT + 50);
        let cut = outside_text(&long);
        assert!(cut.starts_with(&"é".repeat(OUTSIDE_TEXT_LIMIT)) && cut.ends_with("… (50 more characters)"), "{cut}");
        assert_eq!(outside_text(&"a".repeat(OUTSIDE_TEXT_LIMIT)).len(), OUTSIDE_TEXT_LIMIT, "exactly the limit is kept whole");
    }
}
