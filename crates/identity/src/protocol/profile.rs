//! How the Microsoft identity platform and a generic certified OpenID
//! provider differ, answered in one place: the rest of the engine asks the
//! [`ProviderProfile`] (`AzureAd:ProviderProfile`) instead of testing which
//! one it is.

use openidconnect::IssuerUrl;
use url::Url;

use crate::config::{AzureAdConfig, ProviderProfile};
use crate::error::IdentityError;
use crate::protocol::claims::MicrosoftIdTokenClaims;
use crate::user::SignedInUser;

impl ProviderProfile {
    /// Whether Microsoft Graph is offered: it accepts only the Microsoft
    /// identity platform's tokens.
    pub fn offers_graph(self) -> bool {
        self == Self::Microsoft
    }

    /// The scopes a sign-in asks for besides OpenID Connect's: those it was
    /// asked for, else (a first sign-in) Graph's configured scopes where
    /// Graph is offered, and none with a generic provider.
    pub fn sign_in_scopes<'a>(self, asked: &'a [String], graph: &'a [String]) -> &'a [String] {
        if asked.is_empty() && self.offers_graph() {
            graph
        } else {
            asked
        }
    }

    /// Whether an ID token's tenant (`tid`, the tenant allow-list) is
    /// checked; a generic provider has no tenants.
    pub fn checks_tenant_claims(self) -> bool {
        self == Self::Microsoft
    }

    /// Who signed in, as the user's keys (object id, tenant id):
    /// Microsoft's `oid` and `tid` (both required), or for a generic
    /// provider `sub` within its issuer (OpenID Connect Core 2).
    pub fn user_of(self, claims: &MicrosoftIdTokenClaims) -> Result<(String, String), IdentityError> {
        match self {
            Self::Microsoft => {
                let microsoft = claims.additional_claims();
                match (microsoft.oid.clone(), microsoft.tid.clone()) {
                    (Some(object_id), Some(tenant_id)) => Ok((object_id, tenant_id)),
                    _ => Err(IdentityError::IdTokenRejected("the ID token has no oid or tid claim".into())),
                }
            }
            Self::Generic => Ok((claims.subject().to_string(), claims.issuer().to_string())),
        }
    }

    /// Whether a refreshed ID token's `claims` name `user` (RT-02): the same
    /// `oid`, `tid` and (when kept) `sub`; for a generic provider the same
    /// `sub` within the same issuer.
    pub fn same_user(self, claims: &MicrosoftIdTokenClaims, user: &SignedInUser) -> bool {
        match self {
            Self::Microsoft => {
                // `sub` too: the pairwise subject is what OpenID Connect says identifies the user.
                let same_subject = user.id_token.subject.is_empty() || claims.subject().as_str() == user.id_token.subject;
                claims.additional_claims().oid.as_deref() == Some(user.object_id.as_str())
                    && claims.additional_claims().tid.as_deref() == Some(user.tenant_id.as_str())
                    && same_subject
            }
            Self::Generic => claims.subject().as_str() == user.object_id && claims.issuer().as_str() == user.tenant_id,
        }
    }

    /// Whether discovery's declared `issuer` is one this configuration
    /// accepts: a v2.0 issuer of the instance for Microsoft, exactly the
    /// authority for a generic provider (OpenID Connect Discovery 4.3).
    pub fn check_issuer(self, issuer: &IssuerUrl, azure_ad: &AzureAdConfig) -> Result<(), IdentityError> {
        match self {
            Self::Microsoft => check_declared_issuer(issuer, &azure_ad.instance, &azure_ad.tenant_id, azure_ad.is_multi_tenant()),
            Self::Generic if issuer.as_str().trim_end_matches('/') != azure_ad.authority() => Err(IdentityError::ProviderMisconfigured(format!(
                "the discovery document declares the issuer {}, not the configured authority",
                issuer.as_str()
            ))),
            Self::Generic => Ok(()),
        }
    }

    /// The tenant every ID token must come from (IDT-12): the one a
    /// single-tenant Microsoft issuer names; none for a multi-tenant app or
    /// a generic provider.
    pub fn home_tenant(self, multi_tenant: bool, issuer: &IssuerUrl) -> Option<String> {
        match self {
            Self::Microsoft if !multi_tenant => issuer_tenant(issuer),
            _ => None,
        }
    }
}

/// The discovery document's issuer must be `{instance}/{tenant}/v2.0` at
/// our instance, with a tenant GUID (the configured tenant itself when
/// `TenantId` is a GUID; a domain names its GUID only there) — or the
/// `{tenantid}` template when the app is multi-tenant.
fn check_declared_issuer(issuer: &IssuerUrl, instance: &Url, configured_tenant: &str, multi_tenant: bool) -> Result<(), IdentityError> {
    let prefix = format!("{}/", instance.as_str().trim_end_matches('/'));
    let tenant = issuer.as_str().strip_prefix(&prefix).and_then(|rest| rest.strip_suffix("/v2.0"));
    let acceptable = match tenant {
        Some("{tenantid}") => multi_tenant,
        Some(guid) => !multi_tenant && is_guid(guid) && (!is_guid(configured_tenant) || guid.eq_ignore_ascii_case(configured_tenant)),
        None => false,
    };
    if acceptable {
        Ok(())
    } else {
        Err(IdentityError::ProviderMisconfigured(format!(
            "the discovery document declares the issuer {issuer}, which is not a v2.0 issuer of {instance}"
        )))
    }
}

/// The tenant id a single-tenant issuer names (`https://host/{tenant id}/v2.0`),
/// when it is a GUID (Microsoft's form; other providers' issuers name none).
fn issuer_tenant(issuer: &IssuerUrl) -> Option<String> {
    let url = Url::parse(issuer.as_str()).ok()?;
    let first = url.path_segments()?.next()?.to_owned();
    let guid_shaped = first.len() == 36
        && first.chars().enumerate().all(|(index, c)| if [8, 13, 18, 23].contains(&index) { c == '-' } else { c.is_ascii_hexdigit() });
    guid_shaped.then_some(first)
}

pub(crate) fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|group| group.chars().all(|c| c.is_ascii_hexdigit()))
}
