//! The URLs idweb's app and its identity engine share, defined once:
//! the sign-in link (`/auth/sign-in?returnUrl=..&scopes=..&challenge=..`),
//! the sign-in error page (`/auth/error?reason=..`) and its reasons, and
//! which return paths are acceptable (AUTHZ-03). The engine builds and reads
//! them on the server; the app's pages build and read them in the browser
//! too (this crate has no dependencies, so it compiles to WASM).

#![deny(missing_docs)]

mod encode;

pub use encode::{path_segment, query_value};

/// Where a sign-in starts.
pub const SIGN_IN_PATH: &str = "/auth/sign-in";
/// Where a sign-out is posted.
pub const SIGN_OUT_PATH: &str = "/auth/sign-out";
/// Where a failed sign-in lands.
pub const SIGN_IN_ERROR_PATH: &str = "/auth/error";

/// Query parameter names of the shared routes.
pub mod param {
    /// Where to go afterwards (a same-origin path).
    pub const RETURN_URL: &str = "returnUrl";
    /// Scopes beyond sign-in, separated by spaces.
    pub const SCOPES: &str = "scopes";
    /// The id of a claims challenge the server kept for this session.
    pub const CHALLENGE: &str = "challenge";
    /// `true`: never try a silent re-authorization first.
    pub const INTERACTIVE: &str = "interactive";
    /// The error page's reason (a [`crate::FailureReason`] code).
    pub const REASON: &str = "reason";
    /// The provider's OAuth error code, when it is a known one.
    pub const ERROR: &str = "error";
    /// The provider's AADSTS number (digits).
    pub const AADSTS: &str = "aadsts";
}

/// A link that starts a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLink<'a> {
    /// Where to go afterwards.
    pub return_to: &'a str,
    /// Scopes beyond sign-in (empty: the configured ones).
    pub scopes: &'a [String],
    /// A claims challenge kept by the server, by id (claims never travel in links).
    pub challenge: Option<&'a str>,
    /// Never attempt a silent re-authorization.
    pub interactive: bool,
}

impl<'a> SignInLink<'a> {
    /// A plain sign-in returning to `return_to`.
    pub fn to(return_to: &'a str) -> Self {
        Self { return_to, scopes: &[], challenge: None, interactive: false }
    }

    /// `/auth/sign-in?returnUrl=...[&scopes=...][&challenge=...][&interactive=true]`.
    pub fn href(&self) -> String {
        let mut href = format!("{SIGN_IN_PATH}?{}={}", param::RETURN_URL, query_value(self.return_to));
        if !self.scopes.is_empty() {
            href.push_str(&format!("&{}={}", param::SCOPES, query_value(&self.scopes.join(" "))));
        }
        if let Some(challenge) = self.challenge {
            href.push_str(&format!("&{}={}", param::CHALLENGE, query_value(challenge)));
        }
        if self.interactive {
            href.push_str(&format!("&{}=true", param::INTERACTIVE));
        }
        href
    }
}

/// Why a sign-in (or a request needing one) failed: the stable codes the
/// error page explains. Nothing else from the error page's URL is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The provider could not be reached.
    ProviderUnavailable,
    /// The provider's answers do not match the configuration.
    ProviderMisconfigured,
    /// The sign-in took too long.
    Expired,
    /// The response matched no sign-in started in this browser.
    InvalidResponse,
    /// The sign-in link was malformed.
    BadRequest,
    /// The sign-in link asked for something this app does not offer.
    NotOffered,
    /// The provider answered with an error.
    ProviderError,
    /// The user declined the permission asked for.
    ConsentDeclined,
    /// The provider refused the authorization code.
    CodeRejected,
    /// The ID token failed validation.
    IdTokenRejected,
    /// The user must sign in again or consent.
    InteractionRequired,
    /// Nobody is signed in.
    NotSignedIn,
    /// A downstream API failed.
    Downstream,
    /// The session or token store is unreachable.
    StoreUnavailable,
    /// A defect or misconfiguration of this app.
    Internal,
}

impl FailureReason {
    /// Every reason.
    pub const ALL: [Self; 15] = [
        Self::ProviderUnavailable,
        Self::ProviderMisconfigured,
        Self::Expired,
        Self::InvalidResponse,
        Self::BadRequest,
        Self::NotOffered,
        Self::ProviderError,
        Self::ConsentDeclined,
        Self::CodeRejected,
        Self::IdTokenRejected,
        Self::InteractionRequired,
        Self::NotSignedIn,
        Self::Downstream,
        Self::StoreUnavailable,
        Self::Internal,
    ];

    /// The code in URLs and logs.
    pub fn code(self) -> &'static str {
        match self {
            Self::ProviderUnavailable => "provider_unavailable",
            Self::ProviderMisconfigured => "provider_misconfigured",
            Self::Expired => "expired",
            Self::InvalidResponse => "invalid_response",
            Self::BadRequest => "bad_request",
            Self::NotOffered => "not_offered",
            Self::ProviderError => "provider_error",
            Self::ConsentDeclined => "consent_declined",
            Self::CodeRejected => "code_rejected",
            Self::IdTokenRejected => "id_token_rejected",
            Self::InteractionRequired => "interaction_required",
            Self::NotSignedIn => "not_signed_in",
            Self::Downstream => "downstream",
            Self::StoreUnavailable => "store_unavailable",
            Self::Internal => "internal",
        }
    }

    /// The reason with this code, if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.code() == code)
    }
}

/// The authorization error codes of RFC 6749 4.1.2.1 and OpenID Connect
/// Core 3.1.2.6: the error page explains these; any other is not passed on.
pub const KNOWN_PROVIDER_ERRORS: [&str; 13] = [
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
];

