//! ID tokens and access tokens as Microsoft mints them (v2.0 claims),
//! scope classification, and the random values everything else uses.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{AppRegistration, TestUser};
use crate::faults::IdTokenMutation;
use crate::keys::KeySet;

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

/// Access tokens minted so far, by every emulator in this process: each
/// access token's `uti` starts with its number, so a revocation can name
/// "every token minted before now" exactly (`iat` counts whole seconds).
static ACCESS_TOKENS_MINTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The `uti` of a new access token: its mint number (16 hex digits), then randomness.
fn access_token_uti() -> String {
    let number = ACCESS_TOKENS_MINTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{number:016x}{}", random_token(12))
}

/// How many access tokens have been minted so far: the mint number the next one gets.
pub fn access_tokens_minted() -> u64 {
    ACCESS_TOKENS_MINTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// The mint number in an access token's `uti` (`None` for a `uti` this emulator did not make).
pub fn access_token_number(uti: &str) -> Option<u64> {
    u64::from_str_radix(uti.get(..16)?, 16).ok()
}

/// A random GUID-shaped id (trace ids, session ids).
pub fn random_guid() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
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
    /// Hash of the access token issued with it (OpenID Connect Core 3.1.3.6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
}

/// `at_hash` of `access_token` for an RS256 ID token: the left half of its
/// SHA-256, base64url.
pub fn access_token_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
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
    /// Delegated scopes, space separated (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// App roles (app tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Object id of the user, or of the client's service principal.
    pub oid: String,
    /// Subject.
    pub sub: String,
    /// Tenant id.
    pub tid: String,
    /// Display name (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// UPN (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// `app` on app-only tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idtyp: Option<String>,
    /// Client capabilities the client declared (`cp1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xms_cc: Option<Vec<String>>,
    /// Authentication contexts the user satisfied (step-up), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acrs: Option<Vec<String>>,
    /// Unique token id.
    pub uti: String,
    /// Token version.
    pub ver: String,
}

impl AccessTokenClaims {
    /// Delegated scopes, one each.
    pub fn scopes(&self) -> Vec<&str> {
        self.scp.as_deref().map(|scp| scp.split_whitespace().collect()).unwrap_or_default()
    }

    /// App roles.
    pub fn app_roles(&self) -> &[String] {
        self.roles.as_deref().unwrap_or_default()
    }
}

/// Mints tokens signed with the emulator's current key.
pub struct Minter<'a> {
    /// The published keys; the first signs.
    pub keys: &'a KeySet,
    /// The issuer (`{base}{tenant}/v2.0`).
    pub issuer: &'a str,
    /// The tenant id.
    pub tenant_id: &'a str,
}

/// What an ID token is minted from, beyond the app and the user.
pub struct IdTokenRequest<'a> {
    /// The authorize request's nonce; `None` on refresh.
    pub nonce: Option<String>,
    /// The provider session id (`sid`).
    pub session_id: &'a str,
    /// Seconds the token lives.
    pub lifetime: u64,
    /// A deliberate defect, armed through fault injection.
    pub mutation: Option<IdTokenMutation>,
    /// The access token issued in the same response, hashed into `at_hash`.
    pub access_token: Option<&'a str>,
}

