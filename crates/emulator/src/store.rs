//! Grants the emulator remembers between requests: authorization codes and
//! refresh tokens, in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::lock;

use crate::tokens::now_secs;

/// What an authorization code stands for.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// Client the code was issued to.
    pub client_id: String,
    /// Redirect URI of the authorize request; the token request must repeat it.
    pub redirect_uri: String,
    /// The requested `scope` string.
    pub scope: String,
    /// Nonce to put in the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge, if one was sent.
    pub code_challenge: Option<String>,
    /// The authorize request's `claims` parameter.
    pub claims: Option<String>,
    /// The user who signed in.
    pub user_oid: String,
    /// Provider session id (`sid`).
    pub session_id: String,
    /// Seconds since the epoch after which the code is dead.
    pub expires_at: u64,
    /// Set on the first redemption attempt: codes are one-time.
    pub redeemed: bool,
}

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// Client the token was issued to.
    pub client_id: String,
    /// The user.
    pub user_oid: String,
    /// The `scope` string of the original grant (bounds what refreshes may ask).
    pub scope: String,
    /// Provider session id (`sid`).
    pub session_id: String,
    /// Seconds since the epoch after which it is dead.
    pub expires_at: u64,
    /// Revoked by an administrator (fault injection) or a password change.
    pub revoked: bool,
}

/// Outcome of looking up a refresh token.
pub enum RefreshLookup {
    /// Usable.
    Live(RefreshGrant),
    /// Revoked (AADSTS50173).
    Revoked,
    /// Past its lifetime (AADSTS700082).
    Expired,
    /// Never issued here.
    Unknown,
}

/// All grants, behind locks held only for a map operation.
#[derive(Default)]
pub struct GrantStore {
    codes: Mutex<HashMap<String, CodeGrant>>,
    refresh_tokens: Mutex<HashMap<String, RefreshGrant>>,
}

/// Outcome of looking up a code for redemption.
pub enum CodeLookup {
    /// First redemption: the grant (now marked redeemed).
    Fresh(Box<CodeGrant>),
    /// The code was redeemed before.
    AlreadyRedeemed,
    /// The code expired.
    Expired,
    /// No such code.
    Unknown,
}

impl GrantStore {
    /// Stores a code; expired codes are swept at the same time.
    pub fn insert_code(&self, code: String, grant: CodeGrant) {
        let mut codes = lock(&self.codes);
        let now = now_secs();
        codes.retain(|_, existing| existing.expires_at >= now);
        codes.insert(code, grant);
    }

    /// Looks a code up and marks it redeemed, whatever happens next.
    pub fn redeem_code(&self, code: &str) -> CodeLookup {
        let mut codes = lock(&self.codes);
        match codes.get_mut(code) {
            None => CodeLookup::Unknown,
            Some(grant) if grant.redeemed => CodeLookup::AlreadyRedeemed,
            Some(grant) => {
                grant.redeemed = true;
                if grant.expires_at < now_secs() {
                    CodeLookup::Expired
                } else {
                    CodeLookup::Fresh(Box::new(grant.clone()))
                }
            }
        }
    }

    /// Stores a refresh token.
    pub fn insert_refresh_token(&self, token: String, grant: RefreshGrant) {
        let mut tokens = lock(&self.refresh_tokens);
        let now = now_secs();
        tokens.retain(|_, existing| existing.expires_at >= now);
        tokens.insert(token, grant);
    }

    /// Looks a refresh token up. Old tokens stay valid after rotation, as in Entra.
    pub fn refresh_grant(&self, token: &str) -> RefreshLookup {
        match lock(&self.refresh_tokens).get(token) {
            None => RefreshLookup::Unknown,
            Some(grant) if grant.revoked => RefreshLookup::Revoked,
            Some(grant) if grant.expires_at < now_secs() => RefreshLookup::Expired,
            Some(grant) => RefreshLookup::Live(grant.clone()),
        }
    }

    /// Revokes every refresh token of `user_oid`; returns how many.
    pub fn revoke_user(&self, user_oid: &str) -> usize {
        self.change_user_grants(user_oid, |grant| grant.revoked = true)
    }

    /// Makes every refresh token of `user_oid` expired; returns how many.
    pub fn expire_user(&self, user_oid: &str) -> usize {
        // One second in the past: expired now, and still kept until the next sweep.
        let past = now_secs().saturating_sub(1);
        self.change_user_grants(user_oid, |grant| grant.expires_at = past)
    }

    fn change_user_grants(&self, user_oid: &str, change: impl Fn(&mut RefreshGrant)) -> usize {
        let mut tokens = lock(&self.refresh_tokens);
        let mut changed = 0;
        for grant in tokens.values_mut().filter(|grant| grant.user_oid == user_oid) {
            change(grant);
            changed += 1;
        }
        changed
    }
}