/// The error page, as its link carries it: only codes of this module and
/// digits, because anyone can link to it (AUTHZ-05).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInError {
    /// Why (unknown codes read as `None`).
    pub reason: Option<FailureReason>,
    /// The provider's error code, when it is one of [`KNOWN_PROVIDER_ERRORS`].
    pub provider_error: Option<&'static str>,
    /// The provider's AADSTS number: 1 to 10 digits.
    pub aadsts: Option<String>,
    /// A same-origin path to go back to (after a declined consent).
    pub return_to: Option<String>,
}

impl SignInError {
    /// An error page for `reason` alone.
    pub fn new(reason: FailureReason) -> Self {
        Self { reason: Some(reason), provider_error: None, aadsts: None, return_to: None }
    }

    /// Keeps `code` if it is a known provider error.
    pub fn with_provider_error(mut self, code: &str) -> Self {
        self.provider_error = KNOWN_PROVIDER_ERRORS.into_iter().find(|known| *known == code);
        self
    }

    /// Keeps `digits` if they are an AADSTS number.
    pub fn with_aadsts(mut self, digits: &str) -> Self {
        self.aadsts = aadsts_digits(digits);
        self
    }

    /// Keeps `path` if it is a same-origin path.
    pub fn with_return_to(mut self, path: &str) -> Self {
        self.return_to = same_origin_path(path).map(str::to_owned);
        self
    }

    /// `/auth/error?reason=...[&error=...][&aadsts=...][&returnUrl=...]`.
    pub fn href(&self) -> String {
        let reason = self.reason.unwrap_or(FailureReason::Internal);
        let mut href = format!("{SIGN_IN_ERROR_PATH}?{}={}", param::REASON, reason.code());
        if let Some(error) = self.provider_error {
            href.push_str(&format!("&{}={error}", param::ERROR));
        }
        if let Some(aadsts) = &self.aadsts {
            href.push_str(&format!("&{}={aadsts}", param::AADSTS));
        }
        if let Some(return_to) = &self.return_to {
            href.push_str(&format!("&{}={}", param::RETURN_URL, query_value(return_to)));
        }
        href
    }

    /// Reads the error page's query through `get` (a parameter's decoded
    /// value by name), keeping only what [`Self::href`] could have written.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut page = Self { reason: get(param::REASON).as_deref().and_then(FailureReason::from_code), provider_error: None, aadsts: None, return_to: None };
        if let Some(code) = get(param::ERROR) {
            page = page.with_provider_error(&code);
        }
        if let Some(digits) = get(param::AADSTS) {
            page = page.with_aadsts(&digits);
        }
        if let Some(path) = get(param::RETURN_URL) {
            page = page.with_return_to(&path);
        }
        page
    }
}

/// The AADSTS number a Microsoft error description starts with
/// (`AADSTS65004: User declined ...`), or bare digits: 1 to 10 of them.
pub fn aadsts_digits(text: &str) -> Option<String> {
    let digits: String = text.strip_prefix("AADSTS").unwrap_or(text).chars().take_while(char::is_ascii_digit).take(11).collect();
    (!digits.is_empty() && digits.len() <= 10).then_some(digits)
}

/// Longest return path accepted.
const MAX_RETURN_PATH: usize = 2048;

/// `path` when it is a path of this site (AUTHZ-03): `/x`, never `//host`,
/// a backslash (`/\host`), a scheme, control characters, or a very long one.
pub fn same_origin_path(path: &str) -> Option<&str> {
    let acceptable = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path.len() <= MAX_RETURN_PATH;
    acceptable.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_link_encodes_each_value_once_the_same_way_everywhere() {
        let scopes = ["Mail.Read".to_owned(), "api://x/y".to_owned()];
        let link = SignInLink { return_to: "/mail?page=2", scopes: &scopes, challenge: Some("Yk3p9xQ2_-abc"), interactive: true };
        assert_eq!(link.href(), "/auth/sign-in?returnUrl=/mail%3Fpage%3D2&scopes=Mail.Read%20api%3A//x/y&challenge=Yk3p9xQ2_-abc&interactive=true");
        assert_eq!(SignInLink::to("/").href(), "/auth/sign-in?returnUrl=/");
    }

    #[test]
    fn every_reason_reads_back_from_its_code_and_nothing_else_does() {
        for reason in FailureReason::ALL {
            assert_eq!(FailureReason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(FailureReason::from_code("Your account is locked"), None);
    }

    #[test]
    fn authz_05_the_error_page_keeps_only_known_codes_digits_and_same_origin_paths() {
        let page = SignInError::new(FailureReason::ProviderError).with_provider_error("access_denied").with_aadsts("AADSTS65004: User declined");
        assert_eq!(page.href(), "/auth/error?reason=provider_error&error=access_denied&aadsts=65004");
        let query = [("reason", "consent_declined"), ("error", "<script>"), ("aadsts", "12345678901"), ("returnUrl", "//evil.example")];
        let read = SignInError::read(|name| query.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned()));
        assert_eq!(read, SignInError { reason: Some(FailureReason::ConsentDeclined), provider_error: None, aadsts: None, return_to: None });
    }

    #[test]
    fn authz_03_only_same_origin_paths_are_return_targets() {
        assert_eq!(same_origin_path("/mail?page=2#top"), Some("/mail?page=2#top"));
        for hostile in ["https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil", "evil", "/%0d\n/x", "", "javascript:alert(1)"] {
            assert_eq!(same_origin_path(hostile), None, "{hostile:?}");
        }
        assert_eq!(same_origin_path(&format!("/{}", "a".repeat(3000))), None);
    }
}