impl Minter<'_> {
    fn sign<T: Serialize>(&self, claims: &T) -> String {
        self.sign_typed(claims, "JWT")
    }

    /// The claims of a logout token (OpenID Connect Back-Channel Logout 1.0)
    /// for `client_id`, naming the provider session `sid` and the subject `sub`.
    pub fn logout_claims(&self, client_id: &str, sid: Option<&str>, sub: Option<&str>) -> Value {
        let now = now_secs();
        let mut claims = json!({
            "iss": self.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + 120,
            "jti": random_token(16),
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        });
        if let Some(sid) = sid {
            claims["sid"] = json!(sid);
        }
        if let Some(sub) = sub {
            claims["sub"] = json!(sub);
        }
        claims
    }

    /// `claims` signed with the current key under the JOSE `typ` given
    /// (`logout+jwt` for a logout token; anything else to test refusal).
    pub fn sign_typed<T: Serialize + ?Sized>(&self, claims: &T, typ: &str) -> String {
        let key = self.keys.signing();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.into());
        // Signing with a freshly generated RSA key cannot fail on well-formed claims.
        key.sign_jwt(&header, claims).unwrap_or_default()
    }

    /// A logout token, as the end-session endpoint sends it.
    pub fn logout_token(&self, client_id: &str, sid: Option<&str>, sub: Option<&str>) -> String {
        self.sign_typed(&self.logout_claims(client_id, sid, sub), "logout+jwt")
    }

    /// An ID token for `user` signing in to `app`, spoiled as `request.mutation` says.
    pub fn id_token(&self, app: &AppRegistration, user: &TestUser, other_user: Option<&TestUser>, request: IdTokenRequest<'_>) -> String {
        let now = now_secs();
        let claims = IdTokenClaims {
            aud: app.client_id.clone(),
            iss: self.issuer.to_owned(),
            iat: now,
            nbf: now,
            exp: now + request.lifetime,
            name: user.display_name.clone(),
            nonce: request.nonce,
            oid: user.object_id.clone(),
            preferred_username: user.user_principal_name.clone(),
            sub: pairwise_subject(user, &app.client_id),
            tid: self.tenant_id.to_owned(),
            sid: request.session_id.to_owned(),
            uti: random_token(16),
            ver: "2.0".into(),
            at_hash: request.access_token.map(access_token_hash),
        };
        let Some(mutation) = request.mutation else { return self.sign(&claims) };
        let mut value = serde_json::to_value(&claims).unwrap_or_default();
        spoil_claims(&mut value, mutation, app, other_user);
        tracing::info!(?mutation, "ID token deliberately spoiled");
        match mutation {
            IdTokenMutation::BadSignature => corrupt_signature(&self.sign(&value)),
            IdTokenMutation::AlgNone => unsigned(&value),
            IdTokenMutation::Hs256 => {
                // The classic confusion attack: an HMAC keyed with something the client knows.
                let secret = app.client_secrets.first().map(|secret| secret.expose().to_owned()).unwrap_or_else(|| app.client_id.clone());
                let header = Header::new(Algorithm::HS256);
                jsonwebtoken::encode(&header, &value, &EncodingKey::from_secret(secret.as_bytes())).unwrap_or_default()
            }
            IdTokenMutation::MissingKid => {
                let mut header = Header::new(Algorithm::RS256);
                header.typ = Some("JWT".into());
                self.keys.signing().sign_jwt(&header, &value).unwrap_or_default()
            }
            IdTokenMutation::UnknownKid => {
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some(format!("unpublished-{}", random_token(8)));
                header.typ = Some("JWT".into());
                self.keys.signing().sign_jwt(&header, &value).unwrap_or_default()
            }
            _ => self.sign(&value),
        }
    }

    /// An access token for `user` through `app`: `aud` is the resource's app id.
    pub fn user_access_token(&self, app: &AppRegistration, user: &TestUser, grant: &AccessGrant<'_>) -> String {
        let now = now_secs();
        self.sign(&AccessTokenClaims {
            aud: grant.audience.to_owned(),
            iss: self.issuer.to_owned(),
            iat: now,
            nbf: now,
            exp: now + grant.lifetime,
            azp: app.client_id.clone(),
            scp: Some(grant.scopes.join(" ")),
            roles: None,
            oid: user.object_id.clone(),
            sub: pairwise_subject(user, grant.audience),
            tid: self.tenant_id.to_owned(),
            name: Some(user.display_name.clone()),
            preferred_username: Some(user.user_principal_name.clone()),
            idtyp: None,
            xms_cc: grant.client_capabilities.clone(),
            acrs: None,
            uti: access_token_uti(),
            ver: "2.0".into(),
        })
    }

    /// An app-only access token (client credentials): `roles`, no `scp`, the
    /// client's own service principal as subject.
    pub fn app_access_token(&self, app: &AppRegistration, grant: &AccessGrant<'_>) -> String {
        let now = now_secs();
        let service_principal = service_principal_id(&app.client_id);
        self.sign(&AccessTokenClaims {
            aud: grant.audience.to_owned(),
            iss: self.issuer.to_owned(),
            iat: now,
            nbf: now,
            exp: now + grant.lifetime,
            azp: app.client_id.clone(),
            scp: None,
            roles: Some(grant.scopes.to_vec()),
            oid: service_principal.clone(),
            sub: service_principal,
            tid: self.tenant_id.to_owned(),
            name: None,
            preferred_username: None,
            idtyp: Some("app".into()),
            xms_cc: grant.client_capabilities.clone(),
            acrs: None,
            uti: access_token_uti(),
            ver: "2.0".into(),
        })
    }

    /// A managed identity's token for `resource` (`https://vault.azure.net`,
    /// `api://AzureADTokenExchange`): issued by the tenant, `oid` and `sub`
    /// the identity's principal id, like Entra's app-only tokens.
    pub fn managed_identity_token(&self, identity: &crate::config::ManagedIdentity, resource: &str, lifetime: u64) -> String {
        let now = now_secs();
        self.sign(&AccessTokenClaims {
            aud: resource.to_owned(),
            iss: self.issuer.to_owned(),
            iat: now,
            nbf: now,
            exp: now + lifetime,
            azp: identity.client_id.clone(),
            scp: None,
            roles: None,
            oid: identity.principal_id.clone(),
            sub: identity.principal_id.clone(),
            tid: self.tenant_id.to_owned(),
            name: None,
            preferred_username: None,
            idtyp: Some("app".into()),
            xms_cc: None,
            acrs: None,
            uti: access_token_uti(),
            ver: "1.0".into(),
        })
    }

    /// A workload identity token (what a Kubernetes service account token
    /// is to Entra): `sub` = `subject`, for `audience`, signed by the
    /// emulator's key as the workload identity `issuer`.
    pub fn workload_identity_token(&self, issuer: &str, subject: &str, audience: &str, lifetime: u64) -> String {
        let now = now_secs();
        self.sign(&json!({ "iss": issuer, "sub": subject, "aud": audience, "iat": now, "nbf": now, "exp": now + lifetime, "jti": random_token(16) }))
    }

    /// Verifies a bearer token presented to `audience` the way a resource
    /// server does: RS256 only, a published key, issuer, audience, expiry.
    pub fn verify_access_token(&self, token: &str, audience: &str) -> Result<AccessTokenClaims, String> {
        self.verify_token_for_any(token, &[audience])
    }

    /// As [`Self::verify_access_token`], accepting any of `audiences`.
    pub fn verify_token_for_any(&self, token: &str, audiences: &[&str]) -> Result<AccessTokenClaims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|error| error.to_string())?;
        let kid = header.kid.ok_or("the token names no signing key")?;
        let key = self.keys.find(&kid).ok_or("the token's signing key is not published")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(audiences);
        validation.set_issuer(&[self.issuer]);
        validation.leeway = 60;
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
        validation.validate_nbf = true;
        jsonwebtoken::decode::<AccessTokenClaims>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| error.to_string())
    }
}

