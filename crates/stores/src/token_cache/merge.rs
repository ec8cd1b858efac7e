//! Folding a write that lost a race into the partition that won it.
//!
//! A writer read `base`, computed `ours`, and found `latest` stored when it
//! wrote back. Its own changes (new access tokens, forgotten ones, a new or
//! dropped refresh token) are applied to `latest`; everything else another
//! instance did stays. A refresh token only replaces one from an older grant
//! (a less powerful token never overwrites a more powerful one), and a
//! partition removed meanwhile (sign-out) is not brought back unless the
//! writer holds a newer grant (a new sign-in).

use super::{CachedAccessToken, TokenPartition};

/// What to store instead of `ours`; `None`: store nothing.
pub fn merge(base: Option<&TokenPartition>, ours: &TokenPartition, latest: Option<&TokenPartition>) -> Option<TokenPartition> {
    let Some(latest) = latest else {
        let newer_grant_than_base = ours.grant_generation > base.map_or(0, |base| base.grant_generation);
        return (base.is_none() || newer_grant_than_base).then(|| ours.clone());
    };
    let empty = TokenPartition::default();
    let base = base.unwrap_or(&empty);
    let mut merged = latest.clone();

    for token in &ours.access_tokens {
        if !holds_token(base, token) {
            put_if_newer(&mut merged, token.clone());
        }
    }
    for token in &base.access_tokens {
        if !holds_token(ours, token) {
            merged.access_tokens.retain(|kept| kept.token.secret() != token.token.secret());
        }
    }

    let secret = |partition: &TokenPartition| partition.refresh_token.as_ref().map(|token| token.secret().clone());
    if secret(ours) != secret(base) {
        let latest_still_has_base = secret(latest) == secret(base);
        match &ours.refresh_token {
            // The grant died: drop the dead token, not one another instance got since.
            None if latest_still_has_base => merged.refresh_token = None,
            None => {}
            Some(rotated) if latest_still_has_base || ours.grant_generation > latest.grant_generation => {
                merged.refresh_token = Some(rotated.clone());
                merged.grant_generation = ours.grant_generation;
            }
            Some(_) => {}
        }
    }
    merged.last_source = ours.last_source.or(latest.last_source);
    // A writer that brought a new access token renewed (or signed in): any wait
    // an outage set is over. A writer that recorded a failure keeps the longer
    // of its wait and the other writer's, and the higher failure count.
    let renewed = ours.access_tokens.iter().any(|token| !holds_token(base, token));
    merged.renewal_backoff = match (renewed, ours.renewal_backoff, latest.renewal_backoff) {
        (true, _, _) => ours.renewal_backoff,
        (false, ours_backoff, _) if ours_backoff == base.renewal_backoff => latest.renewal_backoff,
        (false, Some(mine), Some(theirs)) => Some(super::RenewalBackoff {
            failures: mine.failures.max(theirs.failures),
            not_before: mine.not_before.max(theirs.not_before),
        }),
        (false, mine, _) => mine,
    };
    Some(merged)
}

fn holds_token(partition: &TokenPartition, token: &CachedAccessToken) -> bool {
    partition.access_tokens.iter().any(|held| held.token.secret() == token.token.secret())
}

