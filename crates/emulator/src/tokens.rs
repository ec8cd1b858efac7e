//! ID tokens and access tokens as Microsoft mints them (v2.0 claims),
//! scope classification, and the random values everything else uses.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{AppRegistration, TestUser};
use crate::keys::SigningKey;
use crate::GRAPH_APP_ID;

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

/// `bytes` random bytes, base64url: codes, refresh tokens, opaque ids.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A random GUID-shaped id (trace ids, session ids).
pub fn random_guid() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Scopes the OpenID Connect layer handles; they never reach an access token.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
const GRAPH_PREFIX: &str = "https://graph.microsoft.com/";

/// A requested `scope` string, split by audience.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestedScopes {
    /// `openid`, `profile`, `email`, `offline_access` as requested.
    pub oidc: Vec<String>,
    /// Graph permissions by short name (`User.Read`).
    pub graph: Vec<String>,
}

impl RequestedScopes {
    /// Splits a space-separated scope string. Scopes of resources other than
    /// Graph are not known to this emulator yet: `Err` names the first one.
    pub fn parse(scope: &str) -> Result<Self, String> {
        let mut parsed = Self::default();
        for item in scope.split_whitespace() {
            if OIDC_SCOPES.iter().any(|oidc| oidc.eq_ignore_ascii_case(item)) {
                parsed.oidc.push(item.to_ascii_lowercase());
            } else if let Some(short) = strip_prefix_ignore_case(item, GRAPH_PREFIX) {
                parsed.graph.push(short.to_owned());
            } else if item.contains("://") || item.contains('/') {
                return Err(item.to_owned());
            } else {
                parsed.graph.push(item.to_owned());
            }
        }
        parsed.oidc.dedup();
        Ok(parsed)
    }

    /// Whether `scope` (OIDC) was requested.
    pub fn has(&self, scope: &str) -> bool {
        self.oidc.iter().any(|requested| requested == scope)
    }

    /// Graph scopes the access token carries: those asked for, or `User.Read`
    /// when only OpenID Connect scopes were asked (as Microsoft does).
    pub fn granted_graph(&self) -> Vec<String> {
        if self.graph.is_empty() {
            vec!["User.Read".into()]
        } else {
            self.graph.clone()
        }
    }

    /// Every scope, as a space-separated string.
    pub fn to_scope_string(&self) -> String {
        self.oidc.iter().chain(self.graph.iter()).cloned().collect::<Vec<_>>().join(" ")
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// Pairwise subject: stable per user and app, different across apps, as in Entra.
pub fn pairwise_subject(user: &TestUser, client_id: &str) -> String {
    let digest = Sha256::digest(format!("{}:{client_id}", user.object_id));
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// v2.0 ID token claims.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Audience: the client id.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expiry.
    pub exp: u64,
    /// Display name.
    pub name: String,
    /// Nonce from the authorize request, absent on refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Object id.
    pub oid: String,
    /// UPN.
    pub preferred_username: String,
    /// Pairwise subject.
    pub sub: String,
    /// Tenant id.
    pub tid: String,
    /// Provider session id.
    pub sid: String,
    /// Unique token id.
    pub uti: String,
    /// Token version.
    pub ver: String,
}

/// v2.0 access token claims for a resource.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Resource app id.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expiry.
    pub exp: u64,
    /// Client that asked for the token.
    pub azp: String,
    /// Delegated scopes, space separated.
    pub scp: String,
    /// Object id of the user.
    pub oid: String,
    /// Subject.
    pub sub: String,
    /// Tenant id.
    pub tid: String,
    /// Display name.
    pub name: String,
    /// UPN.
    pub preferred_username: String,
    /// Unique token id.
    pub uti: String,
    /// Token version.
    pub ver: String,
}

/// Mints tokens signed with the emulator's key.
pub struct Minter<'a> {
    /// The signing key.
    pub key: &'a SigningKey,
    /// The issuer (`{base}{tenant}/v2.0`).
    pub issuer: &'a str,
    /// The tenant id.
    pub tenant_id: &'a str,
}

impl Minter<'_> {
    fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key.kid.clone());
        header.typ = Some("JWT".into());
        // Signing with a freshly generated RSA key cannot fail on well-formed claims.
        jsonwebtoken::encode(&header, claims, &self.key.encoding).unwrap_or_default()
    }

    /// An ID token for `user` signing in to `app`.
    pub fn id_token(&self, app: &AppRegistration, user: &TestUser, nonce: Option<String>, session_id: &str, lifetime: u64) -> String {
        let now = now_secs();
        self.sign(&IdTokenClaims {
            aud: app.client_id.clone(),
            iss: self.issuer.to_owned(),
            iat: now,
            nbf: now,
            exp: now + lifetime,
            name: user.display_name.clone(),
            nonce,
            oid: user.object_id.clone(),
            preferred_username: user.user_principal_name.clone(),
            sub: pairwise_subject(user, &app.client_id),
            tid: self.tenant_id.to_owned(),
            sid: session_id.to_owned(),
            uti: random_token(16),
            ver: "2.0".into(),
        })
    }

    /// A Graph access token for `user` through `app` with `scopes`.
    pub fn graph_access_token(&self, app: &AppRegistration, user: &TestUser, scopes: &[String], lifetime: u64) -> String {
        let now = now_secs();
        self.sign(&AccessTokenClaims {
            aud: GRAPH_APP_ID.into(),
            iss: self.issuer.to_owned(),
            iat: now,
            nbf: now,
            exp: now + lifetime,
            azp: app.client_id.clone(),
            scp: scopes.join(" "),
            oid: user.object_id.clone(),
            sub: pairwise_subject(user, GRAPH_APP_ID),
            tid: self.tenant_id.to_owned(),
            name: user.display_name.clone(),
            preferred_username: user.user_principal_name.clone(),
            uti: random_token(16),
            ver: "2.0".into(),
        })
    }

    /// Verifies a bearer token presented to `audience` the way a resource
    /// server does: RS256 only, our key, issuer, audience, expiry.
    pub fn verify_access_token(&self, token: &str, audience: &str) -> Result<AccessTokenClaims, String> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[self.issuer]);
        validation.leeway = 60;
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
        validation.validate_nbf = true;
        jsonwebtoken::decode::<AccessTokenClaims>(token, &self.key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| error.to_string())
    }
}
