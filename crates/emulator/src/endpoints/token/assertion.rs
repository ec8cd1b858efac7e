//! `private_key_jwt` (RFC 7523 client authentication): a JWT signed with
//! the private key of a certificate registered on the app, named by its
//! thumbprint, for this token endpoint, short-lived and used once.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::certificates::RegisteredCertificate;
use crate::config::FederatedIssuer;
use crate::error::OAuthError;
use crate::tokens::now_secs;
use crate::{lock, EmulatorState};

/// The only `client_assertion_type` defined for JWTs.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest lifetime accepted for an assertion (Microsoft asks for minutes, not hours).
const MAX_LIFETIME_SECS: u64 = 60 * 60;

/// `jti`s already presented, kept until their assertion expires (replay protection).
#[derive(Debug, Default)]
pub struct SeenAssertions {
    used: Mutex<HashMap<String, u64>>,
}

impl SeenAssertions {
    /// Records `jti`; false if it was seen before.
    fn first_use(&self, jti: &str, expires_at: u64) -> bool {
        let mut used = lock(&self.used);
        let now = now_secs();
        used.retain(|_, expiry| *expiry >= now);
        used.insert(jti.to_owned(), expires_at).is_none()
    }
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: u64,
    jti: Option<String>,
}

fn refused(aadsts: u32, description: &str) -> OAuthError {
    OAuthError::invalid_client(aadsts, description)
}

/// Verifies `assertion` for the app `client_id` (from the form, if any);
/// returns the client id it authenticates.
pub fn verify(
    state: &EmulatorState,
    tenant: &str,
    assertion: &str,
    client_id: Option<&str>,
) -> Result<String, OAuthError> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| refused(50027, "Invalid JWT token: the client assertion is malformed."))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(refused(5002738, "The client assertion must be signed with RS256 or PS256."));
    }
    // Who it claims to be, before the signature can be checked against that app's certificates.
    let unverified: AssertionClaims = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|_| refused(50027, "Invalid JWT token: the client assertion needs iss, sub and exp."))?;
    // An assertion from the workload identity issuer, or a managed identity's token from
    // the tenant itself, authenticates through a federated credential.
    if unverified.iss == state.workload_issuer() {
        return verify_federated(state, assertion, &header, client_id, FederatedIssuer::WorkloadIdentity);
    }
    if unverified.iss == state.issuer {
        return verify_federated(state, assertion, &header, client_id, FederatedIssuer::Tenant);
    }
    let claimed = client_id.unwrap_or(&unverified.iss);
    if unverified.iss != claimed || unverified.sub != claimed {
        return Err(refused(700023, "Client assertion audience claim does not match the client: iss and sub must be the client id."));
    }
    let Some(app) = state.config.app(claimed) else {
        return Err(OAuthError::new("unauthorized_client", 700016, format!("Application with identifier '{claimed}' was not found in the directory.")));
    };
    let certificates = state.certificates.of_app(&app.client_id);
    let certificate: &RegisteredCertificate = certificates
        .iter()
        .find(|certificate| certificate.matches(header.x5t.as_deref(), header.x5t_s256.as_deref()))
        .ok_or_else(|| refused(700027, "The certificate used to sign the client assertion is not registered on the application."))?;
    let key = DecodingKey::from_rsa_components(&certificate.modulus, &certificate.exponent)
        .map_err(|_| refused(700027, "The registered certificate cannot verify signatures."))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = 60;
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    // The token endpoint by the tenant segment used, or by the tenant's GUID.
    validation.set_audience(&[
        format!("{}{tenant}/oauth2/v2.0/token", state.base_url),
        format!("{}{}/oauth2/v2.0/token", state.base_url, state.config.tenant_id),
    ]);
    let verified = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation).map_err(|error| {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => refused(700024, "Client assertion is not within its valid time range."),
            ErrorKind::InvalidAudience => refused(700212, "The client assertion's audience is not this token endpoint."),
            _ => refused(700027, "Client assertion failed signature validation."),
        }
    })?;
    let claims = verified.claims;
    if claims.exp > now_secs() + MAX_LIFETIME_SECS {
        return Err(refused(700024, "Client assertion is not within its valid time range: its expiry is too far away."));
    }
    let jti = claims.jti.filter(|jti| !jti.is_empty()).ok_or_else(|| refused(50027, "Invalid JWT token: the client assertion needs a jti."))?;
    if !state.seen_assertions.first_use(&jti, claims.exp) {
        tracing::warn!(client_id = %app.client_id, "client assertion replayed");
        return Err(refused(700236, "The client assertion was already used: its jti must be unique."));
    }
    Ok(app.client_id.clone())
}

/// Workload identity federation: an assertion signed by `issuer` (the
/// workload identity issuer, or the tenant for a managed identity's token),
/// whose `sub` and `aud` match a federated credential of the app named by
/// `client_id` that trusts that issuer. Such assertions are reused until
/// they expire, so `jti` is not checked.
fn verify_federated(
    state: &EmulatorState,
    assertion: &str,
    header: &jsonwebtoken::Header,
    client_id: Option<&str>,
    issuer: FederatedIssuer,
) -> Result<String, OAuthError> {
    let no_match = || refused(700213, "No matching federated identity record found for presented assertion subject.");
    let client_id = client_id.ok_or_else(|| OAuthError::new("invalid_request", 900144, "The request body must contain the 'client_id' parameter."))?;
    let app = state.config.app(client_id).ok_or_else(no_match)?;
    let key = header.kid.as_deref().and_then(|kid| state.keys.find(kid)).ok_or_else(|| refused(700027, "The assertion's signing key is not published by its issuer."))?;
    let unverified: AssertionClaims = jsonwebtoken::dangerous::insecure_decode_claims(assertion).map_err(|_| no_match())?;
    let credential = app
        .federated_credentials
        .iter()
        .find(|credential| credential.issuer == issuer && credential.subject == unverified.sub)
        .ok_or_else(no_match)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 60;
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.set_issuer(&[match issuer {
        FederatedIssuer::WorkloadIdentity => state.workload_issuer(),
        FederatedIssuer::Tenant => state.issuer.clone(),
    }]);
    validation.set_audience(&credential.audiences);
    jsonwebtoken::decode::<AssertionClaims>(assertion, &key.decoding, &validation).map_err(|error| {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => refused(700024, "Client assertion is not within its valid time range."),
            ErrorKind::InvalidAudience => refused(700212, "No matching federated identity record found for presented assertion audience."),
            _ => refused(700027, "Client assertion failed signature validation."),
        }
    })?;
    Ok(app.client_id.clone())
}