/// What an access token grants: to which resource, which scopes or roles, for how long.
pub struct AccessGrant<'a> {
    /// The resource's app id (`aud`).
    pub audience: &'a str,
    /// Delegated scopes (`scp`) or, for app tokens, roles.
    pub scopes: &'a [String],
    /// Seconds the token lives.
    pub lifetime: u64,
    /// `xms_cc` when the client declared capabilities (`cp1`).
    pub client_capabilities: Option<Vec<String>>,
}

/// The object id of an app's service principal in the emulated tenant: stable per client id.
pub fn service_principal_id(client_id: &str) -> String {
    let digest = Sha256::digest(format!("service-principal:{client_id}"));
    let hex: String = digest[..16].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn spoil_claims(claims: &mut Value, mutation: IdTokenMutation, app: &AppRegistration, other_user: Option<&TestUser>) {
    let now = now_secs();
    let Some(map) = claims.as_object_mut() else { return };
    match mutation {
        IdTokenMutation::WrongIssuer => {
            map.insert("iss".into(), json!("https://login.microsoftonline.com/00000000-0000-0000-0000-000000000bad/v2.0"));
        }
        IdTokenMutation::WrongAudience => {
            map.insert("aud".into(), json!("00000000-0000-0000-0000-00000000a0d0"));
        }
        IdTokenMutation::MissingAudience => {
            map.remove("aud");
        }
        IdTokenMutation::WrongNonce => {
            map.insert("nonce".into(), json!(format!("not-your-nonce-{}", random_token(8))));
        }
        IdTokenMutation::MissingNonce => {
            map.remove("nonce");
        }
        IdTokenMutation::WrongSubject => {
            map.insert("sub".into(), json!(random_token(32)));
        }
        IdTokenMutation::MissingSubject => {
            map.remove("sub");
        }
        IdTokenMutation::OtherUser => {
            if let Some(other) = other_user {
                map.insert("sub".into(), json!(pairwise_subject(other, &app.client_id)));
                map.insert("oid".into(), json!(other.object_id));
                map.insert("name".into(), json!(other.display_name));
                map.insert("preferred_username".into(), json!(other.user_principal_name));
            }
        }
        IdTokenMutation::MissingIat => {
            map.remove("iat");
        }
        IdTokenMutation::Expired => {
            map.insert("iat".into(), json!(now.saturating_sub(7200)));
            map.insert("nbf".into(), json!(now.saturating_sub(7200)));
            map.insert("exp".into(), json!(now.saturating_sub(3600)));
        }
        IdTokenMutation::UnexpectedAzp => {
            map.insert("azp".into(), json!("00000000-0000-0000-0000-0000000a2b00"));
        }
        IdTokenMutation::IatInFuture => {
            map.insert("iat".into(), json!(now + 3600));
            map.insert("exp".into(), json!(now + 7200));
        }
        IdTokenMutation::NbfInFuture => {
            map.insert("nbf".into(), json!(now + 3600));
            map.insert("exp".into(), json!(now + 7200));
        }
        IdTokenMutation::ExpiredWithinSkew => {
            map.insert("exp".into(), json!(now.saturating_sub(60)));
        }
        IdTokenMutation::OtherTenant => {
            map.insert("tid".into(), json!("00000000-0000-0000-0000-00000000bad0"));
        }
        IdTokenMutation::WrongAtHash => {
            map.insert("at_hash".into(), json!(access_token_hash("another access token")));
        }
        IdTokenMutation::EmptySubject => {
            map.insert("sub".into(), json!(""));
        }
        IdTokenMutation::LongSubject => {
            map.insert("sub".into(), json!("s".repeat(256)));
        }
        IdTokenMutation::LongName => {
            map.insert("name".into(), json!("N".repeat(10_000)));
            map.insert("preferred_username".into(), json!(format!("{}@contoso.example", "u".repeat(10_000))));
        }
        IdTokenMutation::BadSignature | IdTokenMutation::AlgNone | IdTokenMutation::Hs256 | IdTokenMutation::UnknownKid | IdTokenMutation::MissingKid => {}
    }
}

/// Changes one character in the middle of the signature, keeping it valid base64url.
fn corrupt_signature(jwt: &str) -> String {
    let Some(dot) = jwt.rfind('.') else { return jwt.to_owned() };
    let mut bytes = jwt.as_bytes().to_vec();
    let middle = dot + 1 + (bytes.len() - dot - 1) / 2;
    if let Some(byte) = bytes.get_mut(middle) {
        *byte = if *byte == b'A' { b'B' } else { b'A' };
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// An `alg: none` JWT: header and payload, empty signature. Built by hand
/// because no signing library will produce one, which is the point.
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}