/// Adds `token` unless a token for the same scopes and tenant lives longer.
fn put_if_newer(partition: &mut TokenPartition, token: CachedAccessToken) {
    let outlived = partition
        .access_tokens
        .iter()
        .any(|held| held.scopes == token.scopes && held.tenant == token.tenant && held.expires_at >= token.expires_at);
    if !outlived {
        partition.put_access_token(token);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use openidconnect::{AccessToken, RefreshToken};

    use super::*;
    use crate::token_cache::scope_set;

    fn access(value: &str, scope: &str, lifetime_secs: u64) -> CachedAccessToken {
        CachedAccessToken {
            scopes: scope_set([scope]),
            token: AccessToken::new(value.into()),
            expires_at: SystemTime::now() + Duration::from_secs(lifetime_secs),
            refresh_on: None,
            tenant: None,
        }
    }

    fn partition(refresh: &str, grant: u64, tokens: &[CachedAccessToken]) -> TokenPartition {
        TokenPartition {
            access_tokens: tokens.to_vec(),
            refresh_token: Some(RefreshToken::new(refresh.into())),
            last_source: None,
            grant_generation: grant,
            renewal_backoff: None,
        }
    }

    #[test]
    fn flt_04_a_renewal_ends_a_wait_another_writer_set_and_two_failures_keep_the_longer_wait() {
        use crate::token_cache::RenewalBackoff;
        let now = SystemTime::now();
        let base = partition("r1", 1, &[access("old", "user.read", 3000)]);
        let mut failed = base.clone();
        failed.renewal_backoff = Some(RenewalBackoff { failures: 3, not_before: now + Duration::from_secs(30) });
        let mut renewed = base.clone();
        renewed.put_access_token(access("new", "user.read", 3600));
        let merged = merge(Some(&base), &renewed, Some(&failed)).unwrap();
        assert_eq!(merged.renewal_backoff, None, "the renewal that worked ends the wait");

        let mut failed_once = base.clone();
        failed_once.renewal_backoff = Some(RenewalBackoff { failures: 1, not_before: now + Duration::from_secs(4) });
        let merged = merge(Some(&base), &failed_once, Some(&failed)).unwrap();
        assert_eq!(merged.renewal_backoff, Some(RenewalBackoff { failures: 3, not_before: now + Duration::from_secs(30) }));

        let untouched = base.clone();
        let merged = merge(Some(&base), &untouched, Some(&failed)).unwrap();
        assert_eq!(merged.renewal_backoff, failed.renewal_backoff, "a writer with no news keeps the other's wait");
    }

    fn refresh_of(partition: &TokenPartition) -> &str {
        partition.refresh_token.as_ref().map(|token| token.secret().as_str()).unwrap_or("")
    }

    #[test]
    fn a_refresh_that_lost_the_race_keeps_the_winners_refresh_token_and_adds_its_access_token() {
        let base = partition("rt-1", 1, &[]);
        let theirs = partition("rt-2", 1, &[access("at-graph", "User.Read", 3600)]);
        let ours = partition("rt-2b", 1, &[access("at-mail", "Mail.Read", 3600)]);
        let merged = merge(Some(&base), &ours, Some(&theirs)).unwrap();
        assert_eq!(refresh_of(&merged), "rt-2", "same grant: the stored rotation stays");
        assert_eq!(merged.access_tokens.len(), 2);
    }

    #[test]
    fn a_refresh_token_from_an_older_grant_never_replaces_a_newer_grants() {
        let base = partition("rt-old", 1, &[]);
        let consented = partition("rt-consented", 2, &[]);
        let ours = partition("rt-old-rotated", 1, &[]);
        assert_eq!(refresh_of(&merge(Some(&base), &ours, Some(&consented)).unwrap()), "rt-consented");
        // The other way round: a new sign-in's token wins over a rotation of the old grant.
        let rotated = partition("rt-old-rotated", 1, &[]);
        let signed_in = partition("rt-new-grant", 3, &[]);
        assert_eq!(refresh_of(&merge(Some(&base), &signed_in, Some(&rotated)).unwrap()), "rt-new-grant");
    }

    #[test]
    fn a_removed_partition_is_not_brought_back_by_a_late_refresh_but_is_by_a_new_sign_in() {
        let base = partition("rt-1", 1, &[]);
        assert!(merge(Some(&base), &partition("rt-2", 1, &[]), None).is_none());
        assert!(merge(Some(&base), &partition("rt-new", 2, &[]), None).is_some());
    }

    #[test]
    fn a_dead_grant_drops_only_the_dead_refresh_token() {
        let base = partition("rt-1", 1, &[]);
        let mut ours = base.clone();
        ours.refresh_token = None;
        assert!(merge(Some(&base), &ours, Some(&partition("rt-1", 1, &[]))).unwrap().refresh_token.is_none());
        assert_eq!(refresh_of(&merge(Some(&base), &ours, Some(&partition("rt-2", 1, &[]))).unwrap()), "rt-2");
    }

    #[test]
    fn forgotten_access_tokens_stay_forgotten_and_longer_lived_ones_are_kept() {
        let graph = access("at-graph", "User.Read", 3600);
        let base = partition("rt", 1, std::slice::from_ref(&graph));
        let ours = partition("rt", 1, &[]);
        let theirs = partition("rt", 1, &[graph, access("at-mail", "Mail.Read", 3600)]);
        let merged = merge(Some(&base), &ours, Some(&theirs)).unwrap();
        assert_eq!(merged.access_tokens.len(), 1);
        assert_eq!(merged.access_tokens[0].token.secret(), "at-mail");

        let longer = partition("rt", 1, &[access("at-long", "User.Read", 3600)]);
        let shorter = partition("rt", 1, &[access("at-short", "User.Read", 60)]);
        let merged = merge(Some(&partition("rt", 1, &[])), &shorter, Some(&longer)).unwrap();
        assert_eq!(merged.access_tokens[0].token.secret(), "at-long");
    }
}
